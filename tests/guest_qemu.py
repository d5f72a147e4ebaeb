# SPDX-License-Identifier: BSD-3-Clause
"""What the QEMU test programs (tests/boot, tests/fwd, tests/doorbell) share:
the command line that boots a guest image, the "ok" / "not ok" lines
tests/harness counts, running pktgen and judging its summary, and a
process's CPU time.

    sys.path.insert(0, <the tests directory>); import guest_qemu
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

OVMF = "/usr/share/ovmf/OVMF.fd"

failures = 0


def report(name, problem, figures=None):
    """One result line; `figures` (a string, or a number of seconds) goes on a
    '#' line before it, for the measurements in the docs."""
    global failures
    if isinstance(figures, (int, float)):
        figures = f"{figures:.2f} s"
    if figures:
        print(f"# {name}: {figures}")
    if problem:
        failures += 1
        print(f"not ok - {name}: {problem}")
    else:
        print(f"ok - {name}")
    sys.stdout.flush()


def guest_args(image, uefi, scratch, cmdline="", mem="64M", machine="q35"):
    """QEMU arguments that boot `image` with isa-debug-exit (guest code V
    becomes QEMU status (V << 1) | 1): an .elf through -kernel, or an .efi
    that OVMF starts from a FAT directory made under `scratch`."""
    args = ["qemu-system-x86_64", "-machine", machine, "-m", mem, "-nographic",
            "-nic", "none", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if not uefi:
        args += ["-kernel", image]
        if cmdline:
            args += ["-append", cmdline]
        return args
    esp = tempfile.mkdtemp(prefix="esp-", dir=scratch)
    os.makedirs(os.path.join(esp, "EFI", "BOOT"))
    shutil.copy(image, os.path.join(esp, "EFI", "BOOT", "BOOTX64.EFI"))
    args += ["-bios", OVMF, "-drive", f"format=raw,file=fat:rw:{esp}"]
    if cmdline:
        # UEFI load options are hard to set without a shell: the runtime also
        # reads its command line from this fw_cfg file (commas doubled: QEMU's
        # option syntax).
        args += ["-fw_cfg", "name=opt/ivshm/cmdline,string=" + cmdline.replace(",", ",,")]
    return args


def pktgen(ivshm, env, name, *args, timeout=240):
    """Runs `ivshm pktgen NAME --json ARGS` to the end; returns (exit status or
    "timeout", summary dict or None, stderr)."""
    try:
        proc = subprocess.run([ivshm, "pktgen", name, "--json", *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None, ""
    try:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        summary = None
    return proc.returncode, summary, proc.stderr.strip()


def summary_problem(summary, count):
    """What is wrong with a pktgen summary for `count` frames, or None."""
    if summary is None:
        return "pktgen printed no JSON summary"
    for key in ("lost", "corrupted", "duplicated", "reordered"):
        if summary[key] != 0:
            return f"{key}={summary[key]} ({summary})"
    if summary["sent"] != count or summary["received"] != count:
        return f"sent={summary['sent']} received={summary['received']}, expected {count}"
    return None


def cpu_seconds(pid):
    """utime + stime of process pid in seconds (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(args, log, env=None):
    """Starts args in the background, stdout and stderr to the file `log`."""
    with open(log, "w") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)


def wait_for(cond, seconds, step=0.02):
    """Polls cond() until it is true or `seconds` pass; returns its last value."""
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def run_cases(cases, wanted, cleanups):
    """Runs the (name, function) cases whose name contains one of `wanted`
    (all when empty), each followed by the functions it left in `cleanups`
    (last first); returns the exit status: 1 when a case failed."""
    for name, fn in cases:
        if wanted and not any(w in name for w in wanted):
            continue
        try:
            fn()
        except Exception as e:  # a broken case must not stop the others
            report(name, f"{type(e).__name__}: {e}")
        finally:
            while cleanups:
                try:
                    cleanups.pop()()
                except Exception:
                    pass
    sys.stdout.flush()
    return 1 if failures else 0
