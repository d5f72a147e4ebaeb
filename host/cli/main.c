/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm: create, inspect, list and destroy segments, print the QEMU
 * arguments that attach them to a VM, send traffic through a forwarder.
 * docs/cli.md is the reference; host/cli/cli.h the framework; each
 * subcommand is a file of its own (commands.h).
 */
#include "host/cli/cli.h"
#include "host/cli/commands.h"

const struct cli_option cli_dir_json_options[] = {
    CLI_OPTION_DIR(struct dir_json_opts),
    {"--json", NULL, "print JSON", CLI_FLAG, CLI_FIELD(struct dir_json_opts, json), 0, 0, NULL,
     NULL},
    CLI_OPTION_END,
};

static const struct cli_command *const commands[] = {
    &cli_cmd_create, &cli_cmd_inspect, &cli_cmd_qemu_args, &cli_cmd_list,  &cli_cmd_destroy,
    &cli_cmd_pktgen, &cli_cmd_reclaim, &cli_cmd_repair,    &cli_cmd_serve, NULL,
};

static const struct cli_program ivshm = {
    .name = "ivshm",
    .summary = "shared-memory segments for bare-metal VMs (docs/cli.md)",
    .commands = commands,
};

int main(int argc, char **argv)
{
    return cli_main(&ivshm, argc, argv);
}
