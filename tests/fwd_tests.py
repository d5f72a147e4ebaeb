# SPDX-License-Identifier: BSD-3-Clause
"""What the forwarding test programs (tests/fwd, tests/port) share: the
programs under test, a scratch segment directory, running `ivshm`, fwd
segments and their pool, the forwarder in QEMU or as ivshm-fwd, and the case
loop that cleans up after every case.

    sys.path.insert(0, <the tests directory>); import fwd_tests
"""
import json
import os
import subprocess
import sys
import tempfile

import guest_qemu

BUILD = os.environ.get("BUILD", "build")
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
FWD_HOST = os.path.join(BUILD, "bin", "ivshm-fwd")
GUEST = os.path.join(BUILD, "guest")
FWD_ELF = os.path.join(GUEST, "fwd.elf")
TMP = os.environ.get("TEST_TMP") or tempfile.mkdtemp(prefix="ivshm-fwd-")
SEG_DIR = os.path.join(TMP, "segments")
os.makedirs(SEG_DIR, exist_ok=True)
ENV = dict(os.environ, IVSHM_DIR=SEG_DIR)
# Pollers on both sides: with two CPUs or more, the forwarder (QEMU or
# ivshm-fwd) runs on CPU 1 and the host side on CPU 0, else the scheduler
# may stack them.
PIN = (os.cpu_count() or 1) >= 2
FWD_CPU = ["taskset", "-c", "1"] if PIN else []

# Undone after each case, last first (run_cases).
cleanups = []


def run(*args, check=True, timeout=60):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=ENV, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip()}")
    return proc


def ivshm(*args, check=True):
    return run(IVSHM, *args, check=check)


def create(name, *objects, queues=1, size="16M"):
    """A fresh segment `name`, destroyed at clean-up: preset fwd with `queues`
    pairs, or the given object options instead."""
    ivshm("destroy", name, "--force", check=False)
    ivshm("create", name, "--size", size,
          *(objects or ("--preset", f"fwd,queues={queues}" if queues > 1 else "fwd")))
    cleanups.append(lambda: ivshm("destroy", name, "--force", check=False))


def inspect_object(name, obj):
    """(segment, object) as `ivshm inspect --json` shows them."""
    info = json.loads(ivshm("inspect", name, "--json").stdout)
    return info, next(o for o in info["objects"] if o["name"] == obj)


def pool_state(name):
    """(free, count) of the segment's pool pkts."""
    pool = inspect_object(name, "pkts")[1]
    return pool["free_objects"], pool["count"]


def pool_problem(name):
    free, count = pool_state(name)
    return None if free == count else f"{name}/pkts: {free} of {count} buffers free after the stop"


def tail(path, lines=6):
    try:
        return " | ".join(open(path, errors="replace").read().replace("\r", "")
                          .strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_vm(image, segments, cmdline="", uefi=False, tag="vm", doorbell=False):
    """Starts QEMU with the forwarder image in the background, the segments
    attached (as ivshmem-doorbell devices with `doorbell`: a server must run
    for them); returns (Popen, log path)."""
    args = FWD_CPU + guest_qemu.guest_args(image, uefi, TMP, cmdline)
    args += ivshm("qemu-args", *(["--doorbell"] if doorbell else []), *segments).stdout.split()
    log = os.path.join(TMP, f"{tag}.log")
    proc = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    cleanups.append(lambda: proc.poll() is None and proc.kill())
    return proc, log


def wait_vm(proc, log, seconds=60):
    """None when the VM exited with guest code 0 (QEMU status 1, isa-debug-exit:
    (code << 1) | 1) after 'fwd: done'; else what went wrong."""
    try:
        status = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        return f"VM did not exit after EXIT; log: {tail(log)}"
    if status != 1 or "fwd: done" not in open(log, errors="replace").read():
        return f"VM exit status {status}, log: {tail(log)}"
    return None


def start_fwd(seg, *args, stderr=subprocess.PIPE):
    """ivshm-fwd on segment `seg` (pinned to CPU 1 when there are two) in the
    background."""
    proc = subprocess.Popen([FWD_HOST, seg, *args] + (["--cpu", "1"] if PIN else []), env=ENV,
                            stderr=stderr, text=True)
    cleanups.append(lambda: proc.poll() is None and proc.kill())
    return proc


def serve(*names):
    """`ivshm serve NAMES` in the background until the end of the case, once
    it listens on every segment's socket; returns its Popen."""
    log = os.path.join(TMP, f"serve-{'-'.join(names)}.log")
    proc = subprocess.Popen([IVSHM, "serve", *names], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), stdin=subprocess.DEVNULL)
    cleanups.append(lambda: proc.poll() is None and (proc.terminate(), proc.wait(10)))
    with open(log) as f:
        if not guest_qemu.wait_for(lambda: f.seek(0) == 0 and f.read().count("serving on") ==
                                   len(names) or proc.poll() is not None, 10) or \
                proc.poll() is not None:
            raise RuntimeError(f"ivshm serve {' '.join(names)}: {tail(log)}")
    return proc


def wait_fwd(proc, seconds=30):
    """None when ivshm-fwd exited 0 (after EXIT); else what went wrong."""
    try:
        status = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "ivshm-fwd did not exit after EXIT"
    err = proc.stderr.read().strip() if proc.stderr else ""
    return None if status == 0 else f"ivshm-fwd exit {status}: {err}"


def run_cases(cases, wanted):
    """Runs the (name, function) cases whose name contains one of `wanted`
    (all when empty), each followed by its clean-ups; returns the exit
    status: 1 when a case failed."""
    return guest_qemu.run_cases(cases, wanted, cleanups)
