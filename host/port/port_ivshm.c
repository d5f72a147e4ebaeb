/* SPDX-License-Identifier: BSD-3-Clause */
/* ivshm-port's adapter to libivshm (see port_ivshm.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/internal.h"
#include "ivshm/party.h"
#include "port_ivshm.h"

#define PI_LABEL "ivshm-port"

/* ivshm_fail's formatter is freestanding (no %f): messages here use libc's. */
static int fail(struct ivshm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ivshm_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

static double now_seconds(void)
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

bool pi_split_path(const char *path, char seg[PI_NAME_SIZE], char name[PI_NAME_SIZE],
                   struct ivshm_error *err)
{
    const char *slash = strchr(path, '/');
    size_t seg_len = slash ? (size_t)(slash - path) : 0;
    if (!slash || seg_len == 0 || seg_len >= PI_NAME_SIZE || strlen(slash + 1) >= PI_NAME_SIZE ||
        slash[1] == '\0') {
        fail(err, IVSHM_E_INVAL, "%s: not SEG/NAME", path);
        return false;
    }
    memcpy(seg, path, seg_len);
    seg[seg_len] = '\0';
    strcpy(name, slash + 1);
    return true;
}

static struct pi_seg *seg_get(struct pi_set *set, const char *name, bool claim,
                              struct ivshm_error *err)
{
    for (unsigned i = 0; i < set->nsegs; i++) {
        struct pi_seg *s = &set->segs[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (claim && !s->claimed) {
            fail(err, IVSHM_E_INVAL, "%s: attached for a ring before its pool was opened", name);
            return NULL;
        }
        return s;
    }
    if (set->nsegs == PI_MAX_SEGS) {
        fail(err, IVSHM_E_INVAL, "%s: more than %u segments", name, PI_MAX_SEGS);
        return NULL;
    }
    struct pi_seg *s = &set->segs[set->nsegs];
    memset(s, 0, sizeof(*s));
    if (ivshm_segment_attach(set->dir, name, claim ? IVSHM_ATTACH_CLAIM : 0, PI_LABEL, &s->seg,
                             err) != IVSHM_OK)
        return NULL;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->claimed = claim;
    void *addr;
    uint64_t len;
    struct ivshm_error ignored;
    if (ivshm_memzone_lookup(&s->seg.view, IVSHM_FWD_CTRL, &addr, &len, &ignored) == IVSHM_OK &&
        len >= sizeof(struct ivshm_fwd_ctrl))
        s->ctrl = addr;
    set->nsegs++;
    return s;
}

int pi_open_pool(struct pi_set *set, const char *path, struct pi_pool **pool,
                 struct ivshm_error *err)
{
    for (unsigned i = 0; i < set->npools; i++)
        if (strcmp(set->pools[i].path, path) == 0) {
            *pool = &set->pools[i];
            return IVSHM_OK;
        }
    char seg_name[PI_NAME_SIZE], name[PI_NAME_SIZE];
    if (!pi_split_path(path, seg_name, name, err))
        return err ? err->code : IVSHM_E_INVAL;
    if (set->npools == PI_MAX_POOLS)
        return fail(err, IVSHM_E_INVAL, "%s: more than %u pools", path, PI_MAX_POOLS);
    struct pi_seg *seg = seg_get(set, seg_name, true, err);
    if (!seg)
        return err ? err->code : IVSHM_E_INVAL;
    struct pi_pool *p = &set->pools[set->npools];
    int rc = ivshm_mempool_lookup(&seg->seg.view, name, &p->mp, err);
    if (rc != IVSHM_OK)
        return rc;
    snprintf(p->path, sizeof(p->path), "%s", path);
    p->seg = seg;
    set->npools++;
    *pool = p;
    return IVSHM_OK;
}

int pi_open_ring(struct pi_set *set, const char *path, struct ivshm_ring *ring,
                 struct pi_seg **seg_out, struct ivshm_error *err)
{
    char seg_name[PI_NAME_SIZE], name[PI_NAME_SIZE];
    if (!pi_split_path(path, seg_name, name, err))
        return err ? err->code : IVSHM_E_INVAL;
    struct pi_seg *seg = seg_get(set, seg_name, false, err);
    if (!seg)
        return err ? err->code : IVSHM_E_INVAL;
    *seg_out = seg;
    return ivshm_ring_lookup(&seg->seg.view, name, ring, err);
}

void pi_pool_memory(const struct pi_pool *pool, void **base, uint64_t *len)
{
    *base = pool->seg->seg.base;
    *len = pool->seg->seg.mapped_size;
}

void pi_close(struct pi_set *set, bool keep_claims)
{
    for (unsigned i = 0; i < set->nsegs; i++) {
        if (keep_claims)
            set->segs[i].seg.view.party = -1; /* detach then leaves the slot alone */
        ivshm_segment_detach(&set->segs[i].seg);
    }
    set->nsegs = 0;
    set->npools = 0;
}

/* ---- ctrl ---- */

static uint32_t ctrl_state(const struct pi_seg *s)
{
    return atomic_load_explicit(&s->ctrl->state, memory_order_acquire);
}

bool pi_forwarder_active(const struct pi_seg *seg)
{
    if (!seg->ctrl)
        return false;
    /* EXIT too: the forwarder still empties its rx rings until DONE. */
    uint32_t st = ctrl_state(seg);
    return st == IVSHM_FWD_READY || st == IVSHM_FWD_FWD || st == IVSHM_FWD_EXIT;
}

int pi_wait_ready(struct pi_set *set, double timeout, const _Atomic bool *stop,
                  struct ivshm_error *err)
{
    double deadline = now_seconds() + timeout;
    uint64_t first_beat[PI_MAX_SEGS];
    for (unsigned i = 0; i < set->nsegs; i++)
        if (set->segs[i].ctrl)
            first_beat[i] =
                atomic_load_explicit(&set->segs[i].ctrl->heartbeat, memory_order_relaxed);
    for (;;) {
        sleep_ms(5);
        bool all = true;
        const struct pi_seg *stale = NULL, *down = NULL;
        for (unsigned i = 0; i < set->nsegs; i++) {
            const struct pi_seg *s = &set->segs[i];
            if (!s->ctrl)
                continue;
            uint32_t st = ctrl_state(s);
            if (st == IVSHM_FWD_FAIL)
                return fail(err, IVSHM_E_CORRUPT, "%s: the forwarder failed: %.40s", s->name,
                            s->ctrl->reason);
            bool up = st == IVSHM_FWD_READY || st == IVSHM_FWD_FWD;
            /* The state alone is not enough: a VM that died leaves FWD. */
            bool beating =
                atomic_load_explicit(&s->ctrl->heartbeat, memory_order_relaxed) != first_beat[i];
            if (up && !beating)
                stale = s;
            if (!up)
                down = s;
            all &= up && beating;
        }
        if (all)
            return IVSHM_OK;
        if (atomic_load(stop))
            return fail(err, IVSHM_E_NOENT, "interrupted while waiting for the forwarder");
        if (now_seconds() > deadline) {
            if (stale)
                return fail(err, IVSHM_E_NOENT,
                            "%s: ctrl says a forwarder is there, but its heartbeat has not "
                            "moved in %.0f s (did the VM stop?)",
                            stale->name, timeout);
            return fail(err, IVSHM_E_NOENT,
                        "%s: no forwarder became READY within %.0f s (is the VM running "
                        "fwd?)",
                        down ? down->name : "?", timeout);
        }
    }
}

static void set_state_all(struct pi_set *set, uint32_t from_a, uint32_t from_b, uint32_t to)
{
    for (unsigned i = 0; i < set->nsegs; i++) {
        struct ivshm_fwd_ctrl *c = set->segs[i].ctrl;
        if (!c)
            continue;
        uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
        /* Compare-and-swap: a forwarder may set FAIL meanwhile, and another
         * host party may move the state too. */
        if (st == from_a || st == from_b)
            atomic_compare_exchange_strong_explicit(&c->state, &st, to, memory_order_acq_rel,
                                                    memory_order_acquire);
    }
}

void pi_set_forwarding(struct pi_set *set)
{
    set_state_all(set, IVSHM_FWD_READY, IVSHM_FWD_READY, IVSHM_FWD_FWD);
}

void pi_request_exit(struct pi_set *set)
{
    set_state_all(set, IVSHM_FWD_READY, IVSHM_FWD_FWD, IVSHM_FWD_EXIT);
}

bool pi_wait_done(struct pi_set *set, double seconds)
{
    double deadline = now_seconds() + seconds;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < set->nsegs; i++)
            if (set->segs[i].ctrl && ctrl_state(&set->segs[i]) == IVSHM_FWD_EXIT)
                all = false;
        if (all)
            return true;
        if (now_seconds() > deadline)
            return false;
        sleep_ms(2);
    }
}

bool pi_forwarders_idle(const struct pi_set *set)
{
    for (unsigned i = 0; i < set->nsegs; i++) {
        const struct pi_seg *s = &set->segs[i];
        if (!pi_forwarder_active(s))
            continue;
        for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++) {
            const struct ivshm_fwd_counters *c = &s->ctrl->q[q];
            uint64_t r = atomic_load_explicit(&c->received, memory_order_relaxed);
            uint64_t sent = atomic_load_explicit(&c->sent, memory_order_relaxed);
            uint64_t d = atomic_load_explicit(&c->dropped, memory_order_relaxed);
            if (r != sent + d)
                return false;
        }
    }
    return true;
}

uint64_t pi_heartbeat(const struct pi_seg *seg)
{
    return seg->ctrl ? atomic_load_explicit(&seg->ctrl->heartbeat, memory_order_relaxed) : 0;
}

void pi_forwarder_counters(const struct pi_set *set, uint64_t *received, uint64_t *sent,
                           uint64_t *dropped)
{
    *received = *sent = *dropped = 0;
    for (unsigned i = 0; i < set->nsegs; i++) {
        const struct ivshm_fwd_ctrl *c = set->segs[i].ctrl;
        for (uint32_t q = 0; c && q < IVSHM_FWD_MAX_QUEUES; q++) {
            *received += atomic_load_explicit(&c->q[q].received, memory_order_relaxed);
            *sent += atomic_load_explicit(&c->q[q].sent, memory_order_relaxed);
            *dropped += atomic_load_explicit(&c->q[q].dropped, memory_order_relaxed);
        }
    }
}

/* ---- dead parties ---- */

uint64_t pi_dead_parties(const struct pi_pool *pool, bool *others_alive)
{
    const struct ivshm_segment *seg = &pool->seg->seg;
    const struct ivshm_segment_view *v = &seg->view;
    uint64_t dead = 0;
    *others_alive = false;
    for (uint32_t i = 0; i < v->party_capacity && i < IVSHM_MAX_PARTIES; i++) {
        const struct ivshm_party *p = &v->parties[i];
        uint32_t st = atomic_load_explicit(&p->state, memory_order_acquire);
        if ((int)i == v->party || p->kind != IVSHM_PARTY_HOST ||
            (st != IVSHM_PARTY_ALIVE && st != IVSHM_PARTY_CLAIMING))
            continue;
        if (ivshm_party_alive(p))
            *others_alive = true;
        else
            dead |= 1ull << i;
    }
    return dead;
}

uint32_t pi_buffers_held(const struct pi_pool *pool, uint64_t mask)
{
    static struct ivshm_mempool_audit audit; /* large; one thread calls this */
    ivshm_mempool_audit(&pool->mp, &audit);
    uint32_t n = 0;
    for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
        if (mask >> p & 1)
            n += audit.by_party[p];
    return n;
}

uint32_t pi_buffers_ours(const struct pi_pool *pool)
{
    int party = pool->seg->seg.view.party;
    return party < 0 ? 0 : pi_buffers_held(pool, 1ull << party);
}

bool pi_free_ring_busy(const struct ivshm_mempool *mp)
{
    struct ivshm_ring_stats st;
    ivshm_ring_stats(&mp->ring, &st);
    return st.prod_head != st.prod_tail || st.cons_head != st.cons_tail;
}

void pi_repair_free_ring(struct pi_pool *pool)
{
    ivshm_mempool_rebuild(&pool->mp, 0);
}

uint32_t pi_give_back(struct pi_pool *pool, uint64_t dead, bool others_alive)
{
    uint32_t n = 0;
    if (!others_alive) {
        /* Nobody else uses the free ring: the forwarders never allocate, the
         * dead are dead, and our own threads have not started. */
        n = ivshm_mempool_rebuild(&pool->mp, dead);
    } else {
        for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
            if (dead >> p & 1)
                n += ivshm_mempool_reclaim(&pool->mp, (int)p);
    }
    for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
        if (dead >> p & 1)
            ivshm_party_release(&pool->seg->seg.view, (int)p);
    return n;
}
