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
  wedged-free-ring  pktgen killed with SIGKILL, and the pool's free ring
                left half-updated (as by a kill in mid-get): the next pktgen
                repairs it, reclaims, runs to zero loss; the pool is whole
  latency       --latency (one in flight) and --rate: every frame's round
                trip, figures in order, nothing lost

Each case prints "ok - NAME" or "not ok - NAME: why", plus "# NAME: figures".
Run from the repo root (env: BUILD, IVSHM, TEST_TMP), e.g. by `make test-fwd`.

    tests/fwd/test_fwd.py [NAME_SUBSTRING...]
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fwd_tests import (ENV, FWD_ELF, GUEST, IVSHM, PIN, cleanups, create, inspect_object,  # noqa: E402
                       pool_state, run_cases, start_fwd, start_vm, tail, wait_fwd, wait_vm)
import guest_qemu  # noqa: E402
from guest_qemu import report  # noqa: E402

COUNT = 100000
PKTGEN_CPU = ["--cpu", "0"] if PIN else []  # the forwarder runs on CPU 1


def pktgen(name, *extra, timeout=240):
    """Runs pktgen to the end; returns (exit status, summary dict or None, stderr)."""
    return guest_qemu.pktgen(IVSHM, ENV, name, "--timeout", "60", *PKTGEN_CPU, *extra,
                             timeout=timeout)


check_summary = guest_qemu.summary_problem


def kill_pktgen_mid_run(name, settle=0.0):
    """Starts a pktgen on segment `name` and kills it with SIGKILL once it
    holds buffers (it is sending), `settle` seconds later."""
    first = subprocess.Popen([IVSHM, "pktgen", name, "--duration", "120", "--keep", *PKTGEN_CPU],
                             env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cleanups.append(lambda: first.poll() is None and first.kill())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        free, count = pool_state(name)
        if free < count:
            break
        time.sleep(0.1)
    time.sleep(settle)
    first.send_signal(signal.SIGKILL)
    first.wait()


def figures(summary):
    return f"{summary['received']} frames in {summary['seconds']:.2f} s, {summary['mpps']:.3f} Mpps"


# ---- cases --------------------------------------------------------------------

def case_host_only():
    create("fh")
    fwd = start_fwd("fh")
    status, summary, err = pktgen("fh", "--count", str(COUNT))
    problem = check_summary(summary, COUNT) or (status != 0 and f"pktgen exit {status}: {err}")
    problem = wait_fwd(fwd, 20) or problem
    if not problem and summary["forwarder"]["received"] != COUNT:
        problem = f"forwarder counters not final: {summary['forwarder']}"
    report("host-only", problem, summary and figures(summary))


def guest_case(name, uefi, queues=1):
    seg = name.replace("-", "")[:20]
    create(seg, queues=queues)
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
    vm_a, log_a = start_vm(FWD_ELF, ["h2a", "a2b"],
                           "rx=h2a/rx0 tx=a2b/rx0 pool=h2a/pkts ctrl=h2a/ctrl", tag="vm-a")
    vm_b, log_b = start_vm(FWD_ELF, ["h2a", "a2b"],
                           "rx=a2b/rx0 tx=a2b/tx0 pool=h2a/pkts ctrl=a2b/ctrl", tag="vm-b")
    status, summary, err = pktgen("h2a", "--rx-from", "a2b", "--count", str(COUNT))
    problem = check_summary(summary, COUNT) or (status != 0 and f"pktgen exit {status}: {err}")
    problem = problem or wait_vm(vm_a, log_a) or wait_vm(vm_b, log_b)
    report("vm-to-vm", problem, summary and figures(summary))


def case_host_restart():
    create("hr")
    vm, log = start_vm(FWD_ELF, ["hr"], tag="host-restart")
    kill_pktgen_mid_run("hr", settle=1.0)
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
    fwd = start_fwd("fs", stderr=subprocess.DEVNULL)
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
    info, ctrl = inspect_object("sc", "ctrl")
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
    fwd = start_fwd("gq", stderr=subprocess.DEVNULL)
    info, ctrl = inspect_object("gq", "ctrl")
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
    vm, log = start_vm(FWD_ELF, ["mr"], "rx=mr/rx7 tx=mr/tx0",
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


def case_wedged_free_ring():
    # A pktgen killed between the two halves of a get or put on the free
    # ring leaves its head ahead of its tail (simulated: the head moved by
    # one after a kill). The next pktgen must repair the ring (it is alone on
    # the pool: the forwarder never allocates) rather than wait for ever in
    # its first put.
    create("wf")
    fwd = start_fwd("wf")
    kill_pktgen_mid_run("wf")
    info, pool = inspect_object("wf", "pkts")
    with open(info["path"], "r+b") as f:  # the free ring's prod.head, first in the pool
        f.seek(pool["offset"])
        head = int.from_bytes(f.read(4), "little")
        f.seek(pool["offset"])
        f.write(((head + 1) % 2**32).to_bytes(4, "little"))
    status, summary, err = pktgen("wf", "--count", "20000", timeout=120)
    problem = (status != 0 and f"pktgen exit {status}: {err}") or check_summary(summary, 20000)
    if not problem and summary["reclaimed"] == 0:
        problem = "the new pktgen reclaimed nothing from the killed one"
    problem = problem or wait_fwd(fwd)
    free, count = pool_state("wf")
    if not problem and free != count:
        problem = f"pool holds {free} of {count} free buffers after the run"
    report("wedged-free-ring", problem, summary and f"{summary['reclaimed']} reclaimed")


def case_latency():
    create("lt")
    fwd = start_fwd("lt")
    problems, notes = [], []
    for extra, count in ((["--latency"], 20000), (["--rate", "20000"], 10000)):
        status, summary, err = pktgen("lt", *extra, "--count", str(count), "--keep")
        problem = check_summary(summary, count) or (status != 0 and f"exit {status}: {err}")
        lat = summary and summary.get("latency")
        if not problem and not lat:
            problem = f"no latency in the summary: {summary}"
        if not problem:
            figs = [lat[k] for k in ("min_us", "p50_us", "p99_us", "p99.9_us", "max_us")]
            if lat["trips"] != count or not 0 < figs[0] <= figs[1] <= figs[2] <= figs[3] <= figs[4]:
                problem = f"latency figures {lat}"
            elif extra[0] == "--rate" and not 0 < lat["rate"] <= 20000 * 1.05:
                problem = f"sent at {lat['rate']} frames/s, asked for 20000"
            else:
                notes.append(f"{' '.join(extra)}: p50 {lat['p50_us']:.2f} us, "
                             f"p99 {lat['p99_us']:.2f} us, {lat['rate']:.0f} frames/s")
        if problem:
            problems.append(f"{' '.join(extra)}: {problem}")
    fwd.kill()
    report("latency", "; ".join(problems) or None, "; ".join(notes))


CASES = [("host-only", case_host_only), ("direct", case_direct), ("uefi", case_uefi),
         ("two-queues", case_two_queues), ("vm-to-vm", case_vm_to_vm),
         ("host-restart", case_host_restart), ("forwarder-stops", case_forwarder_stops),
         ("stale-ctrl", case_stale_ctrl), ("garbage-queue-count", case_garbage_queue_count),
         ("missing-ring", case_missing_ring), ("wedged-free-ring", case_wedged_free_ring),
         ("latency", case_latency)]


if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv[1:]))
