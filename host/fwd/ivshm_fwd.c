/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-fwd: the forwarder of the fwd module (common/fwd.c) as a Linux
 * process, so forwarding is tested and measured without QEMU.
 *
 *   ivshm-fwd NAME [rx=RING tx=RING]... [--queues Q] [--burst B]
 *             [--mac rewrite|keep] [--cpu N] [--dir DIR]
 *             [--mode poll|adaptive] [--idle-us N] [--socket PATH]
 *
 * Forwards rxN -> txN of segment NAME for N < Q (default: every pair there
 * is), or the pairs the rx=/tx= words give (paired in order, as the guest's
 * words; rings of NAME, written RING or NAME/RING); buffers from NAME/pkts,
 * state in NAME/ctrl; exits 0 when the host side sets EXIT, after publishing
 * final counters (DONE). --mac keep forwards frames untouched (a wire).
 *
 * With a doorbell server for NAME (`ivshm serve NAME`), it is a client of
 * it: it sleeps when idle (adaptive mode, the default then) and rings a host
 * that sleeps on tx.
 *
 * Cross-connect: ivshm-fwd vm1 rx=rx0 tx=tx1 rx=rx1 tx=tx0 --mac keep
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/internal.h"
#include "host/cli/cli.h"
#include "host/cli/doorbells.h"
#include "host/fwd_host.h"
#include "ivshm/doorbell.h"
#include "ivshm/fwd.h"

struct fwd_opts {
    const char *dir;
    const char *socket;
    uint32_t queues;
    uint32_t burst;
    uint32_t idle_us;
    enum ivshm_fwd_mode mode;
    enum ivshm_fwd_mac_mode mac_mode;
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

static int parse_mac(void *opts, const struct cli_option *option, const char *value)
{
    struct ivshm_error err;
    if (ivshm_fwd_mac_mode_parse(value, &((struct fwd_opts *)opts)->mac_mode, &err) != IVSHM_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: %s", option->name, err.msg);
    return CLI_EXIT_OK;
}

/* The rx=RING tx=RING words after NAME, paired in order, into cfg (the
 * resolver refuses a ring of another segment). */
static int parse_pairs(char **words, unsigned n, uint32_t queues, struct ivshm_fwd_config *cfg)
{
    uint32_t nrx = 0, ntx = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *w = words[i];
        bool rx = strncmp(w, "rx=", 3) == 0;
        if (!rx && strncmp(w, "tx=", 3) != 0)
            return cli_fail(CLI_EXIT_USAGE, "unexpected argument '%s' (not rx=RING or tx=RING)", w);
        uint32_t *count = rx ? &nrx : &ntx;
        if (*count == IVSHM_FWD_MAX_QUEUES)
            return cli_fail(CLI_EXIT_USAGE, "%s: more than %u %s rings", w, IVSHM_FWD_MAX_QUEUES,
                            rx ? "rx" : "tx");
        (rx ? cfg->rx : cfg->tx)[(*count)++] = w + 3;
    }
    if (nrx != ntx)
        return cli_fail(CLI_EXIT_USAGE, "%u rx= and %u tx= words: they come in pairs", nrx, ntx);
    if (nrx && queues)
        return cli_fail(CLI_EXIT_USAGE, "give --queues or rx=/tx= pairs, not both");
    cfg->queues = nrx ? nrx : queues;
    return CLI_EXIT_OK;
}

static int fwd_run(void *opts, char **args, unsigned nargs)
{
    const struct fwd_opts *o = opts;
    static struct ivshm_segment seg;
    static struct ivshm_fwd fwd;
    struct ivshm_error err;
    struct ivshm_fwd_config cfg = {
        .burst = o->burst,
        .mac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x00},
        .mac_mode = o->mac_mode,
        .now_ns = now_ns,
        .mode = o->mode,
        .idle_ns = (uint64_t)o->idle_us * 1000,
    };
    if (ivshm_name_check("segment", args[0], IVSHM_E_INVAL, &err) != IVSHM_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
    int status = parse_pairs(args + 1, nargs - 1, o->queues, &cfg);
    if (status != CLI_EXIT_OK)
        return status;
    if (cli_pin_cpu(o->cpu) != CLI_EXIT_OK)
        return CLI_EXIT_RUNTIME;
    if (ivshm_segment_attach(o->dir, args[0], IVSHM_ATTACH_CLAIM, IVSHM_FWD_HOST_FORWARDER_LABEL,
                             &seg, &err))
        return cli_fail(cli_exit_status(err.code), "%s", err.msg);
    struct ivshm_doorbell *db;
    status = connect_doorbell(o, args[0], &db);
    if (status != CLI_EXIT_OK) {
        ivshm_segment_detach(&seg);
        return status;
    }
    struct ivshm_fwd_doorbells doorbells = {doorbell_lookup, doorbell_ring, doorbell_wait, db};
    cfg.doorbells = &doorbells;
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
    {"--mac", "MODE", "rewrite (l2fwd, the default) or keep (a wire: frames leave as they came)",
     CLI_CALL, FWD(mac_mode), 0, 0, parse_mac, NULL},
    {"--cpu", "N", "run on CPU N only (recommended: not pktgen's CPU)", CLI_INDEX, FWD(cpu), 0,
     CPU_SETSIZE - 1, NULL, NULL},
    CLI_OPTION_MODE(struct fwd_opts,
                    "adaptive: sleep on the doorbell when idle (default when a doorbell server "
                    "runs)"),
    CLI_OPTION_IDLE_US(struct fwd_opts),
    {"--socket", "PATH", "the doorbell server's socket (default DIR/.ivshm-NAME.sock)", CLI_STRING,
     FWD(socket), 0, 0, NULL, NULL},
    CLI_OPTION_DIR(struct fwd_opts),
    CLI_OPTION_END,
};

static const struct cli_command fwd_command = {
    .args = "NAME [rx=RING tx=RING]...",
    .min_args = 1,
    .max_args = 1 + 2 * IVSHM_FWD_MAX_QUEUES,
    .summary = "forward rxN -> txN of segment NAME until the host sets EXIT (docs/forwarding.md)",
    .details = "NAME is 1 to 31 characters of [A-Za-z0-9_-]; the file is DIR/ivshm-NAME.\n"
               "rx=RING tx=RING words pair other rings of NAME (RING or NAME/RING), in order,\n"
               "as the guest's words do; e.g. a cross-connect with frames left as they came:\n"
               "  ivshm-fwd vm1 rx=rx0 tx=tx1 rx=rx1 tx=tx0 --mac keep\n"
               "Buffers come from NAME/pkts, the state machine is NAME/ctrl (a run-time error\n"
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
