#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The table of `make soak`: for each run (host, ASan/UBSan, guest) written
by run_scribble.py --json, per region the pktgen runs, how they ended, the
repair, and the frames the clean pktgen after it lost.

    tests/hostile/soak_summary.py RUN.json...

Exit 0 iff every file exists and every region of every run passed."""
import json
import sys

failed = False
print("| run | region | pktgen runs | pktgen exits | repair | after repair: pktgen, lost | problems |")
print("|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    try:
        run = json.load(open(path))
    except (OSError, ValueError) as e:
        print(f"| {path} | | | | | | missing: {e} |")
        failed = True
        continue
    kind = "guest" if run["guest"] else "host ASan/UBSan" if run["asan"] else "host"
    kind += f" ({run['seconds']:g} s/region)"
    for r in run["regions"]:
        exits = ", ".join(f"{k}: {v}" for k, v in r["pktgen_exits"].items())
        rep = r.get("repair")
        if not rep:
            repair, after = "not run", ""
        elif "refused" in rep:
            repair, after = f"refused, exit {rep['repair']} (header/dir)", "n/a"
        else:
            repair = f"exit {rep['repair']}, forwarder {rep['forwarder']}"
            if rep.get("restarted"):
                repair += " (it had ended: restarted)"
            after = f"exit {rep['pktgen']}, lost {rep['lost']}"
        problems = "; ".join(sorted(set(r["problems"]))) or "none"
        failed |= bool(r["problems"])
        print(f"| {kind} | {r['region']} | {r['pktgen_runs']} | {exits} | {repair} | {after} | "
              f"{problems} |")
sys.exit(1 if failed else 0)
