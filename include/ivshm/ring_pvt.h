/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring internals: the inline hot path behind the operations of ring.h.
 *
 * Not part of the API: names start with ivshm__, nothing here is exported
 * from the shared library, and any of it may change in any release. It is
 * installed only because the public operations are inline functions.
 * Include <ivshm/ring.h>, never this file.
 */
#ifndef IVSHM_RING_PVT_H
#define IVSHM_RING_PVT_H

#ifndef IVSHM_RING_H
#error "include <ivshm/ring.h> instead of <ivshm/ring_pvt.h>"
#endif

/* Copies n entries. The caller's array and the slots never overlap
 * (restrict), so the compiler may use 16- or 32-byte moves; a call to memcpy
 * would cost more than the copy at these sizes. No loop for the last 0-7
 * entries: GCC turned a tail loop into a call to memmove. */
static IVSHM_INLINE void ivshm__copy64(uint64_t *restrict dst, const uint64_t *restrict src,
                                       uint32_t n)
{
    if (n == 1) { /* folded away when n is a constant */
        dst[0] = src[0];
        return;
    }
    /* Eight at a time, then four, two, one: a count, not an end pointer
     * (GCC computed a trip count from the latter), and tests, not a switch
     * (a compare chain). */
    for (uint32_t k = n >> 3; k; k--, src += 8, dst += 8) {
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
        dst[3] = src[3];
        dst[4] = src[4];
        dst[5] = src[5];
        dst[6] = src[6];
        dst[7] = src[7];
    }
    if (n & 4) {
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
        dst[3] = src[3];
        src += 4;
        dst += 4;
    }
    if (n & 2) {
        dst[0] = src[0];
        dst[1] = src[1];
        src += 2;
        dst += 2;
    }
    if (n & 1)
        dst[0] = src[0];
}

/* The handle's fields reach the hot path as arguments, read once per call:
 * after each atomic access GCC would read them from the handle again. The
 * capacity is mask + 1, so a single entry never wraps. */
static IVSHM_INLINE void ivshm__ring_write(uint64_t *slots, uint32_t mask, uint32_t head,
                                           const uint64_t *objs, uint32_t n)
{
    uint32_t idx = head & mask;
    if ((__builtin_constant_p(n) && n == 1) || IVSHM_LIKELY(idx + n <= mask + 1)) {
        ivshm__copy64(slots + idx, objs, n);
    } else {
        uint32_t first = mask + 1 - idx;
        ivshm__copy64(slots + idx, objs, first);
        ivshm__copy64(slots, objs + first, n - first);
    }
}

static IVSHM_INLINE void ivshm__ring_read(const uint64_t *slots, uint32_t mask, uint32_t head,
                                          uint64_t *objs, uint32_t n)
{
    uint32_t idx = head & mask;
    if ((__builtin_constant_p(n) && n == 1) || IVSHM_LIKELY(idx + n <= mask + 1)) {
        ivshm__copy64(objs, slots + idx, n);
    } else {
        uint32_t first = mask + 1 - idx;
        ivshm__copy64(objs, slots + idx, first);
        ivshm__copy64(objs + first, slots, n - first);
    }
}

static IVSHM_INLINE void ivshm__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The spin of ivshm__ring_wait_tail, out of line (common/ring.c): bounded by
 * r->wait_cycles and by *r->wait_abort. Returns false when it gave up. */
bool ivshm__ring_wait_slow(struct ivshm_ring *r, _Atomic uint32_t *tail, uint32_t head);

/*
 * MP/MC: waits until the parties that reserved the ranges before ours have
 * published them (tail == our head). The load is an acquire: it reads the
 * predecessor's release store of tail, so its slot accesses happen before our
 * own release of tail, which is the only store the other side synchronises
 * with (a plain store does not extend the predecessor's release sequence).
 *
 * A predecessor that died between its CAS on head and its store of tail, or a
 * peer that wrote garbage into head, would make this wait for ever: the spin
 * (out of line, so the common case is one load and a compare) gives up after
 * a bound and returns false. Nothing is checked on the way in: the bound costs
 * nothing unless we have to wait.
 */
static IVSHM_INLINE bool ivshm__ring_wait_tail(struct ivshm_ring *r, _Atomic uint32_t *tail,
                                               uint32_t head)
{
    if (IVSHM_LIKELY(atomic_load_explicit(tail, memory_order_acquire) == head))
        return true;
    return ivshm__ring_wait_slow(r, tail, head);
}

/* After a wait gave up: takes back the range [head, head + n) this call
 * reserved, if no party has reserved after it (head still head + n), so the
 * ring is as it was before the call (on a dequeue, the entries stay in it).
 * Otherwise the range stays reserved and unpublished, and that side of the
 * ring is blocked until it is repaired. Relaxed: nobody publishes through
 * head; a party that reserves the range again writes (or reads) its slots
 * itself. Cold. */
static inline __attribute__((cold)) void ivshm__ring_unreserve(_Atomic uint32_t *headp,
                                                               uint32_t head, uint32_t n)
{
    uint32_t reserved_end = head + n;
    atomic_compare_exchange_strong_explicit(headp, &reserved_end, head, memory_order_relaxed,
                                            memory_order_relaxed);
}

/* Counts a refused call. Statistics only, so relaxed. With a single writer
 * (SP producer side, SC consumer side) a load and a store do: a locked
 * read-modify-write would cost ~20 cycles on every poll of an empty ring. */
static IVSHM_INLINE void ivshm__count_event(_Atomic uint64_t *events, bool single_writer)
{
    if (single_writer)
        atomic_store_explicit(events, atomic_load_explicit(events, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(events, 1, memory_order_relaxed);
}

/* How many of `want` to move given `space` (room or entries): all or none
 * when exact (bulk), as many as there are otherwise (burst). */
static IVSHM_INLINE uint32_t ivshm__ring_take(uint32_t want, uint32_t space, bool exact)
{
    if (IVSHM_LIKELY(want <= space))
        return want;
    return exact ? 0 : space;
}

/*
 * Room and entries. Each handle keeps a private copy of the other side's
 * tail and re-reads the shared one only when the copy says there is not
 * enough: one cross-core read per ring's worth of entries instead of one per
 * call. The fast test is a single compare that also rejects an implausible
 * value (more in use than the capacity): the slow path below then re-reads
 * the shared tail, and treats a value that is still implausible as zero room
 * or zero entries, so garbage never makes us move more than the ring holds.
 *
 * The shared reads are acquires: cons.tail pairs with the consumer's release
 * store, so its reads of the slots it gave back happen before we overwrite
 * them; prod.tail pairs with the producer's release store, so the slots it
 * published are visible. The private copies are stored with release and
 * loaded with acquire, so that the same guarantee carries over to the other
 * threads of an MP or MC ring that share the handle; on x86 all are plain
 * moves.
 */

/* Producer whose head is `head`: in use by the private copy of cons.tail.
 * Fast when want more fit; otherwise refreshes the copy and returns the
 * entries in use as the shared cons.tail says (above capacity: a stale head
 * on an MP ring, or garbage). */
static IVSHM_INLINE uint32_t ivshm__ring_used_slow(struct ivshm_ring *r,
                                                   _Atomic uint32_t *cons_tail, uint32_t head)
{
    uint32_t cons = atomic_load_explicit(cons_tail, memory_order_acquire);
    atomic_store_explicit(&r->prod_seen_cons_tail, cons, memory_order_release);
    return head - cons;
}

static IVSHM_INLINE uint32_t ivshm__ring_avail_slow(struct ivshm_ring *r,
                                                    _Atomic uint32_t *prod_tail, uint32_t head)
{
    uint32_t prod = atomic_load_explicit(prod_tail, memory_order_acquire);
    atomic_store_explicit(&r->cons_seen_prod_tail, prod, memory_order_release);
    return prod - head;
}

/* Whether `want` more entries fit when `used` are in use, and `used` is
 * plausible (not above the capacity mask + 1): one compare. */
static IVSHM_INLINE bool ivshm__ring_fits(uint32_t used, uint32_t want, uint32_t mask)
{
    if (__builtin_constant_p(want) && want == 1)
        return used <= mask;
    return (uint64_t)used + want <= (uint64_t)mask + 1;
}

/* Whether `avail` entries hold `want` and are plausible (not above the
 * capacity mask + 1). */
static IVSHM_INLINE bool ivshm__ring_holds(uint32_t avail, uint32_t want, uint32_t mask)
{
    if (__builtin_constant_p(want) && want == 1)
        return avail - 1 <= mask;
    return avail >= want && avail <= mask + 1;
}

static IVSHM_INLINE uint32_t ivshm__ring_enqueue(struct ivshm_ring *r, const uint64_t *objs,
                                                 uint32_t want, bool exact, uint32_t *free_space)
{
    struct ivshm_ring_shared *const shared = r->shared;
    struct ivshm_ring_side *const prod = &shared->prod;
    uint64_t *const slots = r->slots;
    const uint32_t mask = r->mask;
    const uint32_t capacity = mask + 1;
    const bool single = !(r->mode & IVSHM_RING_MP);
    uint32_t head, used, n;

    /* The handle was checked at attach: a ring has at most 2^28 slots. */
    if (mask >= IVSHM_RING_MAX_SLOTS)
        __builtin_unreachable();
    if (single) {
        /* Single producer: we alone write prod.*, so a relaxed read of our
         * own tail is exact, and more in use than the capacity can only be
         * a peer's garbage in cons.tail: refuse rather than overwrite. */
        head = atomic_load_explicit(&prod->tail, memory_order_relaxed);
        used = head - atomic_load_explicit(&r->prod_seen_cons_tail, memory_order_acquire);
        n = want;
        if (IVSHM_UNLIKELY(!ivshm__ring_fits(used, want, mask))) {
            used = ivshm__ring_used_slow(r, &shared->cons.tail, head);
            if (!ivshm__ring_fits(used, want, mask)) {
                if (IVSHM_UNLIKELY(used > capacity))
                    used = capacity;
                n = ivshm__ring_take(want, capacity - used, exact);
                if (IVSHM_UNLIKELY(n == 0))
                    goto full;
            }
        }
        ivshm__ring_write(slots, mask, head, objs, n);
        /* head mirrors tail for SP, for inspection; relaxed (only we write
         * it, nobody synchronises on it). */
        atomic_store_explicit(&prod->head, head + n, memory_order_relaxed);
        /* Release: the slot writes above are visible before the new tail. */
        atomic_store_explicit(&prod->tail, head + n, memory_order_release);
    } else {
        head = atomic_load_explicit(&prod->head, memory_order_relaxed);
        for (;;) {
            used = head - atomic_load_explicit(&r->prod_seen_cons_tail, memory_order_acquire);
            n = want;
            if (IVSHM_UNLIKELY(!ivshm__ring_fits(used, want, mask)))
                used = ivshm__ring_used_slow(r, &shared->cons.tail, head);
            if (IVSHM_UNLIKELY(!ivshm__ring_fits(used, want, mask))) {
                if (IVSHM_UNLIKELY(used > capacity)) {
                    /* Our head is stale (other producers reserved and the
                     * consumers caught up meanwhile): retry with the current
                     * one. If head has not moved, cons.tail really is ahead
                     * of it: a peer's garbage, refuse. */
                    uint32_t now = atomic_load_explicit(&prod->head, memory_order_relaxed);
                    if (now != head) {
                        head = now;
                        continue;
                    }
                    used = capacity;
                }
                n = ivshm__ring_take(want, capacity - used, exact);
                if (IVSHM_UNLIKELY(n == 0))
                    goto full;
            }
            /* Relaxed CAS: it only hands out slot ranges among producers;
             * the ordering with the consumer comes from the acquire of
             * cons.tail and the release on tail below. On failure head gets
             * the current value and we recompute the room. */
            if (atomic_compare_exchange_weak_explicit(&prod->head, &head, head + n,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        }
        ivshm__ring_write(slots, mask, head, objs, n);
        /* Producers that reserved earlier ranges publish first, so tail only
         * ever covers fully written slots. */
        if (IVSHM_UNLIKELY(!ivshm__ring_wait_tail(r, &prod->tail, head))) {
            /* Gave up (see ivshm_ring_set_wait): nothing was enqueued. */
            ivshm__ring_unreserve(&prod->head, head, n);
            if (free_space)
                *free_space = 0;
            return 0;
        }
        atomic_store_explicit(&prod->tail, head + n, memory_order_release);
    }
    if (free_space)
        *free_space = capacity - used - n;
    return n;
full:
    ivshm__count_event(&prod->events, single);
    if (free_space)
        *free_space = capacity - used;
    return 0;
}

static IVSHM_INLINE uint32_t ivshm__ring_dequeue(struct ivshm_ring *r, uint64_t *objs,
                                                 uint32_t want, bool exact, uint32_t *available)
{
    struct ivshm_ring_shared *const shared = r->shared;
    struct ivshm_ring_side *const cons = &shared->cons;
    const uint64_t *const slots = r->slots;
    const uint32_t mask = r->mask;
    const uint32_t capacity = mask + 1;
    const bool single = !(r->mode & IVSHM_RING_MC);
    uint32_t head, avail, n;

    if (mask >= IVSHM_RING_MAX_SLOTS)
        __builtin_unreachable();
    if (single) {
        /* Single consumer: our own tail, read relaxed, is exact; more
         * entries than capacity is a peer's garbage in prod.tail. */
        head = atomic_load_explicit(&cons->tail, memory_order_relaxed);
        /* One entry: read prod.tail itself, as the private copy is
         * exhausted on nearly every call when entries come one by one. */
        if (__builtin_constant_p(want) && want == 1)
            avail = atomic_load_explicit(&shared->prod.tail, memory_order_acquire) - head;
        else
            avail = atomic_load_explicit(&r->cons_seen_prod_tail, memory_order_acquire) - head;
        n = want;
        if (!ivshm__ring_holds(avail, want, mask)) {
            avail = ivshm__ring_avail_slow(r, &shared->prod.tail, head);
            if (IVSHM_UNLIKELY(!ivshm__ring_holds(avail, want, mask))) {
                if (avail > capacity)
                    avail = 0;
                n = ivshm__ring_take(want, avail, exact);
                if (IVSHM_UNLIKELY(n == 0))
                    goto empty;
            }
        }
        ivshm__ring_read(slots, mask, head, objs, n);
        atomic_store_explicit(&cons->head, head + n, memory_order_relaxed);
        /* Release: our slot reads complete before the producer, acquiring
         * cons.tail, may reuse the slots. */
        atomic_store_explicit(&cons->tail, head + n, memory_order_release);
    } else {
        head = atomic_load_explicit(&cons->head, memory_order_relaxed);
        for (;;) {
            if (__builtin_constant_p(want) && want == 1) /* as above */
                avail = atomic_load_explicit(&shared->prod.tail, memory_order_acquire) - head;
            else
                avail = atomic_load_explicit(&r->cons_seen_prod_tail, memory_order_acquire) - head;
            n = want;
            if (!ivshm__ring_holds(avail, want, mask))
                avail = ivshm__ring_avail_slow(r, &shared->prod.tail, head);
            if (IVSHM_UNLIKELY(!ivshm__ring_holds(avail, want, mask))) {
                if (avail > capacity) {
                    /* Stale head (other consumers moved on and producers
                     * refilled): retry with the current one; garbage if not. */
                    uint32_t now = atomic_load_explicit(&cons->head, memory_order_relaxed);
                    if (now != head) {
                        head = now;
                        continue;
                    }
                    avail = 0;
                }
                n = ivshm__ring_take(want, avail, exact);
                if (IVSHM_UNLIKELY(n == 0))
                    goto empty;
            }
            /* Relaxed CAS, as for producers: the acquire of prod.tail
             * orders the slot reads. */
            if (atomic_compare_exchange_weak_explicit(&cons->head, &head, head + n,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        }
        ivshm__ring_read(slots, mask, head, objs, n);
        if (IVSHM_UNLIKELY(!ivshm__ring_wait_tail(r, &cons->tail, head))) {
            /* Gave up: nothing was dequeued. */
            ivshm__ring_unreserve(&cons->head, head, n);
            if (available)
                *available = 0;
            return 0;
        }
        atomic_store_explicit(&cons->tail, head + n, memory_order_release);
    }
    if (available)
        *available = avail - n;
    return n;
empty:
    ivshm__count_event(&cons->events, single);
    if (available)
        *available = avail;
    return 0;
}

#endif
