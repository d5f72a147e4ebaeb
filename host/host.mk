# SPDX-License-Identifier: BSD-3-Clause
# libivshm (static and shared) and the ivshm CLI.
#
#   build/lib/libivshm.a                       host library + shared code
#   build/lib/libivshm.so.$(VERSION)           the same, shared; soname libivshm.so.MAJOR,
#   build/lib/libivshm.so.MAJOR, libivshm.so   links to it
#   build/bin/ivshm                            the CLI
#
# The library carries the freestanding shared code (common/*.c) too, so a
# program needs only -livshm -lnuma. The shared library exports exactly the
# functions the public headers declare (host/libivshm.map; test-api checks).

HOST_LIB_SRCS := $(wildcard host/*.c)
HOST_CLI_SRCS := $(wildcard host/cli/*.c)
HOST_OBJ_DIR := $(B)/host/obj

HOST_LIB_OBJS := $(patsubst %.c,$(HOST_OBJ_DIR)/%.o,$(HOST_LIB_SRCS) $(COMMON_SRCS))
HOST_CLI_OBJS := $(patsubst %.c,$(HOST_OBJ_DIR)/%.o,$(HOST_CLI_SRCS))

SO_MAJOR := $(firstword $(subst ., ,$(VERSION)))
LIBIVSHM_SONAME := libivshm.so.$(SO_MAJOR)
LIBIVSHM_A := $(B)/lib/libivshm.a
LIBIVSHM_SO_REAL := $(B)/lib/libivshm.so.$(VERSION)
LIBIVSHM_SO := $(B)/lib/libivshm.so
LIBIVSHM_MAP := host/libivshm.map
IVSHM_BIN := $(B)/bin/ivshm

ALL_TARGETS += $(LIBIVSHM_A) $(LIBIVSHM_SO) $(IVSHM_BIN)
INSTALL_BINS += $(IVSHM_BIN)

$(HOST_OBJ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -DIVSHM_VERSION='"$(VERSION)"' -c $< -o $@

$(LIBIVSHM_A): $(HOST_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(LIBIVSHM_SO_REAL): $(HOST_LIB_OBJS) $(LIBIVSHM_MAP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -shared -Wl,-soname,$(LIBIVSHM_SONAME) -Wl,--version-script=$(LIBIVSHM_MAP) \
		-Wl,--no-undefined $(HOST_LDFLAGS) -o $@ $(HOST_LIB_OBJS) $(HOST_LIBS)

$(LIBIVSHM_SO): $(LIBIVSHM_SO_REAL)
	$(Q)ln -sf $(notdir $<) $(dir $@)$(LIBIVSHM_SONAME)
	$(Q)ln -sf $(LIBIVSHM_SONAME) $@

$(IVSHM_BIN): $(HOST_CLI_OBJS) $(LIBIVSHM_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(HOST_CLI_OBJS) $(LIBIVSHM_A) $(HOST_LIBS)

# The version comes from the VERSION file: rebuild the CLI when it changes.
$(HOST_OBJ_DIR)/host/cli/cli.o: VERSION

.PHONY: host
host: $(LIBIVSHM_A) $(LIBIVSHM_SO) $(IVSHM_BIN)
