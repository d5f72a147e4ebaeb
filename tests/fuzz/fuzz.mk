# SPDX-License-Identifier: BSD-3-Clause
# Fuzz targets: libFuzzer with ASan/UBSan (clang), on segment validation,
# object lookup, ring and mempool attach and operations, and party claim.
#
#   make fuzz          build, make the seed corpus (ivshm create), run each
#                      target for FUZZ_SECONDS (default 60) on a corpus kept
#                      in $(B)/fuzz/corpus/; crashes go to $(B)/fuzz/crashes/;
#                      FUZZ_PARALLEL=1 runs the three targets at once
#   make test-fuzz     (part of make test) each target for FUZZ_SMOKE_RUNS
#                      executions on the seeds, a few seconds each
#   make fuzz-cov      line coverage of the corpus (llvm-cov): needs
#                      scripts/install-deps fuzz
#
# Targets (tests/fuzz/): fuzz_segment (input as is), fuzz_segment_fixed (the
# checksum made right first, so mutations get past it), fuzz_ops (a script of
# operations and a peer's writes on a segment). Library calls: tests/adapter.c.
# Reproduce a crash: $(B)/fuzz/bin/TARGET CRASH_FILE

FUZZ_CC := $(shell command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || echo clang-14)
FUZZ_B := $(B)/fuzz
FUZZ_TARGETS := fuzz_segment fuzz_segment_fixed fuzz_ops
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_PARALLEL ?= 0
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -I. -Iinclude -fno-omit-frame-pointer -MMD -MP \
               -fsanitize-coverage-ignorelist=tests/fuzz/coverage_ignore.txt
FUZZ_LIB_SRCS := $(COMMON_SRCS) tests/adapter.c tests/fuzz/fuzz_harness.c
FUZZ_BINS := $(addprefix $(FUZZ_B)/bin/,$(FUZZ_TARGETS))
FUZZ_COV_BINS := $(addprefix $(FUZZ_B)/cov/bin/,$(FUZZ_TARGETS))

# Variant (san: ASan/UBSan; cov: source-based coverage) -> flags.
FUZZ_FLAGS_san := $(FUZZ_SAN)
FUZZ_FLAGS_cov := -fprofile-instr-generate -fcoverage-mapping

define fuzz_variant
$(FUZZ_B)/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_FLAGS_$(1)) -fsanitize=fuzzer-no-link -c $$< -o $$@
$(FUZZ_B)/$(1)/obj/fixed/%.o: %.c
	@mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_FLAGS_$(1)) -DFUZZ_FIX_CHECKSUM=1 -fsanitize=fuzzer-no-link -c $$< -o $$@
$(FUZZ_B)/$(1)/lib.a: $$(patsubst %.c,$(FUZZ_B)/$(1)/obj/%.o,$$(FUZZ_LIB_SRCS))
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(eval $(call fuzz_variant,san))
$(eval $(call fuzz_variant,cov))

# fuzz_segment_fixed is fuzz_segment.c built with FUZZ_FIX_CHECKSUM.
fuzz_obj = $(if $(filter fuzz_segment_fixed,$(2)),$(FUZZ_B)/$(1)/obj/fixed/tests/fuzz/fuzz_segment.o,$(FUZZ_B)/$(1)/obj/tests/fuzz/$(2).o)

define fuzz_program
$(3): $(call fuzz_obj,$(1),$(2)) $(FUZZ_B)/$(1)/lib.a
	@mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS_$(1)) -fsanitize=fuzzer -o $$@ $$^
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_program,san,$(t),$(FUZZ_B)/bin/$(t))))
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_program,cov,$(t),$(FUZZ_B)/cov/bin/$(t))))

# Seeds: segments made by the CLI, trailing zeros cut (tests/fuzz/make_seeds.py).
FUZZ_SEEDS_STAMP := $(FUZZ_B)/seeds/.stamp
$(FUZZ_SEEDS_STAMP): tests/fuzz/make_seeds.py $(B)/bin/ivshm
	$(Q)python3 tests/fuzz/make_seeds.py $(B)/bin/ivshm $(FUZZ_B)/seeds
	@touch $@

.PHONY: fuzz fuzz-build fuzz-cov test-fuzz fuzz-deps
fuzz-build: $(FUZZ_BINS) $(FUZZ_SEEDS_STAMP)

fuzz: fuzz-build
	$(Q)FUZZ_B=$(FUZZ_B) FUZZ_PARALLEL=$(FUZZ_PARALLEL) tests/fuzz/run.sh long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-deps:
	$(Q)scripts/install-deps fuzz

# Coverage of what the corpus (and the seeds) reach, per source file.
fuzz-cov: fuzz-deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_COV_BINS) $(FUZZ_SEEDS_STAMP)
	$(Q)FUZZ_B=$(FUZZ_B) tests/fuzz/run.sh cov 0 $(FUZZ_TARGETS)

test-fuzz:
	$(Q)$(TEST_HARNESS) reset test-fuzz
	$(Q)$(MAKE) --no-print-directory fuzz-build || \
		{ $(TEST_HARNESS) fail test-fuzz "the fuzz targets did not build (clang, libclang-rt-14-dev)"; exit 1; }
	$(Q)FUZZ_B=$(abspath $(FUZZ_B)) FUZZ_SMOKE_RUNS=$(FUZZ_SMOKE_RUNS) \
		$(TEST_HARNESS) shell test-fuzz 600 tests/fuzz/test_fuzz_smoke.sh

TEST_TARGETS += test-fuzz
