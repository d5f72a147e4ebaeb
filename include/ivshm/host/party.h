/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Liveness of the parties recorded in a segment's party table.
 *
 * A host party is identified by its pid and its start time (field 22 of
 * /proc/PID/stat, in clock ticks since boot): a pid alone may be reused by an
 * unrelated process after the original one died.
 */
#ifndef IVSHM_HOST_PARTY_H
#define IVSHM_HOST_PARTY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../layout.h"

/* Start time of process pid (0: this process) in clock ticks since boot, from
 * /proc/PID/stat. Returns 0 on success, -1 (errno set) when it cannot be read. */
int ivshm_process_start_time(pid_t pid, uint64_t *start_time);

/*
 * Whether the party in this slot is still there. ALIVE host parties: the pid
 * exists (kill(pid, 0) succeeds or fails with EPERM) and its start time is the
 * recorded one. ALIVE guest parties: true (a guest proves liveness through its
 * heartbeat, which only the caller can judge over time). FREE and GONE slots:
 * false. The entry is read once into a private copy.
 */
bool ivshm_party_alive(const struct ivshm_party *party);

/* "free", "alive", "gone", "claiming" or "unknown". */
const char *ivshm_party_state_name(uint32_t state);

/* "host", "guest" or "unknown". */
const char *ivshm_party_kind_name(uint32_t kind);

#endif
