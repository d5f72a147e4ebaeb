/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Doorbell client: QEMU's ivshmem server protocol, client side
 * (docs/abi.md, section 5). Every message from the server is one
 * little-endian signed 64-bit number, with at most one file descriptor
 * (SCM_RIGHTS): the version (0), our ID, -1 with the shared memory, then a
 * peer ID with one eventfd per vector (ours: to wait on; others': to ring),
 * and later a peer ID alone when that peer left.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host/doorbell_server.h"
#include "ivshm/doorbell.h"
#include "host/internal.h"
#include "ivshm/segment.h"

#define SOCKET_EVENT       UINT64_MAX /* epoll data of the server socket; vectors use their index */
#define DEFAULT_TIMEOUT_MS 5000

struct peer {
    uint16_t id;
    unsigned vectors;
    int fds[IVSHM_DOORBELL_MAX_VECTORS];
};

struct ivshm_doorbell {
    int sock; /* -1 once the server is gone */
    int epfd;
    struct ivshm_doorbell_opts opts;
    /* handshake progress */
    bool have_version, have_id, have_memory;
    uint16_t id;
    unsigned vectors;
    int own[IVSHM_DOORBELL_MAX_VECTORS];
    struct peer *peers;
    size_t peer_count, peer_cap;
    /* a message being received: bytes so far and the descriptor that came with them */
    uint8_t msg[8];
    size_t msg_len;
    int msg_fd;
};

int ivshm_doorbell_socket_path(const char *dir, const char *name, char *out, size_t size,
                               struct ivshm_error *err)
{
    char resolved[PATH_MAX], real[PATH_MAX], file[PATH_MAX];
    int rc = ivshm_dir_resolve(dir, resolved, sizeof(resolved), NULL, err);
    if (rc == IVSHM_OK) /* checks the name */
        rc = ivshm_segment_path(resolved, name, file, sizeof(file), err);
    if (rc)
        return rc;
    if (!realpath(resolved, real))
        return ivshm_fail(err, errno == ENOENT ? IVSHM_E_NOENT : IVSHM_E_SYSTEM,
                          "directory '%s': %s", resolved, strerror(errno));
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/.%s%s.sock", real, IVSHM_FILE_PREFIX, name);
    rc = ivshm_doorbell_socket_address(path, NULL, err);
    if (rc)
        return rc;
    if (strlen(path) >= size)
        return ivshm_fail(err, IVSHM_E_INVAL, "socket path '%s': longer than %zu bytes", path,
                          size - 1);
    strcpy(out, path);
    return IVSHM_OK;
}

/* ---- peers ---- */

static struct peer *find_peer(const struct ivshm_doorbell *db, uint16_t id)
{
    for (size_t i = 0; i < db->peer_count; i++)
        if (db->peers[i].id == id)
            return &db->peers[i];
    return NULL;
}

static void close_fds(int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
}

static void peer_event(struct ivshm_doorbell *db, uint16_t id, bool joined)
{
    if (db->opts.peer_event)
        db->opts.peer_event(db->opts.ctx, id, joined);
}

/* A vector of peer `id` (ours when id is our ID). Takes fd. */
static int add_vector(struct ivshm_doorbell *db, uint16_t id, int fd, struct ivshm_error *err)
{
    if (id == db->id) {
        if (db->vectors == IVSHM_DOORBELL_MAX_VECTORS) {
            close(fd); /* more than we can report: unused, as QEMU does */
            return IVSHM_OK;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = db->vectors};
        if (epoll_ctl(db->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            int e = errno;
            close(fd);
            return ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell: epoll_ctl: %s", strerror(e));
        }
        db->own[db->vectors++] = fd;
        return IVSHM_OK;
    }
    struct peer *p = find_peer(db, id);
    if (!p) {
        if (db->peer_count == db->peer_cap) {
            size_t cap = db->peer_cap ? 2 * db->peer_cap : 8;
            struct peer *grown = realloc(db->peers, cap * sizeof(*grown));
            if (!grown) {
                close(fd);
                return ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell: out of memory");
            }
            db->peers = grown;
            db->peer_cap = cap;
        }
        p = &db->peers[db->peer_count++];
        p->id = id;
        p->vectors = 0;
        p->fds[p->vectors++] = fd;
        peer_event(db, id, true);
        return IVSHM_OK;
    }
    if (p->vectors == IVSHM_DOORBELL_MAX_VECTORS)
        close(fd);
    else
        p->fds[p->vectors++] = fd;
    return IVSHM_OK;
}

static void remove_peer(struct ivshm_doorbell *db, uint16_t id)
{
    struct peer *p = find_peer(db, id);
    if (!p)
        return; /* never heard of it: nothing to forget */
    close_fds(p->fds, p->vectors);
    *p = db->peers[--db->peer_count];
    peer_event(db, id, false);
}

/* ---- messages ---- */

/* The server broke the protocol or went away: forget the socket, keep the
 * eventfds (they work without the server). */
static void server_gone(struct ivshm_doorbell *db)
{
    if (db->sock < 0)
        return;
    epoll_ctl(db->epfd, EPOLL_CTL_DEL, db->sock, NULL);
    close(db->sock);
    db->sock = -1;
    if (db->msg_fd >= 0)
        close(db->msg_fd);
    db->msg_fd = -1;
    db->msg_len = 0;
}

static int protocol_error(struct ivshm_doorbell *db, int fd, struct ivshm_error *err,
                          const char *fmt, long long value)
{
    if (fd >= 0)
        close(fd);
    server_gone(db);
    char what[96];
    snprintf(what, sizeof(what), fmt, value);
    return ivshm_fail(err, IVSHM_E_CORRUPT, "doorbell server: %s", what);
}

/* One whole message. Takes fd. */
static int handle_message(struct ivshm_doorbell *db, int64_t value, int fd, struct ivshm_error *err)
{
    if (!db->have_version) {
        if (value != 0 || fd >= 0)
            return protocol_error(db, fd, err, "protocol version %lld, expected 0",
                                  (long long)value);
        db->have_version = true;
        return IVSHM_OK;
    }
    if (!db->have_id) {
        if (value < 0 || value > UINT16_MAX || fd >= 0)
            return protocol_error(db, fd, err, "sent %lld where our peer ID belongs",
                                  (long long)value);
        db->id = (uint16_t)value;
        db->have_id = true;
        return IVSHM_OK;
    }
    if (value == -1) {
        if (fd < 0 || db->have_memory)
            return protocol_error(db, fd, err,
                                  "sent a shared memory message (%lld) twice or "
                                  "without its descriptor",
                                  (long long)value);
        close(fd); /* a host process maps the segment by path */
        db->have_memory = true;
        return IVSHM_OK;
    }
    if (value < 0 || value > UINT16_MAX)
        return protocol_error(db, fd, err, "sent %lld, not a peer ID", (long long)value);
    if (fd >= 0)
        return add_vector(db, (uint16_t)value, fd, err);
    if (value == db->id)
        return protocol_error(db, fd, err, "says we (peer %lld) left", (long long)value);
    remove_peer(db, (uint16_t)value);
    return IVSHM_OK;
}

/*
 * Reads what the socket holds, message by message, without blocking.
 * Returns IVSHM_OK when nothing more is there (or the server is gone by
 * EOF), IVSHM_E_CORRUPT on a protocol error.
 */
static int receive(struct ivshm_doorbell *db, struct ivshm_error *err)
{
    while (db->sock >= 0) {
        struct iovec iov = {db->msg + db->msg_len, sizeof(db->msg) - db->msg_len};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(4 * sizeof(int))];
        } control;
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = control.buf,
                           .msg_controllen = sizeof(control.buf)};
        ssize_t n = recvmsg(db->sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return IVSHM_OK;
        /* Descriptors: keep the first of a message, close any other (a
         * well-behaved server sends at most one). */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (db->msg_fd < 0)
                    db->msg_fd = fd;
                else
                    close(fd);
            }
        }
        if (n <= 0) { /* EOF or a broken connection: the server is gone */
            server_gone(db);
            return IVSHM_OK;
        }
        db->msg_len += (size_t)n;
        if (db->msg_len < sizeof(db->msg))
            continue;
        int64_t value = 0;
        for (int i = 7; i >= 0; i--)
            value = (int64_t)((uint64_t)value << 8 | db->msg[i]);
        int fd = db->msg_fd;
        db->msg_fd = -1;
        db->msg_len = 0;
        int rc = handle_message(db, value, fd, err);
        if (rc)
            return rc;
    }
    return IVSHM_OK;
}

/* Handles what epoll reported; sets bits of *fired. */
static int handle_events(struct ivshm_doorbell *db, const struct epoll_event *ev, int n,
                         uint64_t *fired, struct ivshm_error *err)
{
    int rc = IVSHM_OK;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == SOCKET_EVENT) {
            int r = receive(db, err);
            rc = rc ? rc : r;
            continue;
        }
        uint64_t vector = ev[i].data.u64, count;
        if (vector < db->vectors && read(db->own[vector], &count, sizeof(count)) == sizeof(count))
            *fired |= 1ull << vector;
    }
    return rc;
}

/* ---- the API ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_for_handshake(struct ivshm_doorbell *db, const char *path, int timeout_ms,
                              struct ivshm_error *err)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (!db->have_memory || db->vectors == 0) {
        if (db->sock < 0)
            return ivshm_fail(err, IVSHM_E_CORRUPT,
                              "doorbell server at %s: closed the connection after %s", path,
                              db->have_memory    ? "the shared memory"
                              : db->have_id      ? "our ID"
                              : db->have_version ? "the version"
                                                 : "accepting it");
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = db->sock, .events = POLLIN};
        int n = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return ivshm_fail(err, IVSHM_E_TIMEOUT, "doorbell server at %s: no %s within %d ms",
                              path, db->have_memory ? "vector of our own" : "handshake",
                              timeout_ms);
        int rc = receive(db, err);
        if (rc)
            return rc;
    }
    return receive(db, err); /* whatever else came with it */
}

int ivshm_doorbell_connect(const char *socket_path, const struct ivshm_doorbell_opts *opts,
                           struct ivshm_doorbell **out, struct ivshm_error *err)
{
    struct sockaddr_un addr;
    int rc = ivshm_doorbell_socket_address(socket_path, &addr, err);
    if (rc)
        return rc;
    struct ivshm_doorbell *db = calloc(1, sizeof(*db));
    if (!db)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell: out of memory");
    if (opts)
        db->opts = *opts;
    int timeout_ms = db->opts.timeout_ms > 0 ? db->opts.timeout_ms : DEFAULT_TIMEOUT_MS;
    db->msg_fd = -1;
    db->epfd = epoll_create1(EPOLL_CLOEXEC);
    db->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (db->epfd < 0 || db->sock < 0) {
        rc = ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell: %s", strerror(errno));
        goto fail;
    }
    if (connect(db->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
        bool absent = errno == ENOENT || errno == ECONNREFUSED;
        rc = ivshm_fail(
            err, absent ? IVSHM_E_NOENT : IVSHM_E_SYSTEM, "doorbell server at %s: %s", socket_path,
            absent ? "not running (no server listens on that socket)" : strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = SOCKET_EVENT};
    if (epoll_ctl(db->epfd, EPOLL_CTL_ADD, db->sock, &ev) != 0) {
        rc = ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell: epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    rc = wait_for_handshake(db, socket_path, timeout_ms, err);
    if (rc)
        goto fail;
    *out = db;
    return IVSHM_OK;
fail:
    ivshm_doorbell_close(db);
    return rc;
}

void ivshm_doorbell_close(struct ivshm_doorbell *db)
{
    if (!db)
        return;
    server_gone(db);
    close_fds(db->own, db->vectors);
    for (size_t i = 0; i < db->peer_count; i++)
        close_fds(db->peers[i].fds, db->peers[i].vectors);
    free(db->peers);
    if (db->epfd >= 0)
        close(db->epfd);
    free(db);
}

uint16_t ivshm_doorbell_id(const struct ivshm_doorbell *db)
{
    return db->id;
}

unsigned ivshm_doorbell_vectors(const struct ivshm_doorbell *db)
{
    return db->vectors;
}

int ivshm_doorbell_fd(const struct ivshm_doorbell *db)
{
    return db->epfd;
}

bool ivshm_doorbell_server_up(const struct ivshm_doorbell *db)
{
    return db->sock >= 0;
}

int ivshm_doorbell_process(struct ivshm_doorbell *db, uint64_t *fired, struct ivshm_error *err)
{
    struct epoll_event ev[IVSHM_DOORBELL_MAX_VECTORS + 1];
    uint64_t mask = 0;
    int n = epoll_wait(db->epfd, ev, IVSHM_DOORBELL_MAX_VECTORS + 1, 0);
    int rc = n > 0 ? handle_events(db, ev, n, &mask, err) : IVSHM_OK;
    if (fired)
        *fired = mask;
    return rc;
}

int ivshm_doorbell_wait(struct ivshm_doorbell *db, int timeout_ms, uint64_t *fired,
                        struct ivshm_error *err)
{
    struct epoll_event ev[IVSHM_DOORBELL_MAX_VECTORS + 1];
    int64_t deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
    uint64_t mask = 0;
    int rc = IVSHM_OK;
    for (;;) {
        int left = timeout_ms < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
        int n = epoll_wait(db->epfd, ev, IVSHM_DOORBELL_MAX_VECTORS + 1, left);
        if (n < 0 && errno != EINTR) {
            rc = ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell: epoll_wait: %s", strerror(errno));
            break;
        }
        if (n > 0)
            rc = handle_events(db, ev, n, &mask, err);
        if (mask || rc)
            break;
        if (n == 0 && left == 0) {
            rc = ivshm_fail(err, IVSHM_E_TIMEOUT, "doorbell: no ring within %d ms", timeout_ms);
            break;
        }
    }
    if (fired)
        *fired = mask;
    return rc;
}

int ivshm_doorbell_ring(struct ivshm_doorbell *db, uint16_t peer, uint16_t vector,
                        struct ivshm_error *err)
{
    const struct peer *p = peer == db->id ? NULL : find_peer(db, peer);
    unsigned vectors = peer == db->id ? db->vectors : p ? p->vectors : 0;
    if (vector >= vectors && db->sock >= 0) {
        /* The server may have told us of it in a message not read yet. */
        int rc = receive(db, err);
        if (rc)
            return rc;
        p = peer == db->id ? NULL : find_peer(db, peer);
        vectors = peer == db->id ? db->vectors : p ? p->vectors : 0;
    }
    if (vectors == 0)
        return ivshm_fail(err, IVSHM_E_NOENT, "doorbell peer %u: not connected", peer);
    if (vector >= vectors)
        return ivshm_fail(err, IVSHM_E_NOENT, "doorbell peer %u: no vector %u (it has %u)", peer,
                          vector, vectors);
    int fd = p ? p->fds[vector] : db->own[vector];
    uint64_t one = 1;
    /* EAGAIN: the counter is at its maximum, so the peer is rung already. */
    if (write(fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell peer %u vector %u: %s", peer, vector,
                          strerror(errno));
    return IVSHM_OK;
}

unsigned ivshm_doorbell_peer_vectors(const struct ivshm_doorbell *db, uint16_t peer)
{
    if (peer == db->id)
        return 0;
    const struct peer *p = find_peer(db, peer);
    return p ? p->vectors : 0;
}

size_t ivshm_doorbell_peers(const struct ivshm_doorbell *db, uint16_t *ids, size_t max)
{
    for (size_t i = 0; i < db->peer_count && i < max; i++)
        ids[i] = db->peers[i].id;
    return db->peer_count;
}
