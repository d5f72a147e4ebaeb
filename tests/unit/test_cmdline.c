/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the guest's key=value command-line parser (guest_rt/cmdline.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "../../guest_rt/cmdline.h"

static struct cmdline cl;

START_TEST(test_key_values_and_bare_words)
{
    cmdline_parse(&cl, "  fault=pf verbose  count=12\tname=a=b ");
    ck_assert_uint_eq(cl.count, 4);
    ck_assert_str_eq(cmdline_get(&cl, "fault"), "pf");
    ck_assert_str_eq(cmdline_get(&cl, "verbose"), "");
    ck_assert_str_eq(cmdline_get(&cl, "count"), "12");
    ck_assert_str_eq(cmdline_get(&cl, "name"), "a=b"); /* only the first '=' splits */
    ck_assert_ptr_null(cmdline_get(&cl, "missing"));
    ck_assert_str_eq(cl.word[0], "fault=pf");
    ck_assert_str_eq(cl.word[3], "name=a=b");
}
END_TEST

START_TEST(test_last_word_wins)
{
    cmdline_parse(&cl, "mode=a mode=b");
    ck_assert_str_eq(cmdline_get(&cl, "mode"), "b");
}
END_TEST

START_TEST(test_quotes_keep_blanks)
{
    cmdline_parse(&cl, "label=\"two words\" x=1");
    ck_assert_uint_eq(cl.count, 2);
    ck_assert_str_eq(cmdline_get(&cl, "label"), "two words");
    ck_assert_str_eq(cmdline_get(&cl, "x"), "1");
}
END_TEST

START_TEST(test_empty_and_null)
{
    cmdline_parse(&cl, "");
    ck_assert_uint_eq(cl.count, 0);
    cmdline_parse(&cl, NULL);
    ck_assert_uint_eq(cl.count, 0);
    cmdline_parse(&cl, "   \t ");
    ck_assert_uint_eq(cl.count, 0);
    ck_assert_ptr_null(cmdline_get(&cl, ""));
}
END_TEST

START_TEST(test_too_many_words_dropped)
{
    char text[2000] = "";
    for (int i = 0; i < CMDLINE_MAX_WORDS + 5; i++)
        sprintf(text + strlen(text), "k%d=%d ", i, i);
    cmdline_parse(&cl, text);
    ck_assert_uint_eq(cl.count, CMDLINE_MAX_WORDS);
    ck_assert_uint_eq(cl.dropped, 5);
    ck_assert_str_eq(cmdline_get(&cl, "k0"), "0");
    ck_assert_str_eq(cmdline_get(&cl, "k63"), "63");
    ck_assert_ptr_null(cmdline_get(&cl, "k64"));
}
END_TEST

START_TEST(test_overlong_text_is_bounded)
{
    size_t n = 3 * CMDLINE_MAX_CHARS;
    char *text = malloc(n + 1);
    memset(text, 'x', n);
    text[0] = 'k';
    text[1] = '=';
    text[n] = '\0';
    cmdline_parse(&cl, text);
    ck_assert_uint_eq(cl.count, 1);
    ck_assert_ptr_nonnull(cmdline_get(&cl, "k"));
    ck_assert_uint_eq(strlen(cmdline_get(&cl, "k")), CMDLINE_MAX_CHARS - 3);
    free(text);
}
END_TEST

START_TEST(test_numbers)
{
    uint64_t v;
    ck_assert(cmdline_parse_u64("42", &v) && v == 42);
    ck_assert(cmdline_parse_u64("0x1F", &v) && v == 31);
    ck_assert(cmdline_parse_u64("4k", &v) && v == 4096);
    ck_assert(cmdline_parse_u64("16M", &v) && v == 16u << 20);
    ck_assert(cmdline_parse_u64("2G", &v) && v == 2ull << 30);
    ck_assert(cmdline_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    ck_assert(!cmdline_parse_u64("18446744073709551616", &v));
    ck_assert(!cmdline_parse_u64("17179869184G", &v)); /* 2^34 G overflows */
    ck_assert(!cmdline_parse_u64("", &v));
    ck_assert(!cmdline_parse_u64(NULL, &v));
    ck_assert(!cmdline_parse_u64("0x", &v));
    ck_assert(!cmdline_parse_u64("12q", &v));
    ck_assert(!cmdline_parse_u64("-1", &v));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmdline");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_key_values_and_bare_words);
    tcase_add_test(tc, test_last_word_wins);
    tcase_add_test(tc, test_quotes_keep_blanks);
    tcase_add_test(tc, test_empty_and_null);
    tcase_add_test(tc, test_too_many_words_dropped);
    tcase_add_test(tc, test_overlong_text_is_bounded);
    tcase_add_test(tc, test_numbers);
    suite_add_tcase(s, tc);
    return test_run(s);
}
