#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F3: `ivshm inspect` reads past a stack buffer.

cmd_inspect (then host/cli/main.c) validated the segment, then copied each
directory entry from shared memory again and printed its name with no bound
(after issue 8 it printed an "error" row in place of an entry that failed
its second check, and header fields straight from shared memory).
A peer that flips an entry between valid and 64 x 'A' (name, type, offset,
length: no terminator anywhere) while inspect runs makes it print 64-byte
names, or, under ASan, read past the 64-byte copy on the stack (json_str,
inspect_object_text).

The fix must make true: inspect reads shared memory once, checks the copy
and prints only the checked copy: every run either prints the valid
directory or fails with one line (e.g. the checksum mismatch), and no name
it prints is longer than 31 characters.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

create("f3", "--ring", "name=r0,slots=64", "--ring", "name=r1,slots=64",
       "--memzone", "name=z,size=256", size="1M")
seg = Segment("f3")
dir_offset = seg.u64(64)  # header field dir_offset (docs/abi.md 1.1)
seg.close()

clis = [("plain", IVSHM)]
asan_cli = os.path.join(BUILD, "asan", "bin", "ivshm")
if os.access(asan_cli, os.X_OK):
    clis.append(("asan", asan_cli))
for label, cli in clis:
    flipper = start([os.path.join(TOOLS, "scribble"), "f3", "--flip", str(dir_offset),
                     "41" * 64, "--hold", "300", "--duration", "5"])
    runs = long_names = bad = 0
    first = ""
    end = time.time() + 3.5
    while time.time() < end and not bad:
        as_json = runs % 2 == 0
        status, out, err = run([cli, "inspect", "f3"] + (["--json"] if as_json else []),
                               timeout=10)
        runs += 1
        if status == 0:
            names = []
            if as_json:
                try:
                    objects = json.loads(out)["objects"]
                    names = [o["name"] for o in objects if "name" in o]
                    if len(names) != len(objects):
                        bad, first = bad + 1, f"run {runs}: an object without a name: {objects}"
                except ValueError as e:
                    bad, first = bad + 1, f"run {runs}: not JSON ({e})"
            else:
                names = [line.split()[0] for line in out.split("objects:\n", 1)[-1]
                         .split("parties:")[0].splitlines()[1:] if line.strip()]
                if any(n.startswith("error") for n in names):
                    bad, first = bad + 1, f"run {runs}: an error row in place of an object"
            if any(len(n) > 31 for n in names):
                long_names += 1
                first = first or f"run {runs}: a {max(map(len, names))}-byte name"
        else:
            problem = one_line_error(err) if status == 1 else describe(status)
            if problem:
                bad, first = bad + 1, f"run {runs}: {problem}"
    wait(flipper, 10)
    check(not long_names and not bad,
          f"{label} inspect while a peer flips a directory entry: {runs} runs, only checked "
          "names printed", f"{long_names} runs printed names over 31 bytes, {bad} failed "
          f"badly; {first}")
finish()
