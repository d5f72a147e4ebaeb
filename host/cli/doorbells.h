/* SPDX-License-Identifier: BSD-3-Clause */
/* Doorbells and adaptive mode for the programs that move frames (ivshm-fwd,
 * pktgen, ivshm-port): their --mode option, their client of the doorbell
 * server, and the waker's side of a ring's wake request (doorbells.c). */
#ifndef IVSHM_CLI_DOORBELLS_H
#define IVSHM_CLI_DOORBELLS_H

#include <stdbool.h>

#include "host/cli/cli.h"
#include "ivshm/fwd.h"

/* A CLI_CALL parse function: "poll" or "adaptive" into the enum
 * ivshm_fwd_mode at option->offset. */
int cli_parse_fwd_mode(void *opts, const struct cli_option *option, const char *value);

/* The options of adaptive mode every program that moves frames has: --mode
 * (what it sleeps on, in `help`) into field `mode`, --idle-us into uint32_t
 * field `idle_us` (its default: IVSHM_FWD_IDLE_NS / 1000). */
#define CLI_OPTION_MODE(type, help)                                                                \
    {                                                                                              \
        "--mode", "poll|adaptive", help, CLI_CALL, CLI_FIELD(type, mode), 0, 0,                    \
            cli_parse_fwd_mode, NULL                                                               \
    }
#define CLI_OPTION_IDLE_US(type)                                                                   \
    {                                                                                              \
        "--idle-us", "N", "adaptive: idle spell before sleeping, 1..1000000 us (default 50)",      \
            CLI_U32, CLI_FIELD(type, idle_us), 1, 1000000, NULL, NULL                              \
    }

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

struct ivshm_ring;

/*
 * The producer of `ring`, after an enqueue that moved entries: when the
 * consumer sleeps and asked to be woken (notify.h), takes its request and
 * rings it through db (NULL: no server, nothing to do). Returns true when a
 * request was taken (a doorbell rung, or refused: a peer or vector that does
 * not exist, garbage or a server restart, is nobody to wake).
 */
bool cli_doorbell_wake(struct ivshm_doorbell *db, struct ivshm_ring *ring);

#endif
