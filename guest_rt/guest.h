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
 * Everything here is single-threaded and runs with interrupts off (an
 * application that uses doorbells has them on only inside guest_irq_wait).
 */
#ifndef IVSHM_GUEST_H
#define IVSHM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ivshm/mempool.h>
#include <ivshm/notify.h>
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

/* ---- doorbells and interrupts -------------------------------------------
 *
 * An ivshmem-doorbell device (`ivshm qemu-args --doorbell`) is an ivshm
 * device like the others (its BAR2 is the segment) plus a peer ID, given by
 * the doorbell server and read from its IVPosition register, and MSI-X
 * vectors that other peers ring. Nothing here is set up until the
 * application asks: then the runtime enables the local APIC (xAPIC mode),
 * masks the legacy PIC and the IOAPICs, adds device vectors to the IDT next
 * to the exception entries (exceptions are reported as before) and points
 * the device's MSI-X table at them. Interrupts are still off everywhere but
 * inside guest_irq_wait.
 *
 * Sleeping on a ring (the wake request of <ivshm/notify.h>):
 *
 *     struct guest_doorbell *db;
 *     if (guest_doorbell_open("vm1", &db, &err) != IVSHM_OK)
 *         guest_panic("%s", err.msg);
 *     for (;;) {
 *         n = ivshm_ring_dequeue_burst(&rx, burst, 32, NULL);
 *         if (n == 0) {
 *             if (ivshm_ring_arm_wake(&rx, IVSHM_WAKE_CONSUMER, guest_doorbell_id(db), 0, 1))
 *                 guest_irq_wait(1000);           // 1 ms at most
 *             ivshm_ring_disarm_wake(&rx, IVSHM_WAKE_CONSUMER);
 *             continue;
 *         }
 *         ...
 *     }
 */

struct guest_doorbell; /* one ivshmem-doorbell device */

/*
 * Sets up the doorbell of the device holding segment `segment` (NULL: the
 * first device, in PCI order, that has MSI-X): the local APIC on first use,
 * then one IDT vector for each of the device's MSI-X vectors (at most 64),
 * MSI-X enabled, bus mastering on. A second call
 * for the same device returns the same handle. Call it before arming a wake
 * request: QEMU drops a doorbell rung while MSI-X is off.
 * Errors: IVSHM_E_NOENT (no such segment; no doorbell device), IVSHM_E_INVAL
 * (no MSI-X capability: an ivshmem-plain device; unusable BAR0 or BAR1; no
 * local APIC), IVSHM_E_NOSPC (out of the 176 device vectors).
 */
int guest_doorbell_open(const char *segment, struct guest_doorbell **out, struct ivshm_error *err);

/* Our peer ID: the device's IVPosition register. */
uint16_t guest_doorbell_id(const struct guest_doorbell *db);

/* The device's MSI-X vectors (the `vectors=` QEMU was given). */
unsigned guest_doorbell_vectors(const struct guest_doorbell *db);

/* The ivshm device (segment) this doorbell belongs to. */
const struct guest_ivshm_device *guest_doorbell_device(const struct guest_doorbell *db);

/* Rings vector `vector` of peer `peer` through the Doorbell register.
 * QEMU ignores a ring of a peer that is not connected or of a vector it does
 * not have (as the device has no way to say so): nothing happens. */
void guest_doorbell_ring(struct guest_doorbell *db, uint16_t peer, uint16_t vector);

/* Bit v set: vector v fired since the last call. Clears them. */
uint64_t guest_doorbell_take(struct guest_doorbell *db);

/*
 * Sleeps until a doorbell interrupt (any device, any vector) arrives or
 * timeout_us microseconds pass (0: only collect what is pending; UINT64_MAX:
 * no bound): enables interrupts, `hlt`, with the local APIC timer armed for
 * the timeout. Returns IVSHM_OK when a doorbell interrupt was taken (see
 * guest_doorbell_take for which), IVSHM_E_TIMEOUT otherwise, IVSHM_E_INVAL
 * without a local APIC. A doorbell that arrived since the last call, while
 * interrupts were off, was held by the local APIC and ends this call at once:
 * a wake-up racing the sleep is never lost.
 */
int guest_irq_wait(uint64_t timeout_us);

struct guest_irq_stats {
    uint64_t device;   /* doorbell interrupts taken */
    uint64_t timer;    /* timeout timer interrupts */
    uint64_t stray;    /* interrupts on vectors nobody owns (ignored) */
    uint64_t waits;    /* guest_irq_wait calls */
    uint64_t timeouts; /* of which timed out */
};
void guest_irq_stats(struct guest_irq_stats *out);

#ifdef __cplusplus
}
#endif

#endif
