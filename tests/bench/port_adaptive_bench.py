#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""ivshm-port in mode poll against mode adaptive (docs/performance.md,
"Interrupt mode", ivshm-port):

  vm    two network namespaces joined through fwd.elf (QEMU under TCG, CPU 1,
        mac=keep, cross-connected) by one ivshm-port (CPU 0) with a tap in
        each: ping -c --count -i --interval, RTT min/p50/p99/max; then, with
        no traffic, the CPU (utime + stime, /proc/PID/stat) of ivshm-port and
        of QEMU over --seconds. Mode adaptive: `ivshm serve`, the VM booted
        with `qemu-args --doorbell`, both sides adaptive by default; the taps
        wake ivshm-port through their rx interrupt.
  null  ivshm-port on a net_null port that receives nothing (no rx
        interrupt: bounded sleeps, --sleep-us) beside ivshm-fwd: its idle CPU
        in mode poll, and adaptive with --sleep-us 1000 (the default), 100
        and 10000.

Needs root (taps, namespaces) and build/bin/ivshm-port. Every line carries
the load average: timing figures are noise while other jobs run. From the
repo root after `make all`:

    tests/bench/port_adaptive_bench.py [--count 100] [--interval 0.2]
                                       [--seconds 10] [--only vm|null]
"""
import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "port"))
import fwd_tests  # noqa: E402
import test_port as tp  # noqa: E402


def load():
    return f"load {os.getloadavg()[0]:.2f}"


def clean_up():
    while fwd_tests.cleanups:
        try:
            fwd_tests.cleanups.pop()()
        except Exception as e:  # a clean-up that fails must not stop the others
            print(f"# clean-up: {e}")


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))]


def through_vm(mode, args):
    seg = "pb"
    fwd_tests.create(seg, queues=2)
    adaptive = mode == "adaptive"
    if adaptive:
        fwd_tests.serve(seg)
    vm, _ = fwd_tests.start_vm(fwd_tests.FWD_ELF, [seg],
                               " ".join(tp.cross_words(seg)) + " mac=keep", tag=f"bench-{mode}",
                               doorbell=adaptive)
    a, b = tp.Netns("a"), tp.Netns("b")
    ia, ib = f"ivb{tp.TAG}a", f"ivb{tp.TAG}b"
    port = tp.Port(tp.eal(tp.tap(0, ia, "02:00:00:77:00:11"), tp.tap(1, ib, "02:00:00:77:00:12")),
                   ["--port", f"0={seg}:0", "--port", f"1={seg}:1", "--exit", "--mode", mode],
                   f"bench-{mode}")
    tp.plug(port, ia, a, "10.77.0.1")
    tp.plug(port, ib, b, "10.77.0.2")
    if not tp.ping_until_up(a, "10.77.0.2", 60):
        print(f"vm {mode}: no ping reply within 60 s")
        return
    time.sleep(1.0)
    before = load()
    out = fwd_tests.run(*a.cmd("ping", "-n", "-c", str(args.count), "-i", str(args.interval),
                               "-W", "2", "10.77.0.2"), check=False, timeout=3600).stdout
    rtt = sorted(float(x) for x in re.findall(r"time=([\d.]+)", out))
    loss = re.search(r"([\d.]+)% packet loss", out)
    if rtt:
        print(f"vm {mode}: ping -c {args.count} -i {args.interval}: {loss.group(1)} % loss, "
              f"RTT ms min {rtt[0]:.3f} p50 {percentile(rtt, 0.5):.3f} p99 "
              f"{percentile(rtt, 0.99):.3f} max {rtt[-1]:.3f} avg {sum(rtt) / len(rtt):.3f} "
              f"({before} .. {load()})")
    time.sleep(1.0)
    before = load()
    port_share = tp.idle_share(port.proc.pid, args.seconds)
    vm_share = tp.idle_share(vm.pid, args.seconds)
    print(f"vm {mode}: idle {args.seconds:g} s: ivshm-port {port_share:.2%} of a CPU, QEMU "
          f"{vm_share:.2%} ({before} .. {load()})")
    status, summary, err = port.stop()
    if summary:
        print(f"vm {mode}: ivshm-port {tp.wake_counts(summary)}, forwarder "
              f"{summary['forwarder']}")
    else:
        print(f"vm {mode}: ivshm-port exit {status}: {err}")


def null_port(args):
    seg = "pn"
    fwd_tests.create(seg)
    fwd_tests.serve(seg)
    fwd_tests.start_fwd(seg, "--mac", "keep")
    for mode, extra in (("poll", []), ("adaptive", []), ("adaptive", ["--sleep-us", "100"]),
                        ("adaptive", ["--sleep-us", "10000"])):
        port = tp.Port(tp.eal("net_null0,no-rx=1"), ["--port", f"0={seg}:0", "--mode", mode,
                                                     *extra], f"bench-null-{mode}")
        time.sleep(2.0)
        before = load()
        share = tp.idle_share(port.proc.pid, args.seconds)
        status, summary, err = port.stop()
        sleeps = tp.wake_counts(summary)["sleeps"] if summary else "?"
        print(f"null {mode} {' '.join(extra) or '(default bound)'}: idle {args.seconds:g} s: "
              f"ivshm-port {share:.2%} of a CPU, {sleeps} sleeps ({before} .. {load()})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--only", choices=("vm", "null"))
    args = parser.parse_args()
    if os.geteuid() != 0 or not os.access(tp.PORT, os.X_OK):
        print("needs root and build/bin/ivshm-port")
        return 1
    try:
        if args.only in (None, "vm"):
            for mode in ("poll", "adaptive"):
                through_vm(mode, args)
                clean_up()
        if args.only in (None, "null"):
            null_port(args)
    finally:
        clean_up()
    return 0


if __name__ == "__main__":
    sys.exit(main())
