/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm pktgen: sends numbered, checksummed frames through a forwarder (a
 * guest running fwd, or the host-only ivshm-fwd) and checks every frame that
 * comes back: lost, corrupted, duplicated, reordered.
 *
 * ivshm reclaim: gives back to the pool the buffers of host processes that
 * died while attached (pktgen does the same when it starts).
 */
#include <errno.h>
#include <sched.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivshm/fwd.h"
#include "common/internal.h"
#include "ivshm/party.h"
#include "host/cli/cli.h"
#include "host/cli/pktgen.h"

#define PG_MAX_SEGS 3

struct pg_options {
    const char *name;    /* segment with the pool */
    const char *pool;    /* the pool's name in it */
    const char *dir;     /* NULL: default resolution */
    const char *tx_to;   /* segment whose rxN rings we fill */
    const char *rx_from; /* segment whose txN rings we drain */
    uint32_t queues;     /* 0: as many as the forwarder serves */
    uint64_t count;      /* frames to send; 0 with duration */
    double duration;     /* seconds to send; 0 with count */
    uint32_t size;       /* frame bytes */
    uint32_t burst;
    double timeout; /* seconds to wait for READY, and to drain at the end */
    bool json;
    bool keep;
    int cpu; /* -1: do not pin */
};

struct pg_segment {
    const char *name;
    struct ivshm_segment seg;
    struct ivshm_fwd_ctrl *ctrl; /* NULL when the segment has no ctrl memzone */
};

struct pg_queue {
    struct ivshm_ring send;         /* tx_to/rx<q> */
    struct ivshm_ring recv;         /* rx_from/tx<q> */
    uint64_t held[IVSHM_BURST_MAX]; /* filled frames the send ring refused, sent first next time */
    uint32_t held_len;
    uint64_t last_seq; /* last sequence received, for reorder detection */
    bool any_received;
};

struct pg_stats {
    uint64_t sent, received, corrupted, duplicated, reordered, invalid_handles;
    uint32_t reclaimed;
};

struct pg_state {
    struct pg_options opt;
    struct pg_segment segs[PG_MAX_SEGS];
    int nsegs;
    struct pg_segment *pool_seg, *tx_seg, *rx_seg;
    struct ivshm_mempool pool;
    struct ivshm_mempool_cache cache;
    struct pg_queue queues[IVSHM_FWD_MAX_QUEUES];
    uint32_t nqueues;
    bool stalled;   /* nothing moved for --timeout seconds */
    uint64_t *seen; /* bitmap of received sequence numbers */
    uint64_t seen_bits;
    struct pg_stats st;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int usage_error(const char *cmd, const char *fmt, const char *value)
{
    fprintf(stderr, "ivshm %s: ", cmd);
    fprintf(stderr, fmt, value);
    fprintf(stderr, " (see 'ivshm %s --help')\n", cmd);
    return 2;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

/* ---- segments ---- */

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
    s->ctrl = NULL;
    void *addr;
    uint64_t len;
    struct ivshm_error ignored;
    if (ivshm_memzone_lookup(&s->seg.view, IVSHM_FWD_CTRL, &addr, &len, &ignored) == IVSHM_OK &&
        len >= sizeof(struct ivshm_fwd_ctrl))
        s->ctrl = addr;
    pg->nsegs++;
    return s;
}

static void segments_detach(struct pg_state *pg)
{
    for (int i = 0; i < pg->nsegs; i++)
        ivshm_segment_detach(&pg->segs[i].seg);
    pg->nsegs = 0;
}

static bool forwarder_active(const struct pg_segment *s)
{
    uint32_t st = atomic_load_explicit(&s->ctrl->state, memory_order_acquire);
    return st == IVSHM_FWD_READY || st == IVSHM_FWD_FWD;
}

/* ---- frames ---- */

static const uint8_t pktgen_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x00};

static void frame_fill(struct pg_state *pg, uint64_t handle, uint32_t queue, uint64_t seq)
{
    uint8_t *obj = ivshm_mempool_ptr(&pg->pool, handle);
    struct ivshm_pkt *pkt = (struct ivshm_pkt *)obj;
    pkt->data_off = IVSHM_PKT_HEADROOM;
    pkt->data_len = pg->opt.size;
    pkt->port = (uint16_t)queue;
    ivshm_frame_fill(obj + IVSHM_PKT_HEADROOM, pg->opt.size, seq, pktgen_mac);
}

static void seen_mark(struct pg_state *pg, uint64_t seq, bool *duplicate)
{
    if (seq >= pg->seen_bits) {
        uint64_t bits = pg->seen_bits ? pg->seen_bits : 1u << 20;
        while (bits <= seq)
            bits *= 2;
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

/* Checks one frame that came back on queue q. Returns false for a handle that
 * is not one of the pool's objects (it cannot be freed). */
static bool frame_check(struct pg_state *pg, struct pg_queue *q, uint32_t qi, uint64_t handle)
{
    if (ivshm_mempool_index(&pg->pool, handle) == UINT32_MAX) {
        pg->st.invalid_handles++;
        pg->st.corrupted++;
        return false;
    }
    const uint8_t *obj = ivshm_mempool_ptr(&pg->pool, handle);
    const struct ivshm_pkt *pkt = (const struct ivshm_pkt *)obj;
    uint64_t seq;
    if (pkt->data_off != IVSHM_PKT_HEADROOM || pkt->data_len != pg->opt.size ||
        !ivshm_frame_check(obj + IVSHM_PKT_HEADROOM, pg->opt.size, (uint8_t)qi, &seq)) {
        pg->st.corrupted++;
        return true;
    }
    bool dup;
    seen_mark(pg, seq, &dup);
    if (dup) {
        pg->st.duplicated++;
        return true;
    }
    if (q->any_received && seq < q->last_seq)
        pg->st.reordered++;
    q->last_seq = seq;
    q->any_received = true;
    pg->st.received++;
    return true;
}

/* Dequeues and checks what came back on every queue, frees it. Returns frames
 * taken off the rings. */
static uint32_t receive_all(struct pg_state *pg)
{
    uint32_t total = 0;
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        struct pg_queue *q = &pg->queues[qi];
        uint64_t h[IVSHM_BURST_MAX];
        uint32_t n = ivshm_ring_dequeue_burst(&q->recv, h, pg->opt.burst, NULL);
        uint32_t keep = 0;
        for (uint32_t i = 0; i < n; i++)
            if (frame_check(pg, q, qi, h[i]))
                h[keep++] = h[i];
        uint32_t freed = 0;
        if (keep && ivshm_mempool_put_bulk(&pg->pool, &pg->cache, h, keep, &freed) != IVSHM_OK)
            pg->st.corrupted += keep - freed; /* a buffer that came back twice */
        total += n;
    }
    return total;
}

/* Fills and enqueues up to a burst on every queue; frames the ring refuses are
 * kept and offered first next time. */
static uint32_t send_all(struct pg_state *pg, uint64_t *seq, uint64_t limit)
{
    uint32_t total = 0;
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        struct pg_queue *q = &pg->queues[qi];
        if (q->held_len == 0) {
            uint32_t want = pg->opt.burst;
            if (limit && limit - *seq < want)
                want = (uint32_t)(limit - *seq);
            if (want == 0 || ivshm_mempool_get_bulk(&pg->pool, &pg->cache, q->held, want))
                continue;
            for (uint32_t i = 0; i < want; i++)
                frame_fill(pg, q->held[i], qi, (*seq)++);
            q->held_len = want;
        }
        uint32_t n = ivshm_ring_enqueue_burst(&q->send, q->held, q->held_len, NULL);
        pg->st.sent += n;
        total += n;
        if (n && n < q->held_len)
            memmove(q->held, q->held + n, (q->held_len - n) * sizeof(q->held[0]));
        q->held_len -= n;
    }
    return total;
}

/* ---- recovery of a dead host party's buffers ---- */

static bool forwarders_idle(struct pg_state *pg)
{
    for (int i = 0; i < pg->nsegs; i++) {
        struct ivshm_fwd_ctrl *c = pg->segs[i].ctrl;
        if (!c || !forwarder_active(&pg->segs[i]))
            continue;
        for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++) {
            uint64_t r = atomic_load_explicit(&c->q[q].received, memory_order_relaxed);
            uint64_t s = atomic_load_explicit(&c->q[q].sent, memory_order_relaxed);
            uint64_t d = atomic_load_explicit(&c->q[q].dropped, memory_order_relaxed);
            if (r != s + d)
                return false;
        }
    }
    return true;
}

/*
 * Frees what dead host parties left in flight, then reclaims what they still
 * held. The buffers they sent are still moving (the forwarder keeps going), so
 * first drain the receive rings until all rings are empty and no forwarder
 * holds anything, three checks in a row; only then is every remaining buffer
 * of theirs known to be nowhere but in their (dead) hands.
 */
static int reclaim_dead(struct pg_state *pg, double timeout, struct ivshm_error *err)
{
    struct ivshm_segment_view *v = &pg->pool_seg->seg.view;
    int dead[IVSHM_MAX_PARTIES];
    int ndead = 0;
    for (uint32_t i = 0; i < v->party_capacity; i++) {
        struct ivshm_party *p = &v->parties[i];
        uint32_t st = atomic_load_explicit(&p->state, memory_order_acquire);
        if ((int)i != pg->pool_seg->seg.view.party && p->kind == IVSHM_PARTY_HOST &&
            (st == IVSHM_PARTY_ALIVE || st == IVSHM_PARTY_CLAIMING) && !ivshm_party_alive(p))
            dead[ndead++] = (int)i;
    }
    if (ndead == 0)
        return IVSHM_OK;

    double deadline = now_seconds() + timeout;
    int quiet = 0;
    while (quiet < 3) {
        uint32_t moved = receive_all(pg);
        /* With no forwarder to consume them, frames the dead process sent
         * would sit in the send rings for ever: take them back ourselves. */
        if (pg->tx_seg->ctrl && !forwarder_active(pg->tx_seg)) {
            for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
                uint64_t h[IVSHM_BURST_MAX];
                uint32_t n =
                    ivshm_ring_dequeue_burst(&pg->queues[qi].send, h, IVSHM_BURST_MAX, NULL);
                if (n)
                    ivshm_mempool_put_bulk(&pg->pool, &pg->cache, h, n, NULL);
                moved += n;
            }
        }
        bool empty = moved == 0 && forwarders_idle(pg);
        for (uint32_t qi = 0; empty && qi < pg->nqueues; qi++)
            empty = ivshm_ring_count(&pg->queues[qi].send) == 0 &&
                    ivshm_ring_count(&pg->queues[qi].recv) == 0;
        quiet = empty ? quiet + 1 : 0;
        if (now_seconds() > deadline)
            return cli_error(err, IVSHM_E_NOBUFS,
                             "%s: a dead process's buffers are still in flight after %.0f s "
                             "(is the forwarder running?)",
                             pg->opt.name, timeout);
        sleep_ms(quiet ? 20 : 1);
    }
    /* Our own cache goes back first: the rebuild leaves live parties'
     * objects where they are, and we are about to start afresh. */
    ivshm_mempool_cache_flush(&pg->pool, &pg->cache);
    uint64_t dead_mask = 0;
    for (int i = 0; i < ndead; i++)
        dead_mask |= 1ull << dead[i];
    /* A rebuild rather than a per-object give-back: a process killed in the
     * middle of a get or put leaves the free ring's head ahead of its tail,
     * and only a rebuild repairs that. Nobody else uses the free ring now:
     * the forwarders never allocate, and the dead are dead. */
    pg->st.reclaimed += ivshm_mempool_rebuild(&pg->pool, dead_mask);
    for (int i = 0; i < ndead; i++)
        ivshm_party_release(v, dead[i]);
    /* The frames drained above belonged to the dead run: not ours to count. */
    pg->st = (struct pg_stats){.reclaimed = pg->st.reclaimed};
    for (uint32_t qi = 0; qi < pg->nqueues; qi++)
        pg->queues[qi].any_received = false;
    if (pg->seen)
        memset(pg->seen, 0, pg->seen_bits / 8);
    return IVSHM_OK;
}

/* ---- setup ---- */

static int open_all(struct pg_state *pg, struct ivshm_error *err)
{
    const struct pg_options *o = &pg->opt;
    pg->pool_seg = segment_get(pg, o->name, IVSHM_ATTACH_CLAIM, err);
    if (!pg->pool_seg)
        return err->code;
    pg->tx_seg = segment_get(pg, o->tx_to ? o->tx_to : o->name, 0, err);
    if (!pg->tx_seg)
        return err->code;
    pg->rx_seg = segment_get(pg, o->rx_from ? o->rx_from : o->name, 0, err);
    if (!pg->rx_seg)
        return err->code;
    int rc = ivshm_mempool_lookup(&pg->pool_seg->seg.view, o->pool, &pg->pool, err);
    if (rc)
        return rc;
    if (o->size + IVSHM_PKT_HEADROOM > pg->pool.obj_size)
        return cli_error(
            err, IVSHM_E_INVAL,
            "--size %u: frames must fit the pool's %u-byte buffers after %u bytes of headroom",
            o->size, pg->pool.obj_size, IVSHM_PKT_HEADROOM);
    ivshm_mempool_cache_init(&pg->cache, 256);
    bool any_ctrl = false;
    for (int i = 0; i < pg->nsegs; i++)
        any_ctrl |= pg->segs[i].ctrl != NULL;
    if (!any_ctrl)
        return cli_error(err, IVSHM_E_NOENT, "%s: no '%s' memzone (create it with --preset fwd)",
                         o->name, IVSHM_FWD_CTRL);
    return IVSHM_OK;
}

/* Waits until every forwarder we control is READY or FWD. */
/*
 * Waits until every forwarder we drive is READY or FWD *and* alive: its
 * heartbeat moves (it bumps it every IVSHM_FWD_HEARTBEAT_POLLS polls). The state alone is not
 * enough: a VM that died mid-run leaves FWD behind.
 */
static int wait_ready(struct pg_state *pg, struct ivshm_error *err)
{
    double deadline = now_seconds() + pg->opt.timeout;
    uint64_t first_beat[PG_MAX_SEGS];
    for (int i = 0; i < pg->nsegs; i++)
        if (pg->segs[i].ctrl)
            first_beat[i] =
                atomic_load_explicit(&pg->segs[i].ctrl->heartbeat, memory_order_relaxed);
    for (;;) {
        sleep_ms(5);
        bool all = true;
        const struct pg_segment *stale = NULL;
        for (int i = 0; i < pg->nsegs; i++) {
            struct pg_segment *s = &pg->segs[i];
            if (!s->ctrl)
                continue;
            uint32_t st = atomic_load_explicit(&s->ctrl->state, memory_order_acquire);
            if (st == IVSHM_FWD_FAIL)
                return cli_error(err, IVSHM_E_CORRUPT, "%s: the forwarder failed: %.40s", s->name,
                                 s->ctrl->reason);
            bool up = st == IVSHM_FWD_READY || st == IVSHM_FWD_FWD;
            bool beating =
                atomic_load_explicit(&s->ctrl->heartbeat, memory_order_relaxed) != first_beat[i];
            if (up && !beating)
                stale = s;
            all &= up && beating;
        }
        if (all)
            return IVSHM_OK;
        if (now_seconds() > deadline || stop_requested) {
            if (stale)
                return cli_error(err, IVSHM_E_NOENT,
                                 "%s: ctrl says a forwarder is there, but its heartbeat has not "
                                 "moved in %.0f s (did the VM stop?)",
                                 stale->name, pg->opt.timeout);
            return cli_error(err, IVSHM_E_NOENT,
                             "%s: no forwarder became READY within %.0f s (is the VM running fwd?)",
                             pg->opt.name, pg->opt.timeout);
        }
    }
}

static int open_queues(struct pg_state *pg, struct ivshm_error *err)
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
        pg->queues[q].held_len = 0;
        pg->queues[q].any_received = false;
    }
    pg->nqueues = queues;
    return IVSHM_OK;
}

static void set_state_all(struct pg_state *pg, uint32_t from_a, uint32_t from_b, uint32_t to)
{
    for (int i = 0; i < pg->nsegs; i++) {
        struct ivshm_fwd_ctrl *c = pg->segs[i].ctrl;
        if (!c)
            continue;
        uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
        if (st == from_a || st == from_b)
            atomic_store_explicit(&c->state, to, memory_order_release);
    }
}

/* After EXIT: wait (briefly) for every forwarder to say DONE. */
static bool wait_done(struct pg_state *pg, double seconds)
{
    double deadline = now_seconds() + seconds;
    for (;;) {
        bool all = true;
        for (int i = 0; i < pg->nsegs; i++) {
            struct ivshm_fwd_ctrl *c = pg->segs[i].ctrl;
            if (c && atomic_load_explicit(&c->state, memory_order_acquire) == IVSHM_FWD_EXIT)
                all = false;
        }
        if (all)
            return true;
        if (now_seconds() > deadline)
            return false;
        sleep_ms(2);
    }
}

/* ---- the run ---- */

static void print_rate(const struct pg_state *pg, double elapsed, uint64_t last_received,
                       double interval)
{
    printf("\rpktgen: %6.1f s  sent %llu  received %llu  %.3f Mpps   ", elapsed,
           (unsigned long long)pg->st.sent, (unsigned long long)pg->st.received,
           (double)(pg->st.received - last_received) / interval / 1e6);
    fflush(stdout);
}

static void traffic(struct pg_state *pg, double *seconds)
{
    const struct pg_options *o = &pg->opt;
    bool live = isatty(STDOUT_FILENO) && !o->json;
    uint64_t seq = 0;
    double start = now_seconds(), last_print = start, end_send = start + o->duration;
    uint64_t last_received = 0;

    /* Progress is a frame into a ring or out of one. None for `timeout`
     * seconds means the forwarder stopped (or never consumes): give up then
     * rather than wait for ever with the rings full. */
    double last_progress = start;
    while (!stop_requested) {
        double t = now_seconds(); /* vDSO: some 20 ns, for up to a burst per queue */
        bool sending = o->count ? seq < o->count : t < end_send;
        if (!sending)
            break;
        if (send_all(pg, &seq, o->count) + receive_all(pg)) {
            last_progress = t;
        } else if (t - last_progress > o->timeout) {
            pg->stalled = true;
            break;
        }
        if (live && t - last_print >= 1.0) {
            print_rate(pg, t - start, last_received, t - last_print);
            last_print = t;
            last_received = pg->st.received;
        }
    }
    /* Offer what the rings refused, then collect until everything is back or
     * nothing has moved for `timeout` seconds. */
    last_progress = now_seconds();
    while (!pg->stalled) {
        bool holding = false;
        for (uint32_t qi = 0; qi < pg->nqueues; qi++)
            holding |= pg->queues[qi].held_len != 0;
        uint32_t moved = holding ? send_all(pg, &seq, seq) : 0;
        uint64_t back = pg->st.received + pg->st.corrupted + pg->st.duplicated;
        if (!holding && back >= pg->st.sent)
            break;
        moved += receive_all(pg);
        if (moved)
            last_progress = now_seconds();
        else if (now_seconds() - last_progress > o->timeout)
            pg->stalled = true;
        else
            sleep_ms(0);
    }
    *seconds = now_seconds() - start;
    if (live)
        printf("\n");
    /* Frames filled but never accepted by a ring go back to the pool. */
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        struct pg_queue *q = &pg->queues[qi];
        if (q->held_len)
            ivshm_mempool_put_bulk(&pg->pool, &pg->cache, q->held, q->held_len, NULL);
        q->held_len = 0;
    }
    ivshm_mempool_cache_flush(&pg->pool, &pg->cache);
}

static void report(const struct pg_state *pg, double seconds, bool done)
{
    const struct pg_stats *s = &pg->st;
    uint64_t back = s->received + s->corrupted;
    uint64_t lost = s->sent > back ? s->sent - back : 0;
    double mpps = seconds > 0 ? (double)s->received / seconds / 1e6 : 0;
    uint64_t g_recv = 0, g_sent = 0, g_drop = 0;
    for (int i = 0; i < pg->nsegs; i++) {
        struct ivshm_fwd_ctrl *c = pg->segs[i].ctrl;
        for (uint32_t q = 0; c && q < IVSHM_FWD_MAX_QUEUES; q++) {
            g_recv += atomic_load_explicit(&c->q[q].received, memory_order_relaxed);
            g_sent += atomic_load_explicit(&c->q[q].sent, memory_order_relaxed);
            g_drop += atomic_load_explicit(&c->q[q].dropped, memory_order_relaxed);
        }
    }
    if (pg->opt.json) {
        printf("{\"segment\":\"%s\",\"queues\":%u,\"size\":%u,\"burst\":%u,\"sent\":%llu,"
               "\"received\":%llu,\"lost\":%llu,\"corrupted\":%llu,\"duplicated\":%llu,"
               "\"reordered\":%llu,\"mpps\":%.4f,\"seconds\":%.3f,\"reclaimed\":%u,\"stalled\":%s,"
               "\"forwarder\":{\"received\":%llu,\"sent\":%llu,\"dropped\":%llu,\"done\":%s}}\n",
               pg->opt.name, pg->nqueues, pg->opt.size, pg->opt.burst, (unsigned long long)s->sent,
               (unsigned long long)s->received, (unsigned long long)lost,
               (unsigned long long)s->corrupted, (unsigned long long)s->duplicated,
               (unsigned long long)s->reordered, mpps, seconds, s->reclaimed,
               pg->stalled ? "true" : "false", (unsigned long long)g_recv,
               (unsigned long long)g_sent, (unsigned long long)g_drop, done ? "true" : "false");
    } else {
        if (pg->stalled)
            printf("pktgen: nothing moved for %.0f s: the forwarder stopped or does not consume\n",
                   pg->opt.timeout);
        if (s->reclaimed)
            printf("pktgen: reclaimed %u buffers from a dead process\n", s->reclaimed);
        printf("pktgen: sent %llu received %llu lost %llu corrupted %llu duplicated %llu "
               "reordered %llu in %.2f s: %.3f Mpps (%u queue%s, %u-byte frames, burst %u)\n",
               (unsigned long long)s->sent, (unsigned long long)s->received,
               (unsigned long long)lost, (unsigned long long)s->corrupted,
               (unsigned long long)s->duplicated, (unsigned long long)s->reordered, seconds, mpps,
               pg->nqueues, pg->nqueues == 1 ? "" : "s", pg->opt.size, pg->opt.burst);
    }
}

static const char pktgen_help[] =
    "usage: ivshm pktgen NAME [--queues Q] [--count N | --duration S] [--size BYTES]\n"
    "                         [--burst B] [--timeout S] [--json] [--keep]\n"
    "                         [--tx-to SEG] [--rx-from SEG] [--cpu N] [--dir DIR]\n"
    "Sends numbered, checksummed frames from NAME's mempool 'pkts' into the rings\n"
    "rx0..rxQ-1 of SEG (--tx-to, default NAME), receives them from tx0..txQ-1 of\n"
    "SEG (--rx-from, default NAME), verifies and frees them. Drives the 'ctrl'\n"
    "memzone of each of these segments: waits for READY, sets FWD, and EXIT at the\n"
    "end unless --keep. Buffers of a dead earlier run are reclaimed first.\n"
    "  --queues Q     queue pairs (default: as many as the forwarder serves)\n"
    "  --count N      frames to send (default 1000000)\n"
    "  --duration S   send for S seconds instead of a count\n"
    "  --size BYTES   frame size, 64.. (default 64)\n"
    "  --burst B      frames per ring operation, 1..64 (default 32)\n"
    "  --timeout S    wait up to S s for READY and for the last frames (default 30)\n"
    "  --json         print the summary as one JSON object\n"
    "  --keep         leave the forwarder running (do not set EXIT)\n"
    "  --cpu N        run on CPU N only (recommended: not the forwarder's CPU)\n"
    "Exit status: 0 iff every frame sent came back intact; 1 otherwise; 2 usage.\n";

enum { OPT_TX_TO = 256, OPT_RX_FROM, OPT_DIR, OPT_KEEP, OPT_JSON, OPT_CPU, OPT_POOL };

/* Pins the calling thread to one CPU. A polling peer on another core wants
 * us to stay put: two spinning processes the scheduler moves about, or puts
 * on the same core, lose an order of magnitude. */
static int pin_to_cpu(const char *cmd, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        fprintf(stderr, "ivshm %s: --cpu %d: cannot run there: %s (this machine has %ld CPUs)\n",
                cmd, cpu, strerror(errno), sysconf(_SC_NPROCESSORS_ONLN));
        return 1;
    }
    return 0;
}

static int parse_options(const char *cmd, int argc, char **argv, struct pg_options *o,
                         bool traffic_options)
{
    static const struct option longopts[] = {
        {"queues", required_argument, NULL, 'q'},
        {"count", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"burst", required_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, OPT_JSON},
        {"keep", no_argument, NULL, OPT_KEEP},
        {"tx-to", required_argument, NULL, OPT_TX_TO},
        {"rx-from", required_argument, NULL, OPT_RX_FROM},
        {"dir", required_argument, NULL, OPT_DIR},
        {"help", no_argument, NULL, 'h'},
        {"cpu", required_argument, NULL, OPT_CPU},
        {"pool", required_argument, NULL, OPT_POOL},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->size = IVSHM_PKT_MIN_FRAME;
    o->pool = IVSHM_FWD_POOL;
    o->burst = IVSHM_FWD_BURST_DEFAULT;
    o->timeout = 30;
    o->dir = getenv(IVSHM_ENV_DIR);
    o->cpu = -1;
    bool have_count = false;
    opterr = 0;
    optind = 1;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (!traffic_options && c != OPT_DIR && c != 'h' && c != 't' && c != '?' && c != ':' &&
            c != OPT_TX_TO && c != OPT_RX_FROM && c != 'q' && c != OPT_POOL)
            return usage_error(cmd, "option '%s' does not apply here", argv[optind - 1]);
        switch (c) {
        case 'q':
            if (!parse_u64(optarg, 1, IVSHM_FWD_MAX_QUEUES, &v))
                return usage_error(cmd, "--queues '%s': not a number in 1..16", optarg);
            o->queues = (uint32_t)v;
            break;
        case 'c':
            if (!parse_u64(optarg, 1, UINT64_MAX / 2, &v))
                return usage_error(cmd, "--count '%s': not a positive number", optarg);
            o->count = v;
            have_count = true;
            break;
        case 'd':
            if (!parse_seconds(optarg, &o->duration))
                return usage_error(cmd, "--duration '%s': not a number of seconds > 0", optarg);
            break;
        case 's':
            if (!parse_u64(optarg, IVSHM_PKT_MIN_FRAME, 65535, &v))
                return usage_error(cmd, "--size '%s': not a frame size in 64..65535", optarg);
            o->size = (uint32_t)v;
            break;
        case 'b':
            if (!parse_u64(optarg, 1, IVSHM_BURST_MAX, &v))
                return usage_error(cmd, "--burst '%s': not a number in 1..64", optarg);
            o->burst = (uint32_t)v;
            break;
        case 't':
            if (!parse_seconds(optarg, &o->timeout))
                return usage_error(cmd, "--timeout '%s': not a number of seconds > 0", optarg);
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_KEEP:
            o->keep = true;
            break;
        case OPT_TX_TO:
            o->tx_to = optarg;
            break;
        case OPT_RX_FROM:
            o->rx_from = optarg;
            break;
        case OPT_POOL:
            if (!traffic_options && ivshm_name_valid(optarg)) {
                o->pool = optarg;
                break;
            }
            return usage_error(cmd,
                               traffic_options ? "option '%s' does not apply here"
                                               : "--pool '%s': not a mempool name",
                               traffic_options ? "--pool" : optarg);
        case OPT_DIR:
            o->dir = optarg;
            break;
        case OPT_CPU:
            if (!parse_u64(optarg, 0, CPU_SETSIZE - 1, &v))
                return usage_error(cmd, "--cpu '%s': not a CPU number", optarg);
            o->cpu = (int)v;
            break;
        case 'h':
            fputs(pktgen_help, stdout);
            return -1;
        case ':':
            return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (have_count && o->duration > 0)
        return usage_error(cmd, "%s: give --count or --duration, not both", "--count/--duration");
    if (!have_count && o->duration == 0)
        o->count = 1000000;
    if (optind >= argc)
        return usage_error(cmd, "%s: missing segment NAME", "NAME");
    if (optind + 1 < argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    o->name = argv[optind];
    return 0;
}

int ivshm_cmd_pktgen(int argc, char **argv)
{
    static struct pg_state pg; /* large (ring handles, caches): not on the stack */
    memset(&pg, 0, sizeof(pg));
    int rc = parse_options("pktgen", argc, argv, &pg.opt, true);
    if (rc)
        return rc < 0 ? 0 : rc;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (pg.opt.cpu >= 0 && pin_to_cpu("pktgen", pg.opt.cpu))
        return 1;
    struct ivshm_error err = {0};
    int status = 1;
    double seconds = 0;
    if (open_all(&pg, &err) || wait_ready(&pg, &err) || open_queues(&pg, &err) ||
        reclaim_dead(&pg, pg.opt.timeout, &err)) {
        fprintf(stderr, "ivshm pktgen: %s\n", err.msg);
        goto out;
    }
    set_state_all(&pg, IVSHM_FWD_READY, IVSHM_FWD_READY, IVSHM_FWD_FWD);
    traffic(&pg, &seconds);
    bool done = true;
    if (!pg.opt.keep) {
        set_state_all(&pg, IVSHM_FWD_READY, IVSHM_FWD_FWD, IVSHM_FWD_EXIT);
        done = wait_done(&pg, 5.0);
    }
    report(&pg, seconds, done);
    const struct pg_stats *s = &pg.st;
    status =
        (s->sent > 0 && s->received == s->sent && !s->corrupted && !s->duplicated && !s->reordered)
            ? 0
            : 1;
out:
    segments_detach(&pg);
    free(pg.seen);
    pg.seen = NULL;
    return status;
}

static const char reclaim_help[] =
    "usage: ivshm reclaim NAME [--pool P] [--tx-to SEG] [--rx-from SEG] [--queues Q] [--timeout "
    "S]\n"
    "                          [--dir DIR]\n"
    "Gives back to NAME's mempool P (--pool, default pkts) the buffers held by host processes "
    "that\n"
    "died while attached (e.g. a pktgen killed with SIGKILL), and frees their party\n"
    "slots. Frames still in flight are first drained from the tx rings, so run it\n"
    "while the forwarder runs (or is stopped) and no other pktgen is attached.\n";

int ivshm_cmd_reclaim(int argc, char **argv)
{
    static struct pg_state pg;
    memset(&pg, 0, sizeof(pg));
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(reclaim_help, stdout);
            return 0;
        }
    int rc = parse_options("reclaim", argc, argv, &pg.opt, false);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct ivshm_error err = {0};
    int status = 1;
    if (open_all(&pg, &err) || open_queues(&pg, &err) || reclaim_dead(&pg, pg.opt.timeout, &err)) {
        fprintf(stderr, "ivshm reclaim: %s\n", err.msg);
        goto out;
    }
    ivshm_mempool_cache_flush(&pg.pool, &pg.cache);
    printf("reclaim: %u buffers returned to %s/%s, %u free\n", pg.st.reclaimed, pg.opt.name,
           pg.opt.pool, ivshm_mempool_free_count(&pg.pool));
    status = 0;
out:
    segments_detach(&pg);
    free(pg.seen);
    return status;
}
