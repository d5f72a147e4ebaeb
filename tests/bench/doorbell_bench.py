#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Interrupt mode against polling, for the goals of issue 11 (docs/performance.md):

  idle      CPU time (utime + stime, /proc/PID/stat) over --seconds with no
            traffic of: QEMU running fwd.elf, and the host forwarder
            ivshm-fwd, each in mode poll and in mode adaptive
  wake-up   --count round trips of one frame each (pktgen --group 1), each
            sent after a gap in which the forwarder fell asleep: p50, p99,
            max, host-only (ivshm-fwd) and through the guest under TCG, with
            the forwarder's wake-up count (ctrl) to show each trip woke it;
            with pktgen polling (the trip holds the forwarder's wake-up
            alone) and adaptive (it sleeps too), and both polling, for
            comparison
  load      pktgen --frames frames at full load, adaptive and poll, --runs
            times each, host-only and through the guest

The forwarder runs on CPU 1 (taskset / --cpu), pktgen on CPU 0, when there
are two. Every line carries the load average: timing figures are noise
while other jobs load the machine. Run from the repo root after `make all`
(env: BUILD, IVSHM):

    tests/bench/doorbell_bench.py [--seconds 10] [--count 1000] [--frames 5000000]
                                  [--runs 3] [--uefi] [--only idle|wakeup|load]...
                                  [--adaptive-only]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import guest_qemu  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
FWD_HOST = os.path.join(BUILD, "bin", "ivshm-fwd")
PIN = (os.cpu_count() or 1) >= 2
READY, DONE = 1, 4


def load():
    return f"load {os.getloadavg()[0]:.2f}"


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="ivshm-db-bench-")
        self.env = dict(os.environ, IVSHM_DIR=os.path.join(self.tmp, "segs"))
        os.makedirs(self.env["IVSHM_DIR"])
        self.seq = 0

    def ivshm(self, *args):
        return subprocess.run([IVSHM, *args], env=self.env, check=True, stdout=subprocess.PIPE,
                              text=True).stdout

    def segment(self):
        """A fresh fwd segment and a doorbell server for it."""
        self.seq += 1
        name = f"b{self.seq}"
        self.ivshm("create", name, "--size", "16M", "--preset", "fwd")
        server = subprocess.Popen([IVSHM, "serve", "--quiet", name], env=self.env)
        sock = os.path.join(self.env["IVSHM_DIR"], f".ivshm-{name}.sock")
        if not guest_qemu.wait_for(lambda: os.path.exists(sock), 5):
            sys.exit("doorbell_bench: the server did not start")
        return name, server

    def forwarder(self, name, where, mode):
        """ivshm-fwd, or QEMU with fwd.elf (fwd.efi with --uefi), in `mode`."""
        log = os.path.join(self.tmp, f"{name}-{where}-{mode}.log")
        if where == "host":
            args = [FWD_HOST, name, "--mode", mode, *(["--cpu", "1"] if PIN else [])]
        else:
            image = os.path.join(BUILD, "guest", "fwd.efi" if self.args.uefi else "fwd.elf")
            args = (["taskset", "-c", "1"] if PIN else []) + guest_qemu.guest_args(
                image, self.args.uefi, self.tmp, f"mode={mode}")
            args += self.ivshm("qemu-args", "--doorbell", name).split()
        return guest_qemu.spawn(args, log, self.env)

    def pktgen(self, name, *extra):
        status, summary, err = guest_qemu.pktgen(IVSHM, self.env, name, "--timeout", "60",
                                                 *(["--cpu", "0"] if PIN else []), *extra,
                                                 timeout=600)
        problem = guest_qemu.summary_problem(summary, summary["sent"] if summary else 0)
        if status != 0 or problem:
            raise RuntimeError(f"pktgen {name} {' '.join(extra)}: {problem or err}")
        return summary

    def run(self, where, mode, body):
        """Starts a forwarder in `mode` on a fresh segment, waits for READY,
        runs body(name, proc), then stops everything."""
        name, server = self.segment()
        proc = self.forwarder(name, where, mode)
        try:
            # READY and warm: a first small run (also boots the guest fully).
            self.pktgen(name, "--count", "1000", "--keep")
            return body(name, proc)
        finally:
            try:
                guest_qemu.pktgen(IVSHM, self.env, name, "--count", "1", timeout=60)
                proc.wait(timeout=30)
            except Exception:
                pass
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            server.send_signal(signal.SIGTERM)
            server.wait()

    # ---- the three measurements ----

    def idle(self, where, mode):
        def body(name, proc):
            time.sleep(1)  # past the last frames: idle
            c0, t0 = guest_qemu.cpu_seconds(proc.pid), time.time()
            time.sleep(self.args.seconds)
            c1, t1 = guest_qemu.cpu_seconds(proc.pid), time.time()
            return 100 * (c1 - c0) / (t1 - t0)
        who = "QEMU (fwd.elf)" if where == "guest" else "ivshm-fwd"
        share = self.run(where, mode, body)
        print(f"idle {where:5} {mode:8}: {who} used {share:6.2f} % of a CPU over "
              f"{self.args.seconds:.0f} s; {load()}", flush=True)

    def wakeup(self, where, mode, sender):
        """Round trips with the forwarder in `mode`, pktgen in `sender` mode
        (poll: only the forwarder's wake-up is in the trip)."""
        gap = 0.005 if where == "guest" else 0.002

        def body(name, proc):
            return self.pktgen(name, "--count", str(self.args.count), "--group", "1", "--gap",
                               str(gap), "--mode", sender, "--keep")
        s = self.run(where, mode, body)
        t = s["trip_us"]
        print(f"wake-up {where:5} {mode:8} (pktgen {sender:8}): {s['groups']} round trips of one "
              f"frame, {gap * 1000:.0f} ms apart: p50 {t['p50']:.1f} us, p99 {t['p99']:.1f} us, "
              f"max {t['max']:.1f} us; forwarder woken by a doorbell {s['forwarder']['wakeups']} "
              f"times, pktgen slept {s['sleeps']}; {load()}", flush=True)

    def throughput(self, where, mode):
        def body(name, proc):
            rates = []
            for _ in range(self.args.runs):
                s = self.pktgen(name, "--count", str(self.args.frames), "--mode", mode, "--keep")
                rates.append(s["mpps"])
            return rates, s
        rates, s = self.run(where, mode, body)
        print(f"load {where:5} {mode:8}: {self.args.frames} frames: "
              f"{', '.join(f'{r:.2f}' for r in rates)} Mpps (last run: pktgen slept "
              f"{s['sleeps']}, forwarder slept {s['forwarder']['sleeps']}); {load()}",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=5000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--uefi", action="store_true")
    ap.add_argument("--only", action="append", choices=("idle", "wakeup", "load"))
    ap.add_argument("--adaptive-only", action="store_true",
                    help="skip the polling rows (pollers load the machine they measure)")
    args = ap.parse_args()
    b = Bench(args)
    wanted = args.only or ["idle", "wakeup", "load"]
    print(f"# {time.strftime('%F %T')}, {load()}, {os.cpu_count()} CPUs, "
          f"guest {'UEFI' if args.uefi else 'direct'} boot under TCG", flush=True)
    try:
        modes = ("adaptive",) if args.adaptive_only else ("poll", "adaptive")
        trips = ((("adaptive", "adaptive"),) if args.adaptive_only else
                 (("poll", "poll"), ("adaptive", "poll"), ("adaptive", "adaptive")))
        for where in ("host", "guest"):
            for mode in modes:
                if "idle" in wanted:
                    b.idle(where, mode)
        for where in ("host", "guest"):
            for mode, sender in trips:
                if "wakeup" in wanted:
                    b.wakeup(where, mode, sender)
        for where in ("host", "guest"):
            for mode in modes:
                if "load" in wanted:
                    b.throughput(where, mode)
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
