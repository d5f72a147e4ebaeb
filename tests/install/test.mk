# SPDX-License-Identifier: BSD-3-Clause
# make test-install: install into a scratch DESTDIR and use ivshm from there
# only (tests/install/test_install.py). The script runs `make install` and
# `make uninstall` itself; everything they install is built first here, so a
# build failure is recorded as a failure.
.PHONY: test-install
test-install:
	$(Q)$(TEST_HARNESS) reset test-install
	$(Q)$(MAKE) --no-print-directory all || \
		{ $(TEST_HARNESS) fail test-install "make all did not build"; exit 1; }
	$(Q)MAKE="$(MAKE)" INSTALL_BINS='$(INSTALL_BINS)' \
		$(TEST_HARNESS) shell test-install 900 tests/install/test_install.py
TEST_TARGETS += test-install
