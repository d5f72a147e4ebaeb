/* SPDX-License-Identifier: BSD-3-Clause */
/* The main of every Check program: run the suite, exit 0 iff all passed. */
#ifndef IVSHM_TEST_RUN_H
#define IVSHM_TEST_RUN_H

#include <check.h>
#include <stdlib.h>

/* A test case named `name` holding tests[] (ends with NULL), added to suite. */
static inline TCase *test_case(Suite *suite, const char *name, const TTest *const *tests)
{
    TCase *tc = tcase_create(name);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(suite, tc);
    return tc;
}

static inline int test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default "normal" */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
