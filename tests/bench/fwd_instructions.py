#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Instructions per forwarded frame of the forwarding loop (ivshm_fwd_run),
counted by callgrind while traffic flows, in each mode.

build/tests/doorbell/fwd_loop runs the loop on one ring that feeds itself,
so every poll moves a full burst whatever else the machine does; under
callgrind it zeroes the counts after a warm-up, dumps them after SECONDS and
prints the frames forwarded in between. Instruction counts do not depend on
the machine's load: this is the A/B figure for changes to the fast path.

    tests/bench/fwd_instructions.py [--loop build/tests/doorbell/fwd_loop]
                                    [--ivshm build/bin/ivshm] [--seconds 2] [MODE...]

MODE: poll (default), adaptive. A fwd_loop built against an older tree
measures that tree (it ignores MODE there).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("BUILD", "build")


def measure(loop, ivshm, mode, seconds, tmp, env):
    out = os.path.join(tmp, f"cg-{mode}.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", loop,
                        "ir", mode, str(seconds)], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    m = re.search(r"fwd_loop: mode (.*?): (\d+) frames", r.stdout)
    dumps = sorted(p for p in glob.glob(out + ".*"))
    if not m or not dumps:
        sys.exit(f"fwd_instructions: {loop} {mode}: {r.stdout.strip()} {r.stderr.strip()[-300:]}")
    text = open(dumps[-1]).read()
    # "totals": the costs since the zero request ("summary" counts from the start)
    total = int(re.search(r"^totals: (\d+)", text, re.M).group(1))
    frames = int(m.group(2))
    return m.group(1), total, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", default=os.path.join(BUILD, "tests", "doorbell", "fwd_loop"))
    ap.add_argument("--ivshm", default=os.path.join(BUILD, "bin", "ivshm"))
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("modes", nargs="*", default=["poll", "adaptive"])
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ivshm-fwd-ir-")
    env = dict(os.environ, IVSHM_DIR=tmp)
    try:
        subprocess.run([args.ivshm, "create", "ir", "--size", "16M", "--preset", "fwd"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        for mode in args.modes:
            name, total, frames = measure(args.loop, args.ivshm, mode, args.seconds, tmp, env)
            print(f"{args.loop} mode {name}: {total} instructions for {frames} frames: "
                  f"{total / frames:.3f} instructions a frame")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
