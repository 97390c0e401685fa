/*
 * cutest.c - the shared CUnit runner (see cutest.h).
 */
#include "config.h"

#include "tests/unit/cutest.h"

int cutest_run(const char *suite, const struct cutest *tests, size_t n)
{
    unsigned int failures;
    CU_pSuite s;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite(suite, NULL, NULL);
    for (i = 0; s && i < n; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            s = NULL;
    if (!s) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 255 ? 255 : (int)failures;
}
