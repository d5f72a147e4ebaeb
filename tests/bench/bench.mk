# SPDX-License-Identifier: BSD-3-Clause
# Benchmarks: ivshm rings and mempools against DPDK 22.11 (tests/bench/).
#
#   make bench             installs DPDK (scripts/install-deps bench), builds
#                          and runs the full benchmark: table on stdout,
#                          $(B)/bench/results.json, $(B)/bench/results.txt
#   make test-bench-smoke  (part of make test) builds the benchmark and runs a
#                          tiny pass that times nothing; skipped when DPDK is
#                          not installed (`make test` installs it)
#   BENCH_ARGS="--filter ring/spsc --reps 9" make bench   for a subset

BENCH_DIR := $(B)/bench
BENCH_BIN := $(BENCH_DIR)/ivshm-bench
BENCH_SRCS := $(wildcard tests/bench/*.c) $(COMMON_SRCS)
BENCH_OBJS := $(patsubst %.c,$(BENCH_DIR)/obj/%.o,$(BENCH_SRCS))
BENCH_ARGS ?=

# pkg-config is asked only when a bench recipe runs (deferred with =), so the
# rest of the build does not need DPDK. The same flags build both sides:
# DPDK's headers bring -march=corei7, and our code gets it too.
BENCH_DPDK_CFLAGS = $(shell pkg-config --cflags libdpdk)
BENCH_DPDK_LIBS = $(shell pkg-config --libs libdpdk)
BENCH_OPT := -std=gnu11 -O2 -g
BENCH_CFLAGS = $(BENCH_OPT) $(WARN) -D_GNU_SOURCE -I. -Iinclude -Itests/bench -MMD -MP \
               $(BENCH_DPDK_CFLAGS)

$(BENCH_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) \
	    -DBENCH_CFLAGS_STR='"$(BENCH_OPT) $(filter -march=% -m%,$(BENCH_DPDK_CFLAGS))"' \
	    -c $< -o $@

$(BENCH_BIN): $(BENCH_OBJS)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(BENCH_DPDK_LIBS) -lpthread

.PHONY: bench bench-deps test-bench-smoke

bench-deps:
	$(Q)scripts/install-deps bench

# The port/null64 rows run ivshm, ivshm-fwd and ivshm-port from build/bin.
BENCH_PROGS = $(BENCH_BIN) $(IVSHM_BIN) $(IVSHM_FWD_BIN) $(IVSHM_PORT_BIN)

# The sub-make re-reads the makefiles after DPDK is installed.
bench: bench-deps
	$(Q)$(MAKE) --no-print-directory $(BENCH_PROGS)
	$(Q)mkdir -p $(BENCH_DIR)
	$(Q)$(BENCH_BIN) $(BENCH_ARGS) --out $(BENCH_DIR)/results.json | tee $(BENCH_DIR)/results.txt

test-bench-smoke:
	$(Q)$(TEST_HARNESS) reset test-bench-smoke
	$(Q)if pkg-config --exists libdpdk; then \
	    $(MAKE) --no-print-directory $(BENCH_PROGS) && \
	    $(TEST_HARNESS) shell test-bench-smoke 300 tests/bench/smoke.sh; \
	else \
	    $(TEST_HARNESS) skip test-bench-smoke "DPDK (libdpdk-dev) is not installed (make deps installs it)"; \
	fi

TEST_TARGETS += test-bench-smoke
