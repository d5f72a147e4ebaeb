# SPDX-License-Identifier: BSD-3-Clause
# gdb script for the ivshm guest runtime. QEMU must run with -s -S (gdb stub
# on :1234, CPU stopped at reset). See docs/guest.md.
#
# Direct boot (symbols at their link addresses):
#     gdb -x guest_rt/gdb/guest.gdb build/guest/probe.sym.elf
# UEFI (symbols relocated to where OVMF loaded the image):
#     gdb -x guest_rt/gdb/guest.gdb
#     (gdb) uefi-symbols build/guest/probe.efi.so 0x<image base>
set pagination off
set confirm off
target remote localhost:1234

# Hardware breakpoints: the image is copied into RAM after gdb attaches,
# which would overwrite software breakpoint bytes.
define uefi-symbols
  add-symbol-file $arg0 -o $arg1
end
document uefi-symbols
uefi-symbols FILE.efi.so BASE: load the UEFI image's symbols at BASE, the
image base the runtime prints with the `verbose` command-line word
("guest: boot=uefi image=0x...").
end

define guest-start
  hbreak rt_start
  continue
end
document guest-start
Runs to rt_start, where both boot paths enter the common runtime.
end
