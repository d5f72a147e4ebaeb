# SPDX-License-Identifier: BSD-3-Clause
# ivshm — top-level build. Everything lands in build/.
#
#   make            build host library, CLI and guest images
#   make demo       the main job (installs missing packages first)
#   make test       every test (installs missing packages first)
#   make test-unit  Check unit tests (plus ASan/UBSan and TSan builds)
#   make test-boot  QEMU boot tests of the guest runtime
#   make test-doorbell  doorbell server, host clients, ivshmem-doorbell guests
#   make test-api   exports of libivshm.so against the public headers
#   make test-lint  formatting (what check-format checks) and SPDX lines
#   make bench      benchmarks against DPDK
#   make install    PREFIX=/usr/local DESTDIR= ... (pkg/install.mk); make uninstall
#
# Sub-makefiles (one per directory) add to the variables and targets below.

.DEFAULT_GOAL := all
SHELL := /bin/bash

B := build
CC ?= gcc
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

WARN := -Wall -Wextra -Werror
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fPIC -D_GNU_SOURCE -I. -Iinclude -MMD -MP
HOST_LDFLAGS :=
HOST_LIBS := -lnuma -lpthread

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Freestanding shared code (ring, mempool, segment validation): compiled once
# for the host and once for the guest from the same sources.
COMMON_SRCS := $(wildcard common/*.c)

# The public headers (installed, documented, exported): scripts/public-headers.
PUBLIC_HEADERS := $(shell scripts/public-headers)

ALL_TARGETS :=
TEST_TARGETS :=
# Programs `make install` puts in BINDIR: each fragment appends its own.
INSTALL_BINS :=
CLEAN_DIRS := $(B)

-include host/host.mk
-include host/fwd/fwd.mk
-include host/port/port.mk
-include guest_rt/guest.mk
-include tests/tests.mk
-include tests/api/api.mk
-include tests/fwd/fwd.mk
-include tests/port/port.mk
-include tests/bench/bench.mk
-include tests/doorbell/doorbell.mk
-include tests/fuzz/fuzz.mk
-include tests/hostile/hostile.mk
# Last: the lists they install come from the fragments above.
-include pkg/install.mk
-include man/man.mk
-include tests/install/test.mk

.PHONY: all deps demo test test-all clean format check-format
all: $(ALL_TARGETS)

deps:
	$(Q)scripts/install-deps

# The sub-make re-reads the Makefile after the packages are installed, so
# pkg-config and friends see them.
test: deps
	$(Q)$(MAKE) --no-print-directory test-all

# Every test target runs even when an earlier one fails, so one run shows
# everything; the last line is the total, "N passed, M failed".
test-all:
	$(Q)rc=0; for t in $(TEST_TARGETS); do \
		$(MAKE) --no-print-directory $$t || rc=1; \
	done; \
	BUILD=$(B) tests/harness summary $(TEST_TARGETS) || rc=1; \
	exit $$rc

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

clean:
	rm -rf $(CLEAN_DIRS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)
check-format:
	clang-format --dry-run --Werror $(FORMAT_FILES)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
