/* SPDX-License-Identifier: BSD-3-Clause */
/* The forwarding loop shared by the guest forwarder and the host-only one. */
#include "ivshm/fwd.h"

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint32_t ivshm_pkt_checksum(const uint8_t *data, uint32_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        h = (h ^ load_le64(data + i)) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

void ivshm_fwd_port_init(struct ivshm_fwd_port *port, struct ivshm_ring *rx, struct ivshm_ring *tx,
                         const struct ivshm_mempool *pool, struct ivshm_fwd_counters *counters,
                         const uint8_t src_mac[6], uint8_t dst_last, uint32_t burst)
{
    port->rx = rx;
    port->tx = tx;
    port->pool = pool;
    port->counters = counters;
    for (int i = 0; i < 6; i++)
        port->src_mac[i] = src_mac[i];
    port->dst_last = dst_last;
    port->mac_mode = IVSHM_FWD_MAC_REWRITE;
    if (burst == 0)
        burst = 1;
    if (burst > 64)
        burst = 64;
    port->burst = burst;
    port->pending_len = port->pending_at = 0;
    /* Carry on from the shared counters: a forwarder that restarts keeps
     * counting where the last one stopped. */
    port->received = atomic_load_explicit(&counters->received, memory_order_relaxed);
    port->sent = atomic_load_explicit(&counters->sent, memory_order_relaxed);
    port->dropped = atomic_load_explicit(&counters->dropped, memory_order_relaxed);
}

/* Rewrites the Ethernet header of the frame behind `handle` (unless the port
 * keeps MACs), if the handle is one of the pool's objects and the frame lies
 * inside it: both modes forward only frames that pass these checks. The header
 * fields are read once: a peer may change them at any time. */
static bool rewrite_frame(const struct ivshm_fwd_port *port, uint64_t handle)
{
    const struct ivshm_mempool *pool = port->pool;
    if (ivshm_mempool_index(pool, handle) == UINT32_MAX)
        return false;
    uint8_t *obj = ivshm_mempool_ptr(pool, handle);
    volatile struct ivshm_pkt *pkt = (volatile struct ivshm_pkt *)obj;
    uint32_t off = pkt->data_off;
    uint32_t len = pkt->data_len;
    if (off < sizeof(struct ivshm_pkt) || len < IVSHM_ETH_HLEN || off > pool->obj_size ||
        len > pool->obj_size - off)
        return false;
    if (port->mac_mode == IVSHM_FWD_MAC_KEEP)
        return true;
    uint8_t *eth = obj + off;
    eth[0] = 0x02;
    eth[1] = eth[2] = eth[3] = eth[4] = 0;
    eth[5] = port->dst_last;
    for (int i = 0; i < 6; i++)
        eth[6 + i] = port->src_mac[i];
    return true;
}

static void publish(struct ivshm_fwd_port *port)
{
    /* Relaxed: counters are statistics; the host reads them only to report
     * and to see that the forwarder holds nothing back. */
    atomic_store_explicit(&port->counters->received, port->received, memory_order_relaxed);
    atomic_store_explicit(&port->counters->sent, port->sent, memory_order_relaxed);
    atomic_store_explicit(&port->counters->dropped, port->dropped, memory_order_relaxed);
}

uint32_t ivshm_fwd_poll(struct ivshm_fwd_port *port)
{
    uint32_t moved = 0;
    if (port->pending_at < port->pending_len) {
        uint32_t n = ivshm_ring_enqueue_burst(port->tx, &port->pending[port->pending_at],
                                              port->pending_len - port->pending_at, NULL);
        port->pending_at += n;
        port->sent += n;
        moved = n;
        if (port->pending_at < port->pending_len) {
            if (n)
                publish(port);
            return moved;
        }
        port->pending_at = port->pending_len = 0;
    }

    uint64_t burst[64];
    uint32_t n = ivshm_ring_dequeue_burst(port->rx, burst, port->burst, NULL);
    if (n == 0) {
        if (moved)
            publish(port);
        return moved;
    }
    port->received += n;
    uint32_t good = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (IVSHM_LIKELY(rewrite_frame(port, burst[i])))
            burst[good++] = burst[i];
        else
            port->dropped++;
    }
    uint32_t sent = ivshm_ring_enqueue_burst(port->tx, burst, good, NULL);
    port->sent += sent;
    moved += sent;
    for (uint32_t i = sent; i < good; i++)
        port->pending[port->pending_len++] = burst[i];
    publish(port);
    return moved;
}

uint32_t ivshm_fwd_run(struct ivshm_fwd_ctrl *ctrl, struct ivshm_fwd_port *ports, uint32_t nports,
                       uint64_t drain_polls)
{
    ctrl->queues = nports;
    uint32_t state = atomic_load_explicit(&ctrl->state, memory_order_acquire);
    if (state != IVSHM_FWD_FWD) {
        /* Release: queues (and the caller's mac) are visible with READY. */
        atomic_store_explicit(&ctrl->state, IVSHM_FWD_READY, memory_order_release);
    }
    uint64_t beat = atomic_load_explicit(&ctrl->heartbeat, memory_order_relaxed);
    for (;;) {
        for (uint32_t i = 0; i < nports; i++)
            ivshm_fwd_poll(&ports[i]);
        /* Check the state and beat the heart every 64 rounds only: both touch
         * a line the host reads, and the ring lines matter more. */
        if ((++beat & 63) == 0) {
            atomic_store_explicit(&ctrl->heartbeat, beat, memory_order_relaxed);
            if (atomic_load_explicit(&ctrl->state, memory_order_acquire) == IVSHM_FWD_EXIT)
                break;
        }
    }
    uint64_t idle = 0;
    uint32_t held;
    for (;;) {
        held = 0;
        uint32_t moved = 0;
        for (uint32_t i = 0; i < nports; i++) {
            moved += ivshm_fwd_poll(&ports[i]);
            held += ivshm_fwd_pending(&ports[i]);
        }
        if (held == 0 && moved == 0)
            break;
        idle = moved ? 0 : idle + 1;
        if (idle >= drain_polls)
            break;
    }
    atomic_store_explicit(&ctrl->heartbeat, beat + 1, memory_order_relaxed);
    /* Release: the final counters are visible with DONE. */
    atomic_store_explicit(&ctrl->state, IVSHM_FWD_DONE, memory_order_release);
    return held;
}
