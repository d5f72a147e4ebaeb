/* SPDX-License-Identifier: BSD-3-Clause */
/* Direct boot, 64-bit side: turns the Multiboot information QEMU's -kernel
 * loader leaves us into the common boot-info, then enters the runtime. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot_info.h"
#include "fw_cfg.h"
#include "x86.h"

#define MB_INFO_MEMORY  (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MMAP    (1u << 6)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower_kib;
    uint32_t mem_upper_kib;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
} __attribute__((packed));

struct multiboot_mmap_entry {
    uint32_t size; /* of the rest of the entry, not counting this field */
    uint64_t base;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));

extern char __image_start[], __image_end[]; /* linker/multiboot.ld */

static struct boot_info multiboot_boot_info;

static int rsdp_checksum_ok(const uint8_t *p)
{
    uint8_t sum = 0;
    for (int i = 0; i < 20; i++)
        sum += p[i];
    return sum == 0;
}

static uint64_t scan_for_rsdp(uint64_t start, uint64_t end)
{
    for (uint64_t a = start; a + 20 <= end; a += 16) {
        const uint8_t *p = phys_ptr(a);
        if (memcmp(p, "RSD PTR ", 8) == 0 && rsdp_checksum_ok(p))
            return a;
    }
    return 0;
}

/* ACPI spec 5.2.5.1: the RSDP sits in the first KiB of the EBDA (segment at
 * 0x40E) or in the BIOS area 0xE0000-0xFFFFF, on a 16-byte boundary. */
static uint64_t find_rsdp_legacy(void)
{
    uint64_t ebda = (uint64_t)(*(volatile uint16_t *)phys_ptr(0x40E)) << 4;
    uint64_t found = 0;
    if (ebda >= 0x80000 && ebda < 0xA0000)
        found = scan_for_rsdp(ebda, ebda + 1024);
    if (!found)
        found = scan_for_rsdp(0xE0000, 0x100000);
    return found;
}

__attribute__((noreturn)) void multiboot_main(uint32_t mbi_address);

void multiboot_main(uint32_t mbi_address)
{
    struct boot_info *info = &multiboot_boot_info;
    const struct multiboot_info *mbi = (const void *)(uintptr_t)mbi_address;

    info->boot_path = "multiboot";
    if (mbi->flags & MB_INFO_CMDLINE) {
        const char *cmdline = (const char *)(uintptr_t)mbi->cmdline;
        /* QEMU passes "<kernel path> <-append text>": drop the path. */
        while (*cmdline && *cmdline != ' ')
            cmdline++;
        while (*cmdline == ' ')
            cmdline++;
        size_t n = strnlen(cmdline, BOOT_CMDLINE_MAX - 1);
        memcpy(info->cmdline, cmdline, n);
        info->cmdline[n] = '\0';
    }
    if (mbi->flags & MB_INFO_MMAP) {
        uint64_t at = mbi->mmap_addr, end = at + mbi->mmap_length;
        while (at + sizeof(struct multiboot_mmap_entry) <= end) {
            const struct multiboot_mmap_entry *e = (const void *)(uintptr_t)at;
            uint32_t type = e->type >= 1 && e->type <= 5 ? e->type : BOOT_MEM_RESERVED;
            boot_info_add_range(info, e->base, e->length, type);
            at += e->size + sizeof(e->size);
        }
    } else if (mbi->flags & MB_INFO_MEMORY) {
        boot_info_add_range(info, 0, (uint64_t)mbi->mem_lower_kib << 10, BOOT_MEM_USABLE);
        boot_info_add_range(info, 1 << 20, (uint64_t)mbi->mem_upper_kib << 10, BOOT_MEM_USABLE);
    }
    if (!info->cmdline[0])
        fw_cfg_read_cmdline(info->cmdline, sizeof(info->cmdline));
    info->rsdp_address = find_rsdp_legacy();
    info->image_start = (uint64_t)(uintptr_t)__image_start;
    info->image_end = (uint64_t)(uintptr_t)__image_end;
    rt_start(info);
}
