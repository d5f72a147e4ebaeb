/* SPDX-License-Identifier: BSD-3-Clause */
/* key=value command-line parsing. Freestanding: host unit tests use it too. */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX_WORDS 64
#define CMDLINE_MAX_CHARS 1024

struct cmdline {
    char storage[2 * CMDLINE_MAX_CHARS]; /* words, then the keys split off */
    size_t count;                        /* words kept */
    size_t dropped;                      /* words beyond CMDLINE_MAX_WORDS */
    const char *word[CMDLINE_MAX_WORDS]; /* each word as written, unquoted */
    const char *key[CMDLINE_MAX_WORDS];
    const char *value[CMDLINE_MAX_WORDS]; /* "" for a bare word */
};

/* Splits text on blanks; a double-quoted part may hold blanks
 * (name="a b"). Only the first CMDLINE_MAX_CHARS - 1 characters are read. */
void cmdline_parse(struct cmdline *cl, const char *text);

/* Value of the last word with this key, NULL when absent. */
const char *cmdline_get(const struct cmdline *cl, const char *key);

/* Parses decimal, 0x-hex, with an optional k/K, M or G suffix (powers of
 * 1024). False on an empty, malformed or overflowing string. */
bool cmdline_parse_u64(const char *text, uint64_t *out);

#endif
