/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests for what the ring and mempool optimisations touched (tests/bench,
 * docs/performance.md): cached indices across the 2^32 wrap with partial
 * bursts, stale heads in MP/MC rings (which must retry, not fail), refused
 * calls counted by the single-writer event path, implausible indices in MP
 * mode refused without spinning, and the one-multiply mempool handle check.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "ivshm/mempool.h"
#include "test_calls.h" /* out-of-line hot paths: 10x faster ASan compile */
#include "test_util.h"

static const uint32_t modes[] = {IVSHM_RING_SPSC, IVSHM_RING_MP, IVSHM_RING_MC, IVSHM_RING_MPMC};
#define NMODES 4

static void *ring_mem(uint32_t slots)
{
    void *mem = aligned_alloc(64, (ivshm_ring_bytes(slots) + 63) & ~(size_t)63);
    ck_assert_ptr_nonnull(mem);
    memset(mem, 0x5a, ivshm_ring_bytes(slots));
    return mem;
}

/* Sets all four shared indices, as if the ring had run that long. */
static void ring_set_indices(void *mem, uint32_t at)
{
    struct ivshm_ring_shared *s = mem;
    atomic_store(&s->prod.head, at);
    atomic_store(&s->prod.tail, at);
    atomic_store(&s->cons.head, at);
    atomic_store(&s->cons.tail, at);
}

/* Producer and consumer on separate handles (their private copies of the
 * other side's tail go stale independently); bursts of every size from 1 to
 * 2 * slots across the 2^32 wrap of the indices: FIFO order, no loss, no
 * duplicate, and a burst takes exactly what fits. */
START_TEST(test_cached_wrap_partial_bursts)
{
    const uint32_t slots = 16;
    void *mem = ring_mem(slots);
    struct ivshm_ring prod, cons;
    ck_assert_int_eq(ivshm_ring_init_raw(&prod, mem, slots, modes[_i], true), IVSHM_OK);
    ring_set_indices(mem, UINT32_MAX - 100);
    ck_assert_int_eq(ivshm_ring_init_raw(&prod, mem, slots, modes[_i], false), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_init_raw(&cons, mem, slots, modes[_i], false), IVSHM_OK);

    uint64_t next_in = 1, next_out = 1, buf[64];
    uint32_t in_ring = 0;
    for (uint32_t round = 0; round < 2000; round++) {
        uint32_t want = 1 + round % (2 * slots);
        for (uint32_t i = 0; i < want; i++)
            buf[i] = next_in + i;
        uint32_t free_space = 0;
        uint32_t put = ivshm_ring_enqueue_burst(&prod, buf, want, &free_space);
        EXPECT_EQ(put, want < slots - in_ring ? want : slots - in_ring);
        /* From the private copy of cons.tail: never more than the truth. */
        EXPECT_LE(free_space, slots - in_ring - put);
        next_in += put;
        in_ring += put;

        uint32_t take = 1 + (round * 7) % (2 * slots);
        uint32_t available = 0;
        uint32_t got = ivshm_ring_dequeue_burst(&cons, buf, take, &available);
        EXPECT_EQ(got, take < in_ring ? take : in_ring);
        EXPECT_LE(available, in_ring - got);
        for (uint32_t i = 0; i < got; i++)
            EXPECT_EQ(buf[i], next_out + i);
        next_out += got;
        in_ring -= got;
    }
    struct ivshm_error err;
    ck_assert_int_eq(ivshm_ring_check(&prod, &err), IVSHM_OK);
    ck_assert_uint_eq(ivshm_ring_count(&prod), in_ring);
    /* The run crossed the wrap of the 32-bit indices. */
    ck_assert_uint_lt(atomic_load(&((struct ivshm_ring_shared *)mem)->cons.tail), 100000);
    free(mem);
}
END_TEST

/* A bulk refused for lack of room must succeed once the consumer made room,
 * although the producer's private copy of cons.tail still says full. */
START_TEST(test_stale_copy_refreshed_for_bulk)
{
    const uint32_t slots = 8;
    void *mem = ring_mem(slots);
    struct ivshm_ring prod, cons;
    ck_assert_int_eq(ivshm_ring_init_raw(&prod, mem, slots, modes[_i], true), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_init_raw(&cons, mem, slots, modes[_i], false), IVSHM_OK);
    uint64_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&prod, v, 8, NULL), 8);
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&prod, v, 1, NULL), 0);
    ck_assert_uint_eq(ivshm_ring_dequeue_bulk(&cons, out, 3, NULL), 3);
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&prod, v, 4, NULL), 0); /* only 3 free */
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&prod, v, 3, NULL), 3);
    /* And the consumer, whose copy of prod.tail is stale, sees the new ones. */
    ck_assert_uint_eq(ivshm_ring_dequeue_bulk(&cons, out, 8, NULL), 8);
    ck_assert_uint_eq(out[4], 8);
    ck_assert_uint_eq(out[5], 1);
    free(mem);
}
END_TEST

/* Refused calls are counted, on the single-writer path (SP/SC: load+store)
 * as on the shared one (MP/MC: atomic add). */
START_TEST(test_events_counted)
{
    const uint32_t slots = 4;
    void *mem = ring_mem(slots);
    struct ivshm_ring r;
    ck_assert_int_eq(ivshm_ring_init_raw(&r, mem, slots, modes[_i], true), IVSHM_OK);
    uint64_t v[4] = {0}, out;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(ivshm_ring_dequeue(&r, &out), IVSHM_E_NOBUFS);
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&r, v, 4, NULL), 4);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ivshm_ring_enqueue(&r, 9), IVSHM_E_NOBUFS);
    struct ivshm_ring_stats st;
    ivshm_ring_stats(&r, &st);
    ck_assert_uint_eq(st.empty_events, 5);
    ck_assert_uint_eq(st.full_events, 3);
    free(mem);
}
END_TEST

/* cons.tail ahead of prod.head (a peer's garbage): every mode refuses the
 * enqueue and returns (an MP producer must not retry forever), and nothing
 * is written outside the ring. */
START_TEST(test_implausible_indices_refused)
{
    const uint32_t slots = 8;
    uint8_t *mem = ring_mem(slots + 8); /* 8 guard slots after the ring */
    uint64_t *guard = (uint64_t *)(mem + ivshm_ring_bytes(slots));
    for (int i = 0; i < 8; i++)
        guard[i] = 0x1111;
    struct ivshm_ring r;
    ck_assert_int_eq(ivshm_ring_init_raw(&r, mem, slots, modes[_i], true), IVSHM_OK);
    struct ivshm_ring_shared *s = (struct ivshm_ring_shared *)mem;
    /* Garbage found when attaching (the private copies start from it)... */
    atomic_store(&s->cons.tail, 1000);
    atomic_store(&s->cons.head, 1000);
    ck_assert_int_eq(ivshm_ring_init_raw(&r, mem, slots, modes[_i], false), IVSHM_OK);
    uint64_t v[8] = {0}, out[8];
    ck_assert_uint_eq(ivshm_ring_enqueue_burst(&r, v, 8, NULL), 0);
    ck_assert_uint_eq(ivshm_ring_enqueue_bulk(&r, v, 1, NULL), 0);
    /* prod.tail far ahead of cons: refused the same way. */
    ck_assert_int_eq(ivshm_ring_init_raw(&r, mem, slots, modes[_i], true), IVSHM_OK);
    atomic_store(&s->prod.tail, 1000);
    atomic_store(&s->prod.head, 1000);
    ck_assert_int_eq(ivshm_ring_init_raw(&r, mem, slots, modes[_i], false), IVSHM_OK);
    ck_assert_uint_eq(ivshm_ring_dequeue_burst(&r, out, 8, NULL), 0);
    /* ...or later, when a private copy runs out and is refreshed. */
    ck_assert_int_eq(ivshm_ring_init_raw(&r, mem, slots, modes[_i], true), IVSHM_OK);
    ck_assert_uint_eq(ivshm_ring_enqueue_burst(&r, v, 8, NULL), 8);
    atomic_store(&s->cons.tail, 5000);
    ck_assert_uint_eq(ivshm_ring_enqueue_burst(&r, v, 8, NULL), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(guard[i], 0x1111);
    free(mem);
}
END_TEST

/* Two threads share an MPMC ring holding 48 tokens of 64 slots, each taking
 * 8 and giving them back, each with its own handle. Neither call may ever
 * fail: there are always at least 32 tokens and 16 free slots. Before the
 * fix, a head that went stale while the other thread lapped it made
 * dequeue_bulk report "empty" (and enqueue_bulk "full") spuriously. */
struct lap_arg {
    struct ivshm_ring ring;
    long failures;
    uint64_t sum;
};

static void *lap_thread(void *p)
{
    struct lap_arg *a = p;
    uint64_t tok[8];
    for (int i = 0; i < 200000; i++) {
        if (ivshm_ring_dequeue_bulk(&a->ring, tok, 8, NULL) != 8) {
            a->failures++;
            continue;
        }
        while (ivshm_ring_enqueue_bulk(&a->ring, tok, 8, NULL) != 8)
            a->failures++;
    }
    return NULL;
}

START_TEST(test_threads_mpmc_no_spurious_failure)
{
    const uint32_t slots = 64, tokens = 48;
    void *mem = ring_mem(slots);
    struct lap_arg a[2];
    memset(a, 0, sizeof(a));
    ck_assert_int_eq(ivshm_ring_init_raw(&a[0].ring, mem, slots, IVSHM_RING_MPMC, true), IVSHM_OK);
    for (uint64_t t = 1; t <= tokens; t++)
        ck_assert_int_eq(ivshm_ring_enqueue(&a[0].ring, t), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_init_raw(&a[0].ring, mem, slots, IVSHM_RING_MPMC, false), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_init_raw(&a[1].ring, mem, slots, IVSHM_RING_MPMC, false), IVSHM_OK);
    pthread_t t0, t1;
    ck_assert_int_eq(pthread_create(&t0, NULL, lap_thread, &a[0]), 0);
    ck_assert_int_eq(pthread_create(&t1, NULL, lap_thread, &a[1]), 0);
    pthread_join(t0, NULL);
    pthread_join(t1, NULL);
    ck_assert_int_eq(a[0].failures, 0);
    ck_assert_int_eq(a[1].failures, 0);
    /* Every token is still there exactly once. */
    uint64_t tok[64], sum = 0;
    ck_assert_uint_eq(ivshm_ring_dequeue_burst(&a[0].ring, tok, 64, NULL), tokens);
    for (uint32_t i = 0; i < tokens; i++)
        sum += tok[i];
    ck_assert_uint_eq(sum, (uint64_t)tokens * (tokens + 1) / 2);
    free(mem);
}
END_TEST

/* The mempool handle check: every object start maps to its index, and every
 * other offset in and around the pool (misaligned, between objects, before,
 * after, wrapped) is rejected, for strides that are and are not powers of
 * two. */
START_TEST(test_mempool_index_exhaustive)
{
    static const uint32_t sizes[] = {64, 100, 192, 2048, 2049, 4000};
    uint32_t size = sizes[_i];
    const uint32_t count = 37;
    struct ivshm_mempool_layout lay;
    ck_assert_int_eq(ivshm_mempool_layout(count, size, &lay), IVSHM_OK);
    uint64_t seg = ivshm_next_pow2(ivshm_metadata_bytes(4, 4) + lay.length + 4096);
    void *mem = test_seg_alloc(seg);
    struct ivshm_builder b;
    struct ivshm_error err;
    test_builder_init(&b, mem, seg, 4, 4);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "p", count, size, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
    struct ivshm_segment_view view;
    struct ivshm_dir_entry e;
    struct ivshm_mempool mp;
    ck_assert_int_eq(ivshm_segment_validate(mem, seg, &view, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_object_lookup(&view, "p", IVSHM_OBJ_MEMPOOL, &e, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_attach(&mp, &view, &e, 0, &err), IVSHM_OK);

    uint64_t first = ivshm_mempool_handle(&mp, 0);
    uint64_t end = first + (uint64_t)count * mp.stride;
    for (uint64_t h = first - 3 * mp.stride; h < end + 3 * mp.stride; h++) {
        uint32_t want = h >= first && h < end && (h - first) % mp.stride == 0
                            ? (uint32_t)((h - first) / mp.stride)
                            : UINT32_MAX;
        EXPECT_EQ(ivshm_mempool_index(&mp, h), want);
    }
    static const uint64_t odd[] = {0, 1, UINT64_MAX, UINT64_MAX - 63, 1ull << 63, 1ull << 40};
    for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        EXPECT_EQ(ivshm_mempool_index(&mp, odd[i]), UINT32_MAX);
    free(mem);
}
END_TEST

/* A full-size cache (512, flushed at 768) holding 767 objects takes a put of
 * 512 more: the cache's 1024 slots must not overflow (ASan checks), and every
 * object stays accounted for. */
START_TEST(test_mempool_big_put_into_full_cache)
{
    const uint32_t count = 2048;
    struct ivshm_mempool_layout lay;
    ck_assert_int_eq(ivshm_mempool_layout(count, 64, &lay), IVSHM_OK);
    uint64_t seg = ivshm_next_pow2(ivshm_metadata_bytes(4, 4) + lay.length + 4096);
    void *mem = test_seg_alloc(seg);
    struct ivshm_builder b;
    struct ivshm_error err;
    test_builder_init(&b, mem, seg, 4, 4);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "p", count, 64, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
    struct ivshm_segment_view view;
    struct ivshm_dir_entry e;
    struct ivshm_mempool mp;
    test_validate(mem, seg, &view);
    test_find(&view, "p", IVSHM_OBJ_MEMPOOL, &e);
    ck_assert_int_eq(ivshm_mempool_attach(&mp, &view, &e, 1, &err), IVSHM_OK);
    struct ivshm_mempool_cache *cache = malloc(sizeof(*cache));
    ck_assert_ptr_nonnull(cache);
    ck_assert_int_eq(ivshm_mempool_cache_init(cache, IVSHM_MEMPOOL_CACHE_MAX), IVSHM_OK);
    static uint64_t h[2048];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, NULL, h, 767 + 512), IVSHM_OK);
    for (uint32_t i = 0; i < 767; i++)
        ck_assert_int_eq(ivshm_mempool_put(&mp, cache, h[i]), IVSHM_OK);
    ck_assert_uint_eq(cache->len, 767);
    uint32_t freed = 0;
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, cache, h + 767, 512, &freed), IVSHM_OK);
    ck_assert_uint_eq(freed, 512);
    ck_assert_uint_le(cache->len, 2 * IVSHM_MEMPOOL_CACHE_MAX);
    ivshm_mempool_cache_flush(&mp, cache);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), count);
    /* Double free through the cache path is still refused. */
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, cache, h, 8), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, cache, h, 8, NULL), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&mp, cache, h[3]), IVSHM_E_DOUBLE_FREE);
    ck_assert_int_eq(ivshm_mempool_put(&mp, cache, h[3] + 1), IVSHM_E_FOREIGN);
    free(cache);
    free(mem);
}
END_TEST

/* A cached get larger than what the pool still has fails cleanly (it used to
 * take objects from below the start of the cache). */
START_TEST(test_mempool_cached_get_exhausted)
{
    const uint32_t count = 16;
    struct ivshm_mempool_layout lay;
    ck_assert_int_eq(ivshm_mempool_layout(count, 64, &lay), IVSHM_OK);
    uint64_t seg = ivshm_next_pow2(ivshm_metadata_bytes(4, 4) + lay.length + 4096);
    void *mem = test_seg_alloc(seg);
    struct ivshm_builder b;
    struct ivshm_error err;
    test_builder_init(&b, mem, seg, 4, 4);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "p", count, 64, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
    struct ivshm_segment_view view;
    struct ivshm_dir_entry e;
    struct ivshm_mempool mp;
    test_validate(mem, seg, &view);
    test_find(&view, "p", IVSHM_OBJ_MEMPOOL, &e);
    ck_assert_int_eq(ivshm_mempool_attach(&mp, &view, &e, 2, &err), IVSHM_OK);
    struct ivshm_mempool_cache *cache = malloc(sizeof(*cache));
    ck_assert_ptr_nonnull(cache);
    ck_assert_int_eq(ivshm_mempool_cache_init(cache, 8), IVSHM_OK);
    uint64_t h[32];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, cache, h, 32), IVSHM_E_NOBUFS);
    ck_assert_int_eq(ivshm_mempool_get_bulk(&mp, cache, h, 16), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_get(&mp, cache, h + 16), IVSHM_E_NOBUFS);
    ck_assert_int_eq(ivshm_mempool_put_bulk(&mp, cache, h, 16, NULL), IVSHM_OK);
    ivshm_mempool_cache_flush(&mp, cache);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), count);
    free(cache);
    free(mem);
}
END_TEST

static Suite *ring_opt_suite(void)
{
    Suite *s = suite_create("ring_opt");
    TCase *tc = tcase_create("single");
    tcase_add_loop_test(tc, test_cached_wrap_partial_bursts, 0, NMODES);
    tcase_add_loop_test(tc, test_stale_copy_refreshed_for_bulk, 0, NMODES);
    tcase_add_loop_test(tc, test_events_counted, 0, NMODES);
    tcase_add_loop_test(tc, test_implausible_indices_refused, 0, NMODES);
    tcase_add_loop_test(tc, test_mempool_index_exhaustive, 0, 6);
    tcase_add_test(tc, test_mempool_big_put_into_full_cache);
    tcase_add_test(tc, test_mempool_cached_get_exhausted);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("threads");
    tcase_set_tags(tt, "threads");
    tcase_set_timeout(tt, 120);
    tcase_add_test(tt, test_threads_mpmc_no_spurious_failure);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    return test_run(ring_opt_suite());
}
