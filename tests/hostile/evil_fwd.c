/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evil_fwd: a forwarder on queue 0 that does what ivshm-fwd does (rx0 ->
 * tx0, Ethernet header rewritten) except that it gives the K-th frame the
 * sequence number SEQ and a checksum that matches it: a frame pktgen cannot
 * tell from a good one by its checksum or addresses (issue 13 F7).
 *
 *   evil_fwd [--dir DIR] NAME --seq SEQ [--at K]      (K: 1, the first frame)
 *
 * Frame format: docs/abi.md 4.2 (sequence number at frame offset 14,
 * checksum of [14, len - 4) in the last 4 bytes). Library calls:
 * tests/adapter.c. Exits 0 when pktgen sets EXIT (after setting DONE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../adapter.h"

int main(int argc, char **argv)
{
    const char *dir = getenv("IVSHM_DIR"), *name = NULL;
    unsigned long long seq = 0, at = 1;
    bool have_seq = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--seq") == 0 && i + 1 < argc)
            seq = strtoull(argv[++i], NULL, 0), have_seq = true;
        else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
            at = strtoull(argv[++i], NULL, 0);
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            name = NULL, i = argc;
    }
    if (!name || !have_seq) {
        fprintf(stderr, "usage: evil_fwd [--dir DIR] NAME --seq SEQ [--at K]\n");
        return 2;
    }
    static struct ivshm_segment seg;
    static struct ivshm_mempool pool;
    static struct ivshm_ring rx, tx;
    struct ivshm_error err;
    void *addr;
    uint64_t len;
    if (ta_host_attach(dir, name, true, "evil_fwd", &seg, &err) ||
        ta_mempool_lookup(ta_host_view(&seg), "pkts", ta_host_party(&seg), &pool, &err) ||
        ta_ring_lookup(ta_host_view(&seg), "rx0", &rx, &err) ||
        ta_ring_lookup(ta_host_view(&seg), "tx0", &tx, &err) ||
        ta_memzone_lookup(ta_host_view(&seg), "ctrl", &addr, &len, &err)) {
        fprintf(stderr, "evil_fwd: %s\n", err.msg);
        return 1;
    }
    struct ivshm_fwd_ctrl *ctrl = addr;
    static const uint8_t mac[6] = {0x02, 0, 0, 0, 0x02, 0};
    memcpy(ctrl->mac, mac, sizeof(mac));
    ctrl->queues = 1;
    atomic_store_explicit(&ctrl->state, IVSHM_FWD_READY, memory_order_release);
    unsigned long long frames = 0, received = 0, sent = 0, beat = 0;
    while (atomic_load_explicit(&ctrl->state, memory_order_acquire) != IVSHM_FWD_EXIT) {
        atomic_store_explicit(&ctrl->heartbeat, ++beat, memory_order_relaxed);
        uint64_t h[32];
        uint32_t n = ta_ring_dequeue(&rx, h, 32, false);
        received += n;
        for (uint32_t i = 0; i < n; i++) {
            if (ta_mempool_index(&pool, h[i]) == UINT32_MAX)
                continue;
            uint8_t *obj = ta_mempool_ptr(&pool, h[i]);
            const struct ivshm_pkt *pkt = (const void *)obj;
            uint8_t *f = obj + pkt->data_off;
            uint32_t flen = pkt->data_len;
            memcpy(f, "\x02\0\0\0\0\0", 6);
            memcpy(f + 6, mac, 6);
            if (++frames == at) {
                for (int b = 0; b < 8; b++)
                    f[14 + b] = (uint8_t)(seq >> (8 * b));
                uint32_t sum = ta_pkt_checksum(f + 14, flen - 18);
                memcpy(f + flen - 4, &sum, 4);
                fprintf(stderr, "evil_fwd: frame %llu now has sequence number %llu\n", frames, seq);
            }
        }
        uint32_t done = 0;
        while (done < n &&
               atomic_load_explicit(&ctrl->state, memory_order_acquire) != IVSHM_FWD_EXIT)
            done += ta_ring_enqueue(&tx, h + done, n - done, false);
        sent += done;
        atomic_store_explicit(&ctrl->q[0].received, received, memory_order_relaxed);
        atomic_store_explicit(&ctrl->q[0].sent, sent, memory_order_relaxed);
    }
    atomic_store_explicit(&ctrl->state, IVSHM_FWD_DONE, memory_order_release);
    ta_host_detach(&seg);
    return 0;
}
