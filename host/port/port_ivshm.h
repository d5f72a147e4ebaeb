/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-port's adapter to libivshm: every library call ivshm-port makes,
 * other than the inline ring and mempool operations of the data path
 * (ivshm_ring_enqueue_burst, ivshm_mempool_get_bulk, ...), goes through
 * here, so a rename in the library is an edit of port_ivshm.c alone.
 *
 * Errors are one line in struct ivshm_error, "<thing>: <reason>".
 */
#ifndef IVSHM_PORT_IVSHM_H
#define IVSHM_PORT_IVSHM_H

#include <stdbool.h>
#include <stdint.h>

#include "ivshm/fwd.h"
#include "ivshm/segment.h"

#define PI_NAME_SIZE IVSHM_NAME_SIZE
#define PI_MAX_SEGS  65u
#define PI_MAX_POOLS 32u

/* An attached segment. */
struct pi_seg {
    char name[PI_NAME_SIZE];
    struct ivshm_segment seg;
    struct ivshm_fwd_ctrl *ctrl; /* its "ctrl" memzone, or NULL */
    bool claimed;                /* we hold a party slot in it */
};

/* A mempool we allocate from; `mp` is the handle reclaim uses (each mapping
 * copies it for its own thread). */
struct pi_pool {
    char path[2 * PI_NAME_SIZE + 2];
    struct pi_seg *seg;
    struct ivshm_mempool mp;
};

struct pi_set {
    const char *dir; /* NULL: the library's default resolution */
    struct pi_seg segs[PI_MAX_SEGS];
    unsigned nsegs;
    struct pi_pool pools[PI_MAX_POOLS];
    unsigned npools;
};

/* Splits "SEG/NAME" into its parts; false (err filled) when malformed. */
bool pi_split_path(const char *path, char seg[PI_NAME_SIZE], char name[PI_NAME_SIZE],
                   struct ivshm_error *err);

/* Opens pool SEG/NAME (attaching SEG with a party slot of ours, labelled
 * "ivshm-port"). Open every pool before any ring: a segment attached for a
 * ring alone holds no party slot. The same path twice gives the same pool. */
int pi_open_pool(struct pi_set *set, const char *path, struct pi_pool **pool,
                 struct ivshm_error *err);

/* Opens ring SEG/NAME. */
int pi_open_ring(struct pi_set *set, const char *path, struct ivshm_ring *ring, struct pi_seg **seg,
                 struct ivshm_error *err);

/* Segment of the pool's buffers: base address and mapped length. */
void pi_pool_memory(const struct pi_pool *pool, void **base, uint64_t *len);

/* Detaches everything. Party slots are released, unless keep_claims: then
 * they stay ALIVE with our pid, and once we have exited the next host party
 * sees a dead process and takes back the buffers still marked ours. */
void pi_close(struct pi_set *set, bool keep_claims);

/* ---- the ctrl protocol, host role ---- */

/*
 * Waits until the forwarder of every segment with a ctrl block is READY or
 * FWD and its heartbeat moves, up to `timeout` seconds (or until *stop).
 * Fails on FAIL (naming the forwarder's reason), on a stale heartbeat, or
 * when none comes up.
 */
int pi_wait_ready(struct pi_set *set, double timeout, const _Atomic bool *stop,
                  struct ivshm_error *err);

/* READY -> FWD on every ctrl: a traffic source is attached. */
void pi_set_forwarding(struct pi_set *set);

/* READY/FWD -> EXIT on every ctrl: the forwarders pass on what they hold,
 * publish final counters and set DONE. */
void pi_request_exit(struct pi_set *set);

/* Waits up to `seconds` until no ctrl says EXIT any more. Returns false when
 * some forwarder did not finish in time. */
bool pi_wait_done(struct pi_set *set, double seconds);

/* True when every active forwarder holds nothing (received = sent + dropped
 * on every queue); whether a forwarder is active on `seg`: READY, FWD or
 * EXIT (until DONE it consumes its rx rings, which nobody else may touch). */
bool pi_forwarders_idle(const struct pi_set *set);
bool pi_forwarder_active(const struct pi_seg *seg);

/* The forwarder's heartbeat on `seg` (0 without a ctrl block). */
uint64_t pi_heartbeat(const struct pi_seg *seg);

/* Sum of the forwarders' counters over every ctrl block. */
void pi_forwarder_counters(const struct pi_set *set, uint64_t *received, uint64_t *sent,
                           uint64_t *dropped);

/* ---- buffers of dead parties ---- */

/* Host parties of the pool's segment whose process is gone (bit p for slot
 * p), and whether a live host party other than us is attached. */
uint64_t pi_dead_parties(const struct pi_pool *pool, bool *others_alive);

/* Buffers the parties in `mask` hold (allocated or cached). */
uint32_t pi_buffers_held(const struct pi_pool *pool, uint64_t mask);

/*
 * Gives the dead parties' buffers back and frees their slots. Call when none
 * of their buffers is in flight any more. Alone on the pool, it rebuilds the
 * free ring (which also repairs a ring a process died in mid-operation);
 * with other live parties using the free ring, it returns each buffer
 * through the ring instead. Returns how many buffers came back.
 */
uint32_t pi_give_back(struct pi_pool *pool, uint64_t dead, bool others_alive);

/* Whether the pool's free ring is in the middle of a get or put (a head
 * ahead of its tail). Seen for a while, it was left so by a process that
 * died in mid-operation, and every later get or put would wait for ever. */
bool pi_free_ring_busy(const struct ivshm_mempool *mp);

/* Rebuilds the free ring from the state bytes, taking nothing from anyone:
 * repairs a ring left half-updated. Only while nobody else uses the ring. */
void pi_repair_free_ring(struct pi_pool *pool);

/* Our own party's buffers in the pool (allocated or cached): 0 after a clean
 * stop. */
uint32_t pi_buffers_ours(const struct pi_pool *pool);

#endif
