/* SPDX-License-Identifier: BSD-3-Clause */
/* The command-line framework (cli.h). */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/internal.h"
#include "host/internal.h"
#include "host/cli/cli.h"

#ifndef IVSHM_VERSION
#define IVSHM_VERSION "unknown"
#endif

static const char *program_name = "ivshm";

const char *cli_program_name(void)
{
    return program_name;
}

bool cli_printable(const char *in, char *out, size_t size)
{
    bool changed = false;
    size_t n = 0;
    for (; in[n] && n + 1 < size; n++) {
        unsigned char c = (unsigned char)in[n];
        changed |= c < 0x20 || c == 0x7f;
        out[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
    return changed;
}

int cli_fail(int status, const char *fmt, ...)
{
    char line[IVSHM_PATH_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One line whatever the values quoted (a name from a directory, an
     * argument) hold. */
    cli_printable(line, line, sizeof(line));
    fprintf(stderr, "%s: %s\n", program_name, line);
    return status;
}

int cli_exit_status(int code)
{
    return code == IVSHM_E_INVAL ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
}

int cli_pin_cpu(int cpu)
{
    if (cpu < 0)
        return CLI_EXIT_OK;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        return cli_fail(CLI_EXIT_RUNTIME,
                        "--cpu %d: cannot run there: %s (this machine has %ld CPUs)", cpu,
                        strerror(errno), sysconf(_SC_NPROCESSORS_ONLN));
    return CLI_EXIT_OK;
}

/* ---- help ---- */

/* "ivshm create" or "ivshm-fwd": how the command is invoked. */
static void invocation(const struct cli_command *cmd, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s", program_name, cmd->name ? " " : "", cmd->name ? cmd->name : "");
}

static const struct cli_option *more_options(const struct cli_command *cmd)
{
    static const struct cli_option none[] = {CLI_OPTION_END};
    return cmd->more_options ? cmd->more_options() : none;
}

static void print_option(const char *name, const char *metavar, const char *help)
{
    char left[64];
    snprintf(left, sizeof(left), "%s%s%s", name, metavar ? " " : "", metavar ? metavar : "");
    if (strlen(left) > 24)
        printf("  %s\n  %24s  %s\n", left, "", help);
    else
        printf("  %-24s  %s\n", left, help);
}

static void print_command_help(const struct cli_command *cmd)
{
    char how[64];
    invocation(cmd, how, sizeof(how));
    printf("usage: %s%s%s [options]\n  %s\n\noptions:\n", how, cmd->args[0] ? " " : "", cmd->args,
           cmd->summary);
    for (const struct cli_option *o = cmd->options; o->name; o++)
        print_option(o->name, o->metavar, o->help);
    for (const struct cli_option *o = more_options(cmd); o->name; o++)
        print_option(o->name, o->metavar, o->help);
    print_option("--help", NULL, "show this help");
    print_option("--version", NULL, "print the version");
    if (cmd->segment_args)
        printf("\nNAME is 1 to 31 characters of [A-Za-z0-9_-]; the file is DIR/ivshm-NAME.\n");
    if (cmd->details)
        printf("%s%s", cmd->segment_args ? "" : "\n", cmd->details);
    if (!cmd->details || !strstr(cmd->details, "Exit status"))
        printf("Exit status: 0 success, 1 failure at run time, 2 usage error.\n");
}

static void print_program_help(const struct cli_program *p)
{
    printf("usage: %s COMMAND [arguments] [options]\n  %s\n\ncommands:\n", p->name, p->summary);
    for (const struct cli_command *const *c = p->commands; *c; c++)
        printf("  %-10s %s\n", (*c)->name, (*c)->summary);
    printf("\n%s COMMAND --help shows the options of a command; %s --version the version.\n",
           p->name, p->name);
}

static int print_version(void)
{
    printf("%s %s (segment ABI %u)\n", program_name, IVSHM_VERSION, IVSHM_ABI_VERSION);
    return CLI_EXIT_OK;
}

/* ---- parsing ---- */

static const struct cli_option *find_in(const struct cli_option *options, const char *name,
                                        size_t len)
{
    for (const struct cli_option *o = options; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* Stores value into the option's field, by kind. */
static int set_option(void *opts, const struct cli_option *o, const char *value)
{
    char *field = (char *)opts + o->offset;
    struct ivshm_error err;
    uint64_t n;
    int rc = IVSHM_OK;
    switch (o->kind) {
    case CLI_FLAG:
        *(bool *)field = true;
        break;
    case CLI_STRING:
        if (!*value)
            return cli_fail(CLI_EXIT_USAGE, "%s '': empty", o->name);
        *(const char **)field = value;
        break;
    case CLI_NAME:
        rc = ivshm_name_check(o->data ? (const char *)o->data : "segment", value, IVSHM_E_INVAL,
                              &err);
        if (rc == IVSHM_OK)
            *(const char **)field = value;
        break;
    case CLI_U32:
    case CLI_U64:
    case CLI_INDEX:
    case CLI_SIZE:
        rc = cli_parse_number(o->kind, value, o->name, o->min, o->max, &n, &err);
        if (rc == IVSHM_OK && o->kind == CLI_U32)
            *(uint32_t *)field = (uint32_t)n;
        else if (rc == IVSHM_OK && o->kind == CLI_INDEX)
            *(int *)field = (int)n;
        else if (rc == IVSHM_OK)
            *(uint64_t *)field = n;
        break;
    case CLI_SECONDS:
        rc = cli_parse_seconds(value, o->name, o->max ? (double)o->max : 86400, (double *)field,
                               &err);
        break;
    case CLI_CALL:
        return o->parse(opts, o, value);
    }
    return rc == IVSHM_OK ? CLI_EXIT_OK : cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
}

/* CLI_INDEX fields start at -1 (not given), whatever the defaults say. */
static void indices_unset(void *opts, const struct cli_option *options)
{
    for (const struct cli_option *o = options; o->name; o++)
        if (o->kind == CLI_INDEX)
            *(int *)((char *)opts + o->offset) = -1;
}

/* Parses argv (the arguments after the command name) into opts and args. */
static int parse(const struct cli_command *cmd, int argc, char **argv, void *opts, char **args,
                 unsigned *nargs, bool *done)
{
    char prefix[48] = "", how[64];
    if (cmd->name)
        snprintf(prefix, sizeof(prefix), "%s: ", cmd->name);
    invocation(cmd, how, sizeof(how));
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == 0) {
            args[(*nargs)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_command_help(cmd);
            *done = true;
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            *done = true;
            return print_version();
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct cli_option *o = find_in(cmd->options, a, len);
        if (!o)
            o = find_in(more_options(cmd), a, len);
        if (!o)
            return cli_fail(CLI_EXIT_USAGE, "%sunknown option '%.*s' (see %s --help)", prefix,
                            (int)len, a, how);
        const char *value = "";
        if (o->metavar && o->kind != CLI_FLAG) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return cli_fail(CLI_EXIT_USAGE, "%soption %s needs a value (%s)", prefix, o->name,
                                o->metavar);
        } else if (eq) {
            return cli_fail(CLI_EXIT_USAGE, "%soption %s takes no value", prefix, o->name);
        }
        int status = set_option(opts, o, value);
        if (status != CLI_EXIT_OK)
            return status;
    }
    if (*nargs < cmd->min_args)
        return cli_fail(CLI_EXIT_USAGE, "%smissing %s (see %s --help)", prefix, cmd->args, how);
    if (*nargs > cmd->max_args)
        return cli_fail(CLI_EXIT_USAGE, "%sunexpected argument '%s'%s", prefix, args[cmd->max_args],
                        cmd->max_args > 1 ? " (too many segments)" : "");
    struct ivshm_error err;
    for (unsigned i = 0; cmd->segment_args && i < *nargs; i++)
        if (ivshm_name_check("segment", args[i], IVSHM_E_INVAL, &err) != IVSHM_OK)
            return cli_fail(CLI_EXIT_USAGE, "%s", err.msg);
    return CLI_EXIT_OK;
}

static int run_command(const struct cli_command *cmd, int argc, char **argv)
{
    void *opts = calloc(1, cmd->opts_size ? cmd->opts_size : 1);
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    if (!opts || !args) {
        free(opts);
        free(args);
        return cli_fail(CLI_EXIT_RUNTIME, "out of memory");
    }
    if (cmd->defaults)
        cmd->defaults(opts);
    indices_unset(opts, cmd->options);
    indices_unset(opts, more_options(cmd));
    unsigned nargs = 0;
    bool done = false;
    int status = parse(cmd, argc, argv, opts, args, &nargs, &done);
    if (status == CLI_EXIT_OK && !done)
        status = cmd->run(opts, args, nargs);
    if (cmd->cleanup)
        cmd->cleanup(opts);
    free(opts);
    free(args);
    return status;
}

int cli_main(const struct cli_program *p, int argc, char **argv)
{
    program_name = p->name;
    /* A segment file truncated under us: one line, not a bare SIGBUS. */
    ivshm_sigbus_catch(p->name);
    const struct cli_command *const *cmds = p->commands;
    if (cmds[0] && !cmds[0]->name) /* a program of one command */
        return run_command(cmds[0], argc - 1, argv + 1);
    if (argc < 2) {
        print_program_help(p);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        for (const struct cli_command *const *c = cmds; *c && argc > 2; c++)
            if (strcmp(name, "help") == 0 && strcmp((*c)->name, argv[2]) == 0) {
                print_command_help(*c);
                return CLI_EXIT_OK;
            }
        print_program_help(p);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return print_version();
    for (const struct cli_command *const *c = cmds; *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return run_command(*c, argc - 2, argv + 2);
    return cli_fail(CLI_EXIT_USAGE, "unknown command '%s' (see %s --help)", name, p->name);
}
