/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * doorbell: exercises ivshmem-doorbell devices (tests/doorbell, and the
 * measurements of tests/bench/doorbell_bench.py).
 *
 *   mode=probe      every ivshm device with MSI-X: open its doorbell, print
 *                   "doorbell: segment=S id=N vectors=V"; then check that a
 *                   100 ms wait with nobody ringing times out in time
 *   mode=pingpong   count=N host=H [garbage]: N times ring peer H's vector 0
 *                   and sleep until our vector 1 is rung (tests/doorbell/bell
 *                   pong answers); `garbage` first rings peers and vectors
 *                   that do not exist
 *   mode=echo       every entry of SEG/rx0 goes to SEG/tx0, until the entry
 *                   2^64-1; sleeps on the doorbell when rx0 is empty (after
 *                   spin=N empty polls, default 0), at most timeout_us=T
 *                   (default 1000000) a time; `poll` never sleeps
 *
 * segment=SEG picks the device (default: the first doorbell device).
 * Exit code 0 when everything asked for happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define ECHO_STOP UINT64_MAX

static struct guest_doorbell *open_doorbell(void)
{
    struct guest_doorbell *db;
    struct ivshm_error err;
    if (guest_doorbell_open(guest_arg("segment"), &db, &err) != IVSHM_OK)
        guest_panic("%s", err.msg);
    return db;
}

static double us_since(uint64_t tsc)
{
    return (double)(guest_tsc() - tsc) * 1e6 / (double)guest_tsc_hz();
}

static int probe(void)
{
    unsigned found = 0;
    for (size_t i = 0; i < guest_ivshm_count(); i++) {
        const struct guest_ivshm_device *d = guest_ivshm_get(i);
        struct guest_doorbell *db;
        struct ivshm_error err;
        if (d->state != GUEST_IVSHM_VALID)
            continue;
        if (guest_doorbell_open(d->view.name, &db, &err) != IVSHM_OK) {
            printf("doorbell: segment=%s: %s\n", d->view.name, err.msg);
            continue;
        }
        printf("doorbell: segment=%s id=%u vectors=%u\n", d->view.name, guest_doorbell_id(db),
               guest_doorbell_vectors(db));
        found++;
    }
    uint64_t t0 = guest_tsc();
    int rc = guest_irq_wait(100000);
    double waited = us_since(t0);
    printf("doorbell: probe devices=%u timeout=%s waited=%.0f us\n", found,
           rc == IVSHM_E_TIMEOUT ? "yes" : "no", waited);
    return found && rc == IVSHM_E_TIMEOUT && waited >= 95000 && waited < 5e6 ? 0 : 1;
}

static int pingpong(void)
{
    struct guest_doorbell *db = open_doorbell();
    uint16_t host = (uint16_t)guest_arg_u64("host", 0);
    uint64_t count = guest_arg_u64("count", 10);
    printf("doorbell: pingpong id=%u host=%u count=%llu\n", guest_doorbell_id(db), host,
           (unsigned long long)count);
    if (guest_arg("garbage")) {
        /* Peers that do not exist, vectors the peer does not have: QEMU
         * drops these rings; nothing may break. */
        guest_doorbell_ring(db, 9999, 0);
        guest_doorbell_ring(db, host, 999);
        guest_doorbell_ring(db, 0xFFFF, 0xFFFF);
        guest_doorbell_ring(db, guest_doorbell_id(db), 63);
        printf("doorbell: rang garbage\n");
    }
    guest_doorbell_take(db);
    uint64_t worst = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t t0 = guest_tsc();
        guest_doorbell_ring(db, host, 0);
        /* The answer may come before we sleep: it then waits in the local
         * APIC and ends the wait at once. */
        while (!(guest_doorbell_take(db) & 2))
            if (guest_irq_wait(5000000) != IVSHM_OK) {
                printf("doorbell: pingpong: no answer to ping %llu within 5 s\n",
                       (unsigned long long)i);
                return 1;
            }
        uint64_t t = guest_tsc() - t0;
        worst = t > worst ? t : worst;
    }
    struct guest_irq_stats st;
    guest_irq_stats(&st);
    printf("doorbell: pingpong done count=%llu worst=%.0f us irqs=%llu stray=%llu\n",
           (unsigned long long)count, (double)worst * 1e6 / (double)guest_tsc_hz(),
           (unsigned long long)st.device, (unsigned long long)st.stray);
    return 0;
}

static void lookup_ring(const char *segment, const char *name, struct ivshm_ring *ring)
{
    char path[2 * IVSHM_NAME_SIZE + 2];
    struct ivshm_error err;
    snprintf(path, sizeof(path), "%s/%s", segment, name);
    if (guest_ring_lookup(path, ring, &err) != IVSHM_OK)
        guest_panic("%s", err.msg);
}

static int echo(void)
{
    struct guest_doorbell *db = open_doorbell();
    const char *segment = guest_doorbell_device(db)->view.name;
    struct ivshm_ring rx, tx;
    lookup_ring(segment, "rx0", &rx);
    lookup_ring(segment, "tx0", &tx);
    bool poll = guest_arg("poll") != NULL;
    uint64_t spin = guest_arg_u64("spin", 0), timeout_us = guest_arg_u64("timeout_us", 1000000);
    uint64_t entries = 0, sleeps = 0, wakeups = 0, timeouts = 0, doorbells = 0, idle = 0;
    uint16_t id = guest_doorbell_id(db);
    printf("doorbell: echo id=%u segment=%s %s\n", id, segment, poll ? "poll" : "sleep");
    for (;;) {
        uint64_t burst[32];
        uint32_t n = ivshm_ring_dequeue_burst(&rx, burst, 32, NULL);
        if (n) {
            idle = 0;
            for (uint32_t k = 0; k < n; k++) {
                if (burst[k] == ECHO_STOP) {
                    printf("doorbell: echo done entries=%llu sleeps=%llu wakeups=%llu "
                           "timeouts=%llu doorbells=%llu\n",
                           (unsigned long long)entries, (unsigned long long)sleeps,
                           (unsigned long long)wakeups, (unsigned long long)timeouts,
                           (unsigned long long)doorbells);
                    return 0;
                }
                while (ivshm_ring_enqueue(&tx, burst[k]) != IVSHM_OK)
                    ;
                entries++;
            }
            uint32_t w = ivshm_ring_wake_needed(&tx, IVSHM_WAKE_CONSUMER);
            if (w) {
                guest_doorbell_ring(db, ivshm_wake_peer(w), ivshm_wake_vector(w));
                doorbells++;
            }
            continue;
        }
        if (poll || ++idle <= spin) {
            if ((idle & 0xFFFF) == 0)
                guest_ivshm_heartbeat();
            continue;
        }
        if (ivshm_ring_arm_wake(&rx, IVSHM_WAKE_CONSUMER, id, 0, 1)) {
            sleeps++;
            if (guest_irq_wait(timeout_us) == IVSHM_OK)
                wakeups++;
            else
                timeouts++;
            guest_doorbell_take(db);
        }
        ivshm_ring_disarm_wake(&rx, IVSHM_WAKE_CONSUMER);
        guest_ivshm_heartbeat();
    }
}

int main(void)
{
    const char *mode = guest_arg("mode");
    if (!mode || strcmp(mode, "probe") == 0)
        return probe();
    if (strcmp(mode, "pingpong") == 0)
        return pingpong();
    if (strcmp(mode, "echo") == 0)
        return echo();
    printf("doorbell: unknown mode '%s'\n", mode);
    return 1;
}
