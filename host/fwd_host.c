/* SPDX-License-Identifier: BSD-3-Clause */
/* The host side of the fwd ctrl protocol (host/fwd_host.h). */
#include <string.h>
#include <time.h>

#include "host/fwd_host.h"
#include "host/internal.h"
#include "ivshm/doorbell.h"
#include "ivshm/party.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool stopped(const struct ivshm_fwd_host *host)
{
    return host->stop && atomic_load(host->stop);
}

static uint32_t state_of(const struct ivshm_fwd_ctrl *ctrl)
{
    return atomic_load_explicit(&ctrl->state, memory_order_acquire);
}

static uint64_t heartbeat_of(const struct ivshm_fwd_ctrl *ctrl)
{
    return atomic_load_explicit(&((struct ivshm_fwd_ctrl *)ctrl)->heartbeat, memory_order_relaxed);
}

void ivshm_fwd_host_init(struct ivshm_fwd_host *host, const _Atomic bool *stop)
{
    host->stop = stop;
    host->count = 0;
}

int ivshm_fwd_host_add(struct ivshm_fwd_host *host, const struct ivshm_segment_view *view,
                       struct ivshm_fwd_ctrl **ctrl, struct ivshm_error *err)
{
    *ctrl = NULL;
    void *addr;
    uint64_t len;
    if (ivshm_memzone_lookup(view, IVSHM_FWD_CTRL, &addr, &len, NULL) != IVSHM_OK ||
        len < sizeof(struct ivshm_fwd_ctrl))
        return IVSHM_OK;
    if (host->count == IVSHM_FWD_HOST_MAX)
        return ivshm_fail(err, IVSHM_E_NOSPC, "%s: more than %u forwarders to drive", view->name,
                          IVSHM_FWD_HOST_MAX);
    memcpy(host->fwd[host->count].segment, view->name, IVSHM_NAME_SIZE);
    host->fwd[host->count].doorbell = NULL;
    host->fwd[host->count++].ctrl = addr;
    *ctrl = addr;
    return IVSHM_OK;
}

void ivshm_fwd_host_set_doorbell(struct ivshm_fwd_host *host, const struct ivshm_fwd_ctrl *ctrl,
                                 struct ivshm_doorbell *doorbell)
{
    for (unsigned i = 0; i < host->count; i++)
        if (host->fwd[i].ctrl == ctrl)
            host->fwd[i].doorbell = doorbell;
}

/* Rings forwarder i if it sleeps when idle (ctrl.doorbell: its peer ID + 1).
 * A peer that is gone (or a garbage ID) is refused by the client: nothing
 * to do, the forwarder's sleep is bounded. */
static void ring_forwarder(const struct ivshm_fwd_host *host, unsigned i)
{
    uint16_t id = atomic_load_explicit(&host->fwd[i].ctrl->doorbell, memory_order_relaxed);
    if (id && host->fwd[i].doorbell)
        ivshm_doorbell_ring(host->fwd[i].doorbell, id - 1, IVSHM_FWD_VECTOR, NULL);
}

bool ivshm_fwd_active(const struct ivshm_fwd_ctrl *ctrl)
{
    if (!ctrl)
        return false;
    uint32_t st = state_of(ctrl);
    return st == IVSHM_FWD_READY || st == IVSHM_FWD_FWD || st == IVSHM_FWD_EXIT ||
           st == IVSHM_FWD_PAUSE || st == IVSHM_FWD_PAUSED;
}

int ivshm_fwd_host_wait_ready(const struct ivshm_fwd_host *host, double timeout,
                              struct ivshm_error *err)
{
    double deadline = now_s() + timeout;
    uint64_t first_beat[IVSHM_FWD_HOST_MAX];
    for (unsigned i = 0; i < host->count; i++)
        first_beat[i] = heartbeat_of(host->fwd[i].ctrl);
    for (;;) {
        sleep_ms(5);
        const char *stale = NULL, *down = NULL, *paused = NULL;
        for (unsigned i = 0; i < host->count; i++) {
            const struct ivshm_fwd_ctrl *c = host->fwd[i].ctrl;
            uint32_t st = state_of(c);
            if (st == IVSHM_FWD_PAUSE || st == IVSHM_FWD_PAUSED)
                paused = host->fwd[i].segment;
            if (st == IVSHM_FWD_FAIL) {
                char reason[sizeof(c->reason) + 1]; /* a peer may leave it unterminated */
                memcpy(reason, c->reason, sizeof(c->reason));
                reason[sizeof(c->reason)] = '\0';
                return ivshm_fail(err, IVSHM_E_CORRUPT, "%s: the forwarder failed: %s",
                                  host->fwd[i].segment, reason);
            }
            if (st != IVSHM_FWD_READY && st != IVSHM_FWD_FWD) {
                down = host->fwd[i].segment;
            } else if (heartbeat_of(c) == first_beat[i]) {
                stale = host->fwd[i].segment;
                ring_forwarder(host, i); /* asleep? its heart beats when it wakes */
            }
        }
        if (!down && !stale)
            return IVSHM_OK;
        if (stopped(host))
            return ivshm_fail(err, IVSHM_E_TIMEOUT, "interrupted while waiting for the forwarder");
        if (now_s() > deadline) {
            if (paused)
                return ivshm_fail(err, IVSHM_E_TIMEOUT,
                                  "%s: the forwarder is paused for a repair and did not resume "
                                  "within %.0f s (an interrupted repair leaves it so: repair "
                                  "again)",
                                  paused, timeout);
            if (stale)
                return ivshm_fail(err, IVSHM_E_TIMEOUT,
                                  "%s: ctrl says a forwarder is there, but its heartbeat has not "
                                  "moved in %.0f s (did the VM stop?)",
                                  stale, timeout);
            return ivshm_fail(
                err, IVSHM_E_TIMEOUT,
                "%s: no forwarder became READY within %.0f s (is the VM running fwd?)", down,
                timeout);
        }
    }
}

/* from_a or from_b -> to on every control block. Compare-and-swap: a
 * forwarder may set FAIL meanwhile, another host party may move it too. */
static void move_state(const struct ivshm_fwd_host *host, uint32_t from_a, uint32_t from_b,
                       uint32_t to)
{
    for (unsigned i = 0; i < host->count; i++) {
        struct ivshm_fwd_ctrl *c = host->fwd[i].ctrl;
        uint32_t st = state_of(c);
        if ((st == from_a || st == from_b) &&
            atomic_compare_exchange_strong_explicit(&c->state, &st, to, memory_order_acq_rel,
                                                    memory_order_acquire))
            ring_forwarder(host, i); /* after the store: ctrl's wake-up rule */
    }
}

void ivshm_fwd_host_start(const struct ivshm_fwd_host *host)
{
    move_state(host, IVSHM_FWD_READY, IVSHM_FWD_READY, IVSHM_FWD_FWD);
}

void ivshm_fwd_host_exit(const struct ivshm_fwd_host *host)
{
    move_state(host, IVSHM_FWD_READY, IVSHM_FWD_FWD, IVSHM_FWD_EXIT);
}

bool ivshm_fwd_host_wait_done(const struct ivshm_fwd_host *host, double seconds)
{
    double deadline = now_s() + seconds;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < host->count; i++)
            all &= state_of(host->fwd[i].ctrl) != IVSHM_FWD_EXIT;
        if (all)
            return true;
        if (now_s() > deadline)
            return false;
        sleep_ms(2);
    }
}

/* ---- pausing a forwarder for a repair ---- */

/* Whether ctrl's heartbeat moves within `seconds` (checked every 2 ms). */
static bool beating(const struct ivshm_fwd_ctrl *ctrl, double seconds, const _Atomic bool *stop)
{
    uint64_t first = heartbeat_of(ctrl);
    double deadline = now_s() + seconds;
    while (now_s() < deadline && !(stop && atomic_load(stop))) {
        sleep_ms(2);
        if (heartbeat_of(ctrl) != first)
            return true;
    }
    return false;
}

int ivshm_fwd_host_pause(const char *segment, struct ivshm_fwd_ctrl *ctrl, double timeout,
                         const _Atomic bool *stop, bool *paused, struct ivshm_error *err)
{
    *paused = false;
    if (!beating(ctrl, IVSHM_FWD_HOST_ALIVE_S, stop))
        return stop && atomic_load(stop)
                   ? ivshm_fail(err, IVSHM_E_TIMEOUT, "%s: interrupted", segment)
                   : IVSHM_OK; /* nobody polls: no forwarder to pause */
    double deadline = now_s() + timeout;
    uint32_t before = state_of(ctrl);
    if (before == IVSHM_FWD_EXIT) {
        /* A forwarder finishing sets DONE and stops beating: wait for it. */
        while (state_of(ctrl) == IVSHM_FWD_EXIT && now_s() < deadline)
            sleep_ms(2);
        if (!beating(ctrl, IVSHM_FWD_HOST_ALIVE_S, stop))
            return IVSHM_OK;
        before = state_of(ctrl);
    }
    /* PAUSE over whatever is there (a peer's garbage too: a forwarder that
     * polls is what counts), unless it is PAUSED already (a repair that was
     * interrupted left it so). */
    if (before != IVSHM_FWD_PAUSED && before != IVSHM_FWD_PAUSE &&
        !atomic_compare_exchange_strong_explicit(&ctrl->state, &before, IVSHM_FWD_PAUSE,
                                                 memory_order_acq_rel, memory_order_acquire))
        return ivshm_fail(err, IVSHM_E_CORRUPT, "%s: the forwarder's state keeps changing",
                          segment);
    while (state_of(ctrl) != IVSHM_FWD_PAUSED) {
        if (now_s() > deadline || (stop && atomic_load(stop))) {
            /* Put back what was there; PAUSED came just now if that fails. */
            uint32_t pause = IVSHM_FWD_PAUSE;
            if (atomic_compare_exchange_strong_explicit(
                    &ctrl->state, &pause, before == IVSHM_FWD_PAUSE ? IVSHM_FWD_READY : before,
                    memory_order_acq_rel, memory_order_acquire))
                return stop && atomic_load(stop)
                           ? ivshm_fail(err, IVSHM_E_TIMEOUT,
                                        "%s: interrupted while waiting for the forwarder to "
                                        "pause; nothing was changed",
                                        segment)
                           : ivshm_fail(err, IVSHM_E_TIMEOUT,
                                        "%s: the forwarder polls (its heartbeat moves) but did "
                                        "not acknowledge PAUSE within %.0f s; nothing was changed",
                                        segment, timeout);
            if (pause != IVSHM_FWD_PAUSED)
                return ivshm_fail(err, IVSHM_E_CORRUPT, "%s: the forwarder's state keeps changing",
                                  segment);
            break;
        }
        sleep_ms(1);
    }
    /* Acquire (in state_of): the counters it published come with PAUSED. */
    *paused = true;
    return IVSHM_OK;
}

void ivshm_fwd_host_resume(struct ivshm_fwd_ctrl *ctrl)
{
    uint32_t paused = IVSHM_FWD_PAUSED;
    atomic_compare_exchange_strong_explicit(&ctrl->state, &paused, IVSHM_FWD_READY,
                                            memory_order_acq_rel, memory_order_acquire);
}

void ivshm_fwd_host_counters(const struct ivshm_fwd_host *host, uint64_t *received, uint64_t *sent,
                             uint64_t *dropped)
{
    *received = *sent = *dropped = 0;
    for (unsigned i = 0; i < host->count; i++)
        for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++) {
            struct ivshm_fwd_counters *c = &host->fwd[i].ctrl->q[q];
            *received += atomic_load_explicit(&c->received, memory_order_relaxed);
            *sent += atomic_load_explicit(&c->sent, memory_order_relaxed);
            *dropped += atomic_load_explicit(&c->dropped, memory_order_relaxed);
        }
}

void ivshm_fwd_host_wake_counters(const struct ivshm_fwd_host *host, uint64_t *sleeps,
                                  uint64_t *wakeups, uint64_t *rings)
{
    *sleeps = *wakeups = *rings = 0;
    for (unsigned i = 0; i < host->count; i++)
        for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++) {
            struct ivshm_fwd_counters *c = &host->fwd[i].ctrl->q[q];
            *sleeps += atomic_load_explicit(&c->sleeps, memory_order_relaxed);
            *wakeups += atomic_load_explicit(&c->wakeups, memory_order_relaxed);
            *rings += atomic_load_explicit(&c->rings, memory_order_relaxed);
        }
}

/* Whether every active forwarder holds nothing: received = sent + dropped on
 * every queue. */
static bool forwarders_idle(const struct ivshm_fwd_host *host)
{
    for (unsigned i = 0; i < host->count; i++) {
        struct ivshm_fwd_ctrl *ctrl = host->fwd[i].ctrl;
        if (!ivshm_fwd_active(ctrl))
            continue;
        for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++) {
            struct ivshm_fwd_counters *c = &ctrl->q[q];
            uint64_t r = atomic_load_explicit(&c->received, memory_order_relaxed);
            uint64_t s = atomic_load_explicit(&c->sent, memory_order_relaxed);
            uint64_t d = atomic_load_explicit(&c->dropped, memory_order_relaxed);
            if (r != s + d)
                return false;
        }
    }
    return true;
}

/* ---- buffers of dead host parties ---- */

uint32_t ivshm_fwd_host_put(struct ivshm_mempool *pool, struct ivshm_mempool_cache *cache,
                            const uint64_t *handles, uint32_t n)
{
    uint32_t refused = 0;
    while (n) {
        uint32_t freed = 0;
        if (ivshm_mempool_put_bulk(pool, cache, handles, n, &freed) == IVSHM_OK || freed >= n)
            break;
        refused++;
        handles += freed + 1;
        n -= freed + 1;
    }
    return refused;
}

uint32_t ivshm_fwd_host_held(const struct ivshm_mempool *pool, uint64_t parties)
{
    static struct ivshm_mempool_audit audit; /* large; one thread calls this */
    ivshm_mempool_audit(pool, &audit);
    uint32_t n = 0;
    for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
        if (parties >> p & 1)
            n += audit.by_party[p];
    return n;
}

/* Host parties of `view` other than ours whose process is gone (bit p for
 * slot p); *users_alive: whether a live one other than us, and other than a
 * forwarder, is attached (it may use the free ring). A slot in CLAIMING is
 * never dead here: its claimer has no index yet, so it holds nothing, and
 * it may be a live process that uses the pool a moment later (a stale claim
 * is freed when a slot is needed: ivshm_party_claim_self). */
static uint64_t dead_parties(const struct ivshm_segment_view *view, bool *users_alive)
{
    uint64_t dead = 0;
    *users_alive = false;
    for (uint32_t i = 0; i < view->party_capacity && i < IVSHM_MAX_PARTIES; i++) {
        const struct ivshm_party *p = &view->parties[i];
        uint32_t st = atomic_load_explicit(&p->state, memory_order_acquire);
        if ((int)i == view->party)
            continue;
        if (st == IVSHM_PARTY_CLAIMING)
            *users_alive = true;
        if (st != IVSHM_PARTY_ALIVE || p->kind != IVSHM_PARTY_HOST)
            continue;
        if (!ivshm_party_alive(p))
            dead |= 1ull << i;
        else if (strncmp(p->label, IVSHM_FWD_HOST_FORWARDER_LABEL, sizeof(p->label)) != 0)
            *users_alive = true;
    }
    return dead;
}

/* Whether the free ring stays in the middle of a get or put (a head ahead of
 * its tail) for 20 ms: a process died there, and every later get or put
 * would wait for that tail for ever. */
static bool free_ring_wedged(const struct ivshm_mempool *pool)
{
    for (int i = 0;; i++) {
        struct ivshm_ring_stats st;
        ivshm_ring_stats(&pool->ring, &st);
        if (st.prod_head == st.prod_tail && st.cons_head == st.cons_tail)
            return false;
        if (i == 2)
            return true;
        sleep_ms(10);
    }
}

/* The dead parties' frames in flight come home (into `drain`): see
 * ivshm_fwd_host_reclaim. Returns whether they did. */
static bool drain_in_flight(const struct ivshm_fwd_host *host, struct ivshm_mempool *drain,
                            struct ivshm_mempool_cache *cache, uint64_t dead,
                            const struct ivshm_fwd_host_queue *queues, unsigned nqueues,
                            double timeout)
{
    double deadline = now_s() + timeout;
    uint32_t quiet = 0, last_held = UINT32_MAX;
    while (quiet < 3) {
        uint32_t moved = 0;
        bool empty = true;
        for (unsigned i = 0; i < nqueues; i++) {
            const struct ivshm_fwd_host_queue *q = &queues[i];
            uint64_t h[IVSHM_BURST_MAX];
            uint32_t n = ivshm_ring_dequeue_burst(q->from_fwd, h, IVSHM_BURST_MAX, NULL);
            ivshm_fwd_host_put(drain, cache, h, n);
            moved += n;
            /* With no forwarder to consume them, frames the dead sent would
             * sit in to_fwd for ever: take them back ourselves. */
            if (!ivshm_fwd_active(q->fwd)) {
                n = ivshm_ring_dequeue_burst(q->to_fwd, h, IVSHM_BURST_MAX, NULL);
                ivshm_fwd_host_put(drain, cache, h, n);
                moved += n;
            }
            empty &= ivshm_ring_count(q->from_fwd) == 0 && ivshm_ring_count(q->to_fwd) == 0;
        }
        uint32_t held = ivshm_fwd_host_held(drain, dead);
        bool still = moved == 0 && empty && held == last_held && forwarders_idle(host);
        last_held = held;
        quiet = still ? quiet + 1 : 0;
        if (quiet < 3 && (now_s() > deadline || stopped(host)))
            return false;
        sleep_ms(quiet ? 20 : 1);
    }
    return true;
}

int ivshm_fwd_host_reclaim(const struct ivshm_fwd_host *host, struct ivshm_mempool *pool,
                           const struct ivshm_segment_view *view, const char *what,
                           const struct ivshm_fwd_host_queue *queues, unsigned nqueues,
                           double timeout, uint32_t *reclaimed, struct ivshm_error *err)
{
    *reclaimed = 0;
    bool users_alive;
    uint64_t dead = dead_parties(view, &users_alive);
    if (!dead)
        return IVSHM_OK;
    /* A dead process killed between the two halves of a get or put: the
     * draining below would wait for ever in its first put that reaches the
     * ring. Alone on the pool we rebuild the ring first (taking nothing back
     * yet; the forwarders never touch it); beside live users we cannot. */
    if (free_ring_wedged(pool)) {
        if (users_alive)
            return ivshm_fail(err, IVSHM_E_CORRUPT,
                              "%s: its free ring was left half-updated by a process that died "
                              "in mid-operation, and other processes use it: stop them all, "
                              "then start one alone (it repairs the ring)",
                              what);
        ivshm_mempool_rebuild(pool, 0);
    }
    /* Our handle with a cache of its own: what we drain is marked ours at
     * once, so the give-back below cannot take it twice. */
    static struct ivshm_mempool_cache cache; /* large; one thread calls this */
    struct ivshm_mempool drain = *pool;
    ivshm_mempool_cache_init(&cache, IVSHM_MEMPOOL_CACHE_MAX);
    bool home = drain_in_flight(host, &drain, &cache, dead, queues, nqueues, timeout);
    ivshm_mempool_cache_flush(&drain, &cache); /* back to the pool in every case */
    if (!home && stopped(host))
        return ivshm_fail(err, IVSHM_E_TIMEOUT,
                          "%s: interrupted while taking back a dead process's buffers", what);
    if (!home)
        return ivshm_fail(err, IVSHM_E_TIMEOUT,
                          "%s: a dead process's buffers are still in flight after %.0f s (is the "
                          "forwarder running?)",
                          what, timeout);
    if (!users_alive) {
        /* Nobody else uses the free ring: the forwarders never allocate, the
         * dead are dead. A rebuild also finds objects a dead party had
         * dequeued but not yet marked. */
        *reclaimed = ivshm_mempool_rebuild(pool, dead);
    } else {
        for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
            if (dead >> p & 1)
                *reclaimed += ivshm_mempool_reclaim(pool, (int)p);
    }
    for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
        if (dead >> p & 1)
            ivshm_party_free_if(view, p, IVSHM_PARTY_ALIVE);
    return IVSHM_OK;
}

/* ---- the traffic source of a queue (docs/abi.md 4.1) ----
 * A host program that drives queue q claims ctrl->q[q].source as its party,
 * so that a second one refuses to start on that queue instead of mixing
 * its counts and buffers with the first one's. A claim whose party is
 * dead, or whose slot has been claimed again since (another attach_count),
 * is stale and taken over. */

/* A CAS that keeps failing means a peer rewrites the word without pause. */
#define CLAIM_TRIES 64

/* Whether `word` names a live party of view other than ours; fills *owner
 * and *index then. */
static bool live_owner(const struct ivshm_segment_view *view, uint64_t word,
                       struct ivshm_party *owner, uint32_t *index)
{
    uint32_t source = (uint32_t)word;
    if (source == 0 || source > view->party_capacity || (int)(source - 1) == view->party)
        return false;
    *index = source - 1;
    if (ivshm_party_get(view, *index, owner, NULL) != IVSHM_OK)
        return false;
    return (uint32_t)owner->attach_count == (uint32_t)(word >> 32) && ivshm_party_alive(owner);
}

static int refuse(const struct ivshm_segment_view *view, uint32_t queue,
                  const struct ivshm_party *owner, uint32_t index, struct ivshm_error *err)
{
    return ivshm_fail(err, IVSHM_E_EXIST,
                      "%s: queue %u is driven by %s (pid %llu, party %u); stop it first",
                      view->name, queue, owner->label[0] ? owner->label : "another process",
                      (unsigned long long)owner->pid, index);
}

/* The ctrl->q[q].source word of party `party` at attach count `attach`. */
static uint64_t source_word(uint32_t party, uint64_t attach)
{
    return (uint64_t)(uint32_t)attach << 32 | (party + 1u);
}

/* Our own source word: view->party at its current attach count. */
static bool own_word(const struct ivshm_segment_view *view, uint64_t *word)
{
    struct ivshm_party me;
    if (view->party < 0 || ivshm_party_get(view, (uint32_t)view->party, &me, NULL) != IVSHM_OK)
        return false;
    *word = source_word((uint32_t)view->party, me.attach_count);
    return true;
}

int ivshm_fwd_host_claim_source(const struct ivshm_segment_view *view, struct ivshm_fwd_ctrl *ctrl,
                                uint32_t queue, struct ivshm_error *err)
{
    uint64_t mine;
    if (queue >= IVSHM_FWD_MAX_QUEUES || !own_word(view, &mine))
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: queue %u: no party of ours to claim it",
                          view->name, queue);
    _Atomic uint64_t *source = &ctrl->q[queue].source;
    for (int i = 0; i < CLAIM_TRIES; i++) {
        uint64_t seen = atomic_load_explicit(source, memory_order_acquire);
        if (seen == mine)
            return IVSHM_OK;
        struct ivshm_party owner;
        uint32_t index;
        if (live_owner(view, seen, &owner, &index))
            return refuse(view, queue, &owner, index, err);
        /* Free, or a stale claim: take it. */
        if (atomic_compare_exchange_strong_explicit(source, &seen, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
            return IVSHM_OK;
    }
    return ivshm_fail(err, IVSHM_E_CORRUPT, "%s: queue %u: its source claim keeps changing",
                      view->name, queue);
}

void ivshm_fwd_host_release_source(const struct ivshm_segment_view *view,
                                   struct ivshm_fwd_ctrl *ctrl, uint32_t queue)
{
    uint64_t mine;
    if (queue < IVSHM_FWD_MAX_QUEUES && own_word(view, &mine))
        atomic_compare_exchange_strong(&ctrl->q[queue].source, &mine, 0);
}

int ivshm_fwd_host_check_source(const struct ivshm_segment_view *view,
                                const struct ivshm_fwd_ctrl *ctrl, uint32_t queue,
                                struct ivshm_error *err)
{
    if (queue >= IVSHM_FWD_MAX_QUEUES)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: queue %u: out of range", view->name, queue);
    uint64_t seen = atomic_load_explicit(&ctrl->q[queue].source, memory_order_acquire);
    struct ivshm_party owner;
    uint32_t index;
    if (live_owner(view, seen, &owner, &index))
        return refuse(view, queue, &owner, index, err);
    return IVSHM_OK;
}

uint32_t ivshm_fwd_host_clear_sources(const struct ivshm_segment_view *view,
                                      struct ivshm_fwd_ctrl *ctrl)
{
    uint32_t cleared = 0;
    for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++) {
        uint64_t seen = atomic_load_explicit(&ctrl->q[q].source, memory_order_acquire);
        struct ivshm_party owner;
        uint32_t index;
        uint64_t mine;
        if (seen == 0 || live_owner(view, seen, &owner, &index) ||
            (own_word(view, &mine) && seen == mine))
            continue;
        cleared += atomic_compare_exchange_strong(&ctrl->q[q].source, &seen, 0);
    }
    return cleared;
}
