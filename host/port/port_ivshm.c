/* SPDX-License-Identifier: BSD-3-Clause */
/* ivshm-port's adapter to libivshm (see port_ivshm.h). */
#include <stdio.h>
#include <string.h>

#include "common/internal.h"
#include "port_ivshm.h"

#define PI_LABEL "ivshm-port"

void pi_init(struct pi_set *set, const char *dir, const _Atomic bool *stop)
{
    set->dir = dir;
    set->nsegs = set->npools = 0;
    ivshm_fwd_host_init(&set->fwds, stop);
}

bool pi_split_path(const char *path, char seg[PI_NAME_SIZE], char name[PI_NAME_SIZE],
                   struct ivshm_error *err)
{
    const char *slash = strchr(path, '/');
    size_t seg_len = slash ? (size_t)(slash - path) : 0;
    if (!slash || seg_len == 0 || seg_len >= PI_NAME_SIZE || strlen(slash + 1) >= PI_NAME_SIZE ||
        slash[1] == '\0') {
        ivshm_fail(err, IVSHM_E_INVAL, "%s: not SEG/NAME", path);
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
            ivshm_fail(err, IVSHM_E_INVAL, "%s: attached for a ring before its pool was opened",
                       name);
            return NULL;
        }
        return s;
    }
    if (set->nsegs == PI_MAX_SEGS) {
        ivshm_fail(err, IVSHM_E_INVAL, "%s: more than %u segments", name, PI_MAX_SEGS);
        return NULL;
    }
    struct pi_seg *s = &set->segs[set->nsegs];
    memset(s, 0, sizeof(*s));
    if (ivshm_segment_attach(set->dir, name, claim ? IVSHM_ATTACH_CLAIM : 0, PI_LABEL, &s->seg,
                             err) != IVSHM_OK)
        return NULL;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->claimed = claim;
    set->nsegs++; /* detached with the others, even when the next step fails */
    if (ivshm_fwd_host_add(&set->fwds, &s->seg.view, &s->ctrl, err) != IVSHM_OK)
        return NULL;
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
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: more than %u pools", path, PI_MAX_POOLS);
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

int pi_claim_source(struct pi_seg *seg, const char *path, struct ivshm_error *err)
{
    char seg_name[PI_NAME_SIZE], name[PI_NAME_SIZE];
    unsigned q;
    char more;
    if (!seg->ctrl || !pi_split_path(path, seg_name, name, NULL) ||
        sscanf(name, "rx%u%c", &q, &more) != 1 || q >= IVSHM_FWD_MAX_QUEUES)
        return IVSHM_OK;
    if (!seg->claimed)
        return ivshm_fwd_host_check_source(&seg->seg.view, seg->ctrl, q, err);
    int rc = ivshm_fwd_host_claim_source(&seg->seg.view, seg->ctrl, q, err);
    if (rc == IVSHM_OK)
        seg->sources |= 1u << q;
    return rc;
}

void pi_close(struct pi_set *set, bool keep_claims)
{
    for (unsigned i = 0; i < set->nsegs; i++) {
        struct pi_seg *s = &set->segs[i];
        for (uint32_t q = 0; q < IVSHM_FWD_MAX_QUEUES; q++)
            if (s->sources >> q & 1)
                ivshm_fwd_host_release_source(&s->seg.view, s->ctrl, q);
        s->sources = 0;
        if (keep_claims)
            set->segs[i].seg.view.party = -1; /* detach then leaves the slot alone */
        ivshm_segment_detach(&set->segs[i].seg);
    }
    set->nsegs = 0;
    set->npools = 0;
}

uint64_t pi_heartbeat(const struct pi_seg *seg)
{
    return seg->ctrl ? atomic_load_explicit(&seg->ctrl->heartbeat, memory_order_relaxed) : 0;
}

uint32_t pi_buffers_ours(const struct pi_pool *pool)
{
    int party = pool->seg->seg.view.party;
    return party < 0 ? 0 : ivshm_fwd_host_held(&pool->mp, 1ull << party);
}
