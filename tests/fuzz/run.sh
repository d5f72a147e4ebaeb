#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs the fuzz targets (tests/fuzz/fuzz.mk calls it).
#
#   run.sh long SECONDS TARGET...   each target for SECONDS on its corpus
#                                   ($FUZZ_B/corpus/TARGET, grown), seeds
#                                   added; crashes in $FUZZ_B/crashes/TARGET/
#   run.sh smoke RUNS TARGET...     each target for RUNS executions on the
#                                   seeds (corpus in $TEST_TMP); ok / not ok
#   run.sh cov 0 TARGET...          the coverage builds over corpus and seeds;
#                                   llvm-cov report of the shared code
# FUZZ_PARALLEL=1 runs the targets at the same time (one process each).
# Prints per target: executions, seconds, crash or not, and the total.
set -uo pipefail
FUZZ_B=${FUZZ_B:-build/fuzz}
mode=$1 amount=$2
shift 2
FUZZ_OPTS=(-max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
# The library allocates nothing: ASan's quarantine and malloc fill only slow
# libFuzzer's own per-input copies down (page faults). Keep any settings given.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=0:max_malloc_fill_size=0:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

seeds_of() { [[ $1 == fuzz_ops ]] && echo "$FUZZ_B/seeds/ops" || echo "$FUZZ_B/seeds/segment"; }

# run_one TARGET: runs it, writes "EXECS ok|not ok - ..." to TARGET.MODE.result
run_one() {
    local t=$1 seeds corpus crashes limit bin log start rc ms secs execs artifact line
    seeds=$(seeds_of "$t")
    case $mode in
    long)
        corpus="$FUZZ_B/corpus/$t" crashes="$FUZZ_B/crashes/$t/"
        limit=(-max_total_time="$amount")
        ;;
    smoke)
        corpus="${TEST_TMP:-$(mktemp -d)}/corpus-$t" crashes="${TEST_TMP:-/tmp}/crash-$t-"
        limit=(-runs="$amount" -seed=1)
        ;;
    cov)
        corpus="$FUZZ_B/corpus/$t" crashes="$FUZZ_B/cov/crash-$t-"
        limit=(-runs=0)
        ;;
    esac
    mkdir -p "$corpus" "${crashes%/*}"
    bin="$FUZZ_B/bin/$t"
    [[ $mode == cov ]] && bin="$FUZZ_B/cov/bin/$t"
    log="$FUZZ_B/$t.$mode.log"
    start=$(date +%s%N)
    LLVM_PROFILE_FILE="$FUZZ_B/cov/$t.profraw" \
        "$bin" "${FUZZ_OPTS[@]}" "${limit[@]}" -artifact_prefix="$crashes" "$corpus" "$seeds" \
        >"$log" 2>&1
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    secs=$(printf "%d.%03d" $((ms / 1000)) $((ms % 1000)))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=${execs:-0}
    if ((rc != 0)); then
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        line=$(grep -m3 -E 'ERROR|runtime error|invariant|Timeout|leak' "$log" | sed 's/^/# /')
        line="${line:+$line
}not ok - $t: exit $rc after $execs executions in ${secs}s; reproduce: $bin ${artifact:-(see $log)}"
    else
        line="ok - $t: $execs executions in ${secs}s, $(find "$corpus" -type f | wc -l) corpus files"
    fi
    printf '%s\n%s\n' "$execs" "$line" >"$FUZZ_B/$t.$mode.result"
}

case $mode in
long | smoke | cov) ;;
*)
    echo "run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
if [[ ${FUZZ_PARALLEL:-0} == 1 ]]; then
    for t in "$@"; do run_one "$t" & done
    wait
else
    for t in "$@"; do run_one "$t"; done
fi
total=0 failed=0
for t in "$@"; do
    { read -r execs && cat; } <"$FUZZ_B/$t.$mode.result"
    total=$((total + execs))
    grep -q '^not ok' "$FUZZ_B/$t.$mode.result" && failed=$((failed + 1))
done
echo "# fuzz: $total executions in total"
if [[ $mode == cov ]]; then
    profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
    llvmcov=$(command -v llvm-cov-14 || command -v llvm-cov)
    "$profdata" merge -sparse "$FUZZ_B"/cov/*.profraw -o "$FUZZ_B/cov/merged.profdata" || exit 1
    objs=()
    for t in "$@"; do objs+=(-object "$FUZZ_B/cov/bin/$t"); done
    report=("$llvmcov" report "${objs[@]:1}" -instr-profile="$FUZZ_B/cov/merged.profdata")
    "${report[@]}" common/segment.c common/ring.c common/mempool.c include/ivshm/ring_pvt.h \
        include/ivshm/mempool_pvt.h include/ivshm/ring.h include/ivshm/mempool.h
    # common/segment.c also holds the builder, which creates segments and is
    # not a reader: the readers' share of it, function by function.
    "${report[@]}" -show-functions common/segment.c |
        awk '$1 ~ /^(ivshm_|segment\.c:)/ && $1 !~ /builder|metadata_bytes|zero_bytes|name_valid/ {
                 lines += $5; missed += $6; printf "#   %-28s lines %4d missed %3d\n", $1, $5, $6 }
             END { if (lines) printf "# common/segment.c, validation, lookup and party table: %d of %d lines (%.1f %%)\n", lines - missed, lines, 100 * (lines - missed) / lines }'
fi
((failed == 0))
