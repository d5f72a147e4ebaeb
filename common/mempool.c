/* SPDX-License-Identifier: BSD-3-Clause */
/* Mempool lookup, refill, flush, audit and reclaim; the hot path is in mempool.h. */
#include "common/internal.h"

/* Inverse of an odd number modulo 2^64, by Newton's iteration: each step
 * doubles the number of correct low bits (x = m is right to 3 bits). */
static uint64_t odd_inverse(uint64_t m)
{
    uint64_t x = m;
    for (int i = 0; i < 5; i++)
        x *= 2 - m * x;
    return x;
}

int ivshm_mempool_attach(struct ivshm_mempool *mp, const struct ivshm_segment_view *view,
                         const struct ivshm_dir_entry *entry, int party, struct ivshm_error *err)
{
    struct ivshm_error sub;
    struct ivshm_mempool_layout lay;
    if (entry->type != IVSHM_OBJ_MEMPOOL)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s/%s is a %s, not a mempool", view->name,
                          entry->name, ivshm_object_type_name(entry->type));
    if (party < 0 || party >= (int)IVSHM_MAX_PARTIES)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s/%s: party index %d out of range", view->name,
                          entry->name, party);
    if (ivshm_entry_check(entry, view->data_offset, view->size, &sub) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_BADSEG, "%s/%s: %s", view->name, entry->name, sub.msg);
    if (ivshm_mempool_layout(entry->param0, entry->param1, &lay) != IVSHM_OK)
        return IVSHM_E_BADSEG; /* entry_check has checked it: this tells the compiler so */
    uint8_t *obj = view->base + entry->offset;
    ivshm_ring_init_raw(&mp->ring, obj, lay.ring_slots, IVSHM_RING_MPMC, false);
    mp->base = view->base;
    mp->state = (_Atomic uint8_t *)(obj + lay.state_off);
    mp->objs_offset = entry->offset + lay.objs_off;
    mp->count = entry->param0;
    mp->obj_size = entry->param1;
    mp->stride = lay.stride;
    mp->objs_bytes = (uint64_t)lay.stride * entry->param0;
    mp->stride_shift = (uint32_t)__builtin_ctz(lay.stride);
    mp->odd_inverse = odd_inverse(lay.stride >> mp->stride_shift);
    mp->party = (uint8_t)party;
    mp->dropped = 0;
    return IVSHM_OK;
}

int ivshm_mempool_lookup(const struct ivshm_segment_view *view, const char *name,
                         struct ivshm_mempool *mp, struct ivshm_error *err)
{
    if (view->party < 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s/%s: attach claiming a party to use a mempool",
                          view->name, name);
    struct ivshm_dir_entry e;
    int rc = ivshm_object_lookup(view, name, IVSHM_OBJ_MEMPOOL, &e, err);
    return rc ? rc : ivshm_mempool_attach(mp, view, &e, view->party, err);
}

int ivshm_mempool_cache_init(struct ivshm_mempool_cache *cache, uint32_t size)
{
    if (size > IVSHM_MEMPOOL_CACHE_MAX)
        return IVSHM_E_INVAL;
    cache->size = size;
    /* Like DPDK: let the cache grow to 1.5x before giving objects back, so a
     * party that frees what it allocated rarely touches the shared ring. */
    cache->flush_at = size + size / 2;
    cache->len = 0;
    return IVSHM_OK;
}

/* Takes up to `need` handles from the free ring into the cache, checking each:
 * it must be one of our objects and free. Anything else is a peer's garbage or
 * a duplicate, and is dropped (counted in mp->dropped). */
int ivshm__mempool_refill(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                          uint32_t need)
{
    const uint8_t cached = (uint8_t)IVSHM_OBJ_CACHED(mp->party);
    uint64_t *dst = &cache->objs[cache->len];
    uint32_t got = ivshm_ring_dequeue_burst(&mp->ring, dst, need, NULL);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < got; i++) {
        uint32_t idx = ivshm_mempool_index(mp, dst[i]);
        if (idx == UINT32_MAX ||
            atomic_load_explicit(&mp->state[idx], memory_order_relaxed) != IVSHM_OBJ_FREE) {
            mp->dropped++;
            continue;
        }
        ivshm__mempool_mark(mp, idx, cached);
        dst[kept++] = dst[i];
    }
    cache->len += kept;
    return IVSHM_OK;
}

int ivshm__mempool_get_uncached(struct ivshm_mempool *mp, uint64_t *handles, uint32_t n)
{
    if (ivshm_ring_dequeue_bulk(&mp->ring, handles, n, NULL) != n)
        return IVSHM_E_NOBUFS;
    const struct ivshm__mempool_geom g = ivshm__mempool_geom(mp);
    const uint8_t mine = (uint8_t)IVSHM_OBJ_ALLOCATED(mp->party);
    uint32_t kept = 0, dropped = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = ivshm__geom_index(&g, handles[i]);
        /* Relaxed: the acquire in the ring dequeue ordered these bytes. */
        if (IVSHM_UNLIKELY(idx == UINT32_MAX ||
                           atomic_load_explicit(&g.state[idx], memory_order_relaxed) !=
                               IVSHM_OBJ_FREE)) {
            dropped++;
            continue;
        }
        atomic_store_explicit(&g.state[idx], mine, memory_order_relaxed);
        handles[kept++] = handles[i];
    }
    mp->dropped += dropped;
    if (kept == n)
        return IVSHM_OK;
    /* Some handles were garbage: give back the good ones, report the rest. */
    for (uint32_t i = 0; i < kept; i++)
        ivshm__mempool_mark(mp, ivshm_mempool_index(mp, handles[i]), IVSHM_OBJ_FREE);
    ivshm_ring_enqueue_burst(&mp->ring, handles, kept, NULL);
    return IVSHM_E_CORRUPT;
}

void ivshm__mempool_flush_to(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                             uint32_t keep)
{
    if (cache->len <= keep)
        return;
    uint32_t n = cache->len - keep;
    uint64_t *from = &cache->objs[keep];
    for (uint32_t i = 0; i < n; i++)
        ivshm__mempool_mark(mp, ivshm_mempool_index(mp, from[i]), IVSHM_OBJ_FREE);
    /* Cannot be short: the free ring has a slot for every object. */
    uint32_t done = ivshm_ring_enqueue_burst(&mp->ring, from, n, NULL);
    for (uint32_t i = done; i < n; i++)
        mp->dropped++;
    cache->len = keep;
}

void ivshm_mempool_cache_flush(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache)
{
    ivshm__mempool_flush_to(mp, cache, 0);
}

void ivshm_mempool_audit(const struct ivshm_mempool *mp, struct ivshm_mempool_audit *out)
{
    for (unsigned p = 0; p < IVSHM_MAX_PARTIES; p++)
        out->by_party[p] = 0;
    out->free = out->allocated = out->cached = out->invalid = 0;
    for (uint32_t i = 0; i < mp->count; i++) {
        uint8_t s = atomic_load_explicit(&mp->state[i], memory_order_relaxed);
        if (s == IVSHM_OBJ_FREE) {
            out->free++;
        } else if (IVSHM_OBJ_IS_ALLOCATED(s)) {
            out->allocated++;
            out->by_party[IVSHM_OBJ_PARTY(s)]++;
        } else if (IVSHM_OBJ_IS_CACHED(s)) {
            out->cached++;
            out->by_party[IVSHM_OBJ_PARTY(s)]++;
        } else {
            out->invalid++;
        }
    }
}

uint32_t ivshm_mempool_reclaim(struct ivshm_mempool *mp, int party)
{
    uint32_t reclaimed = 0;
    for (uint32_t i = 0; i < mp->count; i++) {
        uint8_t s = atomic_load_explicit(&mp->state[i], memory_order_relaxed);
        if ((IVSHM_OBJ_IS_ALLOCATED(s) || IVSHM_OBJ_IS_CACHED(s)) &&
            IVSHM_OBJ_PARTY(s) == (uint32_t)party) {
            ivshm__mempool_mark(mp, i, IVSHM_OBJ_FREE);
            uint64_t h = ivshm_mempool_handle(mp, i);
            if (ivshm_ring_enqueue_bulk(&mp->ring, &h, 1, NULL) == 1)
                reclaimed++;
        }
    }
    return reclaimed;
}

uint32_t ivshm_mempool_rebuild(struct ivshm_mempool *mp, uint64_t dead_parties)
{
    struct ivshm_ring_shared *shared = mp->ring.shared;
    uint64_t *slots = mp->ring.slots;
    const uint32_t mask = mp->ring.mask;
    /* Continue from the current consumer tail, so the private copies of live
     * handles stay plausible (indices only move forwards). */
    const uint32_t base = atomic_load_explicit(&shared->cons.tail, memory_order_acquire);
    uint32_t n = 0, reclaimed = 0;
    for (uint32_t i = 0; i < mp->count; i++) {
        uint8_t s = atomic_load_explicit(&mp->state[i], memory_order_relaxed);
        bool held = IVSHM_OBJ_IS_ALLOCATED(s) || IVSHM_OBJ_IS_CACHED(s);
        bool dead = held && (dead_parties >> IVSHM_OBJ_PARTY(s)) & 1;
        if (s != IVSHM_OBJ_FREE && !dead)
            continue; /* a live party's, or a state byte of no known form */
        reclaimed += dead;
        ivshm__mempool_mark(mp, i, IVSHM_OBJ_FREE);
        slots[(base + n) & mask] = ivshm_mempool_handle(mp, i);
        n++;
    }
    atomic_store_explicit(&shared->cons.head, base, memory_order_relaxed);
    atomic_store_explicit(&shared->prod.head, base + n, memory_order_relaxed);
    /* Release: the slots and state bytes above are visible with the tail. */
    atomic_store_explicit(&shared->prod.tail, base + n, memory_order_release);
    atomic_store_explicit(&mp->ring.prod_seen_cons_tail, base, memory_order_relaxed);
    atomic_store_explicit(&mp->ring.cons_seen_prod_tail, base + n, memory_order_relaxed);
    return reclaimed;
}
