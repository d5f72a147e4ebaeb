/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring lookup, stats and consistency check; the hot path is in ring.h. */
#include "common/internal.h"

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
    /* Start the private copies from the shared state, so a party attaching
     * to a ring in use does not begin with a wrong idea of it. */
    atomic_store_explicit(&r->prod_seen_cons_tail,
                          atomic_load_explicit(&s->cons.tail, memory_order_acquire),
                          memory_order_relaxed);
    atomic_store_explicit(&r->cons_seen_prod_tail,
                          atomic_load_explicit(&s->prod.tail, memory_order_acquire),
                          memory_order_relaxed);
    return IVSHM_OK;
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
