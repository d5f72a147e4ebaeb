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

/* Copies n entries, four at a time. The caller's array and the slots never
 * overlap (restrict), so the compiler may use 16- or 32-byte moves; a call to
 * memcpy would cost more than the copy at these sizes. */
static IVSHM_INLINE void ivshm__copy64(uint64_t *restrict dst, const uint64_t *restrict src,
                                       uint32_t n)
{
    uint32_t i = 0;
    if (__builtin_constant_p(n) && n == 1) {
        dst[0] = src[0];
        return;
    }
    for (; i + 4 <= n; i += 4) {
        dst[i] = src[i];
        dst[i + 1] = src[i + 1];
        dst[i + 2] = src[i + 2];
        dst[i + 3] = src[i + 3];
    }
    for (; i < n; i++)
        dst[i] = src[i];
}

/* The handle's fields reach the hot path as arguments, read once per call:
 * after each atomic access GCC would read them from the handle again. */
static IVSHM_INLINE void ivshm__ring_write(uint64_t *slots, uint32_t mask, uint32_t capacity,
                                           uint32_t head, const uint64_t *objs, uint32_t n)
{
    uint32_t idx = head & mask;
    if (IVSHM_LIKELY(idx + n <= capacity)) {
        ivshm__copy64(slots + idx, objs, n);
    } else {
        uint32_t first = capacity - idx;
        ivshm__copy64(slots + idx, objs, first);
        ivshm__copy64(slots, objs + first, n - first);
    }
}

static IVSHM_INLINE void ivshm__ring_read(const uint64_t *slots, uint32_t mask, uint32_t capacity,
                                          uint32_t head, uint64_t *objs, uint32_t n)
{
    uint32_t idx = head & mask;
    if (IVSHM_LIKELY(idx + n <= capacity)) {
        ivshm__copy64(objs, slots + idx, n);
    } else {
        uint32_t first = capacity - idx;
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

/*
 * MP/MC: waits until the parties that reserved the ranges before ours have
 * published them (tail == our head). The final load is an acquire: it reads
 * the predecessor's release store of tail, so its slot accesses happen before
 * our own release of tail, which is the only store the other side
 * synchronises with (a plain store does not extend the predecessor's release
 * sequence). The spin itself is relaxed: cheaper, and under ThreadSanitizer
 * spinning acquire loads can starve the store they wait for.
 */
static IVSHM_INLINE void ivshm__ring_wait_tail(_Atomic uint32_t *tail, uint32_t head)
{
    while (atomic_load_explicit(tail, memory_order_relaxed) != head)
        ivshm__cpu_relax();
    (void)atomic_load_explicit(tail, memory_order_acquire);
}

/*
 * Room for a producer whose head is `head`: capacity - in use, first from the
 * private copy of cons.tail, and only when that says "not enough" from the
 * shared cons.tail (one cross-core read per ring's worth of entries instead of
 * one per call). Returns a value above capacity when even the shared cons.tail
 * is ahead of head: a stale head (MP: other producers moved on since we read
 * it) or a peer's garbage; the caller tells which.
 *
 * The shared read is an acquire: it pairs with the consumer's release store of
 * cons.tail, so the consumer's reads of the slots it gave back happen before
 * we overwrite them. The private copy is stored with release and loaded with
 * acquire so that the same guarantee carries over to the other threads of an
 * MP ring that use it; on x86 both are plain moves.
 */
static IVSHM_INLINE uint32_t ivshm__ring_room(struct ivshm_ring *r, _Atomic uint32_t *cons_tail,
                                              uint32_t capacity, uint32_t head, uint32_t want)
{
    uint32_t cons = atomic_load_explicit(&r->prod_seen_cons_tail, memory_order_acquire);
    uint32_t room = capacity + cons - head;
    if (IVSHM_LIKELY(room >= want && room <= capacity))
        return room;
    cons = atomic_load_explicit(cons_tail, memory_order_acquire);
    atomic_store_explicit(&r->prod_seen_cons_tail, cons, memory_order_release);
    return capacity + cons - head;
}

/* Entries for a consumer whose head is `head`; mirror image of
 * ivshm__ring_room (above capacity: stale head or garbage). The acquire load
 * of prod.tail pairs with the producer's release store, so the slot contents
 * it published are visible. */
static IVSHM_INLINE uint32_t ivshm__ring_avail(struct ivshm_ring *r, _Atomic uint32_t *prod_tail,
                                               uint32_t capacity, uint32_t head, uint32_t want)
{
    uint32_t prod = atomic_load_explicit(&r->cons_seen_prod_tail, memory_order_acquire);
    uint32_t avail = prod - head;
    if (IVSHM_LIKELY(avail >= want && avail <= capacity))
        return avail;
    prod = atomic_load_explicit(prod_tail, memory_order_acquire);
    atomic_store_explicit(&r->cons_seen_prod_tail, prod, memory_order_release);
    return prod - head;
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

static IVSHM_INLINE uint32_t ivshm__ring_enqueue(struct ivshm_ring *r, const uint64_t *objs,
                                                 uint32_t want, bool exact, uint32_t *free_space)
{
    struct ivshm_ring_shared *shared = r->shared;
    struct ivshm_ring_side *prod = &shared->prod;
    uint64_t *const slots = r->slots;
    const uint32_t mask = r->mask, capacity = r->capacity;
    const bool single = !(r->mode & IVSHM_RING_MP);
    uint32_t head, room, n;

    if (single) {
        /* Single producer: we alone write prod.*, so a relaxed read of our
         * own tail is exact, and a room above capacity can only be a peer's
         * garbage in cons.tail: refuse rather than overwrite entries. */
        head = atomic_load_explicit(&prod->tail, memory_order_relaxed);
        room = ivshm__ring_room(r, &shared->cons.tail, capacity, head, want);
        if (IVSHM_UNLIKELY(room > capacity))
            room = 0;
        n = ivshm__ring_take(want, room, exact);
        if (IVSHM_UNLIKELY(n == 0))
            goto full;
        ivshm__ring_write(slots, mask, capacity, head, objs, n);
        /* head mirrors tail for SP, for inspection; relaxed (only we write
         * it, nobody synchronises on it). */
        atomic_store_explicit(&prod->head, head + n, memory_order_relaxed);
        /* Release: the slot writes above are visible before the new tail. */
        atomic_store_explicit(&prod->tail, head + n, memory_order_release);
    } else {
        head = atomic_load_explicit(&prod->head, memory_order_relaxed);
        for (;;) {
            room = ivshm__ring_room(r, &shared->cons.tail, capacity, head, want);
            if (IVSHM_UNLIKELY(room > capacity)) {
                /* Our head is stale (other producers reserved and the
                 * consumers caught up meanwhile): retry with the current one.
                 * If head has not moved, cons.tail really is ahead of it:
                 * a peer's garbage, refuse. */
                uint32_t now = atomic_load_explicit(&prod->head, memory_order_relaxed);
                if (now != head) {
                    head = now;
                    continue;
                }
                room = 0;
            }
            n = ivshm__ring_take(want, room, exact);
            if (IVSHM_UNLIKELY(n == 0))
                goto full;
            /* Relaxed CAS: it only hands out slot ranges among producers;
             * the ordering with the consumer comes from the acquire in
             * ivshm__ring_room and the release on tail below. On failure
             * head gets the current value and we recompute the room. */
            if (atomic_compare_exchange_weak_explicit(&prod->head, &head, head + n,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        }
        ivshm__ring_write(slots, mask, capacity, head, objs, n);
        /* Producers that reserved earlier ranges publish first, so tail only
         * ever covers fully written slots. */
        ivshm__ring_wait_tail(&prod->tail, head);
        atomic_store_explicit(&prod->tail, head + n, memory_order_release);
    }
    if (free_space)
        *free_space = room - n;
    return n;
full:
    ivshm__count_event(&prod->events, single);
    if (free_space)
        *free_space = room;
    return 0;
}

static IVSHM_INLINE uint32_t ivshm__ring_dequeue(struct ivshm_ring *r, uint64_t *objs,
                                                 uint32_t want, bool exact, uint32_t *available)
{
    struct ivshm_ring_shared *shared = r->shared;
    struct ivshm_ring_side *cons = &shared->cons;
    const uint64_t *const slots = r->slots;
    const uint32_t mask = r->mask, capacity = r->capacity;
    const bool single = !(r->mode & IVSHM_RING_MC);
    uint32_t head, avail, n;

    if (single) {
        /* Single consumer: our own tail, read relaxed, is exact; more
         * entries than capacity is a peer's garbage in prod.tail. */
        head = atomic_load_explicit(&cons->tail, memory_order_relaxed);
        avail = ivshm__ring_avail(r, &shared->prod.tail, capacity, head, want);
        if (IVSHM_UNLIKELY(avail > capacity))
            avail = 0;
        n = ivshm__ring_take(want, avail, exact);
        if (IVSHM_UNLIKELY(n == 0))
            goto empty;
        ivshm__ring_read(slots, mask, capacity, head, objs, n);
        atomic_store_explicit(&cons->head, head + n, memory_order_relaxed);
        /* Release: our slot reads complete before the producer, acquiring
         * cons.tail, may reuse the slots. */
        atomic_store_explicit(&cons->tail, head + n, memory_order_release);
    } else {
        head = atomic_load_explicit(&cons->head, memory_order_relaxed);
        for (;;) {
            avail = ivshm__ring_avail(r, &shared->prod.tail, capacity, head, want);
            if (IVSHM_UNLIKELY(avail > capacity)) {
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
            /* Relaxed CAS, as for producers: the acquire in
             * ivshm__ring_avail orders the slot reads. */
            if (atomic_compare_exchange_weak_explicit(&cons->head, &head, head + n,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        }
        ivshm__ring_read(slots, mask, capacity, head, objs, n);
        ivshm__ring_wait_tail(&cons->tail, head);
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
