/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivshm/host/party.h"

int ivshm_process_start_time(pid_t pid, uint64_t *start_time)
{
    char path[64], buf[1024];
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/stat");
    else
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name (field 2) is in parentheses and may hold spaces or
     * parentheses itself: fields are counted from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    p++;
    /* After ')' come fields 3.. separated by single spaces; field 22 is
     * starttime, the 20th of them. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p) {
            errno = EINVAL;
            return -1;
        }
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (errno || end == p + 1) {
        errno = EINVAL;
        return -1;
    }
    *start_time = v;
    return 0;
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
    if (ivshm_process_start_time((pid_t)pid, &now_start) != 0)
        return false;
    return now_start == start;
}

const char *ivshm_party_state_name(uint32_t state)
{
    switch (state) {
    case IVSHM_PARTY_FREE:
        return "free";
    case IVSHM_PARTY_ALIVE:
        return "alive";
    case IVSHM_PARTY_GONE:
        return "gone";
    case IVSHM_PARTY_CLAIMING:
        return "claiming";
    }
    return "unknown";
}

const char *ivshm_party_kind_name(uint32_t kind)
{
    switch (kind) {
    case IVSHM_PARTY_HOST:
        return "host";
    case IVSHM_PARTY_GUEST:
        return "guest";
    }
    return "unknown";
}
