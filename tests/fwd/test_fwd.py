#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Boot-and-forward tests: frames go host -> forwarder -> host through ivshm
rings and must all come back intact.

  host-only     ivshm-fwd (the forwarding loop built for Linux) + pktgen
  direct        fwd.elf booted with -kernel, 100,000 frames
  uefi          fwd.efi booted by OVMF, 100,000 frames
  two-queues    fwd.elf on a fwd,queues=2 segment
  vm-to-vm      host -> VM A -> VM B -> host over a segment both VMs attach
  host-restart  pktgen killed with SIGKILL mid-run; a new one reclaims its
                buffers and runs to zero loss; the pool is full again after
  forwarder-stops  the forwarder freezes mid-run; pktgen gives up after
                --timeout and says so
  stale-ctrl    ctrl says FWD but no forwarder runs (a VM died): pktgen
                refuses, naming the heartbeat
  garbage-queue-count  a peer writes 1000 into ctrl's queue count: ignored
  missing-ring  the guest forwarder is told to use a ring that does not
                exist: it sets FAIL with the reason, pktgen says so, the VM
                exits with guest code 1

Each case prints "ok - NAME" or "not ok - NAME: why", plus "# NAME: figures".
Run from the repo root (env: BUILD, IVSHM, TEST_TMP), e.g. by `make test-fwd`.

    tests/fwd/test_fwd.py [NAME_SUBSTRING...]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import guest_qemu  # noqa: E402
from guest_qemu import report  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
FWD_HOST = os.path.join(BUILD, "bin", "ivshm-fwd")
GUEST = os.path.join(BUILD, "guest")
TMP = os.environ.get("TEST_TMP") or tempfile.mkdtemp(prefix="ivshm-fwd-")
SEG_DIR = os.path.join(TMP, "segments")
COUNT = 100000
# Pollers on both sides: with two CPUs or more, keep the forwarder (QEMU or
# ivshm-fwd) on CPU 1 and pktgen on CPU 0, else the scheduler may stack them.
PIN = (os.cpu_count() or 1) >= 2
FWD_CPU = ["taskset", "-c", "1"] if PIN else []
PKTGEN_CPU = ["--cpu", "0"] if PIN else []

os.makedirs(SEG_DIR, exist_ok=True)
ENV = dict(os.environ, IVSHM_DIR=SEG_DIR)
cleanups = []


def ivshm(*args, check=True):
    proc = subprocess.run([IVSHM, *args], env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ivshm {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def create(name, preset="fwd", size="16M"):
    ivshm("destroy", name, "--force", check=False)
    ivshm("create", name, "--size", size, "--preset", preset)
    cleanups.append(lambda: ivshm("destroy", name, "--force", check=False))


def pool_state(name):
    info = json.loads(ivshm("inspect", name, "--json").stdout)
    pool = next(o for o in info["objects"] if o["name"] == "pkts")
    return pool["free_objects"], pool["count"]


def start_vm(image_path, segments, cmdline="", uefi=False, tag="vm"):
    """Starts QEMU in the background; returns (Popen, log path)."""
    args = FWD_CPU + guest_qemu.guest_args(image_path, uefi, TMP, cmdline)
    args += ivshm("qemu-args", *segments).stdout.split()
    log = os.path.join(TMP, f"{tag}.log")
    proc = guest_qemu.spawn(args, log)
    cleanups.append(lambda: proc.poll() is None and proc.kill())
    return proc, log


def pktgen(name, *extra, timeout=240):
    """Runs pktgen to the end; returns (exit status, summary dict or None, stderr)."""
    return guest_qemu.pktgen(IVSHM, ENV, name, "--timeout", "60", *PKTGEN_CPU, *extra,
                             timeout=timeout)


check_summary = guest_qemu.summary_problem


def wait_vm(proc, log, seconds=60):
    """Waits for the VM to exit; returns a problem or None. Guest code 0 is
    QEMU status 1 (isa-debug-exit: (code << 1) | 1)."""
    try:
        status = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        return f"VM did not exit after EXIT; log: {tail(log)}"
    text = open(log, errors="replace").read()
    if status != 1 or "fwd: done" not in text:
        return f"VM exit status {status}, log: {tail(log)}"
    return None


def tail(path, lines=6):
    try:
        return " | ".join(open(path, errors="replace").read().replace("\r", "")
                          .strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def figures(summary):
    return f"{summary['received']} frames in {summary['seconds']:.2f} s, {summary['mpps']:.3f} Mpps"


# ---- cases --------------------------------------------------------------------

def case_host_only():
    create("fh")
    fwd = subprocess.Popen([FWD_HOST, "fh"] + (["--cpu", "1"] if PIN else []), env=ENV, stderr=subprocess.PIPE, text=True)
    cleanups.append(lambda: fwd.poll() is None and fwd.kill())
    status, summary, err = pktgen("fh", "--count", str(COUNT))
    problem = check_summary(summary, COUNT) or (status != 0 and f"pktgen exit {status}: {err}")
    try:
        fwd_status = fwd.wait(timeout=20)
        if not problem and fwd_status != 0:
            problem = f"ivshm-fwd exit {fwd_status}: {fwd.stderr.read().strip()}"
    except subprocess.TimeoutExpired:
        problem = problem or "ivshm-fwd did not exit after EXIT"
    if not problem and summary["forwarder"]["received"] != COUNT:
        problem = f"forwarder counters not final: {summary['forwarder']}"
    report("host-only", problem, summary and figures(summary))


def guest_case(name, uefi, queues=1):
    seg = name.replace("-", "")[:20]
    create(seg, preset=f"fwd,queues={queues}" if queues > 1 else "fwd")
    image = os.path.join(GUEST, "fwd.efi" if uefi else "fwd.elf")
    vm, log = start_vm(image, [seg], uefi=uefi, tag=name)
    extra = ["--count", str(COUNT)]
    if queues > 1:
        extra += ["--queues", str(queues)]
    status, summary, err = pktgen(seg, *extra)
    problem = check_summary(summary, COUNT) or (status != 0 and f"pktgen exit {status}: {err}")
    if not problem and summary["queues"] != queues:
        problem = f"pktgen used {summary['queues']} queues, expected {queues}"
    problem = problem or wait_vm(vm, log)
    if not problem and summary["forwarder"]["received"] != COUNT:
        problem = f"guest counters not final: {summary['forwarder']}"
    if problem and summary is None:
        problem += f"; VM log: {tail(log)}"
    report(name, problem, summary and figures(summary))


def case_direct():
    guest_case("direct", uefi=False)


def case_uefi():
    guest_case("uefi", uefi=True)


def case_two_queues():
    guest_case("two-queues", uefi=False, queues=2)


def case_vm_to_vm():
    # h2a: buffers, host -> A (rx0), A's ctrl. a2b: A -> B (rx0), B -> host
    # (tx0), B's ctrl. Both VMs attach both segments: B needs the buffers.
    create("h2a")
    create("a2b")
    vm_a, log_a = start_vm(os.path.join(GUEST, "fwd.elf"), ["h2a", "a2b"],
                           "rx=h2a/rx0 tx=a2b/rx0 pool=h2a/pkts ctrl=h2a/ctrl", tag="vm-a")
    vm_b, log_b = start_vm(os.path.join(GUEST, "fwd.elf"), ["h2a", "a2b"],
                           "rx=a2b/rx0 tx=a2b/tx0 pool=h2a/pkts ctrl=a2b/ctrl", tag="vm-b")
    status, summary, err = pktgen("h2a", "--rx-from", "a2b", "--count", str(COUNT))
    problem = check_summary(summary, COUNT) or (status != 0 and f"pktgen exit {status}: {err}")
    problem = problem or wait_vm(vm_a, log_a) or wait_vm(vm_b, log_b)
    report("vm-to-vm", problem, summary and figures(summary))


def case_host_restart():
    create("hr")
    vm, log = start_vm(os.path.join(GUEST, "fwd.elf"), ["hr"], tag="host-restart")
    first = subprocess.Popen([IVSHM, "pktgen", "hr", "--duration", "120", "--keep", *PKTGEN_CPU],
                             env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cleanups.append(lambda: first.poll() is None and first.kill())
    # Kill it while traffic flows: once it holds buffers (it is sending).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        free, count = pool_state("hr")
        if free < count:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    free_after_kill, count = pool_state("hr")
    if vm.poll() is not None:
        report("host-restart", f"the VM stopped when pktgen was killed: {tail(log)}")
        return
    status, summary, err = pktgen("hr", "--count", "50000")
    problem = check_summary(summary, 50000) or (status != 0 and f"pktgen exit {status}: {err}")
    if not problem and summary["reclaimed"] == 0:
        problem = "the new pktgen reclaimed nothing from the killed one"
    problem = problem or wait_vm(vm, log)
    free_end, _ = pool_state("hr")
    if not problem and free_end != count:
        problem = f"pool holds {free_end} of {count} free buffers after traffic stopped"
    report("host-restart", problem,
           summary and f"{count - free_after_kill} buffers held at the kill, "
                       f"{summary['reclaimed']} reclaimed; {figures(summary)}")


def case_forwarder_stops():
    # The forwarder freezes mid-run (SIGSTOP): the rings stay full and nothing
    # comes back. pktgen must give up after --timeout seconds, say so and
    # exit 1, not spin for ever.
    create("fs")
    fwd = subprocess.Popen([FWD_HOST, "fs"] + (["--cpu", "1"] if PIN else []), env=ENV,
                           stderr=subprocess.DEVNULL)
    cleanups.append(lambda: fwd.poll() is None and fwd.kill())
    gen = subprocess.Popen([IVSHM, "pktgen", "fs", "--duration", "60", "--timeout", "2", "--json",
                            *PKTGEN_CPU], env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    cleanups.append(lambda: gen.poll() is None and gen.kill())
    time.sleep(1.0)
    fwd.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        out, _ = gen.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        report("forwarder-stops", "pktgen still running 30 s after the forwarder froze")
        return
    waited = time.monotonic() - started
    fwd.send_signal(signal.SIGCONT)
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        summary = None
    problem = None
    if gen.returncode != 1:
        problem = f"pktgen exit {gen.returncode}, expected 1"
    elif summary is None or summary.get("stalled") is not True:
        problem = f"summary does not say stalled: {summary}"
    report("forwarder-stops", problem, f"pktgen gave up {waited:.1f} s after the freeze")


def case_stale_ctrl():
    # A VM that died mid-run leaves state FWD in ctrl. pktgen must not take
    # that for a live forwarder: no heartbeat, no traffic, a clear error.
    create("sc")
    info = json.loads(ivshm("inspect", "sc", "--json").stdout)
    ctrl = next(o for o in info["objects"] if o["name"] == "ctrl")
    with open(info["path"], "r+b") as f:
        f.seek(ctrl["offset"])
        f.write((2).to_bytes(4, "little"))  # IVSHM_FWD_FWD
    started = time.monotonic()
    proc = subprocess.run([IVSHM, "pktgen", "sc", "--count", "1000", "--timeout", "2"], env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    waited = time.monotonic() - started
    err = proc.stderr.strip()
    problem = None
    if proc.returncode != 1:
        problem = f"pktgen exit {proc.returncode}, expected 1 (stdout: {proc.stdout.strip()})"
    elif "heartbeat" not in err or len(err.splitlines()) != 1:
        problem = f"expected one line naming the heartbeat, got: {err!r}"
    report("stale-ctrl", problem, f"refused after {waited:.1f} s")


def case_garbage_queue_count():
    # A peer writes nonsense into ctrl's queue count after the forwarder
    # announced itself: pktgen must ignore it (16 queues at most), not index
    # past its tables, and forward on the one real queue pair.
    create("gq")
    fwd = subprocess.Popen([FWD_HOST, "gq"] + (["--cpu", "1"] if PIN else []), env=ENV,
                           stderr=subprocess.DEVNULL)
    cleanups.append(lambda: fwd.poll() is None and fwd.kill())
    info = json.loads(ivshm("inspect", "gq", "--json").stdout)
    ctrl = next(o for o in info["objects"] if o["name"] == "ctrl")
    deadline = time.monotonic() + 20
    with open(info["path"], "r+b") as f:
        while time.monotonic() < deadline:  # until the forwarder is READY
            f.seek(ctrl["offset"])
            if int.from_bytes(f.read(4), "little") == 1:
                break
            time.sleep(0.05)
        f.seek(ctrl["offset"] + 4)
        f.write((1000).to_bytes(4, "little"))
    status, summary, err = pktgen("gq", "--count", "20000")
    problem = check_summary(summary, 20000) or (status != 0 and f"pktgen exit {status}: {err}")
    if not problem and summary["queues"] != 1:
        problem = f"pktgen used {summary['queues']} queues from a garbage count"
    report("garbage-queue-count", problem)


def case_missing_ring():
    create("mr")
    vm, log = start_vm(os.path.join(GUEST, "fwd.elf"), ["mr"], "rx=mr/rx7 tx=mr/tx0",
                       tag="missing-ring")
    proc = subprocess.run([IVSHM, "pktgen", "mr", "--count", "1000", "--timeout", "20"], env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    err = proc.stderr.strip()
    problem = None
    if proc.returncode != 1 or "forwarder failed" not in err or "mr/rx7" not in err:
        problem = f"pktgen exit {proc.returncode}: {err!r}"
    else:
        try:
            status = vm.wait(timeout=30)
            if status != 3:  # guest code 1: (1 << 1) | 1
                problem = f"VM exit status {status}, want 3; log: {tail(log)}"
        except subprocess.TimeoutExpired:
            problem = f"VM still running after FAIL; log: {tail(log)}"
    report("missing-ring", problem)


CASES = [("host-only", case_host_only), ("direct", case_direct), ("uefi", case_uefi),
         ("two-queues", case_two_queues), ("vm-to-vm", case_vm_to_vm),
         ("host-restart", case_host_restart), ("forwarder-stops", case_forwarder_stops),
         ("stale-ctrl", case_stale_ctrl), ("garbage-queue-count", case_garbage_queue_count),
         ("missing-ring", case_missing_ring)]


def main():
    wanted = sys.argv[1:]
    for name, fn in CASES:
        if wanted and not any(w in name for w in wanted):
            continue
        try:
            fn()
        except Exception as e:  # a broken case must not stop the others
            report(name, f"{type(e).__name__}: {e}")
        finally:
            while cleanups:
                try:
                    cleanups.pop()()
                except Exception:
                    pass
    return 1 if guest_qemu.failures else 0


if __name__ == "__main__":
    sys.exit(main())
