/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What `ivshm pktgen` and `ivshm reclaim` share (traffic.h): the segments
 * they attach, the rings and pool they use, receiving and checking frames.
 * The ctrl protocol and taking back what dead host parties left behind are
 * the shared host module's (host/fwd_host.h), which ivshm-port uses too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/internal.h"
#include "host/internal.h"
#include "host/cli/cli.h"
#include "host/cli/doorbells.h"
#include "host/cli/traffic.h"
#include "ivshm/doorbell.h"

_Atomic bool pg_stop_requested;

void pg_defaults(void *opts)
{
    struct pg_options *o = opts;
    o->pool = IVSHM_FWD_POOL;
    o->size = IVSHM_PKT_MIN_FRAME;
    o->burst = IVSHM_FWD_BURST_DEFAULT;
    o->timeout = 30;
}

#define PG(field) CLI_FIELD(struct pg_options, field)

const struct cli_option *pg_shared_options(void)
{
    static const struct cli_option options[] = {
        {"--queues", "Q", "queue pairs, 1..16 (default: as many as the forwarder serves)", CLI_U32,
         PG(queues), 1, IVSHM_FWD_MAX_QUEUES, NULL, NULL},
        {"--tx-to", "SEG", "the segment whose rxN rings frames are sent on (default NAME)",
         CLI_NAME, PG(tx_to), 0, 0, NULL, NULL},
        {"--rx-from", "SEG", "the segment whose txN rings frames come back on (default NAME)",
         CLI_NAME, PG(rx_from), 0, 0, NULL, NULL},
        {"--timeout", "S", "give up after S s without progress (default 30)", CLI_SECONDS,
         PG(timeout), 0, 0, NULL, NULL},
        CLI_OPTION_DIR(struct pg_options),
        CLI_OPTION_END,
    };
    return options;
}

struct pg_state *pg_start(const void *opts, const char *name)
{
    static struct pg_state pg; /* large (ring handles, caches): not on the stack */
    memset(&pg, 0, sizeof(pg));
    pg.opt = *(const struct pg_options *)opts;
    pg.opt.name = name;
    ivshm_fwd_host_init(&pg.fwds, &pg_stop_requested);
    return &pg;
}

static void release_queues(struct pg_state *pg)
{
    for (int i = 0; i < pg->nsegs; i++) {
        struct pg_segment *s = &pg->segs[i];
        for (uint32_t q = 0; q < s->claimed; q++)
            ivshm_fwd_host_release_source(&s->seg.view, s->ctrl, q);
        s->claimed = 0;
    }
}

int pg_claim_queues(struct pg_state *pg, bool claim, struct ivshm_error *err)
{
    for (int i = 0; i < pg->nsegs; i++) {
        struct pg_segment *s = &pg->segs[i];
        bool ours = claim && s->seg.view.party >= 0;
        for (uint32_t q = 0; s->ctrl && q < pg->nqueues; q++) {
            int rc = ours ? ivshm_fwd_host_claim_source(&s->seg.view, s->ctrl, q, err)
                          : ivshm_fwd_host_check_source(&s->seg.view, s->ctrl, q, err);
            if (rc) {
                release_queues(pg);
                return rc;
            }
            s->claimed += ours;
        }
    }
    return IVSHM_OK;
}

void pg_close(struct pg_state *pg)
{
    release_queues(pg);
    pg_segments_detach(pg);
    free(pg->seen);
    pg->seen = NULL;
    free(pg->lat.cycles);
    pg->lat.cycles = NULL;
}

double pg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pg_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

double pg_tsc_hz(void)
{
    static double hz;
    if (hz == 0) {
        double t0 = pg_now();
        uint64_t c0 = pg_tsc();
        pg_sleep_ms(10);
        uint64_t c1 = pg_tsc();
        hz = (double)(c1 - c0) / (pg_now() - t0);
    }
    return hz;
}

/* ---- bounded waits ---- */

/* Every ring we use, with its name for messages: the pool's free ring first,
 * then each queue's send and receive ring. Returns how many. */
static unsigned rings_of(struct pg_state *pg, struct ivshm_ring **rings, char (*names)[80])
{
    unsigned n = 0;
    rings[n] = &pg->pool.ring;
    snprintf(names[n++], 80, "%s/%s's free ring", pg->opt.name, pg->opt.pool);
    for (uint32_t q = 0; q < pg->nqueues; q++) {
        rings[n] = &pg->queues[q].send;
        snprintf(names[n++], 80, "%s/%s", pg->tx_seg->name, ivshm_fwd_ring_name(IVSHM_FWD_RX, q));
        rings[n] = &pg->queues[q].recv;
        snprintf(names[n++], 80, "%s/%s", pg->rx_seg->name, ivshm_fwd_ring_name(IVSHM_FWD_TX, q));
    }
    return n;
}

#define PG_RINGS (1 + 2 * IVSHM_FWD_MAX_QUEUES)

/* Bounds every wait on a value a peer writes in the rings we use (the
 * pool's free ring, and the queue rings where they are MP or MC): --timeout
 * seconds, or until SIGINT or SIGTERM. */
static void bound_waits(struct pg_state *pg)
{
    struct ivshm_ring *rings[PG_RINGS];
    char names[PG_RINGS][80];
    unsigned n = rings_of(pg, rings, names);
    double cycles = pg->opt.timeout * pg_tsc_hz();
    for (unsigned i = 0; i < n; i++)
        ivshm_ring_set_wait(rings[i], cycles >= 1 ? (uint64_t)cycles : 1, &pg_stop_requested);
}

int pg_wait_error(const struct pg_state *pg, struct ivshm_error *err)
{
    struct ivshm_ring *rings[PG_RINGS];
    char names[PG_RINGS][80];
    unsigned n = rings_of((struct pg_state *)pg, rings, names);
    for (unsigned i = 0; i < n; i++) {
        if (ivshm_ring_error(rings[i]) == IVSHM_OK)
            continue;
        /* Which side is stuck: the one whose head is ahead of its tail. */
        struct ivshm_ring_stats st;
        ivshm_ring_stats(rings[i], &st);
        bool cons = st.cons_head != st.cons_tail || st.prod_head == st.prod_tail;
        uint32_t head = cons ? st.cons_head : st.prod_head;
        uint32_t tail = cons ? st.cons_tail : st.prod_tail;
        const char *what = i == 0 ? (cons ? "a get from" : "a put into")
                                  : (cons ? "a dequeue from" : "an enqueue into");
        if (atomic_load(&pg_stop_requested))
            return ivshm_fail(err, IVSHM_E_TIMEOUT,
                              "%s: interrupted while waiting for another process to finish %s it",
                              names[i], what);
        char secs[32];
        snprintf(secs, sizeof(secs), "%g", pg->opt.timeout);
        return ivshm_fail(err, IVSHM_E_TIMEOUT,
                          "%s: gave up after %s s waiting for another process to finish %s it "
                          "(%s.head %u, %s.tail %u: it died in mid-operation, or a peer wrote "
                          "there)",
                          names[i], secs, what, cons ? "cons" : "prod", head,
                          cons ? "cons" : "prod", tail);
    }
    return IVSHM_OK;
}

static struct pg_segment *segment_get(struct pg_state *pg, const char *name, unsigned flags,
                                      struct ivshm_error *err)
{
    for (int i = 0; i < pg->nsegs; i++)
        if (strcmp(pg->segs[i].name, name) == 0)
            return &pg->segs[i];
    struct pg_segment *s = &pg->segs[pg->nsegs];
    if (ivshm_segment_attach(pg->opt.dir, name, flags, "pktgen", &s->seg, err) != IVSHM_OK)
        return NULL;
    s->name = name;
    s->db = NULL;
    s->claimed = 0;
    pg->nsegs++; /* detached with the others, even when the next step fails */
    if (ivshm_fwd_host_add(&pg->fwds, &s->seg.view, &s->ctrl, err) != IVSHM_OK)
        return NULL;
    return s;
}

void pg_segments_detach(struct pg_state *pg)
{
    for (int i = 0; i < pg->nsegs; i++) {
        ivshm_doorbell_close(pg->segs[i].db);
        pg->segs[i].db = NULL;
        ivshm_segment_detach(&pg->segs[i].seg);
    }
    pg->nsegs = 0;
}

/* Marks seq as received (seq < seq_issued, so the bitmap stays within twice
 * what was sent); *duplicate when it was already. */
static void seen_mark(struct pg_state *pg, uint64_t seq, bool *duplicate)
{
    if (seq >= pg->seen_bits) {
        uint64_t bits = pg->seen_bits ? pg->seen_bits : 1u << 20;
        while (bits <= seq && bits <= UINT64_MAX / 2)
            bits *= 2;
        if (bits <= seq) {
            *duplicate = false; /* (cannot happen below seq_issued) */
            return;
        }
        uint64_t *grown = realloc(pg->seen, bits / 8);
        if (!grown) {
            *duplicate = false; /* cannot tell; memory is short */
            return;
        }
        memset((uint8_t *)grown + pg->seen_bits / 8, 0, (bits - pg->seen_bits) / 8);
        pg->seen = grown;
        pg->seen_bits = bits;
    }
    uint64_t bit = 1ull << (seq % 64);
    *duplicate = (pg->seen[seq / 64] & bit) != 0;
    pg->seen[seq / 64] |= bit;
}

/*
 * Asks for the first line of each frame that came back in exclusive state
 * (PREFETCHW), the whole burst before the first is checked. The forwarder
 * wrote that line last (its addresses); checking it reads it, and the next
 * fill (the LIFO cache hands the same buffers out again soon) writes it. A
 * plain read would leave the forwarder a copy, and the fill would then have
 * to take it away: two transfers between the cores a frame. This is one, and
 * the burst's transfers overlap. A hint: a handle that is not one of the
 * pool's objects is skipped (it is counted when checked). The instruction is
 * written out: GCC drops __builtin_prefetch(p, 1) unless built for a CPU
 * with PREFETCHW (any x86-64 decodes it; those without it take it for a
 * no-op).
 */
static void claim_lines(const struct pg_state *pg, const uint64_t *handles, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (ivshm_mempool_index(&pg->pool, handles[i]) != UINT32_MAX)
            __asm__ volatile("prefetchw %0"
                             :
                             : "m"(*((const uint8_t *)ivshm_mempool_ptr(&pg->pool, handles[i]) +
                                     IVSHM_PKT_HEADROOM)));
}

static const uint8_t pktgen_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x00};

void pg_frame_fill(struct pg_state *pg, uint64_t handle, uint32_t qi, uint64_t seq)
{
    uint8_t *obj = ivshm_mempool_ptr(&pg->pool, handle);
    struct ivshm_pkt *pkt = (struct ivshm_pkt *)obj;
    if (pkt->data_off != IVSHM_PKT_HEADROOM || pkt->data_len != pg->opt.size || pkt->port != qi) {
        pkt->data_off = IVSHM_PKT_HEADROOM;
        pkt->data_len = pg->opt.size;
        pkt->port = (uint16_t)qi;
    }
    ivshm_frame_fill(obj + IVSHM_PKT_HEADROOM, pg->opt.size, seq, pktgen_mac);
    if (seq >= pg->seq_issued)
        pg->seq_issued = seq + 1; /* a frame numbered higher was forged (F7) */
}

bool pg_frame_check(struct pg_state *pg, uint32_t qi, uint64_t handle, uint64_t *seq)
{
    struct pg_queue *q = &pg->queues[qi];
    *seq = UINT64_MAX;
    if (ivshm_mempool_index(&pg->pool, handle) == UINT32_MAX) {
        pg->st.invalid_handles++;
        pg->st.corrupted++;
        return false;
    }
    const uint8_t *obj = ivshm_mempool_ptr(&pg->pool, handle);
    const struct ivshm_pkt *pkt = (const struct ivshm_pkt *)obj;
    uint64_t got;
    if (pkt->data_off != IVSHM_PKT_HEADROOM || pkt->data_len != pg->opt.size ||
        !ivshm_frame_check(obj + IVSHM_PKT_HEADROOM, pg->opt.size, (uint8_t)qi, &got) ||
        got >= pg->seq_issued) {
        pg->st.corrupted++;
        return true;
    }
    bool dup;
    seen_mark(pg, got, &dup);
    if (dup) {
        pg->st.duplicated++;
        return true;
    }
    if (q->any_received && got < q->last_seq)
        pg->st.reordered++;
    q->last_seq = got;
    q->any_received = true;
    pg->st.received++;
    *seq = got;
    return true;
}

/* Dequeues and checks what came back on every queue, frees it. Returns frames
 * taken off the rings. */
uint32_t pg_receive_all(struct pg_state *pg)
{
    uint32_t total = 0;
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        uint64_t h[IVSHM_BURST_MAX], seq;
        uint32_t n = ivshm_ring_dequeue_burst(&pg->queues[qi].recv, h, pg->opt.burst, NULL);
        claim_lines(pg, h, n);
        uint32_t keep = 0;
        for (uint32_t i = 0; i < n; i++)
            if (pg_frame_check(pg, qi, h[i], &seq))
                h[keep++] = h[i];
        /* a buffer that came back twice is refused: corrupted */
        if (keep)
            pg->st.corrupted += ivshm_fwd_host_put(&pg->pool, &pg->cache, h, keep);
        total += n;
    }
    return total;
}

int pg_reclaim_dead(struct pg_state *pg, double timeout, struct ivshm_error *err)
{
    struct ivshm_fwd_host_queue queues[IVSHM_FWD_MAX_QUEUES];
    for (uint32_t q = 0; q < pg->nqueues; q++)
        queues[q] = (struct ivshm_fwd_host_queue){&pg->queues[q].send, &pg->queues[q].recv,
                                                  pg->tx_seg->ctrl};
    char what[2 * IVSHM_NAME_SIZE];
    snprintf(what, sizeof(what), "%s/%s", pg->opt.name, pg->opt.pool);
    uint32_t n = 0;
    int rc = ivshm_fwd_host_reclaim(&pg->fwds, &pg->pool, &pg->pool_seg->seg.view, what, queues,
                                    pg->nqueues, timeout, &n, err);
    pg->st.reclaimed += n;
    return rc;
}

int pg_open_all(struct pg_state *pg, struct ivshm_error *err)
{
    const struct pg_options *o = &pg->opt;
    pg->pool_seg = segment_get(pg, o->name, IVSHM_ATTACH_CLAIM, err);
    /* Every slot taken, by dead processes that still hold buffers: go on
     * without one; taking those buffers back frees their slots
     * (pg_reclaim_dead, then pg_claim_party). */
    if (!pg->pool_seg && err->code == IVSHM_E_PARTIES)
        pg->pool_seg = segment_get(pg, o->name, 0, err);
    if (!pg->pool_seg)
        return err->code;
    pg->tx_seg = segment_get(pg, o->tx_to ? o->tx_to : o->name, 0, err);
    if (!pg->tx_seg)
        return err->code;
    pg->rx_seg = segment_get(pg, o->rx_from ? o->rx_from : o->name, 0, err);
    if (!pg->rx_seg)
        return err->code;
    int rc = ivshm_mempool_lookup_any(&pg->pool_seg->seg.view, o->pool, &pg->pool, err);
    if (rc)
        return rc;
    ivshm_mempool_cache_init(&pg->cache, 256);
    bool any_ctrl = false;
    for (int i = 0; i < pg->nsegs; i++)
        any_ctrl |= pg->segs[i].ctrl != NULL;
    if (!any_ctrl)
        return ivshm_fail(err, IVSHM_E_NOENT, "%s: no '%s' memzone (create it with --preset fwd)",
                          o->name, IVSHM_FWD_CTRL);
    return IVSHM_OK;
}

int pg_open_queues(struct pg_state *pg, struct ivshm_error *err)
{
    uint32_t queues = pg->opt.queues;
    if (queues == 0) {
        queues = 1;
        for (int i = 0; i < pg->nsegs; i++) {
            if (!pg->segs[i].ctrl)
                continue;
            /* Read once: the forwarder (or a faulty peer) may write it at any
             * time, and the value checked must be the value used. */
            uint32_t announced = *(volatile uint32_t *)&pg->segs[i].ctrl->queues;
            if (announced > queues && announced <= IVSHM_FWD_MAX_QUEUES)
                queues = announced;
        }
    }
    for (uint32_t q = 0; q < queues; q++) {
        int rc = ivshm_ring_lookup(&pg->tx_seg->seg.view, ivshm_fwd_ring_name(IVSHM_FWD_RX, q),
                                   &pg->queues[q].send, err);
        if (rc)
            return rc;
        rc = ivshm_ring_lookup(&pg->rx_seg->seg.view, ivshm_fwd_ring_name(IVSHM_FWD_TX, q),
                               &pg->queues[q].recv, err);
        if (rc)
            return rc;
        pg->queues[q].held_at = pg->queues[q].held_len = 0;
        pg->queues[q].any_received = false;
    }
    pg->nqueues = queues;
    bound_waits(pg);
    return IVSHM_OK;
}

int pg_claim_party(struct pg_state *pg, struct ivshm_error *err)
{
    struct ivshm_segment_view *view = &pg->pool_seg->seg.view;
    if (view->party >= 0)
        return IVSHM_OK;
    int rc = ivshm_party_claim_self(view, pg->opt.name, "pktgen", err);
    if (rc == IVSHM_OK)
        rc = ivshm_mempool_lookup(view, pg->opt.pool, &pg->pool, err);
    if (rc == IVSHM_OK)
        bound_waits(pg); /* the new pool handle starts with the default wait */
    return rc ? rc : pg_claim_queues(pg, true, err);
}

void pg_wake_forwarder(struct pg_state *pg, struct pg_queue *q)
{
    if (cli_doorbell_wake(pg->tx_seg->db, &q->send))
        pg->rings++;
}
