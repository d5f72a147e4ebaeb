#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# make test's share of fuzzing: every target for FUZZ_SMOKE_RUNS executions
# (seeded, so the same mutations each time) on the seed corpus. ok / not ok
# per target; a crash prints how to reproduce it.
exec "$(dirname "$0")/run.sh" smoke "${FUZZ_SMOKE_RUNS:-20000}" fuzz_segment fuzz_segment_fixed fuzz_ops
