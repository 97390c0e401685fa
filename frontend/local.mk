# frontend: build rules (included from the top Makefile.am).

# frontend/blk: the userspace blkfront library (ring.c: data path, xs.c:
# xenbus and platform) and the drvdom-blkfront tool built on it.
noinst_LIBRARIES += frontend/blk/libblkfront.a
frontend_blk_libblkfront_a_SOURCES = \
	frontend/blk/ring.c \
	frontend/blk/xs.c \
	frontend/blk/blkfront-internal.h
frontend_blk_libblkfront_a_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
noinst_HEADERS += include/drvdom/blkfront.h
# What a program linking frontend/blk/libblkfront.a needs after it.
BLKFRONT_LIBS = frontend/blk/libblkfront.a $(XSG_LIBS) ringbuf/libringbuf.a

bin_PROGRAMS += frontend/blk/drvdom-blkfront
frontend_blk_drvdom_blkfront_SOURCES = \
	frontend/blk/tool.c \
	frontend/blk/tool-bench.c \
	frontend/blk/tool-nbd.c \
	frontend/blk/tool.h
frontend_blk_drvdom_blkfront_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
frontend_blk_drvdom_blkfront_LDADD = $(BLKFRONT_LIBS)
dist_man_MANS += frontend/blk/drvdom-blkfront.1

# Unit tests: the data path against a backend played over ringbuf.
check_PROGRAMS += tests/unit/blkfront_test
TESTS += tests/unit/blkfront_test
tests_unit_blkfront_test_SOURCES = tests/unit/blkfront_test.c
tests_unit_blkfront_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkfront_test_LDADD = $(BLKFRONT_LIBS) $(CUNIT_LIBS)

# End to end on the sim platform: drvdom-blkfront domains against
# drvdom-blkback under drvdomd.
TESTS += tests/sim/blk-verify.sh tests/sim/blk-nbd.sh tests/sim/blk-restart.sh
EXTRA_DIST += tests/sim/blk-lib.sh tests/sim/blk-verify.sh tests/sim/blk-nbd.sh \
	tests/sim/blk-restart.sh

# Benchmark (make bench): the block path against fio on the same tmpfs file.
BENCHMARKS += tests/bench/blkbench
CLEANFILES += tests/bench/blkbench
EXTRA_DIST += tests/bench/blkbench.sh
tests/bench/blkbench: $(srcdir)/tests/bench/blkbench.sh frontend/blk/drvdom-blkfront \
		backend/blk/drvdom-blkback backend/drvdomd tools/simhv/drvdom-simhv \
		tests/sim/xsgtool
	@mkdir -p tests/bench
	sed 's|%ABS_TOP_SRCDIR%|$(abs_top_srcdir)|' $(srcdir)/tests/bench/blkbench.sh >$@
	chmod +x $@
