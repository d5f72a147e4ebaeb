/* SPDX-License-Identifier: BSD-3-Clause */
/* 4-level identity paging with 2 MiB pages (1 GiB where CPUID allows).
 *
 * Caching: the PAT is reprogrammed so that entry 1 (PWT) is write-combining;
 * entries used: 0 = WB (no bits), 1 = WC (PWT), 3 = UC (PCD|PWT). RAM and the
 * ivshm shared-memory BARs (ordinary host RAM that both sides must see
 * coherently) are WB; device registers and unknown holes are UC. */
#include <string.h>

#include "rt.h"
#include "x86.h"

#define PTE_PRESENT  (1ull << 0)
#define PTE_WRITABLE (1ull << 1)
#define PTE_PWT      (1ull << 3)
#define PTE_PCD      (1ull << 4)
#define PTE_HUGE     (1ull << 7)
#define PTE_ADDRESS  0x000FFFFFFFFFF000ull

#define MSR_PAT  0x277
#define PAGE_2M  (1ull << 21)
#define PAGE_1G  (1ull << 30)
#define FOUR_GIB (1ull << 32)

/* 1 PML4 + 1 PDPT + 4 PDs cover the first 4 GiB; the rest serves RAM above
 * 4 GiB and high BARs (one PDPT per 512 GiB, one PD per GiB touched). */
#define TABLE_POOL_PAGES 64
static uint64_t table_pool[TABLE_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned tables_used;
static uint64_t *pml4;
static int have_1g_pages;

int paging_has_1g_pages(void)
{
    return have_1g_pages;
}

static uint64_t *table_alloc(void)
{
    if (tables_used >= TABLE_POOL_PAGES)
        return NULL;
    uint64_t *t = table_pool[tables_used++];
    memset(t, 0, 4096);
    return t;
}

static uint64_t attr_bits(enum cache_attr attr)
{
    switch (attr) {
    case CACHE_WB:
        return 0;
    case CACHE_WC:
        return PTE_PWT;
    default:
        return PTE_PCD | PTE_PWT;
    }
}

/* Returns the table an entry points to, creating it (or splitting a 1 GiB
 * page into 2 MiB pages with the same attributes) as needed. */
static uint64_t *next_level(uint64_t *entry, int split_1g)
{
    if ((*entry & PTE_PRESENT) && !(*entry & PTE_HUGE))
        return (uint64_t *)(uintptr_t)(*entry & PTE_ADDRESS);
    uint64_t *t = table_alloc();
    if (!t)
        return NULL;
    if (split_1g && (*entry & PTE_PRESENT)) {
        uint64_t base = *entry & PTE_ADDRESS & ~(PAGE_1G - 1);
        uint64_t flags = *entry & (PTE_PWT | PTE_PCD | PTE_WRITABLE | PTE_PRESENT | PTE_HUGE);
        for (int i = 0; i < 512; i++)
            t[i] = (base + i * PAGE_2M) | flags;
    }
    *entry = (uint64_t)(uintptr_t)t | PTE_PRESENT | PTE_WRITABLE;
    return t;
}

static int map_into(uint64_t phys, uint64_t length, enum cache_attr attr)
{
    uint64_t start = phys & ~(PAGE_2M - 1);
    uint64_t end = (phys + length + PAGE_2M - 1) & ~(PAGE_2M - 1);
    uint64_t flags = PTE_PRESENT | PTE_WRITABLE | PTE_HUGE | attr_bits(attr);

    for (uint64_t a = start; a < end;) {
        uint64_t *pdpt = next_level(&pml4[(a >> 39) & 511], 0);
        if (!pdpt)
            return -1;
        uint64_t *pdpte = &pdpt[(a >> 30) & 511];
        if (have_1g_pages && !(a & (PAGE_1G - 1)) && end - a >= PAGE_1G) {
            *pdpte = a | flags; /* a replaced PD table is simply abandoned */
            a += PAGE_1G;
            continue;
        }
        uint64_t *pd = next_level(pdpte, 1);
        if (!pd)
            return -1;
        pd[(a >> 21) & 511] = a | flags;
        a += PAGE_2M;
    }
    return 0;
}

int paging_is_mapped(uint64_t address)
{
    const uint64_t *pdpt, *pd;
    uint64_t e = pml4[(address >> 39) & 511];
    if (!(e & PTE_PRESENT))
        return 0;
    pdpt = (const uint64_t *)(uintptr_t)(e & PTE_ADDRESS);
    e = pdpt[(address >> 30) & 511];
    if (!(e & PTE_PRESENT))
        return 0;
    if (e & PTE_HUGE)
        return 1;
    pd = (const uint64_t *)(uintptr_t)(e & PTE_ADDRESS);
    return (pd[(address >> 21) & 511] & PTE_PRESENT) != 0;
}

int paging_unmap_page(uint64_t address)
{
    uint64_t e = pml4[(address >> 39) & 511];
    if (!(e & PTE_PRESENT))
        return -1;
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(e & PTE_ADDRESS);
    uint64_t *pd = next_level(&pdpt[(address >> 30) & 511], 1);
    if (!pd)
        return -1;
    uint64_t *pde = &pd[(address >> 21) & 511];
    if (!(*pde & PTE_PRESENT))
        return 0;
    if (*pde & PTE_HUGE) {
        /* Split the 2 MiB page into 4 KiB pages with the same caching (in a
         * 4 KiB entry bit 7 is PAT, not "huge": leave it clear). */
        uint64_t *pt = table_alloc();
        if (!pt)
            return -1;
        uint64_t base = *pde & PTE_ADDRESS & ~(PAGE_2M - 1);
        uint64_t flags = *pde & (PTE_PRESENT | PTE_WRITABLE | PTE_PWT | PTE_PCD);
        for (int i = 0; i < 512; i++)
            pt[i] = (base + (uint64_t)i * 4096) | flags;
        *pde = (uint64_t)(uintptr_t)pt | PTE_PRESENT | PTE_WRITABLE;
    }
    uint64_t *pt = (uint64_t *)(uintptr_t)(*pde & PTE_ADDRESS);
    pt[(address >> 12) & 511] = 0;
    write_cr3(read_cr3());
    return 0;
}

int paging_map(uint64_t phys, uint64_t length, enum cache_attr attr)
{
    int rc = map_into(phys, length, attr);
    write_cr3(read_cr3()); /* flush the TLB */
    return rc;
}

void paging_init(const struct boot_info *info)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a >= 0x80000001) {
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        have_1g_pages = (d >> 26) & 1;
    }
    /* PAT entry 1 (selected by PWT alone) becomes WC; others keep their reset
     * values WB, WT, UC-, UC, WB, WT, UC-, UC. */
    wrmsr(MSR_PAT, 0x0007040600070106ull);

    tables_used = 0;
    pml4 = table_alloc();
    map_into(0, FOUR_GIB, CACHE_UC); /* holes: MMIO, ECAM, APICs */
    for (uint32_t i = 0; i < info->mem_range_count; i++) {
        const struct boot_mem_range *r = &info->mem_ranges[i];
        if (r->type == BOOT_MEM_RESERVED && r->base >= (1ull << 20))
            continue; /* reserved ranges above 1 MiB may be MMIO */
        if (map_into(r->base, r->length, CACHE_WB) < 0)
            break; /* out of tables: the heap keeps to what is mapped */
    }
    /* Our own image: on the UEFI path it is "loader" memory, which the boot
     * map calls reserved, yet it is RAM we run from. */
    if (info->image_end > info->image_start)
        map_into(info->image_start, info->image_end - info->image_start, CACHE_WB);
    write_cr3((uint64_t)(uintptr_t)pml4);
}
