/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring lookup, stats and consistency check; the hot path is in ring.h. */
#include "common/internal.h"

#if __STDC_HOSTED__
#include <sched.h>
#endif

int ivshm_ring_init_raw(struct ivshm_ring *r, void *mem, uint32_t slots, uint32_t mode, bool format)
{
    if (!ivshm_is_pow2(slots) || slots > IVSHM_RING_MAX_SLOTS || (mode & ~IVSHM_RING_MPMC))
        return IVSHM_E_INVAL;
    struct ivshm_ring_shared *s = mem;
    if (format) {
        atomic_store_explicit(&s->prod.head, 0, memory_order_relaxed);
        atomic_store_explicit(&s->prod.tail, 0, memory_order_relaxed);
        atomic_store_explicit(&s->prod.events, 0, memory_order_relaxed);
        atomic_store_explicit(&s->cons.head, 0, memory_order_relaxed);
        atomic_store_explicit(&s->cons.tail, 0, memory_order_relaxed);
        atomic_store_explicit(&s->cons.events, 0, memory_order_relaxed);
        atomic_store_explicit(&s->prod.wake, 0, memory_order_relaxed);
        atomic_store_explicit(&s->cons.wake, 0, memory_order_relaxed);
    }
    r->shared = s;
    r->slots = (uint64_t *)(s + 1);
    r->mask = slots - 1;
    r->capacity = slots;
    r->mode = mode;
    atomic_store_explicit(&r->error, IVSHM_OK, memory_order_relaxed);
    r->wait_cycles = IVSHM_RING_WAIT_CYCLES;
    r->wait_abort = NULL;
    /* Start the private copies from the shared state, so a party attaching
     * to a ring in use does not begin with a wrong idea of it. */
    ivshm_ring_resync(r);
    return IVSHM_OK;
}

void ivshm_ring_resync(struct ivshm_ring *r)
{
    const struct ivshm_ring_shared *s = r->shared;
    atomic_store_explicit(&r->prod_seen_cons_tail,
                          atomic_load_explicit(&s->cons.tail, memory_order_acquire),
                          memory_order_relaxed);
    atomic_store_explicit(&r->cons_seen_prod_tail,
                          atomic_load_explicit(&s->prod.tail, memory_order_acquire),
                          memory_order_relaxed);
    /* The indices a wait of this handle gave up on are gone: its timeout is
     * over (ivshm_ring_error is sticky until the ring is rewritten). */
    atomic_store_explicit(&r->error, IVSHM_OK, memory_order_relaxed);
}

uint32_t ivshm_ring_reset(struct ivshm_ring *r)
{
    struct ivshm_ring_shared *s = r->shared;
    /* The producer's head: past every entry a producer reserved (an MP one
     * may have died between head and tail), so that a consumer that missed
     * the reset sees its cached prod.tail at or behind the new cons.tail
     * (nothing to read) and a producer sees less room than there is, never
     * more. */
    const uint32_t v = atomic_load_explicit(
        (r->mode & IVSHM_RING_MP) ? &s->prod.head : &s->prod.tail, memory_order_relaxed);
    uint32_t dropped = ivshm_ring_count(r);
    for (uint32_t i = 0; i < r->capacity; i++)
        r->slots[i] = 0;
    atomic_store_explicit(&s->cons.head, v, memory_order_relaxed);
    atomic_store_explicit(&s->cons.tail, v, memory_order_relaxed);
    atomic_store_explicit(&s->prod.head, v, memory_order_relaxed);
    /* Release: the zeroed slots and the indices above come with it. */
    atomic_store_explicit(&s->prod.tail, v, memory_order_release);
    ivshm_ring_resync(r);
    return dropped;
}

void ivshm_ring_set_wait(struct ivshm_ring *r, uint64_t max_cycles, const _Atomic bool *abort)
{
    r->wait_cycles = max_cycles ? max_cycles : IVSHM_RING_WAIT_CYCLES;
    r->wait_abort = abort;
}

static uint64_t wait_clock(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    /* No cycle counter known here: count 100 cycles a call (a few pauses). */
    static _Atomic uint64_t ticks;
    return atomic_fetch_add_explicit(&ticks, 100, memory_order_relaxed);
#endif
}

/*
 * The spin behind ivshm__ring_wait_tail. Relaxed loads while spinning
 * (cheaper, and under ThreadSanitizer spinning acquire loads can starve the
 * store they wait for), one acquire load once tail has arrived. The clock and
 * the abort flag are looked at every 64 spins only.
 */
bool ivshm__ring_wait_slow(struct ivshm_ring *r, _Atomic uint32_t *tail, uint32_t head)
{
    const uint64_t start = wait_clock();
    for (uint32_t spin = 1;; spin++) {
        ivshm__cpu_relax();
        if (atomic_load_explicit(tail, memory_order_relaxed) == head) {
            (void)atomic_load_explicit(tail, memory_order_acquire);
            return true;
        }
#if __STDC_HOSTED__
        /* On a host, the party we wait for may have been preempted between
         * its reservation and its tail update; spinning on then burns our
         * whole time slice while it cannot run (with more threads than CPUs,
         * under ThreadSanitizer, a test took minutes instead of seconds).
         * After ~1000 pauses, give the CPU away now and then (DPDK's
         * RTE_RING_PAUSE_REP_COUNT does the same). A guest has no scheduler. */
        if ((spin & 1023) == 0)
            sched_yield();
#endif
        if ((spin & 63) == 0 &&
            ((r->wait_abort && atomic_load_explicit(r->wait_abort, memory_order_relaxed)) ||
             wait_clock() - start > r->wait_cycles)) {
            atomic_store_explicit(&r->error, IVSHM_E_TIMEOUT, memory_order_relaxed);
            return false;
        }
    }
}

int ivshm_ring_attach(struct ivshm_ring *r, const struct ivshm_segment_view *view,
                      const struct ivshm_dir_entry *entry, struct ivshm_error *err)
{
    struct ivshm_error sub;
    if (entry->type != IVSHM_OBJ_RING)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s/%s is a %s, not a ring", view->name, entry->name,
                          ivshm_object_type_name(entry->type));
    if (ivshm_entry_check(entry, view->data_offset, view->size, &sub) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_BADSEG, "%s/%s: %s", view->name, entry->name, sub.msg);
    return ivshm_ring_init_raw(r, view->base + entry->offset, entry->param0, entry->param1, false);
}

int ivshm_ring_lookup(const struct ivshm_segment_view *view, const char *name,
                      struct ivshm_ring *ring, struct ivshm_error *err)
{
    struct ivshm_dir_entry e;
    int rc = ivshm_object_lookup(view, name, IVSHM_OBJ_RING, &e, err);
    return rc ? rc : ivshm_ring_attach(ring, view, &e, err);
}

void ivshm_ring_stats(const struct ivshm_ring *r, struct ivshm_ring_stats *out)
{
    const struct ivshm_ring_shared *s = r->shared;
    out->capacity = r->capacity;
    out->prod_head = atomic_load_explicit(&s->prod.head, memory_order_relaxed);
    out->prod_tail = atomic_load_explicit(&s->prod.tail, memory_order_relaxed);
    out->cons_head = atomic_load_explicit(&s->cons.head, memory_order_relaxed);
    out->cons_tail = atomic_load_explicit(&s->cons.tail, memory_order_relaxed);
    out->full_events = atomic_load_explicit(&s->prod.events, memory_order_relaxed);
    out->empty_events = atomic_load_explicit(&s->cons.events, memory_order_relaxed);
    out->in_use = ivshm_ring_count(r);
}

int ivshm_ring_check(const struct ivshm_ring *r, struct ivshm_error *err)
{
    struct ivshm_ring_stats st;
    ivshm_ring_stats(r, &st);
    if ((uint32_t)(st.prod_tail - st.cons_tail) > st.capacity)
        return ivshm_fail(err, IVSHM_E_CORRUPT,
                          "ring: %u entries in use (prod.tail %u - cons.tail %u) exceed %u slots",
                          st.prod_tail - st.cons_tail, st.prod_tail, st.cons_tail, st.capacity);
    if ((uint32_t)(st.prod_head - st.prod_tail) > st.capacity)
        return ivshm_fail(err, IVSHM_E_CORRUPT,
                          "ring: prod.head %u is not within a ring of prod.tail %u", st.prod_head,
                          st.prod_tail);
    if ((uint32_t)(st.cons_head - st.cons_tail) > st.capacity)
        return ivshm_fail(err, IVSHM_E_CORRUPT,
                          "ring: cons.head %u is not within a ring of cons.tail %u", st.cons_head,
                          st.cons_tail);
    return IVSHM_OK;
}
