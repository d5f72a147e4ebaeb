/* SPDX-License-Identifier: BSD-3-Clause */
/* Laying a segment out in memory (common/layout_builder.h). Freestanding. */
#include <stdatomic.h>

#include "common/layout_builder.h"
#include "common/object.h"

int ivshm_builder_init(struct ivshm_builder *b, void *base, uint64_t size, uint64_t page_size,
                       int32_t numa_node, const char *name, uint32_t dir_capacity,
                       uint32_t party_capacity, struct ivshm_error *err)
{
    int rc = ivshm_name_check("segment", name, IVSHM_E_INVAL, err);
    if (rc)
        return rc;
    if (!ivshm_is_pow2(size))
        return ivshm_fail(err, IVSHM_E_INVAL, "segment size %llu is not a power of two",
                          (unsigned long long)size);
    if (dir_capacity > IVSHM_MAX_OBJECTS || party_capacity > IVSHM_MAX_PARTIES)
        return ivshm_fail(err, IVSHM_E_INVAL, "at most %u objects and %u parties",
                          IVSHM_MAX_OBJECTS, IVSHM_MAX_PARTIES);
    uint64_t meta = ivshm_metadata_bytes(dir_capacity, party_capacity);
    if (meta > size)
        return ivshm_fail(err, IVSHM_E_TOOBIG,
                          "segment '%s': %llu bytes of metadata do not fit in %llu bytes", name,
                          (unsigned long long)meta, (unsigned long long)size);
    ivshm_zero(base, meta);
    struct ivshm_segment_header *h = base;
    h->abi_version = IVSHM_ABI_VERSION;
    h->header_size = sizeof(*h);
    h->segment_size = size;
    h->page_size = page_size;
    h->numa_node = numa_node;
    h->party_capacity = party_capacity;
    h->party_offset = sizeof(*h);
    h->dir_capacity = dir_capacity;
    h->dir_offset = meta - (uint64_t)dir_capacity * sizeof(struct ivshm_dir_entry);
    h->data_offset = ivshm_align_up(meta, IVSHM_CACHE_LINE);
    h->data_end = h->data_offset;
    for (unsigned i = 0; name[i]; i++)
        h->name[i] = name[i];
    b->base = base;
    b->size = size;
    b->hdr = h;
    b->dir = (struct ivshm_dir_entry *)((uint8_t *)base + h->dir_offset);
    b->dir_capacity = dir_capacity;
    return IVSHM_OK;
}

uint64_t ivshm_builder_free_bytes(const struct ivshm_builder *b)
{
    return b->size - b->hdr->data_end;
}

/* Reserves a directory entry and `length` bytes aligned to `align`. */
static int builder_reserve(struct ivshm_builder *b, const char *kind, const char *name,
                           uint64_t length, uint64_t align, struct ivshm_dir_entry **entry,
                           struct ivshm_error *err)
{
    struct ivshm_segment_header *h = b->hdr;
    int rc = ivshm_name_check(kind, name, IVSHM_E_INVAL, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < h->object_count; i++)
        if (ivshm_name_equal(b->dir[i].name, name))
            return ivshm_fail(err, IVSHM_E_EXIST, "%s '%s': an object of that name exists already",
                              kind, name);
    if (h->object_count >= b->dir_capacity)
        return ivshm_fail(err, IVSHM_E_TOOBIG, "%s '%s': the directory is full (%u entries)", kind,
                          name, b->dir_capacity);
    uint64_t offset = ivshm_align_up(h->data_end, align);
    if (offset > b->size || length > b->size - offset)
        return ivshm_fail(err, IVSHM_E_TOOBIG,
                          "%s '%s': needs %llu bytes, only %llu left in the %llu-byte segment",
                          kind, name, (unsigned long long)length,
                          (unsigned long long)(offset < b->size ? b->size - offset : 0),
                          (unsigned long long)b->size);
    struct ivshm_dir_entry *e = &b->dir[h->object_count];
    ivshm_zero(e, sizeof(*e));
    for (unsigned i = 0; name[i]; i++)
        e->name[i] = name[i];
    e->offset = offset;
    e->length = length;
    h->data_end = offset + length;
    *entry = e;
    return IVSHM_OK;
}

int ivshm_builder_add(struct ivshm_builder *b, const struct ivshm_object_spec *spec,
                      struct ivshm_error *err)
{
    int rc = ivshm_object_spec_check(spec, err);
    if (rc)
        return rc;
    const struct ivshm_object_class *t = ivshm_object_class_find(spec->type);
    struct ivshm_dir_entry shape = {0};
    uint64_t align;
    t->shape(spec, &shape, &align);
    struct ivshm_dir_entry *e = NULL;
    rc = builder_reserve(b, t->name, spec->name, shape.length, align, &e, err);
    if (rc)
        return rc;
    e->type = t->type;
    e->param0 = shape.param0;
    e->param1 = shape.param1;
    t->init(b->base, e);
    b->hdr->object_count++;
    return IVSHM_OK;
}

void ivshm_builder_finalize(struct ivshm_builder *b)
{
    struct ivshm_segment_header *h = b->hdr;
    h->generation++;
    h->flags |= IVSHM_SEG_FINALIZED;
    for (unsigned i = 0; i < IVSHM_MAGIC_LEN; i++)
        h->magic[i] = IVSHM_MAGIC[i];
    h->checksum = 0;
    h->checksum = ivshm_segment_checksum(h, b->dir, h->object_count);
    /* Readers in other processes may map the file at any time: make the
     * metadata visible before anything else the caller publishes. */
    atomic_thread_fence(memory_order_release);
}
