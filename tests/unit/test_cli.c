/* SPDX-License-Identifier: BSD-3-Clause */
/* The CLI framework (host/cli/): number, size and seconds parsing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "host/cli/cli.h"

START_TEST(test_parse_size)
{
    struct ivshm_error err;
    uint64_t v;
    ck_assert_int_eq(cli_parse_size("16M", "--size", &v, &err), 0);
    ck_assert_uint_eq(v, 16u << 20);
    ck_assert_int_eq(cli_parse_size("2g", "--size", &v, &err), 0);
    ck_assert_uint_eq(v, 2ull << 30);
    ck_assert_int_eq(cli_parse_size("4KiB", "--size", &v, &err), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(cli_parse_size("0x1000", "--size", &v, &err), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(cli_parse_size("123", "--size", &v, &err), 0);
    ck_assert_uint_eq(v, 123);
    const char *bad[] = {
        "", "M", "1.5M", "-1", "12Q", "16MM", "0x", "18446744073709551616", "17179869184G", " 1"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cli_parse_size(bad[i], "--size", &v, &err) == IVSHM_E_INVAL, "'%s'", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "--size"));
    }
}
END_TEST

START_TEST(test_parse_u64)
{
    struct ivshm_error err;
    uint64_t v;
    ck_assert_int_eq(cli_parse_u64("512", "cache", 0, 512, &v, &err), 0);
    ck_assert_uint_eq(v, 512);
    ck_assert_int_eq(cli_parse_u64("0x10", "cache", 0, 512, &v, &err), 0);
    ck_assert_uint_eq(v, 16);
    ck_assert_int_eq(cli_parse_u64("513", "cache", 0, 512, &v, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range 0..512"));
    ck_assert_int_eq(cli_parse_u64("5k", "cache", 0, 512, &v, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(cli_parse_u64("", "cache", 0, 512, &v, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(cli_parse_u64("-1", "cache", 0, 512, &v, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "cache '-1': not a number"));
}
END_TEST

START_TEST(test_format_size)
{
    char out[32];
    cli_format_size(16u << 20, out, sizeof(out));
    ck_assert_str_eq(out, "16 MiB");
    cli_format_size(4097, out, sizeof(out));
    ck_assert_str_eq(out, "4097 B");
    cli_format_size(3ull << 40, out, sizeof(out));
    ck_assert_str_eq(out, "3 TiB");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("numbers");
    tcase_add_test(tc, test_parse_size);
    tcase_add_test(tc, test_parse_u64);
    tcase_add_test(tc, test_format_size);
    suite_add_tcase(s, tc);
    return test_run(s);
}
