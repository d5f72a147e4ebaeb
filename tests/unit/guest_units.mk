# SPDX-License-Identifier: BSD-3-Clause
# Guest runtime pieces that need no hardware, unit-tested on the host
# (included by tests/tests.mk through tests/unit/*.mk).
TEST_EXTRA_SRCS_test_cmdline := guest_rt/cmdline.c
TEST_EXTRA_SRCS_test_pci := guest_rt/pci.c
