# tests/: shared test support. Each component's own tests and benchmarks are
# declared in that component's local.mk.
EXTRA_DIST += tests/sim/lib.sh

# The CUnit runner every unit test links (tests/unit/cutest.h).
noinst_LIBRARIES += tests/unit/libcutest.a
tests_unit_libcutest_a_SOURCES = tests/unit/cutest.c tests/unit/cutest.h
tests_unit_libcutest_a_CPPFLAGS = $(AM_CPPFLAGS) $(CUNIT_CFLAGS)
CUTEST_LIBS = tests/unit/libcutest.a $(CUNIT_LIBS)
