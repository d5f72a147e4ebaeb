/* SPDX-License-Identifier: BSD-3-Clause */
/* The doorbell server: see doorbell_server.h and docs/abi.md, section 5. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/doorbell_server.h"
#include "ivshm/doorbell.h"
#include "host/internal.h"
#include "ivshm/segment.h"

enum handle_kind { HANDLE_LISTEN, HANDLE_CLIENT };

/* One 8-byte message still to send, with the descriptor it carries (a dup
 * owned by the queue, sent with its first byte). */
struct message {
    uint8_t bytes[8];
    uint8_t sent;
    int fd;
};

struct client {
    enum handle_kind kind; /* first: epoll data points here */
    struct channel *channel;
    int sock;
    uint16_t id;
    bool dead; /* to be removed at the end of this round */
    bool want_out;
    const char *why; /* why it is dead, for the log */
    unsigned vectors;
    int efd[IVSHM_DOORBELL_MAX_VECTORS];
    struct message *queue; /* ring buffer */
    size_t q_head, q_count, q_cap;
};

struct channel {
    enum handle_kind kind; /* first: epoll data points here */
    struct ivshm_server *server;
    char name[IVSHM_NAME_SIZE];
    char seg_path[PATH_MAX];
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;
    dev_t sock_dev;
    ino_t sock_ino;
    struct client **clients;
    unsigned count;
    uint32_t next_id;
};

struct ivshm_server {
    int epfd;
    unsigned vectors, max_clients;
    FILE *log;
    struct channel *channels;
    unsigned count;
};

int ivshm_doorbell_socket_address(const char *path, struct sockaddr_un *addr,
                                  struct ivshm_error *err)
{
    size_t len = strlen(path), max = sizeof(addr->sun_path) - 1;
    if (len == 0 || len > max)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "socket path '%s': %zu bytes, a UNIX socket address holds 1 to %zu", path,
                          len, max);
    if (addr) {
        memset(addr, 0, sizeof(*addr));
        addr->sun_family = AF_UNIX;
        memcpy(addr->sun_path, path, len);
    }
    return IVSHM_OK;
}

static void say(const struct ivshm_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct ivshm_server *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("doorbell: ", s->log);
    vfprintf(s->log, fmt, ap);
    fputc('\n', s->log);
    fflush(s->log);
    va_end(ap);
}

/* ---- sending ---- */

static void set_out_interest(struct client *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->channel->server->epfd, EPOLL_CTL_MOD, c->sock, &ev) == 0)
        c->want_out = want;
}

static void kill_client(struct client *c, const char *why)
{
    if (!c->dead)
        c->why = why;
    c->dead = true;
}

/* Sends bytes[from..8) (with fd if from == 0). Returns bytes sent, 0 when the
 * socket is full, -1 when the client is gone. */
static int send_bytes(struct client *c, const uint8_t *bytes, unsigned from, int fd)
{
    struct iovec iov = {(void *)(bytes + from), 8 - from};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0 && from == 0) {
        memset(&control, 0, sizeof(control));
        m.msg_control = control.buf;
        m.msg_controllen = sizeof(control.buf);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(c->sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

static void flush_queue(struct client *c)
{
    while (c->q_count && !c->dead) {
        struct message *m = &c->queue[c->q_head];
        int n = send_bytes(c, m->bytes, m->sent, m->fd);
        if (n < 0) {
            kill_client(c, "connection lost");
            return;
        }
        if (n == 0)
            break;
        if (m->fd >= 0) { /* it went with the first byte */
            close(m->fd);
            m->fd = -1;
        }
        m->sent = (uint8_t)(m->sent + n);
        if (m->sent < 8)
            continue;
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_count--;
    }
    if (!c->dead)
        set_out_interest(c, c->q_count != 0);
}

static bool enqueue(struct client *c, const uint8_t *bytes, unsigned sent, int fd)
{
    if (c->q_count == c->q_cap) {
        if (c->q_cap >= IVSHM_SERVE_QUEUE_MESSAGES)
            return false;
        size_t cap = c->q_cap ? 2 * c->q_cap : 16;
        struct message *q = malloc(cap * sizeof(*q));
        if (!q)
            return false;
        for (size_t i = 0; i < c->q_count; i++)
            q[i] = c->queue[(c->q_head + i) % c->q_cap];
        free(c->queue);
        c->queue = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    int dup_fd = -1;
    if (fd >= 0 && sent == 0 && (dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return false;
    struct message *m = &c->queue[(c->q_head + c->q_count++) % c->q_cap];
    memcpy(m->bytes, bytes, 8);
    m->sent = (uint8_t)sent;
    m->fd = dup_fd;
    set_out_interest(c, true);
    return true;
}

/* Sends one protocol message (value, little-endian, with fd if >= 0), or
 * queues it behind earlier ones. A client that cannot take it is dropped. */
static void send_message(struct client *c, int64_t value, int fd)
{
    if (c->dead)
        return;
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)((uint64_t)value >> (8 * i));
    int n = 0;
    if (c->q_count == 0 && (n = send_bytes(c, bytes, 0, fd)) == 8)
        return;
    if (n < 0)
        kill_client(c, "connection lost");
    else if (!enqueue(c, bytes, (unsigned)n, n > 0 ? -1 : fd))
        kill_client(c, "it does not read its messages");
}

/* ---- clients ---- */

static void free_client(struct client *c)
{
    epoll_ctl(c->channel->server->epfd, EPOLL_CTL_DEL, c->sock, NULL);
    close(c->sock);
    for (unsigned v = 0; v < c->vectors; v++)
        close(c->efd[v]);
    for (size_t i = 0; i < c->q_count; i++) {
        int fd = c->queue[(c->q_head + i) % c->q_cap].fd;
        if (fd >= 0)
            close(fd);
    }
    free(c->queue);
    free(c);
}

static bool id_in_use(const struct channel *ch, uint32_t id)
{
    for (unsigned i = 0; i < ch->count; i++)
        if (ch->clients[i]->id == id)
            return true;
    return false;
}

/* IDs go up from 0 and wrap, skipping those in use: a departed peer's ID
 * comes back as late as possible, so a stale wake request rarely names a
 * newcomer. */
static uint16_t next_id(struct channel *ch)
{
    uint32_t id = ch->next_id;
    while (id_in_use(ch, id))
        id = (id + 1) % (IVSHM_DOORBELL_MAX_ID + 1);
    ch->next_id = (id + 1) % (IVSHM_DOORBELL_MAX_ID + 1);
    return (uint16_t)id;
}

/* The segment file, opened read-write for QEMU to map, if it is still a
 * valid segment whose file size is its (power-of-two) segment size: QEMU
 * sizes BAR2 from the file and asserts on anything else. */
static int open_segment(const struct channel *ch, struct ivshm_segment *seg,
                        struct ivshm_error *err)
{
    int rc = ivshm_segment_attach_path(ch->seg_path, 0, NULL, seg, err);
    if (rc == IVSHM_OK && seg->mapped_size != seg->view.size) {
        rc = ivshm_fail(err, IVSHM_E_BADSEG,
                        "%s: the file is %llu bytes, the segment %llu: QEMU needs them equal",
                        ch->seg_path, (unsigned long long)seg->mapped_size,
                        (unsigned long long)seg->view.size);
        ivshm_segment_detach(seg);
    }
    return rc;
}

static void accept_client(struct channel *ch, int sock)
{
    struct ivshm_server *s = ch->server;
    struct ivshm_segment seg;
    struct ivshm_error err;
    struct client *c = NULL;
    struct client **grown = NULL;
    if (ch->count >= s->max_clients) {
        say(s, "%s: client refused: %u clients already", ch->name, ch->count);
        close(sock);
        return;
    }
    if (open_segment(ch, &seg, &err) != IVSHM_OK) {
        say(s, "%s: client refused: %s", ch->name, err.msg);
        close(sock);
        return;
    }
    c = calloc(1, sizeof(*c));
    grown = realloc(ch->clients, (ch->count + 1) * sizeof(*grown));
    if (grown)
        ch->clients = grown;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (!c || !grown || epoll_ctl(s->epfd, EPOLL_CTL_ADD, sock, &ev) != 0) {
        say(s, "%s: client refused: %s", ch->name, c && grown ? strerror(errno) : "no memory");
        free(c);
        close(sock);
        ivshm_segment_detach(&seg);
        return;
    }
    c->kind = HANDLE_CLIENT;
    c->channel = ch;
    c->sock = sock;
    c->id = next_id(ch);
    for (; c->vectors < s->vectors; c->vectors++) {
        c->efd[c->vectors] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->efd[c->vectors] < 0) {
            say(s, "%s: client refused: eventfd: %s", ch->name, strerror(errno));
            free_client(c);
            ivshm_segment_detach(&seg);
            return;
        }
    }
    /* QEMU reads version, ID and memory synchronously, and sets its own
     * vectors up only after the memory: this order is the one it needs. */
    send_message(c, IVSHM_DOORBELL_PROTOCOL, -1);
    send_message(c, c->id, -1);
    send_message(c, -1, seg.fd);
    ivshm_segment_detach(&seg);
    for (unsigned i = 0; i < ch->count; i++) {
        struct client *other = ch->clients[i];
        if (other->dead)
            continue;
        for (unsigned v = 0; v < other->vectors; v++)
            send_message(c, other->id, other->efd[v]);
    }
    for (unsigned v = 0; v < c->vectors; v++)
        send_message(c, c->id, c->efd[v]);
    for (unsigned i = 0; i < ch->count; i++)
        for (unsigned v = 0; v < c->vectors; v++)
            send_message(ch->clients[i], c->id, c->efd[v]);
    ch->clients[ch->count++] = c;
    say(s, "%s: peer %u joined (%u vectors, %u peers)", ch->name, c->id, c->vectors, ch->count);
}

/* Removes the dead clients, telling the others; repeats while telling them
 * kills more (a client whose connection broke meanwhile). */
static void reap(struct channel *ch)
{
    for (bool again = true; again;) {
        again = false;
        for (unsigned i = 0; i < ch->count; i++) {
            struct client *c = ch->clients[i];
            if (!c->dead)
                continue;
            ch->clients[i--] = ch->clients[--ch->count];
            say(ch->server, "%s: peer %u left (%s; %u peers)", ch->name, c->id, c->why, ch->count);
            for (unsigned j = 0; j < ch->count; j++)
                send_message(ch->clients[j], c->id, -1);
            free_client(c);
            again = true;
        }
    }
}

static void client_event(struct client *c, uint32_t events)
{
    if (events & EPOLLIN) {
        char junk[64];
        ssize_t n = recv(c->sock, junk, sizeof(junk), MSG_DONTWAIT);
        if (n > 0)
            kill_client(c, "it sent data; the protocol is one-way");
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            kill_client(c, "disconnected");
    }
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        kill_client(c, "disconnected");
    if ((events & EPOLLOUT) && !c->dead)
        flush_queue(c);
}

static void listen_event(struct channel *ch)
{
    for (;;) {
        int sock = accept4(ch->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (sock < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                say(ch->server, "%s: accept: %s", ch->name, strerror(errno));
            return;
        }
        accept_client(ch, sock);
    }
}

/* ---- the server ---- */

/* A socket file at path: a live server's (IVSHM_E_EXIST), a dead one's
 * (removed), or none. */
static int clear_stale_socket(const char *path, const struct sockaddr_un *addr,
                              struct ivshm_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? IVSHM_OK
                               : ivshm_fail(err, IVSHM_E_SYSTEM, "%s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return ivshm_fail(err, IVSHM_E_EXIST, "%s: exists and is not a socket", path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "socket: %s", strerror(errno));
    int rc = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
    int e = errno;
    close(probe);
    if (rc == 0 || e == EAGAIN)
        return ivshm_fail(err, IVSHM_E_EXIST, "%s: a doorbell server already listens there", path);
    if (e != ECONNREFUSED)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: %s", path, strerror(e));
    if (unlink(path) != 0 && errno != ENOENT)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: stale socket: %s", path, strerror(errno));
    return IVSHM_OK;
}

static int open_channel(struct ivshm_server *s, struct channel *ch, const char *dir,
                        const char *name, const char *socket_path, struct ivshm_error *err)
{
    char resolved[PATH_MAX];
    struct ivshm_segment seg;
    ch->kind = HANDLE_LISTEN;
    ch->server = s;
    ch->listen_fd = -1;
    snprintf(ch->name, sizeof(ch->name), "%s", name);
    int rc = ivshm_dir_resolve(dir, resolved, sizeof(resolved), NULL, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(resolved, name, ch->seg_path, sizeof(ch->seg_path), err);
    if (rc == IVSHM_OK)
        rc = open_segment(ch, &seg, err);
    if (rc)
        return rc;
    ivshm_segment_detach(&seg);
    if (socket_path)
        snprintf(ch->sock_path, sizeof(ch->sock_path), "%s", socket_path);
    else
        rc = ivshm_doorbell_socket_path(dir, name, ch->sock_path, sizeof(ch->sock_path), err);
    struct sockaddr_un addr;
    if (rc == IVSHM_OK) /* an overlong socket_path is refused here, uncut */
        rc = ivshm_doorbell_socket_address(socket_path ? socket_path : ch->sock_path, &addr, err);
    if (rc == IVSHM_OK)
        rc = clear_stale_socket(ch->sock_path, &addr, err);
    if (rc)
        return rc;
    ch->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ch->listen_fd < 0 || bind(ch->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        return ivshm_fail(err, errno == EADDRINUSE ? IVSHM_E_EXIST : IVSHM_E_SYSTEM,
                          "%s: cannot listen: %s", ch->sock_path, strerror(errno));
    struct stat st;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ch};
    if (listen(ch->listen_fd, 64) != 0 || stat(ch->sock_path, &st) != 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, ch->listen_fd, &ev) != 0) {
        int saved = errno;
        unlink(ch->sock_path); /* ours: bound just now; no half-made socket stays */
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: cannot listen: %s", ch->sock_path,
                          strerror(saved));
    }
    ch->sock_dev = st.st_dev;
    ch->sock_ino = st.st_ino;
    return IVSHM_OK;
}

static void close_server(struct ivshm_server *s, bool remove_sockets)
{
    for (unsigned i = 0; i < s->count; i++) {
        struct channel *ch = &s->channels[i];
        for (unsigned j = 0; j < ch->count; j++)
            free_client(ch->clients[j]);
        free(ch->clients);
        if (ch->listen_fd < 0)
            continue;
        close(ch->listen_fd);
        /* Only our own socket: someone may have replaced it meanwhile. */
        struct stat st;
        if (remove_sockets && stat(ch->sock_path, &st) == 0 && st.st_dev == ch->sock_dev &&
            st.st_ino == ch->sock_ino)
            unlink(ch->sock_path);
    }
    if (s->epfd >= 0)
        close(s->epfd);
    free(s->channels);
    free(s);
}

void ivshm_server_close(struct ivshm_server *s)
{
    if (s)
        close_server(s, true);
}

static int check_opts(const struct ivshm_serve_opts *o, struct ivshm_error *err)
{
    if (o->count == 0 || o->count > IVSHM_SERVE_MAX_SEGMENTS)
        return ivshm_fail(err, IVSHM_E_INVAL, "doorbell server: %u segments, must be 1 to %u",
                          o->count, IVSHM_SERVE_MAX_SEGMENTS);
    if (o->socket_path && o->count != 1)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "doorbell server: one socket path for %u segments (each needs its own)",
                          o->count);
    if (o->vectors > IVSHM_DOORBELL_MAX_VECTORS)
        return ivshm_fail(err, IVSHM_E_INVAL, "doorbell server: %u vectors, at most %u", o->vectors,
                          IVSHM_DOORBELL_MAX_VECTORS);
    if (o->max_clients > IVSHM_DOORBELL_MAX_ID + 1)
        return ivshm_fail(err, IVSHM_E_INVAL, "doorbell server: %u clients, at most %u",
                          o->max_clients, IVSHM_DOORBELL_MAX_ID + 1);
    for (unsigned i = 0; i < o->count; i++)
        for (unsigned j = 0; j < i; j++)
            if (strcmp(o->names[i], o->names[j]) == 0)
                return ivshm_fail(err, IVSHM_E_INVAL, "doorbell server: segment %s given twice",
                                  o->names[i]);
    return IVSHM_OK;
}

int ivshm_server_open(const struct ivshm_serve_opts *opts, struct ivshm_server **out,
                      struct ivshm_error *err)
{
    int rc = check_opts(opts, err);
    if (rc)
        return rc;
    struct ivshm_server *s = calloc(1, sizeof(*s));
    if (!s || !(s->channels = calloc(opts->count, sizeof(*s->channels)))) {
        free(s);
        return ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell server: out of memory");
    }
    s->vectors = opts->vectors ? opts->vectors : IVSHM_DOORBELL_VECTORS;
    s->max_clients = opts->max_clients ? opts->max_clients : IVSHM_SERVE_MAX_CLIENTS;
    s->log = opts->log;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        rc = ivshm_fail(err, IVSHM_E_SYSTEM, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    for (; s->count < opts->count; s->count++) {
        rc = open_channel(s, &s->channels[s->count], opts->dir, opts->names[s->count],
                          opts->socket_path, err);
        if (rc) {
            s->count++; /* so close_server sees what it opened */
            goto fail;
        }
    }
    *out = s;
    return IVSHM_OK;
fail:
    close_server(s, true);
    return rc;
}

int ivshm_server_fd(const struct ivshm_server *s)
{
    return s->epfd;
}

unsigned ivshm_server_clients(const struct ivshm_server *s, unsigned index)
{
    return index < s->count ? s->channels[index].count : 0;
}

const char *ivshm_server_socket(const struct ivshm_server *s, unsigned index)
{
    return index < s->count ? s->channels[index].sock_path : NULL;
}

int ivshm_server_process(struct ivshm_server *s, int timeout_ms, struct ivshm_error *err)
{
    struct epoll_event ev[64];
    int n = epoll_wait(s->epfd, ev, 64, timeout_ms);
    if (n < 0)
        return errno == EINTR ? IVSHM_OK
                              : ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell server: epoll_wait: %s",
                                           strerror(errno));
    for (int i = 0; i < n; i++) {
        enum handle_kind *kind = ev[i].data.ptr;
        if (*kind == HANDLE_LISTEN)
            listen_event((struct channel *)kind);
        else
            client_event((struct client *)kind, ev[i].events);
    }
    for (unsigned i = 0; i < s->count; i++)
        reap(&s->channels[i]);
    return IVSHM_OK;
}

/* ---- running it ---- */

static int write_pidfile(const char *path, struct ivshm_error *err)
{
    if (!path)
        return IVSHM_OK;
    FILE *f = fopen(path, "we");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "pidfile %s: %s", path, strerror(errno));
    return IVSHM_OK;
}

/* Removes the pidfile if it still names us. */
static void remove_pidfile(const char *path)
{
    FILE *f = path ? fopen(path, "re") : NULL;
    int pid = 0;
    if (!f)
        return;
    if (fscanf(f, "%d", &pid) == 1 && pid == (int)getpid())
        unlink(path);
    fclose(f);
}

/* Forks. The parent waits until the child serves (or failed) and returns
 * true; the child detaches from the terminal and returns false. */
static int daemonize(struct ivshm_server *s, const char *pidfile, bool *parent,
                     struct ivshm_error *err)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return ivshm_fail(err, IVSHM_E_SYSTEM, "fork: %s", strerror(errno));
    }
    if (pid > 0) {
        close(ready[1]);
        char ok = 0;
        ssize_t n;
        do
            n = read(ready[0], &ok, 1);
        while (n < 0 && errno == EINTR);
        close(ready[0]);
        close_server(s, false); /* the child serves on the same sockets */
        *parent = true;
        return n == 1 && ok == 1
                   ? IVSHM_OK
                   : ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell server: the daemon did not start");
    }
    close(ready[0]);
    *parent = false;
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        for (int fd = 0; fd < 3; fd++)
            if (!s->log || fd != fileno(s->log))
                dup2(null, fd);
        close(null);
    }
    int rc = write_pidfile(pidfile, err);
    char ok = rc == IVSHM_OK;
    if (write(ready[1], &ok, 1) != 1)
        rc = rc ? rc : ivshm_fail(err, IVSHM_E_SYSTEM, "doorbell server: parent gone");
    close(ready[1]);
    return rc;
}

static int serve_until_signal(struct ivshm_server *s, int sigfd, struct ivshm_error *err)
{
    struct pollfd p[2] = {{.fd = ivshm_server_fd(s), .events = POLLIN},
                          {.fd = sigfd, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return ivshm_fail(err, IVSHM_E_SYSTEM, "poll: %s", strerror(errno));
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof(si)) == sizeof(si))
                say(s, "stopping on %s", strsignal((int)si.ssi_signo));
            return IVSHM_OK;
        }
        int rc = ivshm_server_process(s, 0, err);
        if (rc)
            return rc;
    }
}

int ivshm_serve_run(const struct ivshm_serve_opts *opts, struct ivshm_error *err)
{
    char pidfile[PATH_MAX + 1];
    if (opts->pidfile) { /* absolute: the daemon leaves the directory */
        char cwd[PATH_MAX];
        int n = opts->pidfile[0] == '/' || !getcwd(cwd, sizeof(cwd))
                    ? snprintf(pidfile, sizeof(pidfile), "%s", opts->pidfile)
                    : snprintf(pidfile, sizeof(pidfile), "%s/%s", cwd, opts->pidfile);
        if (n < 0 || (size_t)n >= sizeof(pidfile))
            return ivshm_fail(err, IVSHM_E_INVAL, "pidfile %s: path too long", opts->pidfile);
    }
    const char *pid_path = opts->pidfile ? pidfile : NULL;
    /* Held from the start, so a signal during start-up still stops us. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, &old);
    int sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    struct ivshm_server *s = NULL;
    int rc = sigfd < 0 ? ivshm_fail(err, IVSHM_E_SYSTEM, "signalfd: %s", strerror(errno))
                       : ivshm_server_open(opts, &s, err);
    bool parent = false;
    if (rc == IVSHM_OK && opts->daemon)
        rc = daemonize(s, pid_path, &parent, err);
    else if (rc == IVSHM_OK)
        rc = write_pidfile(pid_path, err);
    if (rc == IVSHM_OK && !parent) {
        for (unsigned i = 0; i < opts->count; i++)
            say(s, "%s: serving on %s (%u vectors a peer)", s->channels[i].name,
                s->channels[i].sock_path, s->vectors);
        rc = serve_until_signal(s, sigfd, err);
    }
    if (!parent) {
        ivshm_server_close(s);
        remove_pidfile(pid_path);
    }
    if (sigfd >= 0)
        close(sigfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
