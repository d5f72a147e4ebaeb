/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-fwd: the guest forwarder's loop (common/fwd.c) run as a Linux
 * process, so forwarding is tested and measured without QEMU.
 *
 *   ivshm-fwd [--dir DIR] [--queues Q] [--burst B] [--cpu N] NAME
 *
 * Forwards rxN -> txN of segment NAME for N < Q (default: every pair there
 * is), buffers from NAME/pkts, state in NAME/ctrl; exits 0 when pktgen sets
 * EXIT, after publishing final counters (DONE).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/internal.h"
#include "ivshm/fwd.h"

static struct ivshm_fwd fwd;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The one segment we attached: every path names it (or no segment). */
static int resolve_segment(void *ctx, const char *name, const struct ivshm_segment_view **view,
                           struct ivshm_error *err)
{
    const struct ivshm_segment *seg = ctx;
    if (name && strcmp(name, seg->view.name) != 0)
        return ivshm_fail(err, IVSHM_E_NOENT, "segment %s: not attached (only %s is)", name,
                          seg->view.name);
    *view = &seg->view;
    return IVSHM_OK;
}

static int usage(const char *msg, const char *value)
{
    fprintf(stderr,
            "ivshm-fwd: %s '%s' (usage: ivshm-fwd [--dir DIR] [--queues Q] [--burst B] [--cpu N] "
            "NAME)\n",
            msg, value);
    return 2;
}

static bool parse_small(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max || *s == '-')
        return false;
    *out = (unsigned)v;
    return true;
}

int main(int argc, char **argv)
{
    const char *dir = getenv(IVSHM_ENV_DIR), *name = NULL;
    unsigned queues = 0, burst = IVSHM_FWD_BURST_DEFAULT, cpu = 0;
    bool pin = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--dir") == 0 && has_value) {
            dir = argv[++i];
        } else if (strcmp(a, "--queues") == 0 && has_value) {
            if (!parse_small(argv[++i], 1, IVSHM_FWD_MAX_QUEUES, &queues))
                return usage("--queues: not a number in 1..16:", argv[i]);
        } else if (strcmp(a, "--burst") == 0 && has_value) {
            if (!parse_small(argv[++i], 1, IVSHM_BURST_MAX, &burst))
                return usage("--burst: not a number in 1..64:", argv[i]);
        } else if (strcmp(a, "--cpu") == 0 && has_value) {
            if (!parse_small(argv[++i], 0, CPU_SETSIZE - 1, &cpu))
                return usage("--cpu: not a CPU number:", argv[i]);
            pin = true;
        } else if (a[0] == '-') {
            return usage("unknown option or missing value", a);
        } else if (!name) {
            name = a;
        } else {
            return usage("unexpected argument", a);
        }
    }
    if (!name)
        return usage("missing segment", "NAME");
    if (pin) {
        /* A poller that the scheduler moves about, or puts on its peer's
         * core, loses an order of magnitude. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0) {
            fprintf(stderr, "ivshm-fwd: --cpu %u: cannot run there: %s\n", cpu, strerror(errno));
            return 1;
        }
    }

    static struct ivshm_segment seg;
    struct ivshm_error err;
    if (ivshm_segment_attach(dir, name, IVSHM_ATTACH_CLAIM, "ivshm-fwd", &seg, &err)) {
        fprintf(stderr, "ivshm-fwd: %s\n", err.msg);
        return 1;
    }
    struct ivshm_fwd_config cfg = {
        .queues = queues,
        .burst = burst,
        .mac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x00},
        .now_ns = now_ns,
    };
    struct ivshm_fwd_resolver resolver = {resolve_segment, &seg};
    if (ivshm_fwd_open(&fwd, &cfg, &resolver, &err) != IVSHM_OK) {
        fprintf(stderr, "ivshm-fwd: %s\n", err.msg);
        ivshm_fwd_fail(&fwd, err.msg);
        ivshm_segment_detach(&seg);
        return 1;
    }
    uint32_t abandoned = ivshm_fwd_run(&fwd);
    if (abandoned)
        fprintf(stderr, "ivshm-fwd: %u frames could not be forwarded before exit (tx full)\n",
                abandoned);
    ivshm_segment_detach(&seg);
    return abandoned ? 1 : 0;
}
