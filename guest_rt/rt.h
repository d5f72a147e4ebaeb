/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal interfaces between the pieces of the guest runtime. Applications
 * use guest.h instead. */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stddef.h>
#include <stdint.h>

#include "boot_info.h"

/* console.c: COM1 16550 */
void console_init(void);
void console_write(const char *s, size_t n);
void console_puts(const char *s);
void console_put_hex(uint64_t v);
void console_put_dec(uint64_t v);

/* cpu.c: GDT, IDT, SSE, exceptions */
void cpu_init(void);
__attribute__((noreturn)) void cpu_halt_forever(void);
/* Installs the gates of vectors 32..255 (irq.S) and loads the whole IDT. */
void cpu_enable_irq_gates(void);

/* cpu.S */
__attribute__((noreturn)) void rt_switch_stack(void *stack_top, void (*fn)(void *), void *arg);
extern char exception_stubs_start[]; /* 32 stubs, 16 bytes apart */
/* irq.S */
extern char irq_stubs_start[]; /* vectors 32..255, 16 bytes apart */
void cpu_load_gdt(const void *gdt_descriptor, uint16_t code_selector, uint16_t data_selector);

/* paging.c */
enum cache_attr { CACHE_WB, CACHE_WC, CACHE_UC };
void paging_init(const struct boot_info *info);
/* Identity-maps [phys, phys+length) (rounded out to 2 MiB), returns 0 or -1
 * when the page-table pool is exhausted. */
int paging_map(uint64_t phys, uint64_t length, enum cache_attr attr);
int paging_has_1g_pages(void);
int paging_is_mapped(uint64_t address);
/* Makes one 4 KiB page not present (splitting its 2 MiB page); 0 or -1. */
int paging_unmap_page(uint64_t address);

/* syscalls.c */
void heap_init(const struct boot_info *info);

/* pci_access.c: config-space access (ECAM from the MCFG found through the
 * RSDP, else ports), then the walk of every bus. */
void pci_init(uint64_t rsdp_address);

/* ivshm_dev.c: examines every IVSHMEM device found by the PCI walk. */
void ivshm_devices_init(const char *party_label);
/* Marks our party slots GONE: called on every way out (exit, exception,
 * panic) so a guest that reboots does not fill the party table. */
void ivshm_devices_release(void);

/* acpi.c */
const void *acpi_find_table(uint64_t rsdp_address, const char signature[4]);
/* rt.c: acpi_find_table on the firmware's RSDP */
const void *rt_acpi_table(const char signature[4]);

/* irq.c: local APIC, interrupt dispatch, timed sleep (guest_irq_wait) */
#define IRQ_DEVICE_FIRST 0x40 /* device vectors: 0x40..0xef */
#define IRQ_DEVICE_LAST  0xef
/* Called for each device vector that fires: owner, vector index (doorbell.c). */
typedef void (*irq_handler_fn)(void *owner, unsigned index);
/* Sets interrupts up on first use (APIC, legacy PIC and IOAPIC masked, IDT
 * gates); returns 0 or -1 when there is no usable local APIC. */
int irq_init(void);
/* Allocates `count` consecutive device vectors for owner; the first, or -1. */
int irq_alloc_vectors(unsigned count, irq_handler_fn fn, void *owner);
/* The local APIC ID of this CPU (the MSI destination). */
uint32_t irq_apic_id(void);

/* The runtime's own stack (rt.c): a guard page, then RT_STACK_SIZE bytes.
 * paging_init unmaps the guard page so an overflow faults (reported from the
 * exception stack) instead of silently overwriting what lies below. */
#define RT_STACK_SIZE (64 * 1024)
#define RT_GUARD_SIZE 4096
extern char rt_stack_area[RT_GUARD_SIZE + RT_STACK_SIZE];
#define rt_stack_bottom (rt_stack_area + RT_GUARD_SIZE)

#endif
