/* SPDX-License-Identifier: BSD-3-Clause */
/* The memory map both boot paths hand over (boot_info.h). */
#include "boot_info.h"

void boot_info_add_range(struct boot_info *info, uint64_t base, uint64_t length, uint32_t type)
{
    if (length == 0)
        return;
    /* Merge with the previous range when contiguous and alike: UEFI maps
     * have many small neighbours. */
    if (info->mem_range_count) {
        struct boot_mem_range *last = &info->mem_ranges[info->mem_range_count - 1];
        if (last->type == type && last->base + last->length == base) {
            last->length += length;
            return;
        }
    }
    if (info->mem_range_count >= BOOT_MAX_MEM_RANGES)
        return;
    struct boot_mem_range *r = &info->mem_ranges[info->mem_range_count++];
    r->base = base;
    r->length = length;
    r->type = type;
}
