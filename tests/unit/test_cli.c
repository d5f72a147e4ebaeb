/* SPDX-License-Identifier: BSD-3-Clause */
/* The CLI framework (host/cli/): the option parser, number, size and
 * seconds parsing, error formatting. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test_run.h"
#include "common/internal.h"
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

START_TEST(test_parse_seconds_and_error)
{
    struct ivshm_error err;
    double d;
    ck_assert_int_eq(cli_parse_seconds("0.25", "--timeout", 86400, &d, &err), IVSHM_OK);
    ck_assert(d == 0.25);
    const char *bad[] = {"0", "-1", "x", "", "1s", "nan", "86401"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cli_parse_seconds(bad[i], "--timeout", 86400, &d, &err) == IVSHM_E_INVAL,
                      "'%s'", bad[i]);
    ck_assert_str_eq(err.msg, "--timeout '86401': not a number of seconds in (0, 86400]");
    /* the library's formatter does precision and %f (issue 13 F9) */
    ck_assert_int_eq(ivshm_fail(&err, IVSHM_E_NOENT, "%.3s %.1f", "abcdef", 2.25), IVSHM_E_NOENT);
    ck_assert_str_eq(err.msg, "abc 2.2");
    ck_assert_int_eq(err.code, IVSHM_E_NOENT);
}
END_TEST

/* A command with an option of every kind; run() records what it got. */
struct t_opts {
    const char *dir, *name;
    bool flag;
    uint32_t u32;
    uint64_t u64, size;
    double seconds;
    int index;
    int calls;
};
static struct t_opts seen;
static unsigned seen_args, cleanups;
static char *seen_arg0;

static int t_call(void *opts, const struct cli_option *o, const char *v)
{
    (void)o;
    ((struct t_opts *)opts)->calls += (int)strlen(v);
    return CLI_EXIT_OK;
}
static int t_run(void *opts, char **args, unsigned nargs)
{
    seen = *(struct t_opts *)opts;
    seen_args = nargs;
    seen_arg0 = nargs ? args[0] : NULL;
    return 7;
}
static void t_defaults(void *opts)
{
    ((struct t_opts *)opts)->u32 = 5;
}
static void t_cleanup(void *opts)
{
    (void)opts;
    cleanups++;
}

#define T(f) CLI_FIELD(struct t_opts, f)
static const struct cli_option t_options[] = {
    CLI_OPTION_DIR(struct t_opts),
    {"--name", "P", "", CLI_NAME, T(name), 0, 0, NULL, "mempool"},
    {"--flag", NULL, "", CLI_FLAG, T(flag), 0, 0, NULL, NULL},
    {"--u32", "N", "", CLI_U32, T(u32), 1, 10, NULL, NULL},
    {"--u64", "N", "", CLI_U64, T(u64), 0, UINT64_MAX, NULL, NULL},
    {"--size", "S", "", CLI_SIZE, T(size), 1, 1u << 20, NULL, NULL},
    {"--seconds", "S", "", CLI_SECONDS, T(seconds), 0, 0, NULL, NULL},
    {"--index", "N", "", CLI_INDEX, T(index), 0, 7, NULL, NULL},
    {"--call", "X", "", CLI_CALL, 0, 0, 0, t_call, NULL},
    CLI_OPTION_END,
};
static const struct cli_command t_cmd = {
    .name = "t",
    .args = "NAME...",
    .min_args = 1,
    .max_args = 2,
    .segment_args = true,
    .summary = "a test",
    .opts_size = sizeof(struct t_opts),
    .defaults = t_defaults,
    .options = t_options,
    .run = t_run,
    .cleanup = t_cleanup,
};
static const struct cli_command *const t_cmds[] = {&t_cmd, NULL};
static const struct cli_program t_prog = {"tprog", "test program", t_cmds};

static int t_main(const char *const *words)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"tprog";
    for (; *words; words++)
        argv[argc++] = (char *)*words;
    argv[argc] = NULL;
    memset(&seen, 0, sizeof(seen));
    seen_args = 0;
    return cli_main(&t_prog, argc, argv);
}
#define RUN(...) t_main((const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_option_parser)
{
    ck_assert_int_eq(RUN("t", "seg1", "--dir", "/d", "--name=pool_1", "--flag", "--u32", "10",
                         "--u64=0x10", "--size", "4K", "--seconds", "1.5", "--index", "3", "--call",
                         "abc", "seg2"),
                     7);
    ck_assert_str_eq(seen.dir, "/d");
    ck_assert_str_eq(seen.name, "pool_1");
    ck_assert(seen.flag);
    ck_assert_uint_eq(seen.u32, 10);
    ck_assert_uint_eq(seen.u64, 16);
    ck_assert_uint_eq(seen.size, 4096);
    ck_assert(seen.seconds == 1.5);
    ck_assert_int_eq(seen.index, 3);
    ck_assert_int_eq(seen.calls, 3);
    ck_assert_uint_eq(seen_args, 2);
    ck_assert_str_eq(seen_arg0, "seg1");
    /* defaults, and -1 for an index not given; -- ends the options */
    ck_assert_int_eq(RUN("t", "--", "--flag"), 7);
    ck_assert_str_eq(seen_arg0, "--flag");
    ck_assert(!seen.flag);
    ck_assert_int_eq(RUN("t", "s"), 7);
    ck_assert_uint_eq(seen.u32, 5);
    ck_assert_int_eq(seen.index, -1);
    ck_assert(!seen.flag);
    unsigned before = cleanups;
    const char *const *usage_errors[] = {
        (const char *const[]){"t", NULL},                      /* missing NAME */
        (const char *const[]){"t", "a", "b", "c", NULL},       /* too many */
        (const char *const[]){"t", "a.b", NULL},               /* bad segment name */
        (const char *const[]){"t", "s", "--bogus", NULL},      /* unknown option */
        (const char *const[]){"t", "s", "--u32", NULL},        /* missing value */
        (const char *const[]){"t", "s", "--flag=1", NULL},     /* a flag takes no value */
        (const char *const[]){"t", "s", "--u32", "11", NULL},  /* out of range */
        (const char *const[]){"t", "s", "--size", "2M", NULL}, /* above max */
        (const char *const[]){"t", "s", "--size", "0", NULL},  /* below min */
        (const char *const[]){"t", "s", "--seconds", "0", NULL},
        (const char *const[]){"t", "s", "--index", "8", NULL},
        (const char *const[]){"t", "s", "--name", "no/name", NULL},
        (const char *const[]){"t", "s", "--dir", "", NULL},
        (const char *const[]){"nosuchcommand", NULL},
    };
    for (unsigned i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++)
        ck_assert_msg(t_main(usage_errors[i]) == CLI_EXIT_USAGE, "case %u", i);
    ck_assert_uint_eq(cleanups, before + 13); /* every parse of the command cleaned up */
    /* help and version, anywhere */
    ck_assert_int_eq(RUN("t", "--help"), CLI_EXIT_OK);
    ck_assert_int_eq(RUN("t", "s", "--version"), CLI_EXIT_OK);
    ck_assert_int_eq(RUN("--version"), CLI_EXIT_OK);
    ck_assert_int_eq(RUN("help", "t"), CLI_EXIT_OK);
    ck_assert_uint_eq(seen_args, 0); /* run was never called */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    test_case(s, "parsing",
              (const TTest *[]){test_parse_size, test_parse_u64, test_format_size,
                                test_parse_seconds_and_error, test_option_parser, NULL});
    return test_run(s);
}
