/* SPDX-License-Identifier: BSD-3-Clause */
/* Doorbells and adaptive mode for the programs of the CLI that move frames
 * (ivshm-fwd, pktgen): their --mode option and their client of the doorbell
 * server (doorbells.c). */
#ifndef IVSHM_CLI_DOORBELLS_H
#define IVSHM_CLI_DOORBELLS_H

#include <stdbool.h>

#include "host/cli/cli.h"
#include "ivshm/fwd.h"

/* A CLI_CALL parse function: "poll" or "adaptive" into the enum
 * ivshm_fwd_mode at option->offset. */
int cli_parse_fwd_mode(void *opts, const struct cli_option *option, const char *value);

struct ivshm_doorbell;

/*
 * Connects to the doorbell server of segment `name` (ivshm serve): at
 * `socket`, else at the segment's own socket, where no server running is no
 * error unless `needed` (IVSHM_OK with *db NULL: nobody there sleeps on a
 * doorbell). Errors: IVSHM_E_NOENT (no server, and needed or at `socket`),
 * those of ivshm_doorbell_socket_path and ivshm_doorbell_connect.
 */
int cli_doorbell_connect(const char *dir, const char *name, const char *socket, bool needed,
                         struct ivshm_doorbell **db, struct ivshm_error *err);

#endif
