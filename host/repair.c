/* SPDX-License-Identifier: BSD-3-Clause */
/* Repairing a damaged segment in place (host/repair.h). */
#include <string.h>

#include "host/fwd_host.h"
#include "host/internal.h"
#include "host/repair.h"
#include "ivshm/party.h"

/* Stale claims are judged over this long (see ivshm_party_stale_claims). */
#define STALE_CLAIM_S 0.25

/* Attaches NAME, claiming a party slot when one is free. Header or
 * directory damage is refused with "NAME: cannot repair: ...". */
static int attach(const char *dir, const char *name, struct ivshm_segment *seg,
                  struct ivshm_error *err)
{
    char d[IVSHM_PATH_MAX], path[IVSHM_PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(d, name, path, sizeof(path), err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_attach_path(path, 0, NULL, seg, err);
    if (rc == IVSHM_E_BADSEG || rc == IVSHM_E_NOTSEG || rc == IVSHM_E_VERSION) {
        size_t n = strlen(path);
        const char *why =
            strncmp(err->msg, path, n) == 0 && err->msg[n] == ':' ? err->msg + n + 2 : err->msg;
        char reason[sizeof(err->msg)];
        memcpy(reason, why, strlen(why) + 1);
        return ivshm_fail(err, rc,
                          "%s: cannot repair: %s (header and directory are not repaired in "
                          "place: re-create the segment)",
                          name, reason);
    }
    if (rc)
        return rc;
    /* Without a slot (the table is full) it works all the same. */
    if (ivshm_party_claim_self(&seg->view, name, IVSHM_REPAIR_LABEL, NULL) != IVSHM_OK)
        seg->view.party = -1;
    return IVSHM_OK;
}

static bool is_forwarder(const struct ivshm_party *p)
{
    return strncmp(p->label, IVSHM_FWD_HOST_FORWARDER_LABEL, sizeof(p->label)) == 0;
}

/* A live host process other than us attached to the segment, the
 * forwarder excepted unless `forwarders_too`: its slot, or -1. */
static int live_host(const struct ivshm_segment_view *view, bool forwarders_too,
                     struct ivshm_party *who)
{
    for (uint32_t i = 0; i < view->party_capacity; i++)
        if ((int)i != view->party && ivshm_party_get(view, i, who, NULL) == IVSHM_OK &&
            who->kind == IVSHM_PARTY_HOST && ivshm_party_alive(who) &&
            (forwarders_too || !is_forwarder(who)))
            return (int)i;
    return -1;
}

/* Empties every ring of the segment. */
static void reset_rings(const struct ivshm_segment_view *view, struct ivshm_repair_report *rep)
{
    for (uint32_t i = 0; i < view->object_count; i++) {
        struct ivshm_dir_entry e;
        struct ivshm_ring ring;
        if (ivshm_object_get(view, i, &e, NULL) != IVSHM_OK || e.type != IVSHM_OBJ_RING ||
            ivshm_ring_attach(&ring, view, &e, NULL) != IVSHM_OK)
            continue;
        rep->rings++;
        rep->rings_damaged += ivshm_ring_check(&ring, NULL) != IVSHM_OK;
        rep->entries += ivshm_ring_reset(&ring);
    }
}

/* Rebuilds every mempool of the segment from scratch. */
static void rebuild_pools(const struct ivshm_segment_view *view, struct ivshm_repair_report *rep)
{
    for (uint32_t i = 0; i < view->object_count; i++) {
        struct ivshm_dir_entry e;
        struct ivshm_mempool mp;
        if (ivshm_object_get(view, i, &e, NULL) != IVSHM_OK || e.type != IVSHM_OBJ_MEMPOOL ||
            ivshm_mempool_attach(&mp, view, &e, view->party, NULL) != IVSHM_OK)
            continue;
        rep->pools++;
        rep->objects += mp.count;
        rep->taken_back += ivshm_mempool_rebuild_all(&mp);
    }
}

/* Whether a party entry in state `st` is garbage: a state or kind of no
 * known value, a guest with a pid (a guest records 0, docs/abi.md 1.3), a
 * label without its terminator. */
static bool garbage(const struct ivshm_party *p, uint32_t st)
{
    if (st > IVSHM_PARTY_CLAIMING)
        return true;
    if (st != IVSHM_PARTY_ALIVE)
        return false;
    const volatile char *label = p->label;
    bool terminated = false;
    for (size_t i = 0; i < sizeof(p->label) && !terminated; i++)
        terminated = label[i] == '\0';
    uint32_t kind = *(const volatile uint32_t *)&p->kind;
    return !terminated || (kind != IVSHM_PARTY_HOST && kind != IVSHM_PARTY_GUEST) ||
           (kind == IVSHM_PARTY_GUEST && *(const volatile uint64_t *)&p->pid != 0);
}

/* Frees the slots of dead host processes, stale claims and garbage; live
 * host and guest parties, and ours, stay. */
static uint32_t clear_parties(const struct ivshm_segment_view *view)
{
    uint32_t cleared = 0;
    uint64_t stale = ivshm_party_stale_claims(view, STALE_CLAIM_S);
    for (uint32_t i = 0; i < view->party_capacity && i < IVSHM_MAX_PARTIES; i++) {
        struct ivshm_party *p = &view->parties[i];
        uint32_t st = atomic_load_explicit(&p->state, memory_order_acquire);
        if ((int)i == view->party)
            continue;
        if (garbage(p, st)) {
            /* Fields first, while no claimer can take the slot; the
             * attach count stays (it tells a reused slot apart). */
            p->kind = 0;
            p->pid = p->start_time = 0;
            atomic_store_explicit(&p->heartbeat, 0, memory_order_relaxed);
            memset(p->label, 0, sizeof(p->label));
            cleared += atomic_compare_exchange_strong(&p->state, &st, IVSHM_PARTY_FREE);
        } else if (stale >> i & 1) {
            cleared += ivshm_party_free_if(view, i, IVSHM_PARTY_CLAIMING);
        } else if (ivshm_party_dead_host(p)) {
            cleared += ivshm_party_free_if(view, i, IVSHM_PARTY_ALIVE);
        }
    }
    return cleared;
}

int ivshm_repair(const char *dir, const char *name, double timeout, const _Atomic bool *stop,
                 struct ivshm_repair_report *rep, struct ivshm_error *err)
{
    memset(rep, 0, sizeof(*rep));
    static struct ivshm_segment seg; /* large (the path); one thread repairs */
    int rc = attach(dir, name, &seg, err);
    if (rc)
        return rc;
    const struct ivshm_segment_view *view = &seg.view;
    struct ivshm_party who;
    int slot = live_host(view, false, &who);
    if (slot >= 0) {
        ivshm_segment_detach(&seg);
        return ivshm_fail(err, IVSHM_E_EXIST,
                          "%s: process %llu (%s, party %d) is attached and may be using its "
                          "buffers; stop it first",
                          name, (unsigned long long)who.pid, who.label[0] ? who.label : "no label",
                          slot);
    }
    void *addr;
    uint64_t len;
    struct ivshm_fwd_ctrl *ctrl = NULL;
    if (ivshm_memzone_lookup(view, IVSHM_FWD_CTRL, &addr, &len, NULL) == IVSHM_OK &&
        len >= sizeof(struct ivshm_fwd_ctrl))
        ctrl = addr;
    rep->forwarder = ctrl != NULL;
    if (ctrl) {
        rc = ivshm_fwd_host_pause(name, ctrl, timeout, stop, &rep->paused, err);
        /* A forwarder process that is attached but does not poll (stopped)
         * could wake in the middle of the repair. */
        if (rc == IVSHM_OK && !rep->paused && (slot = live_host(view, true, &who)) >= 0)
            rc = ivshm_fail(err, IVSHM_E_EXIST,
                            "%s: forwarder process %llu (party %d) is attached but does not "
                            "poll (stopped?); resume or stop it first",
                            name, (unsigned long long)who.pid, slot);
        if (rc) {
            ivshm_segment_detach(&seg);
            return rc;
        }
    }
    reset_rings(view, rep);
    rebuild_pools(view, rep);
    rep->parties = clear_parties(view);
    if (ctrl) {
        rep->sources = ivshm_fwd_host_clear_sources(view, ctrl);
        if (rep->paused)
            ivshm_fwd_host_resume(ctrl);
    }
    ivshm_segment_detach(&seg);
    return IVSHM_OK;
}
