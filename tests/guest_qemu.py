# SPDX-License-Identifier: BSD-3-Clause
"""What the QEMU test programs (tests/boot, tests/fwd) share: the command line
that boots a guest image, and the "ok" / "not ok" lines tests/harness counts.

    sys.path.insert(0, <the tests directory>); import guest_qemu
"""
import os
import shutil
import sys
import tempfile

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
