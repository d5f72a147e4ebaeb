# SPDX-License-Identifier: BSD-3-Clause
# The test-only object type, linked into the unit test of the table.
TEST_EXTRA_SRCS_test_object_class := tests/object_type/counters.c
