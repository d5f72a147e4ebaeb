# SPDX-License-Identifier: BSD-3-Clause
# The public API as shipped (exports, soname, self-contained headers).
.PHONY: test-api
test-api:
	$(call shell_tests,test-api,$(LIBIVSHM_SO),120,tests/api/test_exports.sh)

TEST_TARGETS += test-api
