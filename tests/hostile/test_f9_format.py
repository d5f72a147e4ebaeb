#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F9: raw format strings reached users.

ivshm_format (common/format.c) knew no %f and no precision: messages read
"...within %.0f s", "...has not moved in %.0f s", "...after %.0f s", and
"the forwarder failed: %.40s" never printed the forwarder's reason.

The fix (common/format.c: %f with precision, %.Ns) makes true: each of
these messages is one line with the number of seconds and the reason in it.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403


def expect(what, status, err, words):
    problem = one_line_error(err) if status == 1 else describe(status)
    missing = [w for w in words if w not in err]
    check(problem is None and not missing, f"{what}: {err.strip()}",
          problem or f"does not say {missing}")


create("f9")
ctrl = objects("f9")["ctrl"]["offset"]
seg = Segment("f9")

status, _, err = pktgen("f9", "--count", "10", "--timeout", "1", timeout=15)
expect("no forwarder", status, err, ["within 1 s"])

seg.u32(ctrl + CTRL_STATE, FWD_FWD)  # a VM that died mid-run leaves FWD
status, _, err = pktgen("f9", "--count", "10", "--timeout", "1", timeout=15)
expect("stale ctrl", status, err, ["has not moved in 1 s"])

reason = b"rx0: no such ring (test reason)"
seg.write(ctrl + CTRL_REASON, reason + b"\0")
seg.u32(ctrl + CTRL_STATE, FWD_FAIL)
status, _, err = pktgen("f9", "--count", "10", "--timeout", "1", timeout=15)
expect("forwarder FAIL", status, err, ["the forwarder failed: " + reason.decode()])

# reclaim, a dead party's buffers in flight: a dead host party (a pid that
# exited) and a forwarder that says it holds 5 frames.
gone = subprocess.Popen(["true"])
gone.wait()
slot = PARTY_OFFSET + 7 * PARTY_SIZE
seg.u32(slot + 4, 1)
seg.u64(slot + 8, gone.pid)
seg.u64(slot + 16, 1)
seg.u32(slot, 1)
seg.u64(ctrl + CTRL_Q, 5)
seg.u32(ctrl + CTRL_STATE, FWD_READY)
status, out, err = ivshm("reclaim", "f9", "--timeout", "1", timeout=15)
expect("reclaim timeout", status, err, ["after 1 s"])
seg.close()
finish()
