/* SPDX-License-Identifier: BSD-3-Clause */
/* The segment ABI: layout, builder, validation rules, lookup, party table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "ivshm/layout.h"
#include "ivshm/segment.h"
#include "test_util.h"

#define SEG_SIZE (1u << 20)

/* ---- layout ---- */

START_TEST(test_layout_sizes_and_offsets)
{
    /* The same numbers docs/abi.md gives; a change here is an ABI break. */
    ck_assert_uint_eq(sizeof(struct ivshm_segment_header), 256);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, magic), 0);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, abi_version), 8);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, header_size), 12);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, segment_size), 16);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, page_size), 24);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, numa_node), 32);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, flags), 36);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, generation), 40);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, checksum), 48);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, object_count), 52);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, dir_capacity), 56);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, party_capacity), 60);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, dir_offset), 64);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, party_offset), 72);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, data_offset), 80);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, data_end), 88);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, name), 96);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, created_unix_ns), 128);
    ck_assert_uint_eq(offsetof(struct ivshm_segment_header, reserved), 136);

    ck_assert_uint_eq(sizeof(struct ivshm_dir_entry), 64);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, name), 0);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, type), 32);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, flags), 36);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, offset), 40);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, length), 48);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, param0), 56);
    ck_assert_uint_eq(offsetof(struct ivshm_dir_entry, param1), 60);

    ck_assert_uint_eq(sizeof(struct ivshm_party), 64);
    ck_assert_uint_eq(offsetof(struct ivshm_party, state), 0);
    ck_assert_uint_eq(offsetof(struct ivshm_party, kind), 4);
    ck_assert_uint_eq(offsetof(struct ivshm_party, pid), 8);
    ck_assert_uint_eq(offsetof(struct ivshm_party, start_time), 16);
    ck_assert_uint_eq(offsetof(struct ivshm_party, heartbeat), 24);
    ck_assert_uint_eq(offsetof(struct ivshm_party, attach_count), 32);
    ck_assert_uint_eq(offsetof(struct ivshm_party, label), 40);

    ck_assert_uint_eq(sizeof(struct ivshm_ring_side), 64);
    ck_assert_uint_eq(offsetof(struct ivshm_ring_side, head), 0);
    ck_assert_uint_eq(offsetof(struct ivshm_ring_side, tail), 4);
    ck_assert_uint_eq(offsetof(struct ivshm_ring_side, events), 8);
    ck_assert_uint_eq(sizeof(struct ivshm_ring_shared), 256);
    ck_assert_uint_eq(offsetof(struct ivshm_ring_shared, prod), 0);
    ck_assert_uint_eq(offsetof(struct ivshm_ring_shared, cons), 128);

    ck_assert_uint_eq(IVSHM_OBJ_RING, 1);
    ck_assert_uint_eq(IVSHM_OBJ_MEMPOOL, 2);
    ck_assert_uint_eq(IVSHM_OBJ_MEMZONE, 3);
    ck_assert_uint_eq(IVSHM_OBJ_ALLOCATED(5), 0x45);
    ck_assert_uint_eq(IVSHM_OBJ_CACHED(63), 0xbf);
    ck_assert(IVSHM_OBJ_IS_ALLOCATED(0x7f) && !IVSHM_OBJ_IS_CACHED(0x7f));
    ck_assert(IVSHM_OBJ_IS_CACHED(0x80) && !IVSHM_OBJ_IS_ALLOCATED(0x80));
    ck_assert_uint_eq(IVSHM_OBJ_PARTY(0xbf), 63);
}
END_TEST

START_TEST(test_layout_arithmetic)
{
    ck_assert_uint_eq(ivshm_next_pow2(0), 1);
    ck_assert_uint_eq(ivshm_next_pow2(1), 1);
    ck_assert_uint_eq(ivshm_next_pow2(3), 4);
    ck_assert_uint_eq(ivshm_next_pow2(4096), 4096);
    ck_assert_uint_eq(ivshm_next_pow2(4097), 8192);
    ck_assert(ivshm_is_pow2(1) && ivshm_is_pow2(1ull << 63));
    ck_assert(!ivshm_is_pow2(0) && !ivshm_is_pow2(6));
    ck_assert_uint_eq(ivshm_ring_bytes(1024), 256 + 8192);

    struct ivshm_mempool_layout lay;
    ck_assert_int_eq(ivshm_mempool_layout(100, 150, &lay), IVSHM_OK);
    ck_assert_uint_eq(lay.ring_slots, 128);
    ck_assert_uint_eq(lay.stride, 192);
    ck_assert_uint_eq(lay.state_off, 256 + 128 * 8);
    ck_assert_uint_eq(lay.objs_off % 64, 0);
    ck_assert_uint_ge(lay.objs_off, lay.state_off + 100);
    ck_assert_uint_eq(lay.length, lay.objs_off + 100 * 192);
    ck_assert_int_eq(ivshm_mempool_layout(0, 64, &lay), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_mempool_layout(1, 0, &lay), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_mempool_layout(IVSHM_MEMPOOL_MAX_OBJ + 1, 64, &lay), IVSHM_E_INVAL);

    ck_assert_uint_eq(ivshm_metadata_bytes(16, 16), 256 + 16 * 64 + 16 * 64);
}
END_TEST

START_TEST(test_crc32c_known_value)
{
    ck_assert_uint_eq(ivshm_crc32c(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(ivshm_crc32c(0, "", 0), 0);
    /* Continuing from a previous value gives the CRC of the concatenation. */
    ck_assert_uint_eq(ivshm_crc32c(ivshm_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}
END_TEST

START_TEST(test_format)
{
    char buf[64];
    ck_assert_int_eq(ivshm_format(buf, sizeof(buf), "%s=%d/%u/%x/%llx/%c%%", "v", -42, 7u, 255u,
                                  0x123456789abcull, 'z'),
                     (int)strlen("v=-42/7/ff/123456789abc/z%"));
    ck_assert_str_eq(buf, "v=-42/7/ff/123456789abc/z%");
    ivshm_format(buf, sizeof(buf), "%lld %zu", (long long)INT64_MIN, (size_t)12345);
    ck_assert_str_eq(buf, "-9223372036854775808 12345");
    /* Truncation keeps the terminator and reports the full length. */
    char small[5];
    ck_assert_int_eq(ivshm_format(small, sizeof(small), "abcdefgh"), 8);
    ck_assert_str_eq(small, "abcd");

    struct ivshm_error err;
    ck_assert_int_eq(ivshm_fail(&err, IVSHM_E_NOENT, "x %s", "y"), IVSHM_E_NOENT);
    ck_assert_int_eq(err.code, IVSHM_E_NOENT);
    ck_assert_str_eq(err.msg, "x y");
    ck_assert_int_eq(ivshm_fail(NULL, IVSHM_E_INVAL, "ignored"), IVSHM_E_INVAL);
    ck_assert_str_eq(ivshm_strerror(IVSHM_E_FOREIGN), "handle is not an object of this pool");
}
END_TEST

/* ---- builder and validation ---- */

/* A finalized 1 MiB segment: ring "rx" (spsc, 1024), ring "tx" (mpmc, 256),
 * mempool "pkts" (100 x 150 B), memzone "ctrl" (4096 B, 4096-aligned),
 * memzone "tail" (100 B). */
static void build_sample(void *mem)
{
    struct ivshm_builder b;
    struct ivshm_error err = {0};
    test_builder_init(&b, mem, SEG_SIZE, 32, 8);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "rx", 1024, IVSHM_RING_SPSC, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "tx", 256, IVSHM_RING_MPMC, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "pkts", 100, 150, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "ctrl", 4096, 4096, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "tail", 100, 0, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
}

static struct ivshm_dir_entry *dir_of(void *mem)
{
    struct ivshm_segment_header *h = mem;
    return (struct ivshm_dir_entry *)((uint8_t *)mem + h->dir_offset);
}

START_TEST(test_builder_round_trip)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    build_sample(mem);
    struct ivshm_segment_view v;
    test_validate(mem, SEG_SIZE, &v);

    struct ivshm_segment_header *h = mem;
    ck_assert_mem_eq(h->magic, "IVSHMSEG", 8);
    ck_assert_uint_eq(h->abi_version, IVSHM_ABI_VERSION);
    ck_assert_uint_eq(h->header_size, 256);
    ck_assert_uint_eq(h->segment_size, SEG_SIZE);
    ck_assert_uint_eq(h->page_size, 4096);
    ck_assert_int_eq(h->numa_node, -1);
    ck_assert_uint_eq(h->flags & IVSHM_SEG_FINALIZED, IVSHM_SEG_FINALIZED);
    ck_assert_uint_eq(h->generation, 1);
    ck_assert_uint_eq(h->party_offset, 256);
    ck_assert_uint_eq(h->party_capacity, 8);
    ck_assert_uint_eq(h->dir_offset % 64, 0);
    ck_assert_uint_ge(h->dir_offset, 256 + 8 * 64);
    ck_assert_uint_ge(h->data_offset, h->dir_offset + 32 * 64);
    ck_assert_uint_eq(h->checksum, ivshm_segment_checksum(h, dir_of(mem), h->object_count));
    /* The builder zeroed the metadata: the pattern must not show through. */
    for (size_t i = 0; i < sizeof(h->reserved); i++)
        ck_assert_uint_eq(h->reserved[i], 0);

    ck_assert_ptr_eq(v.base, mem);
    ck_assert_uint_eq(v.size, SEG_SIZE);
    ck_assert_uint_eq(v.object_count, 5);
    ck_assert_uint_eq(v.party_capacity, 8);
    ck_assert_uint_eq(v.generation, 1);
    ck_assert_str_eq(v.name, "unit");

    struct ivshm_dir_entry e;
    test_find(&v, "rx", IVSHM_OBJ_RING, &e);
    ck_assert_uint_eq(e.param0, 1024);
    ck_assert_uint_eq(e.param1, IVSHM_RING_SPSC);
    ck_assert_uint_eq(e.length, ivshm_ring_bytes(1024));
    ck_assert_uint_ge(e.offset, h->data_offset);
    uint64_t prev_end = e.offset + e.length;
    test_find(&v, "tx", IVSHM_OBJ_RING, &e);
    ck_assert_uint_eq(e.param0, 256);
    ck_assert_uint_eq(e.param1, IVSHM_RING_MPMC);
    ck_assert_uint_ge(e.offset, prev_end);
    test_find(&v, "pkts", IVSHM_OBJ_MEMPOOL, &e);
    ck_assert_uint_eq(e.param0, 100);
    ck_assert_uint_eq(e.param1, 150);
    struct ivshm_mempool_layout lay;
    ivshm_mempool_layout(100, 150, &lay);
    ck_assert_uint_eq(e.length, lay.length);
    test_find(&v, "ctrl", IVSHM_OBJ_MEMZONE, &e);
    ck_assert_uint_eq(e.offset % 4096, 0);
    ck_assert_uint_eq(e.length, 4096);
    ck_assert_uint_eq(e.param0, 4096);
    /* A memzone's memory starts zeroed. */
    for (uint64_t i = 0; i < e.length; i++)
        ck_assert_uint_eq(((uint8_t *)mem)[e.offset + i], 0);
    test_find(&v, "tail", IVSHM_OBJ_MEMZONE, &e);
    ck_assert_uint_eq(e.param0, 64);
    ck_assert_uint_eq(e.offset % 64, 0);
    ck_assert_uint_eq(h->data_end, e.offset + e.length);
    free(mem);
}
END_TEST

START_TEST(test_find_by_name_and_type)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    build_sample(mem);
    struct ivshm_segment_view v;
    test_validate(mem, SEG_SIZE, &v);
    struct ivshm_dir_entry e;
    struct ivshm_error err = {0};

    ck_assert_int_eq(ivshm_object_lookup(&v, "pkts", 0, &e, &err), IVSHM_OK);
    ck_assert_uint_eq(e.type, IVSHM_OBJ_MEMPOOL);
    ck_assert_str_eq(e.name, "pkts");
    /* Right name, wrong type. */
    ck_assert_int_eq(ivshm_object_lookup(&v, "pkts", IVSHM_OBJ_RING, &e, &err), IVSHM_E_NOENT);
    ck_assert_str_eq(err.msg, "unit/pkts: no ring of that name");
    ck_assert_int_eq(ivshm_object_lookup(&v, "nope", 0, &e, &err), IVSHM_E_NOENT);
    ck_assert_str_eq(err.msg, "unit/nope: no object of that name");
    /* A prefix or an extension of a name is another name. */
    ck_assert_int_eq(ivshm_object_lookup(&v, "pkt", 0, &e, &err), IVSHM_E_NOENT);
    ck_assert_int_eq(ivshm_object_lookup(&v, "pktsx", 0, &e, &err), IVSHM_E_NOENT);

    /* A peer damaging an entry after validation: find re-checks it. */
    dir_of(mem)[0].offset = SEG_SIZE - 64;
    ck_assert_int_eq(ivshm_object_lookup(&v, "rx", IVSHM_OBJ_RING, &e, &err), IVSHM_E_BADSEG);
    ck_assert_ptr_nonnull(strstr(err.msg, "unit/rx"));
    ck_assert_ptr_nonnull(strstr(err.msg, "ends past the segment end"));
    free(mem);
}
END_TEST

/* Expects validation of mem to fail with `code` and a message containing `what`. */
static void expect_invalid(void *mem, uint64_t mapped, int code, const char *what)
{
    struct ivshm_segment_view v;
    struct ivshm_error err = {0};
    int rc = ivshm_segment_validate(mem, mapped, &v, &err);
    ck_assert_msg(rc == code, "validate returned %d (%s), expected %d", rc, err.msg, code);
    ck_assert_msg(strstr(err.msg, what) != NULL, "message '%s' lacks '%s'", err.msg, what);
    ck_assert_int_eq(err.code, code);
}

/* Each rule of ivshm_segment_validate, violated on its own. Loop index =
 * rule; every case starts from a fresh valid segment. */
enum {
    RULE_SHORT_MAPPING,
    RULE_BAD_MAGIC,
    RULE_ABI_VERSION,
    RULE_HEADER_SIZE,
    RULE_SIZE_NOT_POW2,
    RULE_SIZE_ABOVE_MAPPING,
    RULE_BAD_CHECKSUM,
    RULE_HUGE_OBJECT_COUNT,
    RULE_HUGE_DIR_CAPACITY,
    RULE_PARTY_TABLE,
    RULE_DIR_OFFSET_WRAPS,
    RULE_DATA_OFFSET,
    RULE_PAST_END,
    RULE_OVERLAP,
    RULE_UNTERMINATED_NAME,
    RULE_EMPTY_NAME,
    RULE_BAD_CHARACTER,
    RULE_DUPLICATE_NAME,
    RULE_MEMPOOL_LENGTH,
    RULE_RING_LENGTH,
    RULE_RING_SLOTS,
    RULE_RING_MODE,
    RULE_MISALIGNED_OFFSET,
    RULE_MEMZONE_ALIGNMENT,
    RULE_MEMZONE_BAD_ALIGN_VALUE,
    RULE_INSIDE_METADATA,
    RULE_UNKNOWN_TYPE,
    RULE_UNKNOWN_FLAGS,
    RULE_ZERO_LENGTH,
    RULE_COUNT
};

START_TEST(test_validate_rejects)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    build_sample(mem);
    struct ivshm_segment_header *h = mem;
    struct ivshm_dir_entry *d = dir_of(mem);
    /* d[0] rx, d[1] tx, d[2] pkts, d[3] ctrl, d[4] tail */
    switch (_i) {
    case RULE_SHORT_MAPPING:
        expect_invalid(mem, 100, IVSHM_E_NOTSEG, "less than a header");
        break;
    case RULE_BAD_MAGIC:
        h->magic[7] = 'X';
        expect_invalid(mem, SEG_SIZE, IVSHM_E_NOTSEG, "bad magic");
        break;
    case RULE_ABI_VERSION:
        h->abi_version = 2;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_VERSION, "ABI version 2");
        break;
    case RULE_HEADER_SIZE:
        h->header_size = 512;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "header size 512");
        break;
    case RULE_SIZE_NOT_POW2:
        h->segment_size = SEG_SIZE - 4096;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "not a power of two");
        break;
    case RULE_SIZE_ABOVE_MAPPING:
        expect_invalid(mem, SEG_SIZE / 2, IVSHM_E_BADSEG, "within the 524288 bytes mapped");
        break;
    case RULE_BAD_CHECKSUM:
        d[4].name[0] = 'T'; /* still a valid name: only the checksum tells */
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "checksum mismatch");
        break;
    case RULE_HUGE_OBJECT_COUNT:
        h->object_count = 0xffffffffu; /* 256 GiB of directory: refused before reading it */
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG,
                       "object count 4294967295 exceeds directory capacity 32");
        break;
    case RULE_HUGE_DIR_CAPACITY:
        h->dir_capacity = IVSHM_MAX_OBJECTS + 1;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "directory capacity 16385 exceeds");
        break;
    case RULE_PARTY_TABLE:
        h->party_capacity = IVSHM_MAX_PARTIES + 1;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "party table");
        break;
    case RULE_DIR_OFFSET_WRAPS:
        /* dir_offset + capacity * 64 wraps around to 64: the directory
         * would lie just before the segment. */
        h->dir_offset = 0ull - 64;
        h->dir_capacity = 2;
        h->object_count = 1;
        h->checksum = 0;
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "outside the 1048576-byte segment");
        break;
    case RULE_DATA_OFFSET:
        h->data_offset = SEG_SIZE + 64;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "data offset");
        break;
    case RULE_PAST_END:
        d[4].length = SEG_SIZE;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "ends past the segment end");
        break;
    case RULE_OVERLAP:
        d[4].offset = d[3].offset + 64;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "object 4 'tail'");
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "overlaps the previous object");
        break;
    case RULE_UNTERMINATED_NAME:
        memset(d[1].name, 'n', IVSHM_NAME_SIZE);
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "object 1: object name is not terminated");
        break;
    case RULE_EMPTY_NAME:
        d[1].name[0] = 0;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG,
                       "object name is empty; must be 1 to 31 characters of [A-Za-z0-9_-]");
        break;
    case RULE_BAD_CHARACTER:
        strcpy(d[1].name, "t x");
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "object name 't x': byte 0x20 at offset 1");
        break;
    case RULE_DUPLICATE_NAME:
        strcpy(d[4].name, "rx");
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "objects 0 and 4 are both named 'rx'");
        break;
    case RULE_MEMPOOL_LENGTH:
        d[2].length -= 64;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "mempool 'pkts': length");
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "does not match count 100 x size 150");
        break;
    case RULE_RING_LENGTH:
        d[1].length -= 8;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "ring 'tx': length 2296");
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "does not match 256 slots");
        break;
    case RULE_RING_SLOTS:
        d[1].param0 = 255;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "ring 'tx': slots=255 is not a power of two");
        break;
    case RULE_RING_MODE:
        d[1].param1 = 4;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "ring 'tx': unknown mode 0x4");
        break;
    case RULE_MISALIGNED_OFFSET:
        d[4].offset += 8;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "is not 64-byte aligned");
        break;
    case RULE_MEMZONE_ALIGNMENT:
        /* 64-aligned, but the memzone asked for 4096. */
        d[3].offset += 64;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "memzone 'ctrl'");
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "is not 4096-aligned");
        break;
    case RULE_MEMZONE_BAD_ALIGN_VALUE:
        d[3].param0 = 32;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "alignment 32 is not a power of two >= 64");
        break;
    case RULE_INSIDE_METADATA:
        d[0].offset = h->dir_offset;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "lies inside the metadata");
        break;
    case RULE_UNKNOWN_TYPE:
        d[4].type = 9;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "unknown type 9");
        break;
    case RULE_UNKNOWN_FLAGS:
        d[4].flags = 2;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "unknown flags 0x2");
        break;
    case RULE_ZERO_LENGTH:
        d[4].length = 0;
        test_reseal(mem, SEG_SIZE);
        expect_invalid(mem, SEG_SIZE, IVSHM_E_BADSEG, "length is 0");
        break;
    }
    free(mem);
}
END_TEST

/* Validation never reads outside the mapping, whatever the header says: the
 * segment sits at the very end of a heap block (ASan's redzone follows) and
 * random bytes replace the header and directory fields one at a time. */
START_TEST(test_validate_random_damage)
{
    const uint64_t size = 64 * 1024;
    void *mem = test_seg_alloc(size);
    void *pristine = malloc(size);
    struct ivshm_builder b;
    struct ivshm_error err;
    test_builder_init(&b, mem, size, 16, 4);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r", 64, IVSHM_RING_MPMC, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "p", 16, 64, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "z", 128, 128, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);
    memcpy(pristine, mem, size);
    uint64_t dir_end = b.hdr->dir_offset + 3 * 64;

    srand(1234);
    for (int round = 0; round < 20000; round++) {
        memcpy(mem, pristine, dir_end);
        uint64_t at = (uint64_t)rand() % dir_end;
        int width = 1 << (rand() % 4); /* 1, 2, 4 or 8 bytes */
        if (at + width > dir_end)
            at = dir_end - width;
        for (int i = 0; i < width; i++)
            ((uint8_t *)mem)[at + i] = (uint8_t)rand();
        if (rand() % 2)
            test_reseal(mem, size);
        struct ivshm_segment_view v;
        if (ivshm_segment_validate(mem, size, &v, &err) == IVSHM_OK) {
            /* Accepted: then everything it describes is inside. */
            EXPECT_LE(v.size, size);
            for (uint32_t i = 0; i < v.object_count; i++) {
                EXPECT_LE(v.dir[i].offset + v.dir[i].length, v.size);
                EXPECT_OP(v.dir[i].offset, >=, v.data_offset);
            }
        } else {
            EXPECT_OP(strlen(err.msg), >, 0);
        }
    }
    free(pristine);
    free(mem);
}
END_TEST

START_TEST(test_builder_rejects)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_builder b;
    struct ivshm_error err = {0};

    ck_assert_int_eq(ivshm_builder_init(&b, mem, SEG_SIZE - 1, 4096, -1, "s", 8, 4, &err),
                     IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "segment size 1048575 is not a power of two"));
    ck_assert_int_eq(ivshm_builder_init(&b, mem, SEG_SIZE, 4096, -1, "bad name", 8, 4, &err),
                     IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "segment name 'bad name'"));
    ck_assert_int_eq(ivshm_builder_init(&b, mem, 4096, 4096, -1, "s", 1024, 4, &err),
                     IVSHM_E_TOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "do not fit in 4096 bytes"));
    ck_assert_int_eq(
        ivshm_builder_init(&b, mem, SEG_SIZE, 4096, -1, "s", IVSHM_MAX_OBJECTS + 1, 4, &err),
        IVSHM_E_INVAL);

    test_builder_init(&b, mem, SEG_SIZE, 4, 4);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r", 1000, 0, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "ring 'r': slots=1000 is not a power of two"));
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r", 0, 0, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "slots=0"));
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r", 8, 7, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_builder_add_mempool(&b, "p", 0, 64, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "z", 0, 0, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "z", 64, 96, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "align=96"));
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "a/b", 8, 0, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "ring name 'a/b'"));

    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r", 8, 0, &err), IVSHM_OK);
    uint64_t end = b.hdr->data_end;
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "r", 64, 0, &err), IVSHM_E_EXIST);
    ck_assert_ptr_nonnull(strstr(err.msg, "memzone 'r': an object of that name exists"));
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "big", SEG_SIZE, 0, &err), IVSHM_E_TOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "memzone 'big': needs 1048576 bytes"));
    /* Nothing written by the failures. */
    ck_assert_uint_eq(b.hdr->object_count, 1);
    ck_assert_uint_eq(b.hdr->data_end, end);

    /* Exactly filling the segment works; one byte more does not. */
    uint64_t left = ivshm_builder_free_bytes(&b);
    ck_assert_uint_eq(left % 64, 0);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "fill", left + 1, 0, &err), IVSHM_E_TOOBIG);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "fill", left, 0, &err), IVSHM_OK);
    ck_assert_uint_eq(ivshm_builder_free_bytes(&b), 0);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "more", 1, 0, &err), IVSHM_E_TOOBIG);

    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r2", 1, 0, &err), IVSHM_E_TOOBIG);
    test_builder_init(&b, mem, SEG_SIZE, 2, 4);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "a", 64, 0, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "b", 64, 0, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "c", 64, 0, &err), IVSHM_E_TOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "the directory is full (2 entries)"));
    free(mem);
}
END_TEST

START_TEST(test_name_lengths)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_builder b;
    struct ivshm_error err = {0};
    const char *n31 = "abcdefghijklmnopqrstuvwxyz01234";  /* 31 bytes */
    const char *n32 = "abcdefghijklmnopqrstuvwxyz012345"; /* 32 bytes */
    ck_assert_uint_eq(strlen(n31), 31);
    ck_assert_uint_eq(strlen(n32), 32);

    ck_assert(ivshm_name_valid(n31));
    ck_assert(!ivshm_name_valid(n32));
    ck_assert(!ivshm_name_valid(""));
    ck_assert(ivshm_name_valid("A-z_09"));
    ck_assert(!ivshm_name_valid("a.b"));
    ck_assert(!ivshm_name_valid("\xc3\xa9"));
    char unterminated[IVSHM_NAME_SIZE];
    memset(unterminated, 'a', sizeof(unterminated)); /* ASan: no read past 32 bytes */
    ck_assert(!ivshm_name_valid(unterminated));

    ck_assert_int_eq(ivshm_builder_init(&b, mem, SEG_SIZE, 4096, -1, n32, 8, 4, &err),
                     IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_builder_init(&b, mem, SEG_SIZE, 4096, -1, n31, 8, 4, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, n32, 8, 0, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "must be 1 to 31 characters"));
    ck_assert_int_eq(ivshm_builder_add_ring(&b, n31, 8, 0, &err), IVSHM_OK);
    ivshm_builder_finalize(&b);

    struct ivshm_segment_view v;
    test_validate(mem, SEG_SIZE, &v);
    ck_assert_str_eq(v.name, n31);
    struct ivshm_dir_entry e;
    test_find(&v, n31, IVSHM_OBJ_RING, &e);
    ck_assert_str_eq(e.name, n31);
    ck_assert_int_eq(ivshm_object_lookup(&v, n32, 0, &e, &err), IVSHM_E_NOENT);
    free(mem);
}
END_TEST

START_TEST(test_many_objects)
{
    const uint32_t n = 2000;
    const uint64_t size = 1u << 20;
    void *mem = test_seg_alloc(size);
    struct ivshm_builder b;
    struct ivshm_error err = {0};
    test_builder_init(&b, mem, size, n, IVSHM_DEFAULT_PARTIES);
    char name[IVSHM_NAME_SIZE];
    for (uint32_t i = 0; i < n; i++) {
        ivshm_format(name, sizeof(name), "obj-%u", i);
        int rc = (i % 3 == 0)   ? ivshm_builder_add_ring(&b, name, 4, 0, &err)
                 : (i % 3 == 1) ? ivshm_builder_add_memzone(&b, name, 64, 0, &err)
                                : ivshm_builder_add_mempool(&b, name, 1, 64, &err);
        ck_assert_msg(rc == IVSHM_OK, "object %u: %s", i, err.msg);
    }
    ck_assert_int_eq(ivshm_builder_add_memzone(&b, "one-more", 64, 0, &err), IVSHM_E_TOOBIG);
    ivshm_builder_finalize(&b);

    struct ivshm_segment_view v;
    test_validate(mem, size, &v);
    ck_assert_uint_eq(v.object_count, n);
    static const uint32_t types[3] = {IVSHM_OBJ_RING, IVSHM_OBJ_MEMZONE, IVSHM_OBJ_MEMPOOL};
    for (uint32_t i = 0; i < n; i++) {
        struct ivshm_dir_entry e;
        ivshm_format(name, sizeof(name), "obj-%u", i);
        test_find(&v, name, types[i % 3], &e);
        ck_assert_str_eq(e.name, name);
    }

    /* A duplicate among many entries is still found (the hash bitmap only
     * narrows the search). */
    strcpy(dir_of(mem)[1999].name, "obj-1000");
    test_reseal(mem, size);
    expect_invalid(mem, size, IVSHM_E_BADSEG, "objects 1000 and 1999 are both named 'obj-1000'");
    free(mem);
}
END_TEST

/* ---- party table ---- */

START_TEST(test_party_claim_release)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    struct ivshm_builder b;
    test_builder_init(&b, mem, SEG_SIZE, 4, 3);
    ivshm_builder_finalize(&b);
    struct ivshm_segment_view v;
    test_validate(mem, SEG_SIZE, &v);

    ck_assert_int_eq(ivshm_party_claim(&v, IVSHM_PARTY_HOST, 100, 7, "pktgen"), 0);
    ck_assert_int_eq(ivshm_party_claim(&v, IVSHM_PARTY_GUEST, 0, 0, NULL), 1);
    ck_assert_int_eq(
        ivshm_party_claim(&v, IVSHM_PARTY_HOST, 300, 9, "a-label-longer-than-the-23-bytes-kept"),
        2);
    ck_assert_int_eq(ivshm_party_claim(&v, IVSHM_PARTY_HOST, 400, 9, "x"), IVSHM_E_PARTIES);

    struct ivshm_party *p = v.parties;
    ck_assert_uint_eq(atomic_load(&p[0].state), IVSHM_PARTY_ALIVE);
    ck_assert_uint_eq(p[0].kind, IVSHM_PARTY_HOST);
    ck_assert_uint_eq(p[0].pid, 100);
    ck_assert_uint_eq(p[0].start_time, 7);
    ck_assert_uint_eq(p[0].attach_count, 1);
    ck_assert_str_eq(p[0].label, "pktgen");
    ck_assert_str_eq(p[1].label, "");
    ck_assert_uint_eq(p[1].kind, IVSHM_PARTY_GUEST);
    ck_assert_str_eq(p[2].label, "a-label-longer-than-the");

    ivshm_party_release(&v, 1);
    ck_assert_uint_eq(atomic_load(&p[1].state), IVSHM_PARTY_GONE);
    ivshm_party_release(&v, -1); /* out of range: ignored */
    ivshm_party_release(&v, 3);
    ck_assert_int_eq(ivshm_party_claim(&v, IVSHM_PARTY_HOST, 500, 1, "again"), 1);
    ck_assert_uint_eq(p[1].attach_count, 2);
    ck_assert_uint_eq(p[1].pid, 500);
    ck_assert_str_eq(p[1].label, "again");
    ck_assert_uint_eq(atomic_load(&p[1].state), IVSHM_PARTY_ALIVE);
    ck_assert_int_eq(ivshm_party_claim(&v, IVSHM_PARTY_HOST, 600, 1, NULL), IVSHM_E_PARTIES);

    /* The party table is not covered by the checksum: claims keep the
     * segment valid. */
    test_validate(mem, SEG_SIZE, &v);
    free(mem);
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_layout_sizes_and_offsets);
    tcase_add_test(tc, test_layout_arithmetic);
    tcase_add_test(tc, test_crc32c_known_value);
    tcase_add_test(tc, test_format);
    suite_add_tcase(s, tc);

    tc = tcase_create("segment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_builder_round_trip);
    tcase_add_test(tc, test_find_by_name_and_type);
    tcase_add_loop_test(tc, test_validate_rejects, 0, RULE_COUNT);
    tcase_add_test(tc, test_validate_random_damage);
    tcase_add_test(tc, test_builder_rejects);
    tcase_add_test(tc, test_name_lengths);
    tcase_add_test(tc, test_many_objects);
    tcase_add_test(tc, test_party_claim_release);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(abi_suite());
}
