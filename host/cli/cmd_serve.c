/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm serve NAME... [--socket PATH] [--vectors N] [--max-clients N]
 *                     [--daemon] [--pidfile FILE] [--quiet] [--dir DIR]
 *
 * The doorbell server (host/doorbell_server.c, docs/abi.md section 5) for
 * the named segments, until SIGTERM or SIGINT.
 */
#include <stdio.h>

#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/doorbell_server.h"
#include "ivshm/doorbell.h"

struct serve_opts {
    const char *dir;
    const char *socket;
    const char *pidfile;
    uint32_t vectors;
    uint32_t max_clients;
    bool daemon;
    bool quiet;
};

static int serve_run(void *opts, char **args, unsigned nargs)
{
    const struct serve_opts *o = opts;
    if (o->socket && nargs != 1)
        return cli_fail(CLI_EXIT_USAGE, "serve: --socket goes with one segment (%u given)", nargs);
    struct ivshm_serve_opts so = {
        .dir = o->dir,
        .names = (const char *const *)args,
        .count = nargs,
        .socket_path = o->socket,
        .vectors = o->vectors,
        .max_clients = o->max_clients,
        .daemon = o->daemon,
        .pidfile = o->pidfile,
        .log = o->quiet ? NULL : stderr,
    };
    struct ivshm_error err;
    int rc = ivshm_serve_run(&so, &err);
    return rc ? cli_fail(cli_exit_status(rc), "%s", err.msg) : CLI_EXIT_OK;
}

#define SERVE(field) CLI_FIELD(struct serve_opts, field)

static const struct cli_option serve_options[] = {
    {"--socket", "PATH", "one segment: listen on PATH (default DIR/.ivshm-NAME.sock)", CLI_STRING,
     SERVE(socket), 0, 0, NULL, NULL},
    {"--vectors", "N", "eventfds (MSI-X vectors) a peer, 1..64 (default 4)", CLI_U32,
     SERVE(vectors), 1, IVSHM_DOORBELL_MAX_VECTORS, NULL, NULL},
    {"--max-clients", "N", "clients a segment, 1..65535 (default 256)", CLI_U32, SERVE(max_clients),
     1, IVSHM_DOORBELL_MAX_ID + 1, NULL, NULL},
    {"--daemon", NULL, "go to the background once listening", CLI_FLAG, SERVE(daemon), 0, 0, NULL,
     NULL},
    {"--pidfile", "FILE", "write the serving process's pid to FILE (removed at exit)", CLI_STRING,
     SERVE(pidfile), 0, 0, NULL, NULL},
    {"--quiet", NULL, "no log lines (default: one a client event, on stderr)", CLI_FLAG,
     SERVE(quiet), 0, 0, NULL, NULL},
    CLI_OPTION_DIR(struct serve_opts),
    CLI_OPTION_END,
};

const struct cli_command cli_cmd_serve = {
    .name = "serve",
    .args = "NAME...",
    .min_args = 1,
    .max_args = IVSHM_SERVE_MAX_SEGMENTS,
    .segment_args = true,
    .summary = "doorbell server: QEMU's ivshmem server protocol for the segments",
    .details = "Hands each client (QEMU's ivshmem-doorbell device, which `ivshm qemu-args`\n"
               "sets up with its doorbell option, or a host process) the segment file, its\n"
               "peer ID and its eventfds, and tells\n"
               "the peers when others come and go (docs/abi.md, section 5). Runs until SIGTERM\n"
               "or SIGINT, then removes its sockets and pidfile and exits 0.\n"
               "Exit status: 0 after a signal (or once the daemon serves); 1 when it cannot\n"
               "serve (no such segment, a server already listens on the socket); 2 usage.\n",
    .opts_size = sizeof(struct serve_opts),
    .options = serve_options,
    .run = serve_run,
};
