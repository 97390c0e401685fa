# backend: build rules (included from the top Makefile.am).

# backend/blk: the userspace blkback. libblkback.a holds request validation
# (ring.c), the io_uring storage engine (io.c), the persistent-grant cache
# (pgrant.c), which need neither the platform nor xenstore, and one queue's
# data path (queue.c, its grant-copy mode copy.c) and the xenstore keys
# (xs.c), which do; the worker
# program drvdomd runs for every vbd is worker.c.
noinst_LIBRARIES += backend/blk/libblkback.a
backend_blk_libblkback_a_SOURCES = \
	backend/blk/ring.c \
	backend/blk/io.c \
	backend/blk/pgrant.c \
	backend/blk/queue.c \
	backend/blk/copy.c \
	backend/blk/xs.c \
	backend/blk/blkback-internal.h
backend_blk_libblkback_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) \
	$(XENSTORE_CFLAGS)
# What a program linking backend/blk/libblkback.a needs after it.
BLKBACK_LIBS = backend/blk/libblkback.a $(XSG_LIBS) ringbuf/libringbuf.a \
	$(LIBURING_LIBS)

sbin_PROGRAMS += backend/blk/drvdom-blkback
backend_blk_drvdom_blkback_SOURCES = backend/blk/worker.c \
	backend/worker-args.c backend/worker-args.h
backend_blk_drvdom_blkback_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) \
	$(XENSTORE_CFLAGS)
backend_blk_drvdom_blkback_LDADD = $(BLKBACK_LIBS)
dist_man_MANS += backend/blk/drvdom-blkback.8

check_PROGRAMS += tests/unit/blkback_ring_test tests/unit/blkback_io_test \
	tests/unit/blkback_pgrant_test
TESTS += tests/unit/blkback_ring_test tests/unit/blkback_io_test \
	tests/unit/blkback_pgrant_test
tests_unit_blkback_ring_test_SOURCES = tests/unit/blkback_ring_test.c
tests_unit_blkback_ring_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(XENSTORE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_ring_test_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS) $(CUTEST_LIBS)
tests_unit_blkback_io_test_SOURCES = tests/unit/blkback_io_test.c
tests_unit_blkback_io_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(XENSTORE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_io_test_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS) $(CUTEST_LIBS)
tests_unit_blkback_pgrant_test_SOURCES = tests/unit/blkback_pgrant_test.c
tests_unit_blkback_pgrant_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(XENSTORE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_pgrant_test_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS) $(CUTEST_LIBS)

# The data path of one queue, in-process over a fake platform
# (tests/unit/blkback_fx.c): grants mapped, and the grant-copy mode.
check_PROGRAMS += tests/unit/blkback_queue_test tests/unit/blkback_copy_test
TESTS += tests/unit/blkback_queue_test tests/unit/blkback_copy_test
tests_unit_blkback_queue_test_SOURCES = tests/unit/blkback_queue_test.c \
	tests/unit/blkback_fx.c tests/unit/blkback_fx.h
tests_unit_blkback_queue_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) \
	$(XENSTORE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_queue_test_LDADD = $(BLKBACK_LIBS) $(CUTEST_LIBS)
tests_unit_blkback_copy_test_SOURCES = tests/unit/blkback_copy_test.c \
	tests/unit/blkback_fx.c tests/unit/blkback_fx.h
tests_unit_blkback_copy_test_CPPFLAGS = $(tests_unit_blkback_queue_test_CPPFLAGS)
tests_unit_blkback_copy_test_LDADD = $(BLKBACK_LIBS) $(CUTEST_LIBS)

# The worker program refuses bad keys (against tests/sim/xenstore_server).
check_PROGRAMS += tests/unit/blkback_worker_test
TESTS += tests/unit/blkback_worker_test
tests_unit_blkback_worker_test_SOURCES = tests/unit/blkback_worker_test.c
tests_unit_blkback_worker_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS) \
	$(CUNIT_CFLAGS)
tests_unit_blkback_worker_test_LDADD = $(XENSTORE_LIBS) $(CUTEST_LIBS)

# The worker program picks its data mode (--data, environment, platform).
check_PROGRAMS += tests/unit/blkback_data_test
TESTS += tests/unit/blkback_data_test
tests_unit_blkback_data_test_SOURCES = tests/unit/blkback_data_test.c
tests_unit_blkback_data_test_CPPFLAGS = $(AM_CPPFLAGS) $(CUNIT_CFLAGS)
tests_unit_blkback_data_test_LDADD = $(CUTEST_LIBS)

# Benchmark: the engine against bare liburing doing the same I/O.
noinst_PROGRAMS += tests/bench/blkio_bench
BENCHMARKS += tests/bench/blkio_bench
tests_bench_blkio_bench_SOURCES = tests/bench/blkio_bench.c
tests_bench_blkio_bench_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) $(XENSTORE_CFLAGS)
tests_bench_blkio_bench_LDADD = backend/blk/libblkback.a $(LIBURING_LIBS)
