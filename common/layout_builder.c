/* SPDX-License-Identifier: BSD-3-Clause */
/* Laying a segment out in memory (common/layout_builder.h). Freestanding. */
#include <stdatomic.h>

#include "common/layout_builder.h"

static void zero_bytes(void *p, uint64_t n)
{
    uint8_t *d = p;
    while (n--)
        *d++ = 0;
}

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
    zero_bytes(base, meta);
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
    zero_bytes(e, sizeof(*e));
    for (unsigned i = 0; name[i]; i++)
        e->name[i] = name[i];
    e->offset = offset;
    e->length = length;
    h->data_end = offset + length;
    *entry = e;
    return IVSHM_OK;
}

int ivshm_builder_add_ring(struct ivshm_builder *b, const char *name, uint32_t slots, uint32_t mode,
                           struct ivshm_error *err)
{
    if (!ivshm_is_pow2(slots) || slots > IVSHM_RING_MAX_SLOTS)
        return ivshm_fail(err, IVSHM_E_INVAL, "ring '%s': slots=%u is not a power of two in 1..%u",
                          name, slots, IVSHM_RING_MAX_SLOTS);
    if (mode & ~(uint32_t)IVSHM_RING_MPMC)
        return ivshm_fail(err, IVSHM_E_INVAL, "ring '%s': unknown mode 0x%x", name, mode);
    struct ivshm_dir_entry *e;
    int rc = builder_reserve(b, "ring", name, ivshm_ring_bytes(slots), IVSHM_CACHE_LINE, &e, err);
    if (rc)
        return rc;
    e->type = IVSHM_OBJ_RING;
    e->param0 = slots;
    e->param1 = mode;
    zero_bytes(b->base + e->offset, sizeof(struct ivshm_ring_shared));
    b->hdr->object_count++;
    return IVSHM_OK;
}

int ivshm_builder_add_mempool(struct ivshm_builder *b, const char *name, uint32_t count,
                              uint32_t obj_size, struct ivshm_error *err)
{
    struct ivshm_mempool_layout lay;
    if (ivshm_mempool_layout(count, obj_size, &lay) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "mempool '%s': count=%u and size=%u must be in 1..%u and 1..%u", name,
                          count, obj_size, IVSHM_MEMPOOL_MAX_OBJ, 1u << 30);
    struct ivshm_dir_entry *e;
    int rc = builder_reserve(b, "mempool", name, lay.length, IVSHM_CACHE_LINE, &e, err);
    if (rc)
        return rc;
    e->type = IVSHM_OBJ_MEMPOOL;
    e->param0 = count;
    e->param1 = obj_size;
    /* Every object starts free: its handle sits in the free ring. */
    uint8_t *obj = b->base + e->offset;
    struct ivshm_ring_shared *ring = (struct ivshm_ring_shared *)obj;
    zero_bytes(ring, sizeof(*ring));
    uint64_t *slots = (uint64_t *)(ring + 1);
    for (uint32_t i = 0; i < count; i++)
        slots[i] = e->offset + lay.objs_off + (uint64_t)i * lay.stride;
    atomic_store_explicit(&ring->prod.head, count, memory_order_relaxed);
    atomic_store_explicit(&ring->prod.tail, count, memory_order_relaxed);
    zero_bytes(obj + lay.state_off, count);
    b->hdr->object_count++;
    return IVSHM_OK;
}

int ivshm_builder_add_memzone(struct ivshm_builder *b, const char *name, uint64_t size,
                              uint32_t align, struct ivshm_error *err)
{
    if (align == 0)
        align = IVSHM_CACHE_LINE;
    if (!ivshm_is_pow2(align) || align > (1u << 30))
        return ivshm_fail(err, IVSHM_E_INVAL, "memzone '%s': align=%u is not a power of two", name,
                          align);
    if (align < IVSHM_CACHE_LINE)
        align = IVSHM_CACHE_LINE;
    if (size == 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "memzone '%s': size must be at least 1 byte", name);
    struct ivshm_dir_entry *e;
    int rc = builder_reserve(b, "memzone", name, size, align, &e, err);
    if (rc)
        return rc;
    e->type = IVSHM_OBJ_MEMZONE;
    e->param0 = align;
    zero_bytes(b->base + e->offset, size);
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
