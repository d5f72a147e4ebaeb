/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * party_tool: a host party doing what a user program does, for the hostile
 * tests.
 *
 *   party_tool hold NAME --take N      attach (claiming a party slot), take N
 *                                      buffers from the mempool 'pkts', print
 *                                      "held N party P pid X", wait to be killed
 *   party_tool churn NAME --seconds S  for S seconds: attach (claim), take 4
 *                                      buffers, give them back, detach, again;
 *                                      prints the rounds and failures
 * Both take --dir DIR (default $IVSHM_DIR). Library calls: tests/adapter.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../adapter.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: party_tool hold NAME --take N | churn NAME --seconds S [--dir DIR]\n");
    return 2;
}

static int hold(const char *dir, const char *name, unsigned take)
{
    static struct ivshm_segment seg;
    static struct ivshm_mempool pool;
    struct ivshm_error err;
    if (ta_host_attach(dir, name, true, "party_tool", &seg, &err) ||
        ta_mempool_lookup(ta_host_view(&seg), "pkts", ta_host_party(&seg), &pool, &err)) {
        fprintf(stderr, "party_tool: %s\n", err.msg);
        return 1;
    }
    uint64_t h[64];
    unsigned got = 0;
    while (got < take) {
        unsigned n = take - got < 64 ? take - got : 64;
        if (ta_mempool_get(&pool, NULL, h, n) != IVSHM_OK) {
            fprintf(stderr, "party_tool: %s/pkts: only %u of %u buffers free\n", name, got, take);
            return 1;
        }
        got += n;
    }
    printf("held %u party %d pid %d\n", got, ta_host_party(&seg), (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}

static int churn(const char *dir, const char *name, double seconds)
{
    static struct ivshm_segment seg;
    static struct ivshm_mempool pool;
    unsigned long rounds = 0, failures = 0;
    char first_error[160] = "";
    double end = now() + seconds;
    while (now() < end) {
        struct ivshm_error err;
        if (ta_host_attach(dir, name, true, "churn", &seg, &err) ||
            ta_mempool_lookup(ta_host_view(&seg), "pkts", ta_host_party(&seg), &pool, &err)) {
            if (!failures++)
                snprintf(first_error, sizeof(first_error), "%s", err.msg);
            ta_host_detach(&seg);
            continue;
        }
        uint64_t h[4];
        if (ta_mempool_get(&pool, NULL, h, 4) == IVSHM_OK)
            ta_mempool_put(&pool, NULL, h, 4, NULL);
        ta_host_detach(&seg);
        rounds++;
    }
    printf("churn: %lu rounds, %lu failed attaches%s%s\n", rounds, failures,
           failures ? ", first: " : "", first_error);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("IVSHM_DIR"), *name = NULL;
    unsigned take = 10;
    double seconds = 3;
    if (argc < 3)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--take") == 0 && i + 1 < argc)
            take = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return usage();
    }
    if (!name)
        return usage();
    if (strcmp(argv[1], "hold") == 0)
        return hold(dir, name, take);
    if (strcmp(argv[1], "churn") == 0)
        return churn(dir, name, seconds);
    return usage();
}
