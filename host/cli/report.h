/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One printer for the CLI's text and JSON output: a command describes what
 * it shows once, as records of fields, and the printer renders them either
 * way. Text: header lines ("  label           value") and table rows (columns,
 * then key=value pairs). JSON: one object, whose lists are arrays of objects.
 */
#ifndef IVSHM_CLI_REPORT_H
#define IVSHM_CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum report_kind { REPORT_UINT, REPORT_INT, REPORT_TEXT, REPORT_BOOL };

struct report_field {
    const char *key;   /* JSON key; NULL: text only */
    const char *label; /* text: the line's label, or the row's key=; "": the value alone
                          (a column); NULL: JSON only */
    enum report_kind kind;
    uint64_t u;
    int64_t i;
    const char *s;
    bool b;
    const char *text; /* text rendering when it differs from the value (else the value) */
    const char *sep;  /* text rows: what goes before the field (NULL: one space) */
    int width;        /* text rows: printf width of the value, negative to left-align */
};

#define REPORT_MAX_DEPTH 4

struct report {
    bool json;
    FILE *out;
    unsigned depth;
    bool started[REPORT_MAX_DEPTH]; /* a field or element was printed at this depth */
    unsigned rows;                  /* rows of the current list */
};

void report_init(struct report *r, bool json, FILE *out);
/* The outermost JSON object (text: nothing). */
void report_begin(struct report *r);
void report_end(struct report *r);
/* Fields of the current object; text: one "  label value" line each. */
void report_lines(struct report *r, const struct report_field *f, unsigned n);
/* A list under `key` (NULL at the top level: the output is an array); text:
 * `heading` (may be NULL) and the rows. */
void report_list_begin(struct report *r, const char *key, const char *heading);
/* One element; text: one line. */
void report_row(struct report *r, const struct report_field *f, unsigned n);
/* Text: `if_empty` (may be NULL) when the list had no row. */
void report_list_end(struct report *r, const char *if_empty);

/* A JSON string with the escapes JSON requires. */
void report_json_string(FILE *out, const char *s);

#endif
