# tools/simhv: build rules (included from the top Makefile.am).
