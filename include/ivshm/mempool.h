/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pool of fixed-size objects in shared memory, for host and guest alike.
 *
 * In the segment a pool is a free ring (MPMC) of handles, a state byte per
 * object and the objects (layout: ivshm_mempool_layout()). A handle is the
 * object's offset from the segment start, so it means the same thing to every
 * party; ivshm_mempool_ptr() turns it into a local pointer.
 *
 * Any party may free any object. put checks each handle: it must be the exact
 * start of one of this pool's objects (else IVSHM_E_FOREIGN) and that object
 * must be allocated (else IVSHM_E_DOUBLE_FREE). Handles taken from the shared
 * free ring are checked the same way before they are handed out, so a peer
 * writing garbage into the ring costs objects, never memory safety.
 *
 * Per-party caches live in each party's private memory (struct
 * ivshm_mempool_cache), never in the segment: one cache per thread.
 *
 * Freestanding: only <stdint.h>, <stddef.h>, <stdbool.h>, <stdatomic.h>.
 */
#ifndef IVSHM_MEMPOOL_H
#define IVSHM_MEMPOOL_H

#include "ring.h"

#define IVSHM_MEMPOOL_CACHE_MAX 512u /* largest cache size */

struct ivshm_mempool {
    struct ivshm_ring ring; /* free ring */
    uint8_t *base;          /* segment base, for handle -> pointer */
    _Atomic uint8_t *state; /* one byte per object */
    uint64_t objs_offset;   /* handle of object 0 */
    uint64_t objs_bytes;    /* count * stride */
    uint32_t count;
    uint32_t obj_size;
    uint32_t stride;
    uint32_t stride_shift; /* stride = odd << stride_shift */
    uint64_t odd_inverse;  /* (stride >> stride_shift)^-1 mod 2^64 */
    uint8_t party;         /* our party index (view->party), recorded in state bytes */
    uint64_t dropped;      /* garbage handles found in the free ring */
};

/* Private cache of free objects; one per thread. */
struct ivshm_mempool_cache {
    uint32_t size;     /* refill up to this many */
    uint32_t flush_at; /* give back to the ring when this many */
    uint32_t len;
    uint64_t objs[2 * IVSHM_MEMPOOL_CACHE_MAX];
};

/*
 * Finds mempool `name` in the segment and builds a handle for it, acting as
 * the view's party (view->party: the host claims one with
 * IVSHM_ATTACH_CLAIM, the guest runtime claims one for every segment).
 * Errors: IVSHM_E_INVAL (view->party is -1), IVSHM_E_NOENT, IVSHM_E_BADSEG.
 */
int ivshm_mempool_lookup(const struct ivshm_segment_view *view, const char *name,
                         struct ivshm_mempool *mp, struct ivshm_error *err);

/* Sets up an empty cache that refills up to `size` objects
 * (0..IVSHM_MEMPOOL_CACHE_MAX; 0 disables it). Whatever the cache held
 * before is forgotten, not returned: flush it first. IVSHM_OK, or
 * IVSHM_E_INVAL when size is above IVSHM_MEMPOOL_CACHE_MAX. */
int ivshm_mempool_cache_init(struct ivshm_mempool_cache *cache, uint32_t size);

/* Returns every cached object to the pool. Call before a thread exits. */
void ivshm_mempool_cache_flush(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache);

#include "mempool_pvt.h"

/* Object index of a handle, or UINT32_MAX when the handle is not the start of
 * one of the pool's objects (misaligned, outside the pool). */
static IVSHM_INLINE uint32_t ivshm_mempool_index(const struct ivshm_mempool *mp, uint64_t handle)
{
    return ivshm__mempool_index(handle, mp->objs_offset, mp->stride_shift, mp->odd_inverse,
                                mp->count);
}

static IVSHM_INLINE uint64_t ivshm_mempool_handle(const struct ivshm_mempool *mp, uint32_t index)
{
    return mp->objs_offset + (uint64_t)index * mp->stride;
}

/* Local address of an object. Only for handles this party got from get, or
 * checked with ivshm_mempool_index(): a handle read from a ring is untrusted. */
static IVSHM_INLINE void *ivshm_mempool_ptr(const struct ivshm_mempool *mp, uint64_t handle)
{
    return mp->base + handle;
}

/*
 * Takes n objects (all or none). cache may be NULL. Returns IVSHM_OK, or
 * IVSHM_E_NOBUFS when the pool (with the cache) has fewer than n free, or,
 * without a cache, IVSHM_E_CORRUPT when some of the handles taken from the
 * shared free ring were not free objects of the pool (a peer's garbage: they
 * are dropped and counted in mp->dropped, the good ones go back). With a
 * cache such handles are dropped while refilling it and the call goes on.
 */
static IVSHM_INLINE int ivshm_mempool_get_bulk(struct ivshm_mempool *mp,
                                               struct ivshm_mempool_cache *cache, uint64_t *handles,
                                               uint32_t n)
{
    if (cache == NULL || cache->size == 0 || n > IVSHM_MEMPOOL_CACHE_MAX)
        return ivshm__mempool_get_uncached(mp, handles, n);
    if (IVSHM_UNLIKELY(cache->len < n)) {
        int rc = ivshm__mempool_refill(mp, cache, cache->size + n - cache->len);
        if (rc != IVSHM_OK)
            return rc;
        /* The pool may have had fewer than we asked for. */
        if (cache->len < n)
            return IVSHM_E_NOBUFS;
    }
    /* Objects in the cache were checked when they entered it. */
    const struct ivshm__mempool_geom g = ivshm__mempool_geom(mp);
    const uint8_t mine = (uint8_t)IVSHM_OBJ_ALLOCATED(mp->party);
    const uint64_t *src = &cache->objs[cache->len - n];
    cache->len -= n;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = src[n - 1 - i];
        handles[i] = h;
        atomic_store_explicit(&g.state[ivshm__geom_index(&g, h)], mine, memory_order_relaxed);
    }
    return IVSHM_OK;
}

/* One object. Errors: as ivshm_mempool_get_bulk. */
static IVSHM_INLINE int ivshm_mempool_get(struct ivshm_mempool *mp,
                                          struct ivshm_mempool_cache *cache, uint64_t *handle)
{
    return ivshm_mempool_get_bulk(mp, cache, handle, 1);
}

/*
 * Frees n objects, in order. Stops at the first handle that is not one of the
 * pool's objects (IVSHM_E_FOREIGN) or not allocated (IVSHM_E_DOUBLE_FREE):
 * those before it are freed, it and those after it are not. *freed (if not
 * NULL) gets how many were freed. Without a cache, IVSHM_E_CORRUPT when the
 * shared free ring refused them: it has a slot for every object, so only a
 * peer's garbage in its indices fills it.
 */
static IVSHM_INLINE int ivshm_mempool_put_bulk(struct ivshm_mempool *mp,
                                               struct ivshm_mempool_cache *cache,
                                               const uint64_t *handles, uint32_t n, uint32_t *freed)
{
    int rc = IVSHM_OK;
    if (cache != NULL && cache->size != 0 && n <= IVSHM_MEMPOOL_CACHE_MAX) {
        /* Into the private cache: check and mark each, append it. Before a
         * put len < flush_at <= 768, so len + n may pass the 1024 slots when
         * n is large: give the excess back first. */
        if (IVSHM_UNLIKELY(cache->len + n > 2 * IVSHM_MEMPOOL_CACHE_MAX))
            ivshm__mempool_flush_to(mp, cache, cache->size);
        const struct ivshm__mempool_geom g = ivshm__mempool_geom(mp);
        uint32_t done = ivshm__mempool_release(&g, handles, n, (uint8_t)IVSHM_OBJ_CACHED(mp->party),
                                               &cache->objs[cache->len], &rc);
        cache->len += done;
        if (freed)
            *freed = done;
        if (IVSHM_UNLIKELY(cache->len >= cache->flush_at))
            ivshm__mempool_flush_to(mp, cache, cache->size);
        return rc;
    }
    const struct ivshm__mempool_geom g = ivshm__mempool_geom(mp);
    uint32_t done = ivshm__mempool_release(&g, handles, n, IVSHM_OBJ_FREE, NULL, &rc);
    if (freed)
        *freed = done;
    if (done && ivshm_ring_enqueue_bulk(&mp->ring, handles, done, NULL) != done) {
        /* The free ring holds every object, so only a corrupted ring is full. */
        return IVSHM_E_CORRUPT;
    }
    return rc;
}

/* One object. Errors: as ivshm_mempool_put_bulk. */
static IVSHM_INLINE int ivshm_mempool_put(struct ivshm_mempool *mp,
                                          struct ivshm_mempool_cache *cache, uint64_t handle)
{
    return ivshm_mempool_put_bulk(mp, cache, &handle, 1, NULL);
}

/* Objects in the shared free ring (not counting private caches). */
static inline uint32_t ivshm_mempool_free_count(const struct ivshm_mempool *mp)
{
    return ivshm_ring_count(&mp->ring);
}

/* Counts of objects by state byte. */
struct ivshm_mempool_audit {
    uint32_t free;                        /* IVSHM_OBJ_FREE */
    uint32_t allocated;                   /* held by some party */
    uint32_t cached;                      /* in some party's private cache */
    uint32_t invalid;                     /* state byte of no known form */
    uint32_t by_party[IVSHM_MAX_PARTIES]; /* allocated + cached, per party */
};

void ivshm_mempool_audit(const struct ivshm_mempool *mp, struct ivshm_mempool_audit *out);

/*
 * Gives back to the free ring every object that party `party` holds
 * (allocated or cached). Only for a party that is gone, and only while none of
 * its objects is in flight in a ring. Returns how many were reclaimed.
 */
uint32_t ivshm_mempool_reclaim(struct ivshm_mempool *mp, int party);

/*
 * Rebuilds the free ring from the state bytes: it then holds every object
 * whose state is free or names a party in `dead_parties` (bit p for party p),
 * and those objects are marked free. Returns how many objects it took back
 * from dead parties.
 *
 * This repairs what ivshm_mempool_reclaim cannot: a party killed in the middle
 * of a get or put on the (MP/MC) free ring leaves its head ahead of its tail,
 * and every later caller would wait for that tail for ever; and objects a dead
 * party had dequeued but not yet marked are in no ring and look free. Only
 * while no other party uses the free ring (live parties' allocated and cached
 * objects are left alone) and none of the dead parties' objects is in flight.
 */
uint32_t ivshm_mempool_rebuild(struct ivshm_mempool *mp, uint64_t dead_parties);

#endif
