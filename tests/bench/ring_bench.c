/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring rows, after DPDK's test_ring_perf.c: a 4096-slot ring of 64-bit
 * entries; on one core, enqueue n then dequeue n in a loop; on two cores, a
 * pinned producer enqueues and a pinned consumer dequeues (retrying with a
 * pause when full / empty). Figure: TSC cycles per element; for two cores the
 * producer's and the consumer's cycles per element added, as DPDK prints.
 * Burst sizes are read from a volatile, as in DPDK, so neither side gets a
 * compile-time constant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "bench.h"
#include "common/internal.h"
#include "ivshm/ring.h"

#define RING_SLOTS 4096u
#define MAX_BURST  128u

/* ---- one adapter per operation: returns elements moved ---- */

#define IVS_OPS(kind, enq_expr, deq_expr)                                                          \
    static inline                                                                                  \
        __attribute__((always_inline)) unsigned ivs_enq_##kind(void *r, uint64_t *o, unsigned n)   \
    {                                                                                              \
        (void)n;                                                                                   \
        return enq_expr;                                                                           \
    }                                                                                              \
    static inline                                                                                  \
        __attribute__((always_inline)) unsigned ivs_deq_##kind(void *r, uint64_t *o, unsigned n)   \
    {                                                                                              \
        (void)n;                                                                                   \
        return deq_expr;                                                                           \
    }

IVS_OPS(single, ivshm_ring_enqueue(r, o[0]) == IVSHM_OK, ivshm_ring_dequeue(r, o) == IVSHM_OK)
IVS_OPS(bulk, ivshm_ring_enqueue_bulk(r, o, n, NULL), ivshm_ring_dequeue_bulk(r, o, n, NULL))
IVS_OPS(burst, ivshm_ring_enqueue_burst(r, o, n, NULL), ivshm_ring_dequeue_burst(r, o, n, NULL))

#define DP_OPS(kind, enq_expr, deq_expr)                                                           \
    static inline                                                                                  \
        __attribute__((always_inline)) unsigned dp_enq_##kind(void *r, uint64_t *o, unsigned n)    \
    {                                                                                              \
        (void)n;                                                                                   \
        return enq_expr;                                                                           \
    }                                                                                              \
    static inline                                                                                  \
        __attribute__((always_inline)) unsigned dp_deq_##kind(void *r, uint64_t *o, unsigned n)    \
    {                                                                                              \
        (void)n;                                                                                   \
        return deq_expr;                                                                           \
    }

DP_OPS(sp_single, rte_ring_sp_enqueue(r, (void *)o[0]) == 0,
       rte_ring_sc_dequeue(r, (void **)o) == 0)
DP_OPS(mp_single, rte_ring_mp_enqueue(r, (void *)o[0]) == 0,
       rte_ring_mc_dequeue(r, (void **)o) == 0)
DP_OPS(sp_bulk, rte_ring_sp_enqueue_bulk(r, (void **)o, n, NULL),
       rte_ring_sc_dequeue_bulk(r, (void **)o, n, NULL))
DP_OPS(mp_bulk, rte_ring_mp_enqueue_bulk(r, (void **)o, n, NULL),
       rte_ring_mc_dequeue_bulk(r, (void **)o, n, NULL))
DP_OPS(sp_burst, rte_ring_sp_enqueue_burst(r, (void **)o, n, NULL),
       rte_ring_sc_dequeue_burst(r, (void **)o, n, NULL))
DP_OPS(mp_burst, rte_ring_mp_enqueue_burst(r, (void **)o, n, NULL),
       rte_ring_mc_dequeue_burst(r, (void **)o, n, NULL))

/* ---- the loops, identical for both implementations ---- */

struct ring_loops {
    uint64_t (*one_core)(void *r, unsigned n, uint64_t iters);
    uint64_t (*producer)(void *r, unsigned n, uint64_t elems);
    uint64_t (*consumer)(void *r, unsigned n, uint64_t elems);
};

#define RING_LOOPS(tag, ENQ, DEQ)                                                                  \
    static uint64_t tag##_one_core(void *r, unsigned n, uint64_t iters)                            \
    {                                                                                              \
        uint64_t objs[MAX_BURST] = {0};                                                            \
        uint64_t t0 = bench_rdtsc();                                                               \
        for (uint64_t i = 0; i < iters; i++) {                                                     \
            ENQ(r, objs, n);                                                                       \
            DEQ(r, objs, n);                                                                       \
        }                                                                                          \
        return bench_rdtsc() - t0;                                                                 \
    }                                                                                              \
    static uint64_t tag##_producer(void *r, unsigned n, uint64_t elems)                            \
    {                                                                                              \
        uint64_t objs[MAX_BURST] = {0};                                                            \
        uint64_t done = 0;                                                                         \
        uint64_t t0 = bench_rdtsc();                                                               \
        while (done < elems) {                                                                     \
            unsigned k = ENQ(r, objs, n);                                                          \
            if (k == 0)                                                                            \
                bench_pause();                                                                     \
            done += k;                                                                             \
        }                                                                                          \
        return bench_rdtsc() - t0;                                                                 \
    }                                                                                              \
    static uint64_t tag##_consumer(void *r, unsigned n, uint64_t elems)                            \
    {                                                                                              \
        uint64_t objs[MAX_BURST];                                                                  \
        uint64_t done = 0;                                                                         \
        uint64_t t0 = bench_rdtsc();                                                               \
        while (done < elems) {                                                                     \
            unsigned k = DEQ(r, objs, n);                                                          \
            if (k == 0)                                                                            \
                bench_pause();                                                                     \
            done += k;                                                                             \
        }                                                                                          \
        return bench_rdtsc() - t0;                                                                 \
    }                                                                                              \
    static const struct ring_loops tag = {tag##_one_core, tag##_producer, tag##_consumer};

RING_LOOPS(ivs_single, ivs_enq_single, ivs_deq_single)
RING_LOOPS(ivs_bulk, ivs_enq_bulk, ivs_deq_bulk)
RING_LOOPS(ivs_burst, ivs_enq_burst, ivs_deq_burst)
RING_LOOPS(dp_sp_single, dp_enq_sp_single, dp_deq_sp_single)
RING_LOOPS(dp_mp_single, dp_enq_mp_single, dp_deq_mp_single)
RING_LOOPS(dp_sp_bulk, dp_enq_sp_bulk, dp_deq_sp_bulk)
RING_LOOPS(dp_mp_bulk, dp_enq_mp_bulk, dp_deq_mp_bulk)
RING_LOOPS(dp_sp_burst, dp_enq_sp_burst, dp_deq_sp_burst)
RING_LOOPS(dp_mp_burst, dp_enq_mp_burst, dp_deq_mp_burst)

/* ---- rows ---- */

struct ring_case {
    bool mpmc;
    bool two_cores;
    volatile unsigned n; /* volatile: no compile-time constant, as in DPDK */
    const struct ring_loops *ivs, *dp;
};

/* Fresh, page-aligned memory for each implementation's ring. */
static void *ivs_mem, *dp_mem;
static struct ivshm_ring ivs_prod, ivs_cons; /* two parties' handles */
static struct rte_ring *dp_ring;

static void rings_reset(bool mpmc)
{
    uint32_t mode = mpmc ? IVSHM_RING_MPMC : IVSHM_RING_SPSC;
    if (ivshm_ring_init_raw(&ivs_prod, ivs_mem, RING_SLOTS, mode, true) != IVSHM_OK ||
        ivshm_ring_init_raw(&ivs_cons, ivs_mem, RING_SLOTS, mode, false) != IVSHM_OK)
        bench_die("ivshm_ring_init_raw failed");
    dp_ring = dp_mem;
    /* Flags 0: MP/MC by default; the loops call the sp/sc or mp/mc
     * functions explicitly anyway, as test_ring_perf does. */
    if (rte_ring_init(dp_ring, "bench", RING_SLOTS, 0) != 0)
        bench_die("rte_ring_init failed");
}

struct side_arg {
    uint64_t (*fn)(void *r, unsigned n, uint64_t elems);
    void *ring;
    unsigned n;
    uint64_t elems;
    uint64_t cycles;
};

static void run_side(void *p)
{
    struct side_arg *s = p;
    s->cycles = s->fn(s->ring, s->n, s->elems);
}

static double measure_ring(void *arg, enum bench_impl impl)
{
    struct ring_case *c = arg;
    const struct ring_loops *loops = impl == IMPL_IVSHM ? c->ivs : c->dp;
    unsigned n = c->n;
    /* Two-core runs are 4x shorter: at tens of cycles per element a long
     * one is seldom left alone by the scheduler for its whole length. */
    uint64_t iters = (c->two_cores ? bench_cfg.ring_elems / 4 : bench_cfg.ring_elems) / n;
    rings_reset(c->mpmc);
    void *prod = impl == IMPL_IVSHM ? (void *)&ivs_prod : (void *)dp_ring;
    void *cons = impl == IMPL_IVSHM ? (void *)&ivs_cons : (void *)dp_ring;

    if (!c->two_cores)
        return (double)loops->one_core(prod, n, iters) / (double)(iters * n);

    struct side_arg p = {loops->producer, prod, n, iters * n, 0};
    struct side_arg q = {loops->consumer, cons, n, iters * n, 0};
    bench_run_pair(run_side, &p, run_side, &q);
    return (double)p.cycles / (double)(iters * n) + (double)q.cycles / (double)(iters * n);
}

void bench_rings(void)
{
    ivs_mem = aligned_alloc(4096, ivshm_ring_bytes(RING_SLOTS));
    ssize_t dp_bytes = rte_ring_get_memsize(RING_SLOTS);
    if (dp_bytes < 0)
        bench_die("rte_ring_get_memsize(%u) failed", RING_SLOTS);
    dp_mem = aligned_alloc(4096, ((size_t)dp_bytes + 4095) & ~(size_t)4095);
    if (!ivs_mem || !dp_mem)
        bench_die("out of memory for the rings");
    memset(ivs_mem, 0, ivshm_ring_bytes(RING_SLOTS));
    memset(dp_mem, 0, (size_t)dp_bytes);

    static const struct {
        const char *name;
        unsigned n;
        const struct ring_loops *ivs, *dp_sp, *dp_mp;
    } ops[] = {
        {"single", 1, &ivs_single, &dp_sp_single, &dp_mp_single},
        {"bulk8", 8, &ivs_bulk, &dp_sp_bulk, &dp_mp_bulk},
        {"burst8", 8, &ivs_burst, &dp_sp_burst, &dp_mp_burst},
        {"bulk32", 32, &ivs_bulk, &dp_sp_bulk, &dp_mp_bulk},
        {"burst32", 32, &ivs_burst, &dp_sp_burst, &dp_mp_burst},
        {"bulk128", 128, &ivs_bulk, &dp_sp_bulk, &dp_mp_bulk},
        {"burst128", 128, &ivs_burst, &dp_sp_burst, &dp_mp_burst},
    };
    for (int mpmc = 0; mpmc < 2; mpmc++)
        for (int two = 0; two < 2; two++)
            for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
                char name[64];
                snprintf(name, sizeof(name), "ring/%s/%s/%s", mpmc ? "mpmc" : "spsc", ops[i].name,
                         two ? "2core" : "1core");
                struct ring_case c = {mpmc, two, ops[i].n, ops[i].ivs,
                                      mpmc ? ops[i].dp_mp : ops[i].dp_sp};
                bench_row(name, "cycles/elem", false, measure_ring, &c);
            }
    free(ivs_mem);
    free(dp_mem);
}
