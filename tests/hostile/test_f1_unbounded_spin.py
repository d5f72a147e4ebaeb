#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Issue 13 F1: an unbounded spin on a value a peer writes.

Reproduction: add 5 to cons.head of the pool's free ring (offset of `pkts`
+ 128) of a live fwd segment, as a consumer that reserved 5 entries and died
before publishing its tail leaves it. The next pktgen spins for ever in the
MP/MC tail wait (ivshm__ring_wait_tail, from the mempool refill in
send_all), ignoring --timeout, SIGTERM and SIGINT.

The fix must make true: every wait on a value a peer writes is bounded and
interruptible. `pktgen --timeout 3` ends within a few seconds, either with
exit 1 and one line naming the ring and what it waited for, or (if it
repairs the ring first) with exit 0 and nothing lost; SIGTERM and SIGINT end
it within 3 s.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import *  # noqa: E402,F401,F403


def broken_segment(name):
    """A fwd segment with a forwarder, its free ring's cons.head 5 ahead."""
    create(name)
    fwd = start_fwd(name)
    if not wait_ready(name):
        raise RuntimeError("ivshm-fwd did not become READY")
    seg = Segment(name)
    ring = objects(name)["pkts"]["offset"]
    seg.u32(ring + RING_CONS_HEAD, seg.u32(ring + RING_CONS_TAIL) + 5)
    seg.close()
    return fwd


# --timeout is honoured.
fwd = broken_segment("f1a")
t0 = time.time()
status, summary, err = pktgen("f1a", "--count", "1000", "--timeout", "3", timeout=15)
took = time.time() - t0
if status == "timeout":
    not_ok(f"pktgen --timeout 3 with cons.head 5 ahead: still running after {took:.0f} s")
elif status == 1:
    problem = one_line_error(err)
    check(problem is None, f"pktgen --timeout 3 ends in {took:.1f} s with one line: {err.strip()}",
          problem or "")
else:
    check(status == 0 and summary and summary["lost"] == 0,
          f"pktgen --timeout 3 ends in {took:.1f} s ({describe(status)}) with nothing lost",
          f"summary {summary}, stderr {err.strip()!r}")
fwd.kill()

# Signals are honoured while it waits.
for sig in (signal.SIGTERM, signal.SIGINT):
    name = f"f1{sig.name[3:].lower()}"
    fwd = broken_segment(name)
    p = start([IVSHM, "pktgen", name, "--count", "100000", "--timeout", "30", *PKTGEN_CPU])
    time.sleep(1.5)
    p.send_signal(sig)
    t0 = time.time()
    status = wait(p, 5)
    check(status != "timeout",
          f"pktgen waiting on the stuck free ring ends on {sig.name} "
          f"({describe(status)} after {time.time() - t0:.1f} s)",
          "it ignored the signal")
    fwd.kill()

finish()
