/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the unit tests: segments built in ordinary memory. */
#ifndef IVSHM_TEST_UTIL_H
#define IVSHM_TEST_UTIL_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/layout_builder.h"

/* Check's ck_assert_* record every passing assertion with the parent process
 * (a write per call), which makes loops of millions of them slow. In loops,
 * these only call into Check when they fail. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("Assertion '%s' failed", #cond);                                          \
    } while (0)
#define EXPECT_OP(a, op, b)                                                                        \
    do {                                                                                           \
        uintmax_t a_ = (a), b_ = (b);                                                              \
        if (!(a_ op b_))                                                                           \
            ck_abort_msg("Assertion '%s %s %s' failed: %ju vs %ju", #a, #op, #b, a_, b_);          \
    } while (0)
#define EXPECT_EQ(a, b) EXPECT_OP(a, ==, b)
#define EXPECT_LE(a, b) EXPECT_OP(a, <=, b)

/* Memory for a segment, page aligned, filled with a pattern so that tests
 * notice code that relies on zeroed memory. */
static inline void *test_seg_alloc(uint64_t size)
{
    void *mem = aligned_alloc(4096, size);
    ck_assert_ptr_nonnull(mem);
    memset(mem, 0xa5, size);
    return mem;
}

/* Starts a segment named `name` over mem. */
static inline void test_builder_init(struct ivshm_builder *b, void *mem, uint64_t size,
                                     uint32_t dir_capacity, uint32_t parties)
{
    struct ivshm_error err = {0};
    int rc = ivshm_builder_init(b, mem, size, 4096, -1, "unit", dir_capacity, parties, &err);
    ck_assert_msg(rc == IVSHM_OK, "builder_init: %s", err.msg);
}

/* Validates, failing the test with the message on error. */
static inline void test_validate(void *mem, uint64_t size, struct ivshm_segment_view *view)
{
    struct ivshm_error err = {0};
    int rc = ivshm_segment_validate(mem, size, view, &err);
    ck_assert_msg(rc == IVSHM_OK, "validate: %s", err.msg);
}

static inline void test_find(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                             struct ivshm_dir_entry *out)
{
    struct ivshm_error err = {0};
    int rc = ivshm_object_lookup(view, name, type, out, &err);
    ck_assert_msg(rc == IVSHM_OK, "find %s: %s", name, err.msg);
}

/* Recomputes the checksum after a test edited the metadata on purpose, so
 * validation gets past the checksum to the rule under test. Leaves it alone
 * when the directory the header describes is not inside the `size` bytes. */
static inline void test_reseal(void *mem, uint64_t size)
{
    struct ivshm_segment_header *h = mem;
    uint64_t dir_bytes = (uint64_t)h->object_count * sizeof(struct ivshm_dir_entry);
    if (h->dir_offset > size || dir_bytes > size - h->dir_offset)
        return;
    h->checksum = ivshm_segment_checksum(
        h, (const struct ivshm_dir_entry *)((uint8_t *)mem + h->dir_offset), h->object_count);
}

#endif
