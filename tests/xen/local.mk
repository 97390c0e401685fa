# tests/xen: build rules (included from the top Makefile.am).
