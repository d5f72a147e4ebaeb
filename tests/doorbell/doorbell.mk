# SPDX-License-Identifier: BSD-3-Clause
# Doorbell tests (make test-doorbell): the doorbell server (ivshm serve), host
# clients, QEMU's ivshmem-doorbell device with the guest app
# guest_rt/apps/doorbell.c, booted directly and through UEFI, and the
# forwarders in adaptive mode.
#
#   build/tests/doorbell/bell      a doorbell client: hold, ring, pong, feed (round trips)
#   build/tests/doorbell/fwd_loop  the forwarding loop under constant load (instruction counts)

DOORBELL_TOOLS := $(B)/tests/doorbell/bell $(B)/tests/doorbell/fwd_loop

$(B)/tests/doorbell/%: tests/doorbell/%.c $(LIBIVSHM_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -o $@ $< $(LIBIVSHM_A) $(HOST_LIBS)

DOORBELL_TEST_DEPS := $(B)/bin/ivshm $(B)/bin/ivshm-fwd $(DOORBELL_TOOLS) \
	$(B)/guest/doorbell.elf $(B)/guest/doorbell.efi $(B)/guest/fwd.elf $(B)/guest/fwd.efi

.PHONY: test-doorbell doorbell-tools
doorbell-tools: $(DOORBELL_TOOLS)

test-doorbell:
	$(Q)$(TEST_HARNESS) reset test-doorbell
	$(Q)$(MAKE) --no-print-directory $(DOORBELL_TEST_DEPS) || \
		{ $(TEST_HARNESS) fail test-doorbell "$(DOORBELL_TEST_DEPS) did not build"; exit 1; }
	$(Q)$(TEST_HARNESS) shell test-doorbell 900 tests/doorbell/test_doorbell.py

TEST_TARGETS += test-doorbell
