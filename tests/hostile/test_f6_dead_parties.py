#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F6: dead parties lock the segment for good.

16 processes attach, take 10 buffers each and die by SIGKILL: the party
table (16 slots) is full of dead parties. reclaim, pktgen and ivshm-fwd all
fail with "all 16 party slots are taken", because each must claim a slot
before it can free the dead ones.

The fix must make true: reclaim (and repair) need no free party slot; after
it, ivshm-fwd starts, a clean pktgen loses nothing and the 160 buffers are
back in the pool.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

create("f6")
holders = [start([os.path.join(TOOLS, "party_tool"), "hold", "f6", "--take", "10"])
           for _ in range(16)]
end = time.time() + 10
while time.time() < end and not all(output(h)[0].startswith("held") for h in holders):
    time.sleep(0.05)
held = sum(output(h)[0].startswith("held") for h in holders)
check(held == 16, f"16 processes attached and took 10 buffers each ({held} did)")
for h in holders:
    h.send_signal(signal.SIGKILL)
    wait(h, 5)
pool = objects("f6")["pkts"]
note(f"after the kills: {pool['free_objects']} of {pool['count']} free, "
     f"{len(inspect('f6')['parties'])} party slots used")

status, out, err = ivshm("reclaim", "f6", "--timeout", "3", timeout=20)
check(status == 0, f"reclaim with every party slot held by the dead: {describe(status)}: "
      f"{(out + err).strip()}")
fwd = start_fwd("f6")
check(wait_ready("f6", 5), "ivshm-fwd starts", output(fwd)[1].strip())
status, summary, err = pktgen("f6", "--count", "20000", "--timeout", "3", timeout=30)
check(status == 0 and summary and summary["lost"] == 0,
      f"a clean pktgen: {describe(status)}, lost {summary['lost'] if summary else '?'}",
      err.strip())
if wait(fwd, 10) == "timeout":
    note("ivshm-fwd did not stop (pktgen could not set EXIT)")
pool = objects("f6")["pkts"]
check(pool["free_objects"] == pool["count"],
      f"the pool is full again: {pool['free_objects']} of {pool['count']} free")
finish()
