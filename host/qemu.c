/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/internal.h"
#include "ivshm/doorbell.h"
#include "ivshm/qemu.h"

struct buf {
    char *p;
    size_t size, len;
    bool overflow;
};

static void emit(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->size ? b->size - b->len : 0;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        b->overflow = true;
    else
        b->len += (size_t)n;
}

/* QEMU option values escape a comma by doubling it. */
static void emit_qemu_value(struct buf *b, const char *s)
{
    for (; *s; s++)
        emit(b, *s == ',' ? ",," : "%c", *s);
}

/* The arguments go through the shell's word splitting unquoted. */
static int check_shell_safe(const char *path, struct ivshm_error *err)
{
    if (strpbrk(path, " \t\n'\"\\$`*?[]{}()<>|&;#~"))
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "path '%s': contains white space or a shell character, so "
                          "$(ivshm qemu-args) cannot pass it",
                          path);
    return IVSHM_OK;
}

int ivshm_qemu_args(const struct ivshm_qemu_segment *segs, unsigned count,
                    const struct ivshm_qemu_opts *opts, char *out, size_t size,
                    struct ivshm_error *err)
{
    struct ivshm_qemu_opts def = {IVSHM_QEMU_Q35, IVSHM_QEMU_FIRST_SLOT, false, 0};
    if (!opts)
        opts = &def;
    unsigned first = opts->first_slot ? opts->first_slot : IVSHM_QEMU_FIRST_SLOT;
    if (size == 0)
        return ivshm_fail(err, IVSHM_E_NOSPC, "qemu arguments: no room");
    out[0] = 0;
    if (opts->machine == IVSHM_QEMU_Q35 && count && first + (count - 1) / 8 > 0x1e)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "qemu arguments: %u segments from slot 0x%x run past slot 0x1e", count,
                          first);
    unsigned vectors = opts->vectors ? opts->vectors : IVSHM_DOORBELL_VECTORS;
    if (opts->doorbell && vectors > IVSHM_DOORBELL_MAX_VECTORS)
        return ivshm_fail(err, IVSHM_E_INVAL, "qemu arguments: %u doorbell vectors, at most %u",
                          vectors, IVSHM_DOORBELL_MAX_VECTORS);
    struct buf b = {out, size, 0, false};
    for (unsigned i = 0; i < count; i++) {
        const struct ivshm_qemu_segment *s = &segs[i];
        int rc = check_shell_safe(s->path, err);
        if (rc == IVSHM_OK && opts->doorbell)
            rc = s->socket
                     ? check_shell_safe(s->socket, err)
                     : ivshm_fail(err, IVSHM_E_INVAL, "segment %s: no doorbell socket", s->name);
        if (rc)
            return rc;
        if (i)
            emit(&b, "\n");
        if (opts->machine == IVSHM_QEMU_Q35) {
            unsigned slot = first + i / 8, fn = i % 8;
            /* chassis must be unique per root port; slot*8+fn is. */
            emit(&b,
                 "-device pcie-root-port,id=ivshm-port-%s,bus=pcie.0,addr=0x%x.0x%x%s,"
                 "chassis=%u ",
                 s->name, slot, fn, fn == 0 ? ",multifunction=on" : "", slot * 8 + fn);
        }
        if (opts->doorbell) {
            /* The memory comes from the server: the segment file itself, whose
             * pages were bound to their node when it was created. */
            emit(&b, "-chardev socket,id=ivshm-sock-%s,path=", s->name);
            emit_qemu_value(&b, s->socket);
            emit(&b, " -device ivshmem-doorbell,id=ivshm-%s,chardev=ivshm-sock-%s,vectors=%u",
                 s->name, s->name, vectors);
        } else {
            emit(&b, "-object memory-backend-file,id=ivshm-mem-%s,mem-path=", s->name);
            emit_qemu_value(&b, s->path);
            emit(&b, ",size=%llu,share=on", (unsigned long long)s->size);
            if (s->numa_node >= 0)
                emit(&b, ",host-nodes=%d,policy=bind", s->numa_node);
            emit(&b, " -device ivshmem-plain,id=ivshm-%s,memdev=ivshm-mem-%s", s->name, s->name);
        }
        if (opts->machine == IVSHM_QEMU_Q35)
            emit(&b, ",bus=ivshm-port-%s", s->name);
    }
    if (b.overflow)
        return ivshm_fail(err, IVSHM_E_NOSPC, "qemu arguments: more than %zu bytes", size);
    return IVSHM_OK;
}
