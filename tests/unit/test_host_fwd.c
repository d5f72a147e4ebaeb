/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host side of the ctrl protocol (host/fwd_host.c), which pktgen,
 * reclaim and ivshm-port share: waiting for READY (FAIL, a stale heartbeat,
 * nobody, a stop request), the state moves, and taking back a dead party's
 * buffers: drained from the rings, a half-updated free ring repaired when no
 * other live process uses the pool (a forwarder does not count), refused
 * beside one.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/fwd_host.h"
#include "host/internal.h"
#include "ivshm/builder.h"
#include "ivshm/party.h"
#include "test_run.h"

static char dir[PATH_MAX];

/* A fresh directory holding segment "hf" of preset fwd, one queue pair. */
static void setup(void)
{
    const char *base = getenv("TEST_TMP");
    snprintf(dir, sizeof(dir), "%s/host_fwd.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct ivshm_object_spec spec[4];
    uint32_t n;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_fwd_preset(1, spec, 4, &n, &err), IVSHM_OK);
    struct ivshm_create_opts o = {.name = "hf",
                                  .dir = dir,
                                  .size = 16u << 20,
                                  .numa_node = -1,
                                  .objects = spec,
                                  .object_count = n};
    struct ivshm_create_result res;
    ck_assert_msg(ivshm_segment_create(&o, &res, &err) == IVSHM_OK, "create: %s", err.msg);
}

static void teardown(void)
{
    ivshm_segment_destroy(dir, "hf", IVSHM_DESTROY_FORCE, NULL);
    rmdir(dir);
}

/* What one host party of "hf" holds. */
struct party {
    struct ivshm_segment seg;
    struct ivshm_fwd_host host;
    struct ivshm_fwd_ctrl *ctrl;
    struct ivshm_mempool pool;
    struct ivshm_ring rx, tx;
};

static void attach(struct party *p, const char *label, const _Atomic bool *stop)
{
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_attach(dir, "hf", IVSHM_ATTACH_CLAIM, label, &p->seg, &err),
                     IVSHM_OK);
    ivshm_fwd_host_init(&p->host, stop);
    ck_assert_int_eq(ivshm_fwd_host_add(&p->host, &p->seg.view, &p->ctrl, &err), IVSHM_OK);
    ck_assert_ptr_nonnull(p->ctrl);
    ck_assert_int_eq(ivshm_mempool_lookup(&p->seg.view, "pkts", &p->pool, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_lookup(&p->seg.view, "rx0", &p->rx, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_lookup(&p->seg.view, "tx0", &p->tx, &err), IVSHM_OK);
}

/* ---- ctrl ---- */

START_TEST(test_add_without_ctrl)
{
    /* A segment whose "ctrl" is too small for a control block adds nothing,
     * and is no error. */
    struct ivshm_object_spec small = {.type = IVSHM_OBJ_MEMZONE, .name = "ctrl", .size = 64};
    struct ivshm_create_opts o = {.name = "nc",
                                  .dir = dir,
                                  .size = 1u << 20,
                                  .numa_node = -1,
                                  .objects = &small,
                                  .object_count = 1};
    struct ivshm_create_result res;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_OK);
    struct ivshm_segment seg;
    ck_assert_int_eq(ivshm_segment_attach(dir, "nc", 0, NULL, &seg, &err), IVSHM_OK);
    struct ivshm_fwd_host host;
    struct ivshm_fwd_ctrl *ctrl = (struct ivshm_fwd_ctrl *)&host;
    ivshm_fwd_host_init(&host, NULL);
    ck_assert_int_eq(ivshm_fwd_host_add(&host, &seg.view, &ctrl, &err), IVSHM_OK);
    ck_assert_ptr_null(ctrl);
    ck_assert_uint_eq(host.count, 0);
    ck_assert_int_eq(ivshm_fwd_host_wait_ready(&host, 0.01, &err), IVSHM_OK); /* none to wait for */
    ivshm_segment_detach(&seg);
    ivshm_segment_destroy(dir, "nc", 0, NULL);
}
END_TEST

START_TEST(test_wait_ready_errors)
{
    static struct party p;
    attach(&p, "unit", NULL);
    struct ivshm_error err = {0};
    /* nobody */
    ck_assert_int_eq(ivshm_fwd_host_wait_ready(&p.host, 0.05, &err), IVSHM_E_TIMEOUT);
    ck_assert_str_eq(err.msg, "hf: no forwarder became READY within 0 s (is the VM running fwd?)");
    /* READY, but its heartbeat stands still: a dead VM */
    atomic_store(&p.ctrl->state, IVSHM_FWD_FWD);
    ck_assert_int_eq(ivshm_fwd_host_wait_ready(&p.host, 1, &err), IVSHM_E_TIMEOUT);
    ck_assert_str_eq(err.msg, "hf: ctrl says a forwarder is there, but its heartbeat has not "
                              "moved in 1 s (did the VM stop?)");
    /* FAIL, with a reason that fills the field unterminated */
    memset(p.ctrl->reason, 'r', sizeof(p.ctrl->reason));
    atomic_store(&p.ctrl->state, IVSHM_FWD_FAIL);
    ck_assert_int_eq(ivshm_fwd_host_wait_ready(&p.host, 1, &err), IVSHM_E_CORRUPT);
    ck_assert_str_eq(err.msg, "hf: the forwarder failed: rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
    /* a stop request ends the wait at once */
    static _Atomic bool stop = true;
    p.host.stop = &stop;
    atomic_store(&p.ctrl->state, IVSHM_FWD_NONE);
    ck_assert_int_eq(ivshm_fwd_host_wait_ready(&p.host, 60, &err), IVSHM_E_TIMEOUT);
    ck_assert_str_eq(err.msg, "interrupted while waiting for the forwarder");
    ivshm_segment_detach(&p.seg);
}
END_TEST

static void *beat(void *arg)
{
    struct ivshm_fwd_ctrl *ctrl = arg;
    while (atomic_load(&ctrl->state) != IVSHM_FWD_EXIT) {
        atomic_fetch_add(&ctrl->heartbeat, 1);
        usleep(1000);
    }
    atomic_store(&ctrl->state, IVSHM_FWD_DONE);
    return NULL;
}

START_TEST(test_states)
{
    static struct party p;
    attach(&p, "unit", NULL);
    struct ivshm_error err = {0};
    atomic_store(&p.ctrl->state, IVSHM_FWD_READY);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, beat, p.ctrl), 0);
    ck_assert_int_eq(ivshm_fwd_host_wait_ready(&p.host, 10, &err), IVSHM_OK);
    ivshm_fwd_host_start(&p.host);
    ck_assert_uint_eq(atomic_load(&p.ctrl->state), IVSHM_FWD_FWD);
    ck_assert(ivshm_fwd_active(p.ctrl));
    ivshm_fwd_host_exit(&p.host);
    ck_assert(ivshm_fwd_host_wait_done(&p.host, 10));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(atomic_load(&p.ctrl->state), IVSHM_FWD_DONE);
    ck_assert(!ivshm_fwd_active(p.ctrl));
    ck_assert(!ivshm_fwd_active(NULL));
    /* A forwarder that failed stays failed: EXIT does not overwrite FAIL. */
    atomic_store(&p.ctrl->state, IVSHM_FWD_FAIL);
    ivshm_fwd_host_exit(&p.host);
    ck_assert_uint_eq(atomic_load(&p.ctrl->state), IVSHM_FWD_FAIL);
    /* EXIT never answered: wait_done says so */
    atomic_store(&p.ctrl->state, IVSHM_FWD_EXIT);
    ck_assert(!ivshm_fwd_host_wait_done(&p.host, 0.02));
    atomic_store(&p.ctrl->q[0].received, 7);
    uint64_t r, s, d;
    ivshm_fwd_host_counters(&p.host, &r, &s, &d);
    ck_assert_uint_eq(r, 7);
    ivshm_segment_detach(&p.seg);
}
END_TEST

/* ---- a dead party's buffers ---- */

/* A child process attaches as a host party (slot 0: it comes first), takes
 * `take` buffers, sends `send` of them into rx0 and `back` into tx0 (as if a
 * forwarder had passed them on), keeps the rest, then dies (SIGKILL): its
 * slot stays claimed. With wedge, the free ring's head is left one ahead of
 * its tail, as by a kill in the middle of a put. */
static void dead_party(unsigned take, unsigned send, unsigned back, bool wedge)
{
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        static struct party c;
        struct ivshm_error err;
        if (ivshm_segment_attach(dir, "hf", IVSHM_ATTACH_CLAIM, "child", &c.seg, &err) ||
            ivshm_mempool_lookup(&c.seg.view, "pkts", &c.pool, &err) ||
            ivshm_ring_lookup(&c.seg.view, "rx0", &c.rx, &err) ||
            ivshm_ring_lookup(&c.seg.view, "tx0", &c.tx, &err))
            _exit(1);
        uint64_t h[256];
        if (take > 256 || ivshm_mempool_get_bulk(&c.pool, NULL, h, take) ||
            ivshm_ring_enqueue_burst(&c.rx, h, send, NULL) != send ||
            ivshm_ring_enqueue_burst(&c.tx, h + send, back, NULL) != back)
            _exit(1);
        if (wedge)
            atomic_fetch_add(&c.pool.ring.shared->prod.head, 1);
        raise(SIGKILL);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* A dead party (dead_party's arguments), then `other` attached with label
 * other_label unless it is NULL, then `p`, the one that reclaims. */
static void after_a_death(unsigned take, unsigned send, unsigned back, bool wedge,
                          struct party *other, const char *other_label, struct party *p)
{
    dead_party(take, send, back, wedge);
    if (other_label)
        attach(other, other_label, NULL);
    attach(p, "unit", NULL);
}

static int reclaim(struct party *p, uint32_t *n, struct ivshm_error *err)
{
    struct ivshm_fwd_host_queue q = {&p->rx, &p->tx, p->ctrl};
    return ivshm_fwd_host_reclaim(&p->host, &p->pool, &p->seg.view, "hf/pkts", &q, 1, 5, n, err);
}

START_TEST(test_reclaim_alone)
{
    static struct party p;
    after_a_death(100, 10, 20, false, NULL, NULL, &p);
    ck_assert_uint_eq(ivshm_fwd_host_held(&p.pool, ~0ull), 100);
    uint32_t n = 0;
    struct ivshm_error err = {0};
    /* No forwarder: rx0 is drained too. */
    ck_assert_msg(reclaim(&p, &n, &err) == IVSHM_OK, "%s", err.msg);
    ck_assert_uint_eq(n, 70); /* 30 came home through the rings */
    ck_assert_uint_eq(ivshm_mempool_free_count(&p.pool), p.pool.count);
    ck_assert_uint_eq(ivshm_ring_count(&p.rx) + ivshm_ring_count(&p.tx), 0);
    struct ivshm_party slot;
    ck_assert_int_eq(ivshm_party_get(&p.seg.view, 0, &slot, &err), IVSHM_OK);
    ck_assert_uint_eq(slot.state, IVSHM_PARTY_GONE);
    /* nothing more to do */
    ck_assert_int_eq(reclaim(&p, &n, &err), IVSHM_OK);
    ck_assert_uint_eq(n, 0);
    ivshm_segment_detach(&p.seg);
}
END_TEST

START_TEST(test_reclaim_repairs_a_wedged_free_ring)
{
    /* 5 frames in flight: giving them back to the wedged ring would wait for
     * ever, unless it is repaired first. */
    /* A live forwarder does not use the free ring: the repair goes ahead. */
    static struct party fwd, p;
    after_a_death(50, 0, 5, true, &fwd, IVSHM_FWD_HOST_FORWARDER_LABEL, &p);
    uint32_t n = 0;
    struct ivshm_error err = {0};
    ck_assert_msg(reclaim(&p, &n, &err) == IVSHM_OK, "%s", err.msg);
    ck_assert_uint_eq(n, 45);
    struct ivshm_ring_stats st;
    ivshm_ring_stats(&p.pool.ring, &st);
    ck_assert_uint_eq(st.prod_head, st.prod_tail);
    ck_assert_uint_eq(ivshm_mempool_free_count(&p.pool), p.pool.count);
    uint64_t h; /* it works again */
    ck_assert_int_eq(ivshm_mempool_get(&p.pool, NULL, &h), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_put(&p.pool, NULL, h), IVSHM_OK);
    ivshm_segment_detach(&p.seg);
    ivshm_segment_detach(&fwd.seg);
}
END_TEST

START_TEST(test_reclaim_refuses_beside_a_user)
{
    static struct party other, p; /* other: a live process that may use the ring */
    after_a_death(50, 0, 0, true, &other, "pktgen", &p);
    uint32_t n = 7;
    struct ivshm_error err = {0};
    ck_assert_int_eq(reclaim(&p, &n, &err), IVSHM_E_CORRUPT);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "hf/pkts: its free ring was left half-updated"));
    ck_assert_uint_eq(ivshm_fwd_host_held(&p.pool, ~0ull), 50); /* nothing touched */
    ivshm_segment_detach(&p.seg);
    ivshm_segment_detach(&other.seg);
}
END_TEST

START_TEST(test_reclaim_beside_a_user_gives_back_one_by_one)
{
    static struct party other, p;
    after_a_death(40, 0, 5, false, &other, "pktgen", &p);
    uint64_t mine;
    ck_assert_int_eq(ivshm_mempool_get(&other.pool, NULL, &mine), IVSHM_OK);
    uint32_t n = 0;
    struct ivshm_error err = {0};
    ck_assert_msg(reclaim(&p, &n, &err) == IVSHM_OK, "%s", err.msg);
    ck_assert_uint_eq(n, 35);
    ck_assert_uint_eq(ivshm_fwd_host_held(&p.pool, 1ull << other.seg.view.party), 1); /* kept */
    ck_assert_uint_eq(ivshm_mempool_free_count(&p.pool), p.pool.count - 1);
    ivshm_segment_detach(&p.seg);
    ivshm_segment_detach(&other.seg);
}
END_TEST

START_TEST(test_reclaim_times_out_while_in_flight)
{
    /* The dead party's frames wait in rx0 of an active forwarder that never
     * takes them: they are not ours to take, and reclaim says so. */
    static struct party p;
    after_a_death(10, 10, 0, false, NULL, NULL, &p);
    atomic_store(&p.ctrl->state, IVSHM_FWD_FWD);
    uint32_t n = 0;
    struct ivshm_error err = {0};
    struct ivshm_fwd_host_queue q = {&p.rx, &p.tx, p.ctrl};
    ck_assert_int_eq(
        ivshm_fwd_host_reclaim(&p.host, &p.pool, &p.seg.view, "hf/pkts", &q, 1, 0.1, &n, &err),
        IVSHM_E_TIMEOUT);
    ck_assert_str_eq(err.msg, "hf/pkts: a dead process's buffers are still in flight after 0 s "
                              "(is the forwarder running?)");
    ck_assert_uint_eq(ivshm_ring_count(&p.rx), 10);
    ivshm_segment_detach(&p.seg);
}
END_TEST

START_TEST(test_put_steps_over_refused)
{
    static struct party p;
    attach(&p, "unit", NULL);
    uint64_t h[4];
    ck_assert_int_eq(ivshm_mempool_get_bulk(&p.pool, NULL, h, 2), IVSHM_OK);
    uint64_t mixed[5] = {h[0], 12345, h[0], h[1], 3};
    ck_assert_uint_eq(ivshm_fwd_host_put(&p.pool, NULL, mixed, 5), 3);
    ck_assert_uint_eq(ivshm_mempool_free_count(&p.pool), p.pool.count);
    ivshm_segment_detach(&p.seg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host_fwd");
    TCase *ctrl = test_case(
        s, "ctrl",
        (const TTest *[]){test_add_without_ctrl, test_wait_ready_errors, test_states, NULL});
    TCase *dead =
        test_case(s, "dead",
                  (const TTest *[]){test_reclaim_alone, test_reclaim_repairs_a_wedged_free_ring,
                                    test_reclaim_refuses_beside_a_user,
                                    test_reclaim_beside_a_user_gives_back_one_by_one,
                                    test_reclaim_times_out_while_in_flight,
                                    test_put_steps_over_refused, NULL});
    tcase_add_checked_fixture(ctrl, setup, teardown);
    tcase_add_checked_fixture(dead, setup, teardown);
    tcase_set_timeout(dead, 30);
    return test_run(s);
}
