#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A fourth object type added through the object-type table alone: the CLI
# linked with tests/object_type/counters.c (and nothing else changed) creates,
# inspects (text and JSON) and validates segments holding "counters" objects;
# the plain CLI, without that row, refuses them as an unknown type.
# Env: BUILD, TEST_TMP (from tests/harness).
set -u
BUILD=${BUILD:-build}
TEST_TMP=${TEST_TMP:-$(mktemp -d)}
PLAIN=${IVSHM:-$BUILD/bin/ivshm}
CTR=$BUILD/tests/cli/ivshm-counters
D="$TEST_TMP/counters"
mkdir -p "$D"
unset IVSHM_DIR
fails=0
ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    fails=$((fails + 1))
}

help=$("$CTR" create --help)
[[ $help == *"--counters name=C,count=N"* ]] && ok "create --help lists --counters from its row" ||
    not_ok "create --help: $help"

if path=$("$CTR" create c1 --size 64K --dir "$D" --ring name=r,slots=8 --counters name=hits,count=16 2>&1); then
    ok "create with --counters: $path"
else
    not_ok "create with --counters: $path"
fi

text=$("$CTR" inspect c1 --dir "$D" 2>&1)
[[ $text == *"hits"*"counters"*"count=16 sum=0"* ]] && ok "inspect (text) describes the counters" ||
    not_ok "inspect text: $text"

"$CTR" inspect c1 --dir "$D" --json >"$TEST_TMP/c1.json" 2>&1
if python3 - "$TEST_TMP/c1.json" <<'PY'; then
import json, sys
j = json.load(open(sys.argv[1]))
o = {x["name"]: x for x in j["objects"]}
assert o["hits"]["type"] == "counters" and o["hits"]["count"] == 16 and o["hits"]["sum"] == 0, o
assert o["hits"]["length"] == 128 and o["hits"]["offset"] % 64 == 0, o
assert o["r"]["type"] == "ring", o
PY
    ok "inspect --json describes the counters"
else
    not_ok "inspect --json: $(cat "$TEST_TMP/c1.json")"
fi

out=$("$CTR" create c2 --size 64K --dir "$D" --counters name=x,count=0 2>&1)
rc=$?
[[ $rc == 2 && $out == *"counters 'x': count=0"* ]] && ok "the row's argument check: exit 2, $out" ||
    not_ok "count=0: exit $rc: $out"
out=$("$CTR" create c2 --size 64K --dir "$D" --counters name=x 2>&1)
rc=$?
[[ $rc == 2 && $out == *"missing key 'count'"* ]] && ok "the row's keys: exit 2, $out" ||
    not_ok "missing count: exit $rc: $out"

out=$("$PLAIN" inspect c1 --dir "$D" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"unknown type 32343"* ]] && ok "the CLI without the row refuses the segment: $out" ||
    not_ok "plain inspect: exit $rc: $out"

# Damage the entry (count 17 for 128 bytes) and reseal the checksum: the
# row's own validation must refuse it.
python3 - "$D/ivshm-c1" <<'PY'
import struct, sys

def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

with open(sys.argv[1], "r+b") as f:
    hdr = bytearray(f.read(256))
    count, = struct.unpack_from("<I", hdr, 52)
    dir_off, = struct.unpack_from("<Q", hdr, 64)
    f.seek(dir_off)
    d = bytearray(f.read(64 * count))
    for i in range(count):
        if struct.unpack_from("<I", d, 64 * i + 32)[0] == 0x7E57:
            struct.pack_into("<I", d, 64 * i + 56, 17)
    struct.pack_into("<I", hdr, 48, 0)
    struct.pack_into("<I", hdr, 48, crc32c(bytes(hdr) + bytes(d)))
    f.seek(0)
    f.write(hdr)
    f.seek(dir_off)
    f.write(d)
PY
out=$("$CTR" inspect c1 --dir "$D" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"counters 'hits': length 128 does not match 17 counters"* ]] &&
    ok "the row's validation refuses a damaged entry: $out" || not_ok "damaged: exit $rc: $out"

"$PLAIN" destroy c1 --dir "$D" && [[ -z $(ls "$D") ]] && ok "destroyed" || not_ok "destroy left $(ls "$D")"
((fails == 0))
