#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""First doorbell measurements (to be folded into docs/performance.md):

  idle CPU   of the QEMU process over 10 s (utime + stime from /proc/PID/stat)
             with guest_rt/apps/doorbell.c in mode=echo, once sleeping on its
             doorbell, once polling (mode=echo poll); and of a host client
             waiting on its doorbell (bell hold) over the same 10 s
  wake-up    host -> guest -> host round trips through rings rx0/tx0, each
             starting with the guest asleep (bell feed --sleepy): p50/p99/max
             over 1,000 wake-ups; the same with the guest polling, for
             comparison

Run from the repo root after `make all doorbell-tools` (env: BUILD, IVSHM):

    tests/bench/doorbell_bench.py [--seconds 10] [--count 1000] [--uefi]

Timing figures are noise while other jobs load the machine: say so with them.
"""
import argparse
import os
import re
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
BELL = os.path.join(BUILD, "tests", "doorbell", "bell")


def wait_for(cond, seconds):
    return guest_qemu.wait_for(cond, seconds, 0.05)


def read(path):
    with open(path) as f:
        return f.read()


def run_case(tmp, env, sock, label, cmdline, args):
    """Boots the echo guest, measures QEMU's (and a host waiter's) idle CPU,
    then the round trips; returns a result line."""
    image = os.path.join(BUILD, "guest", "doorbell.efi" if args.uefi else "doorbell.elf")
    qemu_args = guest_qemu.guest_args(image, args.uefi, tmp, cmdline)
    qemu_args += subprocess.run([IVSHM, "qemu-args", "--doorbell", "bench"], env=env, check=True,
                                stdout=subprocess.PIPE, text=True).stdout.split()
    log = os.path.join(tmp, f"{label}.log")
    qemu = subprocess.Popen(qemu_args, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    waiter = subprocess.Popen([BELL, sock, "hold"], stdout=subprocess.DEVNULL, env=env)
    try:
        if not wait_for(lambda: "doorbell: echo id=" in read(log), 120):
            return f"{label}: the guest did not start: {read(log)[-300:]!r}"
        time.sleep(1)  # past boot, settled
        q0, w0, t0 = guest_qemu.cpu_seconds(qemu.pid), guest_qemu.cpu_seconds(waiter.pid), time.time()
        time.sleep(args.seconds)
        q1, w1, t1 = guest_qemu.cpu_seconds(qemu.pid), guest_qemu.cpu_seconds(waiter.pid), time.time()
        feed = [BELL, sock, "feed", "--seg", "bench", "--count", str(args.count), "--stop"]
        if "poll" not in cmdline:
            feed.append("--sleepy")
        r = subprocess.run(feed, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env, timeout=600)
        qemu.wait(timeout=60)
        trips = re.search(r"p50 .*", r.stdout)
        return (f"{label}: QEMU idle CPU {100 * (q1 - q0) / (t1 - t0):.1f} % of a core, "
                f"host waiter {100 * (w1 - w0) / (t1 - t0):.2f} % over {t1 - t0:.1f} s; "
                f"{args.count} round trips: {trips.group(0) if trips else r.stdout.strip()}")
    finally:
        for p in (qemu, waiter):
            if p.poll() is None:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--uefi", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ivshm-db-bench-")
    env = dict(os.environ, IVSHM_DIR=os.path.join(tmp, "segs"))
    os.makedirs(env["IVSHM_DIR"])
    subprocess.run([IVSHM, "create", "bench", "--size", "2M", "--ring", "name=rx0,slots=1024",
                    "--ring", "name=tx0,slots=1024"], env=env, check=True)
    sock = os.path.join(env["IVSHM_DIR"], ".ivshm-bench.sock")
    server = subprocess.Popen([IVSHM, "serve", "--quiet", "bench"], env=env)
    try:
        if not wait_for(lambda: os.path.exists(sock), 5):
            sys.exit("doorbell_bench: the server did not start")
        print(f"# {time.strftime('%F %T')}, load average {os.getloadavg()[0]:.2f}, "
              f"{'UEFI' if args.uefi else 'direct'} boot, TCG")
        print(run_case(tmp, env, sock, "sleeping", "mode=echo", args))
        print(run_case(tmp, env, sock, "polling ", "mode=echo poll", args))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
