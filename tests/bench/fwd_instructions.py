#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Instructions per forwarded frame of the forwarding loop (ivshm-fwd, which
runs common/fwd.c's ivshm_fwd_run), counted by callgrind while traffic flows.

ivshm-fwd runs under callgrind (some 50 times slower than native), pktgen
natively, so the forwarder always finds its rx ring full: every round moves
a full burst. After a settling time the counters are zeroed
(callgrind_control --zero), the forwarder's frame count is read from ctrl,
and some seconds later both are read again (callgrind_control --dump): the
instructions of the whole process in between, divided by the frames
forwarded in between. Instruction counts do not depend on the machine's
load, so this is the A/B figure for changes to the fast path.

    tests/bench/fwd_instructions.py [--fwd build/bin/ivshm-fwd] [--ivshm build/bin/ivshm]
                                    [--seconds 5] [-- ivshm-fwd options...]
"""
import argparse
import glob
import json
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")


def frames(seg_path, ctrl_offset):
    """q[0].received of the forwarder's ctrl block."""
    with open(seg_path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        value = struct.unpack_from("<Q", m, ctrl_offset + 64)[0]
        m.close()
    return value


def poll_calls(text):
    """The call records of ivshm_fwd_poll in a callgrind file (its id is
    defined once as "(N) ivshm_fwd_poll", then used as "(N)")."""
    m = re.search(r"\((\d+)\) ivshm_fwd_poll\n", text)
    if not m:
        return ""
    ident = m.group(1)
    return "\n".join(re.findall(rf"cfn=\({ident}\)(?: ivshm_fwd_poll)?\ncalls=\d+", text))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fwd", default=os.path.join(BUILD, "bin", "ivshm-fwd"))
    ap.add_argument("--ivshm", default=os.path.join(BUILD, "bin", "ivshm"))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--settle", type=float, default=3)
    ap.add_argument("fwd_args", nargs="*", help="more ivshm-fwd options (after --)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ivshm-fwd-ir-")
    env = dict(os.environ, IVSHM_DIR=tmp)
    subprocess.run([args.ivshm, "create", "ir", "--size", "16M", "--preset", "fwd"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    info = json.loads(subprocess.run([args.ivshm, "inspect", "ir", "--json"], env=env,
                                     check=True, stdout=subprocess.PIPE).stdout)
    ctrl = next(o["offset"] for o in info["objects"] if o["name"] == "ctrl")
    seg = info["path"]
    out = os.path.join(tmp, "callgrind.out")
    # The source must never keep the forwarder waiting, or empty polls count
    # too: pktgen gets a higher priority than the forwarder (root only; else
    # a shared machine adds empty rounds, reported below).
    boost = ["nice", "-n", "-10"] if os.geteuid() == 0 else []
    fwd = subprocess.Popen(["nice", "-n", "10", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            args.fwd, "ir", *args.fwd_args], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pktgen = subprocess.Popen([*boost, args.ivshm, "pktgen", "ir", "--duration",
                               str(args.settle + args.seconds + 30), "--timeout", "60"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while frames(seg, ctrl) == 0 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(args.settle)
        subprocess.run(["callgrind_control", "--zero", str(fwd.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        f0 = frames(seg, ctrl)
        time.sleep(args.seconds)
        subprocess.run(["callgrind_control", "--dump", str(fwd.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        f1 = frames(seg, ctrl)
        dumps = [p for p in glob.glob(out + "*") if p != out]
        deadline = time.time() + 30
        while not dumps and time.time() < deadline:
            time.sleep(0.2)
            dumps = [p for p in glob.glob(out + "*") if p != out]
        time.sleep(0.5)
        text = open(sorted(dumps)[-1]).read()
        total = int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
        polls = sum(int(c) for c in re.findall(r"cfn=\(\d+\)(?: ivshm_fwd_poll)?\ncalls=(\d+)",
                                               poll_calls(text)))
        n = f1 - f0
        print(f"{args.fwd} {' '.join(args.fwd_args)}: {total} instructions, {n} frames, "
              f"{polls} polls ({n / polls if polls else 0:.1f} frames a poll): "
              f"{total / n:.2f} instructions a frame")
    finally:
        for p in (pktgen, fwd):
            p.kill()
            p.wait()
        if os.environ.get("KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
