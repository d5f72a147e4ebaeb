/* SPDX-License-Identifier: BSD-3-Clause */
/* The main of every Check program: run the suite, exit 0 iff all passed. */
#ifndef IVSHM_TEST_RUN_H
#define IVSHM_TEST_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default "normal" */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
