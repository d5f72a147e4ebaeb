#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Stock QEMU (q35, TCG, SeaBIOS, nothing to boot) started with
# $(ivshm qemu-args ...): 1 segment of 16 MiB, then 32 segments of 2 MiB.
# Through the monitor's `info pci`, every ivshmem device (1af4:1110) must be
# there with a BAR2 of its segment's size, assigned by the firmware.
# Env: IVSHM (the CLI), TEST_TMP (scratch directory).
set -u
IVSHM=${IVSHM:-build/bin/ivshm}
TEST_TMP=${TEST_TMP:-$(mktemp -d)}
QEMU=${QEMU:-qemu-system-x86_64}
# IVSHM_TEST_DIR: run against another directory (e.g. a hugetlbfs mount)
D=${IVSHM_TEST_DIR:-$TEST_TMP/segs}
mkdir -p "$D"
fails=0
QEMU_PID=""

cleanup() {
    if [[ -n $QEMU_PID ]]; then
        kill "$QEMU_PID" 2>/dev/null
        wait "$QEMU_PID" 2>/dev/null
    fi
    rm -f "$D"/ivshm-* "$D"/.ivshm-*
}
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM

ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    fails=$((fails + 1))
}

if ! command -v "$QEMU" >/dev/null; then
    not_ok "$QEMU not found"
    exit 1
fi

# run_vm LABEL NAME=SIZE...: create the segments, start QEMU with their
# arguments, check `info pci`, stop QEMU, destroy the segments.
run_vm() {
    local label=$1
    shift
    local names=() spec name size
    for spec in "$@"; do
        name=${spec%%=*}
        size=${spec#*=}
        if ! "$IVSHM" create "$name" --size "$size" --dir "$D" --memzone "name=z,size=4096" >/dev/null 2>"$TEST_TMP/err"; then
            not_ok "$label: create $name: $(cat "$TEST_TMP/err")"
            return
        fi
        names+=("$name")
    done
    local args
    if ! args=$("$IVSHM" qemu-args --dir "$D" "${names[@]}" 2>"$TEST_TMP/err"); then
        not_ok "$label: qemu-args: $(cat "$TEST_TMP/err")"
        return
    fi
    local mon="$TEST_TMP/mon-$label.sock" log="$TEST_TMP/qemu-$label.log"
    rm -f "$mon"
    # shellcheck disable=SC2086 # word splitting of $args is the point
    timeout -k 5 120 "$QEMU" -machine q35 -m 64M -nographic -nic none \
        -monitor "unix:$mon,server,nowait" $args </dev/null >"$log" 2>&1 &
    QEMU_PID=$!
    local expect=()
    for spec in "$@"; do
        name=${spec%%=*}
        size=$(stat -c %s "$D/ivshm-$name")
        expect+=("ivshm-$name=$size")
    done
    python3 - "$mon" "$label" "${expect[@]}" <<'EOF'
import re, socket, sys, time

mon, label, expected = sys.argv[1], sys.argv[2], dict(a.split("=") for a in sys.argv[3:])
expected = {k: int(v) for k, v in expected.items()}

def connect(deadline):
    while time.time() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(mon)
            return s
        except OSError:
            time.sleep(0.1)
    return None

def command(s, cmd):
    s.sendall(cmd.encode() + b"\n")
    buf = b""
    end = time.time() + 20
    while time.time() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
        # the reply ends with the next prompt
        if buf.rstrip().endswith(b"(qemu)") and len(buf) > len(cmd) + 10:
            break
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", buf.decode(errors="replace"))

def ivshmem_devices(text):
    """id -> (BAR2 start, BAR2 size) of each 1af4:1110 function."""
    found = {}
    for block in re.split(r"\n\s*Bus\s+", text):
        if "1af4:1110" not in block:
            continue
        ident = re.search(r'id "([^"]*)"', block)
        bar = re.search(r"BAR2: 64 bit prefetchable memory at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]", block)
        if ident:
            found[ident.group(1)] = (int(bar.group(1), 16), int(bar.group(2), 16) - int(bar.group(1), 16) + 1) if bar else None
    return found

s = connect(time.time() + 30)
if s is None:
    print(f"not ok - {label}: no monitor at {mon}")
    sys.exit(1)
s.settimeout(1)
command(s, "")  # banner and first prompt
deadline = time.time() + 60
while True:
    devs = ivshmem_devices(command(s, "info pci"))
    # SeaBIOS has run once every BAR2 has an address (unassigned: all ones)
    done = all(devs.get(k) and devs[k][0] not in (0, 0xffffffffffffffff) for k in expected)
    if done or time.time() > deadline:
        break
    time.sleep(0.5)
bad = 0
for k, size in expected.items():
    d = devs.get(k)
    if d and d[1] == size and d[0] not in (0, 0xffffffffffffffff):
        print(f"ok - {label}: {k} is 1af4:1110 with BAR2 of {size} bytes at {d[0]:#x}")
    else:
        print(f"not ok - {label}: {k}: want BAR2 of {size} bytes, got {d}")
        bad += 1
extra = set(devs) - set(expected)
if extra:
    print(f"not ok - {label}: unexpected ivshmem devices {sorted(extra)}")
    bad += 1
try:
    command(s, "quit")
except OSError:
    pass
sys.exit(1 if bad else 0)
EOF
    local rc=$?
    ((rc == 0)) || fails=$((fails + 1))
    kill "$QEMU_PID" 2>/dev/null
    wait "$QEMU_PID" 2>/dev/null
    QEMU_PID=""
    if ((rc != 0)); then
        echo "# QEMU log ($log):"
        sed 's/^/#   /' "$log" | head -20
    fi
    "$IVSHM" destroy --dir "$D" "${names[@]}" || not_ok "$label: destroy"
}

start=$(date +%s.%N)
run_vm one t1=16M
echo "# 1 segment: $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s"

specs=()
for i in $(seq 0 31); do
    specs+=("seg$i=2M")
done
start=$(date +%s.%N)
run_vm thirty-two "${specs[@]}"
echo "# 32 segments: $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s"

left=$(find "$D" -maxdepth 1 -name '*ivshm-*')
[[ -z $left ]] && ok "segments cleaned up" || not_ok "left behind: $left"
((fails == 0))
