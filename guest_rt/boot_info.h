/* SPDX-License-Identifier: BSD-3-Clause */
/* The one boot-info both boot paths (Multiboot and UEFI) fill in and hand to
 * the runtime (rt_start). Everything is copied into this struct before the
 * firmware's memory is reused, so the runtime never follows a firmware pointer
 * except the ACPI tables at rsdp_address. */
#ifndef GUEST_BOOT_INFO_H
#define GUEST_BOOT_INFO_H

#include <stdint.h>

enum boot_mem_type {
    BOOT_MEM_USABLE = 1,
    BOOT_MEM_RESERVED = 2,
    BOOT_MEM_ACPI_RECLAIM = 3,
    BOOT_MEM_ACPI_NVS = 4,
    BOOT_MEM_BAD = 5,
};

struct boot_mem_range {
    uint64_t base;
    uint64_t length;
    uint32_t type; /* enum boot_mem_type */
};

#define BOOT_MAX_MEM_RANGES 128
#define BOOT_CMDLINE_MAX    1024

struct boot_info {
    const char *boot_path; /* "multiboot" or "uefi" */
    uint64_t rsdp_address; /* physical address of the ACPI RSDP, 0 if none */
    uint64_t image_start;  /* where this program sits: kept out of the heap */
    uint64_t image_end;
    uint32_t mem_range_count;
    struct boot_mem_range mem_ranges[BOOT_MAX_MEM_RANGES];
    char cmdline[BOOT_CMDLINE_MAX]; /* NUL-terminated, may be empty */
};

/* Appends one range to the map, merging it into the previous one when they
 * are contiguous and of one type (UEFI maps have many small neighbours);
 * ignores what does not fit in BOOT_MAX_MEM_RANGES. */
void boot_info_add_range(struct boot_info *info, uint64_t base, uint64_t length, uint32_t type);

/* Entered once by each boot path, on any stack, with interrupts off, in
 * 64-bit mode with everything below 4 GiB identity-mapped. Never returns. */
__attribute__((noreturn)) void rt_start(const struct boot_info *info);

#endif
