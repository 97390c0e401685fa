# xenstore-glue: the xenbus device model (included from the top Makefile.am).
# libxsg.a: key/state/ring/queue helpers, the backend device model and the
# frontend side, over libxenstore; link it with $(XSG_LIBS).
noinst_LIBRARIES += xenstore-glue/libxsg.a
xenstore_glue_libxsg_a_SOURCES = \
	xenstore-glue/keys.c \
	xenstore-glue/back.c \
	xenstore-glue/front.c
xenstore_glue_libxsg_a_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
noinst_HEADERS += include/drvdom/xsg.h

# What a program linking xenstore-glue/libxsg.a needs after it.
XSG_LIBS = xenstore-glue/libxsg.a $(PLATFORM_LIBS)

# The testif device type (a drvdomd worker and a frontend) and the
# toolstack helper the xenbus e2e tests and attachbench use.
check_PROGRAMS += tests/sim/testdev_back tests/sim/testdev_front \
	tests/sim/xsgtool
tests_sim_testdev_back_SOURCES = tests/sim/testdev_back.c tests/sim/testif.h \
	backend/worker-args.c backend/worker-args.h
tests_sim_testdev_back_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
tests_sim_testdev_back_LDADD = $(XSG_LIBS) ringbuf/libringbuf.a
tests_sim_testdev_front_SOURCES = tests/sim/testdev_front.c tests/sim/testif.h
tests_sim_testdev_front_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
tests_sim_testdev_front_LDADD = $(XSG_LIBS) ringbuf/libringbuf.a
tests_sim_xsgtool_SOURCES = tests/sim/xsgtool.c tests/sim/xsgts.c tests/sim/xsgts.h
tests_sim_xsgtool_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
tests_sim_xsgtool_LDADD = $(XSG_LIBS)

# Unit tests against a real xenstore server (tests/sim/xenstore_server).
check_PROGRAMS += tests/unit/xsg_test
TESTS += tests/unit/xsg_test
tests_unit_xsg_test_SOURCES = tests/unit/xsg_test.c
tests_unit_xsg_test_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_xsg_test_LDADD = $(XSG_LIBS) $(CUTEST_LIBS)

# End to end on the sim platform: drvdomd in a driver domain, testif
# frontends in guest domains.
TESTS += tests/sim/xsg-e2e.sh tests/sim/drvdomd-e2e.sh
EXTRA_DIST += tests/sim/xsg-e2e.sh tests/sim/drvdomd-e2e.sh tests/sim/xsg-lib.sh

# Benchmark: attach -> Connected and worker restart -> first response.
noinst_PROGRAMS += tests/bench/attachbench
BENCHMARKS += tests/bench/attachbench
tests_bench_attachbench_SOURCES = tests/bench/attachbench.c tests/sim/xsgts.c \
	tests/sim/xsgts.h
tests_bench_attachbench_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
tests_bench_attachbench_LDADD = $(XSG_LIBS)
