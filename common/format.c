/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small snprintf for error messages, so the shared code needs no libc and
 * reports the same text on host and guest.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/internal.h"

struct out {
    char *buf;
    size_t size;
    size_t len; /* bytes that would have been written */
};

static void put_char(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

/* A conversion's text goes through a small buffer first, so that width and
 * left-justification apply to every kind the same way. */
struct field {
    char text[48];
    int len;
};

static void field_char(struct field *f, char c)
{
    if (f->len < (int)sizeof(f->text))
        f->text[f->len++] = c;
}

static void field_unsigned(struct field *f, unsigned long long v, unsigned base, int min_digits)
{
    char digits[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    for (int i = n; i < min_digits; i++)
        field_char(f, '0');
    while (n)
        field_char(f, digits[--n]);
}

/*
 * %f: fixed point with `prec` decimals (0..9), rounded to nearest, an exact
 * tie to even (as the C library does). No libm: the value is scaled to an
 * integer. Values of 1e19 and above (never in our
 * messages) keep their magnitude but print their low digits as zeros.
 */
static void field_double(struct field *f, double v, int prec)
{
    if (v != v) {
        for (const char *s = "nan"; *s; s++)
            field_char(f, *s);
        return;
    }
    if (v < 0) {
        field_char(f, '-');
        v = -v;
    }
    if (v > 1.7e308) {
        for (const char *s = "inf"; *s; s++)
            field_char(f, *s);
        return;
    }
    unsigned long long scale = 1;
    for (int i = 0; i < prec; i++)
        scale *= 10;
    int zeros = 0; /* powers of ten divided out of a huge value */
    while (v * (double)scale >= 1e19) {
        v /= 10;
        zeros++;
    }
    double scaled = v * (double)scale;
    unsigned long long total = (unsigned long long)scaled;
    double rest = scaled - (double)total;
    if (rest > 0.5 || (rest == 0.5 && (total & 1)))
        total++;
    field_unsigned(f, total / scale, 10, 1);
    for (int i = 0; i < zeros; i++)
        field_char(f, '0');
    if (prec > 0) {
        field_char(f, '.');
        field_unsigned(f, total % scale, 10, prec);
    }
}

/* Pads to `width` (spaces, or zeros after any sign for numbers with the 0
 * flag), left or right. */
static void put_field(struct out *o, const char *text, int len, int width, bool left, bool zero)
{
    int pad = width > len ? width - len : 0;
    int at = 0;
    if (zero && !left && pad) {
        if (len && (text[0] == '-')) {
            put_char(o, '-');
            at = 1;
        }
        for (; pad; pad--)
            put_char(o, '0');
    }
    if (!left)
        for (; pad; pad--)
            put_char(o, ' ');
    for (; at < len; at++)
        put_char(o, text[at]);
    for (; pad; pad--)
        put_char(o, ' ');
}

/* Bytes of s to print: up to the terminator, and at most `prec` when prec >= 0
 * (then s need not be terminated: "%.40s" on a fixed-size field). */
static int bounded_strlen(const char *s, int prec)
{
    int n = 0;
    while ((prec < 0 || n < prec) && s[n])
        n++;
    return n;
}

static int parse_digits(const char **fmt)
{
    int v = 0;
    while (**fmt >= '0' && **fmt <= '9') {
        if (v < 1000)
            v = v * 10 + (**fmt - '0');
        (*fmt)++;
    }
    return v;
}

/*
 * The subset of printf our messages use: %s %c %d %i %u %x %f %%, the flags
 * '-' and '0', a width, a precision (for %s: at most that many bytes; for %f:
 * decimals, 6 by default, at most 9; '*' takes it from the arguments), and
 * the l, ll, z length modifiers.
 */
static int format_va(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put_char(&o, *fmt);
            continue;
        }
        const char *spec = fmt++;
        bool left = false, zero = false;
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                zero = true;
            else
                break;
        }
        int width = parse_digits(&fmt);
        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                prec = parse_digits(&fmt);
            }
        }
        int longs = 0;
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        if (*fmt == 'z') {
            longs = 2;
            fmt++;
        }
        struct field f = {.len = 0};
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            put_field(&o, s, bounded_strlen(s, prec), width, left, false);
            continue;
        }
        case 'c':
            field_char(&f, (char)va_arg(ap, int));
            zero = false;
            break;
        case 'd':
        case 'i': {
            long long v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            if (v < 0) {
                field_char(&f, '-');
                field_unsigned(&f, (unsigned long long)(-(v + 1)) + 1, 10, 1);
            } else {
                field_unsigned(&f, (unsigned long long)v, 10, 1);
            }
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            field_unsigned(&f, v, *fmt == 'x' ? 16 : 10, 1);
            break;
        }
        case 'f':
            field_double(&f, va_arg(ap, double), prec < 0 ? 6 : prec > 9 ? 9 : prec);
            break;
        case '%':
            put_char(&o, '%');
            continue;
        case '\0':
            fmt--; /* a lone '%' at the end */
            continue;
        default:
            /* Unknown: print the specification as it was written. */
            for (; spec <= fmt; spec++)
                put_char(&o, *spec);
            continue;
        }
        put_field(&o, f.text, f.len, width, left, zero);
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int ivshm_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = format_va(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int ivshm_fail(struct ivshm_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        format_va(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *ivshm_strerror(int status)
{
    switch (status) {
    case IVSHM_OK:
        return "success";
    case IVSHM_E_INVAL:
        return "invalid argument";
    case IVSHM_E_NOSPC:
        return "not enough memory or room";
    case IVSHM_E_EXIST:
        return "already exists";
    case IVSHM_E_NOENT:
        return "not found";
    case IVSHM_E_NOBUFS:
        return "ring full or empty, or mempool exhausted";
    case IVSHM_E_NOTSEG:
        return "not an ivshm segment";
    case IVSHM_E_VERSION:
        return "unsupported ABI version";
    case IVSHM_E_BADSEG:
        return "invalid segment metadata";
    case IVSHM_E_CORRUPT:
        return "inconsistent shared state";
    case IVSHM_E_DOUBLE_FREE:
        return "object is not allocated (double free?)";
    case IVSHM_E_FOREIGN:
        return "handle is not an object of this pool";
    case IVSHM_E_SYSTEM:
        return "system call failed";
    case IVSHM_E_PARTIES:
        return "party table full";
    case IVSHM_E_TOOBIG:
        return "objects do not fit in the segment";
    case IVSHM_E_TIMEOUT:
        return "timed out waiting for a peer";
    }
    return "unknown error";
}
