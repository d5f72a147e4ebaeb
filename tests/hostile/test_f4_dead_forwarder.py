#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F4: a forwarder killed while it holds frames blocks all recovery.

Kill pktgen (SIGKILL: its buffers need reclaiming), then kill ivshm-fwd
while it holds frames it could not put into a full tx0 (ctrl shows
received - sent - dropped > 0 on queue 0; when the kill did not catch it
holding any, the test writes the 32 the report saw). A restarted forwarder
inherits those counters (ivshm_fwd_port_init carries them on), so
forwarders_idle() is never true again, and every `ivshm reclaim` and pktgen
fails with "a dead process's buffers are still in flight".

The fix must make true: after the forwarder restarts, `ivshm reclaim`
succeeds (the frames the dead forwarder held belong to the dead pktgen and
come back with its buffers), and a clean pktgen run loses nothing and leaves
the pool full.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

create("f4")
fwd = start_fwd("f4")
check(wait_ready("f4"), "ivshm-fwd READY")
gen = start([IVSHM, "pktgen", "f4", "--count", "100000000", "--keep", *PKTGEN_CPU])
time.sleep(1.5)
gen.send_signal(signal.SIGKILL)
wait(gen, 5)
time.sleep(0.5)  # the forwarder fills tx0, nobody empties it
fwd.send_signal(signal.SIGKILL)
wait(fwd, 5)
seg = Segment("f4")
q0 = objects("f4")["ctrl"]["offset"] + CTRL_Q
received, sent, dropped = seg.u64(q0), seg.u64(q0 + 8), seg.u64(q0 + 16)
held = received - sent - dropped
note(f"killed forwarder's queue 0: received {received} sent {sent} dropped {dropped} "
     f"(held {held})")
if held == 0:
    seg.u64(q0, sent + dropped + 32)
    note("it held nothing when killed: ctrl now says it held 32, as in the report")
seg.close()

fwd = start_fwd("f4")
check(wait_ready("f4"), "a new ivshm-fwd READY")
status, out, err = ivshm("reclaim", "f4", "--timeout", "3", timeout=20)
check(status == 0, f"reclaim after the forwarder restarted: {describe(status)}: "
      f"{(out + err).strip()}", "it cannot recover")
status, summary, err = pktgen("f4", "--count", "20000", "--timeout", "5", timeout=30)
check(status == 0 and summary and summary["lost"] == 0,
      f"a clean pktgen afterwards: {describe(status)}, lost "
      f"{summary['lost'] if summary else '?'}", err.strip())
if status == 0:
    wait(fwd, 10)  # pktgen set EXIT
else:
    fwd.kill()
pool = objects("f4")["pkts"]
check(pool["free_objects"] == pool["count"],
      f"the pool is full again: {pool['free_objects']} of {pool['count']} free")
finish()
