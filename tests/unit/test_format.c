/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm_format, the freestanding snprintf of the shared code: the conversions
 * our messages use, each compared with the C library's snprintf.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/internal.h"
#include "test_run.h"

/* Formats with both and compares text and returned length. */
#define SAME(...)                                                                                  \
    do {                                                                                           \
        char ours[256], libc[256];                                                                 \
        int n_ours = ivshm_format(ours, sizeof(ours), __VA_ARGS__);                                \
        int n_libc = snprintf(libc, sizeof(libc), __VA_ARGS__);                                    \
        ck_assert_str_eq(ours, libc);                                                              \
        ck_assert_int_eq(n_ours, n_libc);                                                          \
    } while (0)

START_TEST(test_fixed_point)
{
    /* The messages of issue 13 F9: "within %.0f s" printed literally. */
    SAME("within %.0f s", 30.0);
    SAME("%.0f|%.1f|%.2f|%.3f", 0.4, 0.26, 1.005, 12345.6789);
    SAME("%f", 3.14159265);
    SAME("%.9f", 1.0 / 3.0);
    SAME("%f|%.1f", -2.75, -0.04);
    SAME("%.0f", 1e18);
    SAME("%8.2f|%-8.2f|%08.2f|%08.2f", 3.14159, 3.14159, 3.14159, -3.14159);
    SAME("%.4f Mpps", 12.34567);
}
END_TEST

START_TEST(test_fixed_point_edges)
{
    char buf[64];
    /* An exact tie rounds to even, as in the C library. */
    SAME("%.0f|%.0f|%.1f|%.1f|%.2f", 2.5, 3.5, 2.25, 0.75, 0.125);
    ivshm_format(buf, sizeof(buf), "%.2f", 0.999);
    ck_assert_str_eq(buf, "1.00");
    /* Huge values keep their magnitude. */
    ivshm_format(buf, sizeof(buf), "%.0f", 1e20);
    ck_assert_str_eq(buf, "100000000000000000000");
    ivshm_format(buf, sizeof(buf), "%f|%f", 1.0 / 0.0, 0.0 / 0.0);
    ck_assert_str_eq(buf, "inf|nan");
    /* Precision above 9 is 9. */
    ivshm_format(buf, sizeof(buf), "%.12f", 0.5);
    ck_assert_str_eq(buf, "0.500000000");
}
END_TEST

START_TEST(test_string_precision)
{
    /* "the forwarder failed: %.40s" on a 40-byte field with no terminator. */
    char reason[40];
    memset(reason, 'r', sizeof(reason));
    char buf[128];
    ivshm_format(buf, sizeof(buf), "failed: %.40s!", reason);
    ck_assert_str_eq(buf, "failed: rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr!");
    SAME("[%.3s][%.10s][%.0s][%.*s]", "abcdef", "abc", "xyz", 2, "hello");
    SAME("[%5s][%-5s][%2s]", "ab", "ab", "abcdef");
    SAME("[%5.2s]", "abcdef");
}
END_TEST

START_TEST(test_integers_and_widths)
{
    SAME("%s=%d/%u/%x/%llx/%c%%", "v", -42, 7u, 255u, 0x123456789abcull, 'z');
    SAME("%lld %zu %i", (long long)INT64_MIN, (size_t)12345, -7);
    SAME("0x%08x|%5u|%-5d|%05d|%3c", 0xbeefu, 42u, -3, -42, 'q');
    SAME("0x%010llx %12llu", 0x600ull, 8448ull);
    SAME("%s", "");
    /* Truncation keeps the terminator and reports the full length. */
    char small[5];
    ck_assert_int_eq(ivshm_format(small, sizeof(small), "%.2f", 123.456), 6);
    ck_assert_str_eq(small, "123.");
}
END_TEST

/* Formats the compiler would refuse: what a message with a typo prints. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-overflow"
START_TEST(test_unknown_conversions_stay_visible)
{
    char buf[64];
    ivshm_format(buf, sizeof(buf), "a %q b %5.2Q c %");
    ck_assert_str_eq(buf, "a %q b %5.2Q c ");
    ivshm_format(buf, sizeof(buf), "%s", (const char *)NULL);
    ck_assert_str_eq(buf, "(null)");
}
END_TEST
#pragma GCC diagnostic pop

int main(void)
{
    Suite *s = suite_create("format");
    test_case(s, "format",
              (const TTest *[]){test_fixed_point, test_fixed_point_edges, test_string_precision,
                                test_integers_and_widths, test_unknown_conversions_stay_visible,
                                NULL});
    return test_run(s);
}
