/* SPDX-License-Identifier: BSD-3-Clause */
/* ivshm destroy NAME... [--force] [--dir DIR] */
#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "ivshm/segment.h"

struct destroy_opts {
    const char *dir;
    bool force;
};

static int destroy_run(void *opts, char **args, unsigned nargs)
{
    const struct destroy_opts *c = opts;
    struct ivshm_error err;
    for (unsigned i = 0; i < nargs; i++) {
        int rc = ivshm_segment_destroy(c->dir, args[i], c->force ? IVSHM_DESTROY_FORCE : 0, &err);
        if (rc == IVSHM_E_EXIST)
            return cli_fail(CLI_EXIT_RUNTIME, "%s (use --force)", err.msg);
        if (rc)
            return cli_fail(cli_exit_status(rc), "%s", err.msg);
    }
    return CLI_EXIT_OK;
}

static const struct cli_option destroy_options[] = {
    CLI_OPTION_DIR(struct destroy_opts),
    {"--force", NULL, "destroy even if a host process is still attached", CLI_FLAG,
     CLI_FIELD(struct destroy_opts, force), 0, 0, NULL, NULL},
    CLI_OPTION_END,
};

const struct cli_command cli_cmd_destroy = {
    .name = "destroy",
    .args = "NAME...",
    .min_args = 1,
    .max_args = 64,
    .segment_args = true,
    .summary = "remove segments",
    .opts_size = sizeof(struct destroy_opts),
    .options = destroy_options,
    .run = destroy_run,
};
