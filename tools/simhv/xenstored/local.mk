# tools/simhv/xenstored: build rules (included from the top Makefile.am).
