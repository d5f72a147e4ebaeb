/* SPDX-License-Identifier: BSD-3-Clause */
/* The test-only object type "counters" (counters.c). */
#ifndef IVSHM_TEST_COUNTERS_H
#define IVSHM_TEST_COUNTERS_H

#include "common/object.h"

#define TEST_OBJ_COUNTERS 0x7e57u /* a type number no built-in type uses */

extern const struct ivshm_object_class test_counters_class;

#endif
