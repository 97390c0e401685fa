# platform: the hypervisor seam (included from the top Makefile.am).
# libplatform.a holds the selection/dispatch, the xen pass-through and the
# sim platform client; link it with $(PLATFORM_LIBS).
noinst_LIBRARIES += platform/libplatform.a
platform_libplatform_a_SOURCES = \
	platform/platform.c \
	platform/plat-private.h \
	platform/xen.c \
	platform/sim/conn.c \
	platform/sim/domain.c \
	platform/sim/evtchn.c \
	platform/sim/gnttab.c \
	platform/sim/gntshr.c \
	platform/sim/proto.h \
	platform/sim/sim-private.h
platform_libplatform_a_CPPFLAGS = $(AM_CPPFLAGS) $(XENGNTTAB_CFLAGS) \
	$(XENEVTCHN_CFLAGS) $(XENCTRL_CFLAGS) $(XENSTORE_CFLAGS) \
	$(XENTOOLLOG_CFLAGS)
noinst_HEADERS += include/drvdom/platform.h include/drvdom/plat-sim.h

# What a program linking platform/libplatform.a needs after it.
PLATFORM_LIBS = platform/libplatform.a $(XENGNTTAB_LIBS) $(XENEVTCHN_LIBS) \
	$(XENCTRL_LIBS) $(XENSTORE_LIBS) $(XENTOOLLOG_LIBS)

# Unit tests: the seam with a fake (plat_test) and the sim platform against a
# real drvdom-simhv (simhv_test, which re-runs itself as helper domains).
check_PROGRAMS += tests/unit/plat_test tests/unit/simhv_test
TESTS += tests/unit/plat_test tests/unit/simhv_test
tests_unit_plat_test_SOURCES = tests/unit/plat_test.c
tests_unit_plat_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENGNTTAB_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_plat_test_LDADD = $(PLATFORM_LIBS) $(CUTEST_LIBS)
tests_unit_simhv_test_SOURCES = tests/unit/simhv_test.c
tests_unit_simhv_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENGNTTAB_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_simhv_test_LDADD = $(PLATFORM_LIBS) $(CUTEST_LIBS)

# End to end: drvdom-simhv spawns platdom domains that talk over ringbuf.
check_PROGRAMS += tests/sim/platdom
tests_sim_platdom_SOURCES = tests/sim/platdom.c
tests_sim_platdom_CPPFLAGS = $(AM_CPPFLAGS) $(XENGNTTAB_CFLAGS)
tests_sim_platdom_LDADD = $(PLATFORM_LIBS) ringbuf/libringbuf.a
TESTS += tests/sim/plat-e2e.sh
EXTRA_DIST += tests/sim/plat-e2e.sh

# Benchmark (make bench): grant map/unmap, grant copy vs memcpy, notify latency.
noinst_PROGRAMS += tests/bench/platbench
BENCHMARKS += tests/bench/platbench
tests_bench_platbench_SOURCES = tests/bench/platbench.c
tests_bench_platbench_CPPFLAGS = $(AM_CPPFLAGS) $(XENGNTTAB_CFLAGS)
tests_bench_platbench_LDADD = $(PLATFORM_LIBS)
