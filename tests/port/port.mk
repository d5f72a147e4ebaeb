# SPDX-License-Identifier: BSD-3-Clause
# ivshm-port tests (tests/port/test_port.py): kernel traffic between two
# network namespaces through the VM and through ivshm-fwd, a pcap round
# trip, SIGKILL and restart, two ivshm-port processes. They need root (taps,
# namespaces) and DPDK: without them the script says "skipped: ..." and the
# harness counts it as skipped.
PORT_TEST_DEPS := $(B)/bin/ivshm $(B)/bin/ivshm-fwd $(B)/guest/fwd.elf \
                  $(if $(filter yes,$(HAVE_DPDK)),$(B)/bin/ivshm-port)

.PHONY: test-port
test-port:
	$(call shell_tests,test-port,$(PORT_TEST_DEPS),600,tests/port/test_port.py)

TEST_TARGETS += test-port
# test-cli checks ivshm-port's command line (no root needed).
CLI_TEST_DEPS += $(if $(filter yes,$(HAVE_DPDK)),$(B)/bin/ivshm-port)
