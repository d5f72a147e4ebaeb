/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring objects (docs/abi.md 3.1): their row of the object-type table. */
#include "common/object.h"

/* The one check of a slot count and of mode bits, with their messages, for
 * create arguments (IVSHM_E_INVAL) and directory entries (IVSHM_E_BADSEG). */
static int check_geometry(const char *name, uint32_t slots, uint32_t mode, int code,
                          struct ivshm_error *err)
{
    if (!ivshm_ring_slots_valid(slots))
        return ivshm_fail(err, code, "ring '%s': slots=%u is not a power of two in 1..%u", name,
                          slots, IVSHM_RING_MAX_SLOTS);
    if (mode & ~(uint32_t)IVSHM_RING_MPMC)
        return ivshm_fail(err, code, "ring '%s': unknown mode 0x%x", name, mode);
    return IVSHM_OK;
}

static int ring_check_spec(const struct ivshm_object_spec *spec, struct ivshm_error *err)
{
    return check_geometry(spec->name, spec->slots, spec->mode, IVSHM_E_INVAL, err);
}

static void ring_shape(const struct ivshm_object_spec *spec, struct ivshm_dir_entry *entry,
                       uint64_t *align)
{
    entry->length = ivshm_ring_bytes(spec->slots);
    entry->param0 = spec->slots;
    entry->param1 = spec->mode;
    *align = IVSHM_CACHE_LINE;
}

static void ring_init(uint8_t *base, const struct ivshm_dir_entry *entry)
{
    ivshm_zero(base + entry->offset, sizeof(struct ivshm_ring_shared)); /* the slots need not be */
}

static int ring_check_entry(const struct ivshm_dir_entry *e, struct ivshm_error *err)
{
    int rc = check_geometry(e->name, e->param0, e->param1, IVSHM_E_BADSEG, err);
    if (rc)
        return rc;
    if (e->length != ivshm_ring_bytes(e->param0))
        return ivshm_fail(err, IVSHM_E_BADSEG, "ring '%s': length %llu does not match %u slots",
                          e->name, (unsigned long long)e->length, e->param0);
    return IVSHM_OK;
}

static const char *mode_name(uint32_t mode)
{
    switch (mode) {
    case IVSHM_RING_SPSC:
        return "spsc";
    case IVSHM_RING_MPMC:
        return "mpmc";
    case IVSHM_RING_MP:
        return "mpsc";
    case IVSHM_RING_MC:
        return "spmc";
    }
    return "unknown";
}

static void ring_describe(const struct ivshm_segment_view *view, const struct ivshm_dir_entry *e,
                          struct ivshm_fields *out)
{
    ivshm_fields_number(out, "slots", NULL, e->param0);
    ivshm_fields_text(out, "mode", NULL, mode_name(e->param1));
    struct ivshm_ring ring;
    struct ivshm_error err;
    if (ivshm_ring_attach(&ring, view, e, &err) != IVSHM_OK) {
        ivshm_fields_error(out, &err);
        return;
    }
    struct ivshm_ring_stats st;
    ivshm_ring_stats(&ring, &st);
    ivshm_fields_number(out, "in_use", NULL, st.in_use);
    ivshm_fields_number(out, "full_events", NULL, st.full_events);
    ivshm_fields_number(out, "empty_events", NULL, st.empty_events);
}

static const struct ivshm_key_word ring_modes[] = {
    {"spsc", IVSHM_RING_SPSC},
    {"mpmc", IVSHM_RING_MPMC},
    {NULL, 0},
};

static const struct ivshm_object_key ring_keys[] = {
    {"name", IVSHM_KEY_NAME, IVSHM_SPEC_FIELD(name), true, 0, NULL},
    {"slots", IVSHM_KEY_U32, IVSHM_SPEC_FIELD(slots), true, UINT32_MAX, NULL},
    {"mode", IVSHM_KEY_WORD, IVSHM_SPEC_FIELD(mode), false, 0, ring_modes},
    {NULL, 0, 0, false, 0, NULL},
};

const struct ivshm_object_class ivshm_ring_class = {
    .type = IVSHM_OBJ_RING,
    .name = "ring",
    .check_spec = ring_check_spec,
    .shape = ring_shape,
    .init = ring_init,
    .check_entry = ring_check_entry,
    .describe = ring_describe,
    .keys = ring_keys,
    .usage = "name=R,slots=N[,mode=spsc|mpmc]",
    .help = "add a ring (repeatable)",
};
