/* SPDX-License-Identifier: BSD-3-Clause */
/* IVSHMEM devices: map BAR2, validate the segment, attach as a party, look
 * objects up by "segment/name". */
#include <stdio.h>
#include <string.h>

#include "common/internal.h"
#include "guest.h"
#include "pci.h"
#include "rt.h"

#define IVSHMEM_VENDOR    0x1af4
#define IVSHMEM_DEVICE    0x1110
#define MAX_IVSHM_DEVICES 64

static struct guest_ivshm_device devices[MAX_IVSHM_DEVICES];
static size_t device_count;

size_t guest_ivshm_count(void)
{
    return device_count;
}

const struct guest_ivshm_device *guest_ivshm_get(size_t index)
{
    return index < device_count ? &devices[index] : NULL;
}

static void examine(struct guest_ivshm_device *d, const struct guest_pci_function *f,
                    const char *party_label)
{
    const struct guest_pci_bar *bar0 = &f->bars[0], *bar2 = &f->bars[2];
    struct ivshm_error err = {0};
    d->bus = f->bus;
    d->device = f->device;
    d->function = f->function;
    d->bar2_address = bar2->address;
    d->bar2_size = bar2->size;
    d->view.party = -1;
    if (bar2->is_io || !bar2->size || !bar2->address) {
        d->state = GUEST_IVSHM_REJECTED;
        d->status = IVSHM_E_INVAL;
        snprintf(d->reason, sizeof(d->reason), "BAR2 %s",
                 bar2->size ? "has no address (unassigned)" : "is absent");
        return;
    }
    /* Registers uncached; the shared memory write-back: it is host RAM that
     * both sides access with ordinary coherent loads, stores and atomics. */
    if (bar0->size && !bar0->is_io && bar0->address)
        paging_map(bar0->address, bar0->size, CACHE_UC);
    if (paging_map(bar2->address, bar2->size, CACHE_WB) < 0) {
        d->state = GUEST_IVSHM_REJECTED;
        d->status = IVSHM_E_INVAL;
        snprintf(d->reason, sizeof(d->reason), "BAR2 at 0x%llx: out of page tables",
                 (unsigned long long)bar2->address);
        return;
    }
    uint32_t command = guest_pci_read32(f->bus, f->device, f->function, PCI_COMMAND) & 0xFFFF;
    if (!(command & PCI_COMMAND_MEMORY))
        guest_pci_write32(f->bus, f->device, f->function, PCI_COMMAND,
                          command | PCI_COMMAND_MEMORY);

    void *base = (void *)(uintptr_t)bar2->address;
    d->status = ivshm_segment_validate(base, bar2->size, &d->view, &err);
    if (d->status == IVSHM_OK) {
        d->state = GUEST_IVSHM_VALID;
        int party = ivshm_party_claim(&d->view, IVSHM_PARTY_GUEST, 0, guest_tsc(), party_label);
        d->view.party = party < 0 ? -1 : party;
        if (party < 0)
            printf("guest: ivshm %02x:%02x.%x: segment %s: party table full, not attached\n",
                   d->bus, d->device, d->function, d->view.name);
        return;
    }
    /* Memory that is all zero where the magic goes was never an ivshm
     * segment (a plain ivshmem device); anything else that fails is a
     * damaged or foreign segment and is rejected. */
    static const uint8_t zero_magic[IVSHM_MAGIC_LEN];
    if (d->status == IVSHM_E_NOTSEG && memcmp(base, zero_magic, IVSHM_MAGIC_LEN) == 0) {
        d->state = GUEST_IVSHM_NOT_SEGMENT;
        snprintf(d->reason, sizeof(d->reason), "not an ivshm segment (no magic)");
        return;
    }
    d->state = GUEST_IVSHM_REJECTED;
    snprintf(d->reason, sizeof(d->reason), "%s", err.msg);
}

void ivshm_devices_init(const char *party_label)
{
    for (size_t i = 0; i < guest_pci_count() && device_count < MAX_IVSHM_DEVICES; i++) {
        const struct guest_pci_function *f = guest_pci_get(i);
        if (f->vendor_id != IVSHMEM_VENDOR || f->device_id != IVSHMEM_DEVICE)
            continue;
        struct guest_ivshm_device *d = &devices[device_count++];
        examine(d, f, party_label);
        if (d->state == GUEST_IVSHM_REJECTED)
            printf("guest: ivshm %02x:%02x.%x: segment rejected: %s\n", d->bus, d->device,
                   d->function, d->reason);
        else if (d->state == GUEST_IVSHM_NOT_SEGMENT)
            printf("guest: ivshm %02x:%02x.%x: skipped: %s\n", d->bus, d->device, d->function,
                   d->reason);
    }
}

const struct guest_ivshm_device *guest_ivshm_find_segment(const char *name)
{
    for (size_t i = 0; i < device_count; i++)
        if (devices[i].state == GUEST_IVSHM_VALID &&
            strncmp(devices[i].view.name, name, IVSHM_NAME_SIZE) == 0)
            return &devices[i];
    return NULL;
}

int guest_object_lookup(const char *path, uint32_t type, struct ivshm_dir_entry *entry,
                        const struct ivshm_segment_view **view, struct ivshm_error *err)
{
    const char *slash = strchr(path, '/');
    if (slash) {
        char segment[IVSHM_NAME_SIZE];
        size_t n = (size_t)(slash - path);
        if (n == 0 || n >= sizeof(segment))
            return ivshm_fail(err, IVSHM_E_INVAL, "%s: bad segment name", path);
        memcpy(segment, path, n);
        segment[n] = '\0';
        const struct guest_ivshm_device *d = guest_ivshm_find_segment(segment);
        if (!d)
            return ivshm_fail(err, IVSHM_E_NOENT, "%s: no valid segment '%s' attached", path,
                              segment);
        if (view)
            *view = &d->view;
        return ivshm_object_lookup(&d->view, slash + 1, type, entry, err);
    }
    for (size_t i = 0; i < device_count; i++) {
        if (devices[i].state != GUEST_IVSHM_VALID)
            continue;
        if (ivshm_object_lookup(&devices[i].view, path, type, entry, NULL) == IVSHM_OK) {
            if (view)
                *view = &devices[i].view;
            return IVSHM_OK;
        }
    }
    return ivshm_fail(err, IVSHM_E_NOENT, "%s: no %s of that name in any segment", path,
                      type ? ivshm_object_type_name(type) : "object");
}

int guest_ring_lookup(const char *path, struct ivshm_ring *ring, struct ivshm_error *err)
{
    const struct ivshm_segment_view *view;
    struct ivshm_dir_entry entry;
    int rc = guest_object_lookup(path, IVSHM_OBJ_RING, &entry, &view, err);
    return rc != IVSHM_OK ? rc : ivshm_ring_attach(ring, view, &entry, err);
}

int guest_mempool_lookup(const char *path, struct ivshm_mempool *mp, struct ivshm_error *err)
{
    const struct ivshm_segment_view *view;
    struct ivshm_dir_entry entry;
    int rc = guest_object_lookup(path, IVSHM_OBJ_MEMPOOL, &entry, &view, err);
    if (rc != IVSHM_OK)
        return rc;
    if (view->party < 0)
        return ivshm_fail(err, IVSHM_E_PARTIES, "%s: not attached to segment %s (party table full)",
                          path, view->name);
    return ivshm_mempool_attach(mp, view, &entry, view->party, err);
}

int guest_memzone_lookup(const char *path, void **addr, uint64_t *length, struct ivshm_error *err)
{
    const struct ivshm_segment_view *view;
    struct ivshm_dir_entry entry;
    int rc = guest_object_lookup(path, IVSHM_OBJ_MEMZONE, &entry, &view, err);
    if (rc != IVSHM_OK)
        return rc;
    *addr = view->base + entry.offset;
    if (length)
        *length = entry.length;
    return IVSHM_OK;
}

void ivshm_devices_release(void)
{
    for (size_t i = 0; i < device_count; i++) {
        struct guest_ivshm_device *d = &devices[i];
        if (d->state == GUEST_IVSHM_VALID && d->view.party >= 0) {
            ivshm_party_release(&d->view, d->view.party);
            d->view.party = -1;
        }
    }
}

void guest_ivshm_heartbeat(void)
{
    for (size_t i = 0; i < device_count; i++) {
        const struct guest_ivshm_device *d = &devices[i];
        if (d->state == GUEST_IVSHM_VALID && d->view.party >= 0)
            atomic_fetch_add_explicit(&d->view.parties[d->view.party].heartbeat, 1,
                                      memory_order_relaxed);
    }
}
