/* SPDX-License-Identifier: BSD-3-Clause */
/* The subcommands of `ivshm`, one file each (host/cli/cmd_*.c); main.c lists
 * them. A new one: cmd_NAME.c defining cli_cmd_NAME, a line here and one in
 * main.c's table. */
#ifndef IVSHM_CLI_COMMANDS_H
#define IVSHM_CLI_COMMANDS_H

#include <stdbool.h>

#include "host/cli/cli.h"

extern const struct cli_command cli_cmd_create;
extern const struct cli_command cli_cmd_inspect;
extern const struct cli_command cli_cmd_qemu_args;
extern const struct cli_command cli_cmd_list;
extern const struct cli_command cli_cmd_destroy;
extern const struct cli_command cli_cmd_pktgen;
extern const struct cli_command cli_cmd_reclaim;
extern const struct cli_command cli_cmd_repair;
extern const struct cli_command cli_cmd_serve;

/* The options of inspect and list: --dir and --json. */
struct dir_json_opts {
    const char *dir;
    bool json;
};
extern const struct cli_option cli_dir_json_options[];

#endif
