/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host side of the fwd ctrl protocol (include/ivshm/fwd.h), one copy for
 * every host program that drives forwarders: `ivshm pktgen`, `ivshm reclaim`
 * and ivshm-port. Internal to libivshm (not exported from the shared
 * library; these programs link libivshm.a).
 *
 *   ivshm_fwd_host_add        the control block of each segment a program uses
 *   ivshm_fwd_host_wait_ready every forwarder READY or FWD, its heartbeat moving
 *   ivshm_fwd_host_start      READY -> FWD: a traffic source is attached
 *   ivshm_fwd_host_exit       READY/FWD -> EXIT: finish
 *   ivshm_fwd_host_wait_done  every forwarder past EXIT (DONE, or FAIL)
 *   ivshm_fwd_host_reclaim    give a pool back what dead host parties left
 *   ivshm_fwd_host_claim_source  claim a queue as its traffic source
 *
 * A forwarder in adaptive mode sleeps when idle (docs/forwarding.md): given
 * a doorbell client for its segment (ivshm_fwd_host_set_doorbell), the host
 * rings ctrl.doorbell after each state change and while it waits for a
 * heartbeat, so the forwarder sees them at once.
 *
 * Return convention: status.h (IVSHM_OK or a negative status, err filled).
 */
#ifndef IVSHM_HOST_FWD_HOST_H
#define IVSHM_HOST_FWD_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ivshm/fwd.h"

#define IVSHM_FWD_HOST_MAX 64u /* control blocks one program drives */

/* The party label of the host-only forwarder (ivshm-fwd). A forwarder never
 * takes buffers from a pool nor returns any, so a live party of this label
 * does not keep ivshm_fwd_host_reclaim from rebuilding the free ring. */
#define IVSHM_FWD_HOST_FORWARDER_LABEL "ivshm-fwd"

/* The forwarders a host program drives: the control block of each segment
 * it attached that has one. */
struct ivshm_fwd_host {
    const _Atomic bool *stop; /* may be NULL; once true (a signal), waits give up */
    unsigned count;
    struct {
        char segment[IVSHM_NAME_SIZE];
        struct ivshm_fwd_ctrl *ctrl;
        struct ivshm_doorbell *doorbell; /* to ring a sleeping forwarder; NULL: none */
    } fwd[IVSHM_FWD_HOST_MAX];
};

/* Empty, with the flag that cuts waits short (may be NULL). */
void ivshm_fwd_host_init(struct ivshm_fwd_host *host, const _Atomic bool *stop);

/* Finds the control block ("ctrl", at least struct ivshm_fwd_ctrl) of the
 * segment `view` and adds it: *ctrl gets it, or NULL when the segment has
 * none (that is not an error). Add each segment once. Errors: IVSHM_E_NOSPC
 * (more than IVSHM_FWD_HOST_MAX control blocks). */
int ivshm_fwd_host_add(struct ivshm_fwd_host *host, const struct ivshm_segment_view *view,
                       struct ivshm_fwd_ctrl **ctrl, struct ivshm_error *err);

struct ivshm_doorbell;

/* The doorbell client (doorbell.h; not owned, may be NULL) of the segment
 * whose control block is `ctrl`, through which its forwarder is rung. */
void ivshm_fwd_host_set_doorbell(struct ivshm_fwd_host *host, const struct ivshm_fwd_ctrl *ctrl,
                                 struct ivshm_doorbell *doorbell);

/*
 * Waits until the forwarder of every control block is READY or FWD *and*
 * alive: its heartbeat moves (a VM that died mid-run leaves FWD behind).
 * Errors, each naming the segment: IVSHM_E_CORRUPT (a forwarder set FAIL:
 * its reason), IVSHM_E_TIMEOUT (one did not come up within `timeout`
 * seconds, or its heartbeat stood still; or the stop flag was set).
 */
int ivshm_fwd_host_wait_ready(const struct ivshm_fwd_host *host, double timeout,
                              struct ivshm_error *err);

/* READY -> FWD on every control block (a traffic source is attached). */
void ivshm_fwd_host_start(const struct ivshm_fwd_host *host);

/* READY or FWD -> EXIT on every control block: each forwarder passes on
 * what it holds, publishes its final counters and sets DONE. */
void ivshm_fwd_host_exit(const struct ivshm_fwd_host *host);

/* Waits up to `seconds` until no control block says EXIT any more; false
 * when some forwarder did not finish in time. */
bool ivshm_fwd_host_wait_done(const struct ivshm_fwd_host *host, double seconds);

/* Whether a forwarder works on `ctrl` (NULL: no): READY, FWD, EXIT (until
 * DONE it still empties its rx rings, which nobody else may touch), or
 * paused for a repair (PAUSE, PAUSED: it resumes on those rings). */
bool ivshm_fwd_active(const struct ivshm_fwd_ctrl *ctrl);

/* ---- pausing a forwarder for a repair (PAUSE, PAUSED: fwd.h) ---- */

/* A forwarder is taken for live when its heartbeat moves within this many
 * seconds (it beats every IVSHM_FWD_HEARTBEAT_POLLS polls, paused too). */
#define IVSHM_FWD_HOST_ALIVE_S 1.0

/*
 * Pauses the forwarder of `ctrl` (in segment `segment`, for messages), if
 * one is live: its heartbeat moves within IVSHM_FWD_HOST_ALIVE_S (a
 * forwarder that is finishing, EXIT, is waited for). Sets PAUSE by CAS over
 * whatever state is there and waits up to `timeout` seconds for PAUSED: the
 * forwarder then holds nothing and touches no ring or buffer until
 * ivshm_fwd_host_resume. *paused says whether it did; false with IVSHM_OK:
 * nothing polls ctrl, nothing was changed. Errors: IVSHM_E_TIMEOUT (the
 * forwarder polls but did not answer PAUSED in time: the state is put back,
 * nothing was changed; or `stop` was set), IVSHM_E_CORRUPT (the state keeps
 * changing under us).
 */
int ivshm_fwd_host_pause(const char *segment, struct ivshm_fwd_ctrl *ctrl, double timeout,
                         const _Atomic bool *stop, bool *paused, struct ivshm_error *err);

/* PAUSED -> READY: the forwarder re-reads its rings and forwards again. */
void ivshm_fwd_host_resume(struct ivshm_fwd_ctrl *ctrl);

/* The forwarders' counters, summed over every control block and queue. */
void ivshm_fwd_host_counters(const struct ivshm_fwd_host *host, uint64_t *received, uint64_t *sent,
                             uint64_t *dropped);

/* Their wake-up counters (adaptive mode), summed the same way. */
void ivshm_fwd_host_wake_counters(const struct ivshm_fwd_host *host, uint64_t *sleeps,
                                  uint64_t *wakeups, uint64_t *rings);

/* ---- buffers of dead host parties ---- */

/* A queue pair as the host program uses it: it puts frames into to_fwd (a
 * forwarder's rx ring), they come back on from_fwd; `fwd` is the control
 * block of the forwarder that empties to_fwd (NULL: none known). */
struct ivshm_fwd_host_queue {
    struct ivshm_ring *to_fwd;
    struct ivshm_ring *from_fwd;
    const struct ivshm_fwd_ctrl *fwd;
};

/*
 * Gives back to `pool` (the program's own handle, acting as view->party, on
 * the segment `view`; `what` names it in messages, e.g. "vm1/pkts") the
 * buffers of host parties of `view` whose process died, and frees their
 * slots; *reclaimed gets how many. Their frames still in flight come home
 * first: the from_fwd rings of `queues` are drained (and to_fwd where no
 * forwarder is active) until the rings are empty, every forwarder of `host`
 * holds nothing and the dead parties' count stands still, three checks in a
 * row. Alone on the pool (forwarders aside) it rebuilds the free ring (which
 * also repairs a ring a process died in the middle of a get or put on);
 * beside other live host parties it returns each buffer through the ring
 * instead. Call before the program takes
 * buffers of its own. Errors: IVSHM_E_CORRUPT (the free ring was left
 * half-updated and live parties use it: it cannot be repaired under them),
 * IVSHM_E_TIMEOUT (still in flight after `timeout` seconds, or the stop flag
 * was set).
 */
int ivshm_fwd_host_reclaim(const struct ivshm_fwd_host *host, struct ivshm_mempool *pool,
                           const struct ivshm_segment_view *view, const char *what,
                           const struct ivshm_fwd_host_queue *queues, unsigned nqueues,
                           double timeout, uint32_t *reclaimed, struct ivshm_error *err);

/* Buffers of `pool` that the parties in `parties` (bit p for party p) hold,
 * allocated or cached. */
uint32_t ivshm_fwd_host_held(const struct ivshm_mempool *pool, uint64_t parties);

/* Puts n handles back into the pool through cache (may be NULL), stepping
 * over those it refuses (not one of its objects, or not allocated: a peer's
 * garbage, or a handle sent twice). Returns how many it refused. */
uint32_t ivshm_fwd_host_put(struct ivshm_mempool *pool, struct ivshm_mempool_cache *cache,
                            const uint64_t *handles, uint32_t n);

/* ---- the traffic source of a queue (docs/abi.md 4.1) ----
 * ctrl->q[q].source names the live host party driving queue q (pktgen,
 * ivshm-port). view->party is the caller's party, in the segment holding
 * ctrl. */

/* Claims queue `queue` (CAS), taking over a stale claim (party dead, or its
 * slot claimed again since). Call before touching the queue's rings.
 * Errors: IVSHM_E_EXIST (a live party drives it: "SEG: queue Q is driven by
 * pktgen (pid N, party P); stop it first"), IVSHM_E_INVAL (queue out of
 * range, view->party < 0), IVSHM_E_CORRUPT (the word keeps changing). */
int ivshm_fwd_host_claim_source(const struct ivshm_segment_view *view, struct ivshm_fwd_ctrl *ctrl,
                                uint32_t queue, struct ivshm_error *err);

/* Gives the claim back, if it is still ours. */
void ivshm_fwd_host_release_source(const struct ivshm_segment_view *view,
                                   struct ivshm_fwd_ctrl *ctrl, uint32_t queue);

/* IVSHM_OK, or IVSHM_E_EXIST as ivshm_fwd_host_claim_source when a live
 * party other than view->party drives the queue; claims nothing. */
int ivshm_fwd_host_check_source(const struct ivshm_segment_view *view,
                                const struct ivshm_fwd_ctrl *ctrl, uint32_t queue,
                                struct ivshm_error *err);

/* Clears (CAS to 0) every source word of ctrl that names no live party of
 * view (a dead source's, or a peer's garbage), ours excepted. Returns how
 * many. */
uint32_t ivshm_fwd_host_clear_sources(const struct ivshm_segment_view *view,
                                      struct ivshm_fwd_ctrl *ctrl);

#endif
