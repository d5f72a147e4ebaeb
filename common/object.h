/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal: the object-type table. One row per type of object a segment can
 * hold (ring, mempool, memzone), each in its own file (common/obj_*.c).
 * Everything that depends on the type goes through the row: validation of a
 * directory entry, the checks of a create argument, the bytes an object
 * needs, its initial contents, what `ivshm inspect` shows, the keys of the
 * CLI's --ring/--mempool/--memzone options, and the type's name in messages.
 * docs/object-types.md shows how to add a type. Freestanding C.
 */
#ifndef IVSHM_COMMON_OBJECT_H
#define IVSHM_COMMON_OBJECT_H

#include "common/internal.h"
#include "ivshm/builder.h"

/* ---- what inspect shows: one list of fields for text and JSON ---- */

#define IVSHM_FIELDS_MAX 12

struct ivshm_field {
    const char *key;      /* text: key=value; JSON: "key": value */
    const char *json_key; /* JSON key when it differs from key, else NULL */
    const char *text;     /* a string value; NULL for a number */
    uint64_t number;
};

struct ivshm_fields {
    unsigned count;
    struct ivshm_field field[IVSHM_FIELDS_MAX];
    struct ivshm_error error; /* the text of an "error" field */
};

/* Append a field (silently dropped past IVSHM_FIELDS_MAX). */
void ivshm_fields_number(struct ivshm_fields *f, const char *key, const char *json_key,
                         uint64_t value);
void ivshm_fields_text(struct ivshm_fields *f, const char *key, const char *json_key,
                       const char *text);
/* Appends field "error" with a copy of err's message. */
void ivshm_fields_error(struct ivshm_fields *f, const struct ivshm_error *err);

/* ---- the CLI's key=value,... syntax of an object option ---- */

enum ivshm_key_kind {
    IVSHM_KEY_NAME,   /* const char * */
    IVSHM_KEY_U32,    /* uint32_t, a plain number up to max */
    IVSHM_KEY_SIZE32, /* uint32_t, a size with K/M/G suffix, up to max */
    IVSHM_KEY_SIZE64, /* uint64_t, a size with K/M/G suffix, up to max */
    IVSHM_KEY_WORD,   /* uint32_t, one of `words` */
};

struct ivshm_key_word {
    const char *word;
    uint32_t value;
};

struct ivshm_object_key {
    const char *key;
    enum ivshm_key_kind kind;
    size_t offset; /* of the field in struct ivshm_object_spec */
    bool required;
    uint64_t max;                       /* numbers */
    const struct ivshm_key_word *words; /* IVSHM_KEY_WORD; ends with {NULL, 0} */
};

#define IVSHM_SPEC_FIELD(f) offsetof(struct ivshm_object_spec, f)

/* ---- the row ---- */

struct ivshm_object_class {
    uint32_t type;    /* the directory entry's type (enum ivshm_object_type) */
    const char *name; /* "ring": messages, inspect, and the CLI's --ring */

    /* Create arguments: the type's fields of a spec (the name is checked
     * already). IVSHM_OK or IVSHM_E_INVAL naming the object and the value. */
    int (*check_spec)(const struct ivshm_object_spec *spec, struct ivshm_error *err);
    /* Bytes needed: fills entry->length, param0, param1 from a checked spec,
     * and the alignment of its offset (a power of two >= 64). */
    void (*shape)(const struct ivshm_object_spec *spec, struct ivshm_dir_entry *entry,
                  uint64_t *align);
    /* Writes the object's initial contents, at base + entry->offset. */
    void (*init)(uint8_t *base, const struct ivshm_dir_entry *entry);
    /* Validation of a directory entry (a private copy) whose name, flags,
     * offset and length are checked already: its params against its length.
     * IVSHM_OK or IVSHM_E_BADSEG. */
    int (*check_entry)(const struct ivshm_dir_entry *entry, struct ivshm_error *err);
    /* What inspect shows beyond name, type, offset and length: the params,
     * then live state read from the segment (or an "error" field). */
    void (*describe)(const struct ivshm_segment_view *view, const struct ivshm_dir_entry *entry,
                     struct ivshm_fields *out);

    /* The CLI's --<name> option: its keys, a usage line and a help line. */
    const struct ivshm_object_key *keys; /* ends with {NULL} */
    const char *usage;                   /* "name=R,slots=N[,mode=spsc|mpmc]" */
    const char *help;
};

/* The rows of the built-in types (common/obj_*.c). */
extern const struct ivshm_object_class ivshm_ring_class;
extern const struct ivshm_object_class ivshm_mempool_class;
extern const struct ivshm_object_class ivshm_memzone_class;

#define IVSHM_OBJECT_CLASSES_MAX 8

/* The row of `type`, or NULL. */
const struct ivshm_object_class *ivshm_object_class_find(uint32_t type);

/* Row i (0, 1, ... in registration order, the built-in ones first), or NULL
 * past the last. */
const struct ivshm_object_class *ivshm_object_class_at(unsigned i);

/* Checks a spec alone: a known type, a valid name, the type's fields.
 * IVSHM_OK or IVSHM_E_INVAL. */
int ivshm_object_spec_check(const struct ivshm_object_spec *spec, struct ivshm_error *err);

/* Adds a row at run time (before any segment work starts: not thread-safe).
 * For types outside the library, e.g. a test's. Errors: IVSHM_E_EXIST (that
 * type number or name is taken), IVSHM_E_NOSPC (the table is full). */
int ivshm_object_class_register(const struct ivshm_object_class *type, struct ivshm_error *err);

#endif
