# man/man.mk — the man pages (roff, written by hand, one file per page in
# man/NAME.SECTION) and the man tree `make install` copies to MANDIR:
#
#   build/man/manN/NAME.N        every page
#   build/man/man3/FUNCTION.3    ".so" links, one per function of each header
#                                a page documents (man/gen-links)
#
#   make man        builds the tree
#   make test-man   lint (mandoc -T lint, groff -ww), links, and the pages
#                   against the programs' --help and docs/*.md (tests/man)

MAN_PAGES := $(sort $(wildcard man/*.[1-9]))
MAN_B := $(B)/man
MAN_STAMP := $(B)/man.stamp

# @VERSION@ and @DATADIR@, @INCLUDEDIR@, @GUEST_SDKDIR@ in a page become the
# version and the install directories (hence the settings file of pkg/install.mk).
MAN_SUBST := VERSION DATADIR INCLUDEDIR GUEST_SDKDIR
$(MAN_STAMP): $(MAN_PAGES) man/gen-links scripts/public-functions scripts/public-headers \
		$(PUBLIC_HEADERS) $(PKG_B)/settings
	$(Q)man/gen-links $(MAN_B) $(foreach v,$(MAN_SUBST),--set '$(v)=$($(v))') $(MAN_PAGES)
	$(Q)touch $@

.PHONY: man test-man
man: $(MAN_STAMP)
ALL_TARGETS += $(MAN_STAMP)

# The option checks run the programs' --help.
MAN_TEST_DEPS := $(MAN_STAMP) $(INSTALL_BINS)
test-man:
	$(Q)$(TEST_HARNESS) reset test-man
	$(Q)$(MAKE) --no-print-directory $(MAN_TEST_DEPS) || \
		{ $(TEST_HARNESS) fail test-man "$(MAN_TEST_DEPS) did not build"; exit 1; }
	$(Q)$(TEST_HARNESS) shell test-man 120 tests/man/test_man.py
TEST_TARGETS += test-man
