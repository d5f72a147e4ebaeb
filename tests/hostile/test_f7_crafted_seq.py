#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F7: one crafted frame hangs pktgen.

A forwarder (tests/hostile/evil_fwd) returns one frame with a valid
checksum and MAC but sequence number 2^63: pktgen loops for ever in
seen_mark (host/cli/traffic.c: `bits *= 2` wraps to 0). With 2^35 it grows
its bitmap to 8 GiB for one frame; under a 2 GiB address-space limit (as
here, to keep the machine safe) the allocation fails and the frame is
counted as received, so a forged frame passes.

The fix must make true: a frame whose sequence number pktgen never sent is
corrupted (it cannot be a duplicate or received): pktgen ends promptly with
exit 1 and counts it in `corrupted`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

LIMIT = ["prlimit", "--as=2147483648", "--"]
for seq in (1 << 63, 1 << 35):
    name = f"f7-{seq.bit_length() - 1}"
    create(name)
    evil = start([os.path.join(TOOLS, "evil_fwd"), name, "--seq", str(seq), "--at", "100"])
    if not wait_ready(name):
        not_ok(f"evil_fwd READY: {output(evil)[1].strip()}")
        continue
    status, out, err = run(LIMIT + [IVSHM, "pktgen", name, "--count", "5000", "--timeout", "3",
                                    "--json", *PKTGEN_CPU], timeout=10)
    summary = None
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    check(status == 1 and summary is not None and summary["corrupted"] >= 1,
          f"pktgen given one frame numbered 2^{seq.bit_length() - 1}: {describe(status)}, "
          f"corrupted {summary['corrupted'] if summary else '?'}",
          "it must end and count the forged frame as corrupted")
    evil.kill()
finish()
