/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a SIGBUS means for a process that maps segments (issue 13 F8).
 *
 * A segment file shrunk under a mapping (truncate, a peer's ftruncate) turns
 * every access past its new end into SIGBUS, which by default ends the
 * process with no word. The library records each mapping it makes (attach,
 * create); a program that calls ivshm_sigbus_catch() then ends with one
 * line naming the segment, "PROGRAM: segment file NAME was truncated under
 * us (4096 of 16777216 bytes left)", and exit status 1.
 *
 * The handler runs on a faulting access, anywhere: it only reads the table
 * below (a slot is published with a release store of its state), calls
 * fstat, write and _exit (async-signal-safe) and ivshm_format (pure).
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/internal.h"

/* More than any of our programs maps at once (pktgen: 3 segments). A
 * mapping that finds no free slot is simply not named on SIGBUS. */
#define MAPPINGS_MAX 64

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY };

static struct mapping {
    _Atomic int state;
    uintptr_t base;
    uint64_t size;
    int fd;
    char name[IVSHM_NAME_SIZE];
} mappings[MAPPINGS_MAX];

static char program[32] = "ivshm";
static struct sigaction previous;

/* The segment name of a path: what follows IVSHM_FILE_PREFIX in its last
 * component (or the whole component), cut to 31 bytes, anything outside
 * [A-Za-z0-9_-.] as '?': it is printed from the handler as it is. */
static void name_of(const char *path, char out[IVSHM_NAME_SIZE])
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *prefix = IVSHM_FILE_PREFIX;
    const size_t plen = strlen(prefix);
    if (strncmp(base, prefix, plen) == 0)
        base += plen;
    size_t n = 0;
    for (; base[n] && n < IVSHM_NAME_MAX; n++) {
        char c = base[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        out[n] = ok ? c : '?';
    }
    out[n] = '\0';
}

void ivshm_mapping_add(void *base, uint64_t size, int fd, const char *path)
{
    for (unsigned i = 0; i < MAPPINGS_MAX; i++) {
        struct mapping *m = &mappings[i];
        int expected = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&m->state, &expected, SLOT_BUSY))
            continue;
        m->base = (uintptr_t)base;
        m->size = size;
        m->fd = fd;
        name_of(path, m->name);
        atomic_store_explicit(&m->state, SLOT_READY, memory_order_release);
        return;
    }
}

void ivshm_mapping_remove(const void *base)
{
    for (unsigned i = 0; i < MAPPINGS_MAX; i++) {
        struct mapping *m = &mappings[i];
        int expected = SLOT_READY;
        if (m->base != (uintptr_t)base ||
            !atomic_compare_exchange_strong(&m->state, &expected, SLOT_BUSY))
            continue;
        m->base = 0;
        atomic_store_explicit(&m->state, SLOT_FREE, memory_order_release);
        return;
    }
}

static const struct mapping *mapping_at(uintptr_t addr)
{
    for (unsigned i = 0; i < MAPPINGS_MAX; i++) {
        const struct mapping *m = &mappings[i];
        if (atomic_load_explicit(&m->state, memory_order_acquire) == SLOT_READY &&
            addr - m->base < m->size)
            return m;
    }
    return NULL;
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    const struct mapping *m = info->si_code > 0 ? mapping_at((uintptr_t)info->si_addr) : NULL;
    if (!m) {
        /* Not a fault in a segment: whoever handled SIGBUS before us does.
         * Returning re-runs the faulting access; a sent signal is re-sent. */
        sigaction(sig, &previous, NULL);
        if (info->si_code <= 0)
            raise(sig);
        return;
    }
    char line[256];
    struct stat st;
    uint64_t offset = (uintptr_t)info->si_addr - m->base;
    int n;
    if (fstat(m->fd, &st) == 0 && (uint64_t)st.st_size <= offset)
        n = ivshm_format(line, sizeof(line),
                         "%s: segment file %s was truncated under us (%llu of %llu bytes left)\n",
                         program, m->name, (unsigned long long)st.st_size,
                         (unsigned long long)m->size);
    else /* hugepages gone, a memory error: the file is as long as it was */
        n = ivshm_format(line, sizeof(line),
                         "%s: segment file %s: memory access at offset 0x%llx failed (SIGBUS)\n",
                         program, m->name, (unsigned long long)offset);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
    _exit(1);
}

int ivshm_sigbus_catch(const char *program_name)
{
    size_t n = 0;
    for (; program_name && program_name[n] && n < sizeof(program) - 1; n++)
        program[n] = program_name[n];
    program[n] = '\0';
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) != 0)
        return IVSHM_E_SYSTEM;
    if (previous.sa_sigaction == on_sigbus && (previous.sa_flags & SA_SIGINFO))
        previous = (struct sigaction){.sa_handler = SIG_DFL}; /* installed twice */
    return IVSHM_OK;
}
