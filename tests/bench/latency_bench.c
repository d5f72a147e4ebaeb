/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * latency/host: round-trip latency of one entry in flight, host only.
 *
 *   ping (cpu 0): t0 = TSC; enqueue seq on ring A; spin until ring B gives
 *                 it back; sample TSC - t0
 *   pong (cpu 1): spin on ring A; enqueue what came on ring B
 *
 * Two SP/SC rings of 1024 slots per implementation (ivshm: ivshm_ring_init_raw;
 * DPDK: rte_ring_init on plain memory), single-entry calls on both sides
 * (ivshm_ring_enqueue/dequeue, rte_ring_sp_enqueue/sc_dequeue), spinning
 * without a pause, as a latency-minded poller does. The same loop serves
 * both. Each run does bench_cfg.latency_trips round trips after 1000 of
 * warm-up; each repetition runs ivshm then DPDK; a figure is the median over
 * the repetitions of each run's statistic (min, p50, p99, p99.9, max), in
 * microseconds of TSC time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "bench.h"
#include "common/internal.h"
#include "ivshm/ring.h"

#define LAT_SLOTS  1024u
#define LAT_WARMUP 1000u

struct pingpong {
    void *a, *b;       /* ring handles: ping enqueues on a and dequeues on b */
    uint64_t trips;    /* measured round trips */
    uint32_t *samples; /* TSC cycles of each */
    bool failed;
};

#define PINGPONG(tag, ENQ, DEQ)                                                                    \
    static void tag##_ping(void *arg)                                                              \
    {                                                                                              \
        struct pingpong *pp = arg;                                                                 \
        const uint64_t total = pp->trips + LAT_WARMUP;                                             \
        for (uint64_t i = 0; i < total; i++) {                                                     \
            uint64_t back;                                                                         \
            uint64_t t0 = bench_rdtsc();                                                           \
            while (!ENQ(pp->a, i))                                                                 \
                ;                                                                                  \
            while (!DEQ(pp->b, &back))                                                             \
                ;                                                                                  \
            uint64_t t1 = bench_rdtsc();                                                           \
            if (back != i)                                                                         \
                pp->failed = true;                                                                 \
            if (i >= LAT_WARMUP)                                                                   \
                pp->samples[i - LAT_WARMUP] =                                                      \
                    t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);                       \
        }                                                                                          \
    }                                                                                              \
    static void tag##_pong(void *arg)                                                              \
    {                                                                                              \
        struct pingpong *pp = arg;                                                                 \
        const uint64_t total = pp->trips + LAT_WARMUP;                                             \
        for (uint64_t i = 0; i < total; i++) {                                                     \
            uint64_t v;                                                                            \
            while (!DEQ(pp->a, &v))                                                                \
                ;                                                                                  \
            while (!ENQ(pp->b, v))                                                                 \
                ;                                                                                  \
        }                                                                                          \
    }

static inline __attribute__((always_inline)) bool ivs_enq1(void *r, uint64_t v)
{
    return ivshm_ring_enqueue(r, v) == IVSHM_OK;
}
static inline __attribute__((always_inline)) bool ivs_deq1(void *r, uint64_t *v)
{
    return ivshm_ring_dequeue(r, v) == IVSHM_OK;
}
static inline __attribute__((always_inline)) bool dp_enq1(void *r, uint64_t v)
{
    return rte_ring_sp_enqueue(r, (void *)(uintptr_t)v) == 0;
}
static inline __attribute__((always_inline)) bool dp_deq1(void *r, uint64_t *v)
{
    void *p;
    if (rte_ring_sc_dequeue(r, &p) != 0)
        return false;
    *v = (uint64_t)(uintptr_t)p;
    return true;
}

PINGPONG(ivs, ivs_enq1, ivs_deq1)
PINGPONG(dp, dp_enq1, dp_deq1)

/* Statistics of one run, in microseconds. */
enum { ST_MIN, ST_P50, ST_P99, ST_P999, ST_MAX, ST_COUNT };
static const char *const stat_names[ST_COUNT] = {"min", "p50", "p99", "p99.9", "max"};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void run_stats(uint32_t *samples, uint64_t n, double out[ST_COUNT])
{
    qsort(samples, n, sizeof(*samples), cmp_u32);
    const double us = 1e6 / bench_cfg.tsc_hz;
    out[ST_MIN] = samples[0] * us;
    out[ST_P50] = samples[n / 2] * us;
    out[ST_P99] = samples[n * 99 / 100] * us;
    out[ST_P999] = samples[n * 999 / 1000] * us;
    out[ST_MAX] = samples[n - 1] * us;
}

/* Two fresh rings in `mem` (ivshm) or `dmem` (DPDK), one run, its stats. */
static void measure_latency(enum bench_impl impl, void *mem[2], uint32_t *samples,
                            double out[ST_COUNT])
{
    struct ivshm_ring ping_a, ping_b, pong_a, pong_b; /* each party its own handles */
    struct pingpong pp = {.trips = bench_cfg.latency_trips, .samples = samples};
    struct pingpong qq = pp;
    if (impl == IMPL_IVSHM) {
        for (int i = 0; i < 2; i++)
            memset(mem[i], 0, ivshm_ring_bytes(LAT_SLOTS));
        if (ivshm_ring_init_raw(&ping_a, mem[0], LAT_SLOTS, IVSHM_RING_SPSC, true) != IVSHM_OK ||
            ivshm_ring_init_raw(&ping_b, mem[1], LAT_SLOTS, IVSHM_RING_SPSC, true) != IVSHM_OK ||
            ivshm_ring_init_raw(&pong_a, mem[0], LAT_SLOTS, IVSHM_RING_SPSC, false) != IVSHM_OK ||
            ivshm_ring_init_raw(&pong_b, mem[1], LAT_SLOTS, IVSHM_RING_SPSC, false) != IVSHM_OK)
            bench_die("ivshm_ring_init_raw failed");
        pp.a = &ping_a, pp.b = &ping_b;
        qq.a = &pong_a, qq.b = &pong_b;
        bench_run_pair(ivs_ping, &pp, ivs_pong, &qq);
    } else {
        for (int i = 0; i < 2; i++)
            if (rte_ring_init(mem[i], i ? "lat_b" : "lat_a", LAT_SLOTS,
                              RING_F_SP_ENQ | RING_F_SC_DEQ) != 0)
                bench_die("rte_ring_init failed");
        pp.a = qq.a = mem[0];
        pp.b = qq.b = mem[1];
        bench_run_pair(dp_ping, &pp, dp_pong, &qq);
    }
    if (pp.failed)
        bench_die("latency (%s): an entry came back wrong", impl == IMPL_IVSHM ? "ivshm" : "DPDK");
    run_stats(samples, pp.trips, out);
}

void bench_latency(void)
{
    if (!bench_selected("latency/host"))
        return;
    size_t ivs_bytes = (ivshm_ring_bytes(LAT_SLOTS) + 4095) & ~(size_t)4095;
    ssize_t dp_size = rte_ring_get_memsize(LAT_SLOTS);
    if (dp_size < 0)
        bench_die("rte_ring_get_memsize(%u) failed", LAT_SLOTS);
    size_t dp_bytes = ((size_t)dp_size + 4095) & ~(size_t)4095;
    void *ivs_mem[2] = {aligned_alloc(4096, ivs_bytes), aligned_alloc(4096, ivs_bytes)};
    void *dp_mem[2] = {aligned_alloc(4096, dp_bytes), aligned_alloc(4096, dp_bytes)};
    uint32_t *samples = malloc(bench_cfg.latency_trips * sizeof(*samples));
    if (!ivs_mem[0] || !ivs_mem[1] || !dp_mem[0] || !dp_mem[1] || !samples)
        bench_die("out of memory for the latency rows");

    double iv[ST_COUNT][BENCH_MAX_REPS], dp[ST_COUNT][BENCH_MAX_REPS], run[ST_COUNT];
    for (unsigned r = 0; r < bench_cfg.reps; r++) {
        measure_latency(IMPL_IVSHM, ivs_mem, samples, run);
        for (int s = 0; s < ST_COUNT; s++)
            iv[s][r] = run[s];
        measure_latency(IMPL_DPDK, dp_mem, samples, run);
        for (int s = 0; s < ST_COUNT; s++)
            dp[s][r] = run[s];
    }
    for (int s = 0; s < ST_COUNT; s++) {
        char name[64];
        snprintf(name, sizeof(name), "latency/host/%s", stat_names[s]);
        bench_add_row(name, "us", false, bench_median(iv[s], bench_cfg.reps),
                      bench_median(dp[s], bench_cfg.reps));
    }
    free(samples);
    for (int i = 0; i < 2; i++) {
        free(ivs_mem[i]);
        free(dp_mem[i]);
    }
}
