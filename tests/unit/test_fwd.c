/* SPDX-License-Identifier: BSD-3-Clause */
/* The forwarding loop's MAC modes: rewrite (l2fwd) changes exactly the
 * Ethernet addresses, keep leaves every byte as it came; both drop frames
 * that do not lie inside their buffer. */
#include <check.h>
#include <string.h>

#include "ivshm/fwd.h"
#include "test_util.h"

#define SEG_SIZE   (1u << 20)
#define POOL_COUNT 16u
#define OBJ_SIZE   256u
#define SLOTS      16u

struct fixture {
    void *mem;
    struct ivshm_segment_view view;
    struct ivshm_mempool pool;
    struct ivshm_ring rx, tx;
    struct ivshm_fwd_counters counters;
    struct ivshm_fwd_port port;
};

static void attach_ring(struct fixture *f, struct ivshm_ring *r, const char *name)
{
    struct ivshm_dir_entry e;
    struct ivshm_error err = {0};
    test_find(&f->view, name, IVSHM_OBJ_RING, &e);
    ck_assert_int_eq(ivshm_ring_attach(r, &f->view, &e, &err), IVSHM_OK);
}

static void setup(struct fixture *f, uint8_t mac_mode)
{
    struct ivshm_builder b;
    struct ivshm_error err = {0};
    memset(f, 0, sizeof(*f));
    f->mem = test_seg_alloc(SEG_SIZE);
    test_builder_init(&b, f->mem, SEG_SIZE, 8, 4);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "pkts", POOL_COUNT, OBJ_SIZE, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "rx0", SLOTS, IVSHM_RING_SPSC, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "tx0", SLOTS, IVSHM_RING_SPSC, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
    test_validate(f->mem, SEG_SIZE, &f->view);
    struct ivshm_dir_entry e;
    test_find(&f->view, "pkts", IVSHM_OBJ_MEMPOOL, &e);
    ck_assert_int_eq(ivshm_mempool_attach(&f->pool, &f->view, &e, 0, &err), IVSHM_OK);
    attach_ring(f, &f->rx, "rx0");
    attach_ring(f, &f->tx, "tx0");
    static const uint8_t mac[6] = {0x02, 0, 0, 0, 0x10, 0};
    ivshm_fwd_port_init(&f->port, &f->rx, &f->tx, &f->pool, &f->counters, mac, 7, 32);
    f->port.mac_mode = mac_mode;
}

/* A frame of `len` bytes at data_off `off`: byte i is i * 7 + 3. */
static uint64_t send_frame(struct fixture *f, uint32_t off, uint32_t len)
{
    uint64_t h;
    ck_assert_int_eq(ivshm_mempool_get(&f->pool, NULL, &h), IVSHM_OK);
    uint8_t *obj = ivshm_mempool_ptr(&f->pool, h);
    struct ivshm_pkt *pkt = (struct ivshm_pkt *)obj;
    pkt->data_off = (uint16_t)off;
    pkt->data_len = len;
    for (uint32_t i = 0; off + i < OBJ_SIZE && i < len; i++)
        obj[off + i] = (uint8_t)(i * 7 + 3);
    ck_assert_uint_eq(ivshm_ring_enqueue_burst(&f->rx, &h, 1, NULL), 1);
    return h;
}

static void check_payload(const uint8_t *frame, uint32_t from, uint32_t len)
{
    for (uint32_t i = from; i < len; i++)
        EXPECT_EQ(frame[i], (uint8_t)(i * 7 + 3));
}

START_TEST(keep_leaves_every_byte)
{
    struct fixture f;
    setup(&f, IVSHM_FWD_MAC_KEEP);
    static const uint32_t lens[] = {14, 60, 64, 65, 128, OBJ_SIZE - IVSHM_PKT_HEADROOM};
    uint64_t h[6];
    for (unsigned i = 0; i < 6; i++)
        h[i] = send_frame(&f, IVSHM_PKT_HEADROOM, lens[i]);
    ck_assert_uint_eq(ivshm_fwd_poll(&f.port), 6);
    for (unsigned i = 0; i < 6; i++) {
        uint64_t out;
        ck_assert_uint_eq(ivshm_ring_dequeue_burst(&f.tx, &out, 1, NULL), 1);
        ck_assert_uint_eq(out, h[i]); /* in order */
        const uint8_t *obj = ivshm_mempool_ptr(&f.pool, out);
        ck_assert_uint_eq(((const struct ivshm_pkt *)obj)->data_len, lens[i]);
        check_payload(obj + IVSHM_PKT_HEADROOM, 0, lens[i]);
    }
    ck_assert_uint_eq(f.port.sent, 6);
    ck_assert_uint_eq(f.port.dropped, 0);
    free(f.mem);
}
END_TEST

START_TEST(rewrite_changes_the_addresses_only)
{
    struct fixture f;
    setup(&f, IVSHM_FWD_MAC_REWRITE);
    send_frame(&f, IVSHM_PKT_HEADROOM, 100);
    ck_assert_uint_eq(ivshm_fwd_poll(&f.port), 1);
    uint64_t out;
    ck_assert_uint_eq(ivshm_ring_dequeue_burst(&f.tx, &out, 1, NULL), 1);
    const uint8_t *frame = (const uint8_t *)ivshm_mempool_ptr(&f.pool, out) + IVSHM_PKT_HEADROOM;
    static const uint8_t want[12] = {0x02, 0, 0, 0, 0, 7, 0x02, 0, 0, 0, 0x10, 0};
    ck_assert_mem_eq(frame, want, 12);
    check_payload(frame, 12, 100);
    free(f.mem);
}
END_TEST

/* Both modes check the frame lies inside its buffer before forwarding it. */
static void check_bounds(uint8_t mode)
{
    struct fixture f;
    setup(&f, mode);
    send_frame(&f, IVSHM_PKT_HEADROOM, OBJ_SIZE - IVSHM_PKT_HEADROOM + 1); /* one byte past */
    send_frame(&f, 8, 64);                                                 /* over the header */
    send_frame(&f, IVSHM_PKT_HEADROOM, 13);                                /* no Ethernet header */
    send_frame(&f, IVSHM_PKT_HEADROOM, 64);                                /* good */
    ck_assert_uint_eq(ivshm_fwd_poll(&f.port), 1);
    ck_assert_uint_eq(f.port.dropped, 3);
    ck_assert_uint_eq(ivshm_ring_count(&f.tx), 1);
    free(f.mem);
}

START_TEST(keep_checks_bounds)
{
    check_bounds(IVSHM_FWD_MAC_KEEP);
}
END_TEST

START_TEST(rewrite_checks_bounds)
{
    check_bounds(IVSHM_FWD_MAC_REWRITE);
}
END_TEST

START_TEST(init_defaults_to_rewrite)
{
    struct fixture f;
    setup(&f, IVSHM_FWD_MAC_KEEP);
    static const uint8_t mac[6] = {0};
    ivshm_fwd_port_init(&f.port, &f.rx, &f.tx, &f.pool, &f.counters, mac, 0, 32);
    ck_assert_uint_eq(f.port.mac_mode, IVSHM_FWD_MAC_REWRITE);
    free(f.mem);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fwd");
    TCase *tc = tcase_create("mac");
    tcase_add_test(tc, keep_leaves_every_byte);
    tcase_add_test(tc, rewrite_changes_the_addresses_only);
    tcase_add_test(tc, keep_checks_bounds);
    tcase_add_test(tc, rewrite_checks_bounds);
    tcase_add_test(tc, init_defaults_to_rewrite);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
