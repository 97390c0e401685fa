# tests/: shared test support. Each component's own tests and benchmarks are
# declared in that component's local.mk.
EXTRA_DIST += tests/sim/lib.sh
# drvdom-blkback serving a loop device (needs root, else skipped).
TESTS += tests/sim/blk-blockdev.sh
EXTRA_DIST += tests/sim/blk-blockdev.sh

# The CUnit runner every unit test links (tests/unit/cutest.h).
noinst_LIBRARIES += tests/unit/libcutest.a
tests_unit_libcutest_a_SOURCES = tests/unit/cutest.c tests/unit/cutest.h
tests_unit_libcutest_a_CPPFLAGS = $(AM_CPPFLAGS) $(CUNIT_CFLAGS)
CUTEST_LIBS = tests/unit/libcutest.a $(CUNIT_LIBS)
