# SPDX-License-Identifier: BSD-3-Clause
# build/bin/ivshm-fwd: the forwarding loop as a Linux process (host-only tests, bench),
# on the CLI framework of host/cli/.
IVSHM_FWD_BIN := $(B)/bin/ivshm-fwd
ALL_TARGETS += $(IVSHM_FWD_BIN)
INSTALL_BINS += $(IVSHM_FWD_BIN)
IVSHM_FWD_OBJS := $(HOST_OBJ_DIR)/host/fwd/ivshm_fwd.o $(HOST_OBJ_DIR)/host/cli/cli.o \
	$(HOST_OBJ_DIR)/host/cli/doorbells.o \
	$(HOST_OBJ_DIR)/host/cli/units.o

$(IVSHM_FWD_BIN): $(IVSHM_FWD_OBJS) $(LIBIVSHM_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(IVSHM_FWD_OBJS) $(LIBIVSHM_A) $(HOST_LIBS)
