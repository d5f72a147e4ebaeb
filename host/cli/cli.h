/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command-line framework of ivshm and ivshm-fwd (not part of libivshm).
 */
#ifndef IVSHM_CLI_H
#define IVSHM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "ivshm/status.h"

/* ivshm_fail with the C library's formatting (%f, precisions): sets err (if
 * not NULL) and returns code. */
int cli_error(struct ivshm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- numbers (units.c) ---- */

/*
 * Parses a byte count: decimal or 0x-hex digits, optionally followed by one of
 * K, M, G, T (binary multiples; lower case and a trailing "iB" or "B" are
 * accepted: 16M, 16m, 16MiB, 2G). Returns IVSHM_OK, or IVSHM_E_INVAL with err
 * naming `what` and the text, for empty, negative, junk or overflowing input.
 */
int cli_parse_size(const char *text, const char *what, uint64_t *out, struct ivshm_error *err);

/* Parses an unsigned decimal (or 0x-hex) integer in [min, max], no suffix. */
int cli_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max, uint64_t *out,
                  struct ivshm_error *err);

/* Writes a size in the largest exact binary unit ("16 MiB", "4097 B"). */
void cli_format_size(uint64_t bytes, char *out, size_t size);

#endif
