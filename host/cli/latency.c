/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm pktgen --latency: the round trip of each frame through the
 * forwarder, one in flight (a ping-pong) or at a fixed rate (--rate PPS).
 * Timestamps are TSC readings taken just before a frame goes into the send
 * ring and just after it comes out of the receive ring: what is measured is
 * the two rings, the forwarder's polling and its work on the frame, and the
 * cache-line transfers between the cores; filling and checking the frame
 * are outside. Every frame is checked as in throughput mode.
 */
#include <stdlib.h>
#include <string.h>

#include "host/cli/traffic.h"

static void record(struct pg_latency *lat, uint64_t cycles)
{
    if (lat->trips == lat->cap) {
        size_t cap = lat->cap ? 2 * lat->cap : 1u << 17;
        uint32_t *grown = realloc(lat->cycles, cap * sizeof(*grown));
        if (!grown)
            return; /* the figure is lost, not the run */
        lat->cycles = grown;
        lat->cap = cap;
    }
    lat->cycles[lat->trips++] = cycles > UINT32_MAX ? UINT32_MAX : (uint32_t)cycles;
}

/* Takes what came back on every queue: checks, times and frees it. Returns
 * how many frames came off the rings. */
static uint32_t receive(struct pg_state *pg)
{
    uint32_t total = 0;
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        uint64_t h[IVSHM_BURST_MAX];
        uint32_t n = ivshm_ring_dequeue_burst(&pg->queues[qi].recv, h, pg->opt.burst, NULL);
        if (n == 0)
            continue;
        const uint64_t now = pg_tsc();
        uint32_t keep = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t seq;
            if (!pg_frame_check(pg, qi, h[i], &seq))
                continue;
            h[keep++] = h[i];
            /* Only frames we sent have a time (a forged number would not). */
            if (seq < pg->st.sent)
                record(&pg->lat, now - pg->lat.sent_at[seq % PG_LATENCY_WINDOW]);
        }
        pg->st.corrupted += ivshm_fwd_host_put(&pg->pool, &pg->cache, h, keep);
        total += n;
    }
    return total;
}

/* Sends frame `seq` on its queue. Returns whether it went out. */
static bool send_one(struct pg_state *pg, uint64_t seq)
{
    const uint32_t qi = (uint32_t)(seq % pg->nqueues);
    uint64_t h;
    if (ivshm_mempool_get(&pg->pool, &pg->cache, &h) != IVSHM_OK)
        return false;
    pg_frame_fill(pg, h, qi, seq);
    const uint64_t t = pg_tsc();
    if (ivshm_ring_enqueue(&pg->queues[qi].send, h) != IVSHM_OK) {
        ivshm_mempool_put(&pg->pool, &pg->cache, h);
        return false;
    }
    pg->lat.sent_at[seq % PG_LATENCY_WINDOW] = t;
    pg->st.sent++;
    pg_wake_forwarder(pg, &pg->queues[qi]); /* a forwarder asleep: part of the trip */
    return true;
}

void pg_latency_traffic(struct pg_state *pg, double *seconds)
{
    const struct pg_options *o = &pg->opt;
    const double hz = pg_tsc_hz();
    const uint64_t period = o->rate ? (uint64_t)(hz / (double)o->rate) : 0;
    const uint64_t window = o->rate ? PG_LATENCY_WINDOW : 1;
    const uint64_t timeout = (uint64_t)(o->timeout * hz);
    const uint64_t start = pg_tsc();
    const uint64_t end = start + (uint64_t)(o->duration * hz);
    uint64_t next = start, last_progress = start, first_send = 0, last_send = 0;
    for (;;) {
        const uint64_t now = pg_tsc();
        const struct pg_stats *s = &pg->st;
        const uint64_t back = s->received + s->corrupted + s->duplicated;
        const bool sending = !atomic_load_explicit(&pg_stop_requested, memory_order_relaxed) &&
                             (o->count ? s->sent < o->count : now < end);
        if (!sending && back >= s->sent)
            break;
        bool moved = false;
        /* A fixed rate: one frame every `period` cycles; when it has
         * fallen behind by more than a period, the schedule restarts from
         * now rather than send a burst to catch up. */
        if (sending && s->sent - back < window && now >= next && send_one(pg, s->sent)) {
            moved = true;
            last_send = now;
            if (!first_send)
                first_send = now;
            next = now - next > period ? now + period : next + period;
        }
        if (receive(pg))
            moved = true;
        if (moved) {
            last_progress = now;
        } else if (now - last_progress > timeout) {
            pg->stalled = true;
            break;
        }
        /* A ring wait that gave up (pg_wait_error says which), or a
         * signal while nothing is in flight any more. */
        if (IVSHM_UNLIKELY(ivshm_ring_error(&pg->pool.ring)))
            break;
    }
    *seconds = (double)(pg_tsc() - start) / hz;
    if (pg->st.sent > 1)
        pg->lat.rate = (double)(pg->st.sent - 1) / ((double)(last_send - first_send) / hz);
    ivshm_mempool_cache_flush(&pg->pool, &pg->cache);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void pg_latency_figures(struct pg_state *pg, double us[5])
{
    const size_t n = pg->lat.trips;
    uint32_t *c = pg->lat.cycles;
    memset(us, 0, 5 * sizeof(double));
    if (n == 0)
        return;
    qsort(c, n, sizeof(*c), cmp_u32);
    const double per = 1e6 / pg_tsc_hz();
    us[0] = c[0] * per;
    us[1] = c[n / 2] * per;
    us[2] = c[n * 99 / 100] * per;
    us[3] = c[n * 999 / 1000] * per;
    us[4] = c[n - 1] * per;
}
