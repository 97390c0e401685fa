# backend: build rules (included from the top Makefile.am).

# backend/blk: the pure core of the userspace blkback worker (request
# validation, io_uring storage engine, persistent-grant cache), linked by
# the worker; it needs neither the platform nor xenstore.
noinst_LIBRARIES += backend/blk/libblkback.a
backend_blk_libblkback_a_SOURCES = \
	backend/blk/ring.c \
	backend/blk/io.c \
	backend/blk/pgrant.c \
	backend/blk/blkback-internal.h
backend_blk_libblkback_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS)

check_PROGRAMS += tests/unit/blkback_ring_test tests/unit/blkback_io_test \
	tests/unit/blkback_pgrant_test
TESTS += tests/unit/blkback_ring_test tests/unit/blkback_io_test \
	tests/unit/blkback_pgrant_test
tests_unit_blkback_ring_test_SOURCES = tests/unit/blkback_ring_test.c
tests_unit_blkback_ring_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_ring_test_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS) $(CUNIT_LIBS)
tests_unit_blkback_io_test_SOURCES = tests/unit/blkback_io_test.c
tests_unit_blkback_io_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_io_test_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS) $(CUNIT_LIBS)
tests_unit_blkback_pgrant_test_SOURCES = tests/unit/blkback_pgrant_test.c
tests_unit_blkback_pgrant_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_pgrant_test_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS) $(CUNIT_LIBS)

# Benchmark: the engine against bare liburing doing the same I/O.
noinst_PROGRAMS += tests/bench/blkio_bench
BENCHMARKS += tests/bench/blkio_bench
tests_bench_blkio_bench_SOURCES = tests/bench/blkio_bench.c
tests_bench_blkio_bench_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS)
tests_bench_blkio_bench_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS)
