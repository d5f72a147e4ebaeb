/* SPDX-License-Identifier: BSD-3-Clause */
/* PCI walk: enumeration, BAR sizing, bus numbering and BAR assignment. */
#include <string.h>

#include "pci.h"

struct walk {
    const struct pci_config_access *cfg;
    struct pci_scan *out;
    uint8_t bus_seen[256];
    unsigned last_bus;
};

static uint32_t cfg_read(const struct walk *w, const struct guest_pci_function *f, uint16_t off)
{
    return w->cfg->read32(w->cfg->ctx, f->bus, f->device, f->function, off);
}

static void cfg_write(const struct walk *w, const struct guest_pci_function *f, uint16_t off,
                      uint32_t value)
{
    w->cfg->write32(w->cfg->ctx, f->bus, f->device, f->function, off, value);
}

/* Sizes BAR `index` (and its upper half for 64-bit ones); returns how many
 * BAR registers it used (1 or 2). Decode must already be off: while all-ones
 * sits in a BAR the device would claim random addresses. */
static int size_bar(const struct walk *w, struct guest_pci_function *f, int index, int nbars)
{
    struct guest_pci_bar *bar = &f->bars[index];
    uint16_t off = (uint16_t)(PCI_BAR0 + 4 * index);
    uint32_t orig = cfg_read(w, f, off);

    memset(bar, 0, sizeof(*bar));
    if (orig & 1) { /* I/O BAR */
        cfg_write(w, f, off, 0xFFFFFFFF);
        uint32_t probe = cfg_read(w, f, off);
        cfg_write(w, f, off, orig);
        uint16_t mask = (uint16_t)(probe & 0xFFFC);
        if (mask) {
            bar->is_io = true;
            bar->size = (uint16_t)(~mask + 1);
            bar->address = orig & 0xFFFC;
        }
        return 1;
    }
    bool is64 = ((orig >> 1) & 3) == 2 && index + 1 < nbars;
    uint32_t orig_hi = is64 ? cfg_read(w, f, off + 4) : 0;
    cfg_write(w, f, off, 0xFFFFFFFF);
    if (is64)
        cfg_write(w, f, off + 4, 0xFFFFFFFF);
    uint64_t probe = cfg_read(w, f, off) & ~0xFull;
    probe |= is64 ? (uint64_t)cfg_read(w, f, off + 4) << 32 : 0xFFFFFFFF00000000ull;
    cfg_write(w, f, off, orig);
    if (is64)
        cfg_write(w, f, off + 4, orig_hi);
    if ((probe & 0xFFFFFFF0ull) == 0 && (probe >> 32) == (is64 ? 0 : 0xFFFFFFFF))
        return is64 ? 2 : 1; /* not implemented */
    bar->size = ~probe + 1;
    bar->address = (orig & ~0xFull) | ((uint64_t)orig_hi << 32);
    bar->is_64bit = is64;
    bar->prefetchable = (orig & 0x8) != 0;
    return is64 ? 2 : 1;
}

static void scan_bus(struct walk *w, unsigned bus, int16_t parent);

static void scan_bridge(struct walk *w, size_t self)
{
    struct guest_pci_function *f = &w->out->functions[self];
    uint32_t buses = cfg_read(w, f, PCI_BRIDGE_BUSES);
    unsigned secondary = (buses >> 8) & 0xFF;

    if (secondary > f->bus && !w->bus_seen[secondary]) {
        unsigned subordinate = (buses >> 16) & 0xFF;
        scan_bus(w, secondary, (int16_t)self);
        if (subordinate > w->last_bus)
            w->last_bus = subordinate;
        return;
    }
    /* Firmware left the bridge unnumbered: give it the next bus, open the
     * subordinate range while walking behind it, then close it. */
    if (w->last_bus >= 255)
        return;
    secondary = ++w->last_bus;
    buses = (buses & 0xFF000000) | (0xFFu << 16) | (secondary << 8) | f->bus;
    cfg_write(w, f, PCI_BRIDGE_BUSES, buses);
    w->out->buses_numbered++;
    scan_bus(w, secondary, (int16_t)self);
    buses = (buses & 0xFF00FFFF) | (w->last_bus << 16);
    cfg_write(w, &w->out->functions[self], PCI_BRIDGE_BUSES, buses);
}

static void scan_function(struct walk *w, unsigned bus, unsigned dev, unsigned fn, uint32_t id,
                          uint8_t header_type, int16_t parent)
{
    struct pci_scan *out = w->out;
    if (out->count >= PCI_MAX_FUNCTIONS) {
        out->truncated++;
        return;
    }
    size_t index = out->count++;
    struct guest_pci_function *f = &out->functions[index];
    memset(f, 0, sizeof(*f));
    out->parent_bridge[index] = parent;
    f->bus = (uint8_t)bus;
    f->device = (uint8_t)dev;
    f->function = (uint8_t)fn;
    f->vendor_id = (uint16_t)id;
    f->device_id = (uint16_t)(id >> 16);
    uint32_t class_rev = cfg_read(w, f, PCI_CLASS_REV);
    f->revision = (uint8_t)class_rev;
    f->subclass = (uint8_t)(class_rev >> 16);
    f->class_code = (uint8_t)(class_rev >> 24);
    f->header_type = header_type & 0x7F;

    int nbars = f->header_type == 0 ? 6 : f->header_type == 1 ? 2 : 0;
    if (nbars) {
        uint32_t command = cfg_read(w, f, PCI_COMMAND) & 0xFFFF;
        cfg_write(w, f, PCI_COMMAND, command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        for (int i = 0; i < nbars;)
            i += size_bar(w, f, i, nbars);
        cfg_write(w, f, PCI_COMMAND, command);
    }
    if (f->header_type == 1)
        scan_bridge(w, index);
}

static void scan_bus(struct walk *w, unsigned bus, int16_t parent)
{
    if (w->bus_seen[bus])
        return;
    w->bus_seen[bus] = 1;
    for (unsigned dev = 0; dev < 32; dev++) {
        unsigned functions = 1;
        for (unsigned fn = 0; fn < functions; fn++) {
            uint32_t id =
                w->cfg->read32(w->cfg->ctx, (uint8_t)bus, (uint8_t)dev, (uint8_t)fn, PCI_VENDOR_ID);
            if ((id & 0xFFFF) == 0xFFFF || (id & 0xFFFF) == 0)
                continue;
            uint8_t header_type = (uint8_t)(w->cfg->read32(w->cfg->ctx, (uint8_t)bus, (uint8_t)dev,
                                                           (uint8_t)fn, PCI_HEADER_TYPE) >>
                                            16);
            if (fn == 0 && (header_type & 0x80))
                functions = 8;
            scan_function(w, bus, dev, fn, id, header_type, parent);
        }
    }
}

/* ---- assignment of BARs the firmware left at 0 ---------------------------- */

struct window_state {
    struct pci_window window;
    uint64_t next; /* first free address: above every BAR already inside */
};

static bool window_open(const struct pci_window *win)
{
    return win->limit > win->base;
}

static void bridge_windows(const struct walk *w, const struct guest_pci_function *bridge,
                           struct pci_window *mem, struct pci_window *pref)
{
    uint32_t v = cfg_read(w, bridge, PCI_BRIDGE_MEM);
    mem->base = (uint64_t)(v & 0xFFF0) << 16;
    mem->limit = ((uint64_t)(v >> 16 & 0xFFF0) << 16) | 0xFFFFF;
    v = cfg_read(w, bridge, PCI_BRIDGE_PREF);
    pref->base = (uint64_t)(v & 0xFFF0) << 16;
    pref->limit = ((uint64_t)(v >> 16 & 0xFFF0) << 16) | 0xFFFFF;
    if ((v & 0xF) == 1) { /* 64-bit prefetchable window */
        pref->base |= (uint64_t)cfg_read(w, bridge, PCI_BRIDGE_PREF_BASE_HI) << 32;
        pref->limit |= (uint64_t)cfg_read(w, bridge, PCI_BRIDGE_PREF_LIMIT_HI) << 32;
    }
}

static void window_init(struct window_state *s, const struct pci_window *win,
                        const struct pci_scan *scan)
{
    s->window = *win;
    s->next = win->base;
    if (!window_open(win))
        return;
    for (size_t i = 0; i < scan->count; i++)
        for (int b = 0; b < 6; b++) {
            const struct guest_pci_bar *bar = &scan->functions[i].bars[b];
            if (bar->is_io || !bar->size || !bar->address)
                continue;
            uint64_t end = bar->address + bar->size;
            if (bar->address >= win->base && bar->address <= win->limit && end > s->next)
                s->next = end;
        }
}

static uint64_t window_alloc(struct window_state *s, uint64_t size)
{
    if (!window_open(&s->window) || size == 0)
        return 0;
    uint64_t address = (s->next + size - 1) & ~(size - 1); /* BARs align to their size */
    if (address < s->next || address + size - 1 > s->window.limit || address + size < address)
        return 0;
    s->next = address + size;
    return address;
}

static void assign_bar(struct walk *w, struct guest_pci_function *f, int index,
                       struct window_state *mem, struct window_state *pref)
{
    struct guest_pci_bar *bar = &f->bars[index];
    uint64_t address = 0;
    /* A 64-bit prefetchable BAR goes to the prefetchable (64-bit) window,
     * anything else must fit the 32-bit non-prefetchable window. */
    if (bar->prefetchable && bar->is_64bit)
        address = window_alloc(pref, bar->size);
    if (!address)
        address = window_alloc(mem, bar->size);
    if (!address) {
        w->out->bars_unassignable++;
        return;
    }
    uint16_t off = (uint16_t)(PCI_BAR0 + 4 * index);
    uint32_t command = cfg_read(w, f, PCI_COMMAND) & 0xFFFF;
    cfg_write(w, f, PCI_COMMAND, command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    uint32_t low_flags = cfg_read(w, f, off) & 0xF;
    cfg_write(w, f, off, (uint32_t)address | low_flags);
    if (bar->is_64bit)
        cfg_write(w, f, off + 4, (uint32_t)(address >> 32));
    cfg_write(w, f, PCI_COMMAND, command | PCI_COMMAND_MEMORY);
    bar->address = address;
    w->out->bars_assigned++;
}

static void assign_unassigned(struct walk *w, const struct pci_root_windows *root)
{
    struct pci_scan *scan = w->out;
    for (int16_t parent = -1; parent < (int16_t)scan->count; parent++) {
        struct pci_window mem_win, pref_win;
        if (parent < 0) {
            mem_win = root->mem32;
            pref_win = root->mem64;
        } else if (scan->functions[parent].header_type == 1) {
            bridge_windows(w, &scan->functions[parent], &mem_win, &pref_win);
        } else {
            continue;
        }
        struct window_state mem, pref;
        bool initialised = false;
        for (size_t i = 0; i < scan->count; i++) {
            if (scan->parent_bridge[i] != parent)
                continue;
            struct guest_pci_function *f = &scan->functions[i];
            for (int b = 0; b < 6; b++) {
                struct guest_pci_bar *bar = &f->bars[b];
                if (bar->is_io || !bar->size || bar->address)
                    continue;
                if (!initialised) {
                    window_init(&mem, &mem_win, scan);
                    window_init(&pref, &pref_win, scan);
                    initialised = true;
                }
                assign_bar(w, f, b, &mem, &pref);
            }
        }
    }
}

void pci_scan_all(const struct pci_config_access *cfg, const struct pci_root_windows *root,
                  struct pci_scan *out)
{
    static struct walk walk; /* 300 bytes of state: keep it off the stack */
    memset(&walk, 0, sizeof(walk));
    walk.cfg = cfg;
    walk.out = out;
    out->count = 0;
    out->buses_numbered = out->bars_assigned = out->bars_unassignable = out->truncated = 0;
    scan_bus(&walk, 0, -1);
    assign_unassigned(&walk, root);
}
