# SPDX-License-Identifier: BSD-3-Clause
"""Helpers of the hostile-peer tests (tests/hostile/test_f*.py, run_scribble.py).

They drive the CLI and the binaries only: a segment's layout comes from
`ivshm inspect --json` and docs/abi.md, and shared memory is written through
a mmap of the segment file (or by the scribbler), never through the library.

Env: BUILD (default build), IVSHM (the CLI), TEST_TMP (scratch directory),
IVSHM_BIN_DIR (where ivshm and ivshm-fwd are; default BUILD/bin: the runner
points it at an ASan build, and then IVSHM is ignored).
"""
import json
import mmap
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
BIN = os.environ.get("IVSHM_BIN_DIR", os.path.join(BUILD, "bin"))
# IVSHM (set by tests/harness) names the CLI unless IVSHM_BIN_DIR picks a build.
IVSHM = os.path.join(BIN, "ivshm") if "IVSHM_BIN_DIR" in os.environ else \
    os.environ.get("IVSHM") or os.path.join(BIN, "ivshm")
FWD = os.path.join(BIN, "ivshm-fwd")
TOOLS = os.path.join(BUILD, "tests", "hostile")
TMP = os.environ.get("TEST_TMP") or tempfile.mkdtemp(prefix="ivshm-hostile-")
SEG_DIR = os.path.join(TMP, "segs")
os.makedirs(SEG_DIR, exist_ok=True)
ENV = dict(os.environ, IVSHM_DIR=SEG_DIR)
# Two CPUs or more: the forwarder on CPU 1, pktgen on CPU 0 (as tests/fwd).
PIN = (os.cpu_count() or 1) >= 2
FWD_CPU = ["--cpu", "1"] if PIN else []
PKTGEN_CPU = ["--cpu", "0"] if PIN else []

# Offsets from docs/abi.md.
RING_PROD_HEAD, RING_PROD_TAIL, RING_CONS_HEAD, RING_CONS_TAIL = 0, 4, 128, 132
PARTY_OFFSET, PARTY_SIZE = 256, 64
CTRL_STATE, CTRL_QUEUES, CTRL_HEARTBEAT, CTRL_REASON, CTRL_Q = 0, 4, 8, 24, 64
CTRL_Q_SIZE, CTRL_Q_SOURCE = 64, 32  # a queue's line; its source word (party + 1, attach)
FWD_READY, FWD_FWD, FWD_EXIT, FWD_DONE, FWD_FAIL = 1, 2, 3, 4, 5
SANITIZER = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")

failures = 0
_procs = []


def ok(msg):
    print(f"ok - {msg}", flush=True)


def not_ok(msg):
    global failures
    failures += 1
    print(f"not ok - {msg}", flush=True)


def check(cond, msg, why=""):
    (ok if cond else not_ok)(msg if cond or not why else f"{msg}: {why}")
    return cond


def note(msg):
    print(f"# {msg}", flush=True)


def finish():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.exit(1 if failures else 0)


def run(args, timeout=20, env=None):
    """Runs to the end or the timeout; returns (status, stdout, stderr), status
    'timeout' when it had to be killed."""
    try:
        p = subprocess.run(args, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, errors="replace", timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr or ""
        return "timeout", out, err


def ivshm(*args, timeout=20):
    return run([IVSHM, *args], timeout=timeout)


def start(args, **kw):
    """Starts a background process (killed by finish()); stdout and stderr
    go to files in TMP, read with output(p)."""
    tag = os.path.basename(args[0]) + f"-{len(_procs)}"
    out = open(os.path.join(TMP, tag + ".out"), "w+")
    err = open(os.path.join(TMP, tag + ".err"), "w+")
    p = subprocess.Popen(args, env=kw.get("env", ENV), stdout=out, stderr=err,
                         stdin=subprocess.DEVNULL)
    p.out_file, p.err_file = out, err
    _procs.append(p)
    return p


def output(p):
    p.out_file.flush()
    p.err_file.flush()
    return (open(p.out_file.name, errors="replace").read(),
            open(p.err_file.name, errors="replace").read())


def wait(p, timeout):
    """Exit status, or 'timeout' (then the process is killed)."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "timeout"


def describe(status):
    if status == "timeout":
        return "did not end (killed)"
    if isinstance(status, int) and status < 0:
        return f"killed by signal {-status} ({signal.Signals(-status).name})"
    return f"exit {status}"


def create(name, *args, size="8M", preset="fwd"):
    """Creates a segment to test on."""
    ivshm("destroy", name, "--force")
    extra = list(args) or ["--preset", preset]
    status, out, err = run([IVSHM, "create", name, "--size", size, *extra])
    if status != 0:
        raise RuntimeError(f"ivshm create {name}: {err.strip()}")
    return out.strip()


def path_of(name):
    return os.path.join(SEG_DIR, f"ivshm-{name}")


def inspect(name):
    status, out, err = ivshm("inspect", name, "--json")
    if status != 0:
        raise RuntimeError(f"ivshm inspect {name}: {err.strip()}")
    return json.loads(out)


def objects(name):
    return {o["name"]: o for o in inspect(name)["objects"]}


def pool_layout(obj):
    """Free ring slots, state bytes offset and objects offset of a mempool
    (docs/abi.md 3.2), relative to the object."""
    slots = 1
    while slots < obj["count"]:
        slots *= 2
    state_off = 256 + 8 * slots
    objs_off = (state_off + obj["count"] + 63) // 64 * 64
    stride = (obj["object_size"] + 63) // 64 * 64
    return {"ring_slots": slots, "state_off": state_off, "objs_off": objs_off, "stride": stride}


class Segment:
    """The segment file mapped shared, for a peer's reads and writes."""

    def __init__(self, name):
        self.fd = os.open(path_of(name), os.O_RDWR)
        self.map = mmap.mmap(self.fd, os.fstat(self.fd).st_size)

    def u32(self, off, value=None):
        if value is not None:
            struct.pack_into("<I", self.map, off, value & 0xffffffff)
        return struct.unpack_from("<I", self.map, off)[0]

    def u64(self, off, value=None):
        if value is not None:
            struct.pack_into("<Q", self.map, off, value & 0xffffffffffffffff)
        return struct.unpack_from("<Q", self.map, off)[0]

    def write(self, off, data):
        self.map[off:off + len(data)] = data

    def close(self):
        self.map.close()
        os.close(self.fd)


def start_fwd(name, *extra):
    return start([FWD, *FWD_CPU, *extra, name])


def wait_ready(name, seconds=10):
    """Waits for ctrl READY or FWD; returns whether it came."""
    ctrl = objects(name)["ctrl"]["offset"]
    seg = Segment(name)
    try:
        end = time.time() + seconds
        while time.time() < end:
            if seg.u32(ctrl + CTRL_STATE) in (FWD_READY, FWD_FWD):
                return True
            time.sleep(0.02)
        return False
    finally:
        seg.close()


def pktgen(name, *args, timeout=30):
    """Runs pktgen --json; returns (status, summary dict or None, stderr)."""
    status, out, err = run([IVSHM, "pktgen", name, "--json", *PKTGEN_CPU, *args],
                           timeout=timeout)
    summary = None
    for line in reversed(out.strip().splitlines()):
        try:
            summary = json.loads(line)
            break
        except ValueError:
            continue
    return status, summary, err


def one_line_error(err):
    """What is wrong with a failing command's stderr, or None: exactly one
    line, printable, no sanitizer report."""
    lines = err.rstrip("\n").split("\n") if err.strip() else []
    if SANITIZER.search(err):
        return "sanitizer report: " + err.strip().splitlines()[0][:200]
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {err.strip()[:300]!r}"
    if "%" in lines[0] and re.search(r"%[-0-9.]*[a-z]", lines[0]):
        return f"a raw format string: {lines[0]!r}"
    return None


def live_pid():
    """A process that stays alive (a sleeper), and its start time (field 22
    of /proc/PID/stat)."""
    p = start(["sleep", "300"])
    stat = open(f"/proc/{p.pid}/stat").read()
    start_time = int(stat[stat.rindex(")") + 2:].split()[19])
    return p, start_time
