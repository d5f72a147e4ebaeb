# libivshm (static and shared) and the ivshm CLI.
#
#   build/lib/libivshm.a, build/lib/libivshm.so   host library + shared code
#   build/bin/ivshm                                 the CLI
#
# The library carries the freestanding shared code (common/*.c) too, so a
# program needs only -livshm -lnuma.

HOST_LIB_SRCS := $(wildcard host/*.c)
HOST_CLI_SRCS := $(wildcard host/cli/*.c)
HOST_OBJ_DIR := $(B)/host/obj

HOST_LIB_OBJS := $(patsubst %.c,$(HOST_OBJ_DIR)/%.o,$(HOST_LIB_SRCS) $(COMMON_SRCS))
HOST_CLI_OBJS := $(patsubst %.c,$(HOST_OBJ_DIR)/%.o,$(HOST_CLI_SRCS))

LIBIVSHM_A := $(B)/lib/libivshm.a
LIBIVSHM_SO := $(B)/lib/libivshm.so
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

$(LIBIVSHM_SO): $(HOST_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -shared -Wl,-soname,libivshm.so $(HOST_LDFLAGS) -o $@ $^ $(HOST_LIBS)

$(IVSHM_BIN): $(HOST_CLI_OBJS) $(LIBIVSHM_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(HOST_CLI_OBJS) $(LIBIVSHM_A) $(HOST_LIBS)

# The version comes from the VERSION file: rebuild the CLI when it changes.
$(HOST_OBJ_DIR)/host/cli/main.o: VERSION

.PHONY: host
host: $(LIBIVSHM_A) $(LIBIVSHM_SO) $(IVSHM_BIN)
