/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * l2fwd-style forwarding over ivshm rings: the `fwd` preset's control block,
 * the packet buffer format, and the forwarding loop that the bare-metal guest
 * and the host-only forwarder both compile from common/fwd.c.
 *
 * Preset `fwd` (ivshm create NAME --preset fwd[,queues=Q]):
 *   mempool "pkts"            packet buffers (struct ivshm_pkt + frame)
 *   ring    "rx0".."rx<Q-1>"  host -> guest, SP/SC
 *   ring    "tx0".."tx<Q-1>"  guest -> host, SP/SC
 *   memzone "ctrl"            struct ivshm_fwd_ctrl
 *
 * Ring entries are mempool handles: offsets from the start of the segment
 * that holds the pool, which need not be the ring's segment.
 *
 * Protocol on ctrl->state:
 *   NONE  --guest: rings found-->  READY  --host-->  FWD  --host-->  EXIT
 *   EXIT  --guest: drained, counters final-->  DONE
 *   any   --guest: cannot go on-->  FAIL (ctrl->reason says why)
 * The guest forwards in READY and FWD alike; the host sets FWD to say a
 * traffic source is attached. A host that restarts finds READY or FWD and
 * carries on; the guest never stops for it.
 *
 * Freestanding C.
 */
#ifndef IVSHM_FWD_H
#define IVSHM_FWD_H

#include "mempool.h"

#define IVSHM_FWD_MAX_QUEUES 16u

enum ivshm_fwd_state {
    IVSHM_FWD_NONE = 0,
    IVSHM_FWD_READY = 1,
    IVSHM_FWD_FWD = 2,
    IVSHM_FWD_EXIT = 3,
    IVSHM_FWD_DONE = 4,
    IVSHM_FWD_FAIL = 5,
};

/* Counters of one queue pair, written by the forwarder only. */
struct ivshm_fwd_counters {
    _Atomic uint64_t received; /* dequeued from rx */
    _Atomic uint64_t sent;     /* enqueued to tx */
    _Atomic uint64_t dropped;  /* not forwarded: invalid handle or frame */
    uint8_t pad[IVSHM_CACHE_LINE - 24];
};

struct ivshm_fwd_ctrl {
    _Atomic uint32_t state;     /* enum ivshm_fwd_state */
    uint32_t queues;            /* queue pairs the forwarder serves (set before READY) */
    _Atomic uint64_t heartbeat; /* bumped by the forwarder while it polls */
    uint8_t mac[6];             /* the forwarder's port address (source MAC it writes) */
    /* The forwarder's doorbell peer ID + 1 (0: it has none and polls), set
     * before READY; a host that changes state while the forwarder may sleep
     * rings this ID, vector 0. Was pad (zero) before. docs/abi.md 4.1. */
    _Atomic uint16_t doorbell;
    char reason[40]; /* NUL-terminated, when state is FAIL */
    struct ivshm_fwd_counters q[IVSHM_FWD_MAX_QUEUES];
};

_Static_assert(sizeof(struct ivshm_fwd_counters) == IVSHM_CACHE_LINE, "one line per queue");
_Static_assert(offsetof(struct ivshm_fwd_ctrl, doorbell) == 22, "doorbell at 22 (was pad)");
_Static_assert(offsetof(struct ivshm_fwd_ctrl, q) == IVSHM_CACHE_LINE, "counters at 64");
_Static_assert(sizeof(struct ivshm_fwd_ctrl) == 17 * IVSHM_CACHE_LINE, "ctrl is 1088 bytes");

/*
 * Packet buffer: every object of the pool starts with this header; the frame
 * is at data_off from the object start. The forwarder trusts none of it: it
 * checks data_off + data_len against the pool's object size.
 */
struct ivshm_pkt {
    uint32_t data_len; /* frame bytes */
    uint16_t data_off; /* from the object start, >= sizeof(struct ivshm_pkt) */
    uint16_t port;     /* queue it was sent on */
    uint8_t reserved[8];
};
_Static_assert(sizeof(struct ivshm_pkt) == 16, "packet header is 16 bytes");

#define IVSHM_PKT_HEADROOM 64u /* default data_off */
#define IVSHM_ETH_HLEN     14u

/* Test frames (pktgen): Ethernet header, then seq (u64), payload, then a
 * 32-bit checksum of seq + payload (ivshm_pkt_checksum). Minimum 64 bytes. */
#define IVSHM_PKT_ETHERTYPE 0x88b5u /* IEEE local experimental */
#define IVSHM_PKT_MIN_FRAME 64u

/* Checksum of seq and payload: cheap enough for Mpps, sensitive to any
 * changed, swapped or shifted 8-byte word. */
uint32_t ivshm_pkt_checksum(const uint8_t *data, uint32_t len);

/* Preset geometry: each ring has IVSHM_FWD_RING_SLOTS slots and the pool
 * holds enough buffers to fill every ring plus a margin. */
#define IVSHM_FWD_RING_SLOTS 1024u
#define IVSHM_FWD_PKT_SIZE   2048u

static inline uint32_t ivshm_fwd_pool_count(uint32_t queues)
{
    return 2u * IVSHM_FWD_RING_SLOTS * queues + IVSHM_FWD_RING_SLOTS;
}

/* Directory entries the preset adds: 2 rings a queue, the pool, ctrl. */
static inline uint32_t ivshm_fwd_preset_objects(uint32_t queues)
{
    return 2u * queues + 2u;
}

/* One forwarding queue pair, private to the forwarder. */
struct ivshm_fwd_port {
    struct ivshm_ring *rx;
    struct ivshm_ring *tx;
    const struct ivshm_mempool *pool;    /* where the handles point */
    struct ivshm_fwd_counters *counters; /* in ctrl, shared */
    uint8_t src_mac[6];
    uint8_t dst_last; /* destination 02:00:00:00:00:<dst_last> */
    uint32_t burst;
    /* Entries dequeued but not yet accepted by a full tx ring: retried first,
     * never dropped. */
    uint32_t pending_len;
    uint32_t pending_at;
    uint64_t received, sent, dropped; /* private copies of the counters */
    uint64_t pending[64];
};

/* Sets up a port; burst is clamped to 1..64. */
void ivshm_fwd_port_init(struct ivshm_fwd_port *port, struct ivshm_ring *rx, struct ivshm_ring *tx,
                         const struct ivshm_mempool *pool, struct ivshm_fwd_counters *counters,
                         const uint8_t src_mac[6], uint8_t dst_last, uint32_t burst);

/*
 * One poll: retries what the tx ring refused last time; when that is all
 * gone, dequeues up to a burst from rx, rewrites each frame's Ethernet header
 * (destination 02:00:00:00:00:xx, source the port's address) and enqueues
 * them to tx. Invalid handles or frames are counted as dropped and not
 * forwarded (they cannot be freed either). Publishes the counters. Returns the
 * number of entries moved to tx.
 */
uint32_t ivshm_fwd_poll(struct ivshm_fwd_port *port);

/*
 * The forwarder's main loop, the same for guest and host builds: publishes
 * `queues` and READY (unless a host already set FWD), polls every port until
 * the host sets EXIT, then forwards what it still holds (giving up after
 * `drain_polls` polls without progress, e.g. when nobody empties tx), publishes
 * the final counters and sets DONE. Returns the number of entries it had to
 * abandon (0 on a clean exit).
 */
uint32_t ivshm_fwd_run(struct ivshm_fwd_ctrl *ctrl, struct ivshm_fwd_port *ports, uint32_t nports,
                       uint64_t drain_polls);

/* Entries this port holds (dequeued, not yet in tx). */
static inline uint32_t ivshm_fwd_pending(const struct ivshm_fwd_port *port)
{
    return port->pending_len - port->pending_at;
}

#endif
