/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every call the fuzz targets (tests/fuzz/) and the hostile-test tools
 * (tests/hostile/) make into libivshm, behind names of their own, so a
 * rename in the library changes tests/adapter.c only.
 */
#ifndef IVSHM_TEST_ADAPTER_H
#define IVSHM_TEST_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include "ivshm/fwd.h"
#include "ivshm/layout.h"
#include "ivshm/mempool.h"
#include "ivshm/ring.h"
#include "ivshm/segment.h"
#include "ivshm/status.h"

/* ---- both sides: a segment in memory ---- */

int ta_validate(void *base, uint64_t mapped_size, struct ivshm_segment_view *view,
                struct ivshm_error *err);
/* CRC-32C over the header (checksum field as zero) and `count` entries. */
uint32_t ta_checksum(const void *header, const void *dir, uint32_t count);
/* Object by name (type 0: any), a checked copy of its entry. */
int ta_object_lookup(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                     struct ivshm_dir_entry *entry, struct ivshm_error *err);
/* Checked copy of directory entry `index`. */
int ta_object_get(const struct ivshm_segment_view *view, uint32_t index,
                  struct ivshm_dir_entry *entry, struct ivshm_error *err);
int ta_ring_lookup(const struct ivshm_segment_view *view, const char *name, struct ivshm_ring *ring,
                   struct ivshm_error *err);
/* Mempool `name`, used as party `party`. */
int ta_mempool_lookup(const struct ivshm_segment_view *view, const char *name, int party,
                      struct ivshm_mempool *mp, struct ivshm_error *err);
int ta_memzone_lookup(const struct ivshm_segment_view *view, const char *name, void **addr,
                      uint64_t *length, struct ivshm_error *err);
/* Party slot index, or a negative status. */
int ta_party_claim(struct ivshm_segment_view *view, uint32_t kind, uint64_t pid, uint64_t start,
                   const char *label);
void ta_party_release(struct ivshm_segment_view *view, int index);

/* ---- ring and mempool operations ---- */

uint32_t ta_ring_enqueue(struct ivshm_ring *r, const uint64_t *objs, uint32_t n, bool bulk);
uint32_t ta_ring_dequeue(struct ivshm_ring *r, uint64_t *objs, uint32_t n, bool bulk);
uint32_t ta_ring_count(const struct ivshm_ring *r);
void ta_ring_stats(const struct ivshm_ring *r, struct ivshm_ring_stats *out);
int ta_ring_check(const struct ivshm_ring *r, struct ivshm_error *err);

int ta_cache_init(struct ivshm_mempool_cache *cache, uint32_t size);
void ta_cache_flush(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache);
int ta_mempool_get(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache, uint64_t *handles,
                   uint32_t n);
int ta_mempool_put(struct ivshm_mempool *mp, struct ivshm_mempool_cache *cache,
                   const uint64_t *handles, uint32_t n, uint32_t *freed);
void ta_mempool_set_debug(struct ivshm_mempool *mp, bool on);
/* Object index of a handle, UINT32_MAX if it is none of the pool's. */
uint32_t ta_mempool_index(const struct ivshm_mempool *mp, uint64_t handle);
void *ta_mempool_ptr(const struct ivshm_mempool *mp, uint64_t handle);
void ta_mempool_audit(const struct ivshm_mempool *mp, struct ivshm_mempool_audit *out);
uint32_t ta_mempool_reclaim(struct ivshm_mempool *mp, int party);
uint32_t ta_mempool_rebuild(struct ivshm_mempool *mp, uint64_t dead_parties);

/* Bytes at the start of a mempool object that pool operations write: the
 * free ring and the state bytes (not the objects themselves). */
uint64_t ta_mempool_control_bytes(const struct ivshm_dir_entry *entry);
/* State byte of object `index` (index < count). */
uint8_t ta_mempool_state(const struct ivshm_mempool *mp, uint32_t index);
uint32_t ta_mempool_count(const struct ivshm_mempool *mp);
struct ivshm_ring *ta_mempool_ring(struct ivshm_mempool *mp);

/* Whether a ring operation on that side would wait for ever in a single
 * thread: an MP (producer) or MC (consumer) side whose head is not its tail
 * waits for a tail nobody will move (issue 13 F1). Until F1's bounded wait
 * lands, the fuzz targets do not call such an operation. */
bool ta_ring_would_wait(const struct ivshm_ring *r, bool producer);

uint32_t ta_pkt_checksum(const uint8_t *data, uint32_t len);

/* ---- host: segment files (not in the fuzz targets) ---- */

#ifdef TA_HOST

/* Maps DIR/ivshm-NAME read-write; claims a party slot when `claim`. */
int ta_host_attach(const char *dir, const char *name, bool claim, const char *label,
                   struct ivshm_segment *seg, struct ivshm_error *err);
void ta_host_detach(struct ivshm_segment *seg);
struct ivshm_segment_view *ta_host_view(struct ivshm_segment *seg);
/* The claimed party slot, -1 when none. */
int ta_host_party(const struct ivshm_segment *seg);
#endif

#endif
