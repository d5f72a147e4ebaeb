/* SPDX-License-Identifier: BSD-3-Clause */
/* ivshm list [--json] [--dir DIR]: one line (or JSON object) per segment file. */
#include <stdio.h>

#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/cli/report.h"
#include "ivshm/party.h"

#define FIELDS(a) (a), (unsigned)(sizeof(a) / sizeof((a)[0]))

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

static int list_run(void *opts, char **args, unsigned nargs)
{
    (void)args, (void)nargs;
    const struct dir_json_opts *c = opts;
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
        return cli_fail(CLI_EXIT_RUNTIME, "%s", err.msg);
    return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_list = {
    .name = "list",
    .args = "",
    .summary = "list the segments of the directory",
    .opts_size = sizeof(struct dir_json_opts),
    .options = cli_dir_json_options,
    .run = list_run,
};
