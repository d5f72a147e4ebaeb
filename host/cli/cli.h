/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command-line framework of `ivshm` and `ivshm-fwd` (not part of
 * libivshm): one option parser, one number parser, one way to fail, one CPU
 * pinning helper, --help and --version everywhere.
 *
 * A command is a struct cli_command: its positional arguments, its options
 * (a table of struct cli_option, each writing one field of the command's own
 * option struct), and its run function. Adding a subcommand to `ivshm` is one
 * file defining `const struct cli_command cli_cmd_NAME` plus one line in
 * host/cli/main.c; a program of its own (as ivshm-fwd) calls cli_main() with
 * a one-command table.
 *
 * Options may come before or after the positional arguments, as `--opt
 * VALUE` or `--opt=VALUE`; `--` ends the options. Exit status: CLI_EXIT_OK,
 * CLI_EXIT_RUNTIME (a failure at run time), CLI_EXIT_USAGE (bad arguments).
 * Every error is one line on stderr, "<program>: <what>: <reason>".
 */
#ifndef IVSHM_CLI_H
#define IVSHM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ivshm/status.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

/* ---- options ---- */

enum cli_kind {
    CLI_FLAG,    /* bool = true; takes no value */
    CLI_STRING,  /* const char * (not empty) */
    CLI_NAME,    /* const char *, a name (1..31 of [A-Za-z0-9_-]); data: what it names */
    CLI_U32,     /* uint32_t in [min, max] */
    CLI_U64,     /* uint64_t in [min, max] */
    CLI_SIZE,    /* uint64_t byte count with K/M/G/T suffix, in [min, max] */
    CLI_SECONDS, /* double, above 0 and at most max (0: one day) */
    CLI_INDEX,   /* int in [min, max]; -1 when the option is not given (a CPU, a node) */
    CLI_CALL,    /* parse(opts, option, value) does it */
};

struct cli_option {
    const char *name;    /* "--size" */
    const char *metavar; /* "SIZE"; NULL for a flag */
    const char *help;
    enum cli_kind kind;
    size_t offset; /* of the field in the command's option struct */
    uint64_t min, max;
    /* CLI_CALL: returns CLI_EXIT_OK or an exit status (having said why) */
    int (*parse)(void *opts, const struct cli_option *option, const char *value);
    const void *data; /* for parse */
};

#define CLI_FIELD(type, field) offsetof(type, field)

/* The --dir option of every command that works on segment files. */
#define CLI_OPTION_DIR(type)                                                                       \
    {                                                                                              \
        "--dir", "DIR",                                                                            \
            "directory of the segment files (default: $IVSHM_DIR, the first hugetlbfs mount, "     \
            "else /dev/shm)",                                                                      \
            CLI_STRING, CLI_FIELD(type, dir), 0, 0, NULL, NULL                                     \
    }
#define CLI_OPTION_END                                                                             \
    {                                                                                              \
        NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL                                                   \
    }

/* ---- commands ---- */

struct cli_command {
    const char *name; /* "create"; NULL for a program of one command */
    const char *args; /* positional arguments for the usage line: "NAME..." */
    unsigned min_args, max_args;
    bool segment_args;                /* the positional arguments are segment names */
    const char *summary;              /* one line, in the command list and --help */
    const char *details;              /* printed in --help after the options; may be NULL */
    size_t opts_size;                 /* bytes of the command's option struct */
    void (*defaults)(void *opts);     /* may be NULL: all zero (CLI_INDEX fields -1 regardless) */
    const struct cli_option *options; /* ends with {NULL} */
    /* More options, computed at run time (e.g. one per object type); may be NULL. */
    const struct cli_option *(*more_options)(void);
    int (*run)(void *opts, char **args, unsigned nargs);
    void (*cleanup)(void *opts); /* may be NULL; called after run, or after a parse error */
};

struct cli_program {
    const char *name;                          /* "ivshm": prefixes every message */
    const char *summary;                       /* for --help of a program of several commands */
    const struct cli_command *const *commands; /* ends with NULL */
};

/* Runs argv: `PROGRAM COMMAND ...` for a program of several commands,
 * `PROGRAM ...` for one whose only command has no name. Handles --help, -h,
 * `help COMMAND` and --version everywhere. Returns the exit status. */
int cli_main(const struct cli_program *program, int argc, char **argv);

/* ---- what commands use ---- */

/* Copies in to out (size bytes, terminated; in == out is fine) with each
 * control byte (a newline, an escape) as '?'; returns whether one was. */
bool cli_printable(const char *in, char *out, size_t size);

/* One line on stderr, "<program>: <message>", control bytes as '?';
 * returns status. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit status for a library status: usage for IVSHM_E_INVAL, run time
 * for the others. */
int cli_exit_status(int code);

/* Runs the calling thread on CPU cpu only (cpu < 0: does nothing). A poller
 * that the scheduler moves about, or puts on its peer's core, loses an order
 * of magnitude. Returns CLI_EXIT_OK or CLI_EXIT_RUNTIME (having said why). */
int cli_pin_cpu(int cpu);

/* The running program's name, e.g. for a command's own messages. */
const char *cli_program_name(void);

/* ---- numbers (units.c) ---- */

/*
 * Parses a byte count: decimal or 0x-hex digits, optionally followed by one of
 * K, M, G, T (binary multiples; lower case and a trailing "iB" or "B" are
 * accepted: 16M, 16m, 16MiB, 2G). Returns IVSHM_OK, or IVSHM_E_INVAL with err
 * naming `what` and the text, for empty, negative, junk or overflowing input.
 */
int cli_parse_size(const char *text, const char *what, uint64_t *out, struct ivshm_error *err);

/* Parses an unsigned decimal (or 0x-hex) integer in [min, max], no suffix. */
int cli_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max, uint64_t *out,
                  struct ivshm_error *err);

/* Parses a number of seconds (decimal, fractions allowed) above 0 and at most
 * max. */
int cli_parse_seconds(const char *text, const char *what, double max, double *out,
                      struct ivshm_error *err);

/* The one number parser of options and keys: for CLI_SIZE a byte count with
 * suffix, else a plain integer; in [min, max] either way. */
int cli_parse_number(enum cli_kind kind, const char *text, const char *what, uint64_t min,
                     uint64_t max, uint64_t *out, struct ivshm_error *err);

/* Writes a size in the largest exact binary unit ("16 MiB", "4097 B"). */
void cli_format_size(uint64_t bytes, char *out, size_t size);

#endif
