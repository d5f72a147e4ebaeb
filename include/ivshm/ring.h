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

/* Default bound of an MP/MC wait for a peer (ivshm_ring_set_wait): 2^35 TSC
 * cycles, 10 to 30 s on current x86 CPUs. A wait that gives up takes the
 * peer for dead and leaves that side of the ring blocked (see below), so the
 * bound must be well above the longest time a live party can be stopped:
 * a pinned thread on this project's 2-vCPU test machine, under load, saw
 * gaps of 2 s (and an earlier 1 s default gave spurious timeouts in
 * tests/bench). Callers that must react sooner (a tool's --timeout, a
 * signal) pass a shorter bound or an abort flag. */
#define IVSHM_RING_WAIT_CYCLES (1ull << 35)

/* Private handle. Put it in static storage, on the stack, or in memory from
 * an allocator that honours its 64-byte alignment (aligned_alloc). */
struct ivshm_ring {
    /* Read-only after lookup (and ivshm_ring_set_wait). */
    struct ivshm_ring_shared *shared;
    uint64_t *slots;
    uint32_t mask;                  /* slots - 1 */
    uint32_t capacity;              /* slots */
    uint32_t mode;                  /* IVSHM_RING_MP | IVSHM_RING_MC */
    _Atomic int error;              /* IVSHM_OK, or IVSHM_E_TIMEOUT once a wait gave up */
    uint64_t wait_cycles;           /* bound of a wait for a peer, in TSC cycles */
    const _Atomic bool *wait_abort; /* a wait gives up when this becomes true */
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

/*
 * Bounds the waits of this handle. On an MP or MC side a party publishes its
 * range only after the parties that reserved earlier ranges have published
 * theirs; a party that died in between (or a peer that wrote garbage into a
 * head) would make that wait last for ever. A wait gives up after max_cycles
 * TSC cycles (0: IVSHM_RING_WAIT_CYCLES, the default), or as soon as *abort
 * becomes true (abort may be NULL; a signal handler may set it). The call
 * that gave up moves nothing (a count of 0, or the timeout status of
 * ivshm_ring_enqueue and ivshm_ring_dequeue) and ivshm_ring_error() reports
 * the timeout from then on. It takes back the range of slots it had reserved
 * when no party has reserved after it, which leaves the ring as it was
 * before the call; otherwise the range stays reserved and unpublished, and
 * that side of the ring is blocked until it is repaired (the entries of a
 * dequeue are then lost). SP and SC sides never wait.
 */
void ivshm_ring_set_wait(struct ivshm_ring *r, uint64_t max_cycles, const _Atomic bool *abort);

/* IVSHM_OK, or IVSHM_E_TIMEOUT when a wait of this handle gave up (sticky
 * until the ring's indices are rewritten: a repair, a mempool rebuild). */
static inline int ivshm_ring_error(const struct ivshm_ring *r)
{
    return atomic_load_explicit(&r->error, memory_order_relaxed);
}

#include "ring_pvt.h"

/* ---- operations ----
 *
 * The hot path returns counts, not statuses (status.h, rule 1): how many
 * entries moved. Inline; nothing to link. */

/* Enqueues all n entries or none. Returns n or 0; *free_space (if not NULL)
 * gets the room left afterwards (as seen by this call). On an MP ring, 0 may
 * also mean that a wait for a peer gave up: see ivshm_ring_set_wait. */
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

/* Enqueues one entry: IVSHM_OK, IVSHM_E_NOBUFS when the ring is full, or
 * IVSHM_E_TIMEOUT when a wait for a peer gave up (ivshm_ring_set_wait). */
static IVSHM_INLINE int ivshm_ring_enqueue(struct ivshm_ring *r, uint64_t obj)
{
    if (IVSHM_LIKELY(ivshm__ring_enqueue(r, &obj, 1, true, NULL)))
        return IVSHM_OK;
    return ivshm_ring_error(r) ? IVSHM_E_TIMEOUT : IVSHM_E_NOBUFS;
}

/* Dequeues one entry: IVSHM_OK, IVSHM_E_NOBUFS when the ring is empty, or
 * IVSHM_E_TIMEOUT when a wait for a peer gave up (ivshm_ring_set_wait). */
static IVSHM_INLINE int ivshm_ring_dequeue(struct ivshm_ring *r, uint64_t *obj)
{
    if (IVSHM_LIKELY(ivshm__ring_dequeue(r, obj, 1, true, NULL)))
        return IVSHM_OK;
    return ivshm_ring_error(r) ? IVSHM_E_TIMEOUT : IVSHM_E_NOBUFS;
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
