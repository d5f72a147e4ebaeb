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

#include "ivshm/doorbell.h"
#include "ivshm/host/party.h"
#include "ivshm/host/qemu.h"
#include "ivshm/host/segment_file.h"
#include "ivshm/host/units.h"
#include "ivshm/fwd.h"
#include "pktgen.h"

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
    const char *socket; /* --socket: one segment's doorbell socket */
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

/* ---- object options: key tables ---- */

enum key_kind { KEY_NAME, KEY_U32, KEY_SIZE32, KEY_SIZE64, KEY_MODE };

struct key_def {
    const char *key;
    enum key_kind kind;
    size_t offset; /* in struct ivshm_object_spec */
    bool required;
    uint64_t max; /* for numbers */
};

#define SPEC_FIELD(f) offsetof(struct ivshm_object_spec, f)

static const struct key_def ring_keys[] = {
    {"name", KEY_NAME, SPEC_FIELD(name), true, 0},
    {"slots", KEY_U32, SPEC_FIELD(slots), true, UINT32_MAX},
    {"mode", KEY_MODE, SPEC_FIELD(mode), false, 0},
    {NULL, 0, 0, false, 0},
};
static const struct key_def mempool_keys[] = {
    {"name", KEY_NAME, SPEC_FIELD(name), true, 0},
    {"count", KEY_U32, SPEC_FIELD(count), true, UINT32_MAX},
    {"size", KEY_SIZE32, SPEC_FIELD(obj_size), true, UINT32_MAX},
    {"cache", KEY_U32, SPEC_FIELD(cache), false, IVSHM_MEMPOOL_CACHE_MAX},
    {NULL, 0, 0, false, 0},
};
static const struct key_def memzone_keys[] = {
    {"name", KEY_NAME, SPEC_FIELD(name), true, 0},
    {"size", KEY_SIZE64, SPEC_FIELD(size), true, UINT64_MAX},
    {"align", KEY_SIZE32, SPEC_FIELD(align), false, 1u << 30},
    {NULL, 0, 0, false, 0},
};

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

static void keys_list(const struct key_def *keys, char *out, size_t size)
{
    out[0] = 0;
    for (const struct key_def *k = keys; k->key; k++) {
        strncat(out, k->key, size - strlen(out) - 1);
        if (k[1].key)
            strncat(out, ", ", size - strlen(out) - 1);
    }
}

/* Parses "k=v,k=v" into a new object of `type`. The value strings stay in
 * argv (names point into a strdup'ed copy). */
static int parse_object(struct cli *c, const char *opt, const char *value, uint32_t type,
                        const struct key_def *keys)
{
    struct ivshm_object_spec *s = new_object(c, type);
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
        const struct key_def *k = keys;
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
        case KEY_NAME:
            *(const char **)field = v;
            break;
        case KEY_MODE:
            if (strcmp(v, "spsc") == 0)
                *(uint32_t *)field = IVSHM_RING_SPSC;
            else if (strcmp(v, "mpmc") == 0)
                *(uint32_t *)field = IVSHM_RING_MPMC;
            else
                return fail(EXIT_USAGE, "%s mode '%s': must be spsc or mpmc", opt, v);
            break;
        case KEY_U32:
            if (ivshm_parse_u64(v, what, 0, k->max, &n, &err))
                return fail(EXIT_USAGE, "%s", err.msg);
            *(uint32_t *)field = (uint32_t)n;
            break;
        case KEY_SIZE32:
        case KEY_SIZE64:
            if (ivshm_parse_size(v, what, &n, &err))
                return fail(EXIT_USAGE, "%s", err.msg);
            if (n > k->max)
                return fail(EXIT_USAGE, "%s '%s': above %llu", what, v, (unsigned long long)k->max);
            if (k->kind == KEY_SIZE32)
                *(uint32_t *)field = (uint32_t)n;
            else
                *(uint64_t *)field = n;
            break;
        }
    }
    for (const struct key_def *k = keys; k->key; k++)
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
    if (ivshm_parse_size(v, opt, &c->size, &err))
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
    if (ivshm_parse_u64(v, opt, 0, 4095, &n, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    c->node = (int)n;
    return EXIT_OK;
}

static int opt_ring(struct cli *c, const char *opt, const char *v)
{
    return parse_object(c, opt, v, IVSHM_OBJ_RING, ring_keys);
}

static int opt_mempool(struct cli *c, const char *opt, const char *v)
{
    return parse_object(c, opt, v, IVSHM_OBJ_MEMPOOL, mempool_keys);
}

static int opt_memzone(struct cli *c, const char *opt, const char *v)
{
    return parse_object(c, opt, v, IVSHM_OBJ_MEMZONE, memzone_keys);
}

/* --preset fwd[,queues=Q]: the objects the forwarder and pktgen expect
 * (include/ivshm/fwd.h, docs/abi.md section 4). */
static int opt_preset(struct cli *c, const char *opt, const char *v)
{
    uint64_t queues = 1;
    if (strncmp(v, "fwd", 3) != 0 || (v[3] != '\0' && v[3] != ','))
        return fail(EXIT_USAGE, "%s '%s': unknown preset (known: fwd[,queues=Q])", opt, v);
    if (v[3] == ',') {
        struct ivshm_error err;
        if (strncmp(v + 4, "queues=", 7) != 0)
            return fail(EXIT_USAGE, "%s '%s': unknown key '%s' (keys: queues)", opt, v, v + 4);
        if (ivshm_parse_u64(v + 11, "--preset fwd queues", 1, IVSHM_FWD_MAX_QUEUES, &queues, &err))
            return fail(EXIT_USAGE, "%s", err.msg);
    }
    struct ivshm_object_spec *pool = new_object(c, IVSHM_OBJ_MEMPOOL);
    pool->name = "pkts";
    pool->count = ivshm_fwd_pool_count((uint32_t)queues);
    pool->obj_size = IVSHM_FWD_PKT_SIZE;
    for (uint32_t q = 0; q < queues; q++) {
        for (int dir = 0; dir < 2; dir++) {
            char name[IVSHM_NAME_SIZE];
            snprintf(name, sizeof(name), "%s%u", dir ? "tx" : "rx", q);
            struct ivshm_object_spec *ring = new_object(c, IVSHM_OBJ_RING);
            ring->name = strdup(name);
            if (!ring->name)
                return fail(EXIT_RUNTIME, "out of memory");
            ring->slots = IVSHM_FWD_RING_SLOTS;
            ring->mode = IVSHM_RING_SPSC;
        }
    }
    struct ivshm_object_spec *ctrl = new_object(c, IVSHM_OBJ_MEMZONE);
    ctrl->name = "ctrl";
    ctrl->size = sizeof(struct ivshm_fwd_ctrl);
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
    if (ivshm_parse_u64(v, opt, 1, 0x1e, &n, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    c->qemu.first_slot = (unsigned)n;
    return EXIT_OK;
}

static int opt_doorbell(struct cli *c, const char *opt, const char *v)
{
    (void)opt;
    (void)v;
    c->qemu.doorbell = true;
    return EXIT_OK;
}

static int opt_socket(struct cli *c, const char *opt, const char *v)
{
    (void)opt;
    c->socket = v;
    return EXIT_OK;
}

static int opt_vectors(struct cli *c, const char *opt, const char *v)
{
    struct ivshm_error err;
    uint64_t n;
    if (ivshm_parse_u64(v, opt, 1, IVSHM_DOORBELL_MAX_VECTORS, &n, &err))
        return fail(EXIT_USAGE, "%s", err.msg);
    c->qemu.vectors = (unsigned)n;
    return EXIT_OK;
}

struct option_def {
    const char *name; /* "--size" */
    const char *arg;  /* NULL: a flag */
    int (*apply)(struct cli *c, const char *opt, const char *value);
    const char *help;
};

static const struct option_def opt_def_dir = {
    "--dir", "DIR", opt_dir,
    "directory of the segment files (default: $IVSHM_DIR, the first "
    "hugetlbfs mount, else /dev/shm)"};

static const struct option_def create_opts[] = {
    {"--size", "SIZE", opt_size, "segment size, K/M/G suffixes; rounded up to a power of two"},
    opt_def_dir,
    {"--node", "N", opt_node, "bind the memory to NUMA node N"},
    {"--ring", "name=R,slots=N[,mode=spsc|mpmc]", opt_ring, "add a ring (repeatable)"},
    {"--mempool", "name=P,count=N,size=BYTES[,cache=C]", opt_mempool,
     "add a mempool (repeatable); cache (0..512) is checked, not stored"},
    {"--memzone", "name=Z,size=BYTES[,align=A]", opt_memzone, "add a memzone (repeatable)"},
    {"--preset", "fwd[,queues=Q]", opt_preset,
     "add mempool pkts, rings rx0..rxQ-1 and tx0..txQ-1, memzone ctrl (for fwd and pktgen)"},
    {NULL, NULL, NULL, NULL},
};
static const struct option_def inspect_opts[] = {
    opt_def_dir,
    {"--json", NULL, opt_json, "print JSON"},
    {NULL, NULL, NULL, NULL},
};
static const struct option_def qemu_opts[] = {
    opt_def_dir,
    {"--machine", "q35|pc", opt_machine,
     "q35 (default): one pcie-root-port per device; pc: devices on the root bus"},
    {"--first-slot", "S", opt_first_slot, "q35: first pcie.0 slot of the root ports (0x10)"},
    {"--doorbell", NULL, opt_doorbell,
     "ivshmem-doorbell devices served by the doorbell server (which must run first)"},
    {"--socket", "PATH", opt_socket,
     "--doorbell, one segment: the server's socket (default DIR/.ivshm-NAME.sock)"},
    {"--vectors", "N", opt_vectors, "--doorbell: MSI-X vectors a device, 1..64 (4)"},
    {NULL, NULL, NULL, NULL},
};
static const struct option_def list_opts[] = {
    opt_def_dir,
    {"--json", NULL, opt_json, "print JSON"},
    {NULL, NULL, NULL, NULL},
};
static const struct option_def destroy_opts[] = {
    opt_def_dir,
    {"--force", NULL, opt_force, "destroy even if a host process is still attached"},
    {NULL, NULL, NULL, NULL},
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
    if (ivshm_segment_create(&o, &res, &err) != IVSHM_OK)
        return fail(res.bad_arguments ? EXIT_USAGE : EXIT_RUNTIME, "%s", err.msg);
    if (res.shm_fallback)
        fprintf(stderr, "%s: warning: no hugetlbfs mount found, using %s with %llu-byte pages\n",
                prog, IVSHM_SHM_DIR, (unsigned long long)res.page_size);
    printf("%s\n", res.path);
    return EXIT_OK;
}

/* JSON string with the escapes JSON requires. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
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

static void inspect_object_text(const struct ivshm_segment *seg, const struct ivshm_dir_entry *e)
{
    printf("  %-31s %-7s 0x%010llx %12llu  ", e->name, ivshm_type_name(e->type),
           (unsigned long long)e->offset, (unsigned long long)e->length);
    struct ivshm_error err;
    if (e->type == IVSHM_OBJ_RING) {
        struct ivshm_ring r;
        struct ivshm_ring_stats st;
        if (ivshm_ring_attach(&r, &seg->view, e, &err) != IVSHM_OK) {
            printf("error: %s\n", err.msg);
            return;
        }
        ivshm_ring_stats(&r, &st);
        printf("slots=%u mode=%s in_use=%u full_events=%llu empty_events=%llu\n", e->param0,
               mode_name(e->param1), st.in_use, (unsigned long long)st.full_events,
               (unsigned long long)st.empty_events);
    } else if (e->type == IVSHM_OBJ_MEMPOOL) {
        struct ivshm_mempool mp;
        struct ivshm_mempool_audit a;
        if (ivshm_mempool_attach(&mp, &seg->view, e, 0, &err) != IVSHM_OK) {
            printf("error: %s\n", err.msg);
            return;
        }
        ivshm_mempool_audit(&mp, &a);
        printf("count=%u size=%u free=%u allocated=%u cached=%u\n", e->param0, e->param1, a.free,
               a.allocated, a.cached);
    } else {
        printf("size=%llu align=%u\n", (unsigned long long)e->length, e->param0);
    }
}

static void inspect_object_json(const struct ivshm_segment *seg, const struct ivshm_dir_entry *e)
{
    printf("{\"name\":");
    json_str(e->name);
    printf(",\"type\":\"%s\",\"offset\":%llu,\"length\":%llu", ivshm_type_name(e->type),
           (unsigned long long)e->offset, (unsigned long long)e->length);
    struct ivshm_error err;
    if (e->type == IVSHM_OBJ_RING) {
        struct ivshm_ring r;
        struct ivshm_ring_stats st;
        printf(",\"slots\":%u,\"mode\":\"%s\"", e->param0, mode_name(e->param1));
        if (ivshm_ring_attach(&r, &seg->view, e, &err) == IVSHM_OK) {
            ivshm_ring_stats(&r, &st);
            printf(",\"in_use\":%u,\"full_events\":%llu,\"empty_events\":%llu", st.in_use,
                   (unsigned long long)st.full_events, (unsigned long long)st.empty_events);
        }
    } else if (e->type == IVSHM_OBJ_MEMPOOL) {
        struct ivshm_mempool mp;
        struct ivshm_mempool_audit a;
        printf(",\"count\":%u,\"object_size\":%u", e->param0, e->param1);
        if (ivshm_mempool_attach(&mp, &seg->view, e, 0, &err) == IVSHM_OK) {
            ivshm_mempool_audit(&mp, &a);
            printf(",\"free_objects\":%u,\"allocated\":%u,\"cached\":%u", a.free, a.allocated,
                   a.cached);
        }
    } else {
        printf(",\"size\":%llu,\"align\":%u", (unsigned long long)e->length, e->param0);
    }
    putchar('}');
}

static int cmd_inspect(struct cli *c)
{
    struct ivshm_segment seg;
    struct ivshm_error err;
    int rc = ivshm_segment_attach(c->dir, c->pos[0], IVSHM_ATTACH_READONLY, NULL, &seg, &err);
    if (rc)
        return fail(err_status(rc), "%s", err.msg);
    const struct ivshm_segment_header *h = seg.view.hdr;
    const struct ivshm_segment_view *v = &seg.view;
    if (c->json) {
        printf("{\"name\":");
        json_str(v->name);
        printf(",\"path\":");
        json_str(seg.path);
        printf(",\"size\":%llu,\"abi_version\":%u,\"page_size\":%llu,\"numa_node\":%d,"
               "\"flags\":%u,\"generation\":%llu,\"checksum\":%u,\"dir_capacity\":%u,"
               "\"party_capacity\":%u,\"data_offset\":%llu,\"data_end\":%llu,"
               "\"created_unix_ns\":%llu,\"objects\":[",
               (unsigned long long)v->size, h->abi_version, (unsigned long long)h->page_size,
               h->numa_node, h->flags, (unsigned long long)v->generation, h->checksum,
               h->dir_capacity, v->party_capacity, (unsigned long long)v->data_offset,
               (unsigned long long)h->data_end, (unsigned long long)h->created_unix_ns);
    } else {
        char sz[32];
        ivshm_format_size(v->size, sz, sizeof(sz));
        time_t t = (time_t)(h->created_unix_ns / 1000000000ull);
        char when[64];
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
        printf("segment %s\n", v->name);
        printf("  path            %s\n", seg.path);
        printf("  size            %llu (%s)\n", (unsigned long long)v->size, sz);
        printf("  abi_version     %u\n", h->abi_version);
        printf("  page_size       %llu\n", (unsigned long long)h->page_size);
        printf("  numa_node       %d\n", h->numa_node);
        printf("  flags           0x%x%s\n", h->flags,
               (h->flags & IVSHM_SEG_FINALIZED) ? " (finalized)" : "");
        printf("  generation      %llu\n", (unsigned long long)v->generation);
        printf("  checksum        0x%08x\n", h->checksum);
        printf("  objects         %u of %u directory entries\n", v->object_count, h->dir_capacity);
        printf("  party_capacity  %u\n", v->party_capacity);
        printf("  data            0x%llx..0x%llx (%llu bytes free)\n",
               (unsigned long long)v->data_offset, (unsigned long long)h->data_end,
               (unsigned long long)(v->size - h->data_end));
        printf("  created         %s\n", when);
        printf("objects:\n  %-31s %-7s %-12s %12s  %s\n", "NAME", "TYPE", "OFFSET", "LENGTH",
               "DETAILS");
    }
    for (uint32_t i = 0; i < v->object_count; i++) {
        struct ivshm_dir_entry e;
        memcpy(&e, &v->dir[i], sizeof(e));
        if (c->json) {
            if (i)
                putchar(',');
            inspect_object_json(&seg, &e);
        } else {
            inspect_object_text(&seg, &e);
        }
    }
    if (c->json)
        printf("],\"parties\":[");
    else
        printf("parties:\n");
    bool any = false;
    for (uint32_t i = 0; i < v->party_capacity; i++) {
        const struct ivshm_party *p = &v->parties[i];
        uint32_t state = atomic_load_explicit(&p->state, memory_order_acquire);
        if (state == IVSHM_PARTY_FREE)
            continue;
        char label[sizeof(p->label) + 1];
        memcpy(label, p->label, sizeof(p->label));
        label[sizeof(p->label)] = 0;
        bool alive = ivshm_party_alive(p);
        if (c->json) {
            printf("%s{\"index\":%u,\"state\":\"%s\",\"kind\":\"%s\",\"pid\":%llu,"
                   "\"start_time\":%llu,\"heartbeat\":%llu,\"attach_count\":%llu,\"label\":",
                   any ? "," : "", i, ivshm_party_state_name(state), ivshm_party_kind_name(p->kind),
                   (unsigned long long)p->pid, (unsigned long long)p->start_time,
                   (unsigned long long)atomic_load(&p->heartbeat),
                   (unsigned long long)p->attach_count);
            json_str(label);
            printf(",\"alive\":%s}", alive ? "true" : "false");
        } else {
            printf("  %2u %-8s %-6s pid=%llu start_time=%llu heartbeat=%llu attaches=%llu "
                   "label=%s alive=%s\n",
                   i, ivshm_party_state_name(state), ivshm_party_kind_name(p->kind),
                   (unsigned long long)p->pid, (unsigned long long)p->start_time,
                   (unsigned long long)atomic_load(&p->heartbeat),
                   (unsigned long long)p->attach_count, label[0] ? label : "-",
                   alive ? "yes" : "no");
        }
        any = true;
    }
    if (c->json)
        printf("]}\n");
    else if (!any)
        printf("  (none)\n");
    ivshm_segment_detach(&seg);
    return EXIT_OK;
}

static int cmd_qemu_args(struct cli *c)
{
    struct ivshm_qemu_segment *segs = calloc(c->npos, sizeof(*segs));
    char(*paths)[PATH_MAX] = calloc(c->npos, PATH_MAX);
    char(*sockets)[PATH_MAX] = calloc(c->npos, PATH_MAX);
    if (!segs || !paths || !sockets)
        return fail(EXIT_RUNTIME, "out of memory");
    int status = EXIT_OK;
    if (c->socket && (!c->qemu.doorbell || c->npos != 1))
        status = fail(EXIT_USAGE, "qemu-args: --socket goes with --doorbell and one segment");
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
        if (c->qemu.doorbell && c->socket)
            snprintf(sockets[i], PATH_MAX, "%s", c->socket);
        else if (c->qemu.doorbell &&
                 (rc = ivshm_doorbell_socket_path(c->dir, c->pos[i], sockets[i], PATH_MAX, &err))) {
            status = fail(err_status(rc), "%s", err.msg);
            break;
        }
        segs[i].socket = sockets[i];
    }
    if (status == EXIT_OK) {
        size_t size = 1024 + (size_t)c->npos * (PATH_MAX + 512);
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
    free(sockets);
    return status;
}

struct list_ctx {
    bool json;
    unsigned n;
};

static int list_one(const char *name, const char *path, const struct ivshm_segment *seg,
                    const struct ivshm_error *why, void *ctx)
{
    struct list_ctx *l = ctx;
    unsigned alive = 0;
    if (seg)
        for (uint32_t i = 0; i < seg->view.party_capacity; i++)
            alive += ivshm_party_alive(&seg->view.parties[i]);
    if (l->json) {
        printf("%s{\"name\":", l->n ? "," : "");
        json_str(name);
        printf(",\"path\":");
        json_str(path);
        if (seg)
            printf(",\"valid\":true,\"size\":%llu,\"objects\":%u,\"parties_alive\":%u}",
                   (unsigned long long)seg->view.size, seg->view.object_count, alive);
        else {
            printf(",\"valid\":false,\"error\":");
            json_str(why->msg);
            putchar('}');
        }
    } else if (seg) {
        char sz[32];
        ivshm_format_size(seg->view.size, sz, sizeof(sz));
        printf("%-31s %10s %7u %7u  %s\n", name, sz, seg->view.object_count, alive, path);
    } else {
        printf("%-31s %10s %7s %7s  %s  (%s)\n", name, "-", "-", "-", path, why->msg);
    }
    l->n++;
    return 0;
}

static int cmd_list(struct cli *c)
{
    struct list_ctx l = {c->json, 0};
    struct ivshm_error err;
    if (c->json)
        printf("[");
    else
        printf("%-31s %10s %7s %7s  %s\n", "NAME", "SIZE", "OBJECTS", "PARTIES", "PATH");
    int rc = ivshm_segment_list(c->dir, list_one, &l, &err);
    if (c->json)
        printf("]\n");
    if (rc)
        return fail(EXIT_RUNTIME, "%s", err.msg);
    return EXIT_OK;
}

static int cmd_destroy(struct cli *c)
{
    struct ivshm_error err;
    for (unsigned i = 0; i < c->npos; i++) {
        int rc = ivshm_segment_destroy(c->dir, c->pos[i], c->force, &err);
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
    for (unsigned i = 0; status == EXIT_OK && i < c.npos; i++)
        if (!ivshm_name_valid(c.pos[i], strlen(c.pos[i]) + 1))
            status =
                fail(EXIT_USAGE, "segment name '%s': must be 1 to 31 characters of [A-Za-z0-9_-]",
                     c.pos[i]);
    if (status == EXIT_OK)
        status = cmd->run(&c);
    free(c.pos);
    free(c.objects);
    return status;
}

int main(int argc, char **argv)
{
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
