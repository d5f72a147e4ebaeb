/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pipeline/fwd64: the host-only forwarding pipeline, in Mpps of 64-byte
 * packets.
 *
 *   generator (cpu 0): pool get 32 -> write 64 B -> enqueue rx0
 *   forwarder (cpu 1): dequeue burst 32 from rx0 -> rewrite the Ethernet
 *                      header (dst 02:00:00:00:00:01, src = port MAC) ->
 *                      enqueue tx0 (retrying, never dropping)
 *   generator (cpu 0): dequeue burst 32 from tx0 -> verify -> pool put
 *
 * Built once on ivshm rings and mempool, once on DPDK rte_rings (initialised
 * with rte_ring_init inside a memzone of the same ivshm segment) and an
 * rte_mempool (EAL memory: rte_mempool_create cannot place a pool in foreign
 * memory without more machinery). The loops are one inline function each,
 * taking the ring and pool operations as a constant table, so both builds
 * are the same code with different operations.
 *
 * The bench copy of the forwarder is ours; the guest forwarder is separate.
 */
#include <stdio.h>
#include <string.h>

#include <rte_mempool.h>
#include <rte_errno.h>
#include <rte_ring.h>

#include "bench.h"
#include "bench_segment.h"
#include "ivshm/mempool.h"

#define PIPE_BURST    32u
#define PIPE_RING     1024u
#define PIPE_POOL     4095u
#define PIPE_OBJ_SIZE 2048u
#define PIPE_CACHE    256u
#define PKT_LEN       64u
#define SEGMENT_BYTES (32u << 20)

static const uint8_t port_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x00};
static const uint8_t gen_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x02, 0x00};
static const uint8_t out_dst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

/* Operations one build of the pipeline uses. */
struct pipe_ops {
    unsigned (*enq)(void *ring, uint64_t *objs, unsigned n);
    unsigned (*deq)(void *ring, uint64_t *objs, unsigned n);
    int (*get)(void *pool, void *cache, uint64_t *objs, unsigned n);
    int (*put)(void *pool, void *cache, uint64_t *objs, unsigned n);
    uint8_t *(*ptr)(uint8_t *base, uint64_t obj);
};

/* One party's view of the pipeline. */
struct pipe_side {
    void *rx, *tx; /* ring handles: generator: rx producer, tx consumer; forwarder: the reverse */
    void *pool, *cache;
    uint8_t *base;
};

/* ---- ivshm operations ---- */

static inline unsigned ivs_enq(void *r, uint64_t *o, unsigned n)
{
    return ivshm_ring_enqueue_burst(r, o, n, NULL);
}
static inline unsigned ivs_deq(void *r, uint64_t *o, unsigned n)
{
    return ivshm_ring_dequeue_burst(r, o, n, NULL);
}
static inline int ivs_get(void *mp, void *cache, uint64_t *o, unsigned n)
{
    return ivshm_mempool_get_bulk(mp, cache, o, n);
}
static inline int ivs_put(void *mp, void *cache, uint64_t *o, unsigned n)
{
    return ivshm_mempool_put_bulk(mp, cache, o, n, NULL);
}
static inline uint8_t *ivs_ptr(uint8_t *base, uint64_t handle)
{
    /* Handles from our own rings in a benchmark; a real forwarder checks
     * them with ivshm_mempool_index() first. */
    return base + handle;
}
static const struct pipe_ops ivs_ops = {ivs_enq, ivs_deq, ivs_get, ivs_put, ivs_ptr};

/* ---- DPDK operations ---- */

static inline unsigned dp_enq(void *r, uint64_t *o, unsigned n)
{
    return rte_ring_sp_enqueue_burst(r, (void **)o, n, NULL);
}
static inline unsigned dp_deq(void *r, uint64_t *o, unsigned n)
{
    return rte_ring_sc_dequeue_burst(r, (void **)o, n, NULL);
}
static inline int dp_get(void *mp, void *cache, uint64_t *o, unsigned n)
{
    return rte_mempool_generic_get(mp, (void **)o, n, cache);
}
static inline int dp_put(void *mp, void *cache, uint64_t *o, unsigned n)
{
    rte_mempool_generic_put(mp, (void **)o, n, cache);
    return 0;
}
static inline uint8_t *dp_ptr(uint8_t *base, uint64_t obj)
{
    (void)base;
    return (uint8_t *)(uintptr_t)obj;
}
static const struct pipe_ops dp_ops = {dp_enq, dp_deq, dp_get, dp_put, dp_ptr};

/* ---- the two loops ---- */

/* Forwarder: runs until *stop; returns packets forwarded. */
static inline __attribute__((always_inline)) uint64_t
forward_loop(const struct pipe_ops *ops, const struct pipe_side *s, _Atomic bool *stop)
{
    uint64_t objs[PIPE_BURST];
    uint64_t forwarded = 0;
    while (!atomic_load_explicit(stop, memory_order_relaxed)) {
        unsigned n = ops->deq(s->rx, objs, PIPE_BURST);
        if (n == 0) {
            bench_pause();
            continue;
        }
        for (unsigned i = 0; i < n; i++) {
            uint8_t *eth = ops->ptr(s->base, objs[i]);
            memcpy(eth, out_dst, 6);
            memcpy(eth + 6, port_mac, 6);
        }
        unsigned sent = 0;
        while (sent < n) {
            unsigned k = ops->enq(s->tx, objs + sent, n - sent);
            if (k == 0)
                bench_pause();
            sent += k;
        }
        forwarded += n;
    }
    return forwarded;
}

/* Generator and receiver: sends `total` packets and takes them all back.
 * Returns cycles taken, or -1 when a packet comes back wrong. */
static inline __attribute__((always_inline)) int64_t
generate_loop(const struct pipe_ops *ops, const struct pipe_side *s, uint64_t total)
{
    uint64_t pend[PIPE_BURST], back[PIPE_BURST];
    unsigned pend_off = 0, pend_n = 0;
    uint64_t sent = 0, received = 0, bad = 0;
    uint8_t tmpl[PKT_LEN] = {0};
    memset(tmpl, 0xff, 6);
    memcpy(tmpl + 6, gen_mac, 6);
    tmpl[12] = 0x08; /* IPv4 */

    uint64_t t0 = bench_rdtsc();
    while (received < total) {
        if (pend_n == 0 && sent < total) {
            unsigned n = total - sent < PIPE_BURST ? (unsigned)(total - sent) : PIPE_BURST;
            if (ops->get(s->pool, s->cache, pend, n) == 0) {
                for (unsigned i = 0; i < n; i++) {
                    uint8_t *pkt = ops->ptr(s->base, pend[i]);
                    uint64_t seq = sent + i;
                    memcpy(pkt, tmpl, PKT_LEN);
                    memcpy(pkt + 14, &seq, sizeof(seq));
                }
                pend_off = 0;
                pend_n = n;
            }
        }
        if (pend_n) {
            unsigned k = ops->enq(s->rx, pend + pend_off, pend_n);
            pend_off += k;
            pend_n -= k;
            sent += k;
        }
        unsigned k = ops->deq(s->tx, back, PIPE_BURST);
        for (unsigned i = 0; i < k; i++) {
            const uint8_t *pkt = ops->ptr(s->base, back[i]);
            uint64_t seq;
            memcpy(&seq, pkt + 14, sizeof(seq));
            bad +=
                memcmp(pkt, out_dst, 6) != 0 || memcmp(pkt + 6, port_mac, 6) != 0 || seq >= total;
        }
        if (k && ops->put(s->pool, s->cache, back, k) != 0)
            return -1;
        received += k;
    }
    int64_t cycles = (int64_t)(bench_rdtsc() - t0);
    return bad ? -1 : cycles;
}

/* ---- state and runs ---- */

static struct ivshm_segment_view view;
static struct ivshm_ring ivs_gen_rx, ivs_gen_tx, ivs_fwd_rx, ivs_fwd_tx;
static struct ivshm_mempool ivs_pool;
static struct ivshm_mempool_cache ivs_cache;
static struct rte_ring *dp_rx, *dp_tx;
static struct rte_mempool *dp_pool;
static struct rte_mempool_cache *dp_cache;

struct run {
    enum bench_impl impl;
    struct pipe_side gen, fwd;
    _Atomic bool stop;
    int64_t cycles;
    uint64_t forwarded;
};

static void run_generator(void *p)
{
    struct run *r = p;
    if (r->impl == IMPL_IVSHM)
        r->cycles = generate_loop(&ivs_ops, &r->gen, bench_cfg.pipeline_pkts);
    else
        r->cycles = generate_loop(&dp_ops, &r->gen, bench_cfg.pipeline_pkts);
    atomic_store_explicit(&r->stop, true, memory_order_relaxed);
}

static void run_forwarder(void *p)
{
    struct run *r = p;
    if (r->impl == IMPL_IVSHM)
        r->forwarded = forward_loop(&ivs_ops, &r->fwd, &r->stop);
    else
        r->forwarded = forward_loop(&dp_ops, &r->fwd, &r->stop);
}

static double measure_pipeline(void *arg, enum bench_impl impl)
{
    (void)arg;
    struct run r = {.impl = impl};
    if (impl == IMPL_IVSHM) {
        r.gen = (struct pipe_side){&ivs_gen_rx, &ivs_gen_tx, &ivs_pool, &ivs_cache, view.base};
        r.fwd = (struct pipe_side){&ivs_fwd_rx, &ivs_fwd_tx, NULL, NULL, view.base};
    } else {
        r.gen = (struct pipe_side){dp_rx, dp_tx, dp_pool, dp_cache, NULL};
        r.fwd = (struct pipe_side){dp_rx, dp_tx, NULL, NULL, NULL};
    }
    bench_run_pair(run_generator, &r, run_forwarder, &r);
    if (r.cycles < 0)
        bench_die("pipeline (%s): a packet came back wrong", impl == IMPL_IVSHM ? "ivshm" : "DPDK");
    if (r.forwarded != bench_cfg.pipeline_pkts)
        bench_die("pipeline (%s): forwarded %llu packets, sent %llu",
                  impl == IMPL_IVSHM ? "ivshm" : "DPDK", (unsigned long long)r.forwarded,
                  (unsigned long long)bench_cfg.pipeline_pkts);
    if (impl == IMPL_IVSHM)
        ivshm_mempool_cache_flush(&ivs_pool, &ivs_cache);
    else
        rte_mempool_cache_flush(dp_cache, dp_pool);
    double seconds = (double)r.cycles / bench_cfg.tsc_hz;
    return (double)bench_cfg.pipeline_pkts / seconds / 1e6;
}

static void attach_ring(const char *name, struct ivshm_ring *r)
{
    struct ivshm_dir_entry e;
    struct ivshm_error err;
    bench_segment_find(&view, name, IVSHM_OBJ_RING, &e);
    if (ivshm_ring_attach(r, &view, &e, &err) != IVSHM_OK)
        bench_die("%s", err.msg);
}

void bench_pipeline(void)
{
    if (!bench_selected("pipeline/fwd64"))
        return;
    size_t dp_ring_bytes = ((size_t)rte_ring_get_memsize(PIPE_RING) + 63) & ~(size_t)63;
    const struct bench_object objs[] = {
        {"pkts", IVSHM_OBJ_MEMPOOL, PIPE_POOL, PIPE_OBJ_SIZE, 0},
        {"rx0", IVSHM_OBJ_RING, PIPE_RING, IVSHM_RING_SPSC, 0},
        {"tx0", IVSHM_OBJ_RING, PIPE_RING, IVSHM_RING_SPSC, 0},
        {"dpdk_rings", IVSHM_OBJ_MEMZONE, 64, 0, 2 * dp_ring_bytes},
    };
    bench_segment_build(SEGMENT_BYTES, objs, sizeof(objs) / sizeof(objs[0]), &view);

    attach_ring("rx0", &ivs_gen_rx);
    attach_ring("tx0", &ivs_gen_tx);
    attach_ring("rx0", &ivs_fwd_rx);
    attach_ring("tx0", &ivs_fwd_tx);
    struct ivshm_dir_entry e;
    struct ivshm_error err;
    bench_segment_find(&view, "pkts", IVSHM_OBJ_MEMPOOL, &e);
    if (ivshm_mempool_attach(&ivs_pool, &view, &e, bench_party(&view, "pktgen"), &err) != IVSHM_OK)
        bench_die("%s", err.msg);
    ivshm_mempool_cache_init(&ivs_cache, PIPE_CACHE);

    bench_segment_find(&view, "dpdk_rings", IVSHM_OBJ_MEMZONE, &e);
    dp_rx = (struct rte_ring *)(view.base + e.offset);
    dp_tx = (struct rte_ring *)(view.base + e.offset + dp_ring_bytes);
    if (rte_ring_init(dp_rx, "pipe_rx", PIPE_RING, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0 ||
        rte_ring_init(dp_tx, "pipe_tx", PIPE_RING, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0)
        bench_die("rte_ring_init failed in the segment's memzone");
    dp_pool = rte_mempool_create("pipe_pool", PIPE_POOL, PIPE_OBJ_SIZE, 0, 0, NULL, NULL, NULL,
                                 NULL, SOCKET_ID_ANY, 0);
    if (dp_pool == NULL)
        bench_die("rte_mempool_create: %s", rte_strerror(rte_errno));
    if ((dp_cache = rte_mempool_cache_create(PIPE_CACHE, SOCKET_ID_ANY)) == NULL)
        bench_die("rte_mempool_cache_create: %s", rte_strerror(rte_errno));

    bench_row("pipeline/fwd64", "Mpps", true, measure_pipeline, NULL);
}
