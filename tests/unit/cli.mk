# SPDX-License-Identifier: BSD-3-Clause
# The CLI framework, unit-tested without running the CLI (included by
# tests/tests.mk through tests/unit/*.mk).
TEST_EXTRA_SRCS_test_cli := host/cli/units.c host/cli/cli.c host/cli/report.c host/sigbus.c
