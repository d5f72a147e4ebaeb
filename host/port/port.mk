# SPDX-License-Identifier: BSD-3-Clause
# build/bin/ivshm-port: DPDK ethdev ports joined to segment queue pairs.
# Built only when pkg-config finds libdpdk (scripts/install-deps installs it);
# without DPDK the rest of the build goes on and this is skipped quietly.

IVSHM_PORT_BIN := $(B)/bin/ivshm-port
HAVE_DPDK := $(shell pkg-config --exists libdpdk 2>/dev/null && echo yes)

ifeq ($(HAVE_DPDK),yes)
ALL_TARGETS += $(IVSHM_PORT_BIN)
INSTALL_BINS += $(IVSHM_PORT_BIN)

PORT_SRCS := $(wildcard host/port/*.c)
PORT_OBJ_DIR := $(B)/host/port-obj
PORT_OBJS := $(patsubst host/port/%.c,$(PORT_OBJ_DIR)/%.o,$(PORT_SRCS))
# DPDK's flags bring -march=corei7 and friends (rte_memcpy needs them);
# rte_dev_dma_map (zero-copy on a DMA device) is still experimental in 22.11.
PORT_DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk)
PORT_DPDK_LIBS := $(shell pkg-config --libs libdpdk)
PORT_CFLAGS = $(HOST_CFLAGS) $(PORT_DPDK_CFLAGS) -DALLOW_EXPERIMENTAL_API

$(PORT_OBJ_DIR)/%.o: host/port/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(PORT_CFLAGS) -c $< -o $@

# Its own options go through the CLI framework of host/cli/ (as ivshm-fwd's),
# its doorbells through the CLI's client of the doorbell server.
PORT_CLI_OBJS := $(HOST_OBJ_DIR)/host/cli/cli.o $(HOST_OBJ_DIR)/host/cli/units.o \
                 $(HOST_OBJ_DIR)/host/cli/doorbells.o

$(IVSHM_PORT_BIN): $(PORT_OBJS) $(PORT_CLI_OBJS) $(LIBIVSHM_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(PORT_OBJS) $(PORT_CLI_OBJS) $(LIBIVSHM_A) $(PORT_DPDK_LIBS) \
		$(HOST_LIBS)
endif

.PHONY: port
port: $(if $(HAVE_DPDK),$(IVSHM_PORT_BIN))
