/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-port's adaptive mode (docs/ports.md, "Sleeping when idle").
 *
 * Doorbells come from clients of `ivshm serve` (doorbell.h). The main thread
 * holds one for each segment it attached: through them ctrl's host side
 * rings a sleeping forwarder at state changes (READY -> FWD, EXIT), and they
 * settle mode AUTO. Each worker holds its own, one for each segment its rings
 * are in: a client is used by one thread at a time (ivshm_doorbell_ring may
 * read the server's messages and grow the client's peer table). Through them
 * a worker
 *
 *   - rings a forwarder that sleeps on a to-VM ring, after an enqueue
 *     (datapath.c, cli_doorbell_wake), in either mode;
 *   - in mode adaptive, sleeps after an idle spell: a wake request (its own
 *     ID in that segment, vector 0) on each from-VM ring it consumes, which
 *     the forwarder rings after it enqueues (notify.h closes the race).
 *
 * A port cannot ring a doorbell. Where the PMD gives an rx interrupt as a
 * file descriptor (rte_eth_dev_rx_intr_ctl_q_get_fd; net_tap does: its
 * queue's own tap fd), the worker waits on it too and the port's frames wake
 * it at once; otherwise the sleep is short (--sleep-us, default
 * PORT_SLEEP_SHORT_NS), and a frame from such a port waits that long at most.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include "common/internal.h"
#include "host/cli/doorbells.h"
#include "ivshm/doorbell.h"
#include "ivshm/notify.h"
#include "port.h"

/* The longest sleep when some port of the worker has no rx interrupt: how
 * long its frames may wait, against the CPU of waking to look (1000 a
 * second: about 1 % of a core here, docs/performance.md). */
#define PORT_SLEEP_SHORT_NS 1000000ull

/* epoll data of the worker's set: a bell's index, or a mapping's with this bit. */
#define TAG_PORT   (1ull << 32)
#define MAX_EVENTS (PI_MAX_SEGS + PORT_MAX_MAPS)

static const char *socket_of(const struct port_state *ps, const char *seg)
{
    for (unsigned i = 0; i < ps->nsockets; i++)
        if (strcmp(ps->sockets[i].seg, seg) == 0)
            return ps->sockets[i].path;
    return NULL;
}

/* Whether a ring of ours is in s (where a forwarder sleeps or we would). */
static bool holds_a_ring(const struct port_state *ps, const struct pi_seg *s)
{
    for (unsigned i = 0; i < ps->nmaps; i++)
        if (ps->maps[i].to_vm_seg == s || ps->maps[i].from_vm_seg == s)
            return true;
    return false;
}

int port_doorbells_connect(struct port_state *ps, struct ivshm_error *err)
{
    bool every = true;
    for (unsigned i = 0; i < ps->set.nsegs; i++) {
        struct pi_seg *s = &ps->set.segs[i];
        bool ring = holds_a_ring(ps, s);
        bool needed = ring && ps->opt.mode == IVSHM_FWD_MODE_ADAPTIVE;
        int rc = cli_doorbell_connect(ps->opt.dir, s->name, socket_of(ps, s->name), needed,
                                      &ps->ctrl_bells[i], err);
        if (rc)
            return rc;
        every &= !ring || ps->ctrl_bells[i];
        if (s->ctrl && ps->ctrl_bells[i])
            ivshm_fwd_host_set_doorbell(&ps->set.fwds, s->ctrl, ps->ctrl_bells[i]);
    }
    if (ps->opt.mode == IVSHM_FWD_MODE_AUTO)
        ps->opt.mode = every ? IVSHM_FWD_MODE_ADAPTIVE : IVSHM_FWD_MODE_POLL;
    return IVSHM_OK;
}

bool port_wants_rx_intr(const struct port_state *ps)
{
    return ps->opt.mode == IVSHM_FWD_MODE_ADAPTIVE;
}

/* The worker's client of segment s: its own, connected on first use; NULL
 * when s has no server (the main thread found none). */
static int worker_bell(const struct port_state *ps, struct port_worker *w, const struct pi_seg *s,
                       struct ivshm_doorbell **db, struct ivshm_error *err)
{
    *db = NULL;
    for (unsigned i = 0; i < w->nbells; i++)
        if (w->bell_segs[i] == s) {
            *db = w->bells[i];
            return IVSHM_OK;
        }
    if (!ps->ctrl_bells[s - ps->set.segs])
        return IVSHM_OK;
    /* Needed now: a server that answered the main thread went away. */
    int rc = cli_doorbell_connect(ps->opt.dir, s->name, socket_of(ps, s->name), true, db, err);
    if (rc)
        return rc;
    w->bell_segs[w->nbells] = s;
    w->bells[w->nbells++] = *db;
    return IVSHM_OK;
}

/*
 * The port's rx interrupt as a file descriptor to wait on, or -1 when its
 * PMD has none (net_null, net_pcap, net_af_packet in DPDK 22.11). ethdev
 * logs an error for those: kept quiet, it is no error here.
 */
static int rx_interrupt_fd(struct port_map *m)
{
    uint32_t level = rte_log_get_global_level();
    rte_log_set_global_level(RTE_LOG_EMERG);
    int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(m->port_id, 0);
    rte_log_set_global_level(level);
    if (fd < 0)
        return -1;
    /* A NIC must have its queue's interrupt unmasked while we sleep; a tap
     * has nothing to switch (its fd is readable whenever frames wait). */
    int rc = rte_eth_dev_rx_intr_enable(m->port_id, 0);
    m->rx_intr_toggle = rc == 0;
    if (rc == 0)
        rte_eth_dev_rx_intr_disable(m->port_id, 0);
    else if (rc != -ENOTSUP)
        return -1;
    return fd;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint64_t tag, const char *what,
                     struct ivshm_error *err)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: epoll_ctl: %s", what, strerror(errno));
    return IVSHM_OK;
}

static int worker_prepare(const struct port_state *ps, struct port_worker *w,
                          struct ivshm_error *err)
{
    bool adaptive = ps->opt.mode == IVSHM_FWD_MODE_ADAPTIVE;
    for (unsigned i = 0; i < w->nmaps; i++) {
        struct port_map *m = w->maps[i];
        m->rx_fd = -1;
        int rc = worker_bell(ps, w, m->to_vm_seg, &m->wake_db, err);
        if (rc == IVSHM_OK && adaptive)
            rc = worker_bell(ps, w, m->from_vm_seg, &m->sleep_db, err);
        if (rc)
            return rc;
    }
    if (!adaptive || w->nmaps == 0)
        return IVSHM_OK;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "epoll_create1: %s", strerror(errno));
    for (unsigned i = 0; i < w->nbells; i++) {
        int rc = epoll_add(w->epfd, ivshm_doorbell_fd(w->bells[i]), EPOLLIN, i,
                           w->bell_segs[i]->name, err);
        if (rc)
            return rc;
    }
    bool every_port_wakes = true;
    for (unsigned i = 0; i < w->nmaps; i++) {
        struct port_map *m = w->maps[i];
        int fd = rx_interrupt_fd(m);
        /* Edge-triggered: a NIC's interrupt is an eventfd nobody reads; a
         * tap's fd signals each frame that arrives. A frame that came while
         * we polled leaves an event that ends the next sleep at once:
         * harmless, the worker polls and falls asleep again. */
        if (fd >= 0 &&
            epoll_add(w->epfd, fd, EPOLLIN | EPOLLET, TAG_PORT | i, m->dev_name, NULL) == IVSHM_OK)
            m->rx_fd = fd;
        every_port_wakes &= m->rx_fd >= 0;
    }
    w->sleep_ns = ps->opt.sleep_us   ? (uint64_t)ps->opt.sleep_us * 1000
                  : every_port_wakes ? IVSHM_FWD_SLEEP_NS
                                     : PORT_SLEEP_SHORT_NS;
    return IVSHM_OK;
}

int port_workers_prepare(struct port_state *ps, struct ivshm_error *err)
{
    for (unsigned i = 0; i < ps->nworkers; i++)
        ps->workers[i].epfd = -1;
    for (unsigned i = 0; i < ps->nworkers; i++) {
        int rc = worker_prepare(ps, &ps->workers[i], err);
        if (rc)
            return rc;
    }
    return IVSHM_OK;
}

/* epoll_wait with a bound in nanoseconds (epoll_pwait2: Linux 5.11; before,
 * whole milliseconds). Returns the events, 0 on a timeout or an error. */
static int wait_events(int epfd, struct epoll_event *ev, int max, uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    int n = epoll_pwait2(epfd, ev, max, &ts, NULL);
    if (n < 0 && errno == ENOSYS)
        n = epoll_wait(epfd, ev, max, (int)((ns + 999999) / 1000000));
    return n < 0 ? 0 : n;
}

void port_worker_sleep(const struct port_state *ps, struct port_worker *w)
{
    unsigned armed = 0;
    bool work = false;
    for (; armed < w->nmaps && !work; armed++) {
        struct port_map *m = w->maps[armed];
        work = !ivshm_ring_arm_wake(&m->from_vm, IVSHM_WAKE_CONSUMER,
                                    ivshm_doorbell_id(m->sleep_db), 0, 1);
    }
    /* Ports that can wake us: their interrupt on, then one more look (a
     * frame that came before it was on raised none). */
    for (unsigned i = 0; i < w->nmaps && !work; i++)
        if (w->maps[i]->rx_fd >= 0 && w->maps[i]->rx_intr_toggle)
            rte_eth_dev_rx_intr_enable(w->maps[i]->port_id, 0);
    for (unsigned i = 0; i < w->nmaps && !work; i++)
        if (w->maps[i]->rx_fd >= 0)
            work = port_map_receive(ps, w->maps[i]) != 0;
    struct epoll_event ev[MAX_EVENTS];
    int n = work ? 0 : wait_events(w->epfd, ev, MAX_EVENTS, w->sleep_ns);
    bool port_woke[PORT_MAX_MAPS] = {false};
    for (int k = 0; k < n; k++) {
        uint64_t tag = ev[k].data.u64;
        if (tag & TAG_PORT)
            port_woke[(uint32_t)tag] = true;
        else /* takes the doorbell (its eventfd) and the server's news */
            ivshm_doorbell_process(w->bells[tag], NULL, NULL);
    }
    for (unsigned i = 0; i < w->nmaps; i++)
        if (w->maps[i]->rx_fd >= 0 && w->maps[i]->rx_intr_toggle)
            rte_eth_dev_rx_intr_disable(w->maps[i]->port_id, 0);
    for (unsigned i = 0; i < armed; i++) {
        struct port_map *m = w->maps[i];
        /* Still there: nobody took it. Taken: the forwarder rang us. */
        bool untaken = ivshm_ring_disarm_wake(&m->from_vm, IVSHM_WAKE_CONSUMER);
        if (work)
            continue;
        PORT_COUNT(m->c.sleeps, 1);
        if (!untaken)
            PORT_COUNT(m->c.wakeups, 1);
        if (port_woke[i])
            PORT_COUNT(m->c.port_wakeups, 1);
    }
}

void port_doorbells_close(struct port_state *ps)
{
    for (unsigned i = 0; i < ps->nworkers; i++) {
        struct port_worker *w = &ps->workers[i];
        for (unsigned b = 0; b < w->nbells; b++)
            ivshm_doorbell_close(w->bells[b]);
        w->nbells = 0;
        if (w->epfd >= 0)
            close(w->epfd);
        w->epfd = -1;
        for (unsigned j = 0; j < w->nmaps; j++)
            w->maps[j]->wake_db = w->maps[j]->sleep_db = NULL;
    }
    for (unsigned i = 0; i < PI_MAX_SEGS; i++) {
        ivshm_doorbell_close(ps->ctrl_bells[i]);
        ps->ctrl_bells[i] = NULL;
    }
}
