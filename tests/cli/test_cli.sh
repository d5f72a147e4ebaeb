#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The ivshm CLI: the acceptance example, limits, and every bad input of
# issue 2 (exit status, exactly one line on stderr, no segment file left).
# Env: IVSHM (the CLI), TEST_TMP (scratch directory, removed by the caller).
set -u
IVSHM=${IVSHM:-build/bin/ivshm}
TEST_TMP=${TEST_TMP:-$(mktemp -d)}
D="$TEST_TMP/segs"
mkdir -p "$D"
unset IVSHM_DIR
fails=0
HUGE_MNT=""

cleanup() {
    if [[ -n $HUGE_MNT ]]; then
        rm -f "$HUGE_MNT"/ivshm-* "$HUGE_MNT"/.ivshm-* 2>/dev/null
        umount "$HUGE_MNT" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM

ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    fails=$((fails + 1))
}

# segment files (published or temporary) in directory $1
seg_files() { find "$1" -maxdepth 1 \( -name 'ivshm-*' -o -name '.ivshm-*' \) | sort; }

# expect_fail DESC STATUS DIR WORD COMMAND...: the command exits with STATUS,
# writes exactly one line to stderr containing WORD (the offending value),
# nothing to stdout, and the set of segment files in DIR is unchanged.
expect_fail() {
    local desc=$1 want=$2 dir=$3 word=$4
    shift 4
    local before after out err rc lines
    before=$(seg_files "$dir")
    out=$("$@" 2>"$TEST_TMP/err")
    rc=$?
    err=$(cat "$TEST_TMP/err")
    lines=$(wc -l <"$TEST_TMP/err")
    after=$(seg_files "$dir")
    if [[ $rc -ne $want ]]; then
        not_ok "$desc: exit $rc, want $want (stderr: $err)"
    elif [[ $lines -ne 1 ]]; then
        not_ok "$desc: $lines lines on stderr, want 1: $err"
    elif [[ $err != *"$word"* ]]; then
        not_ok "$desc: stderr does not name '$word': $err"
    elif [[ -n $out ]]; then
        not_ok "$desc: unexpected stdout: $out"
    elif [[ $before != "$after" ]]; then
        not_ok "$desc: segment files changed: [$before] -> [$after]"
    else
        ok "$desc (exit $rc: $err)"
    fi
}

# ---- acceptance example ----
ACC=(create t1 --size 16M --dir "$D" --ring name=rx,slots=1024 --ring name=tx,slots=1024,mode=mpmc
    --mempool name=pkts,count=4096,size=2048 --memzone name=ctrl,size=4096)
path=$("$IVSHM" "${ACC[@]}" 2>"$TEST_TMP/err")
rc=$?
if [[ $rc -eq 0 && $path == "$D/ivshm-t1" && -f $path && ! -s "$TEST_TMP/err" ]]; then
    ok "create t1 prints $path"
else
    not_ok "create t1: exit $rc, stdout '$path', stderr $(cat "$TEST_TMP/err")"
fi
size=$(stat -c %s "$D/ivshm-t1" 2>/dev/null)
[[ $size == 16777216 ]] && ok "t1 is 16 MiB" || not_ok "t1 size $size, want 16777216"

if "$IVSHM" inspect t1 --dir "$D" --json >"$TEST_TMP/t1.json" &&
    python3 - "$TEST_TMP/t1.json" "$D/ivshm-t1" <<'EOF'; then
import json, sys
j = json.load(open(sys.argv[1]))
assert j["name"] == "t1" and j["path"] == sys.argv[2], j
assert j["size"] == 16 << 20 and j["abi_version"] == 1, j
objs = {o["name"]: o for o in j["objects"]}
assert list(objs) == ["rx", "tx", "pkts", "ctrl"], list(objs)
for o in j["objects"]:
    for k in ("name", "type", "offset", "length"):
        assert k in o, (o, k)
assert objs["rx"]["type"] == "ring" and objs["rx"]["slots"] == 1024 and objs["rx"]["mode"] == "spsc"
assert objs["tx"]["mode"] == "mpmc" and objs["tx"]["in_use"] == 0
assert objs["pkts"]["type"] == "mempool" and objs["pkts"]["count"] == 4096
assert objs["pkts"]["object_size"] == 2048 and objs["pkts"]["free_objects"] == 4096
assert objs["ctrl"]["type"] == "memzone" and objs["ctrl"]["size"] == 4096
assert objs["ctrl"]["align"] == 64
assert j["parties"] == []
EOF
    ok "inspect t1 --json lists rx, tx, pkts, ctrl with their fields"
else
    not_ok "inspect t1 --json: $(head -c 300 "$TEST_TMP/t1.json")"
fi

text=$("$IVSHM" inspect t1 --dir "$D")
if [[ $text == *"abi_version     1"* && $text == *"slots=1024 mode=mpmc in_use=0"* &&
    $text == *"count=4096 size=2048 free=4096"* && $text == *"size=4096 align=64"* ]]; then
    ok "inspect t1 (text) shows header and type fields"
else
    not_ok "inspect t1 text: $text"
fi

qa=$("$IVSHM" qemu-args t1 --dir "$D")
if [[ $qa == *"-object memory-backend-file,id=ivshm-mem-t1,mem-path=$D/ivshm-t1,size=16777216,share=on"* &&
    $qa == *"-device ivshmem-plain,id=ivshm-t1,memdev=ivshm-mem-t1"* && $qa == *"pcie-root-port"* ]]; then
    ok "qemu-args t1"
else
    not_ok "qemu-args t1: $qa"
fi
qa=$("$IVSHM" qemu-args t1 --dir "$D" --machine pc)
[[ $qa != *pcie-root-port* && $qa == *"ivshmem-plain"* ]] && ok "qemu-args --machine pc: no root port" ||
    not_ok "qemu-args --machine pc: $qa"

out=$(IVSHM_DIR="$D" "$IVSHM" list)
[[ $out == *t1*"16 MiB"*"$D/ivshm-t1"* ]] && ok "list (directory from IVSHM_DIR)" || not_ok "list: $out"
out=$("$IVSHM" list --dir "$D" --json)
python3 -c 'import json,sys; l=json.loads(sys.argv[1]); assert [s["name"] for s in l]==["t1"] and l[0]["valid"]' "$out" &&
    ok "list --json" || not_ok "list --json: $out"

# ---- help and version, on every binary and subcommand ----
FWD_BIN=${FWD_BIN:-$(dirname "$IVSHM")/ivshm-fwd}
for cmd in create inspect qemu-args list destroy pktgen reclaim; do
    out=$("$IVSHM" "$cmd" --help 2>&1)
    rc=$?
    [[ $rc -eq 0 && $out == "usage: ivshm $cmd"* ]] && ok "$cmd --help" || not_ok "$cmd --help: exit $rc: $out"
    out=$("$IVSHM" "$cmd" --version 2>&1)
    [[ $? -eq 0 && $out == "ivshm $(cat VERSION) (segment ABI 1)" ]] && ok "$cmd --version" ||
        not_ok "$cmd --version: $out"
done
out=$("$IVSHM" --version)
[[ $out == *"$(cat VERSION)"* ]] && ok "--version says $(cat VERSION)" || not_ok "--version: $out"
out=$("$FWD_BIN" --help 2>&1)
[[ $? -eq 0 && $out == "usage: ivshm-fwd NAME"* ]] && ok "ivshm-fwd --help" || not_ok "ivshm-fwd --help: $out"
out=$("$FWD_BIN" --version 2>&1)
[[ $? -eq 0 && $out == "ivshm-fwd $(cat VERSION) (segment ABI 1)" ]] && ok "ivshm-fwd --version" ||
    not_ok "ivshm-fwd --version: $out"
expect_fail "ivshm-fwd: unknown option" 2 "$D" "--colour" "$FWD_BIN" t1 --colour
expect_fail "ivshm-fwd: --burst out of range" 2 "$D" "--burst '65'" "$FWD_BIN" t1 --burst 65
expect_fail "ivshm-fwd: --mac of no mode" 2 "$D" "mac mode 'kep': not rewrite or keep" "$FWD_BIN" t1 --mac kep
expect_fail "ivshm-fwd: an rx= word without its tx=" 2 "$D" "1 rx= and 0 tx= words" "$FWD_BIN" t1 rx=rx0
expect_fail "ivshm-fwd: pairs and --queues" 2 "$D" "not both" "$FWD_BIN" t1 rx=rx0 tx=tx0 --queues 1
expect_fail "ivshm-fwd: a word of no kind" 2 "$D" "'ry=rx0' (not rx=RING or tx=RING)" "$FWD_BIN" t1 ry=rx0
expect_fail "ivshm-fwd: a bad NAME" 2 "$D" "segment name 'a/b'" "$FWD_BIN" a/b
"$IVSHM" create fx --size 16M --dir "$D" --preset fwd >/dev/null
expect_fail "ivshm-fwd: a ring of another segment" 1 "$D" "segment t2: not attached (only fx is)" \
    "$FWD_BIN" fx rx=t2/rx0 tx=tx0 --dir "$D"
"$IVSHM" destroy fx --dir "$D"
# ivshm-port (built with DPDK): its help, version and usage errors come
# before EAL starts, so they need neither root nor ports.
PORT_BIN=${PORT_BIN:-$(dirname "$IVSHM")/ivshm-port}
if [[ -x $PORT_BIN ]]; then
    out=$("$PORT_BIN" -l 0 --help 2>&1)
    [[ $? -eq 0 && $out == "usage: ivshm-port [EAL options] -- --port"* ]] && ok "ivshm-port --help" ||
        not_ok "ivshm-port --help: $out"
    out=$("$PORT_BIN" -l 0 -- --version 2>&1)
    [[ $? -eq 0 && $out == "ivshm-port $(cat VERSION) (segment ABI 1)" ]] && ok "ivshm-port --version" ||
        not_ok "ivshm-port --version: $out"
    expect_fail "ivshm-port: unknown option" 2 "$D" "unknown option '--colour' (see ivshm-port --help)" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --colour
    expect_fail "ivshm-port: --burst out of range" 2 "$D" "--burst '65'" "$PORT_BIN" -l 0 -- --port 0=t1:0 --burst=65
    expect_fail "ivshm-port: no --port" 2 "$D" "at least one --port" "$PORT_BIN" -l 0 --
    expect_fail "ivshm-port: no '--'" 2 "$D" "then '--'" "$PORT_BIN" -l 0 --port 0=t1:0
    expect_fail "ivshm-port: a bad --pool" 2 "$D" "--pool 'pkts': expected SEG/NAME" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --pool pkts
    expect_fail "ivshm-port: --mode of no mode" 2 "$D" "--mode 'sleepy': must be poll or adaptive" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --mode sleepy
    expect_fail "ivshm-port: --sleep-us out of range" 2 "$D" "--sleep-us '0'" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --sleep-us 0
    expect_fail "ivshm-port: --socket of a segment without a ring" 2 "$D" \
        "--socket t2=/tmp/x.sock: no ring of a --port is in t2" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --socket t2=/tmp/x.sock
    expect_fail "ivshm-port: --socket PATH for several segments" 2 "$D" "give SEG=PATH" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --port 1=t2:0 --socket /tmp/x.sock
    expect_fail "ivshm-port: two sockets for one segment" 2 "$D" "two sockets for t1" \
        "$PORT_BIN" -l 0 -- --port 0=t1:0 --socket /tmp/x.sock --socket t1=/tmp/y.sock
else
    echo "ok - ivshm-port's command line # SKIP not built (no DPDK)"
fi
expect_fail "pktgen: --count and --duration" 2 "$D" "not both" "$IVSHM" pktgen t1 --count 5 --duration 1
expect_fail "pktgen: --size out of range" 2 "$D" "--size '63'" "$IVSHM" pktgen t1 --size 63
expect_fail "reclaim: an option of pktgen" 2 "$D" "--keep" "$IVSHM" reclaim t1 --keep

# ---- limits: 1024 objects, 31-byte names ----
args=()
for i in $(seq 0 1023); do
    args+=(--ring "name=ring$i,slots=4")
done
if "$IVSHM" create many --size 2M --dir "$D" "${args[@]}" >/dev/null &&
    n=$("$IVSHM" inspect many --dir "$D" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["objects"]))') &&
    [[ $n == 1024 ]]; then
    ok "1024 objects in one segment"
else
    not_ok "1024 objects: got ${n:-none}"
fi
n31=abcdefghijklmnopqrstuvwxyz01234
n32=${n31}5
if "$IVSHM" create "$n31" --size 64K --dir "$D" --ring "name=$n31,slots=8" --mempool "name=${n31:1}X,count=2,size=64" >/dev/null &&
    "$IVSHM" inspect "$n31" --dir "$D" --json | python3 -c "import json,sys; j=json.load(sys.stdin); assert j['name']=='$n31' and j['objects'][0]['name']=='$n31'"; then
    ok "31-byte segment and object names"
else
    not_ok "31-byte names"
fi
"$IVSHM" destroy "$n31" many --dir "$D" && [[ ! -e $D/ivshm-$n31 && ! -e $D/ivshm-many ]] &&
    ok "destroy two segments" || not_ok "destroy two segments"

# ---- bad input ----
B=(--size 1M --dir "$D")
expect_fail "slots not a power of two" 2 "$D" "slots=1000" "$IVSHM" create bad "${B[@]}" --ring name=r,slots=1000
expect_fail "slots 0" 2 "$D" "slots=0" "$IVSHM" create bad "${B[@]}" --ring name=r,slots=0
expect_fail "duplicate object name" 2 "$D" "'dup'" "$IVSHM" create bad "${B[@]}" --ring name=dup,slots=8 --memzone name=dup,size=64
expect_fail "object name of 32 bytes" 2 "$D" "$n32" "$IVSHM" create bad "${B[@]}" --ring "name=$n32,slots=8"
expect_fail "object name with a bad character" 2 "$D" "a.b" "$IVSHM" create bad "${B[@]}" --memzone name=a.b,size=64
expect_fail "segment name of 32 bytes" 2 "$D" "$n32" "$IVSHM" create "$n32" "${B[@]}"
expect_fail "segment name with a bad character" 2 "$D" "x/y" "$IVSHM" create x/y "${B[@]}"
expect_fail "objects do not fit in SIZE" 2 "$D" "'big'" "$IVSHM" create bad --size 64K --dir "$D" --memzone name=big,size=1M
expect_fail "mempool does not fit" 2 "$D" "'p'" "$IVSHM" create bad --size 1M --dir "$D" --mempool name=p,count=4096,size=2048
expect_fail "unknown option" 2 "$D" "--colour" "$IVSHM" create bad "${B[@]}" --colour
expect_fail "unknown key" 2 "$D" "'prio'" "$IVSHM" create bad "${B[@]}" --ring name=r,slots=8,prio=1
expect_fail "missing key" 2 "$D" "'slots'" "$IVSHM" create bad "${B[@]}" --ring name=r
expect_fail "bad mode" 2 "$D" "'fifo'" "$IVSHM" create bad "${B[@]}" --ring name=r,slots=8,mode=fifo
expect_fail "mempool cache above 512" 2 "$D" "cache" "$IVSHM" create bad "${B[@]}" --mempool name=p,count=8,size=64,cache=513
expect_fail "SIZE that does not parse (12Q)" 2 "$D" "12Q" "$IVSHM" create bad --size 12Q --dir "$D"
expect_fail "SIZE that does not parse (abc)" 2 "$D" "abc" "$IVSHM" create bad --size abc --dir "$D"
expect_fail "SIZE negative" 2 "$D" "-1M" "$IVSHM" create bad --size -1M --dir "$D"
expect_fail "SIZE overflows" 2 "$D" "99999999999G" "$IVSHM" create bad --size 99999999999G --dir "$D"
expect_fail "SIZE missing" 2 "$D" "--size" "$IVSHM" create bad --dir "$D"
expect_fail "DIR does not exist" 1 "$D" "$TEST_TMP/nope" "$IVSHM" create bad --size 1M --dir "$TEST_TMP/nope"
mkdir -p "$TEST_TMP/ro"
chmod 0555 "$TEST_TMP/ro"
if [[ $(id -u) -eq 0 ]]; then
    # root writes anywhere: check as nobody
    chmod 0755 "$TEST_TMP"
    expect_fail "DIR not writable" 1 "$TEST_TMP/ro" "$TEST_TMP/ro" \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$IVSHM" create bad --size 1M --dir "$TEST_TMP/ro"
else
    expect_fail "DIR not writable" 1 "$TEST_TMP/ro" "$TEST_TMP/ro" "$IVSHM" create bad --size 1M --dir "$TEST_TMP/ro"
fi
expect_fail "NAME exists" 1 "$D" "t1" "$IVSHM" create t1 "${B[@]}"
max_node=$(ls -d /sys/devices/system/node/node* 2>/dev/null | sed 's/.*node//' | sort -n | tail -1)
expect_fail "--node not a node" 1 "$D" "NUMA node $((${max_node:-0} + 1))" "$IVSHM" create bad "${B[@]}" --node $((${max_node:-0} + 1))
expect_fail "--node not a number" 2 "$D" "zero" "$IVSHM" create bad "${B[@]}" --node zero
expect_fail "unknown command" 2 "$D" "frobnicate" "$IVSHM" frobnicate

# not an ivshm segment: refused by inspect, qemu-args, destroy; never deleted
head -c 65536 /dev/urandom >"$D/ivshm-junk"
printf 'tiny' >"$D/ivshm-tiny"
sum=$(md5sum <"$D/ivshm-junk")
for f in junk tiny; do
    expect_fail "inspect of a non-segment ($f)" 1 "$D" "not an ivshm segment" "$IVSHM" inspect "$f" --dir "$D"
    expect_fail "qemu-args of a non-segment ($f)" 1 "$D" "not an ivshm segment" "$IVSHM" qemu-args t1 "$f" --dir "$D"
    expect_fail "destroy of a non-segment ($f)" 1 "$D" "not an ivshm segment" "$IVSHM" destroy "$f" --dir "$D"
done
[[ -f $D/ivshm-junk && $(md5sum <"$D/ivshm-junk") == "$sum" && -f $D/ivshm-tiny ]] &&
    ok "non-segments left untouched" || not_ok "non-segment files were modified or deleted"
out=$("$IVSHM" list --dir "$D")
[[ $out == *junk*"not an ivshm segment"* && $out == *t1* ]] && ok "list marks the non-segment" || not_ok "list: $out"
expect_fail "inspect of a missing segment" 1 "$D" "ghost" "$IVSHM" inspect ghost --dir "$D"
expect_fail "destroy of a missing segment" 1 "$D" "ghost" "$IVSHM" destroy ghost --dir "$D"
rm -f "$D/ivshm-junk" "$D/ivshm-tiny"

# not enough free hugepages: needs a hugetlbfs mount (one we mount, as root,
# for a moment)
if [[ $(id -u) -eq 0 ]] && mkdir -p "$TEST_TMP/huge" && mount -t hugetlbfs none "$TEST_TMP/huge" 2>/dev/null; then
    HUGE_MNT="$TEST_TMP/huge"
    free=$(($(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages) - $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages)))
    # a power of two of 2 MiB pages above what is free
    want=1
    while ((want <= free)); do want=$((want * 2)); done
    expect_fail "not enough free hugepages ($free free, $want needed)" 1 "$HUGE_MNT" "only $free free" \
        "$IVSHM" create huge --size $((want * 2))M --dir "$HUGE_MNT"
    if ((free >= 8)); then
        p=$("$IVSHM" create hp --size 16M --dir "$HUGE_MNT" --ring name=rx,slots=1024 2>"$TEST_TMP/err")
        ps=$("$IVSHM" inspect hp --dir "$HUGE_MNT" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["page_size"])')
        [[ -n $p && $ps == 2097152 ]] && ok "create on hugetlbfs: page_size 2 MiB" || not_ok "create on hugetlbfs: $p $ps $(cat "$TEST_TMP/err")"
        "$IVSHM" destroy hp --dir "$HUGE_MNT"
        p=$("$IVSHM" create hp2 --size 1K --dir "$HUGE_MNT" 2>/dev/null)
        s=$(stat -c %s "$p" 2>/dev/null)
        [[ $s == 2097152 ]] && ok "1K rounds up to one 2 MiB hugepage" || not_ok "1K on hugetlbfs: size $s"
        "$IVSHM" destroy hp2 --dir "$HUGE_MNT"
    else
        echo "ok - create on hugetlbfs # SKIP only $free free hugepages"
    fi
    # unmount at once: while mounted, this is a hugetlbfs mount other
    # processes on the machine could pick as their default directory
    cleanup
    HUGE_MNT=""
else
    echo "ok - not enough free hugepages # SKIP cannot mount hugetlbfs (not root)"
fi

# reclaim works on any mempool (--pool, default pkts)
"$IVSHM" create rc --size 16M --dir "$D" --preset fwd --mempool name=bufs,count=64,size=256 >/dev/null
out=$("$IVSHM" reclaim rc --dir "$D" 2>&1)
[[ $out == "reclaim: 0 buffers returned to rc/pkts, 3072 free" ]] && ok "reclaim: pool pkts by default" ||
    not_ok "reclaim: $out"
out=$("$IVSHM" reclaim rc --pool bufs --dir "$D" 2>&1)
[[ $out == "reclaim: 0 buffers returned to rc/bufs, 64 free" ]] && ok "reclaim --pool bufs" ||
    not_ok "reclaim --pool bufs: $out"
expect_fail "reclaim --pool of no such pool" 1 "$D" "rc/nope" "$IVSHM" reclaim rc --pool nope --dir "$D"
"$IVSHM" destroy rc --dir "$D"

# size rounding on 4 KiB pages
p=$("$IVSHM" create odd --size 5000 --dir "$D")
s=$(stat -c %s "$p" 2>/dev/null)
[[ $s == 8192 ]] && ok "--size 5000 rounds up to 8192" || not_ok "--size 5000 gave $s"
p=$("$IVSHM" create odd2 --size 0x3000 --dir "$D")
s=$(stat -c %s "$p" 2>/dev/null)
[[ $s == 16384 ]] && ok "--size 0x3000 rounds up to 16384" || not_ok "--size 0x3000 gave $s"
"$IVSHM" destroy odd odd2 t1 --dir "$D"
left=$(seg_files "$D")
[[ -z $left ]] && ok "no segment file left" || not_ok "left behind: $left"

((fails == 0))
