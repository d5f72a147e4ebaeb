/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Doorbells on the host: a client of the doorbell server (`ivshm serve`),
 * which speaks QEMU's ivshmem server protocol, so QEMU's ivshmem-doorbell
 * devices and host processes are peers of one another.
 *
 * Each segment served has its own UNIX socket (ivshm_doorbell_socket_path).
 * A peer that connects gets an ID (0..IVSHM_DOORBELL_MAX_ID) and, for each of
 * its vectors, an eventfd that peers write to ring it; it also gets every
 * other peer's eventfds, so ringing a peer is a write(2) with no server in
 * between. A VM reads its ID from the device's IVPosition register and rings
 * a peer through the Doorbell register (guest.h); a host process uses this
 * header. The ring wake requests of notify.h carry these IDs and vectors.
 *
 * Typical host process, sleeping on ring rx (see notify.h):
 *
 *     struct ivshm_doorbell *db;
 *     char sock[108];
 *     if (ivshm_doorbell_socket_path(NULL, "vm1", sock, sizeof(sock), &err) ||
 *         ivshm_doorbell_connect(sock, NULL, &db, &err))
 *         die(err.msg);
 *     ...
 *     if (ivshm_ring_arm_wake(&rx, IVSHM_WAKE_CONSUMER, ivshm_doorbell_id(db), 0, 1))
 *         ivshm_doorbell_wait(db, 10, NULL, &err);    // or poll ivshm_doorbell_fd(db)
 *     ivshm_ring_disarm_wake(&rx, IVSHM_WAKE_CONSUMER);
 *
 * and the producer, after an enqueue:
 *
 *     uint32_t w = ivshm_ring_wake_needed(&rx, IVSHM_WAKE_CONSUMER);
 *     if (w)
 *         ivshm_doorbell_ring(db, ivshm_wake_peer(w), ivshm_wake_vector(w), NULL);
 *
 * Functions that can fail return IVSHM_OK or a negative enum ivshm_status and
 * fill err (may be NULL) with one line naming the thing and the reason; the
 * others return their value. A client is used by one thread at a time.
 */
#ifndef IVSHM_DOORBELL_H
#define IVSHM_DOORBELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Vectors of each peer when nobody says otherwise: the server hands out this
 * many eventfds a peer and `ivshm qemu-args --doorbell` asks QEMU for as many
 * MSI-X vectors, so the two agree. */
#define IVSHM_DOORBELL_VECTORS 4u
/* Most vectors a peer may have (a client reports fired vectors as a 64-bit mask). */
#define IVSHM_DOORBELL_MAX_VECTORS 64u
/* Highest peer ID the server gives (ID + 1 must fit the 16-bit ctrl.doorbell). */
#define IVSHM_DOORBELL_MAX_ID 65534u

/*
 * The socket of segment NAME: <DIR>/.ivshm-NAME.sock, where DIR is the
 * segment directory (resolved as for ivshm_segment_attach: dir, $IVSHM_DIR,
 * the first hugetlbfs mount, /dev/shm) with symbolic links resolved, so the
 * server and `qemu-args` find the same path from anywhere. The leading dot
 * keeps it out of segment listings.
 * Errors: IVSHM_E_INVAL (bad name; the path is longer than the 107 bytes a
 * UNIX socket address holds), IVSHM_E_NOENT (the directory does not exist).
 */
int ivshm_doorbell_socket_path(const char *dir, const char *name, char *out, size_t size,
                               struct ivshm_error *err);

struct ivshm_doorbell; /* a connected client; opaque */

struct ivshm_doorbell_opts {
    int timeout_ms; /* bound on connect and the server's first messages; 0: 5000 */
    /* Called from ivshm_doorbell_process/wait when a peer comes (joined:
     * its first vector arrived) or goes. May be NULL. */
    void (*peer_event)(void *ctx, uint16_t peer, bool joined);
    void *ctx;
};

/*
 * Connects to the server at socket_path and reads its first messages: the
 * protocol version (0), our ID, the segment's file descriptor (closed: a host
 * process maps the segment by path), the peers present and their vectors,
 * and our own vectors. opts may be NULL. *out is set on success only.
 * Errors: IVSHM_E_NOENT (no server listens there: no socket, or a stale
 * one), IVSHM_E_TIMEOUT (the server sent nothing in time), IVSHM_E_CORRUPT
 * (not the ivshmem protocol: wrong version, a malformed message, or the
 * connection closed early), IVSHM_E_INVAL (path too long), IVSHM_E_SYSTEM.
 */
int ivshm_doorbell_connect(const char *socket_path, const struct ivshm_doorbell_opts *opts,
                           struct ivshm_doorbell **out, struct ivshm_error *err);

/* Disconnects (the server tells the peers we left) and closes every
 * descriptor. NULL is ignored. */
void ivshm_doorbell_close(struct ivshm_doorbell *db);

/* Our peer ID, as the server gave it. */
uint16_t ivshm_doorbell_id(const struct ivshm_doorbell *db);

/* How many vectors of our own the server gave us (they may keep arriving
 * after connect: the count grows, never shrinks). */
unsigned ivshm_doorbell_vectors(const struct ivshm_doorbell *db);

/*
 * A descriptor that becomes readable when one of our vectors is rung or the
 * server sends a message: poll it in an event loop, then call
 * ivshm_doorbell_process. It is an epoll descriptor; do not read it.
 */
int ivshm_doorbell_fd(const struct ivshm_doorbell *db);

/*
 * Without blocking: takes the rings of our vectors (bit v of *fired, if not
 * NULL, set when vector v was rung since the last call) and handles the
 * server's messages (peers coming and going, through opts.peer_event).
 * Errors: IVSHM_E_CORRUPT when the server sent a malformed message: it is
 * disconnected, as when it closes the connection (ivshm_doorbell_server_up
 * turns false); the peers already known can still be rung and ring us.
 * IVSHM_E_SYSTEM (out of memory for a newcomer's descriptors, epoll).
 */
int ivshm_doorbell_process(struct ivshm_doorbell *db, uint64_t *fired, struct ivshm_error *err);

/*
 * Sleeps until one of our vectors is rung (IVSHM_OK, *fired as above), or
 * timeout_ms passes (IVSHM_E_TIMEOUT; -1: no bound). Server messages are
 * handled meanwhile and do not end the wait. Errors: as
 * ivshm_doorbell_process.
 */
int ivshm_doorbell_wait(struct ivshm_doorbell *db, int timeout_ms, uint64_t *fired,
                        struct ivshm_error *err);

/*
 * Rings vector `vector` of peer `peer` (our own ID included). Errors:
 * IVSHM_E_NOENT (no such peer, or it has fewer vectors: nothing is rung),
 * IVSHM_E_SYSTEM (the write failed).
 */
int ivshm_doorbell_ring(struct ivshm_doorbell *db, uint16_t peer, uint16_t vector,
                        struct ivshm_error *err);

/* Vectors we can ring on peer `peer`: 0 when it is not connected. */
unsigned ivshm_doorbell_peer_vectors(const struct ivshm_doorbell *db, uint16_t peer);

/* Fills ids with up to max peer IDs (others than ours), returns how many
 * peers there are. */
size_t ivshm_doorbell_peers(const struct ivshm_doorbell *db, uint16_t *ids, size_t max);

/* False once the server closed the connection or broke the protocol. */
bool ivshm_doorbell_server_up(const struct ivshm_doorbell *db);

#endif
