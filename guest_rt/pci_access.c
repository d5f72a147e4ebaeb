/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime's side of PCI: config-space access (ECAM from the ACPI MCFG
 * table when there is one, else ports 0xCF8/0xCFC), the walk at boot (pci.c,
 * which knows no hardware), mapping the BARs above 4 GiB, and the guest_pci_*
 * calls of guest.h.
 */
#include <stdio.h>
#include <string.h>

#include "guest.h"
#include "pci.h"
#include "rt.h"
#include "x86.h"

static struct pci_scan pci;
static uint8_t *ecam_base;
static uint8_t ecam_start_bus, ecam_end_bus;

static uint32_t port_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    (void)ctx;
    if (off >= 256)
        return 0xFFFFFFFF;
    outl(0xCF8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
                    (off & 0xFC));
    return inl(0xCFC);
}

static void port_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
                         uint32_t value)
{
    (void)ctx;
    if (off >= 256)
        return;
    outl(0xCF8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
                    (off & 0xFC));
    outl(0xCFC, value);
}

static volatile uint32_t *ecam_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (bus < ecam_start_bus || bus > ecam_end_bus || off >= 4096)
        return NULL;
    return (volatile uint32_t *)(ecam_base + ((uint64_t)(bus - ecam_start_bus) << 20) +
                                 ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + (off & 0xFFC));
}

static uint32_t ecam_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    volatile uint32_t *p = ecam_address(bus, dev, fn, off);
    return p ? *p : port_read32(ctx, bus, dev, fn, off);
}

static void ecam_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
                         uint32_t value)
{
    volatile uint32_t *p = ecam_address(bus, dev, fn, off);
    if (p)
        *p = value;
    else
        port_write32(ctx, bus, dev, fn, off, value);
}

static struct pci_config_access pci_access = {port_read32, port_write32, NULL};

uint32_t guest_pci_read32(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset)
{
    return pci_access.read32(pci_access.ctx, bus, device, function, offset);
}

void guest_pci_write32(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset,
                       uint32_t value)
{
    pci_access.write32(pci_access.ctx, bus, device, function, offset, value);
}

size_t guest_pci_count(void)
{
    return pci.count;
}

const struct guest_pci_function *guest_pci_get(size_t index)
{
    return index < pci.count ? &pci.functions[index] : NULL;
}

/* MCFG (PCI Firmware spec): 44-byte header, then 16-byte allocations. */
static void pci_use_ecam_if_present(uint64_t rsdp_address)
{
    const uint8_t *mcfg = acpi_find_table(rsdp_address, "MCFG");
    if (!mcfg)
        return;
    uint32_t length;
    memcpy(&length, mcfg + 4, 4);
    for (uint32_t at = 44; at + 16 <= length; at += 16) {
        uint64_t base;
        uint16_t segment;
        memcpy(&base, mcfg + at, 8);
        memcpy(&segment, mcfg + at + 8, 2);
        if (segment != 0)
            continue;
        ecam_start_bus = mcfg[at + 10];
        ecam_end_bus = mcfg[at + 11];
        uint64_t size = (uint64_t)(ecam_end_bus - ecam_start_bus + 1) << 20;
        if (paging_map(base, size, CACHE_UC) < 0)
            return;
        ecam_base = (uint8_t *)(uintptr_t)base;
        pci_access.read32 = ecam_read32;
        pci_access.write32 = ecam_write32;
        return;
    }
}

static unsigned physical_address_bits(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a < 0x80000008)
        return 36;
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    return a & 0xFF;
}

void pci_init(uint64_t rsdp_address)
{
    pci_use_ecam_if_present(rsdp_address);
    unsigned bits = physical_address_bits();
    /* Windows for BARs the firmware left at 0: the 32-bit hole above the
     * q35 ECAM window and below the IOAPIC, and the top half of the
     * physical address space (SeaBIOS's 64-bit window starts there too). */
    struct pci_root_windows root = {
        .mem32 = {0xC0000000, 0xFEBFFFFF},
        .mem64 = {1ull << (bits - 1), (1ull << bits) - 1},
    };
    pci_scan_all(&pci_access, &root, &pci);
    for (size_t i = 0; i < pci.count; i++)
        for (int b = 0; b < 6; b++) {
            const struct guest_pci_bar *bar = &pci.functions[i].bars[b];
            if (bar->is_io || !bar->size || !bar->address || bar->address < (1ull << 32))
                continue; /* below 4 GiB is mapped UC already */
            paging_map(bar->address, bar->size, bar->prefetchable ? CACHE_WC : CACHE_UC);
        }
    if (guest_arg("verbose"))
        printf("guest: pci: %zu functions via %s, %u buses numbered, %u BARs assigned, "
               "%u unassignable\n",
               pci.count, ecam_base ? "ECAM" : "ports 0xCF8/0xCFC", pci.buses_numbered,
               pci.bars_assigned, pci.bars_unassignable);
}
