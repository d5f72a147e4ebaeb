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
brings the segment back without re-creating it and without restarting the
forwarder (the VM, for fwd.elf): it pauses the running forwarder through
ctrl and resumes it; one clean pktgen through that same forwarder loses
nothing, and the pool is full afterwards. A forwarder that was killed is
no obstacle either (the repair finds nobody polling; a new one starts).
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
    killed = region == "party"  # one region with the forwarder killed, as before the fix
    if killed:
        fwd.send_signal(signal.SIGKILL)
        wait(fwd, 5)
    status, out, err = ivshm("repair", name, timeout=30)
    note(f"repair: {describe(status)}: {(out + err).strip()[:240]}")
    want = "forwarder not running" if killed else "forwarder paused and resumed"
    check(status == 0 and want in out and (killed or fwd.poll() is None),
          f"{region}: repair {describe(status)} ({want}; the forwarder "
          f"{'was killed' if killed else 'runs on'})", (out + err).strip()[:200])
    if killed:
        fwd = start_fwd(name)
    wait_ready(name, 5)
    status, summary, err = pktgen(name, "--count", "20000", "--timeout", "3", timeout=30)
    pool = objects(name)["pkts"] if ivshm("inspect", name)[0] == 0 else None
    good = status == 0 and summary and summary["lost"] == 0
    full = pool and pool["free_objects"] == pool["count"]
    check(good and full,
          f"{region}: after repair a clean pktgen ({describe(status)}, lost "
          f"{summary['lost'] if summary else '?'}) and a full pool "
          f"({pool['free_objects'] if pool else '?'} of {pool['count'] if pool else '?'})",
          err.strip()[:200])
    check(wait(fwd, 10) == 0, f"{region}: the forwarder ends on pktgen's EXIT")
finish()
