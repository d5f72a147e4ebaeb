/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC-32C (common/crc32c.c): known vectors, the SSE4.2, the portable and the
 * dispatching code against each other and against a bit-at-a-time reference,
 * chaining, every alignment and length, and sensitivity to any changed,
 * swapped or moved 8-byte word of a frame. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/internal.h"
#include "test_util.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* The implementations under test: portable, SSE4.2 when the CPU has it, and
 * the dispatching one. */
static unsigned impls(crc_fn out[3])
{
    unsigned n = 0;
    out[n++] = ivshm_crc32c_portable;
    if (ivshm_crc32c_has_sse42())
        out[n++] = ivshm_crc32c_sse42;
    out[n++] = ivshm_crc32c;
    return n;
}

/* The definition, one bit at a time: the reference the others must match. */
static uint32_t crc_reference(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* xorshift64: deterministic "random" data, so a failure reproduces. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next();
}

/* RFC 3720 (iSCSI) B.4 and the usual check value. */
START_TEST(test_known_vectors)
{
    uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++) {
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    crc_fn f[3];
    unsigned n = impls(f);
    for (unsigned i = 0; i < n; i++) {
        ck_assert_uint_eq(f[i](0, "123456789", 9), 0xE3069283u);
        ck_assert_uint_eq(f[i](0, zeros, 32), 0x8A9136AAu);
        ck_assert_uint_eq(f[i](0, ones, 32), 0x62A8AB43u);
        ck_assert_uint_eq(f[i](0, inc, 32), 0x46DD794Eu);
        ck_assert_uint_eq(f[i](0, dec, 32), 0x113FDB5Cu);
        ck_assert_uint_eq(f[i](0, "", 0), 0);
        ck_assert_uint_eq(f[i](0x12345678, "", 0), 0x12345678);
    }
}
END_TEST

/* This machine has SSE4.2 (any x86-64 CPU of the last 15 years): the fast
 * path must not silently fall back. */
START_TEST(test_sse42_found)
{
#if defined(__x86_64__) && defined(__SSE4_2__)
    ck_assert(ivshm_crc32c_has_sse42());
#endif
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    ck_assert_int_eq(ivshm_crc32c_has_sse42(), (c >> 20) & 1);
}
END_TEST

/* Same result from every implementation and from the reference, at every
 * length from 0 to 300 and every alignment, and
 * chaining: crc(a b) = crc(crc(a), b) at every split. */
START_TEST(test_paths_agree)
{
    static uint8_t buf[320 + 8];
    crc_fn f[3];
    unsigned n = impls(f);
    for (int round = 0; round < 4; round++) {
        fill(buf, sizeof(buf));
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len <= 300; len++) {
                const uint8_t *p = buf + off;
                uint32_t want = crc_reference(0, p, len);
                for (unsigned i = 0; i < n; i++)
                    EXPECT_EQ(f[i](0, p, len), want);
            }
        for (size_t split = 0; split <= 300; split++) {
            uint32_t whole = crc_reference(0, buf, 300);
            for (unsigned i = 0; i < n; i++)
                EXPECT_EQ(f[i](f[i](0, buf, split), buf + split, 300 - split), whole);
        }
    }
}
END_TEST

/* Frames of 46 (a 64-byte Ethernet frame's checked part), 64, 1500 and 9000
 * bytes: changing any 8-byte word (random non-zero XOR, several per word),
 * swapping any two different words, moving a word by one place, or shifting
 * the checked span by 1 to 7 bytes all change the checksum. */
START_TEST(test_sensitivity)
{
    static const size_t sizes[] = {46, 64, 1500, 9000};
    const size_t size = sizes[_i];
    uint8_t *frame = malloc(size + 16), *copy = malloc(size + 16);
    ck_assert_ptr_nonnull(frame);
    ck_assert_ptr_nonnull(copy);
    fill(frame, size + 16);
    const uint32_t sum = ivshm_crc32c(0, frame, size);
    const size_t words = size / 8;
    const size_t step = size > 100 ? 17 : 1; /* every pair in short frames */

    for (size_t w = 0; w < words; w++) /* changed word */
        for (int k = 0; k < 4; k++) {
            memcpy(copy, frame, size);
            uint64_t v, x;
            do
                x = next();
            while (x == 0);
            memcpy(&v, copy + 8 * w, 8);
            v ^= x;
            memcpy(copy + 8 * w, &v, 8);
            EXPECT(ivshm_crc32c(0, copy, size) != sum);
        }
    for (size_t a = 0; a < words; a++) /* swapped words */
        for (size_t b = a + 1; b < words; b += (a % step) + 1) {
            if (memcmp(frame + 8 * a, frame + 8 * b, 8) == 0)
                continue;
            memcpy(copy, frame, size);
            memcpy(copy + 8 * a, frame + 8 * b, 8);
            memcpy(copy + 8 * b, frame + 8 * a, 8);
            EXPECT(ivshm_crc32c(0, copy, size) != sum);
        }
    for (size_t w = 0; w + 1 < words; w++) { /* word w moved after word w+1 */
        memcpy(copy, frame, size);
        memcpy(copy + 8 * w, frame + 8 * (w + 1), 8);
        memcpy(copy + 8 * (w + 1), frame + 8 * w, 8);
        if (memcmp(frame + 8 * w, frame + 8 * (w + 1), 8) != 0)
            EXPECT(ivshm_crc32c(0, copy, size) != sum);
        /* and dropped, the rest shifted down by a word */
        memcpy(copy, frame, size);
        memmove(copy + 8 * w, frame + 8 * (w + 1), size - 8 * (w + 1));
        memcpy(copy + size - 8, frame + size, 8);
        EXPECT(ivshm_crc32c(0, copy, size) != sum);
    }
    for (size_t shift = 1; shift < 8; shift++) /* span shifted by bytes */
        EXPECT(ivshm_crc32c(0, frame + shift, size) != sum);
    free(frame);
    free(copy);
}
END_TEST

/* The portable tables are built by whichever thread comes first; threads
 * racing for them all get correct results. */
static void *crc_thread(void *arg)
{
    uint8_t buf[256];
    for (int i = 0; i < 256; i++)
        buf[i] = (uint8_t)(i * 7);
    *(uint32_t *)arg = ivshm_crc32c_portable(0, buf, sizeof(buf));
    return NULL;
}

START_TEST(test_threads_first_use)
{
    pthread_t t[4];
    uint32_t out[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, crc_thread, &out[i]), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    uint8_t buf[256];
    for (int i = 0; i < 256; i++)
        buf[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(out[i], crc_reference(0, buf, sizeof(buf)));
}
END_TEST

static Suite *crc_suite(void)
{
    Suite *s = suite_create("crc32c");
    /* First, so that its threads build the portable tables. */
    TCase *tt = tcase_create("threads");
    tcase_set_tags(tt, "threads");
    tcase_add_test(tt, test_threads_first_use);
    suite_add_tcase(s, tt);
    TCase *tc = tcase_create("crc");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_known_vectors);
    tcase_add_test(tc, test_sse42_found);
    tcase_add_test(tc, test_paths_agree);
    tcase_add_loop_test(tc, test_sensitivity, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crc_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
