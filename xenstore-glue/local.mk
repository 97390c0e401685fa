# xenstore-glue: build rules (included from the top Makefile.am).
