/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal to libivshm (not installed, not exported from the shared
 * library): what the host library's files, the CLI and the tests share
 * beyond the public API.
 */
#ifndef IVSHM_HOST_INTERNAL_H
#define IVSHM_HOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/internal.h"
#include "ivshm/segment.h"

/* Start time of process pid (0: this process) in clock ticks since boot,
 * field 22 of /proc/PID/stat. Errors: IVSHM_E_SYSTEM (no such process, or
 * /proc unreadable; errno says why), IVSHM_E_CORRUPT (a line that does not
 * parse). */
int ivshm_process_start_time(pid_t pid, uint64_t *start_time, struct ivshm_error *err);

/* ivshm_dir_resolve, reading the mount table from `mounts` instead of
 * /proc/mounts: the test hook. */
int ivshm_dir_resolve_from(const char *dir, const char *mounts, char *out, size_t size,
                           bool *fallback, struct ivshm_error *err);

#endif
