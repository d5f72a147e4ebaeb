/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm segment ABI, version 1: the bytes both sides agree on.
 *
 * A segment is one file (hugetlbfs or /dev/shm) mapped by the host and exposed
 * to a VM as the BAR2 of an ivshmem-plain PCI device. Everything in it is
 * little-endian and every reference is an offset from the segment's first
 * byte: no absolute pointer is ever stored, so each party maps it anywhere.
 *
 *   0x0000  struct ivshm_segment_header      (256 bytes)
 *   0x0100  struct ivshm_party[party_capacity]   (64 bytes each)
 *   ...     struct ivshm_dir_entry[dir_capacity] (64 bytes each, 64-aligned)
 *   ...     objects, from data_offset, each 64-byte aligned, sorted by offset
 *
 * docs/abi.md describes every field and the rules readers follow. This file
 * is freestanding C: the host library and the bare-metal guest compile it.
 */
#ifndef IVSHM_LAYOUT_H
#define IVSHM_LAYOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define IVSHM_MAGIC       "IVSHMSEG" /* 8 bytes at offset 0, no terminator */
#define IVSHM_MAGIC_LEN   8
#define IVSHM_ABI_VERSION 1u

#define IVSHM_CACHE_LINE 64u
#define IVSHM_NAME_MAX   31u /* bytes of a name, without its terminator */
#define IVSHM_NAME_SIZE  32u

/* Limits a reader enforces (a writer never exceeds them). */
#define IVSHM_MAX_OBJECTS     16384u
#define IVSHM_MAX_PARTIES     64u
#define IVSHM_DEFAULT_PARTIES 16u
#define IVSHM_RING_MAX_SLOTS  (1u << 28)
#define IVSHM_MEMPOOL_MAX_OBJ (1u << 28)

/* Header flags. */
#define IVSHM_SEG_FINALIZED 0x1u

struct ivshm_segment_header {
    char magic[IVSHM_MAGIC_LEN]; /* "IVSHMSEG" */
    uint32_t abi_version;        /* IVSHM_ABI_VERSION */
    uint32_t header_size;        /* sizeof(struct ivshm_segment_header) */
    uint64_t segment_size;       /* bytes; a power of two (QEMU requires it) */
    uint64_t page_size;          /* of the backing file: 4 KiB, 2 MiB, 1 GiB */
    int32_t numa_node;           /* host node the memory is bound to, -1: none */
    uint32_t flags;              /* IVSHM_SEG_* */
    uint64_t generation;         /* bumped each time the directory is finalized */
    uint32_t checksum;           /* CRC-32C, see docs/abi.md 1.4 */
    uint32_t object_count;       /* directory entries in use */
    uint32_t dir_capacity;       /* directory entries reserved */
    uint32_t party_capacity;     /* party table entries */
    uint64_t dir_offset;         /* first directory entry */
    uint64_t party_offset;       /* first party entry */
    uint64_t data_offset;        /* first byte objects may use */
    uint64_t data_end;           /* one past the last byte objects use */
    char name[IVSHM_NAME_SIZE];  /* segment name, NUL-terminated */
    uint64_t created_unix_ns;    /* creation time, informational */
    uint8_t reserved[120];       /* zero */
};

enum ivshm_object_type {
    IVSHM_OBJ_RING = 1,
    IVSHM_OBJ_MEMPOOL = 2,
    IVSHM_OBJ_MEMZONE = 3,
};

/* Ring mode bits (dir entry param1 of a ring). */
#define IVSHM_RING_MP   0x1u /* several producers (CAS on prod.head) */
#define IVSHM_RING_MC   0x2u /* several consumers (CAS on cons.head) */
#define IVSHM_RING_SPSC 0u
#define IVSHM_RING_MPMC (IVSHM_RING_MP | IVSHM_RING_MC)

/*
 * One object. The type-specific parameters are immutable once the segment is
 * finalized and covered by the checksum, so readers take geometry from here,
 * never from the object's own (writable) memory.
 *   ring:    param0 = slots (power of two), param1 = mode bits
 *   mempool: param0 = object count,         param1 = object size in bytes
 *   memzone: param0 = alignment (power of two, >= 64), param1 = 0
 */
struct ivshm_dir_entry {
    char name[IVSHM_NAME_SIZE]; /* [A-Za-z0-9_-]{1,31}, NUL-terminated */
    uint32_t type;              /* enum ivshm_object_type */
    uint32_t flags;             /* zero in ABI 1 */
    uint64_t offset;            /* from segment start, multiple of 64 */
    uint64_t length;            /* bytes */
    uint32_t param0;
    uint32_t param1;
};

/* Party table: who is attached, for liveness checks and re-attach. */
enum ivshm_party_state {
    IVSHM_PARTY_FREE = 0,
    IVSHM_PARTY_ALIVE = 1,
    IVSHM_PARTY_GONE = 2,     /* detached or reclaimed; the slot may be reused */
    IVSHM_PARTY_CLAIMING = 3, /* being filled in by its new owner */
};

enum ivshm_party_kind {
    IVSHM_PARTY_HOST = 1,  /* a Linux process: pid + start time identify it */
    IVSHM_PARTY_GUEST = 2, /* a VM runtime (the host cannot check its liveness) */
};

struct ivshm_party {
    _Atomic uint32_t state; /* enum ivshm_party_state; claimed by CAS FREE/GONE -> ALIVE */
    uint32_t kind;          /* enum ivshm_party_kind */
    uint64_t pid;           /* host: process id; guest: 0 */
    uint64_t start_time;    /* host: process start time in clock ticks; guest: TSC at attach */
    /* Bumped by a guest application that wants to; informational (a
     * forwarder's liveness is its ctrl heartbeat, fwd.h). */
    _Atomic uint64_t heartbeat;
    uint64_t attach_count; /* times this slot was claimed */
    char label[24];        /* e.g. "pktgen", "fwd", NUL-terminated */
};

/*
 * Ring object: this 256-byte control block, then `slots` 64-bit entries.
 * Producer and consumer state sit on their own cache lines, each followed by a
 * guard line so that adjacent-line prefetch does not pull the other side's
 * line. Indices run freely modulo 2^32; entries in use = prod.tail - cons.tail.
 */
struct ivshm_ring_side {
    _Atomic uint32_t head;   /* reserved up to here (MP/MC); equals tail otherwise */
    _Atomic uint32_t tail;   /* published up to here */
    _Atomic uint64_t events; /* producer: enqueues refused (full); consumer: empty */
    /* Wake request of the *other* side (notify.h): a party of the other side
     * about to sleep stores IVSHM_WAKE_ARMED | its doorbell peer ID and
     * vector; this side, after publishing, takes it (exchange with 0) and
     * rings that doorbell. prod.wake: a consumer waiting for entries;
     * cons.wake: a producer waiting for room. 0: nobody asleep. It was pad
     * (zero, unread) before, so readers that ignore it see ABI 1 unchanged. */
    _Atomic uint32_t wake;
    uint8_t pad[IVSHM_CACHE_LINE - 20];
};

struct ivshm_ring_shared {
    struct ivshm_ring_side prod;
    uint8_t guard0[IVSHM_CACHE_LINE];
    struct ivshm_ring_side cons;
    uint8_t guard1[IVSHM_CACHE_LINE];
    /* uint64_t slots[] follow */
};

/*
 * Mempool object: a free ring (MPMC, next_pow2(count) slots) holding the
 * handles of free objects, then one state byte per object, then the objects,
 * each `stride` = round_up(obj_size, 64) bytes. A handle is the object's
 * offset from the segment start. The exact layout is ivshm_mempool_layout().
 *
 * State byte: who holds the object. Any party may free any object; the state
 * lets put reject double frees and lets a host reclaim a dead party's objects.
 */
#define IVSHM_OBJ_FREE            0x00u         /* in the free ring */
#define IVSHM_OBJ_ALLOCATED(p)    (0x40u | (p)) /* held by party p (0..63) */
#define IVSHM_OBJ_CACHED(p)       (0x80u | (p)) /* held by p through its cache (docs/abi.md 3.2) */
#define IVSHM_OBJ_IS_ALLOCATED(s) (((s)&0xc0u) == 0x40u)
#define IVSHM_OBJ_IS_CACHED(s)    (((s)&0xc0u) == 0x80u)
#define IVSHM_OBJ_PARTY(s)        ((s)&0x3fu)

_Static_assert(sizeof(struct ivshm_segment_header) == 256, "header is 256 bytes");
_Static_assert(offsetof(struct ivshm_segment_header, abi_version) == 8, "abi_version at 8");
_Static_assert(offsetof(struct ivshm_segment_header, segment_size) == 16, "segment_size at 16");
_Static_assert(offsetof(struct ivshm_segment_header, page_size) == 24, "page_size at 24");
_Static_assert(offsetof(struct ivshm_segment_header, numa_node) == 32, "numa_node at 32");
_Static_assert(offsetof(struct ivshm_segment_header, generation) == 40, "generation at 40");
_Static_assert(offsetof(struct ivshm_segment_header, checksum) == 48, "checksum at 48");
_Static_assert(offsetof(struct ivshm_segment_header, object_count) == 52, "object_count at 52");
_Static_assert(offsetof(struct ivshm_segment_header, dir_capacity) == 56, "dir_capacity at 56");
_Static_assert(offsetof(struct ivshm_segment_header, party_capacity) == 60, "party_cap at 60");
_Static_assert(offsetof(struct ivshm_segment_header, dir_offset) == 64, "dir_offset at 64");
_Static_assert(offsetof(struct ivshm_segment_header, party_offset) == 72, "party_offset at 72");
_Static_assert(offsetof(struct ivshm_segment_header, data_offset) == 80, "data_offset at 80");
_Static_assert(offsetof(struct ivshm_segment_header, data_end) == 88, "data_end at 88");
_Static_assert(offsetof(struct ivshm_segment_header, name) == 96, "name at 96");
_Static_assert(offsetof(struct ivshm_segment_header, created_unix_ns) == 128, "created at 128");
_Static_assert(sizeof(struct ivshm_dir_entry) == 64, "directory entry is 64 bytes");
_Static_assert(offsetof(struct ivshm_dir_entry, type) == 32, "type at 32");
_Static_assert(offsetof(struct ivshm_dir_entry, offset) == 40, "offset at 40");
_Static_assert(offsetof(struct ivshm_dir_entry, length) == 48, "length at 48");
_Static_assert(offsetof(struct ivshm_dir_entry, param0) == 56, "param0 at 56");
_Static_assert(offsetof(struct ivshm_dir_entry, param1) == 60, "param1 at 60");
_Static_assert(sizeof(struct ivshm_party) == 64, "party entry is 64 bytes");
_Static_assert(offsetof(struct ivshm_party, heartbeat) == 24, "heartbeat at 24");
_Static_assert(sizeof(struct ivshm_ring_side) == IVSHM_CACHE_LINE, "ring side is one line");
_Static_assert(offsetof(struct ivshm_ring_side, events) == 8, "events at 8");
_Static_assert(offsetof(struct ivshm_ring_side, wake) == 16, "wake request at 16 (was pad)");
_Static_assert(sizeof(struct ivshm_ring_shared) == 4 * IVSHM_CACHE_LINE, "ring control 256 B");
_Static_assert(offsetof(struct ivshm_ring_shared, cons) == 2 * IVSHM_CACHE_LINE, "cons at 128");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
               "atomics have plain layout");

/* ---- layout arithmetic: the sizes and offsets above, computed ---- */

static inline bool ivshm_is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* x rounded up to a multiple of align (a power of two). */
static inline uint64_t ivshm_align_up(uint64_t x, uint64_t align)
{
    return (x + align - 1) & ~(align - 1);
}

/* Smallest power of two >= x (x <= 2^63); 1 for 0. */
static inline uint64_t ivshm_next_pow2(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

/* Bytes of a ring object with `slots` entries. */
static inline uint64_t ivshm_ring_bytes(uint32_t slots)
{
    return sizeof(struct ivshm_ring_shared) + (uint64_t)slots * sizeof(uint64_t);
}

/* Where the parts of a mempool object lie, relative to the object's offset. */
struct ivshm_mempool_layout {
    uint32_t ring_slots; /* next_pow2(count) */
    uint32_t stride;     /* round_up(obj_size, 64) */
    uint64_t state_off;  /* state bytes */
    uint64_t objs_off;   /* first object */
    uint64_t length;     /* whole object */
};

#define IVSHM_MEMPOOL_MAX_OBJ_SIZE (1u << 30)

/* Fills *out: IVSHM_OK, or IVSHM_E_INVAL when count or obj_size is 0 or above
 * its limit (IVSHM_MEMPOOL_MAX_OBJ, IVSHM_MEMPOOL_MAX_OBJ_SIZE). */
static inline int ivshm_mempool_layout(uint32_t count, uint32_t obj_size,
                                       struct ivshm_mempool_layout *out)
{
    if (count == 0 || count > IVSHM_MEMPOOL_MAX_OBJ || obj_size == 0 ||
        obj_size > IVSHM_MEMPOOL_MAX_OBJ_SIZE)
        return IVSHM_E_INVAL;
    out->ring_slots = (uint32_t)ivshm_next_pow2(count);
    out->stride = (uint32_t)ivshm_align_up(obj_size, IVSHM_CACHE_LINE);
    out->state_off = ivshm_ring_bytes(out->ring_slots);
    out->objs_off = ivshm_align_up(out->state_off + count, IVSHM_CACHE_LINE);
    out->length = out->objs_off + (uint64_t)count * out->stride;
    return IVSHM_OK;
}

/* Bytes of metadata (header, party table, directory) for these capacities;
 * the directory starts at the 64-byte boundary after the party table. */
static inline uint64_t ivshm_metadata_bytes(uint32_t dir_capacity, uint32_t party_capacity)
{
    uint64_t dir_off = ivshm_align_up(sizeof(struct ivshm_segment_header) +
                                          (uint64_t)party_capacity * sizeof(struct ivshm_party),
                                      IVSHM_CACHE_LINE);
    return dir_off + (uint64_t)dir_capacity * sizeof(struct ivshm_dir_entry);
}

#endif
