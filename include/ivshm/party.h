/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The party table: who is attached to a segment (docs/abi.md 1.3).
 *
 * A party's slot index is its identity in mempool state bytes. Host
 * processes are identified by pid and start time (field 22 of
 * /proc/PID/stat, clock ticks since boot): a pid alone may be reused by an
 * unrelated process after the original one died. A guest cannot be checked
 * from the host: its heartbeat moves only if its application bumps it, and
 * protocols carry their own liveness (the forwarder's ctrl heartbeat, fwd.h).
 *
 * Return convention: status.h.
 */
#ifndef IVSHM_PARTY_H
#define IVSHM_PARTY_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

/*
 * Copies party entry `index` (0..view->party_capacity-1) into *out with one
 * read of each field, so what the caller checks is what it uses. The label
 * comes back terminated, each byte outside printable ASCII replaced by '?'.
 * Errors: IVSHM_E_INVAL (index out of range).
 */
int ivshm_party_get(const struct ivshm_segment_view *view, uint32_t index, struct ivshm_party *out,
                    struct ivshm_error *err);

/* "free", "alive", "gone", "claiming" or "unknown". */
const char *ivshm_party_state_name(uint32_t state);

/* "host", "guest" or "unknown". */
const char *ivshm_party_kind_name(uint32_t kind);

#if __STDC_HOSTED__
/*
 * Whether the party in this entry (a copy, or the entry in the segment) is
 * still there. ALIVE host parties: the pid exists (kill(pid, 0) succeeds or
 * fails with EPERM) and its start time is the recorded one. ALIVE guest
 * parties: true (the host cannot tell; a caller that knows the guest's
 * protocol judges its heartbeat over time). Any other state: false.
 */
bool ivshm_party_alive(const struct ivshm_party *party);
#endif

#endif
