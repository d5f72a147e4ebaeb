# SPDX-License-Identifier: BSD-3-Clause
# man/man.mk — the man pages (roff, written by hand, one file per page in
# man/NAME.SECTION) and the man tree `make install` copies to MANDIR:
#
#   build/man/manN/NAME.N        every page, its SYNOPSIS and structures
#                                generated from the headers (man/gen-man)
#   build/man/man3/FUNCTION.3    links, one per function of each header a
#                                page documents
#
#   make man        builds the tree
#   make test-man   lint, and the pages against the headers, docs/*.md and
#                   the programs' --help (tests/man; man/README.md)

MAN_PAGES := $(sort $(wildcard man/*.[1-9]))
MAN_B := $(B)/man
MAN_STAMP := $(B)/man.stamp

# @VERSION@ and @DATADIR@, @INCLUDEDIR@, @GUEST_SDKDIR@ in a page become the
# version and the install directories (hence the settings file of pkg/install.mk).
MAN_SUBST := VERSION DATADIR INCLUDEDIR GUEST_SDKDIR DOCDIR
$(MAN_STAMP): $(MAN_PAGES) man/gen-man scripts/headers.py scripts/public-headers \
		$(PUBLIC_HEADERS) $(PKG_B)/settings
	$(Q)man/gen-man $(MAN_B) $(foreach v,$(MAN_SUBST),--set '$(v)=$($(v))') $(MAN_PAGES)
	$(Q)touch $@

.PHONY: man test-man
man: $(MAN_STAMP)
ALL_TARGETS += $(MAN_STAMP)

# The option checks run the programs' --help.
MAN_TEST_DEPS := $(MAN_STAMP) $(INSTALL_BINS) $(LIBIVSHM_A)
test-man:
	$(Q)$(TEST_HARNESS) reset test-man
	$(Q)$(MAKE) --no-print-directory $(MAN_TEST_DEPS) || \
		{ $(TEST_HARNESS) fail test-man "$(MAN_TEST_DEPS) did not build"; exit 1; }
	$(Q)INSTALL_BINS='$(INSTALL_BINS)' $(TEST_HARNESS) shell test-man 300 tests/man/test_man.py
TEST_TARGETS += test-man
