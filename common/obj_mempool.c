/* SPDX-License-Identifier: BSD-3-Clause */
/* Mempool objects (docs/abi.md 3.2): their row of the object-type table. */
#include "common/object.h"

static int mempool_check_spec(const struct ivshm_object_spec *spec, struct ivshm_error *err)
{
    struct ivshm_mempool_layout lay;
    if (ivshm_mempool_layout(spec->count, spec->obj_size, &lay) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "mempool '%s': count=%u size=%u out of range (count 1..%u, size 1..%u)",
                          spec->name, spec->count, spec->obj_size, IVSHM_MEMPOOL_MAX_OBJ,
                          IVSHM_MEMPOOL_MAX_OBJ_SIZE);
    if (spec->cache > IVSHM_MEMPOOL_CACHE_MAX)
        return ivshm_fail(err, IVSHM_E_INVAL, "mempool '%s': cache=%u is above %u", spec->name,
                          spec->cache, IVSHM_MEMPOOL_CACHE_MAX);
    return IVSHM_OK;
}

static void mempool_shape(const struct ivshm_object_spec *spec, struct ivshm_dir_entry *entry,
                          uint64_t *align)
{
    struct ivshm_mempool_layout lay = {0};
    ivshm_mempool_layout(spec->count, spec->obj_size, &lay); /* checked by check_spec */
    entry->length = lay.length;
    entry->param0 = spec->count;
    entry->param1 = spec->obj_size;
    *align = IVSHM_CACHE_LINE;
}

/* Every object starts free: its handle sits in the free ring, in order. */
static void mempool_init(uint8_t *base, const struct ivshm_dir_entry *e)
{
    struct ivshm_mempool_layout lay = {0};
    ivshm_mempool_layout(e->param0, e->param1, &lay); /* checked by check_spec */
    uint8_t *obj = base + e->offset;
    struct ivshm_ring_shared *ring = (struct ivshm_ring_shared *)obj;
    ivshm_zero(ring, sizeof(*ring));
    uint64_t *slots = (uint64_t *)(ring + 1);
    for (uint32_t i = 0; i < e->param0; i++)
        slots[i] = e->offset + lay.objs_off + (uint64_t)i * lay.stride;
    atomic_store_explicit(&ring->prod.head, e->param0, memory_order_relaxed);
    atomic_store_explicit(&ring->prod.tail, e->param0, memory_order_relaxed);
    ivshm_zero(obj + lay.state_off, e->param0);
}

static int mempool_check_entry(const struct ivshm_dir_entry *e, struct ivshm_error *err)
{
    struct ivshm_mempool_layout lay;
    if (ivshm_mempool_layout(e->param0, e->param1, &lay) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "mempool '%s': count %u or object size %u out of range", e->name,
                          e->param0, e->param1);
    if (e->length != lay.length)
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "mempool '%s': length %llu does not match count %u x size %u", e->name,
                          (unsigned long long)e->length, e->param0, e->param1);
    return IVSHM_OK;
}

static void mempool_describe(const struct ivshm_segment_view *view, const struct ivshm_dir_entry *e,
                             struct ivshm_fields *out)
{
    ivshm_fields_number(out, "count", NULL, e->param0);
    ivshm_fields_number(out, "size", "object_size", e->param1);
    struct ivshm_mempool mp;
    struct ivshm_error err;
    /* Party 0: the audit only reads the state bytes. */
    if (ivshm_mempool_attach(&mp, view, e, 0, &err) != IVSHM_OK) {
        ivshm_fields_error(out, &err);
        return;
    }
    struct ivshm_mempool_audit a;
    ivshm_mempool_audit(&mp, &a);
    ivshm_fields_number(out, "free", "free_objects", a.free);
    ivshm_fields_number(out, "allocated", NULL, a.allocated);
    ivshm_fields_number(out, "cached", NULL, a.cached);
}

static const struct ivshm_object_key mempool_keys[] = {
    {"name", IVSHM_KEY_NAME, IVSHM_SPEC_FIELD(name), true, 0, NULL},
    {"count", IVSHM_KEY_U32, IVSHM_SPEC_FIELD(count), true, UINT32_MAX, NULL},
    {"size", IVSHM_KEY_SIZE32, IVSHM_SPEC_FIELD(obj_size), true, UINT32_MAX, NULL},
    {"cache", IVSHM_KEY_U32, IVSHM_SPEC_FIELD(cache), false, IVSHM_MEMPOOL_CACHE_MAX, NULL},
    {NULL, 0, 0, false, 0, NULL},
};

const struct ivshm_object_class ivshm_mempool_class = {
    .type = IVSHM_OBJ_MEMPOOL,
    .name = "mempool",
    .check_spec = mempool_check_spec,
    .shape = mempool_shape,
    .init = mempool_init,
    .check_entry = mempool_check_entry,
    .describe = mempool_describe,
    .keys = mempool_keys,
    .usage = "name=P,count=N,size=BYTES[,cache=C]",
    .help = "add a mempool (repeatable); cache (0..512) is checked, not stored",
};
