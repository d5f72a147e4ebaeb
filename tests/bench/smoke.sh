#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Smoke test of the benchmark (run by `make test-bench-smoke` through
# tests/harness): it runs, writes valid JSON with every row, and rejects bad
# options with a one-line error. Times nothing.
set -u
BUILD=${BUILD:-build}
TEST_TMP=${TEST_TMP:-$(mktemp -d)}
bin="$BUILD/bench/ivshm-bench"
out="$TEST_TMP/results.json"

if "$bin" --smoke --out "$out" >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"; then
    echo "ok - ivshm-bench --smoke runs"
else
    echo "not ok - ivshm-bench --smoke failed: $(tail -n 3 "$TEST_TMP/stderr")"
fi

if python3 - "$out" <<'PY'; then
import json, math, sys
rows = json.load(open(sys.argv[1]))
want = [f"ring/{m}/{o}/{c}" for m in ("spsc", "mpmc")
        for o in ("single", "bulk8", "burst8", "bulk32", "burst32", "bulk128", "burst128")
        for c in ("1core", "2core")]
want += [f"mempool/{k}/bulk{b}/{c}" for k in ("cache", "nocache") for b in (1, 8, 32)
         for c in ("1core", "2core")]
want += ["pipeline/fwd64", "port/null64/copy", "port/null64/zerocopy"]
names = [r["name"] for r in rows]
missing = sorted(set(want) - set(names))
assert not missing, f"missing rows: {missing}"
assert len(names) == len(set(names)), "duplicate rows"
for r in rows:
    assert set(r) == {"name", "ivshm", "dpdk", "unit", "ratio"}, f"{r['name']}: keys {sorted(r)}"
    for k in ("ivshm", "dpdk", "ratio"):
        assert isinstance(r[k], (int, float)) and math.isfinite(r[k]) and r[k] > 0, \
            f"{r['name']}: {k} = {r[k]!r} is not a positive number"
    assert r["unit"] in ("cycles/elem", "cycles/obj", "Mpps"), f"{r['name']}: unit {r['unit']}"
PY
    echo "ok - results JSON is valid and has all $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out") rows"
else
    echo "not ok - results JSON is missing, invalid or incomplete"
fi

if ! "$bin" --reps 0 >/dev/null 2>"$TEST_TMP/err" && grep -q "reps '0'" "$TEST_TMP/err" &&
    [ "$(wc -l <"$TEST_TMP/err")" -eq 1 ]; then
    echo "ok - --reps 0 is refused with a one-line error"
else
    echo "not ok - --reps 0 not refused clearly: $(cat "$TEST_TMP/err")"
fi

if ! "$bin" --filter no-such-row --smoke --out "$TEST_TMP/none.json" >/dev/null 2>&1 &&
    [ ! -e "$TEST_TMP/none.json" ] && [ ! -e "$TEST_TMP/none.json.tmp" ]; then
    echo "ok - a filter matching nothing fails and leaves no results file"
else
    echo "not ok - a filter matching nothing did not fail cleanly"
fi
