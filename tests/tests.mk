# SPDX-License-Identifier: BSD-3-Clause
# Tests: Check unit programs (plain, ASan/UBSan, TSan), CLI and QEMU shell tests.
# Included by the top Makefile; uses B, CC, Q, HOST_CFLAGS, COMMON_SRCS.
#
#   tests/unit/test_<x>.c   one Check program each -> $(B)/tests/unit/test_<x>
#   tests/unit/*.mk         fragments: TEST_EXTRA_SRCS_test_<x> := a.c b.c
#   tests/cli/test_*.sh     run with IVSHM, BUILD, TEST_TMP; print ok / not ok
#   tests/qemu/test_*.sh    same
#   tests/lint/test_lint.sh formatting (make check-format) and SPDX lines
#
# Every target records "passed N failed M" (then " skipped S" when S > 0) in
# $(B)/tests/results/<target>.txt through tests/harness; `tests/harness
# summary TARGET...` adds them up.

TESTS_OUT := $(B)/tests
TEST_HARNESS := BUILD=$(B) tests/harness

# The recipe of a target of shell tests:
#   $(call shell_tests,TARGET,PROGRAMS,SECONDS,SCRIPTS)
# forgets TARGET's old counts, builds PROGRAMS (may be empty) in a sub-make,
# so that a build failure is recorded as a failure (not as the last run),
# then runs SCRIPTS through tests/harness, each under a limit of SECONDS.
define shell_tests
$(Q)$(TEST_HARNESS) reset $(1)
$(Q)$(if $(strip $(2)),$(MAKE) --no-print-directory $(2) || \
	{ $(TEST_HARNESS) fail $(1) "$(strip $(2)) did not build"; exit 1; })
$(Q)$(TEST_HARNESS) shell $(1) $(3) $(4)
endef

-include $(wildcard tests/unit/*.mk)

UNIT_TESTS := $(sort $(basename $(notdir $(wildcard tests/unit/test_*.c))))
# Tests with test cases tagged "threads" (tcase_set_tags) are also built with
# ThreadSanitizer, which runs only those cases.
TSAN_TESTS := $(sort $(basename $(notdir $(shell grep -l 'tcase_set_tags(.*"threads")' \
                                           tests/unit/test_*.c 2>/dev/null))))

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
TEST_LIBS := $(CHECK_LIBS) -lnuma -lpthread
LIBIVSHM_A := $(B)/lib/libivshm.a

# Variant name -> extra compiler/linker flags.
TEST_FLAGS_unit :=
TEST_FLAGS_unit-asan := -fsanitize=address,undefined -fno-omit-frame-pointer \
                        -fno-sanitize-recover=undefined
TEST_FLAGS_unit-tsan := -fsanitize=thread -fno-omit-frame-pointer

UNIT_PROGS_unit := $(addprefix $(TESTS_OUT)/unit/,$(UNIT_TESTS))
UNIT_PROGS_unit-asan := $(addprefix $(TESTS_OUT)/unit-asan/,$(UNIT_TESTS))
UNIT_PROGS_unit-tsan := $(addprefix $(TESTS_OUT)/unit-tsan/,$(TSAN_TESTS))

# Objects of one variant: $(TESTS_OUT)/obj/<variant>/<source path>.o
define ivshm_test_variant
$(TESTS_OUT)/obj/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CFLAGS) $$(TEST_FLAGS_$(1)) $$(CHECK_CFLAGS) -c $$< -o $$@
endef

# Program $(2) of variant $(1): the test file, the shared code, its extra
# sources, and libivshm for test_host_* (only those depend on the host library).
define ivshm_test_program
$(TESTS_OUT)/$(1)/$(2): $(patsubst %.c,$(TESTS_OUT)/obj/$(1)/%.o,tests/unit/$(2).c $(COMMON_SRCS) $(TEST_EXTRA_SRCS_$(2))) $(if $(filter test_host_%,$(2)),$(LIBIVSHM_A))
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(TEST_FLAGS_$(1)) -o $$@ $$^ $$(TEST_LIBS)
endef

$(foreach v,unit unit-asan unit-tsan,$(eval $(call ivshm_test_variant,$(v))))
$(foreach t,$(UNIT_TESTS),$(eval $(call ivshm_test_program,unit,$(t))))
$(foreach t,$(UNIT_TESTS),$(eval $(call ivshm_test_program,unit-asan,$(t))))
$(foreach t,$(TSAN_TESTS),$(eval $(call ivshm_test_program,unit-tsan,$(t))))

# Sanitizer settings: stop at the first report, with a stack trace. The ASan
# programs run their tests in-process (CK_FORK=no): a fork under ASan costs
# about 0.25 s here, and the first report ends the program anyway (the
# harness counts that as a failure).
ASAN_ENV := CK_FORK=no ASAN_OPTIONS=detect_leaks=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Check's fork mode and TSan do not mix: run in-process, threaded cases only.
TSAN_ENV := CK_FORK=no CK_INCLUDE_TAGS=threads TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

.PHONY: test-unit test-unit-build test-cli test-qemu

test-unit-build: $(UNIT_PROGS_unit) $(UNIT_PROGS_unit-asan) $(UNIT_PROGS_unit-tsan)

# Each target forgets its old counts first, then builds what it needs in a
# sub-make, so a build failure is recorded as a failure (not as the last run).
test-unit:
	$(Q)$(TEST_HARNESS) reset test-unit
	$(Q)$(MAKE) --no-print-directory test-unit-build || \
		{ $(TEST_HARNESS) fail test-unit "the unit test programs did not build"; exit 1; }
	$(Q)rc=0; \
	$(TEST_HARNESS) check test-unit -- $(UNIT_PROGS_unit) || rc=1; \
	$(TEST_HARNESS) check test-unit $(ASAN_ENV) -- $(UNIT_PROGS_unit-asan) || rc=1; \
	$(TEST_HARNESS) check test-unit $(TSAN_ENV) -- $(UNIT_PROGS_unit-tsan) || rc=1; \
	exit $$rc

# Shell tests need the CLI; host/host.mk provides the rule for it.
CLI_TEST_DEPS := $(if $(wildcard host/host.mk),$(B)/bin/ivshm $(B)/bin/ivshm-fwd)

# The CLI with the test-only object type "counters" linked in
# (tests/cli/test_object_type.sh): the same objects plus one file.
IVSHM_COUNTERS_BIN := $(TESTS_OUT)/cli/ivshm-counters
$(IVSHM_COUNTERS_BIN): $(HOST_CLI_OBJS) $(HOST_OBJ_DIR)/tests/object_type/counters.o $(LIBIVSHM_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $^ $(HOST_LIBS)
CLI_TEST_DEPS += $(if $(wildcard host/host.mk),$(IVSHM_COUNTERS_BIN))
CLI_TESTS = $(sort $(wildcard tests/cli/test_*.sh))
QEMU_TESTS = $(sort $(wildcard tests/qemu/test_*.sh))

test-cli:
	$(call shell_tests,test-cli,$(CLI_TEST_DEPS),120,$(CLI_TESTS))

test-qemu:
	$(call shell_tests,test-qemu,$(if $(CLI_TEST_DEPS),$(B)/bin/ivshm),600,$(QEMU_TESTS))

# Formatting (what make check-format checks) and SPDX lines, as a test.
.PHONY: test-lint
test-lint:
	$(call shell_tests,test-lint,,300,tests/lint/test_lint.sh)

TEST_TARGETS += test-unit test-cli test-qemu test-lint
