/* SPDX-License-Identifier: BSD-3-Clause */
/* Liveness of host parties: pid and process start time. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Whether process pid runs, started at `start` (clock ticks since boot). */
static bool process_alive(uint64_t pid, uint64_t start)
{
    if (pid == 0 || pid > (uint64_t)0x7fffffff)
        return false;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return false;
    uint64_t now_start;
    if (ivshm_process_start_time((pid_t)pid, &now_start, NULL) != IVSHM_OK)
        return false;
    return now_start == start;
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
    return process_alive(pid, start);
}

/* ---- freeing slots nobody uses (host/internal.h) ---- */

uint64_t ivshm_party_holders(const struct ivshm_segment_view *view)
{
    static struct ivshm_mempool_audit audit; /* large; tools are single-threaded here */
    uint64_t holders = 0;
    for (uint32_t i = 0; i < view->object_count; i++) {
        struct ivshm_dir_entry e;
        struct ivshm_mempool mp;
        if (ivshm_object_get(view, i, &e, NULL) != IVSHM_OK || e.type != IVSHM_OBJ_MEMPOOL ||
            ivshm_mempool_attach(&mp, view, &e, -1, NULL) != IVSHM_OK)
            continue;
        ivshm_mempool_audit(&mp, &audit);
        for (uint32_t p = 0; p < IVSHM_MAX_PARTIES; p++)
            holders |= (uint64_t)(audit.by_party[p] != 0) << p;
    }
    return holders;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

bool ivshm_party_dead_host(const struct ivshm_party *p)
{
    return atomic_load_explicit(&p->state, memory_order_acquire) == IVSHM_PARTY_ALIVE &&
           p->kind == IVSHM_PARTY_HOST && !ivshm_party_alive(p);
}

uint64_t ivshm_party_stale_claims(const struct ivshm_segment_view *view, double grace)
{
    uint64_t ticket[IVSHM_MAX_PARTIES], claiming = 0, stale = 0;
    uint32_t n =
        view->party_capacity < IVSHM_MAX_PARTIES ? view->party_capacity : IVSHM_MAX_PARTIES;
    for (uint32_t i = 0; i < n; i++) {
        struct ivshm_party *p = &view->parties[i];
        if (atomic_load_explicit(&p->state, memory_order_acquire) != IVSHM_PARTY_CLAIMING)
            continue;
        claiming |= 1ull << i;
        ticket[i] = *(volatile uint64_t *)&p->attach_count;
    }
    if (!claiming)
        return 0;
    sleep_s(grace);
    for (uint32_t i = 0; i < n; i++) {
        struct ivshm_party *p = &view->parties[i];
        if (!(claiming >> i & 1) ||
            atomic_load_explicit(&p->state, memory_order_acquire) != IVSHM_PARTY_CLAIMING ||
            *(volatile uint64_t *)&p->attach_count != ticket[i])
            continue;
        /* A live process named there may be the claimer, stopped half-way
         * (or the slot's previous owner, before the claimer wrote its pid):
         * not provably stale. */
        if (p->kind == IVSHM_PARTY_HOST && process_alive(p->pid, p->start_time))
            continue;
        stale |= 1ull << i;
    }
    return stale;
}

bool ivshm_party_free_if(const struct ivshm_segment_view *view, uint32_t index, uint32_t state)
{
    if (index >= view->party_capacity)
        return false;
    return atomic_compare_exchange_strong_explicit(&view->parties[index].state, &state,
                                                   IVSHM_PARTY_GONE, memory_order_acq_rel,
                                                   memory_order_relaxed);
}

/* Stale claims are judged over this long: a claim takes microseconds; a
 * claimer that was only descheduled for longer loses its last CAS and tries
 * again (common/party.c). */
#define CLAIM_GRACE_S 0.25

int ivshm_party_claim_self(struct ivshm_segment_view *view, const char *what, const char *label,
                           struct ivshm_error *err)
{
    uint64_t start = 0;
    int rc = ivshm_process_start_time(0, &start, err);
    if (rc)
        return rc;
    int idx = ivshm_party_claim(view, IVSHM_PARTY_HOST, (uint64_t)getpid(), start, label);
    unsigned held_by_dead = 0;
    if (idx == IVSHM_E_PARTIES) {
        /* Full: free what nobody uses (dead processes that hold no buffer,
         * stale claims) and try again. A dead process's buffers must come
         * back first (reclaim): a slot freed with them would lend them to
         * its next owner. */
        uint64_t holders = ivshm_party_holders(view);
        uint64_t stale = ivshm_party_stale_claims(view, CLAIM_GRACE_S);
        for (uint32_t i = 0; i < view->party_capacity && i < IVSHM_MAX_PARTIES; i++) {
            if (stale >> i & 1)
                ivshm_party_free_if(view, i, IVSHM_PARTY_CLAIMING);
            else if (ivshm_party_dead_host(&view->parties[i]) && (holders >> i & 1))
                held_by_dead++;
            else if (ivshm_party_dead_host(&view->parties[i]))
                ivshm_party_free_if(view, i, IVSHM_PARTY_ALIVE);
        }
        idx = ivshm_party_claim(view, IVSHM_PARTY_HOST, (uint64_t)getpid(), start, label);
    }
    if (idx < 0 && held_by_dead)
        return ivshm_fail(err, idx,
                          "%s: all %u party slots are taken, %u of them by dead processes that "
                          "still hold buffers (reclaim them first)",
                          what, view->party_capacity, held_by_dead);
    if (idx < 0)
        return ivshm_fail(err, idx, "%s: all %u party slots are taken", what, view->party_capacity);
    view->party = idx;
    return IVSHM_OK;
}
