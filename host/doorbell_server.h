/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The doorbell server (internal to libivshm and the CLI): QEMU's ivshmem
 * server protocol for ivshm segments. docs/abi.md, section 5, describes what
 * it sends and when.
 *
 * One server process serves any number of segments, each on its own UNIX
 * socket (default: ivshm_doorbell_socket_path). To every client that
 * connects (QEMU's ivshmem-doorbell device or ivshm_doorbell_connect) it
 * sends the protocol version (0), the client's ID, the segment file itself
 * (ID -1: QEMU maps it as BAR2, so hugetlbfs memory and the metadata stay as
 * they are), the eventfds of every other client, then the client's own; it
 * gives the other clients the newcomer's eventfds and tells them when a
 * client leaves. Nothing a client sends is accepted: the protocol is one-way,
 * so a client that writes is disconnected. A client that does not read has
 * its messages queued (bounded), never blocks the others.
 */
#ifndef IVSHM_HOST_DOORBELL_SERVER_H
#define IVSHM_HOST_DOORBELL_SERVER_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/un.h>

#include "ivshm/status.h"

#define IVSHM_DOORBELL_PROTOCOL    0   /* the ivshmem server protocol version */
#define IVSHM_SERVE_MAX_CLIENTS    256 /* default bound on clients per segment */
#define IVSHM_SERVE_MAX_SEGMENTS   64
#define IVSHM_SERVE_QUEUE_MESSAGES 65536 /* unread messages before a client is dropped */

struct ivshm_serve_opts {
    const char *dir;          /* segment directory; NULL: the default (segment_file.h) */
    const char *const *names; /* segments to serve */
    unsigned count;
    const char *socket_path; /* overrides the default socket; only when count == 1 */
    unsigned vectors;        /* eventfds per client, 1..64; 0: IVSHM_DOORBELL_VECTORS */
    unsigned max_clients;    /* per segment; 0: IVSHM_SERVE_MAX_CLIENTS */
    bool daemon;             /* ivshm_serve_run: fork once the sockets listen */
    const char *pidfile;     /* ivshm_serve_run: written with the serving pid; may be NULL */
    FILE *log;               /* one line per event (client in, out, refused); NULL: quiet */
};

struct ivshm_server;

/*
 * Checks every segment (it must exist and validate), then listens on each
 * one's socket. A socket file left by a server that died is replaced; one a
 * live server listens on is not (IVSHM_E_EXIST), nor is another kind of file.
 * Errors: IVSHM_E_INVAL (bad options), IVSHM_E_EXIST, the segment attach
 * errors (IVSHM_E_NOENT, IVSHM_E_NOTSEG, ...), IVSHM_E_SYSTEM.
 */
int ivshm_server_open(const struct ivshm_serve_opts *opts, struct ivshm_server **out,
                      struct ivshm_error *err);

/* Readable when the server has work: poll it, then ivshm_server_process. */
int ivshm_server_fd(const struct ivshm_server *s);

/* Accepts clients, flushes queues, drops clients that left, waiting at most
 * timeout_ms for something to do (0: not at all). Errors: IVSHM_E_SYSTEM
 * (epoll failed); a client's trouble is logged, never returned. */
int ivshm_server_process(struct ivshm_server *s, int timeout_ms, struct ivshm_error *err);

/* Clients connected to segment `index` (in the order of opts.names). */
unsigned ivshm_server_clients(const struct ivshm_server *s, unsigned index);

/* The socket path of segment `index`. */
const char *ivshm_server_socket(const struct ivshm_server *s, unsigned index);

/* Stops serving: closes every client connection without telling anyone
 * (clients keep the eventfds they have and can go on ringing one another),
 * removes the sockets it created (if still its own). NULL is ignored. */
void ivshm_server_close(struct ivshm_server *s);

/*
 * Open, then (daemon) fork: the parent returns IVSHM_OK once the child
 * serves, the child runs on. Writes the pidfile, serves until SIGTERM or
 * SIGINT (blocked and taken through a signalfd while it runs), closes, and
 * removes the pidfile. Returns IVSHM_OK after a signal.
 */
int ivshm_serve_run(const struct ivshm_serve_opts *opts, struct ivshm_error *err);

/* Fills *addr (if not NULL) for a UNIX socket at path; IVSHM_E_INVAL when the
 * path does not fit in sun_path (107 bytes). Shared with the client. */
int ivshm_doorbell_socket_address(const char *path, struct sockaddr_un *addr,
                                  struct ivshm_error *err);

#endif
