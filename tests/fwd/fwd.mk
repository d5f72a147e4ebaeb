# SPDX-License-Identifier: BSD-3-Clause
# Boot-and-forward tests (host-only, direct, UEFI, two queues, VM to VM, host restart).
FWD_TEST_DEPS := $(B)/bin/ivshm $(B)/bin/ivshm-fwd $(B)/guest/fwd.elf $(B)/guest/fwd.efi

.PHONY: test-fwd
test-fwd: $(FWD_TEST_DEPS)
	$(Q)$(TEST_HARNESS) reset test-fwd
	$(Q)$(TEST_HARNESS) shell test-fwd 1200 tests/fwd/test_fwd.py

TEST_TARGETS += test-fwd
