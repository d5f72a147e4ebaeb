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

/* Object index of a handle, as a 64-bit value that is below count exactly
 * when the handle is the start of one of the pool's objects. One rotate and
 * one multiply, no other test: stride = odd << shift, inv = odd^-1 mod 2^64,
 * off = handle - objs_offset. x -> x * inv is a bijection of 64-bit values
 * mapping odd * k to k, so ror(off, shift) * inv < count exactly when
 * ror(off, shift) = odd * k with k < count, that is when off = k * stride (a
 * misaligned off rotates its low bits to the top, an off past the pool is
 * some other odd * k with k >= count). tests/unit/test_ring_opt.c checks
 * every offset around a pool. */
static IVSHM_INLINE uint64_t ivshm__mempool_raw_index(uint64_t handle, uint64_t objs_offset,
                                                      uint32_t shift, uint64_t inverse)
{
    uint64_t off = handle - objs_offset;
    uint64_t rotated = (off >> shift) | (off << ((64 - shift) & 63));
    return rotated * inverse;
}

/* Object index of a handle, or UINT32_MAX when the handle is not the start of
 * one of the pool's objects. */
static IVSHM_INLINE uint32_t ivshm__mempool_index(uint64_t handle, uint64_t objs_offset,
                                                  uint32_t shift, uint64_t inverse, uint32_t count)
{
    uint64_t idx = ivshm__mempool_raw_index(handle, objs_offset, shift, inverse);
    return IVSHM_LIKELY(idx < count) ? (uint32_t)idx : UINT32_MAX;
}

/* The paths behind the inline get and put, in common/mempool.c: the
 * uncached ones, the debug mode, refill and flush, and puts of more than one
 * object into a cache (a loop that, inlined into a caller's own loop, lost
 * registers to it and ran slower). */
int ivshm__mempool_get_slow(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                            uint64_t *handles, uint32_t n);
int ivshm__mempool_put_slow(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                            const uint64_t *handles, uint32_t n, uint32_t *freed);
/* Copies handles[0..n) to dst if every one is an object of the pool marked
 * cached-by-me (true); otherwise false, and dst holds part of them. */
bool ivshm__mempool_put_mine(const struct ivshm_mempool *mp, const uint64_t *handles, uint32_t n,
                             uint64_t *dst);
void ivshm__mempool_flush_to(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                             uint32_t keep);

static IVSHM_INLINE void ivshm__mempool_mark(struct ivshm_mempool *mp, uint32_t index,
                                             uint8_t state)
{
    /* Relaxed: ownership moves between parties through the rings, whose
     * release/acquire pairs order these bytes too. */
    atomic_store_explicit(&mp->state[index], state, memory_order_relaxed);
}

#endif
