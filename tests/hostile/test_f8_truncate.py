#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F8: truncating a live segment file kills both sides with SIGBUS.

`truncate -s 4096` on the file while pktgen and ivshm-fwd run: both touch
pages past the new end of the file and die of SIGBUS (exit 135), with no
message.

The fix must make true: a host tool ends with exit 1 and one line naming
the segment ("segment file f8 was truncated under us"), never a bare signal
death.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

create("f8")
fwd = start_fwd("f8")
check(wait_ready("f8"), "ivshm-fwd READY")
gen = start([IVSHM, "pktgen", "f8", "--duration", "5", "--timeout", "3", *PKTGEN_CPU])
time.sleep(1.0)
os.truncate(path_of("f8"), 4096)
for label, p in (("pktgen", gen), ("ivshm-fwd", fwd)):
    status = wait(p, 15)
    err = output(p)[1]
    problem = one_line_error(err) if status == 1 else describe(status)
    check(problem is None and "f8" in err and "truncated" in err,
          f"{label} after the file was truncated: {describe(status)}: {err.strip()!r}",
          problem or "the line does not say the segment was truncated")
finish()
