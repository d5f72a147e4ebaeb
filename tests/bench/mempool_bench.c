/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mempool rows, after DPDK's test_mempool_perf.c: each thread gets KEEP
 * objects in bulks of n, then puts them back in bulks of n, over and over.
 * On two cores both threads do so at once on the same pool (as DPDK's test
 * does). Pools of 4095 objects of 2048 bytes; "cache" rows use a private
 * cache of CACHE_SIZE per thread (ivshm: struct ivshm_mempool_cache; DPDK: a
 * user-owned cache from rte_mempool_cache_create, which is what non-EAL
 * threads get), "nocache" rows go to the shared free ring every time.
 * Figure: TSC cycles per object (one get plus one put), per thread, averaged
 * over the threads.
 *
 * Also here: building an ivshm segment in anonymous shared memory, used by
 * the pipeline rows too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include "bench.h"
#include "bench_segment.h"
#include "ivshm/mempool.h"

#define POOL_COUNT 4095u
#define OBJ_SIZE   2048u
#define CACHE_SIZE 256u
#define KEEP       128u

int bench_dpdk_init(void)
{
    char cores[32];
    snprintf(cores, sizeof(cores), "%d,%d", bench_cfg.cpu[0], bench_cfg.cpu[1]);
    char *argv[] = {
        "ivshm-bench",
        "--no-huge",
        "--no-shconf",
        "--no-pci",
        "--no-telemetry",
        "-l",
        cores,
        "-m",
        "256",
        "--log-level=lib.*:error",
        "--log-level=error",
        NULL,
    };
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    return rte_eal_init(argc, argv) < 0 ? -1 : 0;
}

void *bench_segment_build(uint64_t size, const struct bench_object *objs, unsigned count,
                          struct ivshm_segment_view *view)
{
    void *base =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (base == MAP_FAILED)
        bench_die("cannot map a %llu-byte segment", (unsigned long long)size);
    struct ivshm_builder b;
    struct ivshm_error err;
    if (ivshm_builder_init(&b, base, size, (uint64_t)sysconf(_SC_PAGESIZE), -1, "bench", 16, 16,
                           &err) != IVSHM_OK)
        bench_die("%s", err.msg);
    for (unsigned i = 0; i < count; i++) {
        const struct bench_object *o = &objs[i];
        int rc = IVSHM_E_INVAL;
        switch (o->type) {
        case IVSHM_OBJ_RING:
            rc = ivshm_builder_add_ring(&b, o->name, o->a, o->b, &err);
            break;
        case IVSHM_OBJ_MEMPOOL:
            rc = ivshm_builder_add_mempool(&b, o->name, o->a, o->b, &err);
            break;
        case IVSHM_OBJ_MEMZONE:
            rc = ivshm_builder_add_memzone(&b, o->name, o->bytes, o->a, &err);
            break;
        }
        if (rc != IVSHM_OK)
            bench_die("%s", err.msg);
    }
    ivshm_builder_finalize(&b);
    if (ivshm_segment_validate(base, size, view, &err) != IVSHM_OK)
        bench_die("%s", err.msg);
    return base;
}

void bench_segment_find(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                        struct ivshm_dir_entry *out)
{
    struct ivshm_error err;
    if (ivshm_object_lookup(view, name, type, out, &err) != IVSHM_OK)
        bench_die("%s", err.msg);
}

int bench_party(const struct ivshm_segment_view *view, const char *label)
{
    int p = ivshm_party_claim(view, IVSHM_PARTY_HOST, (uint64_t)getpid(), 0, label);
    if (p < 0)
        bench_die("ivshm_party_claim(%s) failed: %d", label, p);
    return p;
}

/* ---- the loop, identical for both implementations ---- */

#define IVS_GET(mp, cache, objs, n) ivshm_mempool_get_bulk(mp, cache, objs, n)
#define IVS_PUT(mp, cache, objs, n) ivshm_mempool_put_bulk(mp, cache, objs, n, NULL)
#define DP_GET(mp, cache, objs, n)  rte_mempool_generic_get(mp, (void **)(objs), n, cache)
#define DP_PUT(mp, cache, objs, n)  (rte_mempool_generic_put(mp, (void **)(objs), n, cache), 0)

#define MEMPOOL_LOOP(tag, MP_T, CACHE_T, GET, PUT)                                                 \
    static int64_t tag(MP_T *mp, CACHE_T *cache, unsigned n, uint64_t objs)                        \
    {                                                                                              \
        _Alignas(64) uint64_t table[KEEP];                                                         \
        uint64_t rounds = objs / KEEP;                                                             \
        uint64_t t0 = bench_rdtsc();                                                               \
        for (uint64_t r = 0; r < rounds; r++) {                                                    \
            for (unsigned i = 0; i < KEEP; i += n)                                                 \
                if (__builtin_expect(GET(mp, cache, &table[i], n) != 0, 0))                        \
                    return -1;                                                                     \
            for (unsigned i = 0; i < KEEP; i += n)                                                 \
                if (__builtin_expect(PUT(mp, cache, &table[i], n) != 0, 0))                        \
                    return -1;                                                                     \
        }                                                                                          \
        return (int64_t)(bench_rdtsc() - t0);                                                      \
    }

MEMPOOL_LOOP(ivs_loop, struct ivshm_mempool, struct ivshm_mempool_cache, IVS_GET, IVS_PUT)
MEMPOOL_LOOP(dp_loop, struct rte_mempool, struct rte_mempool_cache, DP_GET, DP_PUT)

/* ---- state ---- */

static struct ivshm_segment_view ivs_view;
static struct ivshm_dir_entry ivs_entry;
static int ivs_party[2];
static struct ivshm_mempool ivs_mp[2];
static struct ivshm_mempool_cache ivs_cache[2];
static struct rte_mempool *dp_mp;
static struct rte_mempool_cache *dp_cache[2];

struct mempool_case {
    bool cache;
    bool two_cores;
    volatile unsigned n;
};

struct thread_arg {
    enum bench_impl impl;
    int t; /* thread 0 or 1 */
    bool cache;
    unsigned n;
    int64_t cycles;
};

static void run_thread(void *p)
{
    struct thread_arg *a = p;
    if (a->impl == IMPL_IVSHM) {
        struct ivshm_mempool_cache *c = a->cache ? &ivs_cache[a->t] : NULL;
        a->cycles = ivs_loop(&ivs_mp[a->t], c, a->n, bench_cfg.mempool_objs);
        if (c)
            ivshm_mempool_cache_flush(&ivs_mp[a->t], c);
    } else {
        struct rte_mempool_cache *c = a->cache ? dp_cache[a->t] : NULL;
        a->cycles = dp_loop(dp_mp, c, a->n, bench_cfg.mempool_objs);
        if (c)
            rte_mempool_cache_flush(c, dp_mp);
    }
}

static double measure_mempool(void *arg, enum bench_impl impl)
{
    struct mempool_case *c = arg;
    struct thread_arg t[2] = {{impl, 0, c->cache, c->n, 0}, {impl, 1, c->cache, c->n, 0}};
    if (c->two_cores)
        bench_run_pair(run_thread, &t[0], run_thread, &t[1]);
    else
        run_thread(&t[0]);

    /* Every object must be back in the pool, or the loop is wrong. */
    unsigned back =
        impl == IMPL_IVSHM ? ivshm_mempool_free_count(&ivs_mp[0]) : rte_mempool_avail_count(dp_mp);
    if (back != POOL_COUNT && impl == IMPL_IVSHM) {
        struct ivshm_error err;
        int rc = ivshm_ring_check(&ivs_mp[0].ring, &err);
        fprintf(stderr, "dropped %llu %llu, ring check %d %s, cycles %lld %lld\n",
                (unsigned long long)ivs_mp[0].dropped, (unsigned long long)ivs_mp[1].dropped, rc,
                rc ? err.msg : "", (long long)t[0].cycles, (long long)t[1].cycles);
    }
    if (back != POOL_COUNT)
        bench_die("%s mempool holds %u free objects after a run, not %u",
                  impl == IMPL_IVSHM ? "ivshm" : "DPDK", back, POOL_COUNT);
    int threads = c->two_cores ? 2 : 1;
    double sum = 0;
    for (int i = 0; i < threads; i++) {
        if (t[i].cycles < 0)
            return -1;
        uint64_t objs = bench_cfg.mempool_objs / KEEP * KEEP;
        sum += (double)t[i].cycles / (double)objs;
    }
    return sum / threads;
}

void bench_mempools(void)
{
    static const struct bench_object objs[] = {
        {"pool", IVSHM_OBJ_MEMPOOL, POOL_COUNT, OBJ_SIZE, 0},
    };
    bench_segment_build(32u << 20, objs, 1, &ivs_view);
    bench_segment_find(&ivs_view, "pool", IVSHM_OBJ_MEMPOOL, &ivs_entry);
    struct ivshm_error err;
    for (int i = 0; i < 2; i++) {
        ivs_party[i] = bench_party(&ivs_view, i ? "bench1" : "bench0");
        if (ivshm_mempool_attach(&ivs_mp[i], &ivs_view, &ivs_entry, ivs_party[i], &err) != IVSHM_OK)
            bench_die("%s", err.msg);
        ivshm_mempool_cache_init(&ivs_cache[i], CACHE_SIZE);
    }
    /* Cache size 0 in the pool itself: the "cache" rows pass user-owned
     * caches explicitly, as threads outside the EAL must. */
    dp_mp = rte_mempool_create("bench_pool", POOL_COUNT, OBJ_SIZE, 0, 0, NULL, NULL, NULL, NULL,
                               SOCKET_ID_ANY, 0);
    if (dp_mp == NULL)
        bench_die("rte_mempool_create: %s", rte_strerror(rte_errno));
    for (int i = 0; i < 2; i++)
        if ((dp_cache[i] = rte_mempool_cache_create(CACHE_SIZE, SOCKET_ID_ANY)) == NULL)
            bench_die("rte_mempool_cache_create: %s", rte_strerror(rte_errno));

    static const unsigned bulks[] = {1, 8, 32};
    for (int cache = 1; cache >= 0; cache--)
        for (int two = 0; two < 2; two++)
            for (size_t i = 0; i < sizeof(bulks) / sizeof(bulks[0]); i++) {
                char name[64];
                snprintf(name, sizeof(name), "mempool/%s/bulk%u/%s", cache ? "cache" : "nocache",
                         bulks[i], two ? "2core" : "1core");
                struct mempool_case c = {cache, two, bulks[i]};
                bench_row(name, "cycles/obj", false, measure_mempool, &c);
            }
}
