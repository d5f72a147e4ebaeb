/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm repair NAME [--timeout S] [--json] [--dir DIR]: brings a damaged
 * segment back to working order in place, the VMs that map it running on
 * (host/repair.h does it; docs/cli.md says what and when).
 */
#include <signal.h>
#include <stdio.h>

#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/repair.h"

struct repair_opts {
    const char *dir;
    double timeout;
    bool json;
};

static _Atomic bool stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

static void repair_defaults(void *opts)
{
    ((struct repair_opts *)opts)->timeout = 10;
}

static const char *forwarder_word(const struct ivshm_repair_report *r)
{
    return !r->forwarder ? "none" : r->paused ? "paused and resumed" : "not running";
}

static int repair_run(void *opts, char **args, unsigned nargs)
{
    (void)nargs;
    const struct repair_opts *o = opts;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct ivshm_repair_report r;
    struct ivshm_error err;
    if (ivshm_repair(o->dir, args[0], o->timeout, &stop_requested, &r, &err) != IVSHM_OK)
        return cli_fail(cli_exit_status(err.code), "%s", err.msg);
    if (o->json)
        printf("{\"segment\":\"%s\",\"forwarder\":\"%s\",\"rings\":%u,\"rings_damaged\":%u,"
               "\"entries\":%u,\"pools\":%u,\"objects\":%u,\"taken_back\":%u,\"parties\":%u,"
               "\"sources\":%u}\n",
               args[0], forwarder_word(&r), r.rings, r.rings_damaged, r.entries, r.pools, r.objects,
               r.taken_back, r.parties, r.sources);
    else
        printf("repair: %s: forwarder %s; %u rings emptied (%u damaged, %u entries); %u pools "
               "rebuilt, %u objects all free (%u taken back); %u party slots and %u source "
               "claims cleared\n",
               args[0], forwarder_word(&r), r.rings, r.rings_damaged, r.entries, r.pools, r.objects,
               r.taken_back, r.parties, r.sources);
    return CLI_EXIT_OK;
}

static const struct cli_option repair_options[] = {
    {"--timeout", "S", "wait up to S s for the forwarder to pause (default 10)", CLI_SECONDS,
     CLI_FIELD(struct repair_opts, timeout), 0, 0, NULL, NULL},
    {"--json", NULL, "print what was done as one JSON object", CLI_FLAG,
     CLI_FIELD(struct repair_opts, json), 0, 0, NULL, NULL},
    CLI_OPTION_DIR(struct repair_opts),
    CLI_OPTION_END,
};

const struct cli_command cli_cmd_repair = {
    .name = "repair",
    .args = "NAME",
    .min_args = 1,
    .max_args = 1,
    .segment_args = true,
    .summary = "bring a damaged segment back to working order, in place",
    .details = "Pauses the forwarder (PAUSE in ctrl; one that polls but does not answer within\n"
               "--timeout: nothing is changed), empties every ring, rebuilds every mempool with\n"
               "all objects free, frees the party slots of dead processes and garbage, and\n"
               "resumes the forwarder. The VMs using NAME keep running. Refuses while another\n"
               "host process (pktgen, ivshm-port, ...) is attached. A damaged header or\n"
               "directory (checksum mismatch) is not repaired: re-create the segment.\n"
               "Exit status: 0 repaired; 1 not (one line says why); 2 usage error.\n",
    .opts_size = sizeof(struct repair_opts),
    .defaults = repair_defaults,
    .options = repair_options,
    .run = repair_run,
};
