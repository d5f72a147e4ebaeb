/* SPDX-License-Identifier: BSD-3-Clause */
/* Mempools: get/put with and without cache, exhaustion, double free, foreign
 * and garbage handles, audit and reclaim; threads; two processes. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_run.h"
#include "test_calls.h"
#include "test_util.h"

#define SEG_SIZE   (4u << 20)
#define POOL_COUNT 64u   /* "pool": 64 x 100 B, stride 128 */
#define ODD_COUNT  50u   /* "odd": 50 x 150 B, stride 192 */
#define BIG_COUNT  2048u /* "big": 2048 x 64 B */
#define T_COUNT    1024u /* "tpool": for the threads and processes */
#define CHAN_SLOTS 4096u /* "chan": MPMC ring of handles */
#define SPSC_SLOTS 4096u /* "spsc": SP/SC ring of handles */

static const uint32_t cache_sizes[] = {0, 8, 64};

/* A segment with every pool and ring the tests use, validated. */
static void *make_segment(void *mem, struct ivshm_segment_view *v)
{
    struct ivshm_builder b;
    struct ivshm_error err = {0};
    test_builder_init(&b, mem, SEG_SIZE, 16, 8);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "pool", POOL_COUNT, 100, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "odd", ODD_COUNT, 150, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "big", BIG_COUNT, 64, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "tpool", T_COUNT, 64, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "chan", CHAN_SLOTS, IVSHM_RING_MPMC, &err),
                     IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "spsc", SPSC_SLOTS, IVSHM_RING_SPSC, &err),
                     IVSHM_OK);
    ivshm_builder_finalize(&b);
    test_validate(mem, SEG_SIZE, v);
    return mem;
}

static void attach(struct ivshm_mempool *mp, const struct ivshm_segment_view *v, const char *name,
                   int party)
{
    struct ivshm_dir_entry e;
    struct ivshm_error err = {0};
    test_find(v, name, IVSHM_OBJ_MEMPOOL, &e);
    int rc = ivshm_mempool_attach(mp, v, &e, party, &err);
    ck_assert_msg(rc == IVSHM_OK, "attach %s: %s", name, err.msg);
}

static void attach_ring(struct ivshm_ring *r, const struct ivshm_segment_view *v, const char *name)
{
    struct ivshm_dir_entry e;
    struct ivshm_error err = {0};
    test_find(v, name, IVSHM_OBJ_RING, &e);
    ck_assert_int_eq(ivshm_ring_attach(r, v, &e, &err), IVSHM_OK);
}

/* Every object back in the shared free ring and marked free. */
static void assert_pool_full(const struct ivshm_mempool *mp)
{
    struct ivshm_mempool_audit a;
    ivshm_mempool_audit(mp, &a);
    ck_assert_uint_eq(ivshm_mempool_free_count(mp), mp->count);
    ck_assert_uint_eq(a.free, mp->count);
    ck_assert_uint_eq(a.allocated, 0);
    ck_assert_uint_eq(a.cached, 0);
    ck_assert_uint_eq(a.invalid, 0);
}

/* A cache on the heap, so that ASan sees any write past its slots. */
static struct ivshm_mempool_cache *cache_new(uint32_t size)
{
    struct ivshm_mempool_cache *c = malloc(sizeof(*c));
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(ivshm_mempool_cache_init(c, size), IVSHM_OK);
    return c;
}

START_TEST(test_attach)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    struct ivshm_dir_entry e;
    struct ivshm_error err = {0};

    attach(&mp, &v, "odd", 3);
    ck_assert_uint_eq(mp.count, ODD_COUNT);
    ck_assert_uint_eq(mp.obj_size, 150);
    ck_assert_uint_eq(mp.stride, 192);
    ck_assert_uint_eq(mp.party, 3);
    assert_pool_full(&mp);
    /* Handles are offsets from the segment start: index <-> handle. */
    for (uint32_t i = 0; i < ODD_COUNT; i++) {
        uint64_t h = ivshm_mempool_handle(&mp, i);
        ck_assert_uint_eq(ivshm_mempool_index(&mp, h), i);
        ck_assert_uint_eq(h % 64, 0);
        ck_assert_ptr_eq(ivshm_mempool_ptr(&mp, h), (uint8_t *)mem + h);
    }

    test_find(&v, "pool", IVSHM_OBJ_MEMPOOL, &e);
    ck_assert_int_eq(ivshm_mempool_attach(&mp, &v, &e, 64, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "party index 64 out of range"));
    ck_assert_int_eq(ivshm_mempool_attach(&mp, &v, &e, -1, &err), IVSHM_E_INVAL);
    test_find(&v, "chan", IVSHM_OBJ_RING, &e);
    ck_assert_int_eq(ivshm_mempool_attach(&mp, &v, &e, 0, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "unit/chan is a ring, not a mempool");

    struct ivshm_mempool_cache c;
    ck_assert_int_eq(ivshm_mempool_cache_init(&c, IVSHM_MEMPOOL_CACHE_MAX + 1), IVSHM_E_INVAL);
    free(mem);
}
END_TEST

START_TEST(test_get_put)
{
    const uint32_t csize = cache_sizes[_i];
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    attach(&mp, &v, "pool", 1);
    struct ivshm_mempool_cache *c = cache_new(csize);

    uint64_t h;
    ck_assert_int_eq(ivshm_mempool_get(&mp, c, &h), IVSHM_OK);
    uint32_t idx = ivshm_mempool_index(&mp, h);
    ck_assert_uint_lt(idx, POOL_COUNT);
    /* The whole object is ours to write (ASan: inside the segment). */
    memset(ivshm_mempool_ptr(&mp, h), 0xee, 100);
    struct ivshm_mempool_audit a;
    ivshm_mempool_audit(&mp, &a);
    ck_assert_uint_eq(a.allocated, 1);
    ck_assert_uint_eq(a.by_party[1], 1 + c->len);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp) + c->len + 1, POOL_COUNT);
    ck_assert_uint_eq(atomic_load(&mp.state[idx]), IVSHM_OBJ_ALLOCATED(1));

    ck_assert_int_eq(ivshm_mempool_put(&mp, c, h), IVSHM_OK);
    ck_assert_uint_eq(atomic_load(&mp.state[idx]), csize ? IVSHM_OBJ_CACHED(1) : IVSHM_OBJ_FREE);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp) + c->len, POOL_COUNT);

    /* Bulk, then everything back. */
    uint64_t hs[20];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, 20), IVSHM_OK);
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < i; j++)
            ck_assert_uint_ne(hs[i], hs[j]);
    uint32_t freed = 0;
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, 20, &freed), IVSHM_OK);
    ck_assert_uint_eq(freed, 20);
    ivshm_mempool_cache_flush(&mp, c);
    ck_assert_uint_eq(c->len, 0);
    assert_pool_full(&mp);
    ck_assert_uint_eq(mp.dropped, 0);
    free(c);
    free(mem);
}
END_TEST

START_TEST(test_exhaustion)
{
    const uint32_t csize = cache_sizes[_i];
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    attach(&mp, &v, "pool", 0);
    struct ivshm_mempool_cache *c = cache_new(csize);
    uint64_t hs[POOL_COUNT + 1];
    struct ivshm_mempool_audit a;

    /* One at a time until the pool says no: exactly count objects, distinct. */
    uint32_t n = 0;
    while (n <= POOL_COUNT && ivshm_mempool_get(&mp, c, &hs[n]) == IVSHM_OK)
        n++;
    ck_assert_uint_eq(n, POOL_COUNT);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < i; j++)
            ck_assert_uint_ne(hs[i], hs[j]);
    ck_assert_int_eq(ivshm_mempool_get(&mp, c, &hs[n]), IVSHM_E_NOBUFS);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs + n, 1), IVSHM_E_NOBUFS);
    ivshm_mempool_audit(&mp, &a);
    ck_assert_uint_eq(a.allocated, POOL_COUNT);

    /* Three back; a bulk of five fails and takes nothing: the three are
     * still there for a bulk of three. */
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, 3, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, 5), IVSHM_E_NOBUFS);
    ivshm_mempool_audit(&mp, &a);
    ck_assert_uint_eq(a.allocated, POOL_COUNT - 3);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, 3), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get(&mp, c, &hs[POOL_COUNT]), IVSHM_E_NOBUFS);

    /* All back; a bulk of count + 1 fails and takes nothing. */
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, POOL_COUNT, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, POOL_COUNT + 1), IVSHM_E_NOBUFS);
    ivshm_mempool_audit(&mp, &a);
    ck_assert_uint_eq(a.allocated, 0);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, POOL_COUNT), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, POOL_COUNT, NULL), IVSHM_OK);
    ivshm_mempool_cache_flush(&mp, c);
    assert_pool_full(&mp);
    free(c);
    free(mem);
}
END_TEST

START_TEST(test_cache_flush)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    attach(&mp, &v, "pool", 2);
    struct ivshm_mempool_cache *c = cache_new(16);
    uint64_t hs[10];
    struct ivshm_mempool_audit a;

    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, 10), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, 10, NULL), IVSHM_OK);
    /* The objects sit in our private cache, not in the shared ring. */
    ck_assert_uint_gt(c->len, 0);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), POOL_COUNT - c->len);
    ivshm_mempool_audit(&mp, &a);
    ck_assert_uint_eq(a.cached, c->len);
    ck_assert_uint_eq(a.by_party[2], c->len);
    /* Gets are served from the cache without touching the ring. */
    uint32_t before = ivshm_mempool_free_count(&mp);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, 4), IVSHM_OK);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), before);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, 4, NULL), IVSHM_OK);

    /* Puts past flush_at (1.5 x size) give the excess back. */
    uint64_t many[40];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, NULL, many, 40), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, many, 40, NULL), IVSHM_OK);
    ck_assert_uint_le(c->len, 16);

    ivshm_mempool_cache_flush(&mp, c);
    ck_assert_uint_eq(c->len, 0);
    assert_pool_full(&mp);
    free(c);
    free(mem);
}
END_TEST

/* A cache holding flush_at - 1 objects takes a put of the largest bulk
 * (512) without writing past its slots (ASan: the cache is on the heap). */
START_TEST(test_big_put_into_full_cache)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    attach(&mp, &v, "big", 0);
    struct ivshm_mempool_cache *c = cache_new(IVSHM_MEMPOOL_CACHE_MAX);
    static uint64_t hs[1500];

    for (uint32_t i = 0; i < 1500; i += 300)
        ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, NULL, hs + i, 300), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs, 500, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs + 500, 267, NULL), IVSHM_OK);
    ck_assert_uint_eq(c->len, 767); /* flush_at is 768 */
    uint32_t freed = 0;
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs + 767, 512, &freed), IVSHM_OK);
    ck_assert_uint_eq(freed, 512);
    ck_assert_uint_le(c->len, 2 * IVSHM_MEMPOOL_CACHE_MAX);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, hs + 1279, 221, NULL), IVSHM_OK);
    ivshm_mempool_cache_flush(&mp, c);
    assert_pool_full(&mp);
    ck_assert_uint_eq(mp.dropped, 0);
    free(c);
    free(mem);
}
END_TEST

START_TEST(test_double_free)
{
    const uint32_t csize = cache_sizes[_i];
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    attach(&mp, &v, "pool", 0);
    struct ivshm_mempool_cache *c = cache_new(csize);
    struct ivshm_mempool_audit a;
    uint64_t hs[4];
    uint32_t freed = 99;

    ck_assert_int_eq(ivshm_mempool_get(&mp, c, &hs[0]), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&mp, c, hs[0]), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&mp, c, hs[0]), IVSHM_E_DOUBLE_FREE);
    /* An object that is free in the ring (after the cache gave its own back). */
    ivshm_mempool_cache_flush(&mp, c);
    uint64_t never = UINT64_MAX;
    for (uint32_t i = 0; i < POOL_COUNT && never == UINT64_MAX; i++)
        if (atomic_load(&mp.state[i]) == IVSHM_OBJ_FREE)
            never = ivshm_mempool_handle(&mp, i);
    ck_assert_uint_ne(never, UINT64_MAX);
    ck_assert_int_eq(ivshm_mempool_put(&mp, c, never), IVSHM_E_DOUBLE_FREE);

    /* Inside a bulk: a, b, a, c frees a and b, stops at the second a, and
     * leaves c allocated. */
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, c, hs, 3), IVSHM_OK);
    uint64_t bulk[4] = {hs[0], hs[1], hs[0], hs[2]};
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, bulk, 4, &freed), IVSHM_E_DOUBLE_FREE);
    ck_assert_uint_eq(freed, 2);
    ivshm_mempool_audit(&mp, &a);
    ck_assert_uint_eq(a.allocated, 1);
    ck_assert_uint_eq(atomic_load(&mp.state[ivshm_mempool_index(&mp, hs[2])]),
                      IVSHM_OBJ_ALLOCATED(0));
    ck_assert_int_eq(ivshm_mempool_put(&mp, c, hs[2]), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&mp, c, hs[2]), IVSHM_E_DOUBLE_FREE);

    /* A double free changes nothing: the pool ends full, no duplicates. */
    ivshm_mempool_cache_flush(&mp, c);
    assert_pool_full(&mp);
    uint64_t all[POOL_COUNT];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, NULL, all, POOL_COUNT), IVSHM_OK);
    for (uint32_t i = 0; i < POOL_COUNT; i++)
        for (uint32_t j = 0; j < i; j++)
            EXPECT(all[i] != all[j]);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, NULL, all, POOL_COUNT, NULL), IVSHM_OK);
    free(c);
    free(mem);
}
END_TEST

START_TEST(test_foreign_handles)
{
    const uint32_t csize = cache_sizes[_i];
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool pool, odd;
    attach(&pool, &v, "pool", 0);
    attach(&odd, &v, "odd", 0);
    struct ivshm_mempool_cache *c = cache_new(csize);
    uint64_t a, b, o;
    uint32_t freed = 99;

    ck_assert_int_eq(ivshm_mempool_get(&pool, c, &a), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get(&pool, c, &b), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get(&odd, NULL, &o), IVSHM_OK);

    /* Another pool's object, even one that is allocated. */
    ck_assert_int_eq(ivshm_mempool_put(&pool, c, o), IVSHM_E_FOREIGN);
    ck_assert_int_eq(ivshm_mempool_put(&odd, NULL, a), IVSHM_E_FOREIGN);
    /* Outside the objects, misaligned, or inside an object. */
    const uint64_t first = ivshm_mempool_handle(&pool, 0);
    const uint64_t bad[] = {0,
                            64,
                            first - pool.stride,
                            first - 1,
                            ivshm_mempool_handle(&pool, POOL_COUNT),
                            ivshm_mempool_handle(&pool, POOL_COUNT) + pool.stride * 1000,
                            UINT64_MAX,
                            UINT64_MAX - 63,
                            a + 1,
                            a + 8,
                            a + 64,
                            a - 64,
                            (uint64_t)1 << 63};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(ivshm_mempool_index(&pool, bad[i]) == UINT32_MAX, "index of 0x%llx",
                      (unsigned long long)bad[i]);
        ck_assert_msg(ivshm_mempool_put(&pool, c, bad[i]) == IVSHM_E_FOREIGN, "put 0x%llx",
                      (unsigned long long)bad[i]);
    }
    /* Stride 192 = 3 x 64: 64-aligned offsets inside an object. */
    ck_assert_int_eq(ivshm_mempool_put(&odd, NULL, o + 64), IVSHM_E_FOREIGN);
    ck_assert_int_eq(ivshm_mempool_put(&odd, NULL, o + 128), IVSHM_E_FOREIGN);
    /* Every offset over the odd pool: exactly the object starts are its own. */
    uint32_t starts = 0;
    for (uint64_t h = odd.objs_offset - 256; h < odd.objs_offset + odd.objs_bytes + 256; h++) {
        uint32_t idx = ivshm_mempool_index(&odd, h);
        if (idx != UINT32_MAX) {
            EXPECT_EQ(ivshm_mempool_handle(&odd, idx), h);
            starts++;
        }
    }
    ck_assert_uint_eq(starts, ODD_COUNT);

    /* In a bulk: a, foreign, b frees a only. */
    uint64_t bulk[3] = {a, o, b};
    ck_assert_int_eq(ivshm_mempool_put_bulk(&pool, c, bulk, 3, &freed), IVSHM_E_FOREIGN);
    ck_assert_uint_eq(freed, 1);
    ck_assert_uint_eq(atomic_load(&pool.state[ivshm_mempool_index(&pool, b)]),
                      IVSHM_OBJ_ALLOCATED(0));
    ck_assert_int_eq(ivshm_mempool_put(&pool, c, b), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&odd, NULL, o), IVSHM_OK);
    ivshm_mempool_cache_flush(&pool, c);
    assert_pool_full(&pool);
    assert_pool_full(&odd);
    free(c);
    free(mem);
}
END_TEST

/* A peer wrote garbage into the shared free ring: gets drop it (counted in
 * dropped) and hand out only real free objects. */
START_TEST(test_garbage_in_free_ring)
{
    const uint32_t csize = cache_sizes[_i];
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp, odd;
    attach(&mp, &v, "pool", 0);
    attach(&odd, &v, "odd", 0);
    struct ivshm_mempool_cache *c = cache_new(csize);
    uint64_t all[POOL_COUNT], o;

    ck_assert_int_eq(ivshm_mempool_get(&odd, NULL, &o), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, NULL, all, POOL_COUNT), IVSHM_OK);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), 0);

    /* Free ring: real a, 5 garbage (incl. a duplicate of a and an object we
     * hold), real b. */
    ck_assert_int_eq(ivshm_mempool_put(&mp, NULL, all[0]), IVSHM_OK);
    const uint64_t garbage[] = {0, 12345, o, all[5] + 64, all[0], all[7]};
    const uint32_t ngarbage = sizeof(garbage) / sizeof(garbage[0]);
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&mp.ring, garbage, ngarbage, NULL), ngarbage);
    ck_assert_int_eq(ivshm_mempool_put(&mp, NULL, all[1]), IVSHM_OK);

    uint64_t got[POOL_COUNT];
    uint32_t n = 0;
    for (int tries = 0; tries < 20 && n < 2; tries++) {
        int rc = ivshm_mempool_get(&mp, c, &got[n]);
        if (rc == IVSHM_OK)
            n++;
        else /* uncached gets report garbage as CORRUPT, and put back the good */
            ck_assert_msg(rc == IVSHM_E_CORRUPT || rc == IVSHM_E_NOBUFS, "rc %d", rc);
    }
    ck_assert_uint_eq(n, 2);
    ck_assert((got[0] == all[0] && got[1] == all[1]) || (got[0] == all[1] && got[1] == all[0]));
    ck_assert_int_eq(ivshm_mempool_get(&mp, c, &got[2]), IVSHM_E_NOBUFS);
    ck_assert_uint_eq(mp.dropped, ngarbage);
    /* all[7] is still ours, untouched by the duplicate. */
    ck_assert_uint_eq(atomic_load(&mp.state[ivshm_mempool_index(&mp, all[7])]),
                      IVSHM_OBJ_ALLOCATED(0));

    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, got, 2, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, c, all + 2, POOL_COUNT - 2, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&odd, NULL, o), IVSHM_OK);
    ivshm_mempool_cache_flush(&mp, c);
    assert_pool_full(&mp);
    free(c);
    free(mem);
}
END_TEST

START_TEST(test_audit_reclaim)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool a_mp, b_mp;
    attach(&a_mp, &v, "pool", 0);
    attach(&b_mp, &v, "pool", 1);
    struct ivshm_mempool_cache *ca = cache_new(8);
    uint64_t ha[8], hb[4];
    struct ivshm_mempool_audit au;

    ck_assert_int_eq(ivshm_mempool_get_bulk(&a_mp, NULL, ha, 5), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&a_mp, ca, ha + 5, 3), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&b_mp, NULL, hb, 4), IVSHM_OK);
    ivshm_mempool_audit(&a_mp, &au);
    ck_assert_uint_eq(au.allocated, 12);
    ck_assert_uint_eq(au.cached, ca->len);
    ck_assert_uint_eq(au.by_party[0], 8 + ca->len);
    ck_assert_uint_eq(au.by_party[1], 4);
    ck_assert_uint_eq(au.free, POOL_COUNT - 12 - ca->len);
    ck_assert_uint_eq(au.invalid, 0);

    /* B frees one of A's objects: any party may free any object. */
    ck_assert_int_eq(ivshm_mempool_put(&b_mp, NULL, ha[0]), IVSHM_OK);

    /* Party 0 is gone: its allocated and cached objects come back. */
    uint32_t expect = 7 + ca->len;
    ck_assert_uint_eq(ivshm_mempool_reclaim(&b_mp, 0), expect);
    ivshm_mempool_audit(&b_mp, &au);
    ck_assert_uint_eq(au.by_party[0], 0);
    ck_assert_uint_eq(au.by_party[1], 4);
    ck_assert_uint_eq(ivshm_mempool_free_count(&b_mp), POOL_COUNT - 4);
    ck_assert_uint_eq(ivshm_mempool_reclaim(&b_mp, 0), 0);

    /* A state byte of no known form is counted as invalid. */
    uint32_t idx = ivshm_mempool_index(&b_mp, hb[3]);
    atomic_store(&b_mp.state[idx], 0xc1);
    ivshm_mempool_audit(&b_mp, &au);
    ck_assert_uint_eq(au.invalid, 1);
    atomic_store(&b_mp.state[idx], IVSHM_OBJ_ALLOCATED(1));

    ck_assert_int_eq(ivshm_mempool_put_bulk(&b_mp, NULL, hb, 4, NULL), IVSHM_OK);
    assert_pool_full(&b_mp);
    free(ca); /* its objects were reclaimed: not flushed */
    free(mem);
}
END_TEST

/* A party killed in the middle of a get or put on the MP/MC free ring leaves
 * head ahead of tail; everyone else would then wait for that tail for ever.
 * The rebuild repairs the ring and takes back the dead party's objects,
 * including those it had dequeued but not yet marked, and leaves a live
 * party's objects alone. */
START_TEST(test_rebuild_after_death_mid_operation)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool dead, live;
    attach(&dead, &v, "pool", 3);
    attach(&live, &v, "pool", 1);
    struct ivshm_mempool_cache *cache = cache_new(8);
    uint64_t held[6], mine[2];

    ck_assert_int_eq(ivshm_mempool_get_bulk(&dead, NULL, held, 6), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&dead, cache, held, 1), IVSHM_OK); /* fills the cache */
    ck_assert_int_eq(ivshm_mempool_get_bulk(&live, NULL, mine, 2), IVSHM_OK);
    uint32_t dead_cached = cache->len, dead_holds = 6 + 1 + dead_cached;

    /* Death inside a get: cons.head moved past 3 entries that were never
     * marked or released; and inside a put: prod.head reserved 2 slots that
     * were never published. */
    struct ivshm_ring_shared *ring = dead.ring.shared;
    atomic_fetch_add(&ring->cons.head, 3);
    atomic_fetch_add(&ring->prod.head, 2);

    uint32_t reclaimed = ivshm_mempool_rebuild(&live, 1ull << 3);
    ck_assert_uint_eq(reclaimed, dead_holds);
    struct ivshm_mempool_audit au;
    ivshm_mempool_audit(&live, &au);
    ck_assert_uint_eq(au.by_party[3], 0);
    ck_assert_uint_eq(au.by_party[1], 2);
    ck_assert_uint_eq(ivshm_mempool_free_count(&live), POOL_COUNT - 2);
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_ring_check(&live.ring, &err), IVSHM_OK);

    /* The ring works again, for the whole pool: a get of everything free
     * returns distinct objects, and all of it goes back. */
    uint64_t all[POOL_COUNT];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&live, NULL, all, POOL_COUNT - 2), IVSHM_OK);
    for (uint32_t i = 0; i < POOL_COUNT - 2; i++)
        for (uint32_t j = 0; j < i; j++)
            ck_assert_uint_ne(all[i], all[j]);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&live, NULL, all, POOL_COUNT - 2, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&live, NULL, mine, 2, NULL), IVSHM_OK);
    assert_pool_full(&live);
    free(cache); /* its objects were rebuilt into the ring: not flushed */
    free(mem);
}
END_TEST

/* ---- threads ---- */

struct pool_thread {
    struct ivshm_mempool *mp;
    struct ivshm_ring *ring;
    unsigned id;
    uint32_t iterations;
    uint32_t cache_size;
    bool ok;
    char why[96];
};

static void *churn_main(void *arg)
{
    struct pool_thread *t = arg;
    struct ivshm_mempool_cache *c = malloc(sizeof(*c));
    ivshm_mempool_cache_init(c, t->cache_size);
    uint64_t hs[8];
    t->ok = true;
    for (uint32_t it = 0; it < t->iterations && t->ok; it++) {
        uint32_t n = 1 + (it + t->id) % 8;
        if (ivshm_mempool_get_bulk(t->mp, c, hs, n) != IVSHM_OK) {
            sched_yield();
            continue;
        }
        const uint64_t tag = ((uint64_t)t->id << 32) | it;
        for (uint32_t i = 0; i < n; i++)
            *(uint64_t *)ivshm_mempool_ptr(t->mp, hs[i]) = tag;
        for (uint32_t i = 0; i < n; i++)
            if (*(uint64_t *)ivshm_mempool_ptr(t->mp, hs[i]) != tag) {
                snprintf(t->why, sizeof(t->why), "object 0x%llx held by two threads",
                         (unsigned long long)hs[i]);
                t->ok = false;
            }
        if (ivshm_mempool_put_bulk(t->mp, c, hs, n, NULL) != IVSHM_OK) {
            snprintf(t->why, sizeof(t->why), "put refused an object we held");
            t->ok = false;
        }
    }
    ivshm_mempool_cache_flush(t->mp, c);
    free(c);
    return NULL;
}

/* Four threads, one pool handle, their own caches (one without). */
START_TEST(test_threads_get_put)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool mp;
    attach(&mp, &v, "tpool", 0);
    struct pool_thread t[4];
    pthread_t tid[4];
    static const uint32_t caches[4] = {32, 0, 64, 8};
    for (unsigned i = 0; i < 4; i++) {
        t[i] =
            (struct pool_thread){.mp = &mp, .id = i, .iterations = 50000, .cache_size = caches[i]};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, churn_main, &t[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
        ck_assert_msg(t[i].ok, "thread %u: %s", i, t[i].why);
    }
    assert_pool_full(&mp);
    ck_assert_uint_eq(mp.dropped, 0);
    free(mem);
}
END_TEST

#define PASS_OBJECTS 200000u

static void *alloc_send_main(void *arg)
{
    struct pool_thread *t = arg;
    struct ivshm_mempool_cache *c = malloc(sizeof(*c));
    ivshm_mempool_cache_init(c, t->cache_size);
    uint64_t hs[16];
    uint32_t sent = 0;
    t->ok = true;
    while (sent < t->iterations) {
        uint32_t n = 1 + sent % 16;
        if (n > t->iterations - sent)
            n = t->iterations - sent;
        if (ivshm_mempool_get_bulk(t->mp, c, hs, n) != IVSHM_OK) {
            sched_yield(); /* all objects in flight or in the receiver's cache */
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t *obj = ivshm_mempool_ptr(t->mp, hs[i]);
            obj[0] = sent + i;
            obj[1] = hs[i] ^ 0x5555555555555555ull;
        }
        uint32_t done = 0;
        while (done < n) {
            done += ivshm_ring_enqueue_burst(t->ring, hs + done, n - done, NULL);
            if (done < n)
                sched_yield();
        }
        sent += n;
    }
    ivshm_mempool_cache_flush(t->mp, c);
    free(c);
    return NULL;
}

static void *receive_free_main(void *arg)
{
    struct pool_thread *t = arg;
    struct ivshm_mempool_cache *c = malloc(sizeof(*c));
    ivshm_mempool_cache_init(c, t->cache_size);
    uint64_t hs[16];
    uint32_t got = 0;
    t->ok = true;
    while (got < t->iterations && t->ok) {
        uint32_t n = ivshm_ring_dequeue_burst(t->ring, hs, 1 + got % 16, NULL);
        if (n == 0) {
            sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            /* A handle from a ring is untrusted until the pool says it is one
             * of its objects. */
            if (ivshm_mempool_index(t->mp, hs[i]) == UINT32_MAX) {
                snprintf(t->why, sizeof(t->why), "received a foreign handle");
                t->ok = false;
                break;
            }
            const uint64_t *obj = ivshm_mempool_ptr(t->mp, hs[i]);
            if (obj[0] != got + i || obj[1] != (hs[i] ^ 0x5555555555555555ull)) {
                snprintf(t->why, sizeof(t->why), "object %u: payload %llu", got + i,
                         (unsigned long long)obj[0]);
                t->ok = false;
            }
        }
        uint32_t freed = 0;
        if (ivshm_mempool_put_bulk(t->mp, c, hs, n, &freed) != IVSHM_OK) {
            snprintf(t->why, sizeof(t->why), "put refused object %u", got + freed);
            t->ok = false;
        }
        got += n;
    }
    ivshm_mempool_cache_flush(t->mp, c);
    free(c);
    return NULL;
}

/* One thread allocates and sends handles through a ring, another receives
 * and frees them, each as its own party with its own cache. */
START_TEST(test_threads_pass_through_ring)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    struct ivshm_mempool tx_mp, rx_mp;
    struct ivshm_ring tx_ring, rx_ring;
    attach(&tx_mp, &v, "tpool", 0);
    attach(&rx_mp, &v, "tpool", 1);
    attach_ring(&tx_ring, &v, "spsc");
    attach_ring(&rx_ring, &v, "spsc");
    struct pool_thread tx = {
        .mp = &tx_mp, .ring = &tx_ring, .iterations = PASS_OBJECTS, .cache_size = 32};
    struct pool_thread rx = {
        .mp = &rx_mp, .ring = &rx_ring, .id = 1, .iterations = PASS_OBJECTS, .cache_size = 32};
    pthread_t t1, t2;
    ck_assert_int_eq(pthread_create(&t1, NULL, alloc_send_main, &tx), 0);
    ck_assert_int_eq(pthread_create(&t2, NULL, receive_free_main, &rx), 0);
    ck_assert_int_eq(pthread_join(t1, NULL), 0);
    ck_assert_int_eq(pthread_join(t2, NULL), 0);
    ck_assert_msg(rx.ok, "receiver: %s", rx.why);
    assert_pool_full(&tx_mp);
    ck_assert_uint_eq(tx_mp.dropped + rx_mp.dropped, 0);
    free(mem);
}
END_TEST

/* ---- two processes ---- */

#define PROC_OBJECTS 100000u

/* Child: maps the segment file again (at another address), validates it,
 * claims its own party, receives handles and frees them. Returns the exit
 * status: 0 when every object arrived intact. */
static int child_receive(int fd, const void *parent_map)
{
    void *mem = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED || mem == parent_map)
        return 10;
    struct ivshm_segment_view v;
    struct ivshm_error err;
    if (ivshm_segment_validate(mem, SEG_SIZE, &v, &err) != IVSHM_OK)
        return 11;
    int party = ivshm_party_claim(&v, IVSHM_PARTY_HOST, (uint64_t)getpid(), 0, "child");
    struct ivshm_dir_entry pe, re;
    struct ivshm_mempool mp;
    struct ivshm_ring ring;
    if (party < 0 || ivshm_object_lookup(&v, "tpool", IVSHM_OBJ_MEMPOOL, &pe, &err) ||
        ivshm_object_lookup(&v, "chan", IVSHM_OBJ_RING, &re, &err) ||
        ivshm_mempool_attach(&mp, &v, &pe, party, &err) || ivshm_ring_attach(&ring, &v, &re, &err))
        return 12;
    struct ivshm_mempool_cache *c = malloc(sizeof(*c));
    ivshm_mempool_cache_init(c, 64);
    uint64_t hs[32];
    uint32_t got = 0;
    int status = 0;
    while (got < PROC_OBJECTS) {
        uint32_t n = ivshm_ring_dequeue_burst(&ring, hs, 32, NULL);
        if (n == 0) {
            sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (ivshm_mempool_index(&mp, hs[i]) == UINT32_MAX)
                return 13;
            const uint64_t *obj = ivshm_mempool_ptr(&mp, hs[i]);
            if (obj[0] != got + i || obj[1] != (hs[i] ^ (uint64_t)getppid()))
                status = 14;
        }
        if (ivshm_mempool_put_bulk(&mp, c, hs, n, NULL) != IVSHM_OK)
            return 15;
        got += n;
    }
    ivshm_mempool_cache_flush(&mp, c);
    ivshm_party_release(&v, party);
    free(c);
    munmap(mem, SEG_SIZE);
    return status;
}

START_TEST(test_two_processes)
{
    int fd = memfd_create("ivshm-unit", 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, SEG_SIZE), 0);
    void *mem = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(mem, MAP_FAILED);
    struct ivshm_segment_view v;
    make_segment(mem, &v);
    int party = ivshm_party_claim(&v, IVSHM_PARTY_HOST, (uint64_t)getpid(), 0, "parent");
    ck_assert_int_ge(party, 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(child_receive(fd, mem));

    struct ivshm_mempool mp;
    struct ivshm_ring ring;
    attach(&mp, &v, "tpool", party);
    attach_ring(&ring, &v, "chan");
    struct ivshm_mempool_cache *c = cache_new(32);
    uint64_t hs[16];
    uint32_t sent = 0;
    int status = -1;
    bool child_gone = false;
    while (sent < PROC_OBJECTS && !child_gone) {
        uint32_t n = 1 + sent % 16;
        if (n > PROC_OBJECTS - sent)
            n = PROC_OBJECTS - sent;
        if (ivshm_mempool_get_bulk(&mp, c, hs, n) != IVSHM_OK) {
            /* Everything is with the child: wait for it, unless it died. */
            child_gone = waitpid(pid, &status, WNOHANG) == pid;
            sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t *obj = ivshm_mempool_ptr(&mp, hs[i]);
            obj[0] = sent + i;
            obj[1] = hs[i] ^ (uint64_t)getpid();
        }
        uint32_t done = 0;
        while (done < n) /* the ring has a slot for every object */
            done += ivshm_ring_enqueue_burst(&ring, hs + done, n - done, NULL);
        sent += n;
    }
    ivshm_mempool_cache_flush(&mp, c);
    if (!child_gone)
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
    ck_assert_uint_eq(sent, PROC_OBJECTS);

    /* The child freed everything it received: the pool is full again. */
    assert_pool_full(&mp);
    ck_assert_uint_eq(ivshm_ring_count(&ring), 0);
    struct ivshm_mempool_audit a;
    ivshm_mempool_audit(&mp, &a);
    for (unsigned p = 0; p < IVSHM_MAX_PARTIES; p++)
        ck_assert_uint_eq(a.by_party[p], 0);
    ck_assert_uint_eq(atomic_load(&v.parties[1].state), IVSHM_PARTY_GONE);
    free(c);
    munmap(mem, SEG_SIZE);
    close(fd);
}
END_TEST

static Suite *mempool_suite(void)
{
    Suite *s = suite_create("mempool");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_attach);
    tcase_add_loop_test(tc, test_get_put, 0, 3);
    tcase_add_loop_test(tc, test_exhaustion, 0, 3);
    tcase_add_test(tc, test_cache_flush);
    tcase_add_test(tc, test_big_put_into_full_cache);
    tcase_add_loop_test(tc, test_double_free, 0, 3);
    tcase_add_loop_test(tc, test_foreign_handles, 0, 3);
    tcase_add_loop_test(tc, test_garbage_in_free_ring, 0, 3);
    tcase_add_test(tc, test_audit_reclaim);
    tcase_add_test(tc, test_rebuild_after_death_mid_operation);
    tcase_add_test(tc, test_two_processes);
    suite_add_tcase(s, tc);

    /* Tagged: the TSan build runs only these. */
    tc = tcase_create("threads");
    tcase_set_tags(tc, "threads");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_threads_get_put);
    tcase_add_test(tc, test_threads_pass_through_ring);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(mempool_suite());
}
