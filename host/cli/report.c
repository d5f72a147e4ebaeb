/* SPDX-License-Identifier: BSD-3-Clause */
/* The CLI's printer (report.h). */
#include <inttypes.h>
#include <string.h>

#include "host/cli/cli.h"
#include "host/cli/report.h"
#include "ivshm/segment.h"

void report_init(struct report *r, bool json, FILE *out)
{
    memset(r, 0, sizeof(*r));
    r->json = json;
    r->out = out;
}

void report_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* A comma before everything but the first item at this depth. */
static void json_next(struct report *r)
{
    if (r->started[r->depth])
        fputc(',', r->out);
    r->started[r->depth] = true;
}

static void json_open(struct report *r, char bracket)
{
    fputc(bracket, r->out);
    if (r->depth + 1 < REPORT_MAX_DEPTH)
        r->depth++;
    r->started[r->depth] = false;
}

static void json_close(struct report *r, char bracket)
{
    fputc(bracket, r->out);
    if (r->depth)
        r->depth--;
}

static void json_value(struct report *r, const struct report_field *f)
{
    switch (f->kind) {
    case REPORT_UINT:
        fprintf(r->out, "%" PRIu64, f->u);
        break;
    case REPORT_INT:
        fprintf(r->out, "%" PRId64, f->i);
        break;
    case REPORT_TEXT:
        report_json_string(r->out, f->s ? f->s : "");
        break;
    case REPORT_BOOL:
        fputs(f->b ? "true" : "false", r->out);
        break;
    }
}

static void json_fields(struct report *r, const struct report_field *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (!f[i].key)
            continue;
        json_next(r);
        report_json_string(r->out, f[i].key);
        fputc(':', r->out);
        json_value(r, &f[i]);
    }
}

/* The text of a field's value, into buf; as text output prints it: a file
 * name from a directory or a label from a segment may hold a newline or an
 * escape sequence, printed as '?'. */
static const char *text_value(const struct report_field *f, char *buf, size_t size)
{
    if (f->text || f->kind == REPORT_TEXT) {
        const char *s = f->text ? f->text : f->s ? f->s : "";
        return cli_printable(s, buf, size) ? buf : s;
    }
    switch (f->kind) {
    case REPORT_UINT:
        snprintf(buf, size, "%" PRIu64, f->u);
        break;
    case REPORT_INT:
        snprintf(buf, size, "%" PRId64, f->i);
        break;
    case REPORT_TEXT: /* above */
        break;
    case REPORT_BOOL:
        return f->b ? "yes" : "no";
    }
    return buf;
}

void report_begin(struct report *r)
{
    if (r->json)
        json_open(r, '{');
}

void report_end(struct report *r)
{
    if (r->json) {
        json_close(r, '}');
        fputc('\n', r->out);
    }
}

void report_lines(struct report *r, const struct report_field *f, unsigned n)
{
    if (r->json) {
        json_fields(r, f, n);
        return;
    }
    char buf[IVSHM_PATH_MAX + 256];
    for (unsigned i = 0; i < n; i++)
        if (f[i].label)
            fprintf(r->out, "  %-16s%s\n", f[i].label, text_value(&f[i], buf, sizeof(buf)));
}

void report_list_begin(struct report *r, const char *key, const char *heading)
{
    r->rows = 0;
    if (!r->json) {
        if (heading)
            fprintf(r->out, "%s\n", heading);
        return;
    }
    if (key) {
        json_next(r);
        report_json_string(r->out, key);
        fputc(':', r->out);
    }
    json_open(r, '[');
}

void report_row(struct report *r, const struct report_field *f, unsigned n)
{
    r->rows++;
    if (r->json) {
        json_next(r);
        json_open(r, '{');
        json_fields(r, f, n);
        json_close(r, '}');
        return;
    }
    char buf[IVSHM_PATH_MAX + 256];
    for (unsigned i = 0; i < n; i++) {
        if (!f[i].label)
            continue;
        fputs(f[i].sep ? f[i].sep : " ", r->out);
        if (f[i].label[0])
            fprintf(r->out, "%s=", f[i].label);
        fprintf(r->out, "%*s", f[i].width, text_value(&f[i], buf, sizeof(buf)));
    }
    fputc('\n', r->out);
}

void report_list_end(struct report *r, const char *if_empty)
{
    if (r->json) {
        json_close(r, ']');
        if (r->depth == 0)
            fputc('\n', r->out);
    } else if (r->rows == 0 && if_empty) {
        fprintf(r->out, "%s\n", if_empty);
    }
}
