/* SPDX-License-Identifier: BSD-3-Clause */
/* PCI enumeration over an abstract config-space accessor, so the same walk
 * runs on hardware (ports 0xCF8/0xCFC or ECAM) and in host unit tests over a
 * fake config space. Freestanding: no runtime dependencies. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stddef.h>
#include <stdint.h>

#include "guest.h"

struct pci_config_access {
    uint32_t (*read32)(void *ctx, uint8_t bus, uint8_t device, uint8_t function, uint16_t offset);
    void (*write32)(void *ctx, uint8_t bus, uint8_t device, uint8_t function, uint16_t offset,
                    uint32_t value);
    void *ctx;
};

/* An address window BARs may be placed in; limit is inclusive. */
struct pci_window {
    uint64_t base, limit;
};

/* Where the walk may put BARs the firmware left unassigned on the root bus.
 * Behind a bridge, the bridge's own windows are used instead. */
struct pci_root_windows {
    struct pci_window mem32;
    struct pci_window mem64;
};

#define PCI_MAX_FUNCTIONS 512

struct pci_scan {
    struct guest_pci_function functions[PCI_MAX_FUNCTIONS];
    int16_t parent_bridge[PCI_MAX_FUNCTIONS]; /* index into functions, -1 = root bus */
    size_t count;
    unsigned buses_numbered;    /* bridges we gave a bus number */
    unsigned bars_assigned;     /* BARs we gave an address */
    unsigned bars_unassignable; /* BARs left at 0: no room in the window */
    unsigned truncated;         /* functions beyond PCI_MAX_FUNCTIONS */
};

/* Walks every bus reachable from bus 0 (numbering bridges the firmware left
 * unnumbered), every device and function; sizes every BAR with decode off;
 * assigns addresses to unassigned memory BARs and enables their decode. */
void pci_scan_all(const struct pci_config_access *cfg, const struct pci_root_windows *root,
                  struct pci_scan *out);

/* Config-space register offsets used here and by the runtime. */
#define PCI_VENDOR_ID            0x00
#define PCI_COMMAND              0x04
#define PCI_CLASS_REV            0x08
#define PCI_HEADER_TYPE          0x0C /* byte 2 of the dword */
#define PCI_BAR0                 0x10
#define PCI_BRIDGE_BUSES         0x18
#define PCI_BRIDGE_MEM           0x20
#define PCI_BRIDGE_PREF          0x24
#define PCI_BRIDGE_PREF_BASE_HI  0x28
#define PCI_BRIDGE_PREF_LIMIT_HI 0x2C
#define PCI_COMMAND_IO           0x1
#define PCI_COMMAND_MEMORY       0x2
#define PCI_COMMAND_MASTER       0x4

#endif
