/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm: create, inspect, list and destroy segments, and print the QEMU
 * arguments that attach them to a VM. docs/cli.md is the reference.
 *
 * Everything here is table-driven: a subcommand is a row of `commands`, each
 * with its own table of options; an object option (--ring, --mempool,
 * --memzone) has a table of keys. Adding an option means adding a row and a
 * handler.
 *
 * Exit status: 0 success, 1 failure at run time, 2 usage error. Every error is
 * one line on stderr naming the value and the reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/internal.h"
#include "host/cli/cli.h"
#include "common/object.h"
#include "host/cli/pktgen.h"
#include "host/cli/report.h"
#include "ivshm/builder.h"
#include "ivshm/fwd.h"
#include "ivshm/party.h"
#include "ivshm/qemu.h"

#ifndef IVSHM_VERSION
#define IVSHM_VERSION "unknown"
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Everything the options of all subcommands can set. */
struct cli {
    const struct command *cmd;
    const char *dir;
    bool json;
    bool force;
    /* create */
    uint64_t size;
    bool size_set;
    int node;
    struct ivshm_object_spec *objects;
    uint32_t object_count, object_cap;
    /* qemu-args */
    struct ivshm_qemu_opts qemu;
    /* positional arguments */
    char **pos;
    unsigned npos;
};

static const char *prog = "ivshm";

/* One line on stderr, then the exit status. */
static int __attribute__((format(printf, 2, 3))) fail(int status, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

/* ---- object options: their keys come from the object-type table ---- */

static struct ivshm_object_spec *new_object(struct cli *c, uint32_t type)
{
    if (c->object_count == c->object_cap) {
        uint32_t cap = c->object_cap ? c->object_cap * 2 : 16;
        struct ivshm_object_spec *grown = realloc(c->objects, cap * sizeof(*grown));
        if (!grown) {
            fail(EXIT_RUNTIME, "out of memory");
            exit(EXIT_RUNTIME);
        }
        c->objects = grown;
        c->object_cap = cap;
    }
    struct ivshm_object_spec *s = &c->objects[c->object_count++];
    memset(s, 0, sizeof(*s));
    s->type = type;
    return s;
}

static void keys_list(const struct ivshm_object_key *keys, char *out, size_t size)
{
    out[0] = 0;
    for (const struct ivshm_object_key *k = keys; k->key; k++) {
        strncat(out, k->key, size - strlen(out) - 1);
        if (k[1].key)
            strncat(out, ", ", size - strlen(out) - 1);
    }
}

/* Parses "k=v,k=v" into a new object of `type`. The value strings stay in
 * argv (names point into a strdup'ed copy). */
static int parse_object(struct cli *c, const char *opt, const char *value,
                        const struct ivshm_object_class *type)
{
    const struct ivshm_object_key *keys = type->keys;
    struct ivshm_object_spec *s = new_object(c, type->type);
    char *copy = strdup(value);
    if (!copy)
        return fail(EXIT_RUNTIME, "out of memory");
    unsigned seen = 0;
    char *save = NULL;
    if (!*copy)
        return fail(EXIT_USAGE, "%s '': empty (expected key=value,...)", opt);
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            return fail(EXIT_USAGE, "%s '%s': '%s' is not key=value", opt, value, item);
        *eq = 0;
        const char *v = eq + 1;
        const struct ivshm_object_key *k = keys;
        while (k->key && strcmp(k->key, item) != 0)
            k++;
        if (!k->key) {
            char list[64];
            keys_list(keys, list, sizeof(list));
            return fail(EXIT_USAGE, "%s '%s': unknown key '%s' (keys: %s)", opt, value, item, list);
        }
        unsigned bit = 1u << (k - keys);
        if (seen & bit)
            return fail(EXIT_USAGE, "%s '%s': key '%s' given twice", opt, value, item);
        seen |= bit;
        char what[96];
        snprintf(what, sizeof(what), "%s %s", opt, item);
        struct ivshm_error err;
        uint64_t n;
        char *field = (char *)s + k->offset;
        switch (k->kind) {
        case IVSHM_KEY_NAME:
            *(const char **)field = v;
            break;
        case IVSHM_KEY_WORD: {
            const struct ivshm_key_word *w = k->words;
            while (w->word && strcmp(w->word, v) != 0)
                w++;
            if (!w->word) {
                char list[64] = "";
                for (w = k->words; w->word; w++)
                    snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", w->word,
                             w[1].word ? (w[2].word ? ", " : " or ") : "");
                return fail(EXIT_USAGE, "%s %s '%s': must be %s", opt, k->key, v, list);
            }
            *(uint32_t *)field = w->value;
            break;
        }
        case IVSHM_KEY_U32:
            if (cli_parse_u64(v, what, 0, k->max, &n, &err))
                return fail(EXIT_USAGE, "%s", err.msg);
            *(uint32_t *)field = (uint32_t)n;
            break;
        case IVSHM_KEY_SIZE32:
        case IVSHM_KEY_SIZE64:
            if (cli_parse_size(v, what, &n, &err))
                return fail(EXIT_USAGE, "%s", err.msg);
            if (n > k->max)
                return fail(EXIT_USAGE, "%s '%s': above %llu", what, v, (unsigned long long)k->max);
            if (k->kind == IVSHM_KEY_SIZE32)
                *(uint32_t *)field = (uint32_t)n;
            else
                *(uint64_t *)field = n;
            break;
        }
    }
    for (const struct ivshm_object_key *k = keys; k->key; k++)
        if (k->required && !(seen & (1u << (k - keys))))
            return fail(EXIT_USAGE, "%s '%s': missing key '%s'", opt, value, k->key);
    return EXIT_OK;
}

/* ---- option handlers ---- */

static int opt_dir(struct cli *c, const char *opt, const char *v)
{
    if (!*v)
        return fail(EXIT_USAGE, "%s '': empty directory", opt);
    c->dir = v;
    return EXIT_OK;
}

static int opt_json(struct cli *c, const char *opt, const char *v)
{
    (void)opt, (void)v;
    c->json = true;
    return EXIT_OK;
}

static int opt_force(struct cli *c, const char *opt, const char *v)
{
    (void)opt, (void)v;
    c->force = true;
    return EXIT_OK;
}

static int opt_size(struct cli *c, const char *opt, const char *v)
{
    struct ivshm_error err;
    if (cli_parse_size(v, opt, &c->size, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    if (c->size == 0)
        return fail(EXIT_USAGE, "%s '%s': must be above 0", opt, v);
    c->size_set = true;
    return EXIT_OK;
}

static int opt_node(struct cli *c, const char *opt, const char *v)
{
    struct ivshm_error err;
    uint64_t n;
    if (cli_parse_u64(v, opt, 0, 4095, &n, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    c->node = (int)n;
    return EXIT_OK;
}

/* --ring, --mempool, --memzone, ...: the row named after the option. */
static int opt_object(struct cli *c, const char *opt, const char *v)
{
    const struct ivshm_object_class *t;
    for (unsigned i = 0; (t = ivshm_object_class_at(i)) != NULL; i++)
        if (strcmp(t->name, opt + 2) == 0)
            return parse_object(c, opt, v, t);
    return fail(EXIT_USAGE, "%s: no such object type", opt);
}

/* --preset fwd[,queues=Q]: the objects the forwarder and pktgen expect
 * (include/ivshm/fwd.h, docs/abi.md section 4). */
static int opt_preset(struct cli *c, const char *opt, const char *v)
{
    uint64_t queues = 1;
    struct ivshm_error err;
    if (strncmp(v, "fwd", 3) != 0 || (v[3] != '\0' && v[3] != ','))
        return fail(EXIT_USAGE, "%s '%s': unknown preset (known: fwd[,queues=Q])", opt, v);
    if (v[3] == ',') {
        if (strncmp(v + 4, "queues=", 7) != 0)
            return fail(EXIT_USAGE, "%s '%s': unknown key '%s' (keys: queues)", opt, v, v + 4);
        if (cli_parse_u64(v + 11, "--preset fwd queues", 1, IVSHM_FWD_MAX_QUEUES, &queues, &err))
            return fail(EXIT_USAGE, "%s", err.msg);
    }
    struct ivshm_object_spec preset[2 * IVSHM_FWD_MAX_QUEUES + 2];
    uint32_t n;
    if (ivshm_fwd_preset((uint32_t)queues, preset, sizeof(preset) / sizeof(preset[0]), &n, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    for (uint32_t i = 0; i < n; i++)
        *new_object(c, preset[i].type) = preset[i];
    return EXIT_OK;
}

static int opt_machine(struct cli *c, const char *opt, const char *v)
{
    if (strcmp(v, "q35") == 0)
        c->qemu.machine = IVSHM_QEMU_Q35;
    else if (strcmp(v, "pc") == 0)
        c->qemu.machine = IVSHM_QEMU_PC;
    else
        return fail(EXIT_USAGE, "%s '%s': must be q35 or pc", opt, v);
    return EXIT_OK;
}

static int opt_first_slot(struct cli *c, const char *opt, const char *v)
{
    struct ivshm_error err;
    uint64_t n;
    if (cli_parse_u64(v, opt, 1, 0x1e, &n, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    c->qemu.first_slot = (unsigned)n;
    return EXIT_OK;
}

struct option_def {
    const char *name; /* "--size" */
    const char *arg;  /* NULL: a flag */
    int (*apply)(struct cli *c, const char *opt, const char *value);
    const char *help;
    const struct ivshm_object_class *object; /* an object option: its row */
};

static const struct option_def opt_def_dir = {
    "--dir", "DIR", opt_dir,
    "directory of the segment files (default: $IVSHM_DIR, the first "
    "hugetlbfs mount, else /dev/shm)",
    NULL};

/* create's options: the fixed ones, then --<type> for each row of the
 * object-type table (built once, in main). */
static const struct option_def create_fixed_opts[] = {
    {"--size", "SIZE", opt_size, "segment size, K/M/G suffixes; rounded up to a power of two",
     NULL},
    opt_def_dir,
    {"--node", "N", opt_node, "bind the memory to NUMA node N", NULL},
};
static const struct option_def create_preset_opt = {
    "--preset", "fwd[,queues=Q]", opt_preset,
    "add mempool pkts, rings rx0..rxQ-1 and tx0..txQ-1, memzone ctrl (for fwd and pktgen)", NULL};
static char object_opt_names[IVSHM_OBJECT_CLASSES_MAX][40];
static struct option_def create_opts[sizeof(create_fixed_opts) / sizeof(create_fixed_opts[0]) +
                                     IVSHM_OBJECT_CLASSES_MAX + 2];

static int opt_object(struct cli *c, const char *opt, const char *v);

static void create_opts_init(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof(create_fixed_opts) / sizeof(create_fixed_opts[0]); i++)
        create_opts[n++] = create_fixed_opts[i];
    const struct ivshm_object_class *t;
    for (unsigned i = 0; (t = ivshm_object_class_at(i)) != NULL; i++) {
        if (!t->keys)
            continue;
        snprintf(object_opt_names[i], sizeof(object_opt_names[i]), "--%s", t->name);
        create_opts[n++] =
            (struct option_def){object_opt_names[i], t->usage, opt_object, t->help, t};
    }
    create_opts[n++] = create_preset_opt;
    create_opts[n] = (struct option_def){NULL, NULL, NULL, NULL, NULL};
}
static const struct option_def inspect_opts[] = {
    opt_def_dir,
    {"--json", NULL, opt_json, "print JSON", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct option_def qemu_opts[] = {
    opt_def_dir,
    {"--machine", "q35|pc", opt_machine,
     "q35 (default): one pcie-root-port per device; pc: devices on the root bus", NULL},
    {"--first-slot", "S", opt_first_slot, "q35: first pcie.0 slot of the root ports (0x10)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct option_def list_opts[] = {
    opt_def_dir,
    {"--json", NULL, opt_json, "print JSON", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct option_def destroy_opts[] = {
    opt_def_dir,
    {"--force", NULL, opt_force, "destroy even if a host process is still attached", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- subcommands ---- */

struct command {
    const char *name;
    const char *args; /* positional arguments, for usage */
    unsigned min_args, max_args;
    const struct option_def *opts;
    int (*run)(struct cli *c);
    const char *summary;
    /* A command with its own parser gets argv as is (argv[0] = its name)
     * instead of the table-driven one; opts and run are then unused. */
    int (*run_raw)(int argc, char **argv);
};

static int err_status(int code)
{
    return code == IVSHM_E_INVAL ? EXIT_USAGE : EXIT_RUNTIME;
}

static int cmd_create(struct cli *c)
{
    if (!c->size_set)
        return fail(EXIT_USAGE, "create %s: --size is required", c->pos[0]);
    struct ivshm_create_opts o = {
        .name = c->pos[0],
        .dir = c->dir,
        .size = c->size,
        .numa_node = c->node,
        .objects = c->objects,
        .object_count = c->object_count,
    };
    struct ivshm_create_result res;
    struct ivshm_error err;
    /* The arguments alone at fault, or objects that do not fit the size:
     * usage errors. Anything the file system or the machine refuses: run
     * time. */
    if (ivshm_create_check(&o, &err) != IVSHM_OK)
        return fail(EXIT_USAGE, "%s", err.msg);
    int rc = ivshm_segment_create(&o, &res, &err);
    if (rc != IVSHM_OK)
        return fail(rc == IVSHM_E_TOOBIG ? EXIT_USAGE : EXIT_RUNTIME, "%s", err.msg);
    if (res.shm_fallback)
        fprintf(stderr, "%s: warning: no hugetlbfs mount found, using %s with %llu-byte pages\n",
                prog, IVSHM_SHM_DIR, (unsigned long long)res.page_size);
    printf("%s\n", res.path);
    return EXIT_OK;
}

#define FIELDS(a) (a), (unsigned)(sizeof(a) / sizeof((a)[0]))

/* Name, type, offset and length as columns, then what the type's row
 * describes as key=value pairs (JSON: one object each). */
static void inspect_object(struct report *r, const struct ivshm_segment_view *v, unsigned index)
{
    struct ivshm_dir_entry e;
    struct ivshm_error err;
    struct report_field f[4 + IVSHM_FIELDS_MAX];
    unsigned n = 0;
    if (ivshm_object_get(v, index, &e, &err) != IVSHM_OK) {
        /* (validated a moment ago: only a peer rewriting the directory gets here) */
        f[n++] = (struct report_field){
            .key = "error", .label = "error", .kind = REPORT_TEXT, .s = err.msg, .sep = "  "};
        report_row(r, f, n);
        return;
    }
    char offset[24];
    snprintf(offset, sizeof(offset), "0x%010llx", (unsigned long long)e.offset);
    f[n++] = (struct report_field){
        .key = "name", .label = "", .kind = REPORT_TEXT, .s = e.name, .sep = "  ", .width = -31};
    f[n++] = (struct report_field){.key = "type",
                                   .label = "",
                                   .kind = REPORT_TEXT,
                                   .s = ivshm_object_type_name(e.type),
                                   .width = -7};
    f[n++] = (struct report_field){
        .key = "offset", .label = "", .kind = REPORT_UINT, .u = e.offset, .text = offset};
    f[n++] = (struct report_field){
        .key = "length", .label = "", .kind = REPORT_UINT, .u = e.length, .width = 12};
    struct ivshm_fields details = {0};
    const struct ivshm_object_class *t = ivshm_object_class_find(e.type);
    if (t)
        t->describe(v, &e, &details);
    for (unsigned i = 0; i < details.count; i++) {
        const struct ivshm_field *d = &details.field[i];
        f[n++] = (struct report_field){.key = d->json_key ? d->json_key : d->key,
                                       .label = d->key,
                                       .kind = d->text ? REPORT_TEXT : REPORT_UINT,
                                       .u = d->number,
                                       .s = d->text,
                                       .sep = i == 0 ? "  " : " "};
    }
    report_row(r, f, n);
}

static void inspect_party(struct report *r, const struct ivshm_segment_view *v, unsigned index)
{
    struct ivshm_party p;
    if (ivshm_party_get(v, index, &p, NULL) != IVSHM_OK || p.state == IVSHM_PARTY_FREE)
        return;
    const struct report_field f[] = {
        {.key = "index", .label = "", .kind = REPORT_UINT, .u = index, .sep = "  ", .width = 2},
        {.key = "state",
         .label = "",
         .kind = REPORT_TEXT,
         .s = ivshm_party_state_name(p.state),
         .width = -8},
        {.key = "kind",
         .label = "",
         .kind = REPORT_TEXT,
         .s = ivshm_party_kind_name(p.kind),
         .width = -6},
        {.key = "pid", .label = "pid", .kind = REPORT_UINT, .u = p.pid},
        {.key = "start_time", .label = "start_time", .kind = REPORT_UINT, .u = p.start_time},
        {.key = "heartbeat", .label = "heartbeat", .kind = REPORT_UINT, .u = p.heartbeat},
        {.key = "attach_count", .label = "attaches", .kind = REPORT_UINT, .u = p.attach_count},
        {.key = "label",
         .label = "label",
         .kind = REPORT_TEXT,
         .s = p.label,
         .text = p.label[0] ? NULL : "-"},
        {.key = "alive", .label = "alive", .kind = REPORT_BOOL, .b = ivshm_party_alive(&p)},
    };
    report_row(r, FIELDS(f));
}

static void inspect_header(struct report *r, const struct ivshm_segment *seg)
{
    const struct ivshm_segment_view *v = &seg->view;
    const struct ivshm_segment_header *h = v->hdr;
    char size[64], sz[32], flags[32], checksum[16], objects[48], data[96], created[64];
    cli_format_size(v->size, sz, sizeof(sz));
    snprintf(size, sizeof(size), "%llu (%s)", (unsigned long long)v->size, sz);
    snprintf(flags, sizeof(flags), "0x%x%s", h->flags,
             (h->flags & IVSHM_SEG_FINALIZED) ? " (finalized)" : "");
    snprintf(checksum, sizeof(checksum), "0x%08x", h->checksum);
    snprintf(objects, sizeof(objects), "%u of %u directory entries", v->object_count,
             h->dir_capacity);
    snprintf(data, sizeof(data), "0x%llx..0x%llx (%llu bytes free)",
             (unsigned long long)v->data_offset, (unsigned long long)h->data_end,
             (unsigned long long)(v->size - h->data_end));
    time_t t = (time_t)(h->created_unix_ns / 1000000000ull);
    strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    const struct report_field f[] = {
        {.key = "name", .kind = REPORT_TEXT, .s = v->name},
        {.key = "path", .label = "path", .kind = REPORT_TEXT, .s = seg->path},
        {.key = "size", .label = "size", .kind = REPORT_UINT, .u = v->size, .text = size},
        {.key = "abi_version", .label = "abi_version", .kind = REPORT_UINT, .u = h->abi_version},
        {.key = "page_size", .label = "page_size", .kind = REPORT_UINT, .u = h->page_size},
        {.key = "numa_node", .label = "numa_node", .kind = REPORT_INT, .i = h->numa_node},
        {.key = "flags", .label = "flags", .kind = REPORT_UINT, .u = h->flags, .text = flags},
        {.key = "generation", .label = "generation", .kind = REPORT_UINT, .u = v->generation},
        {.key = "checksum",
         .label = "checksum",
         .kind = REPORT_UINT,
         .u = h->checksum,
         .text = checksum},
        {.key = "dir_capacity", .kind = REPORT_UINT, .u = h->dir_capacity},
        {.label = "objects", .kind = REPORT_TEXT, .s = objects},
        {.key = "party_capacity",
         .label = "party_capacity",
         .kind = REPORT_UINT,
         .u = v->party_capacity},
        {.key = "data_offset", .kind = REPORT_UINT, .u = v->data_offset},
        {.key = "data_end", .kind = REPORT_UINT, .u = h->data_end},
        {.label = "data", .kind = REPORT_TEXT, .s = data},
        {.key = "created_unix_ns", .kind = REPORT_UINT, .u = h->created_unix_ns},
        {.label = "created", .kind = REPORT_TEXT, .s = created},
    };
    if (!r->json)
        printf("segment %s\n", v->name);
    report_lines(r, FIELDS(f));
}

static int cmd_inspect(struct cli *c)
{
    struct ivshm_segment seg;
    struct ivshm_error err;
    int rc = ivshm_segment_attach(c->dir, c->pos[0], IVSHM_ATTACH_READONLY, NULL, &seg, &err);
    if (rc)
        return fail(err_status(rc), "%s", err.msg);
    struct report r;
    report_init(&r, c->json, stdout);
    report_begin(&r);
    inspect_header(&r, &seg);
    char heading[128];
    snprintf(heading, sizeof(heading), "objects:\n  %-31s %-7s %-12s %12s  %s", "NAME", "TYPE",
             "OFFSET", "LENGTH", "DETAILS");
    report_list_begin(&r, "objects", heading);
    for (uint32_t i = 0; i < seg.view.object_count; i++)
        inspect_object(&r, &seg.view, i);
    report_list_end(&r, NULL);
    report_list_begin(&r, "parties", "parties:");
    for (uint32_t i = 0; i < seg.view.party_capacity; i++)
        inspect_party(&r, &seg.view, i);
    report_list_end(&r, "  (none)");
    report_end(&r);
    ivshm_segment_detach(&seg);
    return EXIT_OK;
}

static int cmd_qemu_args(struct cli *c)
{
    struct ivshm_qemu_segment *segs = calloc(c->npos, sizeof(*segs));
    char(*paths)[IVSHM_PATH_MAX] = calloc(c->npos, IVSHM_PATH_MAX);
    if (!segs || !paths)
        return fail(EXIT_RUNTIME, "out of memory");
    int status = EXIT_OK;
    for (unsigned i = 0; i < c->npos && status == EXIT_OK; i++) {
        for (unsigned j = 0; j < i; j++)
            if (strcmp(c->pos[i], c->pos[j]) == 0)
                status = fail(EXIT_USAGE, "qemu-args: segment '%s' given twice", c->pos[i]);
        if (status)
            break;
        struct ivshm_segment seg;
        struct ivshm_error err;
        int rc = ivshm_segment_attach(c->dir, c->pos[i], IVSHM_ATTACH_READONLY, NULL, &seg, &err);
        if (rc) {
            status = fail(err_status(rc), "%s", err.msg);
            break;
        }
        /* QEMU may run from another directory: give it an absolute path. */
        if (!realpath(seg.path, paths[i]))
            strcpy(paths[i], seg.path);
        segs[i].name = c->pos[i];
        segs[i].path = paths[i];
        segs[i].size = seg.view.size;
        segs[i].numa_node = seg.view.hdr->numa_node;
        ivshm_segment_detach(&seg);
    }
    if (status == EXIT_OK) {
        size_t size = 1024 + (size_t)c->npos * (IVSHM_PATH_MAX + 512);
        char *out = malloc(size);
        struct ivshm_error err;
        if (!out)
            status = fail(EXIT_RUNTIME, "out of memory");
        else if (ivshm_qemu_args(segs, c->npos, &c->qemu, out, size, &err) != IVSHM_OK)
            status = fail(EXIT_RUNTIME, "%s", err.msg);
        else
            printf("%s\n", out);
        free(out);
    }
    free(segs);
    free(paths);
    return status;
}

static int list_one(const char *name, const char *path, const struct ivshm_segment *seg,
                    const struct ivshm_error *why, void *ctx)
{
    struct report *r = ctx;
    unsigned alive = 0;
    char size[32] = "-", reason[200];
    if (seg) {
        for (uint32_t i = 0; i < seg->view.party_capacity; i++)
            alive += ivshm_party_alive(&seg->view.parties[i]);
        cli_format_size(seg->view.size, size, sizeof(size));
    } else {
        snprintf(reason, sizeof(reason), "(%s)", why->msg);
    }
    /* path twice: second in JSON, last in text */
    const struct report_field valid[] = {
        {.key = "name", .label = "", .kind = REPORT_TEXT, .s = name, .sep = "", .width = -31},
        {.key = "path", .kind = REPORT_TEXT, .s = path},
        {.key = "valid", .kind = REPORT_BOOL, .b = true},
        {.key = "size",
         .label = "",
         .kind = REPORT_UINT,
         .u = seg ? seg->view.size : 0,
         .text = size,
         .width = 10},
        {.key = "objects",
         .label = "",
         .kind = REPORT_UINT,
         .u = seg ? seg->view.object_count : 0,
         .width = 7},
        {.key = "parties_alive", .label = "", .kind = REPORT_UINT, .u = alive, .width = 7},
        {.label = "", .kind = REPORT_TEXT, .s = path, .sep = "  "},
    };
    const struct report_field invalid[] = {
        {.key = "name", .label = "", .kind = REPORT_TEXT, .s = name, .sep = "", .width = -31},
        {.key = "path", .kind = REPORT_TEXT, .s = path},
        {.key = "valid", .kind = REPORT_BOOL, .b = false},
        {.label = "", .kind = REPORT_TEXT, .s = "-", .width = 10},
        {.label = "", .kind = REPORT_TEXT, .s = "-", .width = 7},
        {.label = "", .kind = REPORT_TEXT, .s = "-", .width = 7},
        {.label = "", .kind = REPORT_TEXT, .s = path, .sep = "  "},
        {.key = "error",
         .label = "",
         .kind = REPORT_TEXT,
         .s = why ? why->msg : "",
         .text = reason,
         .sep = "  "},
    };
    if (seg)
        report_row(r, FIELDS(valid));
    else
        report_row(r, FIELDS(invalid));
    return 0;
}

static int cmd_list(struct cli *c)
{
    struct report r;
    struct ivshm_error err;
    char heading[128];
    snprintf(heading, sizeof(heading), "%-31s %10s %7s %7s  %s", "NAME", "SIZE", "OBJECTS",
             "PARTIES", "PATH");
    report_init(&r, c->json, stdout);
    report_list_begin(&r, NULL, heading);
    int rc = ivshm_segment_list(c->dir, list_one, &r, &err);
    report_list_end(&r, NULL);
    if (rc)
        return fail(EXIT_RUNTIME, "%s", err.msg);
    return EXIT_OK;
}

static int cmd_destroy(struct cli *c)
{
    struct ivshm_error err;
    for (unsigned i = 0; i < c->npos; i++) {
        int rc = ivshm_segment_destroy(c->dir, c->pos[i], c->force ? IVSHM_DESTROY_FORCE : 0, &err);
        if (rc == IVSHM_E_EXIST)
            return fail(EXIT_RUNTIME, "%s (use --force)", err.msg);
        if (rc)
            return fail(err_status(rc), "%s", err.msg);
    }
    return EXIT_OK;
}

static const struct command commands[] = {
    {"create", "NAME", 1, 1, create_opts, cmd_create,
     "create segment NAME holding the given objects; prints its path", NULL},
    {"inspect", "NAME", 1, 1, inspect_opts, cmd_inspect,
     "print the header, every object and the party table", NULL},
    {"qemu-args", "NAME...", 1, 32, qemu_opts, cmd_qemu_args,
     "print the QEMU arguments that attach the segments", NULL},
    {"list", "", 0, 0, list_opts, cmd_list, "list the segments of the directory", NULL},
    {"destroy", "NAME...", 1, 64, destroy_opts, cmd_destroy, "remove segments", NULL},
    {"pktgen", "NAME", 1, 1, NULL, NULL, "send frames through a forwarder and check them",
     ivshm_cmd_pktgen},
    {"reclaim", "NAME", 1, 1, NULL, NULL, "give back the buffers of dead host processes",
     ivshm_cmd_reclaim},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static void print_command_help(const struct command *cmd)
{
    printf("usage: %s %s%s%s [options]\n  %s\n\noptions:\n", prog, cmd->name,
           cmd->args[0] ? " " : "", cmd->args, cmd->summary);
    for (const struct option_def *o = cmd->opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (strlen(left) > 24)
            printf("  %s\n  %24s  %s\n", left, "", o->help);
        else
            printf("  %-24s  %s\n", left, o->help);
    }
    printf("  %-24s  %s\n", "--help", "show this help");
    printf("\nNAME is 1 to 31 characters of [A-Za-z0-9_-]; the file is DIR/ivshm-NAME.\n"
           "Exit status: 0 success, 1 failure at run time, 2 usage error.\n");
}

static void print_help(void)
{
    printf("usage: %s COMMAND [arguments] [options]\n\ncommands:\n", prog);
    for (const struct command *cmd = commands; cmd->name; cmd++)
        printf("  %-10s %s\n", cmd->name, cmd->summary);
    printf("\n%s COMMAND --help shows the options of a command; %s --version the version.\n", prog,
           prog);
}

static const struct option_def *find_option(const struct command *cmd, const char *name, size_t len)
{
    for (const struct option_def *o = cmd->opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static int run_command(const struct command *cmd, int argc, char **argv)
{
    struct cli c = {.cmd = cmd, .node = -1};
    c.pos = calloc((size_t)argc + 1, sizeof(*c.pos));
    if (!c.pos)
        return fail(EXIT_RUNTIME, "out of memory");
    int status = EXIT_OK;
    bool options_done = false;
    for (int i = 0; i < argc && status == EXIT_OK; i++) {
        char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == 0) {
            c.pos[c.npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_command_help(cmd);
            free(c.pos);
            free(c.objects);
            return EXIT_OK;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct option_def *o = find_option(cmd, a, len);
        if (!o) {
            status = fail(EXIT_USAGE, "%s: unknown option '%.*s' (see %s %s --help)", cmd->name,
                          (int)len, a, prog, cmd->name);
            break;
        }
        const char *value = NULL;
        if (o->arg) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                status = fail(EXIT_USAGE, "%s: option %s needs a value (%s)", cmd->name, o->name,
                              o->arg);
                break;
            }
        } else if (eq) {
            status = fail(EXIT_USAGE, "%s: option %s takes no value", cmd->name, o->name);
            break;
        }
        status = o->apply(&c, o->name, value);
    }
    if (status == EXIT_OK) {
        if (c.npos < cmd->min_args)
            status = fail(EXIT_USAGE, "%s: missing %s (see %s %s --help)", cmd->name, cmd->args,
                          prog, cmd->name);
        else if (c.npos > cmd->max_args)
            status = fail(EXIT_USAGE, "%s: unexpected argument '%s'%s", cmd->name,
                          c.pos[cmd->max_args], cmd->max_args > 1 ? " (too many segments)" : "");
    }
    struct ivshm_error name_err;
    for (unsigned i = 0; status == EXIT_OK && i < c.npos; i++)
        if (ivshm_name_check("segment", c.pos[i], IVSHM_E_INVAL, &name_err) != IVSHM_OK)
            status = fail(EXIT_USAGE, "%s", name_err.msg);
    if (status == EXIT_OK)
        status = cmd->run(&c);
    free(c.pos);
    free(c.objects);
    return status;
}

int main(int argc, char **argv)
{
    create_opts_init();
    if (argc < 2) {
        print_help();
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2)
            for (const struct command *cmd = commands; cmd->name; cmd++)
                if (strcmp(cmd->name, argv[2]) == 0) {
                    if (cmd->run_raw) {
                        char *help_argv[] = {argv[2], (char *)"--help", NULL};
                        return cmd->run_raw(2, help_argv);
                    }
                    print_command_help(cmd);
                    return EXIT_OK;
                }
        print_help();
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("ivshm %s (segment ABI %u)\n", IVSHM_VERSION, IVSHM_ABI_VERSION);
        return EXIT_OK;
    }
    for (const struct command *cmd = commands; cmd->name; cmd++)
        if (strcmp(cmd->name, name) == 0)
            return cmd->run_raw ? cmd->run_raw(argc - 1, argv + 1)
                                : run_command(cmd, argc - 2, argv + 2);
    return fail(EXIT_USAGE, "unknown command '%s' (see %s --help)", name, prog);
}
