/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring and mempool hot paths are always_inline: a test that calls them
 * from a few hundred places inlines a few hundred copies, and the ASan build
 * of one test file took 40 s to compile. Tests call them through these
 * out-of-line wrappers instead (one inlined copy each). Include this header
 * instead of ring.h / mempool.h; the macros keep the library's names.
 */
#ifndef IVSHM_TEST_CALLS_H
#define IVSHM_TEST_CALLS_H

#include "ivshm/mempool.h"
#include "ivshm/ring.h"

#define TEST_OUTOFLINE static __attribute__((noinline, unused))

TEST_OUTOFLINE uint32_t test_ring_enqueue_bulk(struct ivshm_ring *r, const uint64_t *objs,
                                               uint32_t n, uint32_t *free_space)
{
    return ivshm_ring_enqueue_bulk(r, objs, n, free_space);
}
TEST_OUTOFLINE uint32_t test_ring_enqueue_burst(struct ivshm_ring *r, const uint64_t *objs,
                                                uint32_t n, uint32_t *free_space)
{
    return ivshm_ring_enqueue_burst(r, objs, n, free_space);
}
TEST_OUTOFLINE uint32_t test_ring_dequeue_bulk(struct ivshm_ring *r, uint64_t *objs, uint32_t n,
                                               uint32_t *available)
{
    return ivshm_ring_dequeue_bulk(r, objs, n, available);
}
TEST_OUTOFLINE uint32_t test_ring_dequeue_burst(struct ivshm_ring *r, uint64_t *objs, uint32_t n,
                                                uint32_t *available)
{
    return ivshm_ring_dequeue_burst(r, objs, n, available);
}
TEST_OUTOFLINE int test_ring_enqueue(struct ivshm_ring *r, uint64_t obj)
{
    return ivshm_ring_enqueue(r, obj);
}
TEST_OUTOFLINE int test_ring_dequeue(struct ivshm_ring *r, uint64_t *obj)
{
    return ivshm_ring_dequeue(r, obj);
}
TEST_OUTOFLINE uint32_t test_ring_count(const struct ivshm_ring *r)
{
    return ivshm_ring_count(r);
}
TEST_OUTOFLINE int test_mempool_get_bulk(struct ivshm_mempool *mp,
                                         struct ivshm_mempool_cache *cache, uint64_t *handles,
                                         uint32_t n)
{
    return ivshm_mempool_get_bulk(mp, cache, handles, n);
}
TEST_OUTOFLINE int test_mempool_put_bulk(struct ivshm_mempool *mp,
                                         struct ivshm_mempool_cache *cache, const uint64_t *handles,
                                         uint32_t n, uint32_t *freed)
{
    return ivshm_mempool_put_bulk(mp, cache, handles, n, freed);
}
TEST_OUTOFLINE uint32_t test_mempool_index(const struct ivshm_mempool *mp, uint64_t handle)
{
    return ivshm_mempool_index(mp, handle);
}

#define ivshm_ring_enqueue_bulk(r, o, n, f)   test_ring_enqueue_bulk(r, o, n, f)
#define ivshm_ring_enqueue_burst(r, o, n, f)  test_ring_enqueue_burst(r, o, n, f)
#define ivshm_ring_dequeue_bulk(r, o, n, a)   test_ring_dequeue_bulk(r, o, n, a)
#define ivshm_ring_dequeue_burst(r, o, n, a)  test_ring_dequeue_burst(r, o, n, a)
#define ivshm_ring_enqueue(r, o)              test_ring_enqueue(r, o)
#define ivshm_ring_dequeue(r, o)              test_ring_dequeue(r, o)
#define ivshm_ring_count(r)                   test_ring_count(r)
#define ivshm_ring_free_count(r)              ((r)->capacity - test_ring_count(r))
#define ivshm_mempool_get_bulk(m, c, h, n)    test_mempool_get_bulk(m, c, h, n)
#define ivshm_mempool_get(m, c, h)            test_mempool_get_bulk(m, c, h, 1)
#define ivshm_mempool_put_bulk(m, c, h, n, f) test_mempool_put_bulk(m, c, h, n, f)
#define ivshm_mempool_put(m, c, h)            test_mempool_put_bulk(m, c, &(uint64_t){h}, 1, NULL)
#define ivshm_mempool_index(m, h)             test_mempool_index(m, h)
#define ivshm_mempool_free_count(m)           test_ring_count(&(m)->ring)

#endif
