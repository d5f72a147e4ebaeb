/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A doorbell client for tests and measurements, over include/ivshm/doorbell.h.
 *
 *   bell SOCKET info                  print "id=N vectors=V peers=P" and leave
 *   bell SOCKET hold [--count N]      print "id=N", then "rung vector=V" for
 *                                     each ring and "peer P joined|left"; leaves
 *                                     after N rings (default: on SIGTERM)
 *   bell SOCKET ring PEER VECTOR      ring once; "ok" or the error (exit 1)
 *   bell SOCKET cycles N              connect and disconnect N times
 *   bell SOCKET pong --count N        N times: wait for a ring on vector 0,
 *                                     ring every peer's vector 1
 *   bell SOCKET feed --seg NAME [--dir DIR] [--count N] [--sleepy] [--stop] [--after FILE]
 *                                     N round trips through a guest echoing
 *                                     ring rx0 to tx0: enqueue i on rx0 (and
 *                                     ring the guest if it asked), sleep on
 *                                     tx0 until i comes back; --sleepy first
 *                                     waits until the guest sleeps (each trip
 *                                     is a wake-up); --stop ends the guest;
 *                                     --after: connect, then wait for FILE.
 *                                     Prints p50/p99/max of the trip in us.
 *
 * Exit status 0 when everything asked for happened, 1 otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivshm/doorbell.h"
#include "ivshm/ring.h"
#include "ivshm/segment.h"
#include "ivshm/notify.h"

#define ECHO_STOP UINT64_MAX

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void print_peer_event(void *ctx, uint16_t peer, bool joined)
{
    (void)ctx;
    printf("peer %u %s\n", peer, joined ? "joined" : "left");
    fflush(stdout);
}

static const char *option(int argc, char **argv, const char *name, const char *fallback)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return fallback;
}

static bool flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

static int fail(const char *what, const struct ivshm_error *err)
{
    printf("bell: %s: %s\n", what, err->msg);
    return 1;
}

static int hold(struct ivshm_doorbell *db, unsigned long count)
{
    unsigned long rung = 0;
    struct ivshm_error err;
    while (count == 0 || rung < count) {
        uint64_t fired;
        int rc = ivshm_doorbell_wait(db, -1, &fired, &err);
        if (rc)
            return fail("wait", &err);
        for (unsigned v = 0; v < 64; v++)
            if (fired & (1ull << v)) {
                printf("rung vector=%u\n", v);
                rung++;
            }
        fflush(stdout);
    }
    return 0;
}

static int pong(struct ivshm_doorbell *db, unsigned long count)
{
    struct ivshm_error err;
    for (unsigned long i = 0; i < count; i++) {
        uint64_t fired = 0;
        while (!(fired & 1))
            if (ivshm_doorbell_wait(db, 120000, &fired, &err)) /* a UEFI boot takes a while */
                return fail("pong: waiting for ping", &err);
        uint16_t peers[256];
        size_t n = ivshm_doorbell_peers(db, peers, 256);
        for (size_t p = 0; p < n && p < 256; p++)
            if (ivshm_doorbell_ring(db, peers[p], 1, &err))
                return fail("pong", &err);
    }
    printf("pong: %lu\n", count);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Takes tx0's entry `expect`, sleeping on our doorbell while tx0 is empty. */
static int await_echo(struct ivshm_doorbell *db, struct ivshm_ring *tx, uint64_t expect,
                      uint64_t *sleeps)
{
    struct ivshm_error err;
    uint64_t v;
    uint64_t deadline = now_ns() + 5000000000ull;
    while (ivshm_ring_dequeue(tx, &v) != IVSHM_OK) {
        if (now_ns() > deadline) {
            printf("bell: feed: entry %llu did not come back within 5 s\n",
                   (unsigned long long)expect);
            return 1;
        }
        if (ivshm_ring_arm_wake(tx, IVSHM_WAKE_CONSUMER, ivshm_doorbell_id(db), 0, 1)) {
            ++*sleeps;
            int rc = ivshm_doorbell_wait(db, 100, NULL, &err);
            if (rc && rc != IVSHM_E_TIMEOUT)
                return fail("feed: wait", &err);
        }
        ivshm_ring_disarm_wake(tx, IVSHM_WAKE_CONSUMER);
    }
    if (v != expect) {
        printf("bell: feed: got %llu back, expected %llu\n", (unsigned long long)v,
               (unsigned long long)expect);
        return 1;
    }
    return 0;
}

/* Waits until the guest has asked to be woken on rx0, i.e. sleeps. */
static int await_sleeper(struct ivshm_ring *rx)
{
    uint64_t deadline = now_ns() + 5000000000ull;
    while (!ivshm_ring_wake_request(rx, IVSHM_WAKE_CONSUMER)) {
        if (now_ns() > deadline) {
            printf("bell: feed: the guest did not go to sleep within 5 s\n");
            return 1;
        }
        usleep(20);
    }
    return 0;
}

static int feed(struct ivshm_doorbell *db, int argc, char **argv)
{
    const char *seg_name = option(argc, argv, "--seg", NULL);
    unsigned long count = strtoul(option(argc, argv, "--count", "1000"), NULL, 0);
    bool sleepy = flag(argc, argv, "--sleepy");
    struct ivshm_error err;
    struct ivshm_segment seg;
    struct ivshm_ring rx, tx;
    if (!seg_name) {
        printf("bell: feed needs --seg NAME\n");
        return 1;
    }
    if (ivshm_segment_attach(option(argc, argv, "--dir", NULL), seg_name, 0, NULL, &seg, &err) ||
        ivshm_ring_lookup(&seg.view, "rx0", &rx, &err) ||
        ivshm_ring_lookup(&seg.view, "tx0", &tx, &err))
        return fail("feed", &err);
    const char *after = option(argc, argv, "--after", NULL);
    while (after && access(after, F_OK) != 0) /* a test's go-ahead */
        usleep(10000);
    uint64_t *trip = calloc(count ? count : 1, sizeof(*trip));
    uint64_t rings = 0, ring_errors = 0, sleeps = 0;
    int status = 0;
    for (unsigned long i = 0; i < count && status == 0; i++) {
        if (sleepy && (status = await_sleeper(&rx)) != 0)
            break;
        uint64_t t0 = now_ns();
        while (ivshm_ring_enqueue(&rx, i) != IVSHM_OK)
            ;
        uint32_t w = ivshm_ring_wake_needed(&rx, IVSHM_WAKE_CONSUMER);
        if (w && ivshm_doorbell_ring(db, ivshm_wake_peer(w), ivshm_wake_vector(w), &err)) {
            if (!ring_errors++)
                printf("bell: feed: %s\n", err.msg);
        }
        rings += w != 0;
        status = await_echo(db, &tx, i, &sleeps);
        trip[i] = now_ns() - t0;
    }
    if (status == 0 && flag(argc, argv, "--stop")) {
        while (ivshm_ring_enqueue(&rx, ECHO_STOP) != IVSHM_OK)
            ;
        uint32_t w = ivshm_ring_wake_needed(&rx, IVSHM_WAKE_CONSUMER);
        if (w)
            ivshm_doorbell_ring(db, ivshm_wake_peer(w), ivshm_wake_vector(w), NULL);
    }
    if (status == 0 && count) {
        qsort(trip, count, sizeof(*trip), cmp_u64);
        printf("feed: %lu round trips, p50 %.1f us, p99 %.1f us, max %.1f us; "
               "doorbells rung %llu (%llu refused), host sleeps %llu\n",
               count, trip[count / 2] / 1e3, trip[count * 99 / 100] / 1e3, trip[count - 1] / 1e3,
               (unsigned long long)rings, (unsigned long long)ring_errors,
               (unsigned long long)sleeps);
    }
    free(trip);
    ivshm_segment_detach(&seg);
    return status;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: bell SOCKET info|hold|ring|cycles|pong|feed ...\n");
        return 2;
    }
    const char *sock = argv[1], *cmd = argv[2];
    struct ivshm_error err;
    struct ivshm_doorbell_opts opts = {0};
    if (strcmp(cmd, "hold") == 0)
        opts.peer_event = print_peer_event;
    if (strcmp(cmd, "cycles") == 0) {
        unsigned long n = argc > 3 ? strtoul(argv[3], NULL, 0) : 100;
        for (unsigned long i = 0; i < n; i++) {
            struct ivshm_doorbell *db;
            if (ivshm_doorbell_connect(sock, NULL, &db, &err))
                return fail("cycles", &err);
            ivshm_doorbell_close(db);
        }
        printf("cycles: %lu\n", n);
        return 0;
    }
    struct ivshm_doorbell *db;
    if (ivshm_doorbell_connect(sock, &opts, &db, &err))
        return fail("connect", &err);
    int status = 0;
    if (strcmp(cmd, "info") == 0) {
        /* Our own vectors may still be arriving: take what comes within 50 ms. */
        for (uint64_t end = now_ns() + 50000000; now_ns() < end;) {
            if (ivshm_doorbell_process(db, NULL, &err))
                return fail("info", &err);
            usleep(1000);
        }
        printf("id=%u vectors=%u peers=%zu\n", ivshm_doorbell_id(db), ivshm_doorbell_vectors(db),
               ivshm_doorbell_peers(db, NULL, 0));
    } else if (strcmp(cmd, "hold") == 0) {
        printf("id=%u vectors=%u\n", ivshm_doorbell_id(db), ivshm_doorbell_vectors(db));
        status = hold(db, strtoul(option(argc, argv, "--count", "0"), NULL, 0));
    } else if (strcmp(cmd, "ring") == 0 && argc >= 5) {
        if (ivshm_doorbell_ring(db, (uint16_t)strtoul(argv[3], NULL, 0),
                                (uint16_t)strtoul(argv[4], NULL, 0), &err))
            status = fail("ring", &err);
        else
            printf("ok\n");
    } else if (strcmp(cmd, "pong") == 0) {
        printf("id=%u\n", ivshm_doorbell_id(db));
        status = pong(db, strtoul(option(argc, argv, "--count", "1"), NULL, 0));
    } else if (strcmp(cmd, "feed") == 0) {
        status = feed(db, argc, argv);
    } else {
        fprintf(stderr, "bell: unknown command '%s'\n", cmd);
        status = 2;
    }
    ivshm_doorbell_close(db);
    return status;
}
