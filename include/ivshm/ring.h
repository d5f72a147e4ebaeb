/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring of 64-bit entries in shared memory, for host and guest alike.
 *
 * A ring lives in a segment as a 256-byte control block (struct
 * ivshm_ring_shared: producer line, guard line, consumer line, guard line)
 * followed by `slots` entries. Each party uses it through a private handle
 * (struct ivshm_ring) built by ivshm_ring_lookup() from the checksummed
 * directory entry: the slot count and mode come from there, never from the
 * ring's writable memory, and every index read from shared memory is masked,
 * so a peer writing garbage can lose or duplicate entries but never make us
 * touch memory outside the ring.
 *
 * Indices run freely modulo 2^32: entries in use = prod.tail - cons.tail, and
 * all `slots` entries are usable.
 *
 * Speed: each handle keeps a private copy of the other side's tail (on its
 * own cache line), and re-reads the shared one only when the copy says there
 * is not enough room or not enough entries. On a two-core producer/consumer
 * pair this removes most of the cross-core reads of the other side's line.
 *
 * Concurrency: in SP mode one thread enqueues at a time, in SC mode one thread
 * dequeues at a time; MP/MC rings serialise through a CAS on head. One handle
 * may be shared by all the threads of a process.
 *
 * Freestanding: only <stdint.h>, <stddef.h>, <stdbool.h>, <stdatomic.h>.
 */
#ifndef IVSHM_RING_H
#define IVSHM_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "segment.h"
#include "status.h"

#ifndef IVSHM_LIKELY
#define IVSHM_LIKELY(x)   __builtin_expect(!!(x), 1)
#define IVSHM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#endif

/* Hot-path functions are always inlined: the compiler then folds the mode,
 * bulk/burst and (often) n into each call site. Left to itself, GCC -O2 made
 * out-of-line copies of the enqueue and dequeue bodies. */
#ifndef IVSHM_INLINE
#define IVSHM_INLINE inline __attribute__((always_inline))
#endif

/* Private handle. Put it in static storage, on the stack, or in memory from
 * an allocator that honours its 64-byte alignment (aligned_alloc). */
struct ivshm_ring {
    /* Read-only after lookup. */
    struct ivshm_ring_shared *shared;
    uint64_t *slots;
    uint32_t mask;     /* slots - 1 */
    uint32_t capacity; /* slots */
    uint32_t mode;     /* IVSHM_RING_MP | IVSHM_RING_MC */
    /* Producer side only: last cons.tail seen. */
    _Alignas(IVSHM_CACHE_LINE) _Atomic uint32_t prod_seen_cons_tail;
    /* Consumer side only: last prod.tail seen. */
    _Alignas(IVSHM_CACHE_LINE) _Atomic uint32_t cons_seen_prod_tail;
};

/*
 * Finds ring `name` in the segment and builds a handle for it. The slot count
 * and mode come from the checksummed directory entry.
 * Errors: IVSHM_E_NOENT (no ring of that name), IVSHM_E_BADSEG (its entry was
 * damaged after validation).
 */
int ivshm_ring_lookup(const struct ivshm_segment_view *view, const char *name,
                      struct ivshm_ring *ring, struct ivshm_error *err);

#include "ring_pvt.h"

/* ---- operations ----
 *
 * The hot path returns counts, not statuses (status.h, rule 1): how many
 * entries moved. Inline; nothing to link. */

/* Enqueues all n entries or none. Returns n or 0; *free_space (if not NULL)
 * gets the room left afterwards (as seen by this call). */
static IVSHM_INLINE uint32_t ivshm_ring_enqueue_bulk(struct ivshm_ring *r, const uint64_t *objs,
                                                     uint32_t n, uint32_t *free_space)
{
    return ivshm__ring_enqueue(r, objs, n, true, free_space);
}

/* Enqueues as many of the n entries as fit. Returns how many. */
static IVSHM_INLINE uint32_t ivshm_ring_enqueue_burst(struct ivshm_ring *r, const uint64_t *objs,
                                                      uint32_t n, uint32_t *free_space)
{
    return ivshm__ring_enqueue(r, objs, n, false, free_space);
}

/* Dequeues exactly n entries or none. Returns n or 0; *available gets the
 * entries left afterwards (as seen by this call). */
static IVSHM_INLINE uint32_t ivshm_ring_dequeue_bulk(struct ivshm_ring *r, uint64_t *objs,
                                                     uint32_t n, uint32_t *available)
{
    return ivshm__ring_dequeue(r, objs, n, true, available);
}

/* Dequeues up to n entries. Returns how many. */
static IVSHM_INLINE uint32_t ivshm_ring_dequeue_burst(struct ivshm_ring *r, uint64_t *objs,
                                                      uint32_t n, uint32_t *available)
{
    return ivshm__ring_dequeue(r, objs, n, false, available);
}

/* Enqueues one entry: IVSHM_OK, or IVSHM_E_NOBUFS when the ring is full. */
static IVSHM_INLINE int ivshm_ring_enqueue(struct ivshm_ring *r, uint64_t obj)
{
    return ivshm__ring_enqueue(r, &obj, 1, true, NULL) ? IVSHM_OK : IVSHM_E_NOBUFS;
}

/* Dequeues one entry: IVSHM_OK, or IVSHM_E_NOBUFS when the ring is empty. */
static IVSHM_INLINE int ivshm_ring_dequeue(struct ivshm_ring *r, uint64_t *obj)
{
    return ivshm__ring_dequeue(r, obj, 1, true, NULL) ? IVSHM_OK : IVSHM_E_NOBUFS;
}

/* Entries in use, from the shared tails; a snapshot, clamped to capacity. */
static inline uint32_t ivshm_ring_count(const struct ivshm_ring *r)
{
    uint32_t cons = atomic_load_explicit(&r->shared->cons.tail, memory_order_acquire);
    uint32_t prod = atomic_load_explicit(&r->shared->prod.tail, memory_order_acquire);
    uint32_t used = prod - cons;
    return used <= r->capacity ? used : r->capacity;
}

static inline uint32_t ivshm_ring_free_count(const struct ivshm_ring *r)
{
    return r->capacity - ivshm_ring_count(r);
}

struct ivshm_ring_stats {
    uint32_t capacity;
    uint32_t in_use;
    uint32_t prod_head, prod_tail, cons_head, cons_tail;
    uint64_t full_events;  /* enqueues that found no room */
    uint64_t empty_events; /* dequeues that found nothing */
};

/* Snapshot of the shared state, for inspection. Cannot fail. */
void ivshm_ring_stats(const struct ivshm_ring *r, struct ivshm_ring_stats *out);

/* IVSHM_OK, or IVSHM_E_CORRUPT with err saying which index is implausible
 * (heads behind tails, or more entries in use than the capacity). */
int ivshm_ring_check(const struct ivshm_ring *r, struct ivshm_error *err);

#endif
