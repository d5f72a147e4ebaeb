/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-port's adapter to libivshm: the segments, pools and rings it
 * attaches. Every library call ivshm-port makes goes through here, but for
 * the inline ring and mempool operations of the data path
 * (ivshm_ring_enqueue_burst, ivshm_mempool_get_bulk, ...) and the host side
 * of the ctrl protocol, which pktgen shares (host/fwd_host.h: waiting for
 * READY, FWD and EXIT, reclaiming a dead party's buffers).
 *
 * Errors are one line in struct ivshm_error, "<thing>: <reason>".
 */
#ifndef IVSHM_PORT_IVSHM_H
#define IVSHM_PORT_IVSHM_H

#include <stdbool.h>
#include <stdint.h>

#include "host/fwd_host.h"
#include "ivshm/fwd.h"
#include "ivshm/segment.h"

#define PI_NAME_SIZE IVSHM_NAME_SIZE
#define PI_MAX_SEGS  IVSHM_FWD_HOST_MAX
#define PI_MAX_POOLS 32u

/* An attached segment. */
struct pi_seg {
    char name[PI_NAME_SIZE];
    struct ivshm_segment seg;
    struct ivshm_fwd_ctrl *ctrl; /* its control block, or NULL */
    bool claimed;                /* we hold a party slot in it */
    uint32_t sources;            /* bit q: we are the traffic source of ctrl's queue q */
};

/* A mempool we allocate from; `mp` is the handle reclaim uses (each mapping
 * copies it for its own thread). */
struct pi_pool {
    char path[2 * PI_NAME_SIZE + 2];
    struct pi_seg *seg;
    struct ivshm_mempool mp;
};

struct pi_set {
    const char *dir;            /* NULL: the library's default resolution */
    struct ivshm_fwd_host fwds; /* the forwarders of these segments */
    struct pi_seg segs[PI_MAX_SEGS];
    unsigned nsegs;
    struct pi_pool pools[PI_MAX_POOLS];
    unsigned npools;
};

/* Empty: segments in dir (NULL: the library's default resolution); waits
 * for forwarders give up once *stop is true. */
void pi_init(struct pi_set *set, const char *dir, const _Atomic bool *stop);

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

/* Makes us the traffic source of the queue whose forwarder reads ring
 * `path` (SEG/rx<q>: queue q of SEG's control block; docs/abi.md 4.1):
 * claimed where we hold a party slot in SEG, else only checked. Nothing for
 * another ring name or a segment without a control block. Errors:
 * IVSHM_E_EXIST (another live pktgen or ivshm-port drives it: the line
 * names it), as ivshm_fwd_host_claim_source. pi_close gives claims back. */
int pi_claim_source(struct pi_seg *seg, const char *path, struct ivshm_error *err);

/* Segment of the pool's buffers: base address and mapped length. */
void pi_pool_memory(const struct pi_pool *pool, void **base, uint64_t *len);

/* Detaches everything. Party slots are released, unless keep_claims: then
 * they stay ALIVE with our pid, and once we have exited the next host party
 * sees a dead process and takes back the buffers still marked ours. */
void pi_close(struct pi_set *set, bool keep_claims);

/* The forwarder's heartbeat on `seg` (0 without a control block). */
uint64_t pi_heartbeat(const struct pi_seg *seg);

/* Our own party's buffers in the pool (allocated or cached): 0 after a clean
 * stop. */
uint32_t pi_buffers_ours(const struct pi_pool *pool);

#endif
