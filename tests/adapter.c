/* SPDX-License-Identifier: BSD-3-Clause */
/* The library calls of the fuzz targets and hostile-test tools (adapter.h). */
#include "adapter.h"

#include "common/internal.h"

int ta_validate(void *base, uint64_t mapped_size, struct ivshm_segment_view *view,
                struct ivshm_error *err)
{
    return ivshm_segment_validate(base, mapped_size, view, err);
}

uint32_t ta_checksum(const void *header, const void *dir, uint32_t count)
{
    return ivshm_segment_checksum(header, dir, count);
}

int ta_object_lookup(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                     struct ivshm_dir_entry *entry, struct ivshm_error *err)
{
    return ivshm_object_lookup(view, name, type, entry, err);
}

int ta_object_get(const struct ivshm_segment_view *view, uint32_t index,
                  struct ivshm_dir_entry *entry, struct ivshm_error *err)
{
    return ivshm_object_get(view, index, entry, err);
}

int ta_ring_lookup(const struct ivshm_segment_view *view, const char *name, struct ivshm_ring *ring,
                   struct ivshm_error *err)
{
    return ivshm_ring_lookup(view, name, ring, err);
}

int ta_mempool_lookup(const struct ivshm_segment_view *view, const char *name, int party,
                      struct ivshm_mempool *mp, struct ivshm_error *err)
{
    struct ivshm_dir_entry e;
    int rc = ivshm_object_lookup(view, name, IVSHM_OBJ_MEMPOOL, &e, err);
    return rc ? rc : ivshm_mempool_attach(mp, view, &e, party, err);
}

int ta_memzone_lookup(const struct ivshm_segment_view *view, const char *name, void **addr,
                      uint64_t *length, struct ivshm_error *err)
{
    return ivshm_memzone_lookup(view, name, addr, length, err);
}

int ta_party_claim(struct ivshm_segment_view *view, uint32_t kind, uint64_t pid, uint64_t start,
                   const char *label)
{
    return ivshm_party_claim(view, kind, pid, start, label);
}

void ta_party_release(struct ivshm_segment_view *view, int index)
{
    ivshm_party_release(view, index);
}

uint32_t ta_ring_enqueue(struct ivshm_ring *r, const uint64_t *objs, uint32_t n, bool bulk)
{
    return bulk ? ivshm_ring_enqueue_bulk(r, objs, n, NULL)
                : ivshm_ring_enqueue_burst(r, objs, n, NULL);
}

uint32_t ta_ring_dequeue(struct ivshm_ring *r, uint64_t *objs, uint32_t n, bool bulk)
{
    return bulk ? ivshm_ring_dequeue_bulk(r, objs, n, NULL)
                : ivshm_ring_dequeue_burst(r, objs, n, NULL);
}

uint32_t ta_ring_count(const struct ivshm_ring *r)
{
    return ivshm_ring_count(r);
}

void ta_ring_stats(const struct ivshm_ring *r, struct ivshm_ring_stats *out)
{
    ivshm_ring_stats(r, out);
}

int ta_ring_check(const struct ivshm_ring *r, struct ivshm_error *err)
{
    return ivshm_ring_check(r, err);
}

int ta_cache_init(struct ivshm_mempool_cache *cache, uint32_t size)
{
    return ivshm_mempool_cache_init(cache, size);
}

void ta_cache_flush(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache)
{
    ivshm_mempool_cache_flush(mp, cache);
}

int ta_mempool_get(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache, uint64_t *handles,
                   uint32_t n)
{
    return ivshm_mempool_get_bulk(mp, cache, handles, n);
}

int ta_mempool_put(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                   const uint64_t *handles, uint32_t n, uint32_t *freed)
{
    return ivshm_mempool_put_bulk(mp, cache, handles, n, freed);
}

void ta_mempool_set_debug(struct ivshm_mempool *mp, bool on)
{
    ivshm_mempool_set_debug(mp, on);
}

uint32_t ta_mempool_index(const struct ivshm_mempool *mp, uint64_t handle)
{
    return ivshm_mempool_index(mp, handle);
}

void *ta_mempool_ptr(const struct ivshm_mempool *mp, uint64_t handle)
{
    return ivshm_mempool_ptr(mp, handle);
}

void ta_mempool_audit(const struct ivshm_mempool *mp, struct ivshm_mempool_audit *out)
{
    ivshm_mempool_audit(mp, out);
}

uint32_t ta_mempool_reclaim(struct ivshm_mempool *mp, int party)
{
    return ivshm_mempool_reclaim(mp, party);
}

uint32_t ta_mempool_rebuild(struct ivshm_mempool *mp, uint64_t dead_parties)
{
    return ivshm_mempool_rebuild(mp, dead_parties);
}

uint64_t ta_mempool_control_bytes(const struct ivshm_dir_entry *entry)
{
    struct ivshm_mempool_layout lay;
    if (ivshm_mempool_layout(entry->param0, entry->param1, &lay) != IVSHM_OK)
        return 0;
    return lay.objs_off;
}

uint8_t ta_mempool_state(const struct ivshm_mempool *mp, uint32_t index)
{
    return atomic_load_explicit(&mp->state[index], memory_order_relaxed);
}

uint32_t ta_mempool_count(const struct ivshm_mempool *mp)
{
    return mp->count;
}

struct ivshm_ring *ta_mempool_ring(struct ivshm_mempool *mp)
{
    return &mp->ring;
}

bool ta_ring_would_wait(const struct ivshm_ring *r, bool producer)
{
    if (!(r->mode & (producer ? IVSHM_RING_MP : IVSHM_RING_MC)))
        return false;
    const struct ivshm_ring_side *side = producer ? &r->shared->prod : &r->shared->cons;
    return atomic_load_explicit(&side->head, memory_order_relaxed) !=
           atomic_load_explicit(&side->tail, memory_order_relaxed);
}

uint32_t ta_pkt_checksum(const uint8_t *data, uint32_t len)
{
    return ivshm_pkt_checksum(data, len);
}

#ifdef TA_HOST
int ta_host_attach(const char *dir, const char *name, bool claim, const char *label,
                   struct ivshm_segment *seg, struct ivshm_error *err)
{
    return ivshm_segment_attach(dir, name, claim ? IVSHM_ATTACH_CLAIM : 0, label, seg, err);
}

void ta_host_detach(struct ivshm_segment *seg)
{
    ivshm_segment_detach(seg);
}

struct ivshm_segment_view *ta_host_view(struct ivshm_segment *seg)
{
    return &seg->view;
}

int ta_host_party(const struct ivshm_segment *seg)
{
    return seg->view.party;
}
#endif
