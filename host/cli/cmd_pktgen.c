/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm pktgen: sends numbered, checksummed frames through a forwarder (a
 * guest running fwd, or the host-only ivshm-fwd) and checks every frame that
 * comes back: lost, corrupted, duplicated, reordered.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/internal.h"
#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/cli/traffic.h"

static const uint8_t pktgen_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x00};

static void on_signal(int sig)
{
    (void)sig;
    pg_stop_requested = 1;
}

static void frame_fill(struct pg_state *pg, uint64_t handle, uint32_t queue, uint64_t seq)
{
    uint8_t *obj = ivshm_mempool_ptr(&pg->pool, handle);
    struct ivshm_pkt *pkt = (struct ivshm_pkt *)obj;
    pkt->data_off = IVSHM_PKT_HEADROOM;
    pkt->data_len = pg->opt.size;
    pkt->port = (uint16_t)queue;
    ivshm_frame_fill(obj + IVSHM_PKT_HEADROOM, pg->opt.size, seq, pktgen_mac);
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

/*
 * Waits until every forwarder we drive is READY or FWD *and* alive: its
 * heartbeat moves (it bumps it every IVSHM_FWD_HEARTBEAT_POLLS polls). The state alone is not
 * enough: a VM that died mid-run leaves FWD behind.
 */
static int wait_ready(struct pg_state *pg, struct ivshm_error *err)
{
    double deadline = pg_now() + pg->opt.timeout;
    uint64_t first_beat[PG_MAX_SEGS];
    for (int i = 0; i < pg->nsegs; i++)
        if (pg->segs[i].ctrl)
            first_beat[i] =
                atomic_load_explicit(&pg->segs[i].ctrl->heartbeat, memory_order_relaxed);
    for (;;) {
        pg_sleep_ms(5);
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
        if (pg_now() > deadline || pg_stop_requested) {
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
    double deadline = pg_now() + seconds;
    for (;;) {
        bool all = true;
        for (int i = 0; i < pg->nsegs; i++) {
            struct ivshm_fwd_ctrl *c = pg->segs[i].ctrl;
            if (c && atomic_load_explicit(&c->state, memory_order_acquire) == IVSHM_FWD_EXIT)
                all = false;
        }
        if (all)
            return true;
        if (pg_now() > deadline)
            return false;
        pg_sleep_ms(2);
    }
}

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
    double start = pg_now(), last_print = start, end_send = start + o->duration;
    uint64_t last_received = 0;

    /* Progress is a frame into a ring or out of one. None for `timeout`
     * seconds means the forwarder stopped (or never consumes): give up then
     * rather than wait for ever with the rings full. */
    double last_progress = start;
    while (!pg_stop_requested) {
        double t = pg_now(); /* vDSO: some 20 ns, for up to a burst per queue */
        bool sending = o->count ? seq < o->count : t < end_send;
        if (!sending)
            break;
        if (send_all(pg, &seq, o->count) + pg_receive_all(pg)) {
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
    last_progress = pg_now();
    while (!pg->stalled) {
        bool holding = false;
        for (uint32_t qi = 0; qi < pg->nqueues; qi++)
            holding |= pg->queues[qi].held_len != 0;
        uint32_t moved = holding ? send_all(pg, &seq, seq) : 0;
        uint64_t back = pg->st.received + pg->st.corrupted + pg->st.duplicated;
        if (!holding && back >= pg->st.sent)
            break;
        moved += pg_receive_all(pg);
        if (moved)
            last_progress = pg_now();
        else if (pg_now() - last_progress > o->timeout)
            pg->stalled = true;
        else
            pg_sleep_ms(0);
    }
    *seconds = pg_now() - start;
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

static int frames_fit(const struct pg_state *pg, struct ivshm_error *err)
{
    if (pg->opt.size + IVSHM_PKT_HEADROOM <= pg->pool.obj_size)
        return IVSHM_OK;
    return cli_error(
        err, IVSHM_E_INVAL,
        "--size %u: frames must fit the pool's %u-byte buffers after %u bytes of headroom",
        pg->opt.size, pg->pool.obj_size, IVSHM_PKT_HEADROOM);
}

static int pktgen_run(void *opts, char **args, unsigned nargs)
{
    (void)nargs;
    struct pg_state *pg = pg_start(opts, args[0]);
    if (pg->opt.count && pg->opt.duration > 0)
        return cli_fail(CLI_EXIT_USAGE, "pktgen: give --count or --duration, not both");
    if (!pg->opt.count && pg->opt.duration == 0)
        pg->opt.count = 1000000;
    if (cli_pin_cpu(pg->opt.cpu) != CLI_EXIT_OK)
        return CLI_EXIT_RUNTIME;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct ivshm_error err = {0};
    int status;
    if (pg_open_all(pg, &err) || frames_fit(pg, &err) || wait_ready(pg, &err) ||
        pg_open_queues(pg, &err) || pg_reclaim_dead(pg, pg->opt.timeout, &err)) {
        status = cli_fail(cli_exit_status(err.code), "%s", err.msg);
    } else {
        double seconds = 0;
        set_state_all(pg, IVSHM_FWD_READY, IVSHM_FWD_READY, IVSHM_FWD_FWD);
        traffic(pg, &seconds);
        bool done = true;
        if (!pg->opt.keep) {
            set_state_all(pg, IVSHM_FWD_READY, IVSHM_FWD_FWD, IVSHM_FWD_EXIT);
            done = wait_done(pg, 5.0);
        }
        report(pg, seconds, done);
        const struct pg_stats *s = &pg->st;
        bool intact = s->sent > 0 && s->received == s->sent && !s->corrupted && !s->duplicated &&
                      !s->reordered;
        status = intact ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
    }
    pg_close(pg);
    return status;
}

#define PG(field) CLI_FIELD(struct pg_options, field)

static const struct cli_option pktgen_options[] = {
    {"--count", "N", "frames to send (default 1000000)", CLI_U64, PG(count), 1, UINT64_MAX / 2,
     NULL, NULL},
    {"--duration", "S", "send for S seconds instead of a count", CLI_SECONDS, PG(duration), 0, 0,
     NULL, NULL},
    {"--size", "BYTES", "frame size, 64..65535 (default 64)", CLI_U32, PG(size),
     IVSHM_PKT_MIN_FRAME, 65535, NULL, NULL},
    {"--burst", "B", "frames per ring operation, 1..64 (default 32)", CLI_U32, PG(burst), 1,
     IVSHM_BURST_MAX, NULL, NULL},
    {"--json", NULL, "print the summary as one JSON object", CLI_FLAG, PG(json), 0, 0, NULL, NULL},
    {"--keep", NULL, "leave the forwarder running (do not set EXIT)", CLI_FLAG, PG(keep), 0, 0,
     NULL, NULL},
    {"--cpu", "N", "run on CPU N only (recommended: not the forwarder's CPU)", CLI_INDEX, PG(cpu),
     0, CPU_SETSIZE - 1, NULL, NULL},
    CLI_OPTION_END,
};

const struct cli_command cli_cmd_pktgen = {
    .name = "pktgen",
    .args = "NAME",
    .min_args = 1,
    .max_args = 1,
    .segment_args = true,
    .summary = "send frames through a forwarder and check them",
    .details = "Sends numbered, checksummed frames from NAME's mempool 'pkts' into the rings\n"
               "rx0..rxQ-1 of SEG (--tx-to, default NAME), receives them from tx0..txQ-1 of\n"
               "SEG (--rx-from, default NAME), verifies and frees them. Drives the 'ctrl'\n"
               "memzone of each of these segments: waits for READY, sets FWD, and EXIT at the\n"
               "end unless --keep. Buffers of a dead earlier run are reclaimed first.\n"
               "Exit status: 0 iff every frame sent came back intact; 1 otherwise; 2 usage.\n",
    .opts_size = sizeof(struct pg_options),
    .defaults = pg_defaults,
    .options = pktgen_options,
    .more_options = pg_shared_options,
    .run = pktgen_run,
};
