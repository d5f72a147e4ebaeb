#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic under a hostile peer: for each region, the scribbler writes into
a live fwd segment while a forwarder runs and pktgen runs in a loop; then
everything is stopped and checked.

    tests/hostile/run_scribble.py [--regions R,R...] [--seconds S] [--rate N]
        [--seed N] [--guest] [--asan] [--repair] [--json FILE]

Per region it checks: no crash (every process ends with an exit status, none
by a signal, no sanitizer report), no hang (each ends within its timeout),
and every failing pktgen says why in one line. With --repair it then runs
`ivshm repair` with the forwarder still running (the same ivshm-fwd, the
same VM: repair pauses and resumes it through ctrl; a forwarder that ended
because the scribbler wrote EXIT into ctrl is started again), and requires
one clean pktgen through it to lose nothing. In the header and dir regions
the damage is not repairable in place (docs/abi.md 6): there `ivshm repair`
must refuse in one line, exit 1, and no pktgen is run.

--guest forwards with fwd.elf in QEMU (build/guest/fwd.elf) instead of
build/bin/ivshm-fwd; --asan uses ivshm and ivshm-fwd from build/asan/bin
(make hostile-asan). Prints ok / not ok per region and a summary table;
--json writes the figures. Exit 0 iff every region passed.
"""
import argparse
import json
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REGIONS = ["ring-ctrl", "ring-slots", "free-ctrl", "free-slots", "state", "ctrl", "header",
           "dir", "party", "data"]

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--regions", default=",".join(REGIONS))
ap.add_argument("--seconds", type=float, default=5, help="scribbling time per region")
ap.add_argument("--rate", type=int, default=2000, help="writes per second")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--guest", action="store_true")
ap.add_argument("--asan", action="store_true")
ap.add_argument("--repair", action="store_true")
ap.add_argument("--json")
opts = ap.parse_args()
if opts.asan:
    os.environ["IVSHM_BIN_DIR"] = os.path.join(os.environ.get("BUILD", "build"), "asan", "bin")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import hostile as h  # noqa: E402

PKTGEN_TIMEOUT = 2  # pktgen's own --timeout
PKTGEN_LIMIT = 30  # wall-clock seconds after which a pktgen run counts as hung
if opts.asan:
    PKTGEN_LIMIT = 60


class Traffic(threading.Thread):
    """pktgen in a loop until stopped; records how each run ended."""

    def __init__(self, name):
        super().__init__(daemon=True)
        self.name_ = name
        self.stop = threading.Event()
        self.runs = []  # (status, seconds, stderr, summary or None)
        self.current = None
        self.halted = None  # the run we sent SIGTERM to

    def run(self):
        while not self.stop.is_set():
            t0 = time.time()
            p = h.start([h.IVSHM, "pktgen", self.name_, "--count", "20000", "--timeout",
                         str(PKTGEN_TIMEOUT), "--keep", "--json", *h.PKTGEN_CPU])
            self.current = p
            status = h.wait(p, PKTGEN_LIMIT)
            if status == -signal.SIGTERM and p is self.halted:
                status = "stopped"  # our SIGTERM, before pktgen set its handler
            out, err = h.output(p)
            summary = None
            try:
                summary = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                pass
            self.runs.append((status, time.time() - t0, err, summary))
            if status != 0:
                time.sleep(0.2)  # a failing run fails fast: do not spin

    def halt(self):
        """Stops the loop: SIGTERM to the run in progress, which must end."""
        self.stop.set()
        p = self.current
        if p and p.poll() is None:
            self.halted = p
            p.send_signal(signal.SIGTERM)
        self.join(PKTGEN_LIMIT + 5)


def start_forwarder(name):
    if not opts.guest:
        return h.start_fwd(name), None
    import guest_qemu
    image = os.path.join(h.BUILD, "guest", "fwd.elf")
    args = guest_qemu.guest_args(image, False, h.TMP, "")
    args += h.ivshm("qemu-args", name)[1].split()
    p = h.start((["taskset", "-c", "1"] if h.PIN else []) + args)
    return p, p.out_file.name


def stop_forwarder(name, fwd):
    """EXIT through ctrl (written even if a peer scribbled it); the forwarder
    must end. Returns its status."""
    try:
        seg = h.Segment(name)
        ctrl = seg_ctrl_offset(name, seg)
        if ctrl is not None:
            seg.u32(ctrl + h.CTRL_STATE, h.FWD_EXIT)
        seg.close()
    except (OSError, ValueError):
        pass
    status = h.wait(fwd, 20)
    return status


_ctrl_offsets = {}


def seg_ctrl_offset(name, seg=None):
    return _ctrl_offsets.get(name)


UNREPAIRABLE = ("header", "dir")  # docs/abi.md 6


def repair(name, region, fwd, vm_log, problems):
    """`ivshm repair` with the forwarder as the scribbler left it, then one
    clean pktgen (--keep: the forwarder is stopped by the caller). Returns
    the record, and the forwarder (restarted only if it had ended)."""
    status, out, err = h.ivshm("repair", name, "--json", timeout=60)
    record = {"repair": status, "forwarder": None, "restarted": False, "pktgen": None,
              "lost": None}
    try:
        record["forwarder"] = json.loads(out)["forwarder"]
    except ValueError:
        pass
    if region in UNREPAIRABLE:
        why = h.one_line_error(err)
        if status != 1 or why or "cannot repair" not in err:
            problems.append(f"repair of {region} damage: {h.describe(status)}, "
                            f"{why or err.strip()[:160]!r} (want exit 1, 'cannot repair')")
        record["refused"] = err.strip()
        return record, fwd, vm_log
    if status != 0:
        problems.append(f"repair: {h.describe(status)}: {(out + err).strip()[:160]}")
    if fwd.poll() is not None:
        # The scribbler wrote EXIT (ctrl region): the forwarder finished, as it
        # should. Start another (for the guest: boot the VM again).
        record["restarted"] = True
        fwd, vm_log = start_forwarder(name)
    if not h.wait_ready(name, 60 if opts.guest else 10):
        problems.append("after repair: no forwarder READY")
    pstatus, summary, perr = h.pktgen(name, "--count", "10000", "--timeout", "5", "--keep",
                                      timeout=PKTGEN_LIMIT)
    record["pktgen"] = pstatus
    record["lost"] = summary["lost"] if summary else None
    if pstatus != 0 or not summary or summary["lost"] != 0:
        problems.append(f"after repair ({(out + err).strip()[:100]}) pktgen "
                        f"{h.describe(pstatus)}, lost {summary['lost'] if summary else '?'}: "
                        f"{perr.strip()[:120]}")
    return record, fwd, vm_log


def region_run(region, index):
    name = f"scr-{region}"
    h.create(name)
    _ctrl_offsets[name] = h.objects(name)["ctrl"]["offset"]
    fwd, vm_log = start_forwarder(name)
    problems = []
    if not h.wait_ready(name, 60 if opts.guest else 10):
        problems.append("forwarder never READY")
    traffic = Traffic(name)
    traffic.start()
    time.sleep(0.5)
    scr = h.start([os.path.join(h.TOOLS, "scribble"), name, "--region", region, "--rate",
                   str(opts.rate), "--duration", str(opts.seconds), "--seed",
                   str(opts.seed + index)])
    scr_status = h.wait(scr, opts.seconds + 10)
    scr_line = (h.output(scr)[0] + h.output(scr)[1]).strip()
    traffic.halt()
    hung = traffic.is_alive()
    repaired = None
    if opts.repair:
        repaired, fwd, vm_log = repair(name, region, fwd, vm_log, problems)
    fwd_status = stop_forwarder(name, fwd)
    fwd_err = h.output(fwd)[1] if not opts.guest else open(vm_log, errors="replace").read()

    statuses, errors = {}, {}
    frames = {"sent": 0, "lost": 0, "corrupted": 0, "duplicated": 0, "reordered": 0, "stalled": 0}
    for status, _, err, summary in traffic.runs:
        statuses[status] = statuses.get(status, 0) + 1
        if err.strip():
            # the message without the numbers, to count kinds of failure
            line = re.sub(r"0x[0-9a-f]+|[0-9]+", "N", err.strip().splitlines()[0].split(": ", 2)[-1])
            errors[line] = errors.get(line, 0) + 1
        for k in frames:
            frames[k] += int(summary[k]) if summary else 0
        if isinstance(status, int) and status < 0:
            problems.append(f"pktgen {h.describe(status)}")
        elif status == "timeout":
            problems.append(f"pktgen hung (> {PKTGEN_LIMIT} s)")
        elif h.SANITIZER.search(err):
            problems.append("pktgen sanitizer report: " + err.strip().splitlines()[0][:160])
        elif status not in (0, 1, "stopped"):
            problems.append(f"pktgen exit {status}")
        elif status == 1 and h.one_line_error(err) and "lost" not in err:
            # exit 1 with a summary (frames lost) prints no error; else one line
            if err.strip():
                problems.append("pktgen: " + h.one_line_error(err))
    if hung:
        problems.append("the pktgen loop did not stop")
    if scr_status != 0:
        problems.append(f"scribbler {h.describe(scr_status)}: {scr_line}")
    if fwd_status == "timeout":
        problems.append("forwarder did not stop on EXIT (killed)")
    elif isinstance(fwd_status, int) and fwd_status < 0:
        problems.append(f"forwarder {h.describe(fwd_status)}")
    if h.SANITIZER.search(fwd_err):
        problems.append("forwarder sanitizer report")
    if opts.guest and ("exception" in fwd_err.lower() or "fault" in fwd_err.lower()):
        problems.append("guest fault: " + fwd_err.strip().splitlines()[-1][:160])

    h.ivshm("destroy", name, "--force")
    return {
        "region": region,
        "pktgen_runs": len(traffic.runs),
        "pktgen_exits": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "forwarder": h.describe(fwd_status),
        "scribbler": scr_line,
        "errors": errors,
        "frames": frames,
        "repair": repaired,
        "problems": problems,
    }


results = []
for i, region in enumerate(opts.regions.split(",")):
    r = region_run(region, i)
    results.append(r)
    exits = ", ".join(f"{k}: {v}" for k, v in r["pktgen_exits"].items())
    what = (f"{region}: {r['pktgen_runs']} pktgen runs (exits {exits or 'none'}), "
            f"forwarder {r['forwarder']}")
    rep = r["repair"]
    if rep and "refused" in rep:
        what += f"; repair refused as documented ({h.describe(rep['repair'])})"
    elif rep:
        what += (f"; repair {h.describe(rep['repair'])} (forwarder {rep['forwarder']}"
                 f"{', restarted after' if rep['restarted'] else ''}), then pktgen "
                 f"{h.describe(rep['pktgen'])}, lost {rep['lost']}")
    h.note(r["scribbler"])
    h.note(f"{region}: frames " + " ".join(f"{k} {v}" for k, v in r["frames"].items()) +
           "; errors: " +
           ("; ".join(f"{n} x {e}" for e, n in r["errors"].items()) or "none"))
    if r["problems"]:
        h.not_ok(f"{what}: " + "; ".join(sorted(set(r["problems"]))))
    else:
        h.ok(what)
if opts.json:
    json.dump({"seconds": opts.seconds, "rate": opts.rate, "seed": opts.seed,
               "guest": opts.guest, "asan": opts.asan, "regions": results},
              open(opts.json, "w"), indent=1)
h.finish()
