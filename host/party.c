/* SPDX-License-Identifier: BSD-3-Clause */
/* Liveness of host parties: pid and process start time. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"
#include "ivshm/party.h"

int ivshm_process_start_time(pid_t pid, uint64_t *start_time, struct ivshm_error *err)
{
    char path[64], buf[1024];
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/stat");
    else
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name (field 2) is in parentheses and may hold spaces or
     * parentheses itself: fields are counted from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: no command name", path);
    p++;
    /* After ')' come fields 3.. separated by single spaces; field 22 is
     * starttime, the 20th of them. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: only %d fields", path, field);
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (errno || end == p + 1)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: field 22 is not a number", path);
    *start_time = v;
    return IVSHM_OK;
}

bool ivshm_party_alive(const struct ivshm_party *party)
{
    uint32_t state = atomic_load_explicit(&party->state, memory_order_acquire);
    if (state != IVSHM_PARTY_ALIVE)
        return false;
    uint32_t kind = party->kind;
    uint64_t pid = party->pid, start = party->start_time;
    if (kind != IVSHM_PARTY_HOST)
        return true;
    if (pid == 0 || pid > (uint64_t)0x7fffffff)
        return false;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return false;
    uint64_t now_start;
    if (ivshm_process_start_time((pid_t)pid, &now_start, NULL) != IVSHM_OK)
        return false;
    return now_start == start;
}
