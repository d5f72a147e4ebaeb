# SPDX-License-Identifier: BSD-3-Clause
# The public API as shipped (exports, soname, self-contained headers).
.PHONY: test-api
test-api:
	$(Q)$(TEST_HARNESS) reset test-api
	$(Q)$(MAKE) --no-print-directory $(LIBIVSHM_SO) || \
		{ $(TEST_HARNESS) fail test-api "$(LIBIVSHM_SO) did not build"; exit 1; }
	$(Q)$(TEST_HARNESS) shell test-api 120 tests/api/test_exports.sh

TEST_TARGETS += test-api
