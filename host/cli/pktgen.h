/* SPDX-License-Identifier: BSD-3-Clause */
/* `ivshm pktgen` and `ivshm reclaim`: traffic through a forwarder, and
 * recovery of buffers held by a dead host process. */
#ifndef IVSHM_HOST_PKTGEN_H
#define IVSHM_HOST_PKTGEN_H

/* argv[0] is the subcommand name. Return the process exit status. */
int ivshm_cmd_pktgen(int argc, char **argv);
int ivshm_cmd_reclaim(int argc, char **argv);

#endif
