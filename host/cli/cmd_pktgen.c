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
#include <time.h>
#include <unistd.h>

#include "common/internal.h"
#include "host/cli/cli.h"
#include "host/cli/doorbells.h"
#include "host/cli/commands.h"
#include "host/cli/traffic.h"
#include "ivshm/doorbell.h"
#include "ivshm/notify.h"

/* Doorbells and groups: what pktgen alone counts. */
static struct {
    uint64_t sleeps;  /* adaptive: sleeps waiting for frames to come back */
    uint64_t wakeups; /* of which a forwarder rang us */
    double *trips;    /* --group: seconds from a group's first frame sent to its last back */
    size_t ntrips, trips_cap;
} bells;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&pg_stop_requested, true);
}

/* ---- doorbells ---- */

/*
 * Connects to the doorbell server of every segment we drive, where one runs
 * (ivshm serve): to ring a forwarder that sleeps, and to sleep ourselves.
 * Settles the mode: AUTO is adaptive when rx_from has a server.
 */
static int connect_doorbells(struct pg_state *pg, struct ivshm_error *err)
{
    for (int i = 0; i < pg->nsegs; i++) {
        struct pg_segment *s = &pg->segs[i];
        const char *socket = s == pg->pool_seg ? pg->opt.socket : NULL;
        bool needed = s == pg->rx_seg && pg->opt.mode == IVSHM_FWD_MODE_ADAPTIVE;
        int rc = cli_doorbell_connect(pg->opt.dir, s->name, socket, needed, &s->db, err);
        if (rc)
            return rc;
        if (s->ctrl) /* to ring its forwarder at state changes */
            ivshm_fwd_host_set_doorbell(&pg->fwds, s->ctrl, s->db);
    }
    if (pg->opt.mode == IVSHM_FWD_MODE_AUTO)
        pg->opt.mode = pg->rx_seg->db ? IVSHM_FWD_MODE_ADAPTIVE : IVSHM_FWD_MODE_POLL;
    return IVSHM_OK;
}

static bool all_back(const struct pg_state *pg)
{
    const struct pg_stats *s = &pg->st;
    return s->received + s->corrupted + s->duplicated >= s->sent;
}

/*
 * Adaptive mode: nothing has moved for `idle_for` seconds. Once that is the
 * idle spell and frames are out, asks the forwarder to ring us when one comes
 * back on any receive ring, and sleeps (at most IVSHM_FWD_SLEEP_NS).
 */
static void idle_wait(struct pg_state *pg, double idle_for)
{
    if (pg->opt.mode != IVSHM_FWD_MODE_ADAPTIVE || idle_for < pg->opt.idle_us * 1e-6 ||
        all_back(pg))
        return;
    struct ivshm_doorbell *db = pg->rx_seg->db;
    uint16_t id = ivshm_doorbell_id(db);
    uint32_t armed = 0;
    bool work = false;
    for (; armed < pg->nqueues && !work; armed++)
        work = !ivshm_ring_arm_wake(&pg->queues[armed].recv, IVSHM_WAKE_CONSUMER, id, 0, 1);
    if (!work) {
        ivshm_doorbell_wait(db, (int)(IVSHM_FWD_SLEEP_NS / 1000000), NULL, NULL);
        bells.sleeps++;
    }
    for (uint32_t q = 0; q < armed; q++)
        if (!ivshm_ring_disarm_wake(&pg->queues[q].recv, IVSHM_WAKE_CONSUMER) && !work)
            bells.wakeups++;
}

/* ---- groups ---- */

static void record_trip(double seconds)
{
    if (bells.ntrips == bells.trips_cap) {
        size_t cap = bells.trips_cap ? 2 * bells.trips_cap : 1024;
        double *grown = realloc(bells.trips, cap * sizeof(*grown));
        if (!grown)
            return; /* the figure is lost, not the run */
        bells.trips = grown;
        bells.trips_cap = cap;
    }
    bells.trips[bells.ntrips++] = seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50, p99 and max of the round trips, in microseconds. */
static void trip_figures(double out[3])
{
    out[0] = out[1] = out[2] = 0;
    size_t n = bells.ntrips;
    if (!n)
        return;
    qsort(bells.trips, n, sizeof(double), cmp_double);
    out[0] = bells.trips[n / 2] * 1e6;
    out[1] = bells.trips[n * 99 / 100] * 1e6;
    out[2] = bells.trips[n - 1] * 1e6;
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && !atomic_load(&pg_stop_requested))
        ;
}

/* ---- sending ---- */

/* Fills and enqueues up to a burst on every queue; frames the ring refuses are
 * kept and offered first next time. */
static uint32_t send_all(struct pg_state *pg, uint64_t *seq, uint64_t limit)
{
    uint32_t total = 0;
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        struct pg_queue *q = &pg->queues[qi];
        if (q->held_at == q->held_len) {
            uint32_t want = pg->opt.burst;
            if (limit && limit - *seq < want)
                want = (uint32_t)(limit - *seq);
            /* A pool that has nothing free is normal (all in flight); a
             * wait on its free ring that gave up is not: pg_wait_error. */
            if (want == 0 || ivshm_mempool_get_bulk(&pg->pool, &pg->cache, q->held, want))
                continue;
            for (uint32_t i = 0; i < want; i++)
                pg_frame_fill(pg, q->held[i], qi, *seq + i);
            *seq += want;
            q->held_at = 0;
            q->held_len = want;
        }
        uint32_t n = ivshm_ring_enqueue_burst(&q->send, q->held + q->held_at,
                                              q->held_len - q->held_at, NULL);
        pg->st.sent += n;
        total += n;
        q->held_at += n;
        if (n)
            pg_wake_forwarder(pg, q);
    }
    return total;
}

/* Whether some filled frames have not gone into a send ring yet. */
static bool holding(const struct pg_state *pg)
{
    for (uint32_t qi = 0; qi < pg->nqueues; qi++)
        if (pg->queues[qi].held_at != pg->queues[qi].held_len)
            return true;
    return false;
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
    /* send_all sends no frame numbered `limit` or above (0: no limit). With
     * --group: the end of the current group, which must come back whole
     * before the gap and the next group. */
    uint64_t limit = o->count;
    if (o->group)
        limit = o->count && o->count < o->group ? o->count : o->group;
    double group_start = start;

    /* Progress is a frame into a ring or out of one. None for `timeout`
     * seconds means the forwarder stopped (or never consumes): give up then
     * rather than wait for ever with the rings full. */
    double last_progress = start;
    while (!atomic_load_explicit(&pg_stop_requested, memory_order_relaxed)) {
        double t = pg_now(); /* vDSO: some 20 ns, for up to a burst per queue */
        if (o->group && seq == limit && all_back(pg) && !holding(pg)) {
            record_trip(t - group_start);
            if (o->count ? seq >= o->count : t >= end_send)
                break;
            sleep_seconds(o->gap);
            t = group_start = last_progress = pg_now();
            limit = o->count && o->count - seq < o->group ? o->count : seq + o->group;
        }
        bool sending = o->count ? seq < o->count || (o->group && !all_back(pg)) : t < end_send;
        if (!sending)
            break;
        if (send_all(pg, &seq, limit) + pg_receive_all(pg)) {
            last_progress = t;
        } else if (t - last_progress > o->timeout) {
            pg->stalled = true;
            break;
        } else {
            idle_wait(pg, t - last_progress);
        }
        /* A wait on the pool's free ring gave up (a get or put stuck behind
         * a dead or scribbling peer, or a signal): stop, it is reported. */
        if (IVSHM_UNLIKELY(ivshm_ring_error(&pg->pool.ring)))
            break;
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
        bool held = holding(pg);
        uint32_t moved = held ? send_all(pg, &seq, seq) : 0;
        if (!held && all_back(pg))
            break;
        moved += pg_receive_all(pg);
        double t = pg_now();
        if (moved)
            last_progress = t;
        else if (t - last_progress > o->timeout)
            pg->stalled = true;
        else if (o->mode == IVSHM_FWD_MODE_ADAPTIVE)
            idle_wait(pg, t - last_progress);
        else
            pg_sleep_ms(0);
    }
    *seconds = pg_now() - start;
    if (live)
        printf("\n");
    /* Frames filled but never accepted by a ring go back to the pool. */
    for (uint32_t qi = 0; qi < pg->nqueues; qi++) {
        struct pg_queue *q = &pg->queues[qi];
        if (q->held_at != q->held_len)
            ivshm_mempool_put_bulk(&pg->pool, &pg->cache, q->held + q->held_at,
                                   q->held_len - q->held_at, NULL);
        q->held_at = q->held_len = 0;
    }
    ivshm_mempool_cache_flush(&pg->pool, &pg->cache);
}

static void report(struct pg_state *pg, double seconds, bool done)
{
    const struct pg_stats *s = &pg->st;
    uint64_t back = s->received + s->corrupted;
    uint64_t lost = s->sent > back ? s->sent - back : 0;
    double mpps = seconds > 0 ? (double)s->received / seconds / 1e6 : 0;
    uint64_t g_recv, g_sent, g_drop, g_sleeps, g_wakeups, g_rings;
    ivshm_fwd_host_counters(&pg->fwds, &g_recv, &g_sent, &g_drop);
    ivshm_fwd_host_wake_counters(&pg->fwds, &g_sleeps, &g_wakeups, &g_rings);
    double trip[3];
    trip_figures(trip);
    const char *mode = ivshm_fwd_mode_name(pg->opt.mode);
    double us[5];
    pg_latency_figures(pg, us);
    if (pg->opt.json) {
        printf("{\"segment\":\"%s\",\"queues\":%u,\"size\":%u,\"burst\":%u,\"sent\":%llu,"
               "\"received\":%llu,\"lost\":%llu,\"corrupted\":%llu,\"duplicated\":%llu,"
               "\"reordered\":%llu,\"mpps\":%.4f,\"seconds\":%.3f,\"reclaimed\":%u,\"stalled\":%s,"
               "\"mode\":\"%s\",\"sleeps\":%llu,\"wakeups\":%llu,\"rings\":%llu,"
               "\"groups\":%zu,\"trip_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},",
               pg->opt.name, pg->nqueues, pg->opt.size, pg->opt.burst, (unsigned long long)s->sent,
               (unsigned long long)s->received, (unsigned long long)lost,
               (unsigned long long)s->corrupted, (unsigned long long)s->duplicated,
               (unsigned long long)s->reordered, mpps, seconds, s->reclaimed,
               pg->stalled ? "true" : "false", mode, (unsigned long long)bells.sleeps,
               (unsigned long long)bells.wakeups, (unsigned long long)pg->rings, bells.ntrips,
               trip[0], trip[1], trip[2]);
        if (pg->opt.latency)
            printf("\"latency\":{\"trips\":%zu,\"rate\":%.1f,\"min_us\":%.3f,\"p50_us\":%.3f,"
                   "\"p99_us\":%.3f,\"p99.9_us\":%.3f,\"max_us\":%.3f},",
                   pg->lat.trips, pg->lat.rate, us[0], us[1], us[2], us[3], us[4]);
        printf("\"forwarder\":{\"received\":%llu,\"sent\":%llu,\"dropped\":%llu,\"sleeps\":%llu,"
               "\"wakeups\":%llu,\"rings\":%llu,\"done\":%s}}\n",
               (unsigned long long)g_recv, (unsigned long long)g_sent, (unsigned long long)g_drop,
               (unsigned long long)g_sleeps, (unsigned long long)g_wakeups,
               (unsigned long long)g_rings, done ? "true" : "false");
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
        if (pg->opt.latency) {
            char how[64];
            if (pg->opt.rate)
                snprintf(how, sizeof(how), "%.0f frames/s", pg->lat.rate);
            else
                snprintf(how, sizeof(how), "one in flight");
            printf("pktgen: round trip of %zu frames (%s): min %.3f us, p50 %.3f us, "
                   "p99 %.3f us, p99.9 %.3f us, max %.3f us\n",
                   pg->lat.trips, how, us[0], us[1], us[2], us[3], us[4]);
        }
        if (bells.ntrips)
            printf("pktgen: %zu groups of up to %llu frames, %.3f s apart: round trip p50 %.1f us, "
                   "p99 %.1f us, max %.1f us\n",
                   bells.ntrips, (unsigned long long)pg->opt.group, pg->opt.gap, trip[0], trip[1],
                   trip[2]);
        printf("pktgen: mode %s: slept %llu times (%llu rung awake), rang %llu doorbells; "
               "forwarder slept %llu times (%llu rung awake), rang %llu\n",
               mode, (unsigned long long)bells.sleeps, (unsigned long long)bells.wakeups,
               (unsigned long long)pg->rings, (unsigned long long)g_sleeps,
               (unsigned long long)g_wakeups, (unsigned long long)g_rings);
    }
}

static int frames_fit(const struct pg_state *pg, struct ivshm_error *err)
{
    if (pg->opt.size + IVSHM_PKT_HEADROOM <= pg->pool.obj_size)
        return IVSHM_OK;
    return ivshm_fail(
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
    if (pg->opt.rate)
        pg->opt.latency = true;
    if (!pg->opt.count && pg->opt.duration == 0)
        pg->opt.count = pg->opt.latency ? 100000 : 1000000;
    if (cli_pin_cpu(pg->opt.cpu) != CLI_EXIT_OK)
        return CLI_EXIT_RUNTIME;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct ivshm_error err = {0};
    int status;
    if (pg_open_all(pg, &err) || frames_fit(pg, &err) || connect_doorbells(pg, &err) ||
        ivshm_fwd_host_wait_ready(&pg->fwds, pg->opt.timeout, &err) || pg_open_queues(pg, &err) ||
        pg_claim_queues(pg, true, &err) || pg_reclaim_dead(pg, pg->opt.timeout, &err) ||
        pg_claim_party(pg, &err)) {
        status = cli_fail(cli_exit_status(err.code), "%s", err.msg);
    } else {
        double seconds = 0;
        ivshm_fwd_host_start(&pg->fwds);
        if (pg->opt.latency)
            pg_latency_traffic(pg, &seconds);
        else
            traffic(pg, &seconds);
        bool done = true;
        if (!pg->opt.keep) {
            ivshm_fwd_host_exit(&pg->fwds);
            done = ivshm_fwd_host_wait_done(&pg->fwds, 5.0);
        }
        report(pg, seconds, done);
        const struct pg_stats *s = &pg->st;
        bool intact = s->sent > 0 && s->received == s->sent && !s->corrupted && !s->duplicated &&
                      !s->reordered;
        status = intact ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
        if (pg_wait_error(pg, &err))
            status = cli_fail(CLI_EXIT_RUNTIME, "%s", err.msg);
    }
    pg_close(pg);
    free(bells.trips);
    bells.trips = NULL;
    return status;
}

static void pktgen_defaults(void *opts)
{
    pg_defaults(opts);
    ((struct pg_options *)opts)->idle_us = IVSHM_FWD_IDLE_NS / 1000;
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
    {"--latency", NULL,
     "measure round trips, one frame in flight: min/p50/p99/p99.9/max (default --count 100000)",
     CLI_FLAG, PG(latency), 0, 0, NULL, NULL},
    {"--rate", "PPS", "--latency at a fixed rate: a frame every 1/PPS s, 1..1000000000", CLI_U64,
     PG(rate), 1, 1000000000, NULL, NULL},
    CLI_OPTION_MODE(struct pg_options,
                    "adaptive: sleep on a doorbell while waiting for frames (default when a "
                    "doorbell server runs)"),
    CLI_OPTION_IDLE_US(struct pg_options),
    {"--socket", "PATH", "NAME's doorbell server socket (default DIR/.ivshm-NAME.sock)", CLI_STRING,
     PG(socket), 0, 0, NULL, NULL},
    {"--group", "N", "send N frames at a time, each group back before the next", CLI_U64, PG(group),
     1, UINT64_MAX / 2, NULL, NULL},
    {"--gap", "S", "--group: idle S seconds between groups (default 0)", CLI_SECONDS, PG(gap), 0,
     3600, NULL, NULL},
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
    .defaults = pktgen_defaults,
    .options = pktgen_options,
    .more_options = pg_shared_options,
    .run = pktgen_run,
};
