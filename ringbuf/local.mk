# ringbuf: build rules (included from the top Makefile.am).
# The shared-ring layer on xen/io/ring.h; uses nothing but Xen's headers
# (xenctrl.h only for its barrier macros, no library is linked).
noinst_LIBRARIES += ringbuf/libringbuf.a
ringbuf_libringbuf_a_SOURCES = \
	ringbuf/common.c \
	ringbuf/back.c \
	ringbuf/front.c \
	ringbuf/ids.c \
	ringbuf/ringbuf-internal.h
ringbuf_libringbuf_a_CPPFLAGS = $(AM_CPPFLAGS) $(XENCTRL_CFLAGS)
noinst_HEADERS += include/drvdom/ringbuf.h

# Unit tests: a front and a back ring over the same pages, one side driven by
# ring.h's own macros; two processes over one shared memfd; back ends
# killed at every step, their successors finishing from the journal.
check_PROGRAMS += tests/unit/ringbuf_test tests/unit/ringbuf_proc_test \
	tests/unit/ringbuf_journal_test
TESTS += tests/unit/ringbuf_test tests/unit/ringbuf_proc_test \
	tests/unit/ringbuf_journal_test
tests_unit_ringbuf_journal_test_SOURCES = tests/unit/ringbuf_journal_test.c
tests_unit_ringbuf_journal_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENCTRL_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_ringbuf_journal_test_LDADD = ringbuf/libringbuf.a $(CUTEST_LIBS)
tests_unit_ringbuf_test_SOURCES = tests/unit/ringbuf_test.c
tests_unit_ringbuf_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENCTRL_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_ringbuf_test_LDADD = ringbuf/libringbuf.a $(CUTEST_LIBS)
tests_unit_ringbuf_proc_test_SOURCES = tests/unit/ringbuf_proc_test.c
tests_unit_ringbuf_proc_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENCTRL_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_ringbuf_proc_test_LDADD = ringbuf/libringbuf.a $(CUTEST_LIBS)

# Benchmark: ringbuf against a minimal SPSC queue, two processes.
noinst_PROGRAMS += tests/bench/ringbench
BENCHMARKS += tests/bench/ringbench
tests_bench_ringbench_SOURCES = tests/bench/ringbench.c
tests_bench_ringbench_CPPFLAGS = $(AM_CPPFLAGS) $(XENCTRL_CFLAGS)
tests_bench_ringbench_LDADD = ringbuf/libringbuf.a
