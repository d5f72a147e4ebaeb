/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal to the ivshm implementation (not installed, not exported from the
 * shared library): what common/, the host library, the guest runtime, the CLI
 * and the tests share beyond the public API. Freestanding C.
 */
#ifndef IVSHM_COMMON_INTERNAL_H
#define IVSHM_COMMON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ivshm/mempool.h"
#include "ivshm/ring.h"
#include "ivshm/segment.h"

/* ---- messages (common/format.c) ---- */

/* snprintf subset: %s %c %d %u %x %f, flags - and 0, width, precision
 * (%.Ns, %.*s), l/ll/z modifiers, %% (common/format.c lists it). Always
 * terminates; returns the length the whole text would have. */
int ivshm_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err (if not NULL) to code and the formatted line; returns code. */
int ivshm_fail(struct ivshm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one wording of a bad name: "<kind> name 'a.b': byte 0x2e at offset 1;
 * must be 1 to 31 characters of [A-Za-z0-9_-]" (also "is empty", "longer
 * than 31 characters"). The name is quoted only when it is printable ASCII,
 * else described by its offending byte, and read no further than
 * IVSHM_NAME_SIZE bytes. Returns IVSHM_OK for a valid name, else fails with
 * `code`. name may be NULL (reported as empty). */
int ivshm_name_check(const char *kind, const char *name, int code, struct ivshm_error *err);

/* Whether two names (each terminated within IVSHM_NAME_SIZE bytes, or cut
 * there) are the same. */
static inline bool ivshm_name_equal(const char *a, const char *b)
{
    for (size_t i = 0; i < IVSHM_NAME_SIZE; i++) {
        if (a[i] != b[i])
            return false;
        if (!a[i])
            return true;
    }
    return true;
}

/* Zeroes n bytes (no libc on the guest side). */
static inline void ivshm_zero(void *p, uint64_t n)
{
    uint8_t *d = p;
    while (n--)
        *d++ = 0;
}

/* The one rule for a ring's slot count: a power of two, 1..2^28. */
static inline bool ivshm_ring_slots_valid(uint32_t slots)
{
    return ivshm_is_pow2(slots) && slots <= IVSHM_RING_MAX_SLOTS;
}

/* ---- segment metadata (common/segment.c) ---- */

/* CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial value and
 * final XOR 0xFFFFFFFF, "123456789" -> 0xE3069283), continuing from crc
 * (start with 0). The CPU's crc32 instruction when it has SSE4.2, a portable
 * slicing-by-8 otherwise: the choice is made at run time (common/crc32c.c).
 * The segment checksum and the test frames' checksum both use it. */
uint32_t ivshm_crc32c(uint32_t crc, const void *data, size_t len);

/* The header checksum (docs/abi.md 1.4): CRC-32C of the header with its
 * checksum field taken as zero, then the first object_count directory
 * entries, which the caller has checked lie inside the segment. */
uint32_t ivshm_segment_checksum(const struct ivshm_segment_header *hdr,
                                const struct ivshm_dir_entry *dir, uint32_t object_count);

/* Checks one directory entry (a private copy) against the segment geometry:
 * IVSHM_OK or IVSHM_E_BADSEG. Used by validation and every lookup. */
int ivshm_entry_check(const struct ivshm_dir_entry *entry, uint64_t data_offset,
                      uint64_t segment_size, struct ivshm_error *err);

/* ---- party table (common/party.c) ---- */

/* Claims a FREE or GONE slot (through CLAIMING, so nobody reads a half-written
 * entry as ALIVE). Returns its index (0..capacity-1) or IVSHM_E_PARTIES.
 * label may be NULL. */
int ivshm_party_claim(const struct ivshm_segment_view *view, uint32_t kind, uint64_t pid,
                      uint64_t start_time, const char *label);

/* Marks slot `index` GONE; an index out of range is ignored. */
void ivshm_party_release(const struct ivshm_segment_view *view, int index);

/* ---- handles from a directory entry (common/ring.c, common/mempool.c) ----
 * The public *_lookup functions find the entry by name, then call these.
 * Both re-check the entry. */

/* Errors: IVSHM_E_INVAL (not a ring), IVSHM_E_BADSEG. */
int ivshm_ring_attach(struct ivshm_ring *ring, const struct ivshm_segment_view *view,
                      const struct ivshm_dir_entry *entry, struct ivshm_error *err);

/* A handle on a ring in raw memory: `mem` is its control block, `slots` a
 * power of two. Formats the ring (indices to zero) when `format` is true.
 * IVSHM_OK or IVSHM_E_INVAL (slots or mode out of range). */
int ivshm_ring_init_raw(struct ivshm_ring *ring, void *mem, uint32_t slots, uint32_t mode,
                        bool format);

/* Re-reads the handle's private copies of the other side's tail from the
 * shared indices (after someone rewrote them: ivshm_ring_reset, a repair,
 * a mempool rebuild) and clears the handle's timeout (ivshm_ring_error). */
void ivshm_ring_resync(struct ivshm_ring *ring);

/* Empties the ring for a repair, while nobody else uses it: every index
 * set to the producer's head (prod.tail for an SP ring), the slots zeroed,
 * our private copies re-read. Returns how many entries it held (what
 * prod.tail - cons.tail said, which a peer's garbage may make anything up
 * to the ring's size). */
uint32_t ivshm_ring_reset(struct ivshm_ring *ring);

/* Acting as party `party` (0..63), or as no party (-1: the handle of a host
 * tool that repairs a pool without a slot in the party table, for audit,
 * reclaim and rebuild; its get fails with IVSHM_E_INVAL and its put goes
 * straight to the free ring, never through a cache: a put records no party).
 * Errors: IVSHM_E_INVAL (not a mempool, or party out of range),
 * IVSHM_E_BADSEG. */
int ivshm_mempool_attach(struct ivshm_mempool *mp, const struct ivshm_segment_view *view,
                         const struct ivshm_dir_entry *entry, int party, struct ivshm_error *err);

/* Rebuilds the pool from scratch, for a repair while no party holds or uses
 * any of it: every object is marked free (whatever its state byte said) and
 * goes into the free ring. Returns how many were not free before. */
uint32_t ivshm_mempool_rebuild_all(struct ivshm_mempool *mp);

/* Mempool `name` of the segment acting as view->party, which may be -1 (no
 * party: see ivshm_mempool_attach). Errors: as ivshm_mempool_lookup, but
 * not for party -1. */
int ivshm_mempool_lookup_any(const struct ivshm_segment_view *view, const char *name,
                             struct ivshm_mempool *mp, struct ivshm_error *err);

#endif
