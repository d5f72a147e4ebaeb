/* SPDX-License-Identifier: BSD-3-Clause */
/* What `ivshm pktgen` and `ivshm reclaim` share (traffic.c). */
#ifndef IVSHM_CLI_TRAFFIC_H
#define IVSHM_CLI_TRAFFIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/cli/cli.h"
#include "host/fwd_host.h"
#include "ivshm/fwd.h"

#define PG_MAX_SEGS 3

/* The options of both commands (the CLI fills them), and NAME. */
struct pg_options {
    const char *name;    /* segment with the pool */
    const char *pool;    /* the pool's name in it */
    const char *dir;     /* NULL: default resolution */
    const char *tx_to;   /* segment whose rxN rings we fill */
    const char *rx_from; /* segment whose txN rings we drain */
    uint32_t queues;     /* 0: as many as the forwarder serves */
    uint64_t count;      /* frames to send; 0 with duration */
    double duration;     /* seconds to send; 0 with count */
    uint32_t size;       /* frame bytes */
    uint32_t burst;
    double timeout; /* seconds to wait for READY, and to drain at the end */
    bool json;
    bool keep;
    int cpu;       /* -1: do not pin */
    bool latency;  /* pktgen: measure round trips (latency.c) */
    uint64_t rate; /* pktgen --latency: frames a second; 0: one in flight */
    /* pktgen: doorbells and adaptive polling (cmd_pktgen.c) */
    enum ivshm_fwd_mode mode; /* AUTO: adaptive when rx_from has a doorbell server */
    uint32_t idle_us;         /* idle spell before sleeping */
    const char *socket;       /* NAME's doorbell socket (default: the segment's) */
    uint64_t group;           /* frames a group; 0: no groups */
    double gap;               /* seconds between groups */
};

struct pg_segment {
    const char *name;
    struct ivshm_segment seg;
    struct ivshm_fwd_ctrl *ctrl; /* NULL when the segment has no control block */
    uint32_t claimed;            /* queues 0..claimed-1 of ctrl have us as their source */
    struct ivshm_doorbell *db;   /* client of its doorbell server (pktgen); NULL: none */
};

struct pg_queue {
    struct ivshm_ring send; /* tx_to/rx<q> */
    struct ivshm_ring recv; /* rx_from/tx<q> */
    /* Filled frames held[held_at..held_len) the send ring has not taken yet:
     * offered first next time. */
    uint64_t held[IVSHM_BURST_MAX];
    uint32_t held_at, held_len;
    uint64_t last_seq; /* last sequence received, for reorder detection */
    bool any_received;
};

#define PG_LATENCY_WINDOW 65536u /* frames in flight at most, in latency mode */

/* Latency mode (latency.c): the round trip of every frame. */
struct pg_latency {
    uint32_t *cycles; /* TSC cycles of each round trip, saturated */
    size_t trips, cap;
    double rate;                         /* frames sent per second, as measured */
    uint64_t sent_at[PG_LATENCY_WINDOW]; /* TSC when frame seq went out, at seq % window */
};

struct pg_stats {
    uint64_t sent, received, corrupted, duplicated, reordered, invalid_handles;
    uint32_t reclaimed;
};

struct pg_state {
    struct pg_options opt;
    struct pg_segment segs[PG_MAX_SEGS];
    int nsegs;
    struct pg_segment *pool_seg, *tx_seg, *rx_seg;
    struct ivshm_fwd_host fwds; /* the forwarders of these segments */
    struct ivshm_mempool pool;
    struct ivshm_mempool_cache cache;
    struct pg_queue queues[IVSHM_FWD_MAX_QUEUES];
    uint32_t nqueues;
    bool stalled;   /* nothing moved for --timeout seconds */
    uint64_t *seen; /* bitmap of received sequence numbers */
    uint64_t seen_bits;
    /* Sequence numbers 0..seq_issued-1 went into frames: a frame that comes
     * back with a higher one was forged (it must not grow `seen`). */
    uint64_t seq_issued;
    struct pg_stats st;
    struct pg_latency lat;
    uint64_t rings; /* doorbells we rang (or tried: a request may name nobody) for a
                       forwarder asleep on rxN */
};

/* Set by SIGINT and SIGTERM (pktgen): stop sending (or waiting), collect,
 * report. It also ends any wait on a ring (pg_open_queues bounds them). */
extern _Atomic bool pg_stop_requested;

/* The options both commands take: --queues, --tx-to, --rx-from, --timeout,
 * --dir (their cli_command's more_options). */
const struct cli_option *pg_shared_options(void);

/* The defaults of both commands' options: pool pkts, 64-byte frames, bursts
 * of 32, 30 s timeout. */
void pg_defaults(void *opts);
/* A fresh state for a run, with the command's options and NAME. */
struct pg_state *pg_start(const void *opts, const char *name);
/* Makes sure no other live traffic source drives our queues (docs/abi.md
 * 4.1): with `claim`, claims queues 0..nqueues-1 of ctrl in every segment
 * where we hold a party (NAME's), and checks them in the others; without,
 * only checks. Call after pg_open_queues and before touching a ring. On
 * refusal nothing stays claimed. pg_close gives the claims back. */
int pg_claim_queues(struct pg_state *pg, bool claim, struct ivshm_error *err);
/* Detaches everything, frees what the run allocated. */
void pg_close(struct pg_state *pg);

double pg_now(void); /* seconds, monotonic */
void pg_sleep_ms(unsigned ms);

/* The TSC: read in a few cycles; its rate measured once (some 10 ms the
 * first time) against the monotonic clock. */
static inline uint64_t pg_tsc(void)
{
    return __builtin_ia32_rdtsc();
}
double pg_tsc_hz(void);

/* Whether a ring wait gave up (pg_open_queues bounds the waits of every ring
 * we use): IVSHM_E_TIMEOUT with one line naming the ring and what it waited
 * for; IVSHM_OK otherwise. */
int pg_wait_error(const struct pg_state *pg, struct ivshm_error *err);

/* Writes frame `seq` into the buffer `handle` for queue qi: the packet
 * header (only where it differs: a buffer that came back intact keeps it,
 * and its cache line stays shared with the forwarder) and the test frame. */
void pg_frame_fill(struct pg_state *pg, uint64_t handle, uint32_t qi, uint64_t seq);
/* Checks one frame that came back on queue qi and counts it (received,
 * corrupted, duplicated, reordered); *seq gets its sequence number when it
 * was received intact, else UINT64_MAX. Returns false for a handle that is
 * not one of the pool's objects (it cannot be freed). */
bool pg_frame_check(struct pg_state *pg, uint32_t qi, uint64_t handle, uint64_t *seq);

/* After frames went into q's send ring: rings the forwarder when it sleeps
 * and asked to be rung (notify.h); nothing without a doorbell server. */
void pg_wake_forwarder(struct pg_state *pg, struct pg_queue *q);

/* Attaches NAME (claiming a party; when every slot is taken, without one:
 * then the pool handle can only give back, see pg_claim_party), --tx-to and
 * --rx-from, finds the pool and the ctrl memzones. */
int pg_open_all(struct pg_state *pg, struct ivshm_error *err);
/* When pg_open_all found no free party slot: claims one now (after
 * pg_reclaim_dead has freed the slots of the dead), a pool handle acting as
 * it, and the queues (pg_claim_queues). Does nothing when we hold one. */
int pg_claim_party(struct pg_state *pg, struct ivshm_error *err);
/* Finds the rxN rings of --tx-to and the txN rings of --rx-from: --queues,
 * else as many as the forwarders announce. Bounds the waits of every ring we
 * use (those and the pool's free ring): --timeout, or pg_stop_requested. */
int pg_open_queues(struct pg_state *pg, struct ivshm_error *err);
void pg_segments_detach(struct pg_state *pg);

/* Dequeues, checks and frees what came back on every queue; returns how
 * many frames were taken off the rings. */
uint32_t pg_receive_all(struct pg_state *pg);
/* Latency mode: sends one frame at a time (rate 0) or one every 1/rate s,
 * and records each one's round trip, until --count frames or --duration;
 * then collects the frames in flight. *seconds gets the time it took. */
void pg_latency_traffic(struct pg_state *pg, double *seconds);
/* min, p50, p99, p99.9 and max of the round trips, in microseconds (all 0
 * when there were none). */
void pg_latency_figures(struct pg_state *pg, double us[5]);

/* Takes back the buffers of dead host parties (ivshm_fwd_host_reclaim over
 * the queues in use). */
int pg_reclaim_dead(struct pg_state *pg, double timeout, struct ivshm_error *err);

#endif
