/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm inspect NAME [--json] [--dir DIR]: the header, every object (as its
 * row of the object-type table describes it) and the party table, through
 * the one printer (report.h) for text and JSON.
 *
 * A peer may rewrite the metadata while we print it (issue 13 F3). So the
 * header and the directory are copied once into private memory, checked
 * there (each entry, and the checksum over the copies), and only the copies
 * are printed; when they do not check out, inspect says so in one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/internal.h"
#include "common/object.h"
#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/cli/report.h"
#include "ivshm/party.h"

#define FIELDS(a) (a), (unsigned)(sizeof(a) / sizeof((a)[0]))

/* Name, type, offset and length as columns, then what the type's row
 * describes as key=value pairs (JSON: one object each). `e` is a checked
 * private copy of the entry. */
static void inspect_object(struct report *r, const struct ivshm_segment_view *v,
                           const struct ivshm_dir_entry *e)
{
    struct report_field f[4 + IVSHM_FIELDS_MAX];
    unsigned n = 0;
    char offset[24];
    snprintf(offset, sizeof(offset), "0x%010llx", (unsigned long long)e->offset);
    f[n++] = (struct report_field){
        .key = "name", .label = "", .kind = REPORT_TEXT, .s = e->name, .sep = "  ", .width = -31};
    f[n++] = (struct report_field){.key = "type",
                                   .label = "",
                                   .kind = REPORT_TEXT,
                                   .s = ivshm_object_type_name(e->type),
                                   .width = -7};
    f[n++] = (struct report_field){
        .key = "offset", .label = "", .kind = REPORT_UINT, .u = e->offset, .text = offset};
    f[n++] = (struct report_field){
        .key = "length", .label = "", .kind = REPORT_UINT, .u = e->length, .width = 12};
    struct ivshm_fields details = {0};
    const struct ivshm_object_class *t = ivshm_object_class_find(e->type);
    if (t)
        t->describe(v, e, &details);
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

/* The header and directory as one private, checked copy. */
struct snapshot {
    struct ivshm_segment_header hdr;
    struct ivshm_dir_entry *dir; /* view.object_count entries */
};

/* Copies the header and every directory entry once, checks each entry
 * (ivshm_object_get) and the checksum over the copies: what was validated
 * a moment ago, unless a peer rewrote it meanwhile. */
static int take_snapshot(const struct ivshm_segment *seg, struct snapshot *s,
                         struct ivshm_error *err)
{
    const struct ivshm_segment_view *v = &seg->view;
    const volatile uint8_t *from = (const volatile uint8_t *)v->hdr;
    uint8_t *to = (uint8_t *)&s->hdr;
    for (size_t i = 0; i < sizeof(s->hdr); i++)
        to[i] = from[i];
    s->dir = calloc(v->object_count ? v->object_count : 1, sizeof(*s->dir));
    if (!s->dir)
        return ivshm_fail(err, IVSHM_E_NOSPC, "%s: out of memory", v->name);
    struct ivshm_error why;
    for (uint32_t i = 0; i < v->object_count; i++)
        if (ivshm_object_get(v, i, &s->dir[i], &why) != IVSHM_OK)
            return ivshm_fail(err, IVSHM_E_BADSEG, "%s: the directory changed while read: %s",
                              v->name, why.msg);
    if (s->hdr.object_count != v->object_count ||
        ivshm_segment_checksum(&s->hdr, s->dir, v->object_count) != s->hdr.checksum)
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "%s: the header or directory changed while read (checksum mismatch)",
                          v->name);
    return IVSHM_OK;
}

static void inspect_header(struct report *r, const struct ivshm_segment *seg,
                           const struct ivshm_segment_header *h)
{
    const struct ivshm_segment_view *v = &seg->view;
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
    const struct tm *tm = gmtime(&t);
    if (!tm || !strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S UTC", tm))
        snprintf(created, sizeof(created), "?");
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

static int inspect_run(void *opts, char **args, unsigned nargs)
{
    (void)nargs;
    const struct dir_json_opts *c = opts;
    struct ivshm_segment seg;
    struct ivshm_error err;
    int rc = ivshm_segment_attach(c->dir, args[0], IVSHM_ATTACH_READONLY, NULL, &seg, &err);
    if (rc)
        return cli_fail(cli_exit_status(rc), "%s", err.msg);
    struct snapshot snap = {0};
    rc = take_snapshot(&seg, &snap, &err);
    if (rc) {
        free(snap.dir);
        ivshm_segment_detach(&seg);
        return cli_fail(cli_exit_status(rc), "%s", err.msg);
    }
    struct report r;
    report_init(&r, c->json, stdout);
    report_begin(&r);
    inspect_header(&r, &seg, &snap.hdr);
    char heading[128];
    snprintf(heading, sizeof(heading), "objects:\n  %-31s %-7s %-12s %12s  %s", "NAME", "TYPE",
             "OFFSET", "LENGTH", "DETAILS");
    report_list_begin(&r, "objects", heading);
    for (uint32_t i = 0; i < seg.view.object_count; i++)
        inspect_object(&r, &seg.view, &snap.dir[i]);
    report_list_end(&r, NULL);
    report_list_begin(&r, "parties", "parties:");
    for (uint32_t i = 0; i < seg.view.party_capacity; i++)
        inspect_party(&r, &seg.view, i);
    report_list_end(&r, "  (none)");
    report_end(&r);
    free(snap.dir);
    ivshm_segment_detach(&seg);
    return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_inspect = {
    .name = "inspect",
    .args = "NAME",
    .min_args = 1,
    .max_args = 1,
    .segment_args = true,
    .summary = "print the header, every object and the party table",
    .opts_size = sizeof(struct dir_json_opts),
    .options = cli_dir_json_options,
    .run = inspect_run,
};
