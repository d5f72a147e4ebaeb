/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mempool internals: the inline hot path behind mempool.h, and the cold
 * paths it calls (common/mempool.c).
 *
 * Not part of the API: names start with ivshm__, and any of it may change in
 * any release. Installed only because the public get/put are inline.
 * Include <ivshm/mempool.h>, never this file.
 */
#ifndef IVSHM_MEMPOOL_PVT_H
#define IVSHM_MEMPOOL_PVT_H

#ifndef IVSHM_MEMPOOL_H
#error "include <ivshm/mempool.h> instead of <ivshm/mempool_pvt.h>"
#endif

/* Object index of a handle, or UINT32_MAX when the handle is not the start of
 * one of the pool's objects. One rotate and one multiply, no other test:
 * stride = odd << shift, inv = odd^-1 mod 2^64, off = handle - objs_offset.
 * x -> x * inv is a bijection of 64-bit values mapping odd * k to k, so
 * ror(off, shift) * inv < count exactly when ror(off, shift) = odd * k with
 * k < count, that is when off = k * stride (a misaligned off rotates its low
 * bits to the top, an off past the pool is some other odd * k with k >=
 * count). tests/unit/test_ring_opt.c checks every offset around a pool. */
static IVSHM_INLINE uint32_t ivshm__mempool_index(uint64_t handle, uint64_t objs_offset,
                                                  uint32_t shift, uint64_t inverse, uint32_t count)
{
    uint64_t off = handle - objs_offset;
    uint64_t rotated = (off >> shift) | (off << ((64 - shift) & 63));
    uint64_t idx = rotated * inverse;
    return IVSHM_LIKELY(idx < count) ? (uint32_t)idx : UINT32_MAX;
}

/* The hot loops copy the handle's geometry into locals first: the state
 * bytes they store are character types, which may alias anything, so the
 * compiler would otherwise reload every field after every store. */
struct ivshm__mempool_geom {
    uint64_t objs_offset;
    uint64_t inverse;
    _Atomic uint8_t *state;
    uint32_t shift;
    uint32_t count;
};

static IVSHM_INLINE struct ivshm__mempool_geom ivshm__mempool_geom(const struct ivshm_mempool *mp)
{
    struct ivshm__mempool_geom g = {mp->objs_offset, mp->odd_inverse, mp->state, mp->stride_shift,
                                    mp->count};
    return g;
}

static IVSHM_INLINE uint32_t ivshm__geom_index(const struct ivshm__mempool_geom *g, uint64_t h)
{
    return ivshm__mempool_index(h, g->objs_offset, g->shift, g->inverse, g->count);
}

/* Cold paths, in common/mempool.c. */
int ivshm__mempool_refill(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                          uint32_t need);
int ivshm__mempool_get_uncached(struct ivshm_mempool *mp, uint64_t *handles, uint32_t n);
void ivshm__mempool_flush_to(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                             uint32_t keep);

static IVSHM_INLINE void ivshm__mempool_mark(struct ivshm_mempool *mp, uint32_t index,
                                             uint8_t state)
{
    /* Relaxed: ownership moves between parties through the rings, whose
     * release/acquire pairs order these bytes too. */
    atomic_store_explicit(&mp->state[index], state, memory_order_relaxed);
}

/* Checks handles[0..n) and marks each `next`, copying it to dst[] when dst
 * is not NULL; stops at the first one that is not an object of the pool
 * (*rc = IVSHM_E_FOREIGN) or not allocated (*rc = IVSHM_E_DOUBLE_FREE).
 * Returns how many passed. Inlined into each caller with `next` and `dst`
 * known, so each loop is as tight as if written out. */
static IVSHM_INLINE uint32_t ivshm__mempool_release(const struct ivshm__mempool_geom *g,
                                                    const uint64_t *handles, uint32_t n,
                                                    uint8_t next, uint64_t *dst, int *rc)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        uint64_t h = handles[i];
        uint32_t idx = ivshm__geom_index(g, h);
        if (IVSHM_UNLIKELY(idx == UINT32_MAX)) {
            *rc = IVSHM_E_FOREIGN;
            break;
        }
        /* Relaxed, like every state byte access: see ivshm__mempool_mark. */
        uint8_t s = atomic_load_explicit(&g->state[idx], memory_order_relaxed);
        if (IVSHM_UNLIKELY(!IVSHM_OBJ_IS_ALLOCATED(s))) {
            *rc = IVSHM_E_DOUBLE_FREE;
            break;
        }
        atomic_store_explicit(&g->state[idx], next, memory_order_relaxed);
        if (dst)
            dst[i] = h;
    }
    return i;
}

#endif
