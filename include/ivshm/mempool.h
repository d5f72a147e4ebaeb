/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pool of fixed-size objects in shared memory, for host and guest alike.
 *
 * In the segment a pool is a free ring (MPMC) of handles, a state byte per
 * object and the objects (layout: ivshm_mempool_layout()). A handle is the
 * object's offset from the segment start, so it means the same thing to every
 * party; ivshm_mempool_ptr() turns it into a local pointer.
 *
 * Any party may free any object. What put and get check, and where (the
 * whole contract is in docs/abi.md, section 3.2):
 *
 * - Every put checks that each handle is the exact start of one of this
 *   pool's objects (else IVSHM_E_FOREIGN) and that its state byte names a
 *   holder (else IVSHM_E_DOUBLE_FREE: the object is in the shared free ring,
 *   or its state byte is garbage). Handles taken from the shared free ring are
 *   checked the same way (one of ours, and free) before they are handed out,
 *   so a peer writing garbage into the ring costs objects, never memory
 *   safety, and the free ring never receives an object twice from puts that
 *   follow one another.
 * - An object that moves only in and out of a party's own private cache
 *   touches no shared state on the way: it stays marked cached-by-that-party
 *   while the party holds it, and a put into the cache reads its state byte
 *   without writing it. So a put of an object that is still in the private
 *   cache (a double free inside one party) is not detected there, and a
 *   party cannot tell whether an object marked cached by another party is in
 *   that party's cache or was handed on by it. Such duplicates are caught
 *   when the cache gives objects back to the free ring (an object no longer
 *   marked cached-by-me is dropped, not enqueued) but until then that cache
 *   may hand the object out twice.
 * - Debug mode (ivshm_mempool_set_debug) checks everything on every call:
 *   objects taken from a cache are marked allocated, a put requires the
 *   allocated mark, and a double free inside a cache is detected at once.
 *
 * Per-party caches live in each party's private memory (struct
 * ivshm_mempool_cache), never in the segment: one cache per thread.
 *
 * Freestanding: only <stdint.h>, <stddef.h>, <stdbool.h>, <stdatomic.h>.
 */
#ifndef IVSHM_MEMPOOL_H
#define IVSHM_MEMPOOL_H

#include "ring.h"

#define IVSHM_MEMPOOL_CACHE_MAX 512u  /* largest cache size */
#define IVSHM_MEMPOOL_NO_PARTY  0xffu /* mp->party of a handle that acts as no party */

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
    uint8_t party;         /* our party index (view->party), recorded in state bytes;
                              IVSHM_MEMPOOL_NO_PARTY in a host tool's handle of no party */
    bool debug;            /* check everything on every call (ivshm_mempool_set_debug) */
    uint64_t dropped;      /* garbage handles found in the free ring, and cached
                              objects another party took (found when flushing) */
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

/*
 * Debug mode for this handle: every get and put checks and marks the state
 * byte of every object, also in and out of a private cache (a double free
 * inside a cache is then refused at once, and an object marked cached is
 * taken to be in its party's cache). Costs three to four times the fast mode's
 * on cached gets and puts. Set it before the first get (an object taken from
 * a cache in fast mode cannot be put back in debug mode). Parties that pass
 * objects to one another should agree: a debug party refuses an object a
 * fast-mode party took from its cache, as a double free.
 */
void ivshm_mempool_set_debug(struct ivshm_mempool *mp, bool on);

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
 * Takes n objects (all or none). cache may be NULL. Returns IVSHM_OK,
 * IVSHM_E_NOBUFS when the pool (with the cache) has fewer than n free,
 * without a cache IVSHM_E_CORRUPT when some of the handles taken from the
 * shared free ring were not free objects of the pool (a peer's garbage: they
 * are dropped and counted in mp->dropped, the good ones go back), or
 * IVSHM_E_TIMEOUT when a wait on the free ring gave up (ivshm_ring_set_wait).
 * With a cache, garbage handles are dropped while refilling it and the call
 * goes on.
 */
static IVSHM_INLINE int ivshm_mempool_get_bulk(struct ivshm_mempool *mp,
                                               struct ivshm_mempool_cache *cache, uint64_t *handles,
                                               uint32_t n)
{
    /* Fast path: enough in the private cache (an empty or disabled cache
     * has len 0). Objects in the cache were checked when they entered it,
     * and stay marked cached-by-me while we hold them: nothing to write. */
    if (IVSHM_LIKELY(cache != NULL && cache->len >= n && !mp->debug)) {
        cache->len -= n;
        if (n == 1)
            handles[0] = cache->objs[cache->len];
        else
            ivshm__copy64(handles, &cache->objs[cache->len], n);
        return IVSHM_OK;
    }
    return ivshm__mempool_get_slow(mp, cache, handles, n);
}

/* One object. Errors: as ivshm_mempool_get_bulk. */
static IVSHM_INLINE int ivshm_mempool_get(struct ivshm_mempool *mp,
                                          struct ivshm_mempool_cache *cache, uint64_t *handle)
{
    return ivshm_mempool_get_bulk(mp, cache, handle, 1);
}

/*
 * Frees n objects, in order. Stops at the first handle that is not one of the
 * pool's objects (IVSHM_E_FOREIGN) or not held (IVSHM_E_DOUBLE_FREE: see the
 * top of this file for what is detected where): those before it are freed, it
 * and those after it are not. *freed (if not NULL) gets how many were freed.
 * Without a cache, IVSHM_E_CORRUPT when the shared free ring refused them (it
 * has a slot for every object, so only a peer's garbage in its indices fills
 * it), or IVSHM_E_TIMEOUT when a wait on the free ring gave up (the objects
 * are then marked free but in no ring: ivshm_mempool_rebuild finds them).
 */
static IVSHM_INLINE int ivshm_mempool_put_bulk(struct ivshm_mempool *mp,
                                               struct ivshm_mempool_cache *cache,
                                               const uint64_t *handles, uint32_t n, uint32_t *freed)
{
    /* Fast path: into a cache that stays below its flush mark (a disabled
     * cache has flush_at 0; flush_at <= 768 leaves room in the 1024 slots;
     * n is tested alone first so that len + n cannot wrap), objects already
     * marked cached-by-me: a read of each state byte, no write. Anything
     * else (another party's object, a bad handle, a flush due, debug mode,
     * a handle of no party: its puts go to the free ring) takes the slow
     * path, which starts over. */
    if (IVSHM_LIKELY(cache != NULL && n < cache->flush_at && cache->len + n < cache->flush_at &&
                     !mp->debug && mp->party != IVSHM_MEMPOOL_NO_PARTY)) {
        uint64_t *const dst = &cache->objs[cache->len];
        bool mine;
        if (n == 1) {
            const uint64_t idx = ivshm__mempool_raw_index(handles[0], mp->objs_offset,
                                                          mp->stride_shift, mp->odd_inverse);
            /* Relaxed, like every state byte access: see ivshm__mempool_mark. */
            mine = idx < mp->count && atomic_load_explicit(&mp->state[idx], memory_order_relaxed) ==
                                          (uint8_t)IVSHM_OBJ_CACHED(mp->party);
            dst[0] = handles[0];
        } else {
            mine = ivshm__mempool_put_mine(mp, handles, n, dst);
        }
        if (IVSHM_LIKELY(mine)) {
            cache->len += n;
            if (freed)
                *freed = n;
            return IVSHM_OK;
        }
    }
    return ivshm__mempool_put_slow(mp, cache, handles, n, freed);
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
    uint32_t cached;                      /* held through some party's private cache */
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
