/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal: lays a segment out in memory the caller provides. The host's
 * ivshm_segment_create (builder.h) runs it over a mapped file; the tests and
 * tests/boot/segtool over ordinary memory. Freestanding C.
 */
#ifndef IVSHM_COMMON_LAYOUT_BUILDER_H
#define IVSHM_COMMON_LAYOUT_BUILDER_H

#include "common/internal.h"
#include "ivshm/builder.h"

struct ivshm_builder {
    uint8_t *base;
    uint64_t size;
    struct ivshm_segment_header *hdr;
    struct ivshm_dir_entry *dir;
    uint32_t dir_capacity;
};

/*
 * Lays out an empty segment over [base, base+size): zeroes the metadata area,
 * writes the header (magic left zero until finalize), reserves dir_capacity
 * directory entries and party_capacity party entries. size must be a power of
 * two. The object memory is not touched here (each object is initialised
 * when it is added).
 * Errors: IVSHM_E_INVAL (name, size, capacities), IVSHM_E_TOOBIG (the
 * metadata does not fit).
 */
int ivshm_builder_init(struct ivshm_builder *b, void *base, uint64_t size, uint64_t page_size,
                       int32_t numa_node, const char *name, uint32_t dir_capacity,
                       uint32_t party_capacity, struct ivshm_error *err);

/* Adds one object, placed after the last (object-type table: the spec is
 * checked, its bytes reserved, its memory initialised). IVSHM_OK or
 * IVSHM_E_INVAL / E_EXIST / E_TOOBIG with err naming the object and the
 * reason. Nothing is written on failure. */
int ivshm_builder_add(struct ivshm_builder *b, const struct ivshm_object_spec *spec,
                      struct ivshm_error *err);

/* Shorthands for the built-in types (tests, segtool, benchmarks). */
static inline int ivshm_builder_add_ring(struct ivshm_builder *b, const char *name, uint32_t slots,
                                         uint32_t mode, struct ivshm_error *err)
{
    struct ivshm_object_spec s = {
        .type = IVSHM_OBJ_RING, .name = name, .slots = slots, .mode = mode};
    return ivshm_builder_add(b, &s, err);
}

static inline int ivshm_builder_add_mempool(struct ivshm_builder *b, const char *name,
                                            uint32_t count, uint32_t obj_size,
                                            struct ivshm_error *err)
{
    struct ivshm_object_spec s = {
        .type = IVSHM_OBJ_MEMPOOL, .name = name, .count = count, .obj_size = obj_size};
    return ivshm_builder_add(b, &s, err);
}

static inline int ivshm_builder_add_memzone(struct ivshm_builder *b, const char *name,
                                            uint64_t size, uint32_t align, struct ivshm_error *err)
{
    struct ivshm_object_spec s = {
        .type = IVSHM_OBJ_MEMZONE, .name = name, .size = size, .align = align};
    return ivshm_builder_add(b, &s, err);
}

/* Bytes still free after the last object (before alignment of the next). */
uint64_t ivshm_builder_free_bytes(const struct ivshm_builder *b);

/* Computes the checksum, bumps the generation and writes the magic last, so
 * no reader accepts a half-built segment. */
void ivshm_builder_finalize(struct ivshm_builder *b);

#endif
