/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-port: joins DPDK ethdev ports to queue pairs of ivshm segments.
 *
 *   ivshm_port.c   command line, EAL, ports, workers, reclaim, counters
 *   datapath.c     the poll: port -> ring (copy), ring -> port (copy or
 *                  zero-copy)
 *   port_ivshm.c   every call into libivshm other than the inline ring and
 *                  mempool operations of the data path and the doorbells
 *   adaptive.c     adaptive mode: the doorbell clients, ringing a
 *                  forwarder that sleeps, sleeping when idle
 */
#ifndef IVSHM_PORT_H
#define IVSHM_PORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "ivshm/fwd.h"
#include "port_ivshm.h"

#define PORT_MAX_MAPS    32u
#define PORT_PATH_SIZE   (2u * PI_NAME_SIZE + 2u) /* "SEG/NAME" */
#define PORT_CACHE_SIZE  256u                     /* mempool cache of each mapping */
#define PORT_MAX_WORKERS 128u

/* Counters of one mapping. Written by its worker only (relaxed stores of
 * running values), read by the main thread for --stats. */
struct port_counters {
    _Atomic uint64_t rx_packets;   /* received on the port */
    _Atomic uint64_t rx_to_vm;     /* enqueued to the to-VM ring */
    _Atomic uint64_t rx_ring_full; /* dropped: no room in the to-VM ring */
    _Atomic uint64_t rx_too_big;   /* dropped: longer than a buffer's room */
    _Atomic uint64_t rx_no_buffer; /* dropped: no free buffer in the pool */
    _Atomic uint64_t tx_from_vm;   /* dequeued from the from-VM ring */
    _Atomic uint64_t tx_packets;   /* transmitted on the port */
    _Atomic uint64_t tx_port_full; /* dropped: the port did not take them */
    _Atomic uint64_t tx_invalid;   /* dropped: not a buffer of the pool, or a bad frame */
    _Atomic uint64_t tx_no_mbuf;   /* dropped: no free mbuf */
    /* adaptive mode (adaptive.c) */
    _Atomic uint64_t sleeps;       /* sleeps with a wake request on the from-VM ring */
    _Atomic uint64_t wakeups;      /* of which the forwarder took the request (rang us) */
    _Atomic uint64_t port_wakeups; /* of which the port's rx interrupt ended */
    _Atomic uint64_t rings;        /* doorbells rung for a forwarder asleep on the to-VM ring */
};

/* Adds n to a counter: counters belong to one worker; others only read them. */
#define PORT_COUNT(field, n)                                                                       \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
                          memory_order_relaxed)

/* One --port: a DPDK port and the two rings it is joined to. */
struct port_map {
    /* from the command line */
    const char *spec;                  /* as given, for messages */
    char dev[64];                      /* DPDK port: number or device name */
    char to_vm_path[PORT_PATH_SIZE];   /* ring the port's frames go to (rxQ) */
    char from_vm_path[PORT_PATH_SIZE]; /* ring whose frames the port sends (txQ) */
    char pool_path[PORT_PATH_SIZE];
    uint16_t queue; /* Q of SEG:Q, written into each buffer's header; else 0 */

    /* resolved */
    uint16_t port_id;
    char dev_name[RTE_ETH_NAME_MAX_LEN];
    struct ivshm_ring to_vm, from_vm;
    struct pi_seg *to_vm_seg, *from_vm_seg;
    struct pi_pool *pool;
    uint32_t room; /* largest frame a buffer takes from the port */
    bool zero_copy;
    bool iova_ok; /* zero-copy: IOVA = VA for the segment */

    /* the worker's own (one thread per mapping) */
    struct ivshm_mempool mp;
    struct ivshm_mempool_cache cache;
    bool to_vm_full;   /* the last enqueue found the ring full */
    uint64_t refused;  /* handles the pool would not take back */
    uint64_t lent;     /* zero-copy: buffers attached to mbufs */
    uint64_t returned; /* zero-copy: buffers the PMD gave back */
    uint32_t nback;    /* zero-copy: given back, not yet put into the pool */
    uint64_t back[2 * IVSHM_BURST_MAX];
    /* zero-copy: one shared-info block per pool object, in private memory:
     * a peer must never reach a callback pointer */
    struct rte_mbuf_ext_shared_info *shinfo;

    /* adaptive mode: doorbell clients of the worker's own (a client is used
     * by one thread), NULL where the segment has no server */
    struct ivshm_doorbell *wake_db;  /* to_vm's segment: rings a forwarder asleep on it */
    struct ivshm_doorbell *sleep_db; /* from_vm's segment: we sleep on our ID there */
    int rx_fd;                       /* the port's rx interrupt (an fd to poll), or -1 */
    bool rx_intr_toggle;             /* rte_eth_dev_rx_intr_enable/disable are supported */

    struct port_counters c;
    struct rte_eth_stats eth; /* the port's own counters, read before it closes */
};

/* One lcore's share: its mappings, polled in turn, and (adaptive mode) what
 * it sleeps on. */
struct port_worker {
    unsigned lcore;
    struct port_map *maps[PORT_MAX_MAPS];
    unsigned nmaps;
    /* its doorbell clients, one a segment its rings are in */
    struct ivshm_doorbell *bells[PI_MAX_SEGS];
    const struct pi_seg *bell_segs[PI_MAX_SEGS];
    unsigned nbells;
    int epfd;          /* the bells and the ports' rx interrupts; -1: it never sleeps */
    uint64_t sleep_ns; /* longest sleep */
};

/* --socket SEG=PATH: a segment's doorbell server elsewhere than its default. */
struct port_socket {
    char seg[PI_NAME_SIZE];
    const char *path;
};

struct port_options {
    const char *dir;
    const char *pool; /* --pool: every mapping's pool (default SEG/pkts) */
    double stats;     /* seconds between --stats lines; 0: none */
    double timeout;   /* for READY, and for a dead party's buffers to come home */
    uint32_t burst;
    bool json;
    bool zero_copy;
    bool exit_fwd; /* --exit: set EXIT in ctrl when stopping */
    /* adaptive mode */
    enum ivshm_fwd_mode mode; /* AUTO: adaptive when every ring's segment has a server */
    uint32_t idle_us;         /* idle spell before sleeping */
    uint32_t sleep_us;        /* longest sleep; 0: by the ports (adaptive.c) */
};

struct port_state {
    struct port_options opt;
    struct port_map maps[PORT_MAX_MAPS];
    unsigned nmaps;
    struct pi_set set;
    struct rte_mempool *mbufs;     /* receive, and copy transmit */
    struct rte_mempool *ext_mbufs; /* zero-copy transmit: mbufs without data room */
    uint32_t mbuf_room;            /* data room of an mbuf after its headroom */
    uint64_t start_ns, stop_ns;
    uint32_t reclaimed;
    /* adaptive mode */
    struct port_socket sockets[PI_MAX_SEGS];
    unsigned nsockets;
    struct ivshm_doorbell *ctrl_bells[PI_MAX_SEGS]; /* the main thread's, by set.segs index */
    struct port_worker workers[PORT_MAX_MAPS];
    unsigned nworkers;
};

/* datapath.c */
/* One poll of a mapping, both ways; returns frames moved. */
uint32_t port_map_poll(const struct port_state *ps, struct port_map *m);
/* The port -> VM half alone (before a sleep). */
uint32_t port_map_receive(const struct port_state *ps, struct port_map *m);
/* The from-VM half alone (draining at the stop). */
uint32_t port_map_transmit(const struct port_state *ps, struct port_map *m);
void port_put_all(struct port_map *m, const uint64_t *handles, uint32_t n);
void port_zero_copy_free(void *addr, void *opaque);
/* Puts the buffers the PMD gave back (zero-copy) into the pool. */
void port_flush_returned(struct port_map *m);
uint64_t port_now_ns(void);

/* adaptive.c */
/* Connects the main thread to the doorbell server of every segment a ring
 * is in (needed ones in mode adaptive), gives them to ctrl's host side (a
 * forwarder that sleeps is rung at state changes) and settles mode AUTO. */
int port_doorbells_connect(struct port_state *ps, struct ivshm_error *err);
/* The rx interrupt setting of rte_eth_conf for a port (adaptive mode). */
bool port_wants_rx_intr(const struct port_state *ps);
/* After the ports started and the workers are known: each worker's own
 * clients, and what it sleeps on. */
int port_workers_prepare(struct port_state *ps, struct ivshm_error *err);
/* A worker found nothing to do for the idle spell: sleeps (adaptive.c). */
void port_worker_sleep(const struct port_state *ps, struct port_worker *w);
/* Closes every client and epoll set. */
void port_doorbells_close(struct port_state *ps);

#endif
