/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Names read from a segment reach messages (validation errors, inspect,
 * list): a peer that writes a newline or a terminal escape into a name must
 * get a one-line error that quotes none of it. Found by tests/fuzz
 * (fuzz_segment_fixed: "object name '\x01' is empty or has a character...");
 * party labels (not covered by the checksum) come back printable.
 */
#include "test_run.h"
#include "test_util.h"
#include "ivshm/party.h"

static void expect_clean_rejection(void *mem, uint64_t size, const char *needle)
{
    struct ivshm_segment_view view;
    struct ivshm_error err = {0};
    test_reseal(mem, size);
    ck_assert_int_eq(ivshm_segment_validate(mem, size, &view, &err), IVSHM_E_BADSEG);
    for (const char *p = err.msg; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in '%s'", err.msg);
    ck_assert_msg(strstr(err.msg, needle), "'%s' does not say '%s'", err.msg, needle);
}

enum { SIZE = 64 << 10 };

/* A segment of SIZE bytes in fresh memory, with ring "rx" when `ring`. */
static uint8_t *small_segment(struct ivshm_builder *b, bool ring)
{
    uint8_t *mem = test_seg_alloc(SIZE);
    struct ivshm_error err;
    test_builder_init(b, mem, SIZE, 4, 4);
    if (ring)
        ck_assert_int_eq(ivshm_builder_add_ring(b, "rx", 8, 0, &err), IVSHM_OK);
    ivshm_builder_finalize(b);
    return mem;
}

START_TEST(test_object_name_with_control_bytes)
{
    const uint64_t size = SIZE;
    struct ivshm_builder b;
    uint8_t *mem = small_segment(&b, true);
    memcpy(b.dir[0].name, "r\nx", 4);
    expect_clean_rejection(mem, size, "object name: byte 0x0a at offset 1");
    memcpy(b.dir[0].name, "\x1b[2J", 5);
    expect_clean_rejection(mem, size, "object name: byte 0x1b at offset 0");
    b.dir[0].name[0] = 0;
    expect_clean_rejection(mem, size, "object name is empty");
    memset(b.dir[0].name, 'A', sizeof(b.dir[0].name));
    expect_clean_rejection(mem, size, "object name is not terminated");
    free(mem);
}
END_TEST

START_TEST(test_segment_name_with_control_bytes)
{
    const uint64_t size = SIZE;
    struct ivshm_builder b;
    uint8_t *mem = small_segment(&b, false);
    memcpy(b.hdr->name, "vm\n1", 5);
    expect_clean_rejection(mem, size, "segment name: byte 0x0a at offset 2");
    b.hdr->name[0] = 0;
    expect_clean_rejection(mem, size, "segment name is empty");
    memset(b.hdr->name, 'v', sizeof(b.hdr->name));
    expect_clean_rejection(mem, size, "segment name is not terminated");
    memcpy(b.hdr->name, "vm-1_ok", 8);
    struct ivshm_segment_view view;
    test_reseal(mem, size);
    test_validate(mem, size, &view);
    free(mem);
}
END_TEST

START_TEST(test_party_label_with_control_bytes)
{
    struct ivshm_builder b;
    uint8_t *mem = small_segment(&b, false);
    struct ivshm_segment_view view;
    test_validate(mem, SIZE, &view);
    int idx = ivshm_party_claim(&view, IVSHM_PARTY_HOST, 7, 1, "ok");
    ck_assert_int_ge(idx, 0);
    /* A peer writes a newline, an escape and a byte above 0x7e, and no
     * terminator: the copy is one printable, terminated line. */
    char *label = view.parties[idx].label;
    memset(label, 'L', sizeof(view.parties[idx].label));
    memcpy(label, "a\nb\x1b[2J\xff", 8);
    struct ivshm_party copy;
    ck_assert_int_eq(ivshm_party_get(&view, (uint32_t)idx, &copy, NULL), IVSHM_OK);
    ck_assert_str_eq(copy.label, "a?b?[2J?LLLLLLLLLLLLLLL");
    free(mem);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("segment_names");
    test_case(s, "names",
              (const TTest *[]){test_object_name_with_control_bytes,
                                test_segment_name_with_control_bytes,
                                test_party_label_with_control_bytes, NULL});
    return test_run(s);
}
