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

/* ---- creation's temporary files (host/create.c, host/segment_file.c) ---- */

/* Where a file system has no O_TMPFILE, create writes DIR/.ivshm-NAME.tmp-PID
 * first. */
#define IVSHM_TMP_INFIX ".tmp-"

/* Whether DIR/<file> is such a temporary file left by a creator that is
 * gone (no process PID, or one started after the file was last written).
 * Sets *name (NAME, at most 31 bytes; may be NULL) and *pid. */
bool ivshm_leftover(const char *dir, const char *file, char name[IVSHM_NAME_SIZE], long *pid);

/* "SIGTERM" etc. for the termination signals create holds; "a signal" for
 * others. */
const char *ivshm_signal_name(int sig);

/* ---- SIGBUS from a truncated segment file (host/sigbus.c) ---- */

/* Records a mapping of the segment file at `path` (fd open on it), for the
 * SIGBUS handler; attach and create call it. Does nothing when the table is
 * full. ivshm_mapping_remove forgets it again (before munmap). */
void ivshm_mapping_add(void *base, uint64_t size, int fd, const char *path);
void ivshm_mapping_remove(const void *base);

/* Installs a SIGBUS handler: a fault in a recorded mapping ends the process
 * with one line on stderr, "PROGRAM: segment file NAME was truncated under
 * us (N of M bytes left)" (or, if the file kept its size, "...: memory
 * access at offset 0x... failed (SIGBUS)"), and exit status 1. Any other
 * SIGBUS goes to the handler installed before. Every host tool calls it
 * (cli_main does). Returns IVSHM_OK or IVSHM_E_SYSTEM. */
int ivshm_sigbus_catch(const char *program);

#endif
