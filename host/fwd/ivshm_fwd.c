/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-fwd: the guest forwarder's loop (common/fwd.c) run as a Linux
 * process, so forwarding is tested and measured without QEMU.
 *
 *   ivshm-fwd [--dir DIR] [--queues Q] [--burst B] [--cpu N] [--mac keep|rewrite]
 *             NAME [rx=RING tx=RING]...
 *
 * Forwards rxN -> txN of segment NAME for N < Q (default: every pair there
 * is), or the pairs the rx=/tx= words give (paired in order, as the guest's
 * words; rings of NAME, written RING or NAME/RING), buffers from NAME/pkts,
 * state in NAME/ctrl; exits 0 when the host side sets EXIT, after publishing
 * final counters (DONE). --mac keep forwards frames untouched (a wire).
 *
 * Cross-connect: ivshm-fwd --mac keep vm1 rx=rx0 tx=tx1 rx=rx1 tx=tx0
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivshm/fwd.h"
#include "ivshm/host/segment_file.h"

static struct ivshm_ring rx_rings[IVSHM_FWD_MAX_QUEUES], tx_rings[IVSHM_FWD_MAX_QUEUES];
static struct ivshm_fwd_port ports[IVSHM_FWD_MAX_QUEUES];
static struct ivshm_mempool pool;

static int usage(const char *msg, const char *value)
{
    fprintf(stderr,
            "ivshm-fwd: %s '%s' (usage: ivshm-fwd [--dir DIR] [--queues Q] [--burst B] [--cpu N] "
            "[--mac keep|rewrite] NAME [rx=RING tx=RING]...)\n",
            msg, value);
    return 2;
}

/* The ring name of an rx=/tx= word's value: RING, or NAME/RING of our segment. */
static const char *pair_ring(const char *value, const char *name)
{
    const char *slash = strchr(value, '/');
    if (!slash)
        return value;
    size_t n = strlen(name);
    return (size_t)(slash - value) == n && strncmp(value, name, n) == 0 ? slash + 1 : NULL;
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
    uint8_t mac_mode = IVSHM_FWD_MAC_REWRITE;
    const char *rx_words[IVSHM_FWD_MAX_QUEUES], *tx_words[IVSHM_FWD_MAX_QUEUES];
    unsigned nrx = 0, ntx = 0;
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
        } else if (strcmp(a, "--mac") == 0 && has_value) {
            const char *m = argv[++i];
            if (strcmp(m, "keep") == 0)
                mac_mode = IVSHM_FWD_MAC_KEEP;
            else if (strcmp(m, "rewrite") == 0)
                mac_mode = IVSHM_FWD_MAC_REWRITE;
            else
                return usage("--mac: not 'keep' or 'rewrite':", m);
        } else if (a[0] == '-') {
            return usage("unknown option or missing value", a);
        } else if (strncmp(a, "rx=", 3) == 0 || strncmp(a, "tx=", 3) == 0) {
            bool rx = a[0] == 'r';
            if ((rx ? nrx : ntx) == IVSHM_FWD_MAX_QUEUES)
                return usage("more than 16 rings of one kind:", a);
            if (rx)
                rx_words[nrx++] = a;
            else
                tx_words[ntx++] = a;
        } else if (!name) {
            name = a;
        } else {
            return usage("unexpected argument", a);
        }
    }
    if (!name)
        return usage("missing segment", "NAME");
    if (nrx != ntx)
        return usage("rx= and tx= words must come in pairs:", nrx > ntx ? "rx=" : "tx=");
    if (nrx && queues)
        return usage("give --queues or rx=/tx= pairs, not both:", "--queues");
    for (unsigned q = 0; q < nrx; q++) {
        const char *word = rx_words[q];
        if (!(rx_words[q] = pair_ring(word + 3, name)) ||
            !(tx_words[q] = pair_ring((word = tx_words[q]) + 3, name)))
            return usage("a ring of another segment (only NAME's rings):", word);
    }
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
        ivshm_segment_mempool(&seg, "pkts", &pool, &err) ||
        ivshm_segment_memzone(&seg, "ctrl", &addr, &len, &err)) {
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
    for (; n < (nrx ? nrx : queues ? queues : IVSHM_FWD_MAX_QUEUES); n++) {
        char rx[IVSHM_NAME_SIZE], tx[IVSHM_NAME_SIZE];
        if (nrx) {
            snprintf(rx, sizeof(rx), "%s", rx_words[n]);
            snprintf(tx, sizeof(tx), "%s", tx_words[n]);
        } else {
            snprintf(rx, sizeof(rx), "rx%u", n);
            snprintf(tx, sizeof(tx), "tx%u", n);
        }
        if (ivshm_segment_ring(&seg, rx, &rx_rings[n], &err) ||
            ivshm_segment_ring(&seg, tx, &tx_rings[n], &err)) {
            if (nrx || queues || n == 0) {
                fprintf(stderr, "ivshm-fwd: %s\n", err.msg);
                return 1;
            }
            break;
        }
    }
    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x02, 0x00};
    memcpy(ctrl->mac, mac, sizeof(mac));
    for (unsigned q = 0; q < n; q++) {
        ivshm_fwd_port_init(&ports[q], &rx_rings[q], &tx_rings[q], &pool, &ctrl->q[q], mac,
                            (uint8_t)q, burst);
        ports[q].mac_mode = mac_mode;
    }
    uint32_t abandoned = ivshm_fwd_run(ctrl, ports, n, 100000000ull);
    if (abandoned)
        fprintf(stderr, "ivshm-fwd: %u frames could not be forwarded before exit (tx full)\n",
                abandoned);
    ivshm_segment_detach(&seg);
    return abandoned ? 1 : 0;
}
