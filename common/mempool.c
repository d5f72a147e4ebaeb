/* SPDX-License-Identifier: BSD-3-Clause */
/* Mempool lookup, refill, flush, debug mode, audit and reclaim; the hot path
 * is in mempool.h and mempool_pvt.h. */
#include "common/internal.h"

/* Build the library with -DIVSHM_MEMPOOL_DEBUG=1 to attach every pool in
 * debug mode (ivshm_mempool_set_debug). */
#ifndef IVSHM_MEMPOOL_DEBUG
#define IVSHM_MEMPOOL_DEBUG 0
#endif

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
    if (party < -1 || party >= (int)IVSHM_MAX_PARTIES)
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
    mp->party = party < 0 ? IVSHM_MEMPOOL_NO_PARTY : (uint8_t)party;
    mp->debug = IVSHM_MEMPOOL_DEBUG;
    mp->dropped = 0;
    return IVSHM_OK;
}

int ivshm_mempool_lookup(const struct ivshm_segment_view *view, const char *name,
                         struct ivshm_mempool *mp, struct ivshm_error *err)
{
    if (view->party < 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s/%s: attach claiming a party to use a mempool",
                          view->name, name);
    return ivshm_mempool_lookup_any(view, name, mp, err);
}

void ivshm_mempool_set_debug(struct ivshm_mempool *mp, bool on)
{
    mp->debug = on;
}

int ivshm_mempool_lookup_any(const struct ivshm_segment_view *view, const char *name,
                             struct ivshm_mempool *mp, struct ivshm_error *err)
{
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

/* ---- checks shared by the paths below ---- */

/* The hot loops copy the handle's geometry into locals first: the state
 * bytes they store are character types, which may alias anything, so the
 * compiler would otherwise reload every field after every store. */
struct geom {
    uint64_t base; /* handle of object 0 */
    uint64_t inverse;
    _Atomic uint8_t *state;
    uint32_t shift;
    uint32_t count;
};

static inline struct geom geom_of(const struct ivshm_mempool *mp)
{
    struct geom g = {mp->objs_offset, mp->odd_inverse, mp->state, mp->stride_shift, mp->count};
    return g;
}

/* Index of a handle, below count exactly when it is an object of the pool
 * (ivshm__mempool_raw_index); `pow2` (stride a power of two, inverse 1)
 * drops the multiply. */
static inline uint64_t raw_index(const struct geom *g, uint64_t h, bool pow2)
{
    const uint64_t off = h - g->base;
    const uint64_t rotated = (off >> g->shift) | (off << ((64 - g->shift) & 63));
    return pow2 ? rotated : rotated * g->inverse;
}

static inline uint32_t index_of(const struct geom *g, uint64_t h)
{
    const uint64_t idx = raw_index(g, h, false);
    return idx < g->count ? (uint32_t)idx : UINT32_MAX;
}

/* Relaxed, like every state byte access: ownership moves between parties
 * through the rings, whose release/acquire pairs order these bytes too. */
static inline uint8_t state_get(const struct geom *g, uint32_t idx)
{
    return atomic_load_explicit(&g->state[idx], memory_order_relaxed);
}

static inline void state_set(const struct geom *g, uint32_t idx, uint8_t s)
{
    atomic_store_explicit(&g->state[idx], s, memory_order_relaxed);
}

/* A state byte that names a holder: allocated by or cached by some party,
 * 0x40..0xbf (one subtraction and one compare). */
static inline bool held(uint8_t s)
{
    return (uint8_t)(s - 0x40u) < 0x80u;
}

/* Status of a free-ring operation that moved nothing it should have. */
static int ring_failure(const struct ivshm_mempool *mp, int otherwise)
{
    return ivshm_ring_error(&mp->ring) ? IVSHM_E_TIMEOUT : otherwise;
}

/* ---- the shared free ring ---- */

/* Takes up to `need` handles from the free ring into the cache, checking each:
 * it must be one of our objects and free. Anything else is a peer's garbage or
 * a duplicate, and is dropped (counted in mp->dropped). */
static int refill(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache, uint32_t need)
{
    const uint8_t cached = (uint8_t)IVSHM_OBJ_CACHED(mp->party);
    const struct geom g = geom_of(mp);
    uint64_t *dst = &cache->objs[cache->len];
    uint32_t got = ivshm_ring_dequeue_burst(&mp->ring, dst, need, NULL);
    uint32_t kept = 0;
    if (got == 0)
        return ring_failure(mp, IVSHM_OK);
    for (uint32_t i = 0; i < got; i++) {
        uint32_t idx = index_of(&g, dst[i]);
        if (idx == UINT32_MAX || state_get(&g, idx) != IVSHM_OBJ_FREE) {
            mp->dropped++;
            continue;
        }
        state_set(&g, idx, cached);
        dst[kept++] = dst[i];
    }
    cache->len += kept;
    return IVSHM_OK;
}

/* Marks handles[0..n) allocated-by-me while each is an object of the pool
 * marked free; returns where it stopped. Inlined twice, with and without the
 * multiply. */
static IVSHM_INLINE uint32_t take_free(const struct geom *gp, const uint64_t *handles, uint32_t n,
                                       uint8_t mine, bool pow2)
{
    const struct geom g = *gp;
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t x = raw_index(&g, handles[i], pow2);
        if (IVSHM_UNLIKELY(x >= g.count || state_get(&g, (uint32_t)x) != IVSHM_OBJ_FREE))
            return i;
        state_set(&g, (uint32_t)x, mine);
    }
    return n;
}

static int get_uncached(struct ivshm_mempool *mp, uint64_t *handles, uint32_t n)
{
    if (mp->party == IVSHM_MEMPOOL_NO_PARTY)
        return IVSHM_E_INVAL; /* nobody to mark the objects as taken by */
    if (ivshm_ring_dequeue_bulk(&mp->ring, handles, n, NULL) != n)
        return ring_failure(mp, IVSHM_E_NOBUFS);
    const struct geom g = geom_of(mp);
    const uint8_t mine = (uint8_t)IVSHM_OBJ_ALLOCATED(mp->party);
    /* The acquire in the ring dequeue ordered the state bytes. */
    uint32_t ok = g.inverse == 1 ? take_free(&g, handles, n, mine, true)
                                 : take_free(&g, handles, n, mine, false);
    if (IVSHM_LIKELY(ok == n))
        return IVSHM_OK;
    /* Garbage in the free ring (a peer's, or a duplicate): keep checking the
     * rest, give back the good ones and report. */
    uint32_t kept = ok;
    for (uint32_t i = ok; i < n; i++) {
        const uint32_t idx = index_of(&g, handles[i]);
        if (idx == UINT32_MAX || state_get(&g, idx) != IVSHM_OBJ_FREE) {
            mp->dropped++;
            continue;
        }
        state_set(&g, idx, mine);
        handles[kept++] = handles[i];
    }
    for (uint32_t i = 0; i < kept; i++)
        state_set(&g, index_of(&g, handles[i]), IVSHM_OBJ_FREE);
    ivshm_ring_enqueue_burst(&mp->ring, handles, kept, NULL);
    return IVSHM_E_CORRUPT;
}

/* Marks handles[0..n) free while each is an object of the pool whose state
 * byte names a holder (in debug mode: is marked allocated); returns where it
 * stopped. Inlined for each case. */
static IVSHM_INLINE uint32_t release(const struct geom *gp, const uint64_t *handles, uint32_t n,
                                     bool strict, bool pow2)
{
    const struct geom g = *gp;
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t x = raw_index(&g, handles[i], pow2);
        if (IVSHM_UNLIKELY(x >= g.count))
            return i;
        const uint8_t s = state_get(&g, (uint32_t)x);
        if (IVSHM_UNLIKELY(strict ? !IVSHM_OBJ_IS_ALLOCATED(s) : !held(s)))
            return i;
        state_set(&g, (uint32_t)x, IVSHM_OBJ_FREE);
    }
    return n;
}

/* Put to the free ring: each handle must be an object of the pool
 * (IVSHM_E_FOREIGN) whose state byte names a holder (IVSHM_E_DOUBLE_FREE);
 * in debug mode it must be marked allocated (an object marked cached is then
 * in some party's cache). Stops at the first that fails; those before it are
 * marked free and enqueued. */
static int put_uncached(struct ivshm_mempool *mp, const uint64_t *handles, uint32_t n,
                        uint32_t *freed)
{
    const struct geom g = geom_of(mp);
    uint32_t i;
    if (mp->debug)
        i = release(&g, handles, n, true, false);
    else if (g.inverse == 1)
        i = release(&g, handles, n, false, true);
    else
        i = release(&g, handles, n, false, false);
    int rc = IVSHM_OK;
    if (i < n)
        rc = index_of(&g, handles[i]) == UINT32_MAX ? IVSHM_E_FOREIGN : IVSHM_E_DOUBLE_FREE;
    if (freed)
        *freed = i;
    if (i && ivshm_ring_enqueue_bulk(&mp->ring, handles, i, NULL) != i) {
        /* The free ring holds every object, so only a corrupted ring is full
         * (or a wait gave up); the objects are free and in no ring, for a
         * rebuild to find. */
        return ring_failure(mp, IVSHM_E_CORRUPT);
    }
    return rc;
}

/* Gives cache->objs[keep..len) back to the free ring. Each must still be
 * marked cached-by-me: one that is not was taken by another party's put (a
 * double free across parties, or a reclaim that took us for dead) or is a
 * second copy of an object already given back (a double free inside this
 * party); it is dropped from the cache, not enqueued, so the free ring never
 * gets it twice. */
void ivshm__mempool_flush_to(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                             uint32_t keep)
{
    if (cache->len <= keep)
        return;
    const struct geom g = geom_of(mp);
    const uint8_t cached = (uint8_t)IVSHM_OBJ_CACHED(mp->party);
    uint64_t *from = &cache->objs[keep];
    uint32_t n = cache->len - keep, give = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t idx = index_of(&g, from[i]); /* checked when it entered */
        if (state_get(&g, idx) != cached) {
            mp->dropped++;
            continue;
        }
        state_set(&g, idx, IVSHM_OBJ_FREE);
        from[give++] = from[i];
    }
    /* Cannot be short (the free ring has a slot for every object) unless a
     * wait gave up: those objects are free and in no ring, for a rebuild. */
    uint32_t done = ivshm_ring_enqueue_burst(&mp->ring, from, give, NULL);
    if (IVSHM_UNLIKELY(done < give))
        mp->dropped += give - done;
    cache->len = keep;
}

void ivshm_mempool_cache_flush(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache)
{
    ivshm__mempool_flush_to(mp, cache, 0);
}

/* ---- the private cache, fast mode ---- */

/* Copies handles[i..n) to dst[i..n) while they are objects of the pool
 * marked `me`; returns where it stopped. Four handles a turn, each read,
 * checked and stored; inlined twice, with and without the multiply. */
static IVSHM_INLINE uint32_t run_of_mine(const struct geom *gp, const uint64_t *handles, uint32_t i,
                                         uint32_t n, uint8_t me, uint64_t *dst, bool pow2)
{
    const struct geom g = *gp;
    const uint64_t *p = handles + i;
    const uint64_t *const end = handles + n;
    uint64_t *d = dst + i;
#define MINE(k)                                                                                    \
    ({                                                                                             \
        const uint64_t h_ = p[k];                                                                  \
        const uint64_t x_ = raw_index(&g, h_, pow2);                                               \
        if (IVSHM_UNLIKELY(x_ >= g.count || state_get(&g, (uint32_t)x_) != me))                    \
            return (uint32_t)(p + (k)-handles);                                                    \
        d[k] = h_;                                                                                 \
    })
    for (; end - p >= 4; p += 4, d += 4) {
        MINE(0);
        MINE(1);
        MINE(2);
        MINE(3);
    }
    for (; p != end; p++, d++)
        MINE(0);
#undef MINE
    return n;
}

/*
 * Put into this party's private cache: each handle must be an object of the
 * pool (IVSHM_E_FOREIGN) whose state byte names a holder (IVSHM_E_DOUBLE_FREE).
 * An object already marked cached-by-me (taken from this cache, or still in
 * it) costs one read of its state byte and no write: that is what keeps the
 * shared state out of a party's get/put cycle. An object another party holds
 * (passed to us) is marked cached-by-me: it crosses into our cache here.
 */
static uint32_t put_cached(const struct geom *g, const uint64_t *handles, uint32_t n, uint8_t me,
                           uint64_t *dst, int *rc)
{
    const bool pow2 = g->inverse == 1;
    uint32_t i = 0;
    for (;;) {
        i = pow2 ? run_of_mine(g, handles, i, n, me, dst, true)
                 : run_of_mine(g, handles, i, n, me, dst, false);
        if (IVSHM_LIKELY(i == n))
            return n;
        /* Not ours yet, or not an object. */
        const uint32_t idx = index_of(g, handles[i]);
        if (idx == UINT32_MAX) {
            *rc = IVSHM_E_FOREIGN;
            return i;
        }
        if (!held(state_get(g, idx))) {
            *rc = IVSHM_E_DOUBLE_FREE;
            return i;
        }
        state_set(g, idx, me);
        dst[i] = handles[i];
        i++;
    }
}

bool ivshm__mempool_put_mine(const struct ivshm_mempool *mp, const uint64_t *handles, uint32_t n,
                             uint64_t *dst)
{
    const struct geom g = geom_of(mp);
    const uint8_t me = (uint8_t)IVSHM_OBJ_CACHED(mp->party);
    if (g.inverse == 1)
        return run_of_mine(&g, handles, 0, n, me, dst, true) == n;
    return run_of_mine(&g, handles, 0, n, me, dst, false) == n;
}

/* ---- debug mode: every object checked and marked on every call ---- */

/* Get: objects leave the cache marked allocated-by-me, and each must still be
 * marked cached-by-me (else it is dropped, as in a flush). */
static int get_debug(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache, uint64_t *handles,
                     uint32_t n)
{
    const struct geom g = geom_of(mp);
    const uint8_t cached = (uint8_t)IVSHM_OBJ_CACHED(mp->party);
    const uint8_t mine = (uint8_t)IVSHM_OBJ_ALLOCATED(mp->party);
    uint32_t got = 0;
    while (got < n) {
        if (cache->len == 0) {
            int rc = refill(mp, cache, cache->size + n - got);
            if (rc == IVSHM_OK && cache->len == 0)
                rc = IVSHM_E_NOBUFS;
            if (rc != IVSHM_OK) {
                /* All or none: the ones taken go back into the cache. */
                for (uint32_t i = 0; i < got; i++) {
                    state_set(&g, index_of(&g, handles[i]), cached);
                    cache->objs[cache->len++] = handles[i];
                }
                return rc;
            }
        }
        const uint64_t h = cache->objs[--cache->len];
        const uint32_t idx = index_of(&g, h);
        if (state_get(&g, idx) != cached) {
            mp->dropped++;
            continue;
        }
        state_set(&g, idx, mine);
        handles[got++] = h;
    }
    return IVSHM_OK;
}

/* Put into the cache: each object must be marked allocated (by any party);
 * it is marked cached-by-me. */
static uint32_t put_debug(const struct geom *g, const uint64_t *handles, uint32_t n, uint8_t me,
                          uint64_t *dst, int *rc)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const uint32_t idx = index_of(g, handles[i]);
        if (idx == UINT32_MAX) {
            *rc = IVSHM_E_FOREIGN;
            break;
        }
        if (!IVSHM_OBJ_IS_ALLOCATED(state_get(g, idx))) {
            *rc = IVSHM_E_DOUBLE_FREE;
            break;
        }
        state_set(g, idx, me);
        dst[i] = handles[i];
    }
    return i;
}

/* ---- behind the inline get and put ---- */

int ivshm__mempool_get_slow(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                            uint64_t *handles, uint32_t n)
{
    /* A handle of no party has no cache of its own: get_uncached refuses it. */
    if (cache == NULL || cache->size == 0 || n > IVSHM_MEMPOOL_CACHE_MAX ||
        mp->party == IVSHM_MEMPOOL_NO_PARTY)
        return get_uncached(mp, handles, n);
    if (mp->debug)
        return get_debug(mp, cache, handles, n);
    if (cache->len < n) {
        int rc = refill(mp, cache, cache->size + n - cache->len);
        if (rc != IVSHM_OK)
            return rc;
        /* The pool may have had fewer than we asked for. */
        if (cache->len < n)
            return IVSHM_E_NOBUFS;
    }
    cache->len -= n;
    ivshm__copy64(handles, &cache->objs[cache->len], n);
    return IVSHM_OK;
}

int ivshm__mempool_put_slow(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                            const uint64_t *handles, uint32_t n, uint32_t *freed)
{
    /* A handle of no party (a repair tool's) puts straight to the free ring. */
    if (cache == NULL || cache->size == 0 || n > IVSHM_MEMPOOL_CACHE_MAX ||
        mp->party == IVSHM_MEMPOOL_NO_PARTY)
        return put_uncached(mp, handles, n, freed);
    /* Before a put len < flush_at <= 768, so len + n may pass the 1024
     * slots when n is large: give the excess back first. */
    if (cache->len + n > 2 * IVSHM_MEMPOOL_CACHE_MAX)
        ivshm__mempool_flush_to(mp, cache, cache->size);
    const struct geom g = geom_of(mp);
    const uint8_t me = (uint8_t)IVSHM_OBJ_CACHED(mp->party);
    int rc = IVSHM_OK;
    uint64_t *dst = &cache->objs[cache->len];
    uint32_t done = mp->debug ? put_debug(&g, handles, n, me, dst, &rc)
                              : put_cached(&g, handles, n, me, dst, &rc);
    cache->len += done;
    if (freed)
        *freed = done;
    if (cache->len >= cache->flush_at)
        ivshm__mempool_flush_to(mp, cache, cache->size);
    return rc;
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
        if (held(s) && IVSHM_OBJ_PARTY(s) == (uint32_t)party) {
            ivshm__mempool_mark(mp, i, IVSHM_OBJ_FREE);
            uint64_t h = ivshm_mempool_handle(mp, i);
            if (ivshm_ring_enqueue_bulk(&mp->ring, &h, 1, NULL) == 1)
                reclaimed++;
        }
    }
    return reclaimed;
}

/* The free ring rewritten from the state bytes: it then holds every object
 * that is free, names a party in `take` (bit p for party p), or (with
 * `invalid_too`) has a state byte of no known form; those are marked free.
 * Returns how many were not free before. */
static uint32_t rebuild(struct ivshm_mempool *mp, uint64_t take, bool invalid_too)
{
    struct ivshm_ring_shared *shared = mp->ring.shared;
    uint64_t *slots = mp->ring.slots;
    const uint32_t mask = mp->ring.mask;
    /* Continue from the current consumer tail, so the private copies of live
     * handles stay plausible (indices only move forwards). */
    const uint32_t base = atomic_load_explicit(&shared->cons.tail, memory_order_acquire);
    uint32_t n = 0, taken = 0;
    for (uint32_t i = 0; i < mp->count; i++) {
        uint8_t s = atomic_load_explicit(&mp->state[i], memory_order_relaxed);
        bool back = held(s) ? (take >> IVSHM_OBJ_PARTY(s)) & 1 : invalid_too;
        if (s != IVSHM_OBJ_FREE && !back)
            continue; /* a live party's, or (rebuild) a state byte of no known form */
        taken += s != IVSHM_OBJ_FREE;
        ivshm__mempool_mark(mp, i, IVSHM_OBJ_FREE);
        slots[(base + n) & mask] = ivshm_mempool_handle(mp, i);
        n++;
    }
    atomic_store_explicit(&shared->cons.head, base, memory_order_relaxed);
    atomic_store_explicit(&shared->prod.head, base + n, memory_order_relaxed);
    /* Release: the slots and state bytes above are visible with the tail. */
    atomic_store_explicit(&shared->prod.tail, base + n, memory_order_release);
    ivshm_ring_resync(&mp->ring); /* the ring works again: so does this handle */
    return taken;
}

uint32_t ivshm_mempool_rebuild(struct ivshm_mempool *mp, uint64_t dead_parties)
{
    return rebuild(mp, dead_parties, false);
}

uint32_t ivshm_mempool_rebuild_all(struct ivshm_mempool *mp)
{
    return rebuild(mp, ~0ull, true);
}
