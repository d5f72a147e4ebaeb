#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F2: reclaim treats a party that is mid-claim as dead.

reclaim_dead (host/cli/pktgen.c) counts a CLAIMING slot whose
ivshm_party_alive() is false as dead, and ivshm_party_alive() is false for
every CLAIMING slot: it then rebuilds the free ring under a live process and
releases the slot that process is filling in. A process that claims, gets,
puts and releases in a loop while `ivshm reclaim` runs in a loop hangs in
the free ring's tail wait (4 of 4 runs in the red-team pass).

The fix must make true: a slot in CLAIMING whose process is alive is left
alone by reclaim and pktgen (it holds no buffers yet, and its claimer will
publish ALIVE); claim and reclaim running together never hang and lose no
buffer.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

# Deterministic: a live process caught in the middle of its claim.
create("f2a")
sleeper, start_time = live_pid()
seg = Segment("f2a")
slot = PARTY_OFFSET + 5 * PARTY_SIZE
seg.u32(slot + 4, 1)  # kind: host
seg.u64(slot + 8, sleeper.pid)
seg.u64(slot + 16, start_time)
seg.u32(slot + 0, 3)  # state: CLAIMING
status, out, err = ivshm("reclaim", "f2a", "--timeout", "2", timeout=15)
state = seg.u32(slot)
check(state == 3,
      f"reclaim leaves alone the slot a live process is claiming (state {state}, "
      f"reclaim {describe(status)}: {(out + err).strip()})",
      "it released it (GONE = 2) and rebuilt the free ring under that process")
seg.close()
sleeper.kill()

# The race of the report: claim/get/put/release in a loop against reclaim in a loop.
create("f2b")
churn = start([os.path.join(TOOLS, "party_tool"), "churn", "f2b", "--seconds", "4"])
hung, runs, end = 0, 0, time.time() + 4
while time.time() < end:
    status, out, err = ivshm("reclaim", "f2b", "--timeout", "2", timeout=10)
    runs += 1
    if status == "timeout":
        hung += 1
        break
churn_status = wait(churn, 10)
check(hung == 0, f"{runs} reclaims against a claiming/releasing process: none hangs",
      f"reclaim run {runs} did not end")
check(churn_status == 0, f"the churning process ends on time ({describe(churn_status)}, "
      f"{output(churn)[0].strip()})", "it hung in a ring wait")
if churn_status == 0 and hung == 0:
    pool = objects("f2b")["pkts"]
    check(pool["free_objects"] == pool["count"],
          f"no buffer lost: {pool['free_objects']} of {pool['count']} free")
finish()
