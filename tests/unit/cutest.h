/*
 * cutest: the CUnit runner every unit test's main() uses: one suite from a
 * table of tests, verbose output, the failure count as the exit status.
 */
#ifndef DRVDOM_TESTS_CUTEST_H
#define DRVDOM_TESTS_CUTEST_H

#include <stddef.h>

#include <CUnit/Basic.h>

/* One test of a table. */
struct cutest {
    const char *name; /* as CUnit prints it */
    CU_TestFunc fn;   /* the test */
};

/*
 * Runs tests[0..n) as suite @suite. Returns the number of failed asserts,
 * capped at 255 for an exit status, or 1 when CUnit cannot be set up.
 */
int cutest_run(const char *suite, const struct cutest *tests, size_t n);

#endif /* DRVDOM_TESTS_CUTEST_H */
