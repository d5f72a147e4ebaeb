/* SPDX-License-Identifier: BSD-3-Clause */
/* Numbers and sizes on the command line (cli.h). */
#include <ctype.h>
#include <stdlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/internal.h"
#include "host/cli/cli.h"

static int parse_digits(const char *text, const char **end, uint64_t *out)
{
    const char *p = text;
    unsigned base = 10;
    uint64_t v = 0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
        base = 16;
        p += 2;
    }
    if (!isxdigit((unsigned char)*p) || (base == 10 && !isdigit((unsigned char)*p)))
        return -1;
    for (;; p++) {
        unsigned d;
        if (isdigit((unsigned char)*p))
            d = (unsigned)(*p - '0');
        else if (base == 16 && isxdigit((unsigned char)*p))
            d = (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return -2;
        v = v * base + d;
    }
    *end = p;
    *out = v;
    return 0;
}

int cli_parse_size(const char *text, const char *what, uint64_t *out, struct ivshm_error *err)
{
    const char *end;
    uint64_t v;
    int rc = parse_digits(text, &end, &v);
    if (rc == -2)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': too large", what, text);
    if (rc)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "%s '%s': not a size (digits with an optional K, M, G or T suffix)", what,
                          text);
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        shift = 10;
        break;
    case 'M':
        shift = 20;
        break;
    case 'G':
        shift = 30;
        break;
    case 'T':
        shift = 40;
        break;
    }
    if (shift) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || strcmp(end, "b") == 0)
            end += strlen(end);
    } else if (strcmp(end, "B") == 0 || strcmp(end, "b") == 0) {
        end++;
    }
    if (*end)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "%s '%s': not a size (digits with an optional K, M, G or T suffix)", what,
                          text);
    if (shift && v > (UINT64_MAX >> shift))
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': too large", what, text);
    *out = v << shift;
    return IVSHM_OK;
}

int cli_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max, uint64_t *out,
                  struct ivshm_error *err)
{
    const char *end;
    uint64_t v;
    int rc = parse_digits(text, &end, &v);
    if (rc == 0 && *end)
        rc = -1;
    if (rc == -1)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': not a number", what, text);
    if (rc == -2 || v < min || v > max)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': out of range %llu..%llu", what, text,
                          (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return IVSHM_OK;
}

int cli_parse_number(enum cli_kind kind, const char *text, const char *what, uint64_t min,
                     uint64_t max, uint64_t *out, struct ivshm_error *err)
{
    if (kind != CLI_SIZE)
        return cli_parse_u64(text, what, min, max, out, err);
    int rc = cli_parse_size(text, what, out, err);
    if (rc == IVSHM_OK && *out < min)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': must be at least %llu", what, text,
                          (unsigned long long)min);
    if (rc == IVSHM_OK && *out > max)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': above %llu", what, text,
                          (unsigned long long)max);
    return rc;
}

int cli_parse_seconds(const char *text, const char *what, double max, double *out,
                      struct ivshm_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || v > max)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s '%s': not a number of seconds in (0, %u]", what,
                          text, (unsigned)max);
    *out = v;
    return IVSHM_OK;
}

void cli_format_size(uint64_t bytes, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u < 4 && bytes && (bytes & 1023) == 0) {
        bytes >>= 10;
        u++;
    }
    snprintf(out, size, "%llu %s", (unsigned long long)bytes, units[u]);
}
