/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fwd: the bare-metal l2fwd-style forwarder.
 *
 * Command line (key=value words):
 *   rx=SEG/RING tx=SEG/RING   a queue pair; repeat for more (paired in order).
 *                             Default: every rxN/txN pair of the first segment.
 *   pool=SEG/NAME             the mempool the buffers come from
 *                             (default: SEG/pkts, SEG of the first rx ring)
 *   ctrl=SEG/NAME             the control block (default: SEG/ctrl, same SEG)
 *   burst=N                   entries per ring operation, 1..64 (default 32)
 *   mac=keep                  a wire: frames leave exactly as they came
 *                             (default mac=rewrite: l2fwd's Ethernet rewrite)
 *
 * Cross-connect two host ports (frames from rx0 leave on tx1 and back):
 *   rx=vm1/rx0 tx=vm1/tx1 rx=vm1/rx1 tx=vm1/tx0 mac=keep
 *
 * Runs common/fwd.c's loop: READY, forward until the host sets EXIT, then
 * DONE with final counters, and exit code 0. The buffers stay in their pool:
 * the forwarder never allocates or frees.
 */
#include <stdio.h>
#include <string.h>

#include <ivshm/fwd.h>

#include "guest.h"

static struct ivshm_ring rx_rings[IVSHM_FWD_MAX_QUEUES], tx_rings[IVSHM_FWD_MAX_QUEUES];
static struct ivshm_fwd_port ports[IVSHM_FWD_MAX_QUEUES];
static struct ivshm_mempool pool;
static char rx_paths[IVSHM_FWD_MAX_QUEUES][2 * IVSHM_NAME_SIZE];
static char tx_paths[IVSHM_FWD_MAX_QUEUES][2 * IVSHM_NAME_SIZE];

static struct ivshm_fwd_ctrl *ctrl;

static int fail(const char *what, const char *reason)
{
    printf("fwd: %s: %s\n", what, reason);
    if (ctrl) {
        snprintf(ctrl->reason, sizeof(ctrl->reason), "%s", reason);
        atomic_store_explicit(&ctrl->state, IVSHM_FWD_FAIL, memory_order_release);
    }
    return GUEST_EXIT_FAILURE;
}

/* "seg/obj" -> seg (into out). */
static void segment_of(const char *path, char *out, size_t size)
{
    size_t n = 0;
    while (path[n] && path[n] != '/' && n + 1 < size) {
        out[n] = path[n];
        n++;
    }
    out[n] = '\0';
}

static unsigned pairs_from_cmdline(int argc, char **argv)
{
    unsigned nrx = 0, ntx = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "rx=", 3) == 0 && nrx < IVSHM_FWD_MAX_QUEUES)
            snprintf(rx_paths[nrx++], sizeof(rx_paths[0]), "%s", argv[i] + 3);
        else if (strncmp(argv[i], "tx=", 3) == 0 && ntx < IVSHM_FWD_MAX_QUEUES)
            snprintf(tx_paths[ntx++], sizeof(tx_paths[0]), "%s", argv[i] + 3);
    }
    return nrx < ntx ? nrx : ntx;
}

/* Every rxN/txN pair of the first valid segment. */
static unsigned default_pairs(void)
{
    const struct guest_ivshm_device *dev = NULL;
    for (size_t i = 0; i < guest_ivshm_count() && !dev; i++)
        if (guest_ivshm_get(i)->state == GUEST_IVSHM_VALID)
            dev = guest_ivshm_get(i);
    if (!dev)
        return 0;
    unsigned n = 0;
    for (; n < IVSHM_FWD_MAX_QUEUES; n++) {
        struct ivshm_dir_entry e;
        char name[IVSHM_NAME_SIZE];
        snprintf(name, sizeof(name), "rx%u", n);
        if (ivshm_segment_find(&dev->view, name, IVSHM_OBJ_RING, &e, NULL) != IVSHM_OK)
            break;
        snprintf(name, sizeof(name), "tx%u", n);
        if (ivshm_segment_find(&dev->view, name, IVSHM_OBJ_RING, &e, NULL) != IVSHM_OK)
            break;
        snprintf(rx_paths[n], sizeof(rx_paths[0]), "%s/rx%u", dev->view.name, n);
        snprintf(tx_paths[n], sizeof(tx_paths[0]), "%s/tx%u", dev->view.name, n);
    }
    return n;
}

int main(int argc, char **argv)
{
    struct ivshm_error err;
    char seg[IVSHM_NAME_SIZE], path[2 * IVSHM_NAME_SIZE + 8];

    unsigned queues = pairs_from_cmdline(argc, argv);
    if (queues == 0)
        queues = default_pairs();
    if (queues == 0)
        return fail("setup", "no rx/tx ring pair (give rx=SEG/RING tx=SEG/RING)");
    segment_of(rx_paths[0], seg, sizeof(seg));

    const char *ctrl_path = guest_arg("ctrl");
    if (!ctrl_path) {
        snprintf(path, sizeof(path), "%s/ctrl", seg);
        ctrl_path = path;
    }
    uint64_t ctrl_len = 0;
    void *zone = guest_memzone_lookup(ctrl_path, &ctrl_len, &err);
    if (!zone)
        return fail(ctrl_path, err.msg);
    if (ctrl_len < sizeof(struct ivshm_fwd_ctrl))
        return fail(ctrl_path, "memzone smaller than the control block");
    ctrl = zone;

    const char *pool_path = guest_arg("pool");
    char pool_buf[2 * IVSHM_NAME_SIZE + 8];
    if (!pool_path) {
        snprintf(pool_buf, sizeof(pool_buf), "%s/pkts", seg);
        pool_path = pool_buf;
    }
    if (guest_mempool_lookup(pool_path, &pool, &err) != IVSHM_OK)
        return fail(pool_path, err.msg);

    uint64_t burst = guest_arg_u64("burst", 32);
    if (burst < 1 || burst > 64)
        return fail("burst", "not in 1..64");

    const char *mac_word = guest_arg("mac");
    uint8_t mac_mode = IVSHM_FWD_MAC_REWRITE;
    if (mac_word && strcmp(mac_word, "keep") == 0)
        mac_mode = IVSHM_FWD_MAC_KEEP;
    else if (mac_word && strcmp(mac_word, "rewrite") != 0)
        return fail("mac", "not 'keep' or 'rewrite'");

    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x10, 0x00};
    memcpy(ctrl->mac, mac, sizeof(mac));
    for (unsigned q = 0; q < queues; q++) {
        if (guest_ring_lookup(rx_paths[q], &rx_rings[q], &err) != IVSHM_OK)
            return fail(rx_paths[q], err.msg);
        if (guest_ring_lookup(tx_paths[q], &tx_rings[q], &err) != IVSHM_OK)
            return fail(tx_paths[q], err.msg);
        ivshm_fwd_port_init(&ports[q], &rx_rings[q], &tx_rings[q], &pool, &ctrl->q[q], mac,
                            (uint8_t)q, (uint32_t)burst);
        ports[q].mac_mode = mac_mode;
        printf("fwd: queue %u: rx=%s tx=%s pool=%s\n", q, rx_paths[q], tx_paths[q], pool_path);
    }
    printf("fwd: ready, %u queue pair%s, burst %u, mac %s, ctrl=%s\n", queues,
           queues == 1 ? "" : "s", (unsigned)burst,
           mac_mode == IVSHM_FWD_MAC_KEEP ? "keep" : "rewrite", ctrl_path);
    fflush(stdout);
    guest_ivshm_heartbeat();

    uint32_t abandoned = ivshm_fwd_run(ctrl, ports, queues, 10000000ull);

    uint64_t received = 0, sent = 0, dropped = 0;
    for (unsigned q = 0; q < queues; q++) {
        received += ports[q].received;
        sent += ports[q].sent;
        dropped += ports[q].dropped;
    }
    printf("fwd: done received=%llu sent=%llu dropped=%llu abandoned=%u\n",
           (unsigned long long)received, (unsigned long long)sent, (unsigned long long)dropped,
           abandoned);
    return abandoned ? GUEST_EXIT_FAILURE : GUEST_EXIT_OK;
}
