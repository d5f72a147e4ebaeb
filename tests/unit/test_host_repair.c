/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm repair (host/repair.c, issue 13 F11): a damaged segment brought back
 * in place while its forwarder keeps running (paused and resumed through
 * ctrl); what it refuses (a live process that may use the pools, a
 * forwarder that does not poll or does not answer, a damaged header) and
 * that it then changes nothing; and that it needs no free party slot.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/fwd_host.h"
#include "host/internal.h"
#include "host/repair.h"
#include "ivshm/builder.h"
#include "ivshm/party.h"
#include "test_host_util.h"
#include "test_run.h"

static char dir[PATH_MAX];

static void setup(void)
{
    test_fwd_segment(dir, "host_repair", "hr");
}

static void teardown(void)
{
    ivshm_segment_destroy(dir, "hr", IVSHM_DESTROY_FORCE, NULL);
    rmdir(dir);
}

/* One host party of "hr" and the objects of the preset. */
struct party {
    struct ivshm_segment seg;
    struct ivshm_fwd_ctrl *ctrl;
    struct ivshm_mempool pool;
    struct ivshm_ring rx, tx;
};

static void attach(struct party *p, const char *label)
{
    struct ivshm_error err = {0};
    void *ctrl;
    ck_assert_msg(ivshm_segment_attach(dir, "hr", IVSHM_ATTACH_CLAIM, label, &p->seg, &err) ==
                      IVSHM_OK,
                  "%s", err.msg);
    ck_assert_int_eq(ivshm_memzone_lookup(&p->seg.view, "ctrl", &ctrl, NULL, &err), IVSHM_OK);
    p->ctrl = ctrl;
    ck_assert_int_eq(ivshm_mempool_lookup(&p->seg.view, "pkts", &p->pool, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_lookup(&p->seg.view, "rx0", &p->rx, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_lookup(&p->seg.view, "tx0", &p->tx, &err), IVSHM_OK);
}

static int repair(struct ivshm_repair_report *rep, struct ivshm_error *err)
{
    return ivshm_repair(dir, "hr", 5, NULL, rep, err);
}

/* ---- a forwarder (common/fwd.c) in a thread, as ivshm-fwd runs it ---- */

static struct party fwd_party;
static struct ivshm_fwd fwd;

static int resolve(void *ctx, const char *name, const struct ivshm_segment_view **view,
                   struct ivshm_error *err)
{
    (void)ctx;
    (void)name;
    (void)err;
    *view = &fwd_party.seg.view;
    return IVSHM_OK;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *fwd_main(void *arg)
{
    (void)arg;
    ivshm_fwd_run(&fwd);
    return NULL;
}

static pthread_t fwd_start(void)
{
    attach(&fwd_party, IVSHM_FWD_HOST_FORWARDER_LABEL);
    struct ivshm_fwd_config cfg = {.now_ns = now_ns};
    struct ivshm_fwd_resolver r = {resolve, NULL};
    struct ivshm_error err = {0};
    ck_assert_msg(ivshm_fwd_open(&fwd, &cfg, &r, &err) == IVSHM_OK, "%s", err.msg);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fwd_main, NULL), 0);
    while (atomic_load(&fwd.ctrl->state) != IVSHM_FWD_READY)
        sched_yield();
    return t;
}

static void fwd_stop(pthread_t t)
{
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_EXIT);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->state), IVSHM_FWD_DONE);
    ivshm_segment_detach(&fwd_party.seg);
}

/* n frames from `p` through the forwarder and back, all intact; the pool
 * full afterwards. */
static void traffic(struct party *p, unsigned n)
{
    static const uint8_t mac[6] = {2, 0, 0, 0, 1, 0};
    for (unsigned i = 0; i < n; i++) {
        uint64_t h, seq;
        ck_assert_int_eq(ivshm_mempool_get(&p->pool, NULL, &h), IVSHM_OK);
        struct ivshm_pkt *pkt = ivshm_mempool_ptr(&p->pool, h);
        pkt->data_off = IVSHM_PKT_HEADROOM;
        pkt->data_len = 64;
        ivshm_frame_fill((uint8_t *)pkt + IVSHM_PKT_HEADROOM, 64, i, mac);
        ck_assert_int_eq(ivshm_ring_enqueue(&p->rx, h), IVSHM_OK);
        uint64_t back;
        while (ivshm_ring_dequeue(&p->tx, &back) != IVSHM_OK)
            sched_yield();
        ck_assert_uint_eq(back, h);
        ck_assert(ivshm_frame_check((uint8_t *)pkt + IVSHM_PKT_HEADROOM, 64, 0, &seq));
        ck_assert_uint_eq(seq, i);
        ck_assert_int_eq(ivshm_mempool_put(&p->pool, NULL, h), IVSHM_OK);
    }
    ck_assert_uint_eq(ivshm_mempool_free_count(&p->pool), p->pool.count);
}

/* Damage in every region a repair mends, done through p (whose pool must not
 * be used afterwards: its free ring is left half-updated). */
static void damage(struct party *p)
{
    test_dead_party(dir, "hr", 60, 20, 0,
                    false); /* slot 0: the forwarder forwards its 20 frames into tx0 */
    struct ivshm_party *slots = p->seg.view.parties;
    atomic_store(&slots[10].state, 9); /* a state of no known value */
    slots[11].kind = 7;                /* ALIVE, of no known kind */
    atomic_store(&slots[11].state, IVSHM_PARTY_ALIVE);
    slots[12].kind = IVSHM_PARTY_GUEST; /* a guest with a pid */
    slots[12].pid = 4242;
    atomic_store(&slots[12].state, IVSHM_PARTY_ALIVE);
    atomic_store(&p->ctrl->q[0].source, 1ull); /* the dead party's claim of queue 0 */
    uint64_t h;
    ck_assert_int_eq(ivshm_mempool_get(&p->pool, NULL, &h), IVSHM_OK);
    atomic_store(&p->pool.state[ivshm_mempool_index(&p->pool, h)], 0xc7); /* no known form */
    atomic_fetch_add(&p->tx.shared->prod.tail, 5000);                     /* garbage indices */
    atomic_fetch_add(&p->pool.ring.shared->cons.head, 3);
}

START_TEST(test_repair_under_a_running_forwarder)
{
    pthread_t t = fwd_start();
    static struct party p;
    attach(&p, "pktgen");
    damage(&p);
    ivshm_segment_detach(&p.seg); /* repair refuses while a pktgen is attached */
    struct ivshm_repair_report rep;
    struct ivshm_error err = {0};
    uint64_t received = atomic_load(&fwd.ctrl->q[0].received);
    ck_assert_msg(repair(&rep, &err) == IVSHM_OK, "%s", err.msg);
    ck_assert(rep.forwarder && rep.paused);
    ck_assert_uint_eq(rep.rings, 2);
    ck_assert_uint_eq(rep.rings_damaged, 1);
    ck_assert_uint_eq(rep.pools, 1);
    ck_assert_uint_eq(rep.objects, p.pool.count);
    ck_assert_uint_eq(rep.taken_back, 61);
    ck_assert_uint_eq(rep.parties, 4); /* the dead child, three of garbage */
    ck_assert_uint_eq(rep.sources, 1);
    /* the forwarder forwards on, the same thread: paused, resumed */
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->state), IVSHM_FWD_READY);
    ck_assert_uint_ge(atomic_load(&fwd.ctrl->q[0].received), received);
    attach(&p, "pktgen");
    ck_assert_uint_eq(ivshm_mempool_free_count(&p.pool), p.pool.count);
    traffic(&p, 200);
    for (uint32_t i = 0; i < p.seg.view.party_capacity; i++) {
        struct ivshm_party e;
        ck_assert_int_eq(ivshm_party_get(&p.seg.view, i, &e, &err), IVSHM_OK);
        bool ours = (int)i == p.seg.view.party || (int)i == fwd_party.seg.view.party;
        ck_assert_msg(ours || e.state == IVSHM_PARTY_FREE || e.state == IVSHM_PARTY_GONE,
                      "slot %u: state %u", i, e.state);
    }
    ck_assert_uint_eq(atomic_load(&p.ctrl->q[0].source), 0);
    ivshm_segment_detach(&p.seg);
    /* again, with nothing to mend */
    ck_assert_msg(repair(&rep, &err) == IVSHM_OK, "%s", err.msg);
    ck_assert(rep.paused);
    ck_assert_uint_eq(rep.rings_damaged + rep.entries + rep.taken_back + rep.parties, 0);
    fwd_stop(t);
}
END_TEST

START_TEST(test_repair_without_a_forwarder_or_a_slot)
{
    /* No forwarder polls; every slot is taken by (what looks like) a live
     * guest: the repair works without a slot of its own and keeps them. */
    static struct party p;
    attach(&p, "pktgen");
    damage(&p);
    for (uint32_t i = 0; i < p.seg.view.party_capacity; i++) {
        struct ivshm_party *e = &p.seg.view.parties[i];
        memset(e, 0, sizeof(*e));
        e->kind = IVSHM_PARTY_GUEST;
        strcpy(e->label, "guest");
        atomic_store(&e->state, IVSHM_PARTY_ALIVE);
    }
    p.seg.view.party = -1; /* our slot is a guest's now */
    struct ivshm_repair_report rep;
    struct ivshm_error err = {0};
    ck_assert_msg(repair(&rep, &err) == IVSHM_OK, "%s", err.msg);
    ck_assert(rep.forwarder && !rep.paused);
    ck_assert_uint_eq(rep.parties, 0);
    ck_assert_uint_eq(rep.entries, 20 + 1024); /* the dead one's in rx0; tx0 "full" */
    ck_assert_uint_eq(ivshm_mempool_free_count(&p.pool), p.pool.count);
    ck_assert_uint_eq(ivshm_ring_count(&p.rx) + ivshm_ring_count(&p.tx), 0);
    ivshm_segment_detach(&p.seg);
}
END_TEST

/* The rings' indices, the pool's free count and ctrl's state: what a
 * refused repair must leave as it was. */
struct snapshot {
    uint32_t tx_prod_tail, free, state;
};

static struct snapshot snap(struct party *p)
{
    return (struct snapshot){atomic_load(&p->tx.shared->prod.tail),
                             ivshm_mempool_free_count(&p->pool), atomic_load(&p->ctrl->state)};
}

static void unchanged(struct party *p, struct snapshot before)
{
    struct snapshot now = snap(p);
    ck_assert_uint_eq(now.tx_prod_tail, before.tx_prod_tail);
    ck_assert_uint_eq(now.free, before.free);
    ck_assert_uint_eq(now.state, before.state);
}

/* A repair refused with IVSHM_E_EXIST and `message` (its %d: our pid),
 * having changed nothing; returns the state it left. */
static struct snapshot refused(struct party *p, const char *message)
{
    struct snapshot before = snap(p);
    struct ivshm_repair_report rep;
    struct ivshm_error err = {0};
    ck_assert_int_eq(repair(&rep, &err), IVSHM_E_EXIST);
    char want[160];
    snprintf(want, sizeof(want), message, (int)getpid());
    ck_assert_str_eq(err.msg, want);
    unchanged(p, before);
    return before;
}

START_TEST(test_repair_refuses_a_live_user)
{
    static struct party p;
    attach(&p, "pktgen");
    atomic_fetch_add(&p.tx.shared->prod.tail, 5000);
    refused(&p, "hr: process %d (pktgen, party 0) is attached and may be using its buffers; "
                "stop it first");
    ivshm_segment_detach(&p.seg);
}
END_TEST

START_TEST(test_repair_refuses_a_forwarder_that_does_not_answer)
{
    /* A forwarder process attached, ctrl READY: first it does not poll
     * (stopped), then it polls but knows no PAUSE. Nothing changes. */
    static struct party p;
    attach(&p, IVSHM_FWD_HOST_FORWARDER_LABEL);
    atomic_store(&p.ctrl->state, IVSHM_FWD_READY);
    atomic_fetch_add(&p.tx.shared->prod.tail, 5000);
    struct snapshot before = refused(&p, "hr: forwarder process %d (party 0) is attached but "
                                         "does not poll (stopped?); resume or stop it first");
    struct ivshm_repair_report rep;
    struct ivshm_error err = {0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, test_beat, p.ctrl), 0);
    ck_assert_int_eq(ivshm_repair(dir, "hr", 0.3, NULL, &rep, &err), IVSHM_E_TIMEOUT);
    ck_assert_str_eq(err.msg, "hr: the forwarder polls (its heartbeat moves) but did not "
                              "acknowledge PAUSE within 0 s; nothing was changed");
    unchanged(&p, before);
    atomic_store(&p.ctrl->state, IVSHM_FWD_EXIT);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ivshm_segment_detach(&p.seg);
}
END_TEST

START_TEST(test_repair_refuses_a_damaged_header)
{
    static struct party p;
    attach(&p, "unit");
    p.seg.view.hdr->created_unix_ns ^= 1; /* covered by the checksum */
    ivshm_segment_detach(&p.seg);
    struct ivshm_repair_report rep;
    struct ivshm_error err = {0};
    ck_assert_int_eq(repair(&rep, &err), IVSHM_E_BADSEG);
    ck_assert_msg(strncmp(err.msg, "hr: cannot repair: checksum mismatch: stored 0x", 47) == 0,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "(header and directory are not repaired in place: "
                                          "re-create the segment)"));
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_int_eq(ivshm_repair(dir, "nope", 1, NULL, &rep, &err), IVSHM_E_NOENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host_repair");
    TCase *tc = test_case(s, "repair",
                          (const TTest *[]){test_repair_under_a_running_forwarder,
                                            test_repair_without_a_forwarder_or_a_slot,
                                            test_repair_refuses_a_live_user,
                                            test_repair_refuses_a_forwarder_that_does_not_answer,
                                            test_repair_refuses_a_damaged_header, NULL});
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    return test_run(s);
}
