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

    struct ivshm_error err;
    struct ivshm_fwd_resolver resolver = {resolve_segment, NULL};
    if (ivshm_fwd_open(&fwd, &cfg, &resolver, &err) != IVSHM_OK) {
        printf("fwd: %s\n", err.msg);
        ivshm_fwd_fail(&fwd, err.msg);
        return GUEST_EXIT_FAILURE;
    }
    for (unsigned q = 0; q < fwd.queues; q++)
        printf("fwd: queue %u: rx=%s tx=%s pool=%s\n", q, fwd.rx_path[q], fwd.tx_path[q],
               fwd.pool_path);
    printf("fwd: ready, %u queue pair%s, burst %u, ctrl=%s\n", fwd.queues,
           fwd.queues == 1 ? "" : "s", fwd.burst, fwd.ctrl_path);
    fflush(stdout);
    guest_ivshm_heartbeat();

    uint32_t abandoned = ivshm_fwd_run(&fwd);

    uint64_t received = 0, sent = 0, dropped = 0;
    for (unsigned q = 0; q < fwd.queues; q++) {
        received += fwd.port[q].received;
        sent += fwd.port[q].sent;
        dropped += fwd.port[q].dropped;
    }
    printf("fwd: done received=%llu sent=%llu dropped=%llu abandoned=%u\n",
           (unsigned long long)received, (unsigned long long)sent, (unsigned long long)dropped,
           abandoned);
    return abandoned ? GUEST_EXIT_FAILURE : GUEST_EXIT_OK;
}
