/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshmem-doorbell devices: MSI-X (BAR1 table) pointing each of the device's
 * vectors at an IDT vector of ours, the Doorbell register to ring a peer, and
 * the IVPosition register for our own peer ID (both in BAR0).
 */
#include <stdio.h>
#include <string.h>

#include "common/internal.h"
#include "guest.h"
#include "ivshm/doorbell.h"
#include "pci.h"
#include "rt.h"
#include "x86.h"

#define REG_IVPOSITION 8  /* BAR0: our peer ID */
#define REG_DOORBELL   12 /* BAR0: peer ID << 16 | vector */

#define PCI_STATUS_CAPS    (1u << 20) /* in the dword at PCI_COMMAND */
#define PCI_CAP_POINTER    0x34
#define PCI_CAP_MSIX       0x11
#define PCI_COMMAND_NOINTX (1u << 10)
#define MSIX_ENABLE        (1u << 31) /* in the dword at the capability */
#define MSIX_FUNCTION_MASK (1u << 30)
#define MSIX_ENTRY_SIZE    16
#define MSI_ADDRESS_BASE   0xFEE00000u

struct guest_doorbell {
    const struct guest_ivshm_device *device;
    volatile uint32_t *regs;
    unsigned vectors;
    int first_irq;             /* IDT vector of MSI-X vector 0 */
    volatile uint64_t pending; /* set by the interrupt handler, taken with IF = 0 */
};

#define MAX_DOORBELLS 64
static struct guest_doorbell doorbells[MAX_DOORBELLS];
static size_t doorbell_count;

static void doorbell_irq(void *owner, unsigned index)
{
    struct guest_doorbell *db = owner;
    db->pending |= 1ull << index;
}

static const struct guest_pci_function *pci_function_of(const struct guest_ivshm_device *d)
{
    for (size_t i = 0; i < guest_pci_count(); i++) {
        const struct guest_pci_function *f = guest_pci_get(i);
        if (f->bus == d->bus && f->device == d->device && f->function == d->function)
            return f;
    }
    return NULL;
}

/* Offset of the MSI-X capability in config space, 0 if none. */
static uint16_t find_msix(const struct guest_pci_function *f)
{
    if (!(guest_pci_read32(f->bus, f->device, f->function, PCI_COMMAND) & PCI_STATUS_CAPS))
        return 0;
    uint8_t at = guest_pci_read32(f->bus, f->device, f->function, PCI_CAP_POINTER) & 0xFC;
    for (int hops = 0; at >= 0x40 && hops < 48; hops++) {
        uint32_t cap = guest_pci_read32(f->bus, f->device, f->function, at);
        if ((cap & 0xFF) == PCI_CAP_MSIX)
            return at;
        at = (cap >> 8) & 0xFC;
    }
    return 0;
}

/* Points every table entry of the device at our IDT vectors and enables
 * MSI-X (function mask set while the table is written) and bus mastering
 * (MSI-X writes are memory writes by the device). */
static int setup_msix(struct guest_doorbell *db, const struct guest_pci_function *f, uint16_t cap,
                      const char *what, struct ivshm_error *err)
{
    uint32_t control = guest_pci_read32(f->bus, f->device, f->function, cap);
    uint32_t table = guest_pci_read32(f->bus, f->device, f->function, cap + 4);
    unsigned size = ((control >> 16) & 0x7FF) + 1, bir = table & 7;
    const struct guest_pci_bar *bar = bir < 6 ? &f->bars[bir] : NULL;
    uint64_t offset = table & ~7u;
    if (!bar || bar->is_io || !bar->address ||
        offset + (uint64_t)size * MSIX_ENTRY_SIZE > bar->size)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: MSI-X table (BAR%u + 0x%llx) is not usable",
                          what, bir, (unsigned long long)offset);
    if (paging_map(bar->address, bar->size, CACHE_UC) < 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: cannot map BAR%u", what, bir);
    db->vectors = size < IVSHM_DOORBELL_MAX_VECTORS ? size : IVSHM_DOORBELL_MAX_VECTORS;
    db->first_irq = irq_alloc_vectors(db->vectors, doorbell_irq, db);
    if (db->first_irq < 0)
        return ivshm_fail(err, IVSHM_E_NOSPC, "%s: no interrupt vectors left for %u more", what,
                          db->vectors);
    uint32_t command = guest_pci_read32(f->bus, f->device, f->function, PCI_COMMAND) & 0xFFFF;
    guest_pci_write32(f->bus, f->device, f->function, PCI_COMMAND,
                      command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_NOINTX);
    guest_pci_write32(f->bus, f->device, f->function, cap,
                      control | MSIX_ENABLE | MSIX_FUNCTION_MASK);
    volatile uint32_t *entry = phys_ptr(bar->address + offset);
    for (unsigned v = 0; v < size; v++, entry += MSIX_ENTRY_SIZE / 4) {
        bool used = v < db->vectors;
        entry[0] = MSI_ADDRESS_BASE | irq_apic_id() << 12; /* fixed, physical destination */
        entry[1] = 0;
        entry[2] = used ? (uint32_t)(db->first_irq + (int)v) : 0; /* edge, fixed delivery */
        entry[3] = used ? 0 : 1;                                  /* bit 0: masked */
    }
    guest_pci_write32(f->bus, f->device, f->function, cap,
                      (control | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);
    return IVSHM_OK;
}

int guest_doorbell_open(const char *segment, struct guest_doorbell **out, struct ivshm_error *err)
{
    const struct guest_ivshm_device *d = NULL;
    if (segment) {
        d = guest_ivshm_find_segment(segment);
        if (!d)
            return ivshm_fail(err, IVSHM_E_NOENT, "doorbell: no valid segment '%s' attached",
                              segment);
    }
    /* Without a name: the first device (in PCI order) that has MSI-X. */
    for (size_t i = 0; !d && i < guest_ivshm_count(); i++) {
        const struct guest_pci_function *f = pci_function_of(guest_ivshm_get(i));
        if (f && find_msix(f))
            d = guest_ivshm_get(i);
    }
    if (!d)
        return ivshm_fail(err, IVSHM_E_NOENT, "doorbell: no ivshmem-doorbell device");
    for (size_t i = 0; i < doorbell_count; i++)
        if (doorbells[i].device == d) {
            *out = &doorbells[i];
            return IVSHM_OK;
        }
    char what[64];
    snprintf(what, sizeof(what), "doorbell %02x:%02x.%x", d->bus, d->device, d->function);
    const struct guest_pci_function *f = pci_function_of(d);
    const struct guest_pci_bar *bar0 = f ? &f->bars[0] : NULL;
    if (!bar0 || bar0->is_io || !bar0->address || bar0->size < 16)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: BAR0 (registers) is not usable", what);
    /* Before the local APIC is touched: a plain device leaves it as it was. */
    uint16_t msix = find_msix(f);
    if (!msix)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "%s: no MSI-X capability (an ivshmem-plain device has no doorbell)",
                          what);
    if (doorbell_count == MAX_DOORBELLS)
        return ivshm_fail(err, IVSHM_E_NOSPC, "%s: more than %d doorbells", what, MAX_DOORBELLS);
    if (irq_init() < 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: no local APIC", what);
    struct guest_doorbell *db = &doorbells[doorbell_count];
    memset(db, 0, sizeof(*db));
    db->device = d;
    db->regs = phys_ptr(bar0->address);
    int rc = setup_msix(db, f, msix, what, err);
    if (rc) {
        db->device = NULL;
        return rc;
    }
    doorbell_count++;
    *out = db;
    return IVSHM_OK;
}

uint16_t guest_doorbell_id(const struct guest_doorbell *db)
{
    return (uint16_t)db->regs[REG_IVPOSITION / 4];
}

unsigned guest_doorbell_vectors(const struct guest_doorbell *db)
{
    return db->vectors;
}

const struct guest_ivshm_device *guest_doorbell_device(const struct guest_doorbell *db)
{
    return db->device;
}

void guest_doorbell_ring(struct guest_doorbell *db, uint16_t peer, uint16_t vector)
{
    db->regs[REG_DOORBELL / 4] = (uint32_t)peer << 16 | vector;
}

uint64_t guest_doorbell_take(struct guest_doorbell *db)
{
    /* Interrupts are off outside guest_irq_wait: the handler cannot run
     * between the read and the clear. */
    uint64_t fired = db->pending;
    db->pending = 0;
    return fired;
}
