/* SPDX-License-Identifier: BSD-3-Clause */
/* ivshm qemu-args NAME... [--machine q35|pc] [--first-slot S] [--dir DIR]
 *                 [--doorbell [--socket PATH] [--vectors N]] */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cli/cli.h"
#include "host/cli/commands.h"
#include "ivshm/doorbell.h"
#include "ivshm/qemu.h"
#include "ivshm/segment.h"

struct qemu_args_opts {
    const char *dir;
    const char *socket; /* --socket: one segment's doorbell socket */
    struct ivshm_qemu_opts qemu;
};

static int parse_machine(void *opts, const struct cli_option *option, const char *v)
{
    struct qemu_args_opts *c = opts;
    if (strcmp(v, "q35") == 0)
        c->qemu.machine = IVSHM_QEMU_Q35;
    else if (strcmp(v, "pc") == 0)
        c->qemu.machine = IVSHM_QEMU_PC;
    else
        return cli_fail(CLI_EXIT_USAGE, "%s '%s': must be q35 or pc", option->name, v);
    return CLI_EXIT_OK;
}

static int qemu_args_run(void *opts, char **args, unsigned nargs)
{
    const struct qemu_args_opts *c = opts;
    struct ivshm_qemu_segment *segs = calloc(nargs, sizeof(*segs));
    char(*paths)[IVSHM_PATH_MAX] = calloc(nargs, IVSHM_PATH_MAX);
    char(*sockets)[IVSHM_PATH_MAX] = calloc(nargs, IVSHM_PATH_MAX);
    int status = CLI_EXIT_OK;
    if (!segs || !paths || !sockets)
        status = cli_fail(CLI_EXIT_RUNTIME, "out of memory");
    else if (c->socket && (!c->qemu.doorbell || nargs != 1))
        status =
            cli_fail(CLI_EXIT_USAGE, "qemu-args: --socket goes with --doorbell and one segment");
    for (unsigned i = 0; i < nargs && status == CLI_EXIT_OK; i++) {
        for (unsigned j = 0; j < i; j++)
            if (strcmp(args[i], args[j]) == 0)
                status = cli_fail(CLI_EXIT_USAGE, "qemu-args: segment '%s' given twice", args[i]);
        if (status)
            break;
        struct ivshm_segment seg;
        struct ivshm_error err;
        int rc = ivshm_segment_attach(c->dir, args[i], IVSHM_ATTACH_READONLY, NULL, &seg, &err);
        if (rc) {
            status = cli_fail(cli_exit_status(rc), "%s", err.msg);
            break;
        }
        /* QEMU may run from another directory: give it an absolute path. */
        if (!realpath(seg.path, paths[i]))
            strcpy(paths[i], seg.path);
        segs[i].name = args[i];
        segs[i].path = paths[i];
        segs[i].size = seg.view.size;
        segs[i].numa_node = seg.view.hdr->numa_node;
        ivshm_segment_detach(&seg);
        if (c->qemu.doorbell && c->socket)
            snprintf(sockets[i], IVSHM_PATH_MAX, "%s", c->socket);
        else if (c->qemu.doorbell && (rc = ivshm_doorbell_socket_path(c->dir, args[i], sockets[i],
                                                                      IVSHM_PATH_MAX, &err))) {
            status = cli_fail(cli_exit_status(rc), "%s", err.msg);
            break;
        }
        segs[i].socket = sockets[i];
    }
    if (status == CLI_EXIT_OK) {
        size_t size = 1024 + (size_t)nargs * (IVSHM_PATH_MAX + 512);
        char *out = malloc(size);
        struct ivshm_error err;
        if (!out)
            status = cli_fail(CLI_EXIT_RUNTIME, "out of memory");
        else if (ivshm_qemu_args(segs, nargs, &c->qemu, out, size, &err) != IVSHM_OK)
            status = cli_fail(CLI_EXIT_RUNTIME, "%s", err.msg);
        else
            printf("%s\n", out);
        free(out);
    }
    free(segs);
    free(paths);
    free(sockets);
    return status;
}

static const struct cli_option qemu_args_options[] = {
    CLI_OPTION_DIR(struct qemu_args_opts),
    {"--machine", "q35|pc",
     "q35 (default): one pcie-root-port per device; pc: devices on the root bus", CLI_CALL, 0, 0, 0,
     parse_machine, NULL},
    {"--first-slot", "S", "q35: first pcie.0 slot of the root ports (0x10)", CLI_U32,
     CLI_FIELD(struct qemu_args_opts, qemu.first_slot), 1, 0x1e, NULL, NULL},
    {"--doorbell", NULL, "ivshmem-doorbell devices served by `ivshm serve` (which must run first)",
     CLI_FLAG, CLI_FIELD(struct qemu_args_opts, qemu.doorbell), 0, 0, NULL, NULL},
    {"--socket", "PATH",
     "--doorbell, one segment: the server's socket (default DIR/.ivshm-NAME.sock)", CLI_STRING,
     CLI_FIELD(struct qemu_args_opts, socket), 0, 0, NULL, NULL},
    {"--vectors", "N", "--doorbell: MSI-X vectors a device, 1..64 (4)", CLI_U32,
     CLI_FIELD(struct qemu_args_opts, qemu.vectors), 1, IVSHM_DOORBELL_MAX_VECTORS, NULL, NULL},
    CLI_OPTION_END,
};

const struct cli_command cli_cmd_qemu_args = {
    .name = "qemu-args",
    .args = "NAME...",
    .min_args = 1,
    .max_args = 32,
    .segment_args = true,
    .summary = "print the QEMU arguments that attach the segments",
    .opts_size = sizeof(struct qemu_args_opts),
    .options = qemu_args_options,
    .run = qemu_args_run,
};
