/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-fwd: the forwarder of the fwd module (common/fwd.c) as a Linux
 * process, so forwarding is tested and measured without QEMU.
 *
 *   ivshm-fwd NAME [--queues Q] [--burst B] [--cpu N] [--dir DIR]
 *                  [--mode poll|adaptive] [--idle-us N] [--socket PATH]
 *
 * Forwards rxN -> txN of segment NAME for N < Q (default: every pair there
 * is), buffers from NAME/pkts, state in NAME/ctrl; exits 0 when pktgen sets
 * EXIT, after publishing final counters (DONE). With a doorbell server for
 * NAME (`ivshm serve NAME`), it is a client of it: it sleeps when idle
 * (adaptive mode, the default then) and rings a host that sleeps on tx.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/internal.h"
#include "host/cli/cli.h"
#include "ivshm/doorbell.h"
#include "ivshm/fwd.h"

struct fwd_opts {
    const char *dir;
    const char *socket;
    uint32_t queues;
    uint32_t burst;
    uint32_t idle_us;
    enum ivshm_fwd_mode mode;
    int cpu;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The one segment we attached: every path names it (or no segment). */
static int resolve_segment(void *ctx, const char *name, const struct ivshm_segment_view **view,
                           struct ivshm_error *err)
{
    const struct ivshm_segment *seg = ctx;
    if (name && strcmp(name, seg->view.name) != 0)
        return ivshm_fail(err, IVSHM_E_NOENT, "segment %s: not attached (only %s is)", name,
                          seg->view.name);
    *view = &seg->view;
    return IVSHM_OK;
}

/* ---- the doorbell: a client of `ivshm serve` for our one segment ---- */

static bool doorbell_lookup(void *ctx, const struct ivshm_segment_view *view, uint16_t *id,
                            void **bell)
{
    (void)view; /* every object is in the one segment */
    struct ivshm_doorbell *db = ctx;
    if (!db)
        return false;
    *id = ivshm_doorbell_id(db);
    *bell = db;
    return true;
}

static void doorbell_ring(void *bell, uint16_t peer, uint16_t vector)
{
    /* A peer that is gone or a garbage request: nothing to ring. */
    ivshm_doorbell_ring(bell, peer, vector, NULL);
}

static void doorbell_wait(void *ctx, uint64_t timeout_ns)
{
    uint64_t ms = (timeout_ns + 999999) / 1000000;
    ivshm_doorbell_wait(ctx, ms > INT_MAX ? INT_MAX : (int)ms, NULL, NULL);
}

/* NAME's doorbell server, if one runs (*db stays NULL when none answers:
 * the forwarder then polls); mode adaptive needs one. */
static int connect_doorbell(const struct fwd_opts *o, const char *name, struct ivshm_doorbell **db)
{
    struct ivshm_error err;
    bool needed = o->mode == IVSHM_FWD_MODE_ADAPTIVE;
    if (cli_doorbell_connect(o->dir, name, o->socket, needed, db, &err) != IVSHM_OK)
        return cli_fail(CLI_EXIT_RUNTIME, "%s", err.msg);
    return CLI_EXIT_OK;
}

static int fwd_run(void *opts, char **args, unsigned nargs)
{
    (void)nargs;
    const struct fwd_opts *o = opts;
    static struct ivshm_segment seg;
    static struct ivshm_fwd fwd;
    struct ivshm_error err;
    if (cli_pin_cpu(o->cpu) != CLI_EXIT_OK)
        return CLI_EXIT_RUNTIME;
    if (ivshm_segment_attach(o->dir, args[0], IVSHM_ATTACH_CLAIM, "ivshm-fwd", &seg, &err))
        return cli_fail(cli_exit_status(err.code), "%s", err.msg);
    struct ivshm_doorbell *db;
    int status = connect_doorbell(o, args[0], &db);
    if (status != CLI_EXIT_OK) {
        ivshm_segment_detach(&seg);
        return status;
    }
    struct ivshm_fwd_doorbells doorbells = {doorbell_lookup, doorbell_ring, doorbell_wait, db};
    struct ivshm_fwd_config cfg = {
        .queues = o->queues,
        .burst = o->burst,
        .mac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x00},
        .now_ns = now_ns,
        .mode = o->mode,
        .idle_ns = (uint64_t)o->idle_us * 1000,
        .doorbells = &doorbells,
    };
    struct ivshm_fwd_resolver resolver = {resolve_segment, &seg};
    if (ivshm_fwd_open(&fwd, &cfg, &resolver, &err) != IVSHM_OK) {
        ivshm_fwd_fail(&fwd, err.msg);
        ivshm_doorbell_close(db);
        ivshm_segment_detach(&seg);
        return cli_fail(CLI_EXIT_RUNTIME, "%s", err.msg);
    }
    uint32_t abandoned = ivshm_fwd_run(&fwd);
    ivshm_doorbell_close(db);
    ivshm_segment_detach(&seg);
    if (abandoned)
        return cli_fail(CLI_EXIT_RUNTIME, "%u frames could not be forwarded before exit (tx full)",
                        abandoned);
    return CLI_EXIT_OK;
}

#define FWD(field) CLI_FIELD(struct fwd_opts, field)

static const struct cli_option fwd_options[] = {
    {"--queues", "Q", "queue pairs rx0/tx0.. to serve, 1..16 (default: every pair there is)",
     CLI_U32, FWD(queues), 1, IVSHM_FWD_MAX_QUEUES, NULL, NULL},
    {"--burst", "B", "entries per ring operation, 1..64 (default 32)", CLI_U32, FWD(burst), 1,
     IVSHM_BURST_MAX, NULL, NULL},
    {"--cpu", "N", "run on CPU N only (recommended: not pktgen's CPU)", CLI_INDEX, FWD(cpu), 0,
     CPU_SETSIZE - 1, NULL, NULL},
    {"--mode", "poll|adaptive",
     "adaptive: sleep on the doorbell when idle (default when a doorbell server runs)", CLI_CALL,
     FWD(mode), 0, 0, cli_parse_fwd_mode, NULL},
    {"--idle-us", "N", "adaptive: idle spell before sleeping, 1..1000000 us (default 50)", CLI_U32,
     FWD(idle_us), 1, 1000000, NULL, NULL},
    {"--socket", "PATH", "the doorbell server's socket (default DIR/.ivshm-NAME.sock)", CLI_STRING,
     FWD(socket), 0, 0, NULL, NULL},
    CLI_OPTION_DIR(struct fwd_opts),
    CLI_OPTION_END,
};

static const struct cli_command fwd_command = {
    .args = "NAME",
    .min_args = 1,
    .max_args = 1,
    .segment_args = true,
    .summary = "forward rxN -> txN of segment NAME until the host sets EXIT (docs/forwarding.md)",
    .details = "Buffers come from NAME/pkts, the state machine is NAME/ctrl (a run-time error\n"
               "is also set there, as FAIL). With a doorbell server for NAME (ivshm serve),\n"
               "it sleeps when idle (mode adaptive) and rings a host that sleeps on txN.\n"
               "Exit status: 0 after EXIT and the final counters (DONE); 1 if frames had to\n"
               "be abandoned, or on a run-time error; 2 usage error.\n",
    .opts_size = sizeof(struct fwd_opts),
    .options = fwd_options,
    .run = fwd_run,
};

int main(int argc, char **argv)
{
    static const struct cli_command *const commands[] = {&fwd_command, NULL};
    static const struct cli_program program = {"ivshm-fwd", NULL, commands};
    return cli_main(&program, argc, argv);
}
