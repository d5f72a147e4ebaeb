/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The object-type table: the built-in rows are found by number and in order,
 * and a type that exists only in this test (tests/object_type/counters.c,
 * registered by its constructor) is created, validated, looked up,
 * described and refused when damaged, all through the same table.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "test_util.h"
#include "tests/object_type/counters.h"

#define SEG_SIZE (1u << 20)

START_TEST(test_builtin_rows)
{
    ck_assert_ptr_eq(ivshm_object_class_at(0), &ivshm_ring_class);
    ck_assert_ptr_eq(ivshm_object_class_at(1), &ivshm_mempool_class);
    ck_assert_ptr_eq(ivshm_object_class_at(2), &ivshm_memzone_class);
    ck_assert_ptr_eq(ivshm_object_class_find(IVSHM_OBJ_MEMPOOL), &ivshm_mempool_class);
    ck_assert_str_eq(ivshm_object_type_name(IVSHM_OBJ_RING), "ring");
    ck_assert_str_eq(ivshm_object_type_name(99), "unknown");
    ck_assert_ptr_null(ivshm_object_class_find(99));
    /* every row is complete */
    const struct ivshm_object_class *c;
    for (unsigned i = 0; (c = ivshm_object_class_at(i)) != NULL; i++) {
        ck_assert(c->check_spec && c->shape && c->init && c->check_entry && c->describe);
        ck_assert(c->keys && c->keys[0].key && strcmp(c->keys[0].key, "name") == 0);
    }
}
END_TEST

START_TEST(test_registration)
{
    /* the constructor registered it after the built-in rows */
    ck_assert_ptr_eq(ivshm_object_class_at(3), &test_counters_class);
    ck_assert_ptr_eq(ivshm_object_class_find(TEST_OBJ_COUNTERS), &test_counters_class);
    ck_assert_str_eq(ivshm_object_type_name(TEST_OBJ_COUNTERS), "counters");
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_object_class_register(&test_counters_class, &err), IVSHM_E_EXIST);
    ck_assert_ptr_nonnull(strstr(err.msg, "'counters'"));
    struct ivshm_object_class clash = ivshm_ring_class;
    clash.type = 0x7e58;
    ck_assert_int_eq(ivshm_object_class_register(&clash, &err), IVSHM_E_EXIST); /* name "ring" */
}
END_TEST

static void build(void *mem, uint32_t count)
{
    struct ivshm_builder b;
    struct ivshm_error err = {0};
    test_builder_init(&b, mem, SEG_SIZE, 4, 4);
    ck_assert_int_eq(ivshm_builder_add_ring(&b, "r", 64, IVSHM_RING_SPSC, &err), IVSHM_OK);
    struct ivshm_object_spec spec = {.type = TEST_OBJ_COUNTERS, .name = "c", .count = count};
    int rc = ivshm_builder_add(&b, &spec, &err);
    ck_assert_msg(rc == IVSHM_OK, "add counters: %s", err.msg);
    ivshm_builder_finalize(&b);
}

START_TEST(test_counters_segment)
{
    void *mem = test_seg_alloc(SEG_SIZE);
    build(mem, 10);
    struct ivshm_segment_view v;
    test_validate(mem, SEG_SIZE, &v);
    struct ivshm_dir_entry e;
    test_find(&v, "c", TEST_OBJ_COUNTERS, &e);
    ck_assert_uint_eq(e.param0, 10);
    ck_assert_uint_eq(e.length, 80);
    /* initialised to zero over the test pattern, and described */
    uint64_t *c = (uint64_t *)(v.base + e.offset);
    for (int i = 0; i < 10; i++)
        ck_assert_uint_eq(c[i], 0);
    c[3] = 40, c[9] = 2;
    struct ivshm_fields f = {0};
    test_counters_class.describe(&v, &e, &f);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.field[0].key, "count");
    ck_assert_uint_eq(f.field[0].number, 10);
    ck_assert_str_eq(f.field[1].key, "sum");
    ck_assert_uint_eq(f.field[1].number, 42);

    /* validation goes through the row: a damaged entry is refused */
    struct ivshm_segment_header *h = mem;
    struct ivshm_dir_entry *dir = (struct ivshm_dir_entry *)((uint8_t *)mem + h->dir_offset);
    dir[1].param0 = 11;
    test_reseal(mem, SEG_SIZE);
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_validate(mem, SEG_SIZE, &v, &err), IVSHM_E_BADSEG);
    ck_assert_ptr_nonnull(strstr(err.msg, "counters 'c': length 80 does not match 11 counters"));
    free(mem);
}
END_TEST

START_TEST(test_counters_arguments)
{
    struct ivshm_object_spec spec = {.type = TEST_OBJ_COUNTERS, .name = "c", .count = 0};
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_object_spec_check(&spec, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "counters 'c': count=0 out of range 1..1048576");
    spec.count = 1;
    spec.name = "a.b";
    ck_assert_int_eq(ivshm_object_spec_check(&spec, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(
        strstr(err.msg, "counters name 'a.b': byte 0x2e at offset 1; must be 1 to 31 characters"));
    spec.name = "c";
    ck_assert_int_eq(ivshm_object_spec_check(&spec, &err), IVSHM_OK);
    spec.type = 0x7e59;
    ck_assert_int_eq(ivshm_object_spec_check(&spec, &err), IVSHM_E_INVAL);
    ck_assert_str_eq(err.msg, "object 'c': unknown type 32345");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("object_class");
    test_case(s, "table",
              (const TTest *[]){test_builtin_rows, test_registration, test_counters_segment,
                                test_counters_arguments, NULL});
    return test_run(s);
}
