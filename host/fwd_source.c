/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The traffic source of a forwarder's queue (issue 13 deliverable 7;
 * docs/abi.md 4.1): a host program that drives queue q (pktgen, ivshm-port)
 * claims ctrl->q[q].source as its party, so that a second one refuses to
 * start on that queue instead of corrupting the first one's counts and
 * buffers. A claim whose party is dead, or whose slot has been claimed again
 * since (another attach_count), is stale and taken over.
 */
#include <stdatomic.h>

#include "host/internal.h"
#include "ivshm/party.h"

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

/* Our own source word: view->party at its current attach count. */
static bool own_word(const struct ivshm_segment_view *view, uint64_t *word)
{
    struct ivshm_party me;
    if (view->party < 0 || ivshm_party_get(view, (uint32_t)view->party, &me, NULL) != IVSHM_OK)
        return false;
    *word = ivshm_fwd_source_word((uint32_t)view->party, me.attach_count);
    return true;
}

int ivshm_fwd_source_claim(const struct ivshm_segment_view *view, struct ivshm_fwd_ctrl *ctrl,
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

void ivshm_fwd_source_release(const struct ivshm_segment_view *view, struct ivshm_fwd_ctrl *ctrl,
                              uint32_t queue)
{
    uint64_t mine;
    if (queue < IVSHM_FWD_MAX_QUEUES && own_word(view, &mine))
        atomic_compare_exchange_strong(&ctrl->q[queue].source, &mine, 0);
}

int ivshm_fwd_source_check(const struct ivshm_segment_view *view, const struct ivshm_fwd_ctrl *ctrl,
                           uint32_t queue, struct ivshm_error *err)
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
