/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment metadata: validation, lookup, building and the party table.
 *
 * Written once and compiled for both sides (freestanding C). Every value read
 * from a segment is checked against the segment's bounds before it is used:
 * a damaged or hostile segment yields an ivshm_error, never a fault.
 *
 * Typical reader:
 *     struct ivshm_segment_view view;
 *     struct ivshm_error err;
 *     if (ivshm_segment_validate(base, mapped_size, &view, &err) != IVSHM_OK)
 *         report(err.msg);
 *     struct ivshm_dir_entry rx;
 *     ivshm_segment_find(&view, "rx0", IVSHM_OBJ_RING, &rx, &err);
 *     ivshm_ring_attach(&ring, &view, &rx, &err);
 */
#ifndef IVSHM_SEGMENT_H
#define IVSHM_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "status.h"

/* A validated segment, as one party sees it. Only base points into shared memory
 * (through hdr, dir, parties); the other fields are private copies made by
 * validation, so a peer rewriting the header afterwards cannot enlarge them. */
struct ivshm_segment_view {
    uint8_t *base;
    uint64_t size; /* segment_size, <= the mapped size */
    struct ivshm_segment_header *hdr;
    struct ivshm_dir_entry *dir;
    struct ivshm_party *parties;
    uint32_t object_count;
    uint32_t party_capacity;
    uint64_t data_offset;
    uint64_t generation;
    char name[IVSHM_NAME_SIZE];
};

/*
 * Checks everything a reader relies on, in this order: magic, ABI version,
 * header size, segment size (a power of two, not above mapped_size), directory
 * and party table bounds, object count against directory capacity, checksum,
 * then each entry (terminated and valid name, known type, offset and length in
 * bounds and aligned, type parameters consistent with the length), entries
 * sorted by offset with no overlap, no duplicate name.
 * Returns IVSHM_OK and fills *view, or IVSHM_E_NOTSEG / IVSHM_E_VERSION /
 * IVSHM_E_BADSEG with err->msg naming the reason.
 */
int ivshm_segment_validate(void *base, uint64_t mapped_size, struct ivshm_segment_view *view,
                           struct ivshm_error *err);

/* CRC-32C (Castagnoli) of the header, with its checksum field taken as zero,
 * followed by the first object_count directory entries. The caller has checked
 * that those entries lie inside the segment. */
uint32_t ivshm_segment_checksum(const struct ivshm_segment_header *hdr,
                                const struct ivshm_dir_entry *dir, uint32_t object_count);

/* Plain CRC-32C of a buffer, continuing from crc (start with 0). */
uint32_t ivshm_crc32c(uint32_t crc, const void *data, size_t len);

/*
 * Finds an object by name (type 0: any type) and copies its entry to *out,
 * re-checking its bounds, so the copy is safe to use whatever a peer writes
 * later. Returns IVSHM_OK or IVSHM_E_NOENT (err names segment and object).
 */
int ivshm_segment_find(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                       struct ivshm_dir_entry *out, struct ivshm_error *err);

/* Checks one directory entry against the segment geometry (used by validate
 * and by every attach function). */
int ivshm_entry_check(const struct ivshm_dir_entry *entry, uint64_t data_offset,
                      uint64_t segment_size, struct ivshm_error *err);

/* A name is 1..31 bytes of [A-Za-z0-9_-]. `max` bounds the bytes read. */
bool ivshm_name_valid(const char *name, size_t max);

/* "ring", "mempool", "memzone" or "unknown". */
const char *ivshm_type_name(uint32_t type);

/* ---- layout arithmetic shared by builder and readers ---- */

static inline bool ivshm_is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static inline uint64_t ivshm_align_up(uint64_t x, uint64_t align)
{
    return (x + align - 1) & ~(align - 1);
}

/* Smallest power of two >= x (x <= 2^63); 1 for 0. */
uint64_t ivshm_next_pow2(uint64_t x);

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

/* Fills *out; IVSHM_E_INVAL when count or obj_size is 0 or too large. */
int ivshm_mempool_layout(uint32_t count, uint32_t obj_size, struct ivshm_mempool_layout *out);

/* ---- building a segment in memory (the host library wraps this) ---- */

struct ivshm_builder {
    uint8_t *base;
    uint64_t size;
    struct ivshm_segment_header *hdr;
    struct ivshm_dir_entry *dir;
    uint32_t dir_capacity;
};

/*
 * Lays out an empty segment over [base, base+size): zeroes the metadata area,
 * writes the header (magic left zero until finalize), reserves dir_capacity
 * directory entries and party_capacity party entries. size must be a power of
 * two. The object memory is not touched here (callers zero what they add).
 */
int ivshm_builder_init(struct ivshm_builder *b, void *base, uint64_t size, uint64_t page_size,
                       int32_t numa_node, const char *name, uint32_t dir_capacity,
                       uint32_t party_capacity, struct ivshm_error *err);

/* Bytes of metadata (header, party table, directory) for these capacities. */
uint64_t ivshm_metadata_bytes(uint32_t dir_capacity, uint32_t party_capacity);

/* Add objects; each returns IVSHM_OK or IVSHM_E_INVAL / E_EXIST / E_NOSPC with
 * err naming the object and the reason. Nothing is written on failure. */
int ivshm_builder_add_ring(struct ivshm_builder *b, const char *name, uint32_t slots, uint32_t mode,
                           struct ivshm_error *err);
int ivshm_builder_add_mempool(struct ivshm_builder *b, const char *name, uint32_t count,
                              uint32_t obj_size, struct ivshm_error *err);
int ivshm_builder_add_memzone(struct ivshm_builder *b, const char *name, uint64_t size,
                              uint32_t align, struct ivshm_error *err);

/* Bytes still free after the last object (before alignment of the next). */
uint64_t ivshm_builder_free_bytes(const struct ivshm_builder *b);

/* Computes the checksum, bumps the generation and writes the magic last, so
 * no reader accepts a half-built segment. */
void ivshm_builder_finalize(struct ivshm_builder *b);

/* ---- party table ---- */

/* Claims a FREE or GONE party slot (through CLAIMING, so nobody reads a
 * half-written entry as ALIVE); returns its index (0..capacity-1) or
 * IVSHM_E_PARTIES. label may be NULL. */
int ivshm_party_claim(const struct ivshm_segment_view *view, uint32_t kind, uint64_t pid,
                      uint64_t start_time, const char *label);

/* Marks the slot GONE. */
void ivshm_party_release(const struct ivshm_segment_view *view, int index);

/* ---- small freestanding helpers ---- */

/* snprintf subset (%s %c %d %u %x %f, flags - and 0, width, precision, l/ll/z;
 * common/format.c lists it). Always terminates. */
int ivshm_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err (if not NULL) and returns code. */
int ivshm_fail(struct ivshm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
