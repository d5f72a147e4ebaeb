/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm create NAME --size SIZE [--dir DIR] [--node N] [object options...]
 *
 * The object options (--ring, --mempool, --memzone, and any type registered
 * later) come from the object-type table: each row's keys, usage and help.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/object.h"
#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/internal.h"
#include "ivshm/builder.h"
#include "ivshm/fwd.h"

struct create_opts {
    const char *dir;
    uint64_t size;
    int node;
    struct ivshm_object_spec *objects;
    uint32_t object_count, object_cap;
    char *copies[2 * IVSHM_MAX_OBJECTS]; /* the option values the names point into */
    unsigned ncopies;
};

static struct ivshm_object_spec *new_object(struct create_opts *c)
{
    if (c->object_count == c->object_cap) {
        uint32_t cap = c->object_cap ? c->object_cap * 2 : 16;
        struct ivshm_object_spec *grown = realloc(c->objects, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        c->objects = grown;
        c->object_cap = cap;
    }
    struct ivshm_object_spec *s = &c->objects[c->object_count++];
    memset(s, 0, sizeof(*s));
    return s;
}

static void keys_list(const struct ivshm_object_key *keys, char *out, size_t size)
{
    out[0] = 0;
    for (const struct ivshm_object_key *k = keys; k->key; k++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", k->key, k[1].key ? ", " : "");
}

/* value of a key of kind IVSHM_KEY_WORD into *field. */
static int parse_word(const char *opt, const struct ivshm_object_key *k, const char *v,
                      uint32_t *field)
{
    for (const struct ivshm_key_word *w = k->words; w->word; w++)
        if (strcmp(w->word, v) == 0) {
            *field = w->value;
            return CLI_EXIT_OK;
        }
    char list[64] = "";
    for (const struct ivshm_key_word *w = k->words; w->word; w++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", w->word,
                 w[1].word ? (w[2].word ? ", " : " or ") : "");
    return cli_fail(CLI_EXIT_USAGE, "%s %s '%s': must be %s", opt, k->key, v, list);
}

/* One key=value of an object option into the spec. */
static int parse_key(const char *opt, const struct ivshm_object_key *k, const char *v,
                     struct ivshm_object_spec *s)
{
    char *field = (char *)s + k->offset;
    if (k->kind == IVSHM_KEY_NAME) {
        *(const char **)field = v;
        return CLI_EXIT_OK;
    }
    if (k->kind == IVSHM_KEY_WORD)
        return parse_word(opt, k, v, (uint32_t *)field);
    char what[96];
    snprintf(what, sizeof(what), "%s %s", opt, k->key);
    struct ivshm_error err;
    uint64_t n;
    if (cli_parse_number(k->kind == IVSHM_KEY_U32 ? CLI_U32 : CLI_SIZE, v, what, 0, k->max, &n,
                         &err) != IVSHM_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
    if (k->kind == IVSHM_KEY_SIZE64)
        *(uint64_t *)field = n;
    else
        *(uint32_t *)field = (uint32_t)n;
    return CLI_EXIT_OK;
}

/* --<type> k=v,k=v: a new object of the option's row (option->data). */
static int parse_object(void *opts, const struct cli_option *option, const char *value)
{
    struct create_opts *c = opts;
    const struct ivshm_object_class *type = option->data;
    const char *opt = option->name;
    struct ivshm_object_spec *s = new_object(c);
    char *copy = strdup(value);
    if (!s || !copy || c->ncopies == sizeof(c->copies) / sizeof(c->copies[0])) {
        free(copy);
        return cli_fail(CLI_EXIT_RUNTIME, "out of memory");
    }
    c->copies[c->ncopies++] = copy;
    s->type = type->type;
    if (!*copy)
        return cli_fail(CLI_EXIT_USAGE, "%s '': empty (expected key=value,...)", opt);
    unsigned seen = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            return cli_fail(CLI_EXIT_USAGE, "%s '%s': '%s' is not key=value", opt, value, item);
        *eq = 0;
        const struct ivshm_object_key *k = type->keys;
        while (k->key && strcmp(k->key, item) != 0)
            k++;
        if (!k->key) {
            char list[64];
            keys_list(type->keys, list, sizeof(list));
            return cli_fail(CLI_EXIT_USAGE, "%s '%s': unknown key '%s' (keys: %s)", opt, value,
                            item, list);
        }
        unsigned bit = 1u << (k - type->keys);
        if (seen & bit)
            return cli_fail(CLI_EXIT_USAGE, "%s '%s': key '%s' given twice", opt, value, item);
        seen |= bit;
        int status = parse_key(opt, k, eq + 1, s);
        if (status != CLI_EXIT_OK)
            return status;
    }
    for (const struct ivshm_object_key *k = type->keys; k->key; k++)
        if (k->required && !(seen & (1u << (k - type->keys))))
            return cli_fail(CLI_EXIT_USAGE, "%s '%s': missing key '%s'", opt, value, k->key);
    return CLI_EXIT_OK;
}

/* --preset fwd[,queues=Q]: the objects the forwarder and pktgen expect
 * (include/ivshm/fwd.h, docs/abi.md section 4). */
static int parse_preset(void *opts, const struct cli_option *option, const char *v)
{
    const char *opt = option->name;
    uint64_t queues = 1;
    struct ivshm_error err;
    if (strncmp(v, "fwd", 3) != 0 || (v[3] != '\0' && v[3] != ','))
        return cli_fail(CLI_EXIT_USAGE, "%s '%s': unknown preset (known: fwd[,queues=Q])", opt, v);
    if (v[3] == ',') {
        if (strncmp(v + 4, "queues=", 7) != 0)
            return cli_fail(CLI_EXIT_USAGE, "%s '%s': unknown key '%s' (keys: queues)", opt, v,
                            v + 4);
        if (cli_parse_u64(v + 11, "--preset fwd queues", 1, IVSHM_FWD_MAX_QUEUES, &queues, &err))
            return cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
    }
    struct ivshm_object_spec preset[2 * IVSHM_FWD_MAX_QUEUES + 2];
    uint32_t n;
    if (ivshm_fwd_preset((uint32_t)queues, preset, sizeof(preset) / sizeof(preset[0]), &n, &err))
        return cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
    for (uint32_t i = 0; i < n; i++) {
        struct ivshm_object_spec *s = new_object(opts);
        if (!s)
            return cli_fail(CLI_EXIT_RUNTIME, "out of memory");
        *s = preset[i];
    }
    return CLI_EXIT_OK;
}

#define CREATE(field) CLI_FIELD(struct create_opts, field)

static const struct cli_option create_options[] = {
    {"--size", "SIZE", "segment size, K/M/G suffixes; rounded up to a power of two", CLI_SIZE,
     CREATE(size), 1, UINT64_MAX, NULL, NULL},
    CLI_OPTION_DIR(struct create_opts),
    {"--node", "N", "bind the memory to NUMA node N", CLI_INDEX, CREATE(node), 0, 4095, NULL, NULL},
    CLI_OPTION_END,
};

/* --<type> for each row of the object-type table, then --preset. */
static const struct cli_option *object_options(void)
{
    static struct cli_option options[IVSHM_OBJECT_CLASSES_MAX + 2];
    static char names[IVSHM_OBJECT_CLASSES_MAX][40];
    if (options[0].name)
        return options;
    unsigned n = 0;
    const struct ivshm_object_class *t;
    for (unsigned i = 0; (t = ivshm_object_class_at(i)) != NULL; i++) {
        if (!t->keys)
            continue;
        snprintf(names[n], sizeof(names[n]), "--%s", t->name);
        options[n] =
            (struct cli_option){names[n], t->usage, t->help, CLI_CALL, 0, 0, 0, parse_object, t};
        n++;
    }
    options[n] = (struct cli_option){
        "--preset",
        "fwd[,queues=Q]",
        "add mempool pkts, rings rx0..rxQ-1 and tx0..txQ-1, memzone ctrl (for fwd and pktgen)",
        CLI_CALL,
        0,
        0,
        0,
        parse_preset,
        NULL};
    return options;
}

/* The termination signals create holds while its file exists. */
static const int create_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static volatile sig_atomic_t create_signal;

static void on_create_signal(int sig)
{
    create_signal = sig;
}

/* A termination signal during create: the library removed its file (or the
 * signal came after the creation, and we remove the segment). One line, then
 * the signal's own death, as a shell expects. */
static void die_of_signal(const struct ivshm_create_opts *o, int rc, const struct ivshm_error *err)
{
    int sig = create_signal;
    struct ivshm_error why;
    if (rc != IVSHM_OK)
        cli_fail(CLI_EXIT_RUNTIME, "%s", err->msg);
    else if (ivshm_segment_destroy(o->dir, o->name, 0, &why) == IVSHM_OK)
        cli_fail(CLI_EXIT_RUNTIME, "segment '%s': creation interrupted by %s; nothing was created",
                 o->name, ivshm_signal_name(sig));
    else
        cli_fail(CLI_EXIT_RUNTIME, "segment '%s': interrupted by %s after it was created (%s)",
                 o->name, ivshm_signal_name(sig), why.msg);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int create_run(void *opts, char **args, unsigned nargs)
{
    (void)nargs;
    struct create_opts *c = opts;
    int status = CLI_EXIT_OK;
    struct ivshm_create_opts o = {
        .name = args[0],
        .dir = c->dir,
        .size = c->size,
        .numa_node = c->node,
        .objects = c->objects,
        .object_count = c->object_count,
    };
    struct ivshm_create_result res;
    struct ivshm_error err;
    /* The arguments alone at fault, or objects that do not fit the size:
     * usage errors. What the file system or the machine refuses: run time. */
    int rc = IVSHM_OK;
    if (!c->size)
        status = cli_fail(CLI_EXIT_USAGE, "create %s: --size is required", args[0]);
    else if ((rc = ivshm_create_check(&o, &err)) != IVSHM_OK)
        status = cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
    if (status == CLI_EXIT_OK) {
        struct sigaction sa = {.sa_handler = on_create_signal};
        sigemptyset(&sa.sa_mask);
        for (unsigned i = 0; i < sizeof(create_signals) / sizeof(create_signals[0]); i++)
            sigaction(create_signals[i], &sa, NULL);
        rc = ivshm_segment_create(&o, &res, &err);
        if (create_signal)
            die_of_signal(&o, rc, &err);
        if (rc != IVSHM_OK)
            status =
                cli_fail(rc == IVSHM_E_TOOBIG ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME, "%s", err.msg);
    }
    if (status == CLI_EXIT_OK) {
        if (res.shm_fallback)
            fprintf(stderr,
                    "%s: warning: no hugetlbfs mount found, using %s with %llu-byte pages\n",
                    cli_program_name(), IVSHM_SHM_DIR, (unsigned long long)res.page_size);
        printf("%s\n", res.path);
    }
    return status;
}

static void create_cleanup(void *opts)
{
    struct create_opts *c = opts;
    for (unsigned i = 0; i < c->ncopies; i++)
        free(c->copies[i]);
    free(c->objects);
}

const struct cli_command cli_cmd_create = {
    .name = "create",
    .args = "NAME",
    .min_args = 1,
    .max_args = 1,
    .segment_args = true,
    .summary = "create segment NAME holding the given objects; prints its path",
    .opts_size = sizeof(struct create_opts),
    .options = create_options,
    .more_options = object_options,
    .run = create_run,
    .cleanup = create_cleanup,
};
