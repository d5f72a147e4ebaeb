/* SPDX-License-Identifier: BSD-3-Clause */
/* Just enough ACPI to find a table by signature (MCFG for ECAM). */
#include <string.h>

#include "rt.h"

struct acpi_rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

static int checksum_ok(const void *p, uint32_t length)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < length; i++)
        sum += ((const uint8_t *)p)[i];
    return sum == 0;
}

/* Tables live below 4 GiB on QEMU's firmware; the boot mapping covers them. */
const void *acpi_find_table(uint64_t rsdp_address, const char signature[4])
{
    if (!rsdp_address)
        return NULL;
    const struct acpi_rsdp *rsdp = (const void *)(uintptr_t)rsdp_address;
    if (memcmp(rsdp->signature, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20))
        return NULL;
    uint64_t root = rsdp->rsdt_address;
    size_t entry_size = 4;
    if (rsdp->revision >= 2 && rsdp->xsdt_address) {
        root = rsdp->xsdt_address;
        entry_size = 8;
    }
    const struct acpi_header *sdt = (const void *)(uintptr_t)root;
    if (!root || sdt->length < sizeof(*sdt) || !checksum_ok(sdt, sdt->length))
        return NULL;
    size_t entries = (sdt->length - sizeof(*sdt)) / entry_size;
    const uint8_t *table_list = (const uint8_t *)(sdt + 1);
    for (size_t i = 0; i < entries; i++) {
        uint64_t address = 0;
        memcpy(&address, table_list + i * entry_size, entry_size);
        const struct acpi_header *t = (const void *)(uintptr_t)address;
        if (address && memcmp(t->signature, signature, 4) == 0 && checksum_ok(t, t->length))
            return t;
    }
    return NULL;
}
