/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fourth object type that exists only in tests: "counters", an array of
 * 64-bit counters. It is added the way docs/object-types.md describes, with
 * one file and one row, and registered at start-up by a constructor (a
 * built-in type's row would go into common/object.c's table instead), so a
 * program linking this file creates, validates and inspects it with no other
 * change: tests/unit/test_object_class.c and tests/cli/test_object_type.sh.
 */
#include "tests/object_type/counters.h"

#define COUNTERS_MAX (1u << 20)

static int counters_check_spec(const struct ivshm_object_spec *spec, struct ivshm_error *err)
{
    if (spec->count == 0 || spec->count > COUNTERS_MAX)
        return ivshm_fail(err, IVSHM_E_INVAL, "counters '%s': count=%u out of range 1..%u",
                          spec->name, spec->count, COUNTERS_MAX);
    return IVSHM_OK;
}

static void counters_shape(const struct ivshm_object_spec *spec, struct ivshm_dir_entry *entry,
                           uint64_t *align)
{
    entry->length = (uint64_t)spec->count * sizeof(uint64_t);
    entry->param0 = spec->count;
    entry->param1 = 0;
    *align = IVSHM_CACHE_LINE;
}

static void counters_init(uint8_t *base, const struct ivshm_dir_entry *entry)
{
    ivshm_zero(base + entry->offset, entry->length);
}

static int counters_check_entry(const struct ivshm_dir_entry *e, struct ivshm_error *err)
{
    if (e->param0 == 0 || e->param0 > COUNTERS_MAX || e->param1 != 0 ||
        e->length != (uint64_t)e->param0 * sizeof(uint64_t))
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "counters '%s': length %llu does not match %u counters", e->name,
                          (unsigned long long)e->length, e->param0);
    return IVSHM_OK;
}

static void counters_describe(const struct ivshm_segment_view *view,
                              const struct ivshm_dir_entry *e, struct ivshm_fields *out)
{
    const volatile uint64_t *c = (const volatile uint64_t *)(view->base + e->offset);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < e->param0; i++)
        sum += c[i];
    ivshm_fields_number(out, "count", NULL, e->param0);
    ivshm_fields_number(out, "sum", NULL, sum);
}

static const struct ivshm_object_key counters_keys[] = {
    {"name", IVSHM_KEY_NAME, IVSHM_SPEC_FIELD(name), true, 0, NULL},
    {"count", IVSHM_KEY_U32, IVSHM_SPEC_FIELD(count), true, COUNTERS_MAX, NULL},
    {NULL, 0, 0, false, 0, NULL},
};

const struct ivshm_object_class test_counters_class = {
    .type = TEST_OBJ_COUNTERS,
    .name = "counters",
    .check_spec = counters_check_spec,
    .shape = counters_shape,
    .init = counters_init,
    .check_entry = counters_check_entry,
    .describe = counters_describe,
    .keys = counters_keys,
    .usage = "name=C,count=N",
    .help = "add an array of N 64-bit counters (a test-only type)",
};

__attribute__((constructor)) static void register_counters(void)
{
    ivshm_object_class_register(&test_counters_class, NULL);
}
