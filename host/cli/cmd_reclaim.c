/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm reclaim: gives back to a pool the buffers of host processes that
 * died while attached (pktgen does the same when it starts).
 */
#include <stdio.h>

#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "host/cli/traffic.h"

static int reclaim_run(void *opts, char **args, unsigned nargs)
{
    (void)nargs;
    struct pg_state *pg = pg_start(opts, args[0]);
    struct ivshm_error err = {0};
    int status;
    if (pg_open_all(pg, &err) || pg_open_queues(pg, &err) || pg_claim_queues(pg, false, &err) ||
        pg_reclaim_dead(pg, pg->opt.timeout, &err)) {
        status = cli_fail(cli_exit_status(err.code), "%s", err.msg);
    } else {
        ivshm_mempool_cache_flush(&pg->pool, &pg->cache);
        printf("reclaim: %u buffers returned to %s/%s, %u free\n", pg->st.reclaimed, pg->opt.name,
               pg->opt.pool, ivshm_mempool_free_count(&pg->pool));
        status = CLI_EXIT_OK;
    }
    pg_close(pg);
    return status;
}

#define PG(field) CLI_FIELD(struct pg_options, field)

static const struct cli_option reclaim_options[] = {
    {"--pool", "P", "the mempool to repair (default pkts)", CLI_NAME, PG(pool), 0, 0, NULL,
     "mempool"},
    CLI_OPTION_END,
};

const struct cli_command cli_cmd_reclaim = {
    .name = "reclaim",
    .args = "NAME",
    .min_args = 1,
    .max_args = 1,
    .segment_args = true,
    .summary = "give back the buffers of dead host processes",
    .details = "Gives back to NAME's mempool P (--pool, default pkts) the buffers held by host\n"
               "processes that died while attached (e.g. a pktgen killed with SIGKILL), and\n"
               "frees their party slots. Frames still in flight are first drained from the tx\n"
               "rings, so run it while the forwarder runs (or is stopped) and no other pktgen\n"
               "is attached.\n",
    .opts_size = sizeof(struct pg_options),
    .defaults = pg_defaults,
    .options = reclaim_options,
    .more_options = pg_shared_options,
    .run = reclaim_run,
};
