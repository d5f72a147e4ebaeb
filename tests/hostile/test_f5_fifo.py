#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F5: a FIFO named ivshm-* in the directory hung list, inspect,
destroy and qemu-args: attach opened the file (open() blocks on a FIFO
until a writer comes) before checking that it is a regular file.

The fix (host/segment_file.c: lstat before the open, O_NONBLOCK open) makes
true: each command answers at once; list lists the FIFO with the reason,
inspect, destroy and qemu-args exit 1 with one line saying it is not a
regular file, and destroy leaves it where it is.
"""
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

create("real", "--ring", "name=r,slots=8", size="64K")
fifo = path_of("pipe")
os.mkfifo(fifo)

status, out, err = ivshm("list", timeout=5)
check(status == 0 and "pipe" in out and "not a regular file" in out and "real" in out,
      f"list answers ({describe(status)}) and names the FIFO as not a segment",
      f"stdout {out!r}, stderr {err!r}")
for args in (["inspect", "pipe"], ["inspect", "pipe", "--json"], ["destroy", "pipe"],
             ["qemu-args", "pipe"]):
    status, out, err = ivshm(*args, timeout=5)
    problem = one_line_error(err) if status == 1 else describe(status)
    check(problem is None and "not a regular file" in err,
          f"{' '.join(args)}: {describe(status)}, {err.strip()}", problem or "wrong reason")
check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "destroy left the FIFO alone")
finish()
