#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Boot tests of the guest runtime: each one boots a guest image in QEMU (TCG)
under a time limit, with isa-debug-exit so the guest's verdict becomes QEMU's
exit status ((code << 1) | 1), and checks what the guest printed.

Run by `make test-boot` through tests/harness (env: BUILD, IVSHM, TEST_TMP).
Prints one "ok - NAME" or "not ok - NAME: why" line per test and a timing
line ("# NAME: 0.23 s") for the figures in docs/guest.md.

    tests/boot/boot_tests.py [NAME_SUBSTRING...]   run a subset
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import guest_qemu  # noqa: E402
from guest_qemu import report  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
IVSHM = os.environ.get("IVSHM", os.path.join(BUILD, "bin", "ivshm"))
TMP = os.environ.get("TEST_TMP") or tempfile.mkdtemp(prefix="ivshm-boot-")
GUEST = os.path.join(BUILD, "guest")
SEGTOOL = os.path.join(BUILD, "tests", "boot", "segtool")

DIRECT_TIMEOUT = 30  # s; a direct boot takes about 0.25 s
UEFI_TIMEOUT = 90    # s; OVMF alone takes about 4 s under TCG

EXIT_OK, EXIT_REJECTED, EXIT_EXCEPTION = 0, 3, 0x70

def status_of(code):
    """QEMU's exit status for guest exit code `code` (isa-debug-exit)."""
    return (code << 1) | 1


def boot(path, image, cmdline="", mem="64M", devices=(), timeout=None, machine="q35"):
    """Boots `image` through `path` ("direct" or "uefi"); returns
    (status, output, seconds from QEMU start to exit)."""
    uefi = path != "direct"
    image_path = os.path.join(GUEST, image + (".efi" if uefi else ".elf"))
    args = guest_qemu.guest_args(image_path, uefi, TMP, cmdline, mem, machine)
    timeout = timeout or (UEFI_TIMEOUT if uefi else DIRECT_TIMEOUT)
    args += list(devices)
    start = time.monotonic()
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=timeout)
        status, raw = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as e:
        status, raw = "timeout", e.stdout or b""
    elapsed = time.monotonic() - start
    return status, raw.decode("utf-8", "replace").replace("\r", ""), elapsed


def tail(output, lines=8):
    return " | ".join(output.strip().splitlines()[-lines:])


# ---- segments ---------------------------------------------------------------

def have_cli():
    return os.access(IVSHM, os.X_OK)


def create_segment(name, size="16M", objects=(("ring", "rx0", 1024), ("memzone", "ctrl", 4096))):
    """Creates a segment, with the ivshm CLI when it is built (else with
    segtool); returns its file path."""
    seg_dir = os.path.join(TMP, "segments")
    os.makedirs(seg_dir, exist_ok=True)
    if have_cli():
        cmd = [IVSHM, "create", name, "--size", size, "--dir", seg_dir]
        for kind, obj, value in objects:
            if kind == "ring":
                cmd += ["--ring", f"name={obj},slots={value}"]
            elif kind == "memzone":
                cmd += ["--memzone", f"name={obj},size={value}"]
            else:
                cmd += ["--mempool", f"name={obj},count={value[0]},size={value[1]}"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return inspect(name)["path"]
    path = os.path.join(seg_dir, name)
    specs = []
    for kind, obj, value in objects:
        if kind == "mempool":
            specs.append(f"mempool:{obj}:{value[0]}:{value[1]}")
        else:
            specs.append(f"{kind}:{obj}:{value}")
    subprocess.run([SEGTOOL, "create", path, size, name] + specs, check=True)
    return path


def inspect(name):
    out = subprocess.run([IVSHM, "inspect", name, "--json", "--dir",
                          os.path.join(TMP, "segments")],
                         check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def expected_objects(name, path):
    """The probe's object lines for a segment, from `ivshm inspect --json`
    (or segtool list when the CLI is not built)."""
    if have_cli():
        info = inspect(name)
        return {f"object segment={info['name']} type={o['type']} name={o['name']} "
                f"offset={o['offset']} length={o['length']}" for o in info["objects"]}
    out = subprocess.run([SEGTOOL, "list", path], check=True, stdout=subprocess.PIPE).stdout
    return set(out.decode().splitlines())


def segment_devices(paths, behind_root_ports=False):
    """QEMU arguments attaching each file as an ivshmem-plain device; with
    behind_root_ports, each sits behind its own pcie-root-port (packed 8
    functions to a slot: q35's root bus has too few free slots for 32)."""
    args = []
    for i, path in enumerate(paths):
        size = os.path.getsize(path)
        args += ["-object", f"memory-backend-file,id=seg{i},mem-path={path},size={size},share=on"]
        if behind_root_ports:
            slot, fn = 2 + i // 8, i % 8
            mf = ",multifunction=on" if fn == 0 else ""
            args += ["-device", f"pcie-root-port,id=rp{i},bus=pcie.0,chassis={i + 1},"
                                f"addr={slot:#x}.{fn:#x}{mf}",
                     "-device", f"ivshmem-plain,memdev=seg{i},bus=rp{i}"]
        else:
            args += ["-device", f"ivshmem-plain,memdev=seg{i}"]
    return args


def probe_lines(output):
    # Firmware text may precede the first line without a newline
    # ("Booting from ROM..ivshm-probe: ...").
    tag = "ivshm-probe: "
    return [line[line.index(tag) + len(tag):] for line in output.splitlines() if tag in line]


# ---- tests ------------------------------------------------------------------

def test_hello(path):
    status, out, t = boot(path, "hello", "alpha=1 beta")
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}, want {status_of(EXIT_OK)}: {tail(out)}"
    elif "hello: done" not in out or f"boot={'multiboot' if path == 'direct' else 'uefi'}" not in out:
        problem = f"missing output: {tail(out)}"
    elif "hello: argv[1]=alpha=1" not in out or "hello: argv[2]=beta" not in out:
        problem = f"command line not passed: {tail(out)}"
    report(f"hello boots ({path})", problem, t)


def test_uefi_load_options():
    """Load options as the UEFI shell passes them ("hello.efi alpha=1 beta"):
    no BOOTX64.EFI, so OVMF falls back to its shell, which runs startup.nsh."""
    esp = tempfile.mkdtemp(prefix="esp-shell-", dir=TMP)
    shutil.copy(os.path.join(GUEST, "hello.efi"), os.path.join(esp, "hello.efi"))
    with open(os.path.join(esp, "startup.nsh"), "w") as f:
        f.write("fs0:\r\nhello.efi alpha=1 beta\r\n")
    args = ["qemu-system-x86_64", "-machine", "q35", "-m", "64M", "-nographic", "-nic", "none",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-bios", guest_qemu.OVMF, "-drive", f"format=raw,file=fat:rw:{esp}"]
    start = time.monotonic()
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=UEFI_TIMEOUT)
        status, out = proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        status, out = "timeout", (e.stdout or b"").decode("utf-8", "replace")
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}: {tail(out)}"
    elif "hello: argv[1]=alpha=1" not in out or "hello: argv[2]=beta" not in out:
        problem = f"load options not passed: {tail(out)}"
    report("UEFI load options from the shell reach argv", problem, time.monotonic() - start)


def test_min_ram(mem):
    status, out, t = boot("direct", "hello", mem=mem)
    problem = None if status == status_of(EXIT_OK) and "hello: done" in out else \
        f"QEMU status {status}: {tail(out)}"
    report(f"hello boots with -m {mem} (direct)", problem, t)


def test_fault(path, kind, vector, extra=""):
    status, out, t = boot(path, "hello", f"fault={kind}")
    problem = None
    want = f"guest: EXCEPTION vector={vector} "
    if status != status_of(EXIT_EXCEPTION):
        problem = f"QEMU status {status}, want {status_of(EXIT_EXCEPTION)}: {tail(out)}"
    elif want not in out or "backtrace:" not in out or "#1 0x" not in out:
        problem = f"no exception report with a backtrace: {tail(out)}"
    elif extra and extra not in out:
        problem = f"missing '{extra}': {tail(out)}"
    report(f"fault={kind} caught by the exception handler ({path})", problem, t)


def check_probe(out, segments, rejected=()):
    """segments: [(name, path)] that must be listed, object for object.
    rejected: reason substrings, one per device that must be rejected."""
    lines = probe_lines(out)
    want_objects = set()
    for name, path in segments:
        want_objects |= {line for line in expected_objects(name, path)}
    got_objects = {l for l in lines if l.startswith("object ")}
    if got_objects != want_objects:
        missing = sorted(want_objects - got_objects)[:3]
        extra = sorted(got_objects - want_objects)[:3]
        return f"objects differ from inspect: missing {missing} unexpected {extra}"
    devices = [l for l in lines if l.startswith("device ")]
    names = sorted(l.split(" segment=")[1].split()[0] for l in devices)
    if names != sorted(n for n, _ in segments):
        return f"devices {names}, want {sorted(n for n, _ in segments)}"
    rejected_lines = [l for l in lines if l.startswith("rejected ")]
    for reason in rejected:
        if not any(reason in l for l in rejected_lines):
            return f"no rejection with reason '{reason}' in {rejected_lines}"
    if len(rejected_lines) != len(rejected):
        return f"{len(rejected_lines)} devices rejected, want {len(rejected)}: {rejected_lines}"
    done = f"done devices={len(segments)} objects={len(want_objects)} rejected={len(rejected)}"
    if done not in lines:
        return f"want '{done}': {tail(out)}"
    return None


def test_probe(path, count, behind_root_ports, size="16M"):
    segments = []
    for i in range(count):
        name = f"{path[0]}{count}s{i}"
        objects = [("ring", "rx0", 1024), ("ring", "tx0", 512), ("memzone", "ctrl", 4096)]
        if i == 0:
            objects.append(("mempool", "pkts", (256, 2048)))
        segments.append((name, create_segment(name, size, objects)))
    status, out, t = boot(path, "probe", devices=segment_devices([p for _, p in segments],
                                                                 behind_root_ports))
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}, want {status_of(EXIT_OK)}: {tail(out)}"
    else:
        problem = check_probe(out, segments)
    where = "behind root ports" if behind_root_ports else "on the root bus"
    report(f"probe finds {count} segment(s) {where} ({path})", problem, t)


def test_i440fx():
    """The pc machine has no MCFG: config space through ports 0xCF8/0xCFC."""
    name = "pc1"
    seg = create_segment(name, "16M")
    status, out, t = boot("direct", "probe", "verbose", devices=segment_devices([seg]),
                          machine="pc")
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}: {tail(out)}"
    elif "via ports 0xCF8/0xCFC" not in out:
        problem = f"did not use the config ports: {tail(out)}"
    else:
        problem = check_probe(out, [(name, seg)])
    report("probe on i440fx through config ports (direct)", problem, t)


def test_high_bar(path):
    """A segment large enough that the firmware places BAR2 above 4 GiB."""
    name = f"{path[0]}big"
    seg = create_segment(name, "4G")
    status, out, t = boot(path, "probe", devices=segment_devices([seg]))
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}: {tail(out)}"
    else:
        problem = check_probe(out, [(name, seg)])
        bar = [l for l in probe_lines(out) if l.startswith("device ")]
        if not problem and bar and int(bar[0].split("bar2=")[1].split()[0], 16) < (1 << 32):
            problem = f"BAR2 below 4 GiB, test does not test the high mapping: {bar[0]}"
    report(f"probe maps a 4 GiB BAR2 above 4 GiB ({path})", problem, t)


def test_qemu_args(path):
    """The acceptance line: devices from `ivshm qemu-args` (needs the CLI)."""
    name = f"{path[0]}qa"
    if not have_cli():
        report(f"probe with `ivshm qemu-args` ({path}) # SKIP no CLI", None)
        return
    seg = create_segment(name, "16M")
    args = subprocess.run([IVSHM, "qemu-args", name, "--dir", os.path.join(TMP, "segments")],
                          check=True, stdout=subprocess.PIPE).stdout.decode().split()
    status, out, t = boot(path, "probe", devices=args)
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}: {tail(out)}"
    else:
        problem = check_probe(out, [(name, seg)])
    report(f"probe with `ivshm qemu-args` ({path})", problem, t)


CORRUPTIONS = {
    "magic": "bad magic",
    "version": "ABI version",
    "checksum": "checksum mismatch",
    "past-end": "past the segment end",
    "overlap": "overlaps",
    "huge-count": "object count",
    "unterminated-name": "not terminated",
}


def test_corrupt(kind, reason, good):
    bad = os.path.join(TMP, f"bad-{kind}")
    subprocess.run([SEGTOOL, "corrupt", good[1], bad, kind], check=True)
    status, out, t = boot("direct", "probe", devices=segment_devices([good[1], bad]))
    problem = None
    if status != status_of(EXIT_REJECTED):
        problem = f"QEMU status {status}, want {status_of(EXIT_REJECTED)}: {tail(out)}"
    elif "EXCEPTION" in out:
        problem = f"fault while validating: {tail(out)}"
    elif "segment rejected: " not in out:
        problem = "the runtime printed no 'segment rejected' line"
    else:
        problem = check_probe(out, [good], rejected=[reason])
    report(f"corrupted segment ({kind}) rejected: '{reason}'", problem, t)


def test_not_a_segment(good):
    plain = os.path.join(TMP, "plain-ivshmem")
    with open(plain, "wb") as f:
        f.truncate(2 << 20)
    status, out, t = boot("direct", "probe", devices=segment_devices([good[1], plain]))
    problem = None
    if status != status_of(EXIT_OK):
        problem = f"QEMU status {status}, want {status_of(EXIT_OK)}: {tail(out)}"
    elif not any(l.startswith("skipped ") and "not an ivshm segment" in l
                 for l in probe_lines(out)):
        problem = f"no 'skipped' line: {tail(out)}"
    else:
        problem = check_probe(out, [good])
    report("plain IVSHMEM device (not a segment) skipped", problem, t)


def main():
    only = sys.argv[1:]
    os.makedirs(TMP, exist_ok=True)

    def want(name):
        return not only or any(o in name for o in only)

    tests = [
        ("hello-direct", lambda: test_hello("direct")),
        ("hello-uefi", lambda: test_hello("uefi")),
        ("uefi-load-options", test_uefi_load_options),
        ("ram-32M", lambda: test_min_ram("32M")),
        ("fault-pf-direct", lambda: test_fault("direct", "pf", 14, "cr2=0x00004000deadb000")),
        ("fault-ud-direct", lambda: test_fault("direct", "ud", 6)),
        ("fault-de-direct", lambda: test_fault("direct", "de", 0)),
        ("fault-stack-direct", lambda: test_fault("direct", "stack", 14, "stack overflow")),
        ("fault-stack-uefi", lambda: test_fault("uefi", "stack", 14, "stack overflow")),
        ("fault-pf-uefi", lambda: test_fault("uefi", "pf", 14, "cr2=0x00004000deadb000")),
        ("probe-1-direct", lambda: test_probe("direct", 1, False)),
        ("probe-1-uefi", lambda: test_probe("uefi", 1, False)),
        ("probe-4-direct", lambda: test_probe("direct", 4, True)),
        ("probe-4-uefi", lambda: test_probe("uefi", 4, True)),
        ("probe-32-direct", lambda: test_probe("direct", 32, True, "2M")),
        ("probe-32-uefi", lambda: test_probe("uefi", 32, True, "2M")),
        ("i440fx-direct", test_i440fx),
        ("qemu-args-direct", lambda: test_qemu_args("direct")),
        ("qemu-args-uefi", lambda: test_qemu_args("uefi")),
        ("high-bar-direct", lambda: test_high_bar("direct")),
        ("high-bar-uefi", lambda: test_high_bar("uefi")),
    ]
    good = None
    for kind, reason in CORRUPTIONS.items():
        tests.append((f"corrupt-{kind}", lambda k=kind, r=reason: test_corrupt(k, r, good)))
    tests.append(("not-a-segment", lambda: test_not_a_segment(good)))

    if any(want(n) for n, _ in tests if n.startswith(("corrupt", "not-a"))):
        good = ("good", create_segment("good", "2M", [("ring", "rx0", 64), ("memzone", "a", 4096),
                                                      ("memzone", "b", 4096)]))
    for name, run in tests:
        if want(name):
            try:
                run()
            except Exception as e:  # a broken helper fails the test, not the run
                report(name, f"{type(e).__name__}: {e}")
    return 1 if guest_qemu.failures else 0


if __name__ == "__main__":
    sys.exit(main())
