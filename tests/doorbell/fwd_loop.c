/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding loop (ivshm_fwd_run) under constant load, in one process,
 * for instruction counts: its one queue pair is ring rx0 both ways, so every
 * poll dequeues a full burst and enqueues it back, and the loop never idles
 * whatever else the machine runs.
 *
 *   fwd_loop NAME [poll|adaptive] [SECONDS]    (segment NAME: --preset fwd, in $IVSHM_DIR)
 *
 * Adaptive mode gets a doorbell that is never rung (traffic never stops):
 * what the fast path costs with adaptive mode compiled in and armed. After
 * a warm-up second, a second thread reads the frame counter, waits SECONDS
 * (default 2), reads it again and prints frames and frames a second; under
 * callgrind (if <valgrind/callgrind.h> was there at build time) it also
 * zeroes the counts at the start and dumps them at the end, so
 * "instructions / frames" is the loop's cost per frame:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out build/tests/doorbell/fwd_loop ir adaptive
 *
 * (tests/bench/fwd_instructions.py runs it and does the division.) It also
 * builds against a tree from before adaptive mode (no IVSHM_FWD_IDLE_NS),
 * where it measures the plain poll loop: the A in an A/B.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivshm/fwd.h"
#include "ivshm/segment.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS
#endif

#define PREFILL 512u

static struct ivshm_segment seg;
static struct ivshm_fwd fwd;
static unsigned rings;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int resolve(void *ctx, const char *name, const struct ivshm_segment_view **view,
                   struct ivshm_error *err)
{
    (void)ctx, (void)name, (void)err;
    *view = &seg.view;
    return IVSHM_OK;
}

#ifdef IVSHM_FWD_IDLE_NS
#define HAVE_MODES 1
static bool bell_lookup(void *ctx, const struct ivshm_segment_view *view, uint16_t *id, void **bell)
{
    (void)ctx, (void)view;
    *id = 1;
    *bell = NULL;
    return true;
}

static void bell_ring(void *bell, uint16_t peer, uint16_t vector)
{
    (void)bell, (void)peer, (void)vector;
    rings++;
}

static void bell_wait(void *ctx, uint64_t timeout_ns)
{
    (void)ctx;
    struct timespec ts = {0, (long)(timeout_ns < 1000000 ? timeout_ns : 1000000)};
    nanosleep(&ts, NULL);
}

#else
#define HAVE_MODES                0
#define ivshm_fwd_mode_name(mode) "poll (no adaptive mode in this tree)"
#endif

static uint64_t frames(void)
{
    return atomic_load_explicit(&fwd.ctrl->q[0].received, memory_order_relaxed);
}

static void *measure(void *arg)
{
    double seconds = *(double *)arg;
    struct timespec warm = {1, 0},
                    span = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&warm, NULL);
    CALLGRIND_ZERO_STATS;
    uint64_t f0 = frames(), t0 = now_ns();
    nanosleep(&span, NULL);
    uint64_t f1 = frames(), t1 = now_ns();
    CALLGRIND_DUMP_STATS;
    printf("fwd_loop: mode %s: %llu frames in %.3f s (%.2f Mframes/s), %u doorbells rung\n",
           ivshm_fwd_mode_name(fwd.mode), (unsigned long long)(f1 - f0), (double)(t1 - t0) / 1e9,
           (double)(f1 - f0) / ((double)(t1 - t0) / 1e3), rings);
    fflush(stdout);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fwd_loop NAME [poll|adaptive] [SECONDS]\n");
        return 2;
    }
    struct ivshm_error err;
#if HAVE_MODES
    enum ivshm_fwd_mode mode = IVSHM_FWD_MODE_POLL;
    if (argc > 2 && ivshm_fwd_mode_parse(argv[2], &mode, &err) != IVSHM_OK) {
        fprintf(stderr, "fwd_loop: %s\n", err.msg);
        return 2;
    }
#endif
    double seconds = argc > 3 ? atof(argv[3]) : 2;
    if (ivshm_segment_attach(NULL, argv[1], IVSHM_ATTACH_CLAIM, "fwd_loop", &seg, &err)) {
        fprintf(stderr, "fwd_loop: %s\n", err.msg);
        return 1;
    }
#if HAVE_MODES
    static const struct ivshm_fwd_doorbells bells = {bell_lookup, bell_ring, bell_wait, NULL};
#endif
    struct ivshm_fwd_config cfg = {
        .queues = 1,
        .rx = {"rx0"},
        .tx = {"rx0"}, /* the loop: what is sent comes back */
        .mac = {0x02, 0, 0, 0, 0x03, 0},
        .now_ns = now_ns,
#if HAVE_MODES
        .mode = mode,
        .doorbells = &bells,
#endif
    };
    struct ivshm_fwd_resolver resolver = {resolve, NULL};
    if (ivshm_fwd_open(&fwd, &cfg, &resolver, &err) != IVSHM_OK) {
        fprintf(stderr, "fwd_loop: %s\n", err.msg);
        return 1;
    }
    for (unsigned i = 0; i < PREFILL; i++) {
        uint64_t h;
        if (ivshm_mempool_get(&fwd.pool, NULL, &h) != IVSHM_OK) {
            fprintf(stderr, "fwd_loop: pool empty\n");
            return 1;
        }
        struct ivshm_pkt *pkt = ivshm_mempool_ptr(&fwd.pool, h);
        pkt->data_off = IVSHM_PKT_HEADROOM;
        pkt->data_len = IVSHM_PKT_MIN_FRAME;
        ivshm_frame_fill((uint8_t *)pkt + IVSHM_PKT_HEADROOM, IVSHM_PKT_MIN_FRAME, i, cfg.mac);
        ivshm_ring_enqueue(&fwd.rx[0], h);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, measure, &seconds) != 0) {
        fprintf(stderr, "fwd_loop: no thread\n");
        return 1;
    }
    ivshm_fwd_run(&fwd); /* until measure() ends the process */
    return 1;
}
