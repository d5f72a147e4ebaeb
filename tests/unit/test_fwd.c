/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fwd module: preset, ring names, test frames, ivshm_fwd_open (defaults,
 * explicit paths, every error), FAIL reporting, ivshm_fwd_run with the
 * drain policy (a clean exit, and tx that nobody empties), the MAC modes
 * (rewrite, keep), and adaptive mode (modes, sleeping, doorbells and their
 * counters) with a fake doorbell.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/internal.h"
#include "ivshm/fwd.h"
#include "ivshm/notify.h"
#include "test_calls.h"
#include "test_run.h"
#include "test_util.h"

#define SEG_SIZE (16u << 20)

static const uint8_t mac[6] = {0x02, 0, 0, 0, 0x42, 0};

/* A segment holding preset fwd with `queues` pairs (plus a tiny memzone
 * "small"), validated, with party 0 claimed. */
static void *make_fwd_segment(uint32_t queues, struct ivshm_segment_view *v)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_object_spec spec[2 * IVSHM_FWD_MAX_QUEUES + 2];
    uint32_t n;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_fwd_preset(queues, spec, 2 * IVSHM_FWD_MAX_QUEUES + 2, &n, &err),
                     IVSHM_OK);
    struct ivshm_builder b;
    test_builder_init(&b, mem, SEG_SIZE, n + 1, 4);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(ivshm_builder_add(&b, &spec[i], &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "small", 64, 0, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
    test_validate(mem, SEG_SIZE, v);
    v->party = ivshm_party_claim(v, IVSHM_PARTY_HOST, 1, 1, "unit");
    ck_assert_int_eq(v->party, 0);
    return mem;
}

static int resolve_one(void *ctx, const char *name, const struct ivshm_segment_view **view,
                       struct ivshm_error *err)
{
    const struct ivshm_segment_view *v = ctx;
    if (name && strcmp(name, v->name) != 0)
        return ivshm_fail(err, IVSHM_E_NOENT, "segment %s: not here", name);
    *view = v;
    return IVSHM_OK;
}

static uint64_t fake_ns;
static uint64_t fake_clock(void) /* 1 ms passes at each reading */
{
    return __atomic_add_fetch(&fake_ns, 1000000, __ATOMIC_RELAXED);
}

static int open_fwd(struct ivshm_fwd *fwd, struct ivshm_segment_view *v,
                    struct ivshm_fwd_config *cfg, struct ivshm_error *err)
{
    struct ivshm_fwd_resolver r = {resolve_one, v};
    memcpy(cfg->mac, mac, 6);
    if (!cfg->now_ns)
        cfg->now_ns = fake_clock;
    return ivshm_fwd_open(fwd, cfg, &r, err);
}

START_TEST(test_preset)
{
    struct ivshm_object_spec spec[40];
    uint32_t n;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_fwd_preset(2, spec, 40, &n, &err), IVSHM_OK);
    ck_assert_uint_eq(n, ivshm_fwd_preset_objects(2));
    const char *names[] = {"pkts", "rx0", "tx0", "rx1", "tx1", "ctrl"};
    for (unsigned i = 0; i < 6; i++)
        ck_assert_str_eq(spec[i].name, names[i]);
    ck_assert_uint_eq(spec[0].count, ivshm_fwd_pool_count(2));
    ck_assert_uint_eq(spec[0].obj_size, IVSHM_FWD_PKT_SIZE);
    ck_assert_uint_eq(spec[1].slots, IVSHM_FWD_RING_SLOTS);
    ck_assert_uint_eq(spec[5].size, sizeof(struct ivshm_fwd_ctrl));
    ck_assert_int_eq(ivshm_fwd_preset(0, spec, 40, &n, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_fwd_preset(17, spec, 40, &n, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "preset fwd: 17 queues, not in 1..16");
    ck_assert_int_eq(ivshm_fwd_preset(2, spec, 5, &n, &err), IVSHM_E_NOSPC);
    ck_assert_str_eq(ivshm_fwd_ring_name(IVSHM_FWD_RX, 15), "rx15");
    ck_assert_str_eq(ivshm_fwd_ring_name(IVSHM_FWD_TX, 0), "tx0");
    ck_assert_ptr_null(ivshm_fwd_ring_name(IVSHM_FWD_TX, 16));
}
END_TEST

START_TEST(test_frames)
{
    uint8_t f[128];
    uint64_t seq = 0;
    ivshm_frame_fill(f, sizeof(f), 1234567, mac);
    ck_assert_uint_eq(f[0], 0xff); /* broadcast until a forwarder rewrites it */
    ck_assert_mem_eq(f + IVSHM_FRAME_SRC_OFF, mac, 6);
    ck_assert_uint_eq(f[IVSHM_FRAME_TYPE_OFF] << 8 | f[IVSHM_FRAME_TYPE_OFF + 1],
                      IVSHM_PKT_ETHERTYPE);
    ck_assert(!ivshm_frame_check(f, sizeof(f), 3, &seq)); /* not rewritten */
    static const uint8_t dst3[6] = {0x02, 0, 0, 0, 0, 3};
    memcpy(f, dst3, 6);
    ck_assert(ivshm_frame_check(f, sizeof(f), 3, &seq));
    ck_assert_uint_eq(seq, 1234567);
    ck_assert(!ivshm_frame_check(f, sizeof(f), 4, &seq)); /* another queue's */
    ck_assert(!ivshm_frame_check(f, 63, 3, &seq));        /* shorter than a frame */
    for (unsigned at = IVSHM_FRAME_SEQ_OFF; at < sizeof(f); at++) {
        f[at] ^= 0x10; /* any changed byte of seq, payload or sum */
        EXPECT(!ivshm_frame_check(f, sizeof(f), 3, &seq));
        f[at] ^= 0x10;
    }
    ck_assert(ivshm_frame_check(f, sizeof(f), 3, &seq));
}
END_TEST

/* The frame as docs/abi.md 4.2 writes it, byte by byte, for every length of
 * the payload's last word (64..71 bytes) and a few more: an independent
 * reading of the format, so the code cannot drift from the document. */
START_TEST(test_frame_layout)
{
    static const uint32_t lens[] = {64, 65, 66, 67, 68, 69, 70, 71, 72, 128, 1514};
    const uint32_t len = lens[_i];
    uint8_t f[1514], want[1514];
    const uint64_t seq = 0x0123456789abcdefull;
    ivshm_frame_fill(f, len, seq, mac);
    memset(want, 0xff, 6);
    memcpy(want + 6, mac, 6);
    want[12] = 0x88;
    want[13] = 0xb5;
    for (int i = 0; i < 8; i++)
        want[14 + i] = (uint8_t)(seq >> (8 * i));
    for (uint32_t at = 22; at < len - 4; at++) {
        uint64_t word = (seq + 1 + (at - 22) / 8) * 0x9e3779b97f4a7c15ull;
        want[at] = (uint8_t)(word >> (8 * ((at - 22) % 8)));
    }
    uint32_t crc = ~0u; /* CRC-32C of bytes 14 .. len - 5, bit by bit */
    for (uint32_t at = 14; at < len - 4; at++) {
        crc ^= want[at];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        want[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    ck_assert_mem_eq(f, want, len);
    ck_assert_uint_eq(ivshm_pkt_checksum(f + 14, len - 18), crc);
    ck_assert_uint_eq(ivshm_pkt_checksum((const uint8_t *)"123456789", 9), 0xE3069283u);
}
END_TEST

START_TEST(test_open_defaults)
{
    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(3, &v);
    struct ivshm_error err = {0};
    struct ivshm_fwd_config cfg = {0};
    int rc = open_fwd(&fwd, &v, &cfg, &err);
    ck_assert_msg(rc == IVSHM_OK, "open: %s", err.msg);
    ck_assert_uint_eq(fwd.queues, 3); /* every pair there is */
    ck_assert_str_eq(fwd.rx_path[2], "unit/rx2");
    ck_assert_str_eq(fwd.tx_path[0], "unit/tx0");
    ck_assert_str_eq(fwd.pool_path, "unit/pkts");
    ck_assert_str_eq(fwd.ctrl_path, "unit/ctrl");
    ck_assert_uint_eq(fwd.burst, IVSHM_FWD_BURST_DEFAULT);
    ck_assert_mem_eq(fwd.ctrl->mac, mac, 6);
    ck_assert_uint_eq(fwd.port[2].dst_last, 2);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->state), IVSHM_FWD_NONE); /* run publishes */

    cfg = (struct ivshm_fwd_config){.queues = 2, .burst = 64};
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_uint_eq(fwd.queues, 2); /* exactly as asked */
    free(mem);
}
END_TEST

START_TEST(test_open_paths_and_errors)
{
    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(2, &v);
    struct ivshm_error err = {0};
    struct ivshm_fwd_config cfg = {.queues = 1, .rx = {"unit/rx1"}, .tx = {"tx0"}};
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_str_eq(fwd.rx_path[0], "unit/rx1");
    ck_assert_str_eq(fwd.tx_path[0], "unit/tx0");
    ck_assert_ptr_eq(fwd.port[0].rx, &fwd.rx[0]);

    struct {
        struct ivshm_fwd_config cfg;
        int code;
        const char *msg;
    } bad[] = {
        {{.queues = 3}, IVSHM_E_NOENT, "unit/rx2: no ring of that name"},
        {{.queues = 1, .rx = {"other/rx0"}, .tx = {"tx0"}}, IVSHM_E_NOENT, "segment other"},
        {{.queues = 1, .rx = {"/rx0"}, .tx = {"tx0"}}, IVSHM_E_INVAL, "/rx0: not SEG/NAME"},
        {{.queues = 1, .rx = {"rx0"}}, IVSHM_E_INVAL, "queue pair 0: no tx ring"},
        {{.ctrl = "unit/small"}, IVSHM_E_TOOBIG, "unit/small: 64 bytes, smaller than"},
        {{.ctrl = "unit/nope"}, IVSHM_E_NOENT, "unit/nope: no memzone of that name"},
        {{.pool = "unit/rx0"}, IVSHM_E_NOENT, "unit/rx0: no mempool of that name"},
        {{.burst = IVSHM_BURST_MAX + 1}, IVSHM_E_INVAL, "burst 65: not in 1..64"},
        {{.mac_mode = 2}, IVSHM_E_INVAL, "mac mode 2: not rewrite (0) or keep (1)"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = open_fwd(&fwd, &v, &bad[i].cfg, &err);
        ck_assert_msg(rc == bad[i].code, "case %u: %d (%s)", i, rc, err.msg);
        ck_assert_msg(strstr(err.msg, bad[i].msg), "case %u: '%s' lacks '%s'", i, err.msg,
                      bad[i].msg);
    }
    /* a pool needs a party */
    cfg = (struct ivshm_fwd_config){0};
    v.party = -1;
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "party"));
    /* ... and by then ctrl was found: FAIL can be reported */
    ck_assert_ptr_nonnull(fwd.ctrl);
    ivshm_fwd_fail(&fwd, "a reason longer than the forty bytes ctrl has room for");
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->state), IVSHM_FWD_FAIL);
    ck_assert_str_eq(fwd.ctrl->reason, "a reason longer than the forty bytes ct");
    free(mem);
}
END_TEST

/* ---- MAC modes: rewrite (l2fwd) changes exactly the Ethernet addresses,
 * keep leaves every byte as it came; both drop frames that do not lie inside
 * their buffer. ---- */

START_TEST(test_mac_mode_names)
{
    enum ivshm_fwd_mac_mode m = IVSHM_FWD_MAC_REWRITE;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_fwd_mac_mode_parse("keep", &m, &err), IVSHM_OK);
    ck_assert_int_eq(m, IVSHM_FWD_MAC_KEEP);
    ck_assert_int_eq(ivshm_fwd_mac_mode_parse("rewrite", &m, &err), IVSHM_OK);
    ck_assert_int_eq(m, IVSHM_FWD_MAC_REWRITE);
    ck_assert_int_eq(ivshm_fwd_mac_mode_parse("Keep", &m, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "mac mode 'Keep': not rewrite or keep");
    ck_assert_int_eq(ivshm_fwd_mac_mode_parse("", &m, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(m, IVSHM_FWD_MAC_REWRITE); /* untouched on error */
    ck_assert_str_eq(ivshm_fwd_mac_mode_name(IVSHM_FWD_MAC_KEEP), "keep");
    ck_assert_str_eq(ivshm_fwd_mac_mode_name(IVSHM_FWD_MAC_REWRITE), "rewrite");
    ck_assert_ptr_null(ivshm_fwd_mac_mode_name((enum ivshm_fwd_mac_mode)2));
}
END_TEST

/* A forwarder of one queue pair in `mode` on a fresh segment. */
static void *open_mode(struct ivshm_fwd *fwd, enum ivshm_fwd_mac_mode mode)
{
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(1, &v);
    struct ivshm_error err = {0};
    struct ivshm_fwd_config cfg = {.mac_mode = mode};
    ck_assert_int_eq(open_fwd(fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_uint_eq(fwd->port[0].mac_mode, mode);
    return mem;
}

/* Puts a frame of `len` bytes at data_off `off` into rx0: byte i is i * 7 + 3. */
static uint64_t send_raw(struct ivshm_fwd *fwd, uint32_t off, uint32_t len)
{
    uint64_t h;
    ck_assert_int_eq(ivshm_mempool_get(&fwd->pool, NULL, &h), IVSHM_OK);
    uint8_t *obj = ivshm_mempool_ptr(&fwd->pool, h);
    struct ivshm_pkt *pkt = (struct ivshm_pkt *)obj;
    pkt->data_off = (uint16_t)off;
    pkt->data_len = len;
    for (uint32_t i = 0; off + i < IVSHM_FWD_PKT_SIZE && i < len; i++)
        obj[off + i] = (uint8_t)(i * 7 + 3);
    ck_assert_int_eq(ivshm_ring_enqueue(&fwd->rx[0], h), IVSHM_OK);
    return h;
}

static void check_payload(const uint8_t *frame, uint32_t from, uint32_t len)
{
    for (uint32_t i = from; i < len; i++)
        EXPECT_EQ(frame[i], (uint8_t)(i * 7 + 3));
}

START_TEST(test_mac_keep_leaves_every_byte)
{
    static struct ivshm_fwd fwd;
    void *mem = open_mode(&fwd, IVSHM_FWD_MAC_KEEP);
    static const uint32_t lens[] = {14, 60, 64, 65, 128, IVSHM_FWD_PKT_SIZE - IVSHM_PKT_HEADROOM};
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    uint64_t h[N];
    for (unsigned i = 0; i < N; i++)
        h[i] = send_raw(&fwd, IVSHM_PKT_HEADROOM, lens[i]);
    ck_assert_uint_eq(ivshm_fwd_poll(&fwd.port[0]), N);
    for (unsigned i = 0; i < N; i++) {
        uint64_t out;
        ck_assert_int_eq(ivshm_ring_dequeue(&fwd.tx[0], &out), IVSHM_OK);
        ck_assert_uint_eq(out, h[i]); /* in order */
        const uint8_t *obj = ivshm_mempool_ptr(&fwd.pool, out);
        ck_assert_uint_eq(((const struct ivshm_pkt *)obj)->data_len, lens[i]);
        check_payload(obj + IVSHM_PKT_HEADROOM, 0, lens[i]);
    }
    ck_assert_uint_eq(fwd.port[0].sent, N);
    ck_assert_uint_eq(fwd.port[0].dropped, 0);
    free(mem);
}
END_TEST

START_TEST(test_mac_rewrite_changes_the_addresses_only)
{
    static struct ivshm_fwd fwd;
    void *mem = open_mode(&fwd, IVSHM_FWD_MAC_REWRITE);
    send_raw(&fwd, IVSHM_PKT_HEADROOM, 100);
    ck_assert_uint_eq(ivshm_fwd_poll(&fwd.port[0]), 1);
    uint64_t out;
    ck_assert_int_eq(ivshm_ring_dequeue(&fwd.tx[0], &out), IVSHM_OK);
    const uint8_t *frame = (const uint8_t *)ivshm_mempool_ptr(&fwd.pool, out) + IVSHM_PKT_HEADROOM;
    static const uint8_t want[12] = {0x02, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0x42, 0};
    ck_assert_mem_eq(frame, want, 12); /* to 02:00:00:00:00:<queue 0>, from the forwarder */
    check_payload(frame, 12, 100);
    free(mem);
}
END_TEST

/* Both modes check that a frame lies inside its buffer before forwarding. */
static void check_bounds(enum ivshm_fwd_mac_mode mode)
{
    static struct ivshm_fwd fwd;
    void *mem = open_mode(&fwd, mode);
    send_raw(&fwd, IVSHM_PKT_HEADROOM, IVSHM_FWD_PKT_SIZE - IVSHM_PKT_HEADROOM + 1); /* 1 past */
    send_raw(&fwd, 8, 64);                                                           /* header */
    send_raw(&fwd, IVSHM_PKT_HEADROOM, IVSHM_ETH_HLEN - 1); /* no Ethernet header */
    uint64_t good = send_raw(&fwd, IVSHM_PKT_HEADROOM, 64);
    ck_assert_int_eq(ivshm_ring_enqueue(&fwd.rx[0], 12345), IVSHM_OK); /* not a buffer */
    ck_assert_uint_eq(ivshm_fwd_poll(&fwd.port[0]), 1);
    ck_assert_uint_eq(fwd.port[0].dropped, 4);
    uint64_t out;
    ck_assert_int_eq(ivshm_ring_dequeue(&fwd.tx[0], &out), IVSHM_OK);
    ck_assert_uint_eq(out, good);
    ck_assert_uint_eq(ivshm_ring_count(&fwd.tx[0]), 0);
    free(mem);
}

START_TEST(test_mac_keep_checks_bounds)
{
    check_bounds(IVSHM_FWD_MAC_KEEP);
}
END_TEST

START_TEST(test_mac_rewrite_checks_bounds)
{
    check_bounds(IVSHM_FWD_MAC_REWRITE);
}
END_TEST

struct run_arg {
    struct ivshm_fwd *fwd;
    uint32_t abandoned;
};

static void *run_thread(void *p)
{
    struct run_arg *a = p;
    a->abandoned = ivshm_fwd_run(a->fwd);
    return NULL;
}

/* Sends n frames into rx0, lets the forwarder take them, sets EXIT; returns
 * what ivshm_fwd_run returned. With tx_full, tx0 is full and nobody empties
 * it. */
static uint32_t run_case(unsigned n, bool tx_full, struct ivshm_fwd *fwd,
                         struct ivshm_segment_view *v)
{
    struct ivshm_error err = {0};
    struct ivshm_fwd_config cfg = {0};
    ck_assert_int_eq(open_fwd(fwd, v, &cfg, &err), IVSHM_OK);
    if (tx_full)
        for (uint64_t i = 0; i < IVSHM_FWD_RING_SLOTS; i++)
            ck_assert_int_eq(ivshm_ring_enqueue(&fwd->tx[0], i), IVSHM_OK);
    for (unsigned i = 0; i < n; i++) {
        uint64_t h;
        ck_assert_int_eq(ivshm_mempool_get(&fwd->pool, NULL, &h), IVSHM_OK);
        struct ivshm_pkt *pkt = ivshm_mempool_ptr(&fwd->pool, h);
        pkt->data_off = IVSHM_PKT_HEADROOM;
        pkt->data_len = 64;
        ivshm_frame_fill((uint8_t *)pkt + IVSHM_PKT_HEADROOM, 64, i, mac);
        ck_assert_int_eq(ivshm_ring_enqueue(&fwd->rx[0], h), IVSHM_OK);
    }
    struct run_arg a = {fwd, 0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, run_thread, &a), 0);
    while (atomic_load(&fwd->ctrl->q[0].received) < n ||
           atomic_load(&fwd->ctrl->state) != IVSHM_FWD_READY)
        sched_yield();
    atomic_store(&fwd->ctrl->state, IVSHM_FWD_EXIT);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(atomic_load(&fwd->ctrl->state), IVSHM_FWD_DONE);
    ck_assert_uint_eq(fwd->ctrl->queues, 1);
    return a.abandoned;
}

START_TEST(test_run_clean_exit)
{
    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(1, &v);
    ck_assert_uint_eq(run_case(100, false, &fwd, &v), 0);
    ck_assert_uint_eq(ivshm_ring_count(&fwd.tx[0]), 100);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].sent), 100);
    uint64_t h, seq;
    ck_assert_int_eq(ivshm_ring_dequeue(&fwd.tx[0], &h), IVSHM_OK);
    ck_assert(ivshm_frame_check((uint8_t *)ivshm_mempool_ptr(&fwd.pool, h) + IVSHM_PKT_HEADROOM, 64,
                                0, &seq));
    ck_assert_uint_eq(seq, 0);
    free(mem);
}
END_TEST

START_TEST(test_run_drain_gives_up)
{
    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(1, &v);
    uint64_t before = __atomic_load_n(&fake_ns, __ATOMIC_RELAXED);
    ck_assert_uint_eq(run_case(5, true, &fwd, &v), 5); /* held, never accepted: abandoned */
    uint64_t waited = __atomic_load_n(&fake_ns, __ATOMIC_RELAXED) - before;
    ck_assert_uint_ge(waited, IVSHM_FWD_DRAIN_NS);
    ck_assert_uint_le(waited, IVSHM_FWD_DRAIN_NS + 10000000); /* not much longer */
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].received), 5);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].sent), 0);
    free(mem);
}
END_TEST

/* F4 of issue 13: a forwarder starts holding nothing. Counters a dead one
 * left with frames held (received > sent + dropped) count them as dropped;
 * counters a peer left with sent above received restart at received = sent. */
START_TEST(test_open_makes_counters_consistent)
{
    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(2, &v);
    struct ivshm_fwd_ctrl *ctrl;
    uint64_t len;
    ck_assert_int_eq(ivshm_memzone_lookup(&v, "ctrl", (void **)&ctrl, &len, NULL), IVSHM_OK);
    atomic_store(&ctrl->q[0].received, 1000);
    atomic_store(&ctrl->q[0].sent, 960);
    atomic_store(&ctrl->q[0].dropped, 8); /* 32 held when it died */
    atomic_store(&ctrl->q[1].received, 5);
    atomic_store(&ctrl->q[1].sent, 70);
    atomic_store(&ctrl->q[1].dropped, 3);
    struct ivshm_error err = {0};
    struct ivshm_fwd_config cfg = {0};
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_uint_eq(atomic_load(&ctrl->q[0].received), 1000);
    ck_assert_uint_eq(atomic_load(&ctrl->q[0].sent), 960);
    ck_assert_uint_eq(atomic_load(&ctrl->q[0].dropped), 40);
    ck_assert_uint_eq(fwd.port[0].dropped, 40);
    ck_assert_uint_eq(atomic_load(&ctrl->q[1].received), 70);
    ck_assert_uint_eq(atomic_load(&ctrl->q[1].dropped), 0);
    ck_assert_uint_eq(fwd.port[1].received, 70);
    free(mem);
}
END_TEST

/* ---- adaptive mode, with a fake doorbell ---- */

#define FAKE_ID 7

/* The doorbell of every segment: peer FAKE_ID; ringing FAKE_ID wakes the
 * forwarder, any ring is logged. */
static struct {
    bool present;
    sem_t bell;
    _Atomic unsigned rung, waits;
    _Atomic uint32_t last; /* peer << 16 | vector of the last ring */
} fake;

static bool fake_lookup(void *ctx, const struct ivshm_segment_view *view, uint16_t *id, void **bell)
{
    (void)view;
    *id = FAKE_ID;
    *bell = ctx;
    return fake.present;
}

static void fake_ring(void *bell, uint16_t peer, uint16_t vector)
{
    ck_assert_ptr_eq(bell, &fake);
    atomic_store(&fake.last, (uint32_t)peer << 16 | vector);
    atomic_fetch_add(&fake.rung, 1);
    if (peer == FAKE_ID)
        sem_post(&fake.bell);
}

static void fake_wait(void *ctx, uint64_t timeout_ns)
{
    ck_assert_ptr_eq(ctx, &fake);
    atomic_fetch_add(&fake.waits, 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ns / 1000000000u);
    ts.tv_nsec += (long)(timeout_ns % 1000000000u);
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    while (sem_timedwait(&fake.bell, &ts) != 0 && errno == EINTR)
        ;
}

static const struct ivshm_fwd_doorbells fake_doorbells = {fake_lookup, fake_ring, fake_wait, &fake};

static void fake_reset(bool present)
{
    fake.present = present;
    sem_init(&fake.bell, 0, 0);
    atomic_store(&fake.rung, 0);
    atomic_store(&fake.waits, 0);
    atomic_store(&fake.last, 0);
}

START_TEST(test_modes)
{
    enum ivshm_fwd_mode m;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_fwd_mode_parse("adaptive", &m, &err), IVSHM_OK);
    ck_assert_int_eq(m, IVSHM_FWD_MODE_ADAPTIVE);
    ck_assert_int_eq(ivshm_fwd_mode_parse("poll", &m, &err), IVSHM_OK);
    ck_assert_int_eq(m, IVSHM_FWD_MODE_POLL);
    ck_assert_int_eq(ivshm_fwd_mode_parse("sleepy", &m, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "mode 'sleepy': not poll or adaptive");
    ck_assert_str_eq(ivshm_fwd_mode_name(IVSHM_FWD_MODE_AUTO), "auto");
    ck_assert_ptr_null(ivshm_fwd_mode_name((enum ivshm_fwd_mode)3));

    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(2, &v);
    struct ivshm_fwd_config cfg = {.doorbells = &fake_doorbells};
    fake_reset(true); /* every segment has a doorbell: auto is adaptive */
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_int_eq(fwd.mode, IVSHM_FWD_MODE_ADAPTIVE);
    ck_assert_int_eq(fwd.ctrl_id, FAKE_ID);
    ck_assert_uint_eq(fwd.port[1].rx_id, FAKE_ID);
    ck_assert_ptr_eq(fwd.port[1].tx_bell, &fake);
    ck_assert_uint_eq(fwd.idle_ns, IVSHM_FWD_IDLE_NS);
    ck_assert_uint_eq(fwd.sleep_ns, IVSHM_FWD_SLEEP_NS);
    cfg.mode = IVSHM_FWD_MODE_POLL; /* asked for: polls, still rings sleepers on tx */
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_int_eq(fwd.mode, IVSHM_FWD_MODE_POLL);
    ck_assert_ptr_nonnull(fwd.port[0].ring);
    fake_reset(false); /* no doorbell: auto polls, adaptive is refused */
    cfg.mode = IVSHM_FWD_MODE_AUTO;
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    ck_assert_int_eq(fwd.mode, IVSHM_FWD_MODE_POLL);
    ck_assert_ptr_null(fwd.port[0].ring);
    cfg.mode = IVSHM_FWD_MODE_ADAPTIVE;
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "adaptive mode: unit/ctrl lies in a segment without a doorbell");
    cfg = (struct ivshm_fwd_config){.mode = IVSHM_FWD_MODE_ADAPTIVE};
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_E_INVAL); /* no doorbells at all */
    cfg.mode = (enum ivshm_fwd_mode)9;
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "mode 9: not auto (0), poll (1) or adaptive (2)");
    free(mem);
}
END_TEST

static void wait_state(struct ivshm_fwd_ctrl *ctrl, uint32_t state)
{
    while (atomic_load(&ctrl->state) != state)
        sched_yield();
}

/* n test frames into `rx` (the host's handle of rx0). */
static void send_frames(struct ivshm_fwd *fwd, struct ivshm_ring *rx, unsigned n, uint64_t first)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t h;
        ck_assert_int_eq(ivshm_mempool_get(&fwd->pool, NULL, &h), IVSHM_OK);
        struct ivshm_pkt *pkt = ivshm_mempool_ptr(&fwd->pool, h);
        pkt->data_off = IVSHM_PKT_HEADROOM;
        pkt->data_len = 64;
        ivshm_frame_fill((uint8_t *)pkt + IVSHM_PKT_HEADROOM, 64, first + i, mac);
        ck_assert_int_eq(ivshm_ring_enqueue(rx, h), IVSHM_OK);
    }
}

/* PAUSE (issue 13 F11, `ivshm repair`): the forwarder gives up what tx
 * refused (counted as dropped), answers PAUSED with consistent counters,
 * stays paused on any state but READY, FWD and EXIT (a peer's garbage too;
 * a PAUSE after it is answered again) while a host rewrites the rings, and
 * on READY forwards again from the new indices; PAUSE again, then EXIT
 * while paused: DONE, nothing abandoned. */
START_TEST(test_run_pause)
{
    static struct ivshm_fwd fwd;
    struct ivshm_segment_view v;
    void *mem = make_fwd_segment(1, &v);
    struct ivshm_error err = {0};
    struct ivshm_fwd_config cfg = {0};
    ck_assert_int_eq(open_fwd(&fwd, &v, &cfg, &err), IVSHM_OK);
    static struct ivshm_ring rx, tx; /* the host's handles */
    ck_assert_int_eq(ivshm_ring_lookup(&v, "rx0", &rx, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_ring_lookup(&v, "tx0", &tx, &err), IVSHM_OK);
    /* tx0 has room for 4: of 10 frames the forwarder holds 6 */
    for (uint64_t i = 0; i < IVSHM_FWD_RING_SLOTS - 4; i++)
        ck_assert_int_eq(ivshm_ring_enqueue(&tx, i), IVSHM_OK);
    send_frames(&fwd, &rx, 10, 0); /* before it starts: its first poll takes all 10 */
    struct run_arg a = {&fwd, 0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, run_thread, &a), 0);
    while (atomic_load(&fwd.ctrl->q[0].received) < 10)
        sched_yield();
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_PAUSE);
    wait_state(fwd.ctrl, IVSHM_FWD_PAUSED);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].received), 10);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].sent), 4);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].dropped), 6);
    /* garbage keeps it paused; its heart beats on */
    atomic_store(&fwd.ctrl->state, 0x77);
    uint64_t beat = atomic_load(&fwd.ctrl->heartbeat);
    while (atomic_load(&fwd.ctrl->heartbeat) == beat)
        sched_yield();
    send_frames(&fwd, &rx, 3, 100); /* not taken while paused */
    usleep(20000);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].received), 10);
    /* a host that asks after the garbage gets its answer too */
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_PAUSE);
    wait_state(fwd.ctrl, IVSHM_FWD_PAUSED);
    /* the repair: both rings emptied, at indices the forwarder never saw */
    atomic_store(&rx.shared->prod.tail, 0x12345678);
    ivshm_ring_reset(&rx);
    ivshm_ring_reset(&tx);
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_READY);
    send_frames(&fwd, &rx, 5, 200);
    uint64_t h, seq;
    for (uint64_t i = 0; i < 5; i++) {
        while (ivshm_ring_dequeue(&tx, &h) != IVSHM_OK)
            sched_yield();
        ck_assert(ivshm_frame_check((uint8_t *)ivshm_mempool_ptr(&fwd.pool, h) + IVSHM_PKT_HEADROOM,
                                    64, 0, &seq));
        ck_assert_uint_eq(seq, 200 + i);
    }
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].sent), 9);
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_PAUSE);
    wait_state(fwd.ctrl, IVSHM_FWD_PAUSED);
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_EXIT);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(a.abandoned, 0);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->state), IVSHM_FWD_DONE);
    ck_assert_uint_eq(ivshm_ring_count(&tx), 0);
    free(mem);
}
END_TEST

/* Takes n frames off tx0 and gives their buffers back. */
static void take_frames(struct ivshm_fwd *fwd, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t h;
        while (ivshm_ring_dequeue(&fwd->tx[0], &h) != IVSHM_OK)
            sched_yield();
        ck_assert_int_eq(ivshm_mempool_put(&fwd->pool, NULL, h), IVSHM_OK);
    }
}

/* Waits until the forwarder asked rx0's producer to ring it: it sleeps. */
static uint32_t await_sleeper(struct ivshm_fwd *fwd)
{
    uint32_t w;
    while (!(w = ivshm_ring_wake_request(&fwd->rx[0], IVSHM_WAKE_CONSUMER)))
        sched_yield();
    return w;
}

/* A forwarder on a fresh one-pair segment (*mem, to free), with the fake
 * doorbell, running ivshm_fwd_run in thread *t. */
static void start_with_fake(struct ivshm_fwd *fwd, struct ivshm_fwd_config *cfg, void **mem,
                            struct run_arg *a, pthread_t *t)
{
    static struct ivshm_segment_view v;
    struct ivshm_error err = {0};
    *mem = make_fwd_segment(1, &v);
    fake_reset(true);
    cfg->doorbells = &fake_doorbells;
    ck_assert_int_eq(open_fwd(fwd, &v, cfg, &err), IVSHM_OK);
    *a = (struct run_arg){fwd, 0};
    ck_assert_int_eq(pthread_create(t, NULL, run_thread, a), 0);
}

START_TEST(test_adaptive_sleeps_and_wakes)
{
    static struct ivshm_fwd fwd;
    void *mem;
    struct run_arg a;
    pthread_t t;
    /* A long sleep bound: every wake-up below must come from a doorbell. */
    struct ivshm_fwd_config cfg = {.sleep_ns = 30000000000ull};
    start_with_fake(&fwd, &cfg, &mem, &a, &t);
    for (unsigned burst = 0; burst < 3; burst++) {
        uint32_t w = await_sleeper(&fwd);
        ck_assert_uint_eq(ivshm_wake_peer(w), FAKE_ID);
        ck_assert_uint_eq(ivshm_wake_vector(w), IVSHM_FWD_VECTOR);
        send_frames(&fwd, &fwd.rx[0], 10, burst * 10);
        /* What a producer does after publishing (pktgen's wake_forwarder). */
        w = ivshm_ring_wake_needed(&fwd.rx[0], IVSHM_WAKE_CONSUMER);
        ck_assert_uint_ne(w, 0);
        fake_ring(&fake, ivshm_wake_peer(w), ivshm_wake_vector(w));
        take_frames(&fwd, 10);
    }
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->doorbell), FAKE_ID + 1);
    /* A consumer asleep on tx0 (peer 42, vector 3) is rung once, after the
     * forwarder published. */
    await_sleeper(&fwd);
    ck_assert(ivshm_ring_arm_wake(&fwd.tx[0], IVSHM_WAKE_CONSUMER, 42, 3, 1));
    send_frames(&fwd, &fwd.rx[0], 5, 30);
    fake_ring(&fake, FAKE_ID, IVSHM_FWD_VECTOR);
    take_frames(&fwd, 5);
    while (atomic_load(&fwd.ctrl->q[0].rings) == 0)
        sched_yield();
    ck_assert_uint_eq(atomic_load(&fake.last), 42u << 16 | 3);
    /* A garbage request (a peer and a vector that do not exist) is rung as
     * written, once: the platform's ring copes with it. */
    await_sleeper(&fwd);
    atomic_store(&fwd.tx[0].shared->prod.wake, 0xFFFFFFFFu);
    send_frames(&fwd, &fwd.rx[0], 1, 35);
    fake_ring(&fake, FAKE_ID, IVSHM_FWD_VECTOR);
    take_frames(&fwd, 1);
    while (atomic_load(&fwd.ctrl->q[0].rings) < 2)
        sched_yield();
    ck_assert_uint_eq(atomic_load(&fake.last), 0xFFFFu << 16 | IVSHM_WAKE_VECTOR_MAX);
    /* EXIT while it sleeps: the host rings ctrl.doorbell - 1 after its store. */
    await_sleeper(&fwd);
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_EXIT);
    fake_ring(&fake, atomic_load(&fwd.ctrl->doorbell) - 1, IVSHM_FWD_VECTOR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(a.abandoned, 0);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->state), IVSHM_FWD_DONE);
    struct ivshm_fwd_counters *c = &fwd.ctrl->q[0];
    ck_assert_uint_eq(atomic_load(&c->received), 36);
    ck_assert_uint_eq(atomic_load(&c->sent), 36);
    ck_assert_uint_eq(atomic_load(&c->rings), 2);
    /* Six sleeps, each ended by a doorbell: three rung through rx0's request
     * (the bursts), three directly (the tx and garbage rounds, and EXIT). */
    ck_assert_uint_eq(atomic_load(&c->sleeps), 6);
    ck_assert_uint_eq(atomic_load(&c->wakeups), 3);
    ck_assert_uint_eq(ivshm_ring_wake_request(&fwd.rx[0], IVSHM_WAKE_CONSUMER), 0);
    free(mem);
}
END_TEST

START_TEST(test_poll_mode_rings_nothing)
{
    static struct ivshm_fwd fwd;
    void *mem;
    struct run_arg a;
    pthread_t t;
    struct ivshm_fwd_config cfg = {.mode = IVSHM_FWD_MODE_POLL};
    start_with_fake(&fwd, &cfg, &mem, &a, &t);
    for (unsigned i = 0; i < 200; i++) { /* idle spells between bursts: still no sleep */
        send_frames(&fwd, &fwd.rx[0], 20, i * 20);
        take_frames(&fwd, 20);
        ck_assert_uint_eq(ivshm_ring_wake_request(&fwd.rx[0], IVSHM_WAKE_CONSUMER), 0);
    }
    while (atomic_load(&fwd.ctrl->state) != IVSHM_FWD_READY)
        sched_yield();
    atomic_store(&fwd.ctrl->state, IVSHM_FWD_EXIT);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->doorbell), 0); /* never sleeps: nothing to ring */
    ck_assert_uint_eq(atomic_load(&fake.rung), 0);
    ck_assert_uint_eq(atomic_load(&fake.waits), 0);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].sleeps), 0);
    ck_assert_uint_eq(atomic_load(&fwd.ctrl->q[0].sent), 4000);
    free(mem);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fwd");
    test_case(s, "module",
              (const TTest *[]){test_preset, test_frames, test_open_defaults,
                                test_open_paths_and_errors, test_open_makes_counters_consistent,
                                NULL});
    test_case(s, "mac",
              (const TTest *[]){test_mac_mode_names, test_mac_keep_leaves_every_byte,
                                test_mac_rewrite_changes_the_addresses_only,
                                test_mac_keep_checks_bounds, test_mac_rewrite_checks_bounds, NULL});
    TCase *layout = tcase_create("layout");
    tcase_add_loop_test(layout, test_frame_layout, 0, 11);
    suite_add_tcase(s, layout);
    TCase *run = test_case(
        s, "run",
        (const TTest *[]){test_run_clean_exit, test_run_drain_gives_up, test_run_pause, NULL});
    tcase_set_tags(run, "threads");
    tcase_set_timeout(run, 60);
    test_case(s, "modes", (const TTest *[]){test_modes, NULL});
    TCase *adaptive = test_case(
        s, "adaptive",
        (const TTest *[]){test_adaptive_sleeps_and_wakes, test_poll_mode_rings_nothing, NULL});
    tcase_set_tags(adaptive, "threads");
    tcase_set_timeout(adaptive, 60);
    return test_run(s);
}
