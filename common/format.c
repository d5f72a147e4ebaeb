/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small snprintf for error messages, so the shared code needs no libc and
 * reports the same text on host and guest.
 */
#include <stdarg.h>
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

static void put_str(struct out *o, const char *s)
{
    if (!s)
        s = "(null)";
    while (*s)
        put_char(o, *s++);
}

static void put_unsigned(struct out *o, unsigned long long v, unsigned base)
{
    char digits[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n)
        put_char(o, digits[--n]);
}

static int format_va(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put_char(&o, *fmt);
            continue;
        }
        fmt++;
        int longs = 0;
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        if (*fmt == 'z') {
            longs = 2;
            fmt++;
        }
        switch (*fmt) {
        case 's':
            put_str(&o, va_arg(ap, const char *));
            break;
        case 'c':
            put_char(&o, (char)va_arg(ap, int));
            break;
        case 'd': {
            long long v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            if (v < 0) {
                put_char(&o, '-');
                put_unsigned(&o, (unsigned long long)(-(v + 1)) + 1, 10);
            } else {
                put_unsigned(&o, (unsigned long long)v, 10);
            }
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            put_unsigned(&o, v, *fmt == 'x' ? 16 : 10);
            break;
        }
        case '%':
            put_char(&o, '%');
            break;
        case '\0':
            fmt--; /* a lone '%' at the end */
            break;
        default:
            put_char(&o, '%');
            put_char(&o, *fmt);
        }
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
