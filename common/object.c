/* SPDX-License-Identifier: BSD-3-Clause */
/* The object-type table (common/object.h). Freestanding. */
#include "common/object.h"

static const struct ivshm_object_class *types[IVSHM_OBJECT_CLASSES_MAX] = {
    &ivshm_ring_class,
    &ivshm_mempool_class,
    &ivshm_memzone_class,
};
static unsigned type_count = 3;

const struct ivshm_object_class *ivshm_object_class_find(uint32_t type)
{
    for (unsigned i = 0; i < type_count; i++)
        if (types[i]->type == type)
            return types[i];
    return NULL;
}

const struct ivshm_object_class *ivshm_object_class_at(unsigned i)
{
    return i < type_count ? types[i] : NULL;
}

static bool same_text(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

int ivshm_object_class_register(const struct ivshm_object_class *type, struct ivshm_error *err)
{
    for (unsigned i = 0; i < type_count; i++)
        if (types[i]->type == type->type || same_text(types[i]->name, type->name))
            return ivshm_fail(err, IVSHM_E_EXIST, "object type %u '%s': taken by type %u '%s'",
                              type->type, type->name, types[i]->type, types[i]->name);
    if (type_count == IVSHM_OBJECT_CLASSES_MAX)
        return ivshm_fail(err, IVSHM_E_NOSPC, "object type '%s': the table holds %u types",
                          type->name, IVSHM_OBJECT_CLASSES_MAX);
    types[type_count++] = type;
    return IVSHM_OK;
}

const char *ivshm_object_type_name(uint32_t type)
{
    const struct ivshm_object_class *t = ivshm_object_class_find(type);
    return t ? t->name : "unknown";
}

static void add_field(struct ivshm_fields *f, const char *key, const char *json_key,
                      const char *text, uint64_t number)
{
    if (f->count >= IVSHM_FIELDS_MAX)
        return;
    f->field[f->count++] = (struct ivshm_field){key, json_key, text, number};
}

void ivshm_fields_number(struct ivshm_fields *f, const char *key, const char *json_key,
                         uint64_t value)
{
    add_field(f, key, json_key, NULL, value);
}

void ivshm_fields_text(struct ivshm_fields *f, const char *key, const char *json_key,
                       const char *text)
{
    add_field(f, key, json_key, text, 0);
}

void ivshm_fields_error(struct ivshm_fields *f, const struct ivshm_error *err)
{
    f->error = *err;
    add_field(f, "error", NULL, f->error.msg, 0);
}

int ivshm_object_spec_check(const struct ivshm_object_spec *spec, struct ivshm_error *err)
{
    const struct ivshm_object_class *t = ivshm_object_class_find(spec->type);
    if (!t)
        return ivshm_fail(err, IVSHM_E_INVAL, "object '%s': unknown type %u",
                          spec->name ? spec->name : "", spec->type);
    int rc = ivshm_name_check(t->name, spec->name, IVSHM_E_INVAL, err);
    return rc ? rc : t->check_spec(spec, err);
}
