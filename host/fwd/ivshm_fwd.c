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

#include "ivshm/fwd.h"

static struct ivshm_ring rx_rings[IVSHM_FWD_MAX_QUEUES], tx_rings[IVSHM_FWD_MAX_QUEUES];
static struct ivshm_fwd_port ports[IVSHM_FWD_MAX_QUEUES];
static struct ivshm_mempool pool;

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
    unsigned queues = 0, burst = 32, cpu = 0;
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
            if (!parse_small(argv[++i], 1, 64, &burst))
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

    struct ivshm_segment seg;
    struct ivshm_error err;
    struct ivshm_fwd_ctrl *ctrl;
    void *addr;
    uint64_t len;
    if (ivshm_segment_attach(dir, name, IVSHM_ATTACH_CLAIM, "ivshm-fwd", &seg, &err) ||
        ivshm_mempool_lookup(&seg.view, "pkts", &pool, &err) ||
        ivshm_memzone_lookup(&seg.view, "ctrl", &addr, &len, &err)) {
        fprintf(stderr, "ivshm-fwd: %s\n", err.msg);
        return 1;
    }
    if (len < sizeof(*ctrl)) {
        fprintf(stderr, "ivshm-fwd: %s/ctrl: %llu bytes, smaller than the %zu-byte control block\n",
                name, (unsigned long long)len, sizeof(*ctrl));
        return 1;
    }
    ctrl = addr;
    unsigned n = 0;
    for (; n < (queues ? queues : IVSHM_FWD_MAX_QUEUES); n++) {
        char rx[IVSHM_NAME_SIZE], tx[IVSHM_NAME_SIZE];
        snprintf(rx, sizeof(rx), "rx%u", n);
        snprintf(tx, sizeof(tx), "tx%u", n);
        if (ivshm_ring_lookup(&seg.view, rx, &rx_rings[n], &err) ||
            ivshm_ring_lookup(&seg.view, tx, &tx_rings[n], &err)) {
            if (queues || n == 0) {
                fprintf(stderr, "ivshm-fwd: %s\n", err.msg);
                return 1;
            }
            break;
        }
    }
    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x02, 0x00};
    memcpy(ctrl->mac, mac, sizeof(mac));
    for (unsigned q = 0; q < n; q++)
        ivshm_fwd_port_init(&ports[q], &rx_rings[q], &tx_rings[q], &pool, &ctrl->q[q], mac,
                            (uint8_t)q, burst);
    uint32_t abandoned = ivshm_fwd_run(ctrl, ports, n, 100000000ull);
    if (abandoned)
        fprintf(stderr, "ivshm-fwd: %u frames could not be forwarded before exit (tx full)\n",
                abandoned);
    ivshm_segment_detach(&seg);
    return abandoned ? 1 : 0;
}
