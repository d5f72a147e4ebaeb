# build/bin/ivshm-fwd: the forwarding loop as a Linux process (host-only tests, bench).
IVSHM_FWD_BIN := $(B)/bin/ivshm-fwd
ALL_TARGETS += $(IVSHM_FWD_BIN)
INSTALL_BINS += $(IVSHM_FWD_BIN)

$(IVSHM_FWD_BIN): host/fwd/ivshm_fwd.c $(LIBIVSHM_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -o $@ $< $(LIBIVSHM_A) $(HOST_LIBS)
