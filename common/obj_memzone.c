/* SPDX-License-Identifier: BSD-3-Clause */
/* Memzone objects (docs/abi.md 3.3): their row of the object-type table. */
#include "common/object.h"

#define MEMZONE_ALIGN_MAX (1u << 30)

static int memzone_check_spec(const struct ivshm_object_spec *spec, struct ivshm_error *err)
{
    if (spec->size == 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "memzone '%s': size 0", spec->name);
    if (spec->align && (!ivshm_is_pow2(spec->align) || spec->align > MEMZONE_ALIGN_MAX))
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "memzone '%s': align=%u is not a power of two up to 1 GiB", spec->name,
                          spec->align);
    return IVSHM_OK;
}

static void memzone_shape(const struct ivshm_object_spec *spec, struct ivshm_dir_entry *entry,
                          uint64_t *align)
{
    uint32_t a = spec->align < IVSHM_CACHE_LINE ? IVSHM_CACHE_LINE : spec->align;
    entry->length = spec->size;
    entry->param0 = a;
    entry->param1 = 0;
    *align = a;
}

static void memzone_init(uint8_t *base, const struct ivshm_dir_entry *entry)
{
    ivshm_zero(base + entry->offset, entry->length);
}

static int memzone_check_entry(const struct ivshm_dir_entry *e, struct ivshm_error *err)
{
    if (!ivshm_is_pow2(e->param0) || e->param0 < IVSHM_CACHE_LINE || e->param1)
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "memzone '%s': alignment %u is not a power of two >= 64", e->name,
                          e->param0);
    if (e->offset % e->param0)
        return ivshm_fail(err, IVSHM_E_BADSEG, "memzone '%s': offset 0x%llx is not %u-aligned",
                          e->name, (unsigned long long)e->offset, e->param0);
    return IVSHM_OK;
}

static void memzone_describe(const struct ivshm_segment_view *view, const struct ivshm_dir_entry *e,
                             struct ivshm_fields *out)
{
    (void)view;
    ivshm_fields_number(out, "size", NULL, e->length);
    ivshm_fields_number(out, "align", NULL, e->param0);
}

static const struct ivshm_object_key memzone_keys[] = {
    {"name", IVSHM_KEY_NAME, IVSHM_SPEC_FIELD(name), true, 0, NULL},
    {"size", IVSHM_KEY_SIZE64, IVSHM_SPEC_FIELD(size), true, UINT64_MAX, NULL},
    {"align", IVSHM_KEY_SIZE32, IVSHM_SPEC_FIELD(align), false, MEMZONE_ALIGN_MAX, NULL},
    {NULL, 0, 0, false, 0, NULL},
};

const struct ivshm_object_class ivshm_memzone_class = {
    .type = IVSHM_OBJ_MEMZONE,
    .name = "memzone",
    .check_spec = memzone_check_spec,
    .shape = memzone_shape,
    .init = memzone_init,
    .check_entry = memzone_check_entry,
    .describe = memzone_describe,
    .keys = memzone_keys,
    .usage = "name=Z,size=BYTES[,align=A]",
    .help = "add a memzone (repeatable)",
};
