/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test driver for the doorbell server until `ivshm serve` exists: the same
 * library entry point, ivshm_serve_run.
 *
 *   serve [--dir DIR] [--socket PATH] [--vectors N] [--max-clients N]
 *         [--daemon] [--pidfile FILE] [--quiet] NAME...
 *
 * Logs one line per event on stderr. Exit status 0 after SIGTERM or SIGINT,
 * 1 when it cannot serve, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/doorbell_server.h"

static int usage(const char *why)
{
    fprintf(stderr,
            "serve: %s\nusage: serve [--dir DIR] [--socket PATH] [--vectors N] "
            "[--max-clients N] [--daemon] [--pidfile FILE] [--quiet] NAME...\n",
            why);
    return 2;
}

int main(int argc, char **argv)
{
    struct ivshm_serve_opts o = {.log = stderr};
    const char **names = calloc((size_t)argc, sizeof(*names));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--dir") == 0 && has_value)
            o.dir = argv[++i];
        else if (strcmp(a, "--socket") == 0 && has_value)
            o.socket_path = argv[++i];
        else if (strcmp(a, "--vectors") == 0 && has_value)
            o.vectors = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (strcmp(a, "--max-clients") == 0 && has_value)
            o.max_clients = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (strcmp(a, "--pidfile") == 0 && has_value)
            o.pidfile = argv[++i];
        else if (strcmp(a, "--daemon") == 0)
            o.daemon = true;
        else if (strcmp(a, "--quiet") == 0)
            o.log = NULL;
        else if (a[0] == '-')
            return usage("unknown option or missing value");
        else
            names[o.count++] = a;
    }
    if (o.count == 0)
        return usage("no segment named");
    o.names = names;
    struct ivshm_error err;
    int rc = ivshm_serve_run(&o, &err);
    free(names);
    if (rc) {
        fprintf(stderr, "serve: %s\n", err.msg);
        return 1;
    }
    return 0;
}
