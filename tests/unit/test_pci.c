/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the guest's PCI walk (guest_rt/pci.c) over a fake config
 * space that behaves like hardware for the registers the walk touches: BARs
 * read back their size mask after all-ones is written, bridges route buses. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "../../guest_rt/pci.h"

#define BUSES 8

struct fake_bar {
    uint64_t size; /* 0: not implemented */
    bool io, is64, prefetchable;
};

struct fake_function {
    bool present;
    uint32_t regs[64];
    struct fake_bar bars[6];
};

static struct fake_function space[BUSES][32][8];
static int sizing_with_decode_on; /* all-ones written to a BAR while it decodes */

static struct fake_function *fn_at(uint8_t bus, uint8_t dev, uint8_t fn)
{
    return bus < BUSES && dev < 32 && fn < 8 && space[bus][dev][fn].present ? &space[bus][dev][fn]
                                                                            : NULL;
}

static uint32_t fake_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    (void)ctx;
    struct fake_function *f = fn_at(bus, dev, fn);
    return f && off < 256 ? f->regs[off / 4] : 0xFFFFFFFF;
}

/* Which BAR register (0..5) an offset is, and whether it is the upper half
 * of a 64-bit BAR; -1 when not a BAR of this header type. */
static int bar_slot(const struct fake_function *f, uint16_t off, int *bar, bool *upper)
{
    int nbars = ((f->regs[3] >> 16) & 0x7F) == 1 ? 2 : 6;
    if (off < 0x10 || off >= 0x10 + 4 * nbars)
        return -1;
    int i = (off - 0x10) / 4;
    if (i > 0 && f->bars[i - 1].is64 && f->bars[i - 1].size) {
        *bar = i - 1;
        *upper = true;
    } else {
        *bar = i;
        *upper = false;
    }
    return 0;
}

static void fake_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
                         uint32_t value)
{
    (void)ctx;
    struct fake_function *f = fn_at(bus, dev, fn);
    if (!f || off >= 256)
        return;
    int b;
    bool upper;
    if (bar_slot(f, off, &b, &upper) == 0) {
        const struct fake_bar *bar = &f->bars[b];
        uint32_t command = f->regs[1] & 0xFFFF;
        if (value == 0xFFFFFFFF && (command & (bar->io ? 1 : 2)))
            sizing_with_decode_on++;
        if (!bar->size) {
            f->regs[off / 4] = 0;
            return;
        }
        uint64_t mask = ~(bar->size - 1);
        if (upper) {
            f->regs[off / 4] = value & (uint32_t)(mask >> 32);
        } else {
            uint32_t flags = bar->io ? 1 : ((bar->is64 ? 4 : 0) | (bar->prefetchable ? 8 : 0));
            f->regs[off / 4] = (value & (uint32_t)mask & (bar->io ? ~3u : ~0xFu)) | flags;
        }
        return;
    }
    if (off == PCI_COMMAND) {
        f->regs[1] = (f->regs[1] & 0xFFFF0000) | (value & 0xFFFF);
        return;
    }
    f->regs[off / 4] = value;
}

static const struct pci_config_access fake = {fake_read32, fake_write32, NULL};
static const struct pci_root_windows root = {
    .mem32 = {0xC0000000, 0xFEBFFFFF},
    .mem64 = {0x8000000000ull, 0xFFFFFFFFFFull},
};
static struct pci_scan scan;

static struct fake_function *add_function(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t vendor,
                                          uint16_t device, uint8_t header_type)
{
    struct fake_function *f = &space[bus][dev][fn];
    memset(f, 0, sizeof(*f));
    f->present = true;
    f->regs[0] = (uint32_t)device << 16 | vendor;
    f->regs[1] = 0x0006; /* memory decode and bus master, as firmware leaves them */
    f->regs[2] = 0x05000001;
    f->regs[3] = (uint32_t)header_type << 16;
    return f;
}

/* Declares BAR i; address 0 leaves it unassigned. */
static void add_bar(struct fake_function *f, int i, uint64_t size, bool io, bool is64,
                    bool prefetchable, uint64_t address)
{
    f->bars[i] = (struct fake_bar){size, io, is64, prefetchable};
    uint32_t flags = io ? 1 : ((is64 ? 4 : 0) | (prefetchable ? 8 : 0));
    f->regs[4 + i] = (uint32_t)address | flags;
    if (is64)
        f->regs[5 + i] = (uint32_t)(address >> 32);
}

static void add_bridge(uint8_t bus, uint8_t dev, uint8_t secondary, uint8_t subordinate)
{
    struct fake_function *f = add_function(bus, dev, 0, 0x1b36, 0x000c, 1);
    f->regs[0x18 / 4] = (uint32_t)subordinate << 16 | (uint32_t)secondary << 8 | bus;
    f->regs[0x20 / 4] = 0x0000FFF0; /* memory window closed (base > limit) */
    f->regs[0x24 / 4] = 0x0000FFF1; /* 64-bit prefetchable window closed */
}

static const struct guest_pci_function *find(uint8_t bus, uint8_t dev, uint8_t fn)
{
    for (size_t i = 0; i < scan.count; i++)
        if (scan.functions[i].bus == bus && scan.functions[i].device == dev &&
            scan.functions[i].function == fn)
            return &scan.functions[i];
    return NULL;
}

static void setup(void)
{
    memset(space, 0, sizeof(space));
    sizing_with_decode_on = 0;
    add_function(0, 0, 0, 0x8086, 0x29c0, 0); /* host bridge */
}

START_TEST(test_functions_and_multifunction)
{
    add_function(0, 3, 0, 0x1af4, 0x1110, 0x80); /* multi-function */
    add_function(0, 3, 2, 0x1af4, 0x1110, 0);    /* function 1 absent, 2 present */
    add_function(0, 4, 3, 0x1234, 0x5678, 0);    /* not multi-function: fn 3 unseen */
    add_function(0, 4, 0, 0x1234, 0x5678, 0);
    pci_scan_all(&fake, &root, &scan);
    ck_assert_uint_eq(scan.count, 4);
    ck_assert_ptr_nonnull(find(0, 3, 2));
    ck_assert_ptr_null(find(0, 3, 1));
    ck_assert_ptr_null(find(0, 4, 3));
    const struct guest_pci_function *f = find(0, 3, 0);
    ck_assert_uint_eq(f->vendor_id, 0x1af4);
    ck_assert_uint_eq(f->device_id, 0x1110);
    ck_assert_uint_eq(f->class_code, 0x05);
    ck_assert_uint_eq(f->revision, 1);
}
END_TEST

START_TEST(test_bar_sizing)
{
    struct fake_function *f = add_function(0, 2, 0, 0x1af4, 0x1110, 0);
    add_bar(f, 0, 256, false, false, false, 0xfebf1000);
    add_bar(f, 1, 32, true, false, false, 0xc040);
    add_bar(f, 2, 4ull << 30, false, true, true, 0x8000000000ull); /* 4 GiB above 4 GiB */
    pci_scan_all(&fake, &root, &scan);
    const struct guest_pci_function *p = find(0, 2, 0);
    ck_assert_uint_eq(p->bars[0].size, 256);
    ck_assert_uint_eq(p->bars[0].address, 0xfebf1000);
    ck_assert(!p->bars[0].is_64bit);
    ck_assert_uint_eq(p->bars[1].size, 32);
    ck_assert(p->bars[1].is_io);
    ck_assert_uint_eq(p->bars[1].address, 0xc040);
    ck_assert_uint_eq(p->bars[2].size, 4ull << 30);
    ck_assert_uint_eq(p->bars[2].address, 0x8000000000ull);
    ck_assert(p->bars[2].is_64bit && p->bars[2].prefetchable);
    ck_assert_uint_eq(p->bars[3].size, 0); /* upper half of BAR2 */
    ck_assert_uint_eq(p->bars[4].size, 0);
    ck_assert_int_eq(sizing_with_decode_on, 0);
    /* Sizing restores the BARs and the command register. */
    ck_assert_uint_eq(f->regs[4 + 2], 0x0000000C);
    ck_assert_uint_eq(f->regs[4 + 3], 0x80);
    ck_assert_uint_eq(f->regs[1] & 0xFFFF, 0x0006);
    ck_assert_uint_eq(scan.bars_assigned, 0);
}
END_TEST

START_TEST(test_walk_behind_numbered_bridges)
{
    add_bridge(0, 1, 1, 2);
    add_bridge(1, 0, 2, 2);
    add_function(2, 0, 0, 0x1af4, 0x1110, 0);
    add_function(1, 5, 0, 0x1af4, 0x1110, 0);
    pci_scan_all(&fake, &root, &scan);
    ck_assert_uint_eq(scan.count, 5);
    ck_assert_ptr_nonnull(find(2, 0, 0));
    ck_assert_ptr_nonnull(find(1, 5, 0));
    ck_assert_uint_eq(scan.buses_numbered, 0);
    /* Parent links: 2:00.0 hangs off bridge 1:00.0, which hangs off 0:01.0. */
    size_t leaf = (size_t)(find(2, 0, 0) - scan.functions);
    int16_t parent = scan.parent_bridge[leaf];
    ck_assert_int_ge(parent, 0);
    ck_assert_uint_eq(scan.functions[parent].bus, 1);
    ck_assert_uint_eq(scan.functions[scan.parent_bridge[parent]].device, 1);
}
END_TEST

START_TEST(test_numbers_unnumbered_bridges)
{
    add_bridge(0, 1, 0, 0); /* firmware left it alone */
    add_bridge(0, 2, 0, 0);
    /* The fake routes by bus number, so the devices wait on the buses the
     * walk will hand out: 1 to the first bridge, 2 to the second. */
    add_function(1, 0, 0, 0x1af4, 0x1110, 0);
    add_function(2, 7, 0, 0x1af4, 0x1110, 0);
    pci_scan_all(&fake, &root, &scan);
    ck_assert_uint_eq(scan.buses_numbered, 2);
    ck_assert_ptr_nonnull(find(1, 0, 0));
    ck_assert_ptr_nonnull(find(2, 7, 0));
    ck_assert_uint_eq(space[0][1][0].regs[0x18 / 4] & 0xFFFFFF, 0x010100);
    ck_assert_uint_eq(space[0][2][0].regs[0x18 / 4] & 0xFFFFFF, 0x020200);
}
END_TEST

START_TEST(test_assigns_unassigned_bars_on_root_bus)
{
    struct fake_function *a = add_function(0, 2, 0, 0x1234, 0x0001, 0);
    add_bar(a, 0, 1 << 20, false, false, false, 0xC0000000); /* already placed */
    struct fake_function *b = add_function(0, 3, 0, 0x1af4, 0x1110, 0);
    b->regs[1] = 0; /* decode off, as for a device firmware skipped */
    add_bar(b, 0, 256, false, false, false, 0);
    add_bar(b, 2, 16 << 20, false, true, true, 0);
    pci_scan_all(&fake, &root, &scan);
    const struct guest_pci_function *p = find(0, 3, 0);
    ck_assert_uint_eq(scan.bars_assigned, 2);
    ck_assert_uint_eq(scan.bars_unassignable, 0);
    /* 32-bit BAR above the existing one, aligned to its size. */
    ck_assert_uint_eq(p->bars[0].address, 0xC0100000);
    /* The 64-bit prefetchable BAR in the 64-bit window, size-aligned. */
    ck_assert_uint_eq(p->bars[2].address, 0x8000000000ull);
    ck_assert_uint_eq(b->regs[4 + 2] & ~0xFu, 0);
    ck_assert_uint_eq(b->regs[4 + 3], 0x80);
    ck_assert_uint_eq(b->regs[4] & ~0xFu, 0xC0100000);
    ck_assert(b->regs[1] & PCI_COMMAND_MEMORY);
}
END_TEST

START_TEST(test_assigns_inside_bridge_window_or_reports)
{
    add_bridge(0, 1, 1, 1);
    space[0][1][0].regs[0x24 / 4] = 0x0FF10011; /* 64-bit pref 0x..0010_0000-0x..0FFF_FFFF */
    space[0][1][0].regs[0x28 / 4] = 0x00000090; /* base upper: 0x90_0010_0000 */
    space[0][1][0].regs[0x2C / 4] = 0x00000090; /* limit upper */
    struct fake_function *f = add_function(1, 0, 0, 0x1af4, 0x1110, 0);
    add_bar(f, 2, 2 << 20, false, true, true, 0);
    add_bar(f, 0, 256, false, false, false, 0); /* closed memory window: no room */
    pci_scan_all(&fake, &root, &scan);
    const struct guest_pci_function *p = find(1, 0, 0);
    ck_assert_uint_eq(p->bars[2].address, 0x9000200000ull); /* 2 MiB-aligned inside */
    ck_assert_uint_eq(p->bars[0].address, 0);
    ck_assert_uint_eq(scan.bars_assigned, 1);
    ck_assert_uint_eq(scan.bars_unassignable, 1);
}
END_TEST

START_TEST(test_function_table_bounded)
{
    /* 8 buses x 32 devices x 8 functions would exceed PCI_MAX_FUNCTIONS. */
    for (int bus = 0; bus < 3; bus++)
        for (int dev = 0; dev < 32; dev++)
            for (int fn = 0; fn < 8; fn++) {
                if (bus == 0 && dev < 3)
                    continue;
                add_function((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0x1234, 1,
                             fn == 0 ? 0x80 : 0);
            }
    add_bridge(0, 1, 1, 1);
    add_bridge(0, 2, 2, 2);
    pci_scan_all(&fake, &root, &scan);
    ck_assert_uint_eq(scan.count, PCI_MAX_FUNCTIONS);
    ck_assert_uint_gt(scan.truncated, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pci");
    TCase *tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_functions_and_multifunction);
    tcase_add_test(tc, test_bar_sizing);
    tcase_add_test(tc, test_walk_behind_numbered_bridges);
    tcase_add_test(tc, test_numbers_unnumbered_bridges);
    tcase_add_test(tc, test_assigns_unassigned_bars_on_root_bus);
    tcase_add_test(tc, test_assigns_inside_bridge_window_or_reports);
    tcase_add_test(tc, test_function_table_bounded);
    suite_add_tcase(s, tc);
    return test_run(s);
}
