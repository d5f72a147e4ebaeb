/* SPDX-License-Identifier: BSD-3-Clause */
/* guest.h — the API of the ivshm bare-metal guest runtime.
 *
 * A guest application is an ordinary C program: it defines
 *
 *     int main(int argc, char **argv);
 *
 * and links against the runtime (guest_rt) and newlib. Before main runs, the
 * runtime has booted (Multiboot or UEFI), set up paging, exceptions, the
 * serial console (printf goes to COM1), the heap (malloc), parsed the command
 * line, walked PCI and validated every ivshm device. argv holds the command
 * line words (argv[0] = "guest"); guest_arg() looks up key=value words.
 * main's return value becomes the guest exit code (see guest_exit).
 *
 * Everything here is single-threaded and runs with interrupts off.
 */
#ifndef IVSHM_GUEST_H
#define IVSHM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ivshm/mempool.h>
#include <ivshm/party.h>
#include <ivshm/ring.h>
#include <ivshm/segment.h>
#include <ivshm/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- exit ------------------------------------------------------------- */

/* Exit codes the runtime itself uses. QEMU's isa-debug-exit turns guest code
 * V into the QEMU process status (V << 1) | 1, so 0 -> 1, 3 -> 7, 0x70 -> 225. */
#define GUEST_EXIT_OK        0
#define GUEST_EXIT_FAILURE   1
#define GUEST_EXIT_REJECTED  3    /* probe: an ivshm device failed validation */
#define GUEST_EXIT_EXCEPTION 0x70 /* a CPU exception was caught and reported */
#define GUEST_EXIT_PANIC     0x71 /* the runtime could not continue (guest_panic) */

/* Flushes stdio, releases our party slots (state GONE), then leaves through
 * isa-debug-exit (I/O port 0xf4). Without that device QEMU ignores the write
 * and the CPU halts forever. */
__attribute__((noreturn)) void guest_exit(int code);

/* The same without flushing stdio: safe from exception handlers. */
__attribute__((noreturn)) void guest_hw_exit(int code);

/* Prints "guest: panic: <message>" and exits with GUEST_EXIT_PANIC. */
__attribute__((noreturn, format(printf, 1, 2))) void guest_panic(const char *fmt, ...);

/* ---- command line ------------------------------------------------------ */

/* The value of word "key=value" (the last one wins), "" for a bare "key",
 * NULL when absent. Direct boot: QEMU -append. UEFI: the load options. */
const char *guest_arg(const char *key);
/* Numeric value (decimal, 0x hex, k/M/G suffix), or fallback when absent or
 * malformed. */
uint64_t guest_arg_u64(const char *key, uint64_t fallback);

/* "multiboot" or "uefi". */
const char *guest_boot_path(void);

/* ---- time -------------------------------------------------------------- */

static inline uint64_t guest_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
/* TSC ticks per second: CPUID 0x15, else 0x16, else measured against the PIT
 * (10 ms, done once on first call). */
uint64_t guest_tsc_hz(void);
/* The TSC when the runtime started (rt_start): guest_tsc() - guest_boot_tsc()
 * is the time since the boot path handed over. */
uint64_t guest_boot_tsc(void);
/* Busy-waits. */
void guest_delay_us(uint64_t microseconds);

/* ---- memory ------------------------------------------------------------ */

enum guest_cache { GUEST_CACHE_WB, GUEST_CACHE_WC, GUEST_CACHE_UC };

/* Identity-maps [phys, phys+length) with the given caching: IVSHM_OK, or
 * IVSHM_E_NOSPC when the page-table pool is exhausted. RAM and the BARs of
 * the devices the runtime manages are already mapped. */
int guest_map(uint64_t phys, uint64_t length, enum guest_cache cache);

/* ---- PCI --------------------------------------------------------------- */

struct guest_pci_bar {
    uint64_t address; /* 0 when unassigned or absent */
    uint64_t size;    /* 0 when absent */
    bool is_io;
    bool is_64bit;
    bool prefetchable;
};

struct guest_pci_function {
    uint8_t bus, device, function;
    uint16_t vendor_id, device_id;
    uint8_t revision, class_code, subclass, header_type;
    struct guest_pci_bar bars[6];
};

/* Every PCI function found at boot, in bus/device/function order. */
size_t guest_pci_count(void);
const struct guest_pci_function *guest_pci_get(size_t index);

/* 32-bit config-space access to any function (ECAM when available). */
uint32_t guest_pci_read32(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset);
void guest_pci_write32(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset,
                       uint32_t value);

/* ---- ivshm devices --------------------------------------------------------
 *
 * Every IVSHMEM device (PCI 1af4:1110) is examined at boot: its BAR2 (the
 * shared memory, 64-bit prefetchable, possibly above 4 GiB) is mapped
 * write-back and validated with ivshm_segment_validate() before anything else
 * reads it. A valid segment is attached as a guest party (the host sees the
 * guest in the party table). A device whose memory does not start with the
 * ivshm magic is not a segment: noted and skipped. Any other failure rejects
 * the segment: one line "guest: ivshm <bdf>: segment rejected: <reason>" is
 * printed and the device is skipped.
 */

enum guest_ivshm_state {
    GUEST_IVSHM_VALID = 0,       /* validated, attached: objects usable */
    GUEST_IVSHM_NOT_SEGMENT = 1, /* memory all zero where the magic goes: not ivshm's */
    GUEST_IVSHM_REJECTED = 2,    /* looks like a segment (or BAR2 unusable) but fails */
};

struct guest_ivshm_device {
    uint8_t bus, device, function;
    uint64_t bar2_address, bar2_size;
    enum guest_ivshm_state state;
    int status;                     /* IVSHM_OK or the validation's ivshm_status */
    char reason[160];               /* why it was skipped or rejected; "" when valid */
    struct ivshm_segment_view view; /* valid only in state GUEST_IVSHM_VALID; view.party is
                                       our slot in its party table, -1 if none was free */
};

/* Every IVSHMEM device, valid or not, in PCI order. */
size_t guest_ivshm_count(void);
const struct guest_ivshm_device *guest_ivshm_get(size_t index);
/* The valid device holding segment `name`, or NULL. */
const struct guest_ivshm_device *guest_ivshm_find_segment(const char *name);

/*
 * Object lookup by path: "SEG/NAME", or "NAME" alone to search every valid
 * segment in PCI order. The same calls as the host's ivshm_*_lookup
 * (segment.h, ring.h, mempool.h) with a path in place of view and name, and
 * the same return convention (ivshm/status.h).
 */

/* The entry of object `path` of `type` (an enum ivshm_object_type, 0: any),
 * and the view of the segment holding it (view may be NULL).
 * Errors: IVSHM_E_INVAL (a path whose SEG is empty or too long),
 * IVSHM_E_NOENT (no such valid segment, or no such object in it),
 * IVSHM_E_BADSEG (its entry was damaged after validation). */
int guest_object_lookup(const char *path, uint32_t type, struct ivshm_dir_entry *entry,
                        const struct ivshm_segment_view **view, struct ivshm_error *err);

/* A handle on ring `path`; the ring functions of <ivshm/ring.h> then work
 * exactly as on the host. Errors: as guest_object_lookup. */
int guest_ring_lookup(const char *path, struct ivshm_ring *ring, struct ivshm_error *err);

/* A handle on mempool `path`, acting as our party in that segment; the
 * functions of <ivshm/mempool.h> then work exactly as on the host.
 * Errors: as guest_object_lookup, and IVSHM_E_PARTIES (the segment's party
 * table was full at boot, so we hold no slot in it). */
int guest_mempool_lookup(const char *path, struct ivshm_mempool *mp, struct ivshm_error *err);

/* Memzone `path`: its first byte and its length (length may be NULL).
 * Errors: as guest_object_lookup. */
int guest_memzone_lookup(const char *path, void **addr, uint64_t *length, struct ivshm_error *err);

/* Bumps our party's heartbeat (ivshm_party.heartbeat) in every attached
 * segment, for `ivshm inspect` to show. Informational: nothing in ivshm
 * judges a guest by it (the forwarder's liveness is its ctrl heartbeat,
 * bumped by ivshm_fwd_run). */
void guest_ivshm_heartbeat(void);

#ifdef __cplusplus
}
#endif

#endif
