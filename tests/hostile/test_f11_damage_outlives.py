#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F11: damage outlives the attacker.

The scribbler writes into one region of a live fwd segment while traffic
runs; then everything is stopped and restarted (forwarder, reclaim, clean
pktgen runs). In four regions the damage stays: ring control (rings stay
garbage, every pktgen and reclaim fails), ring slots and state bytes
(buffers stuck as allocated by parties that are gone), party table (full).
The only way back was destroy and re-create, which means restarting the VM
that holds the memory.

The fix must make true: after the scribbler stops, `ivshm repair NAME`
brings the segment back without re-creating it: a restarted forwarder and
one clean pktgen lose nothing, and the pool is full afterwards.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403

for i, region in enumerate(("ring-ctrl", "ring-slots", "state", "party")):
    name = f"f11-{region}"
    create(name)
    fwd = start_fwd(name)
    wait_ready(name)
    gen = start([IVSHM, "pktgen", name, "--duration", "2", "--timeout", "2", "--keep",
                 *PKTGEN_CPU])
    time.sleep(0.3)
    status, out, err = run([os.path.join(TOOLS, "scribble"), name, "--region", region,
                            "--rate", "5000", "--duration", "1.5", "--seed", str(13 + i)],
                           timeout=10)
    note(out.strip() or err.strip())
    wait(gen, 10)
    fwd.send_signal(signal.SIGKILL)
    wait(fwd, 5)
    # Recovery, as an operator would: repair, restart the forwarder, reclaim, traffic.
    status, out, err = ivshm("repair", name, timeout=20)
    note(f"repair: {describe(status)}: {(out + err).strip()[:200]}")
    fwd = start_fwd(name)
    wait_ready(name, 5)
    status, out, err = ivshm("reclaim", name, "--timeout", "2", timeout=15)
    note(f"reclaim: {describe(status)}: {(out + err).strip()[:200]}")
    status, summary, err = pktgen(name, "--count", "20000", "--timeout", "2", timeout=20)
    pool = objects(name)["pkts"] if ivshm("inspect", name)[0] == 0 else None
    good = status == 0 and summary and summary["lost"] == 0
    full = pool and pool["free_objects"] == pool["count"]
    check(good and full,
          f"{region}: after repair a clean pktgen ({describe(status)}, lost "
          f"{summary['lost'] if summary else '?'}) and a full pool "
          f"({pool['free_objects'] if pool else '?'} of {pool['count'] if pool else '?'})",
          err.strip()[:200])
    fwd.kill()
    wait(fwd, 5)
finish()
