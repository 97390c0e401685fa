# tools/simhv/xenstored: build rules (included from the top Makefile.am).
# The sim platform's xenstore server library (wire protocol, permissions,
# quotas, transactions, watches); drvdom-simhv links it.
noinst_LIBRARIES += tools/simhv/xenstored/libxss.a
tools_simhv_xenstored_libxss_a_SOURCES = \
	tools/simhv/xenstored/xss.h \
	tools/simhv/xenstored/xss-internal.h \
	tools/simhv/xenstored/hmap.c \
	tools/simhv/xenstored/tree.c \
	tools/simhv/xenstored/txn.c \
	tools/simhv/xenstored/watch.c \
	tools/simhv/xenstored/wire.c \
	tools/simhv/xenstored/domain.c \
	tools/simhv/xenstored/ops.c
tools_simhv_xenstored_libxss_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)

# Test-only host process for the interop tests (until drvdom-simhv serves
# xenstore itself).
check_PROGRAMS += tests/sim/xenstore_server
tests_sim_xenstore_server_SOURCES = tests/sim/xenstore_server.c
tests_sim_xenstore_server_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
tests_sim_xenstore_server_LDADD = tools/simhv/xenstored/libxss.a $(LIBEVENT_LIBS)

# Unit tests: every operation, permission and quota rule (xss_test), and
# connection handling (xss_wire_test), over raw sockets.
check_PROGRAMS += tests/unit/xss_test tests/unit/xss_wire_test
TESTS += tests/unit/xss_test tests/unit/xss_wire_test
tests_unit_xss_test_SOURCES = tests/unit/xss_test.c \
	tests/unit/xss_testlib.c tests/unit/xss_testlib.h
tests_unit_xss_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_xss_test_LDADD = tools/simhv/xenstored/libxss.a $(LIBEVENT_LIBS) $(CUTEST_LIBS)
tests_unit_xss_wire_test_SOURCES = tests/unit/xss_wire_test.c \
	tests/unit/xss_testlib.c tests/unit/xss_testlib.h
tests_unit_xss_wire_test_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_xss_wire_test_LDADD = tools/simhv/xenstored/libxss.a $(LIBEVENT_LIBS) $(CUTEST_LIBS)

# Interop: stock xenstore-utils and libxenstore against the server.
check_PROGRAMS += tests/sim/xenstore_client
tests_sim_xenstore_client_SOURCES = tests/sim/xenstore_client.c
tests_sim_xenstore_client_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
tests_sim_xenstore_client_LDADD = $(XENSTORE_LIBS)
TESTS += tests/sim/xenstore_interop.sh
EXTRA_DIST += tests/sim/xenstore_interop.sh

# Benchmark: 100 domains x 100 nodes, 10,000 watches, against a unix socket
# echo baseline.
noinst_PROGRAMS += tests/bench/xsbench
BENCHMARKS += tests/bench/xsbench
tests_bench_xsbench_SOURCES = tests/bench/xsbench.c
tests_bench_xsbench_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(XENSTORE_CFLAGS)
tests_bench_xsbench_LDADD = tools/simhv/xenstored/libxss.a $(LIBEVENT_LIBS) $(XENSTORE_LIBS)
