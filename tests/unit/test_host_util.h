/* SPDX-License-Identifier: BSD-3-Clause */
/* What the tests of the host side of the fwd protocol share (test_host_fwd,
 * test_host_repair): a segment of preset fwd in a fresh directory, a
 * forwarder that only beats its heart, a host party that dies holding
 * buffers. */
#ifndef IVSHM_TEST_HOST_UTIL_H
#define IVSHM_TEST_HOST_UTIL_H

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ivshm/builder.h"
#include "ivshm/fwd.h"

/* A fresh directory TEST_TMP/TAG.XXXXXX (TEST_TMP default /tmp) into dir,
 * holding segment `name` of preset fwd, one queue pair, 16 MiB. */
static inline void test_fwd_segment(char dir[PATH_MAX], const char *tag, const char *name)
{
    const char *base = getenv("TEST_TMP");
    snprintf(dir, PATH_MAX, "%s/%s.XXXXXX", base && *base ? base : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct ivshm_object_spec spec[4];
    uint32_t n;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_fwd_preset(1, spec, 4, &n, &err), IVSHM_OK);
    struct ivshm_create_opts o = {.name = name,
                                  .dir = dir,
                                  .size = 16u << 20,
                                  .numa_node = -1,
                                  .objects = spec,
                                  .object_count = n};
    struct ivshm_create_result res;
    ck_assert_msg(ivshm_segment_create(&o, &res, &err) == IVSHM_OK, "create: %s", err.msg);
}

/* A thread: bumps the heartbeat of ctrl (a struct ivshm_fwd_ctrl *) every
 * millisecond, as a forwarder that polls but knows no state but EXIT; then
 * sets DONE. */
static inline void *test_beat(void *ctrl_arg)
{
    struct ivshm_fwd_ctrl *ctrl = ctrl_arg;
    while (atomic_load(&ctrl->state) != IVSHM_FWD_EXIT) {
        atomic_fetch_add(&ctrl->heartbeat, 1);
        usleep(1000);
    }
    atomic_store(&ctrl->state, IVSHM_FWD_DONE);
    return NULL;
}

/* A child process attaches segment `name` of dir as a host party, takes
 * `take` buffers (at most 256) from pkts, sends `send` of them into rx0 and
 * `back` into tx0 (as if a forwarder had passed them on), keeps the rest,
 * then dies by SIGKILL: its slot stays claimed. With wedge, the free ring's
 * head is left one ahead of its tail, as by a kill in the middle of a put. */
static inline void test_dead_party(const char *dir, const char *name, unsigned take, unsigned send,
                                   unsigned back, bool wedge)
{
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        static struct ivshm_segment seg;
        static struct ivshm_mempool pool;
        static struct ivshm_ring rx, tx;
        struct ivshm_error err;
        uint64_t h[256];
        if (ivshm_segment_attach(dir, name, IVSHM_ATTACH_CLAIM, "child", &seg, &err) ||
            ivshm_mempool_lookup(&seg.view, "pkts", &pool, &err) ||
            ivshm_ring_lookup(&seg.view, "rx0", &rx, &err) ||
            ivshm_ring_lookup(&seg.view, "tx0", &tx, &err) || take > 256 ||
            ivshm_mempool_get_bulk(&pool, NULL, h, take) ||
            ivshm_ring_enqueue_burst(&rx, h, send, NULL) != send ||
            ivshm_ring_enqueue_burst(&tx, h + send, back, NULL) != back)
            _exit(1);
        if (wedge)
            atomic_fetch_add(&pool.ring.shared->prod.head, 1);
        raise(SIGKILL);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

#endif
