/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Repairing a damaged segment in place, so that the VMs that map it keep
 * running (`ivshm repair`, docs/cli.md; the rules: docs/abi.md 6). Internal
 * to libivshm, as host/fwd_host.h (the CLI links libivshm.a).
 *
 * Return convention: status.h.
 */
#ifndef IVSHM_HOST_REPAIR_H
#define IVSHM_HOST_REPAIR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ivshm/status.h"

/* The party label a repair attaches with. */
#define IVSHM_REPAIR_LABEL "repair"

/* What a repair did. */
struct ivshm_repair_report {
    bool forwarder;         /* the segment has a fwd control block ("ctrl") */
    bool paused;            /* a live forwarder was paused, and resumed */
    uint32_t rings;         /* rings emptied and re-initialised */
    uint32_t rings_damaged; /* of those, how many had implausible indices */
    uint32_t entries;       /* entries the rings held (their buffers came back) */
    uint32_t pools;         /* mempools rebuilt */
    uint32_t objects;       /* objects in them */
    uint32_t taken_back;    /* objects that were not free before, and are now */
    uint32_t parties;       /* party slots freed: dead, stale claims, garbage */
    uint32_t sources;       /* traffic-source claims of no live party cleared in ctrl */
};

/*
 * Repairs segment NAME of DIR (NULL: the default directory), in this order:
 *
 * 1. attaches it: header and directory must validate (a checksum that
 *    fails is not repaired: the VMs copied their geometry from there, see
 *    docs/abi.md 6); claims a party slot if one is free (else works
 *    without one);
 * 2. refuses while a live host process other than a forwarder (party label
 *    IVSHM_FWD_HOST_FORWARDER_LABEL) is attached: it may be using the pools;
 * 3. pauses the forwarder of the segment's "ctrl", if one polls
 *    (ivshm_fwd_host_pause, waiting up to `timeout` seconds; one that polls
 *    but does not answer: nothing is changed);
 * 4. empties and re-initialises every ring, rebuilds every mempool from
 *    scratch (every object free: no live party holds one, since the only
 *    live parties left hold nothing by protocol), frees the party slots of
 *    dead host processes, stale claims and garbage, and clears ctrl's
 *    source claims that name no live party;
 * 5. resumes the forwarder (READY).
 *
 * `stop` (may be NULL) cuts the waits short. *rep (zeroed first) says what
 * was done. Errors: those of ivshm_segment_attach (IVSHM_E_BADSEG,
 * IVSHM_E_NOTSEG and IVSHM_E_VERSION say "NAME: cannot repair: ..."),
 * IVSHM_E_EXIST (a live host process is attached: "NAME: process PID
 * (LABEL, party P) is attached ...; stop it first"), those of
 * ivshm_fwd_host_pause (IVSHM_E_TIMEOUT, IVSHM_E_CORRUPT).
 */
int ivshm_repair(const char *dir, const char *name, double timeout, const _Atomic bool *stop,
                 struct ivshm_repair_report *rep, struct ivshm_error *err);

#endif
