/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fwd: the bare-metal l2fwd-style forwarder.
 *
 * Command line (key=value words):
 *   rx=SEG/RING tx=SEG/RING   a queue pair; repeat for more (paired in order).
 *                             Default: every rxN/txN pair of the first segment.
 *   pool=SEG/NAME             the mempool the buffers come from
 *                             (default: SEG/pkts, SEG of the first rx ring)
 *   ctrl=SEG/NAME             the control block (default: SEG/ctrl, same SEG)
 *   burst=N                   entries per ring operation, 1..64 (default 32)
 *   mode=poll|adaptive        adaptive: sleep on the doorbell when idle
 *                             (default: adaptive when ctrl's and every rx
 *                             ring's segment is an ivshmem-doorbell device,
 *                             i.e. booted with `ivshm qemu-args --doorbell`)
 *   idle_us=N                 adaptive: idle spell before sleeping (50)
 *   sleep_us=N                adaptive: longest sleep (100000), after which
 *                             it polls again (a lost doorbell costs that much)
 *   mac=keep                  a wire: frames leave exactly as they came
 *                             (default mac=rewrite: l2fwd's Ethernet rewrite)
 *
 * Cross-connect two host ports (frames from rx0 leave on tx1 and back):
 *   rx=vm1/rx0 tx=vm1/tx1 rx=vm1/rx1 tx=vm1/tx0 mac=keep
 *
 * The fwd module (common/fwd.c, as ivshm-fwd on the host) finds the objects
 * and runs the loop: READY, forward until the host sets EXIT, then DONE with
 * final counters, and exit code 0. The buffers stay in their pool: the
 * forwarder never allocates or frees.
 */
#include <stdio.h>
#include <string.h>

#include <ivshm/fwd.h>

#include "guest.h"

static struct ivshm_fwd fwd;

/* The device holding segment `name`; NULL: the first valid one. */
static int resolve_segment(void *ctx, const char *name, const struct ivshm_segment_view **view,
                           struct ivshm_error *err)
{
    (void)ctx;
    for (size_t i = 0; i < guest_ivshm_count(); i++) {
        const struct guest_ivshm_device *d = guest_ivshm_get(i);
        if (d->state == GUEST_IVSHM_VALID &&
            (!name || strncmp(d->view.name, name, IVSHM_NAME_SIZE) == 0)) {
            *view = &d->view;
            return IVSHM_OK;
        }
    }
    if (err) {
        err->code = IVSHM_E_NOENT;
        snprintf(err->msg, sizeof(err->msg), "%s%s: no valid segment attached",
                 name ? "segment " : "", name ? name : "fwd");
    }
    return IVSHM_E_NOENT;
}

/* Doorbells: the ivshmem-doorbell device holding the segment of `view`. */
static bool doorbell_lookup(void *ctx, const struct ivshm_segment_view *view, uint16_t *id,
                            void **bell)
{
    (void)ctx;
    struct guest_doorbell *db;
    if (guest_doorbell_open(view->name, &db, NULL) != IVSHM_OK)
        return false;
    *id = guest_doorbell_id(db);
    *bell = db;
    return true;
}

static void doorbell_ring(void *bell, uint16_t peer, uint16_t vector)
{
    guest_doorbell_ring(bell, peer, vector); /* QEMU drops unknown peers and vectors */
}

/* Any doorbell interrupt of any device ends the wait. */
static void doorbell_wait(void *ctx, uint64_t timeout_ns)
{
    (void)ctx;
    guest_irq_wait(timeout_ns / 1000);
}

static uint64_t now_ns(void)
{
    uint64_t tsc = guest_tsc(), hz = guest_tsc_hz();
    return tsc / hz * 1000000000ull + tsc % hz * 1000000000ull / hz;
}

int main(int argc, char **argv)
{
    struct ivshm_fwd_config cfg = {
        .pool = guest_arg("pool"),
        .ctrl = guest_arg("ctrl"),
        .burst = (uint32_t)guest_arg_u64("burst", IVSHM_FWD_BURST_DEFAULT),
        .mac = {0x02, 0x00, 0x00, 0x00, 0x10, 0x00},
        .now_ns = now_ns,
    };
    /* rx=... tx=... words, paired in order */
    uint32_t nrx = 0, ntx = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "rx=", 3) == 0 && nrx < IVSHM_FWD_MAX_QUEUES)
            cfg.rx[nrx++] = argv[i] + 3;
        else if (strncmp(argv[i], "tx=", 3) == 0 && ntx < IVSHM_FWD_MAX_QUEUES)
            cfg.tx[ntx++] = argv[i] + 3;
    }
    cfg.queues = nrx > ntx ? nrx : ntx;
    cfg.idle_ns = guest_arg_u64("idle_us", IVSHM_FWD_IDLE_NS / 1000) * 1000;
    cfg.sleep_ns = guest_arg_u64("sleep_us", IVSHM_FWD_SLEEP_NS / 1000) * 1000;
    static const struct ivshm_fwd_doorbells doorbells = {doorbell_lookup, doorbell_ring,
                                                         doorbell_wait, NULL};
    cfg.doorbells = &doorbells;

    /* A bad mac= word is reported once ctrl is found, as FAIL, like any
     * other word the module refuses. */
    struct ivshm_error err, mac_err;
    const char *mac_word = guest_arg("mac");
    int mac_rc = mac_word ? ivshm_fwd_mac_mode_parse(mac_word, &cfg.mac_mode, &mac_err) : IVSHM_OK;
    const char *mode = guest_arg("mode");
    if (mode && (ivshm_fwd_mode_parse(mode, &cfg.mode, &err) != IVSHM_OK ||
                 cfg.mode == IVSHM_FWD_MODE_AUTO)) {
        printf("fwd: mode '%s': not poll or adaptive\n", mode);
        return GUEST_EXIT_FAILURE;
    }
    struct ivshm_fwd_resolver resolver = {resolve_segment, NULL};
    int rc = ivshm_fwd_open(&fwd, &cfg, &resolver, &err);
    if (rc == IVSHM_OK && mac_rc != IVSHM_OK) {
        rc = mac_rc;
        err = mac_err;
    }
    if (rc != IVSHM_OK) {
        printf("fwd: %s\n", err.msg);
        ivshm_fwd_fail(&fwd, err.msg);
        return GUEST_EXIT_FAILURE;
    }
    for (unsigned q = 0; q < fwd.queues; q++)
        printf("fwd: queue %u: rx=%s tx=%s pool=%s\n", q, fwd.rx_path[q], fwd.tx_path[q],
               fwd.pool_path);
    printf("fwd: ready, %u queue pair%s, burst %u, mac %s, ctrl=%s, mode %s", fwd.queues,
           fwd.queues == 1 ? "" : "s", fwd.burst, ivshm_fwd_mac_mode_name(cfg.mac_mode),
           fwd.ctrl_path, ivshm_fwd_mode_name(fwd.mode));
    if (fwd.mode == IVSHM_FWD_MODE_ADAPTIVE)
        printf(" (doorbell id %d, idle %llu us)", (int)fwd.ctrl_id,
               (unsigned long long)(fwd.idle_ns / 1000));
    printf("\n");
    fflush(stdout);
    guest_ivshm_heartbeat();

    uint32_t abandoned = ivshm_fwd_run(&fwd);

    uint64_t received = 0, sent = 0, dropped = 0, sleeps = 0, wakeups = 0;
    for (unsigned q = 0; q < fwd.queues; q++) {
        received += fwd.port[q].received;
        sent += fwd.port[q].sent;
        dropped += fwd.port[q].dropped;
        sleeps += fwd.port[q].sleeps;
        wakeups += fwd.port[q].wakeups;
    }
    printf("fwd: done received=%llu sent=%llu dropped=%llu abandoned=%u sleeps=%llu "
           "wakeups=%llu\n",
           (unsigned long long)received, (unsigned long long)sent, (unsigned long long)dropped,
           abandoned, (unsigned long long)sleeps, (unsigned long long)wakeups);
    return abandoned ? GUEST_EXIT_FAILURE : GUEST_EXIT_OK;
}
