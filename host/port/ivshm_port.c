/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-port: a DPDK application that joins ethdev ports (NICs, taps, pcap
 * files, AF_PACKET sockets, ...) to queue pairs of fwd-preset segments, so a
 * bare-metal VM sits in a real data path.
 *
 *   ivshm-port [EAL options] -- --port P=SEG:Q [--port ...] [options]
 *
 * Frames received on port P go to ring SEG/rxQ; frames the VM puts into
 * SEG/txQ are sent on port P. Plays the host role of the ctrl protocol (waits
 * for READY, sets FWD, EXIT on --exit), gives back the buffers of a dead
 * earlier ivshm-port or pktgen before it starts, and on SIGINT/SIGTERM
 * returns every buffer it holds and prints its counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#include "common/internal.h"
#include "host/cli/cli.h"
#include "host/cli/doorbells.h"
#include "port.h"

#define PROG        "ivshm-port"
#define RX_DESC     1024u
#define TX_DESC     1024u
#define MBUF_CACHE  256u
#define EXIT_WAIT_S 5.0

/* X-macro of the counters: one list for the text summary, JSON and --stats. */
#define PORT_COUNTERS(X)                                                                           \
    X(rx_packets)                                                                                  \
    X(rx_to_vm)                                                                                    \
    X(rx_ring_full)                                                                                \
    X(rx_too_big)                                                                                  \
    X(rx_no_buffer)                                                                                \
    X(tx_from_vm)                                                                                  \
    X(tx_packets)                                                                                  \
    X(tx_port_full)                                                                                \
    X(tx_invalid)                                                                                  \
    X(tx_no_mbuf)                                                                                  \
    X(sleeps)                                                                                      \
    X(wakeups)                                                                                     \
    X(port_wakeups)                                                                                \
    X(rings)

static _Atomic bool stop_requested;
static _Atomic unsigned signals_seen; /* a second signal cuts the stop short */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
    atomic_fetch_add(&signals_seen, 1);
}

/* Everything ivshm-port works on: the mappings, the segments, the mbufs. */
static struct port_state port;

/* --port P=SEG:Q or --port P=SEG/RX,SEG/TX: the next mapping (its pool comes
 * in run: --pool may stand after it). */
static int parse_port(void *opts, const struct cli_option *option, const char *spec)
{
    (void)opts;
    if (port.nmaps == PORT_MAX_MAPS)
        return cli_fail(CLI_EXIT_USAGE, "%s %s: more than %u ports", option->name, spec,
                        PORT_MAX_MAPS);
    struct port_map *m = &port.maps[port.nmaps];
    memset(m, 0, sizeof(*m));
    m->spec = spec;
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(m->dev))
        return cli_fail(CLI_EXIT_USAGE, "--port '%s': expected P=SEG:Q or P=SEG/RX,SEG/TX", spec);
    memcpy(m->dev, spec, (size_t)(eq - spec));
    const char *rest = eq + 1;
    const char *colon = strchr(rest, ':');
    const char *comma = strchr(rest, ',');
    struct ivshm_error err;
    char seg[PI_NAME_SIZE], name[PI_NAME_SIZE];
    if (colon && !comma && !strchr(rest, '/')) {
        uint64_t q;
        size_t seg_len = (size_t)(colon - rest);
        if (seg_len == 0 || seg_len >= PI_NAME_SIZE ||
            cli_parse_u64(colon + 1, "Q", 0, 999, &q, &err) != IVSHM_OK)
            return cli_fail(CLI_EXIT_USAGE,
                            "--port '%s': expected SEG:Q with Q a queue number (0..999)", spec);
        memcpy(seg, rest, seg_len);
        seg[seg_len] = '\0';
        snprintf(m->to_vm_path, sizeof(m->to_vm_path), "%s/rx%u", seg, (unsigned)q);
        snprintf(m->from_vm_path, sizeof(m->from_vm_path), "%s/tx%u", seg, (unsigned)q);
        m->queue = (uint16_t)q;
    } else if (comma && !colon) {
        size_t rx_len = (size_t)(comma - rest);
        if (rx_len >= sizeof(m->to_vm_path) || strlen(comma + 1) >= sizeof(m->from_vm_path))
            return cli_fail(CLI_EXIT_USAGE, "--port '%s': ring path too long", spec);
        memcpy(m->to_vm_path, rest, rx_len);
        m->to_vm_path[rx_len] = '\0';
        snprintf(m->from_vm_path, sizeof(m->from_vm_path), "%s", comma + 1);
        if (!pi_split_path(m->to_vm_path, seg, name, &err) ||
            !pi_split_path(m->from_vm_path, name, name, &err))
            return cli_fail(CLI_EXIT_USAGE, "--port '%s': expected SEG/RX,SEG/TX", spec);
    } else {
        return cli_fail(CLI_EXIT_USAGE, "--port '%s': expected P=SEG:Q or P=SEG/RX,SEG/TX", spec);
    }
    port.nmaps++;
    return CLI_EXIT_OK;
}

static int parse_pool(void *opts, const struct cli_option *option, const char *path)
{
    char seg[PI_NAME_SIZE], name[PI_NAME_SIZE];
    struct ivshm_error err;
    if (!pi_split_path(path, seg, name, &err))
        return cli_fail(CLI_EXIT_USAGE, "%s '%s': expected SEG/NAME", option->name, path);
    ((struct port_options *)opts)->pool = path;
    return CLI_EXIT_OK;
}

/* --socket SEG=PATH (repeatable), or PATH alone when the rings are in one
 * segment (checked by check_sockets, once every --port is known). */
static int parse_socket(void *opts, const struct cli_option *option, const char *spec)
{
    (void)opts;
    if (port.nsockets == PI_MAX_SEGS)
        return cli_fail(CLI_EXIT_USAGE, "%s %s: more than %u sockets", option->name, spec,
                        PI_MAX_SEGS);
    struct port_socket *s = &port.sockets[port.nsockets];
    const char *eq = strchr(spec, '=');
    /* A path may hold '=' too: SEG= only when what stands before it is a
     * name (no '/'). */
    bool named = eq && eq != spec && !memchr(spec, '/', (size_t)(eq - spec));
    size_t len = named ? (size_t)(eq - spec) : 0;
    if (len >= sizeof(s->seg) || (named && eq[1] == '\0') || spec[0] == '\0')
        return cli_fail(CLI_EXIT_USAGE, "%s '%s': expected SEG=PATH or PATH", option->name, spec);
    memcpy(s->seg, spec, len);
    s->seg[len] = '\0';
    s->path = named ? eq + 1 : spec;
    port.nsockets++;
    return CLI_EXIT_OK;
}

/* The segment of ring path k (0: to-VM, 1: from-VM) of mapping i. */
static void ring_segment(const struct port_state *ps, unsigned i, int k, char seg[PI_NAME_SIZE])
{
    char name[PI_NAME_SIZE];
    pi_split_path(k ? ps->maps[i].from_vm_path : ps->maps[i].to_vm_path, seg, name,
                  NULL); /* checked by parse_port */
}

/* Whether a ring of the mappings is in segment `seg`. */
static bool rings_in(const struct port_state *ps, const char *seg)
{
    char s[PI_NAME_SIZE];
    for (unsigned i = 0; i < ps->nmaps; i++)
        for (int k = 0; k < 2; k++) {
            ring_segment(ps, i, k, s);
            if (strcmp(s, seg) == 0)
                return true;
        }
    return false;
}

/* Every --socket names a segment one of the rings is in; PATH alone stands
 * for the segment of every ring, when there is one. */
static int check_sockets(struct port_state *ps)
{
    char first[PI_NAME_SIZE];
    ring_segment(ps, 0, 0, first);
    bool one = true;
    for (unsigned i = 0; i < ps->nmaps; i++)
        for (int k = 0; k < 2; k++) {
            char s[PI_NAME_SIZE];
            ring_segment(ps, i, k, s);
            one &= strcmp(s, first) == 0;
        }
    for (unsigned i = 0; i < ps->nsockets; i++) {
        struct port_socket *s = &ps->sockets[i];
        if (!s->seg[0] && !one)
            return cli_fail(CLI_EXIT_USAGE,
                            "--socket %s: the rings are in several segments; give SEG=PATH",
                            s->path);
        if (!s->seg[0])
            snprintf(s->seg, sizeof(s->seg), "%s", first);
        else if (!rings_in(ps, s->seg))
            return cli_fail(CLI_EXIT_USAGE, "--socket %s=%s: no ring of a --port is in %s", s->seg,
                            s->path, s->seg);
        for (unsigned j = 0; j < i; j++)
            if (strcmp(ps->sockets[j].seg, s->seg) == 0)
                return cli_fail(CLI_EXIT_USAGE, "--socket: two sockets for %s", s->seg);
    }
    return CLI_EXIT_OK;
}

/* Each mapping's pool: --pool, else pkts in the segment of its to-VM ring. */
static void set_pools(struct port_state *ps)
{
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        char seg[PI_NAME_SIZE], name[PI_NAME_SIZE];
        struct ivshm_error err;
        if (ps->opt.pool)
            snprintf(m->pool_path, sizeof(m->pool_path), "%s", ps->opt.pool);
        else if (pi_split_path(m->to_vm_path, seg, name, &err)) /* checked by parse_port */
            snprintf(m->pool_path, sizeof(m->pool_path), "%s/%s", seg, IVSHM_FWD_POOL);
    }
}

/* ---- ports ---- */

/* P: a port number, or a device name as EAL knows it (net_tap0). */
static int resolve_port(struct port_state *ps, struct port_map *m, struct ivshm_error *err)
{
    uint64_t id;
    if (cli_parse_u64(m->dev, "P", 0, RTE_MAX_ETHPORTS - 1, &id, NULL) == IVSHM_OK) {
        if (!rte_eth_dev_is_valid_port((uint16_t)id))
            return ivshm_fail(err, IVSHM_E_INVAL,
                              "--port %s: no DPDK port %u (%u ports; give them with --vdev or a "
                              "NIC bound to vfio-pci)",
                              m->spec, (unsigned)id, rte_eth_dev_count_avail());
        m->port_id = (uint16_t)id;
    } else {
        uint16_t pid;
        if (rte_eth_dev_get_port_by_name(m->dev, &pid) != 0)
            return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: no DPDK port named '%s'", m->spec,
                              m->dev);
        m->port_id = pid;
    }
    if (rte_eth_dev_get_name_by_port(m->port_id, m->dev_name) != 0)
        snprintf(m->dev_name, sizeof(m->dev_name), "port%u", m->port_id);
    for (struct port_map *o = ps->maps; o < m; o++)
        if (o->port_id == m->port_id)
            return ivshm_fail(err, IVSHM_E_INVAL,
                              "--port %s: port %u (%s) is already joined by --port %s", m->spec,
                              m->port_id, m->dev_name, o->spec);
    return 0;
}

/* Each ring has one producer or consumer here: the same ring twice, or a
 * ring used both ways, would break its single-producer/consumer side. */
static int check_rings_once(struct port_state *ps, struct ivshm_error *err)
{
    for (unsigned i = 0; i < ps->nmaps; i++) {
        const struct port_map *m = &ps->maps[i];
        if (strcmp(m->to_vm_path, m->from_vm_path) == 0)
            return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: %s both ways", m->spec,
                              m->to_vm_path);
        for (unsigned j = 0; j < i; j++) {
            const struct port_map *o = &ps->maps[j];
            const char *a[2] = {m->to_vm_path, m->from_vm_path};
            const char *b[2] = {o->to_vm_path, o->from_vm_path};
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++)
                    if (strcmp(a[x], b[y]) == 0)
                        return ivshm_fail(err, IVSHM_E_INVAL,
                                          "--port %s and --port %s both use ring %s", o->spec,
                                          m->spec, a[x]);
        }
    }
    return 0;
}

static int open_segments(struct port_state *ps, struct ivshm_error *err)
{
    pi_init(&ps->set, ps->opt.dir, &stop_requested);
    /* Pools first: their segments are the ones we claim a party slot in. */
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        int rc = pi_open_pool(&ps->set, m->pool_path, &m->pool, err);
        if (rc)
            return rc;
    }
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        int rc = pi_open_ring(&ps->set, m->to_vm_path, &m->to_vm, &m->to_vm_seg, err);
        if (rc == IVSHM_OK)
            rc = pi_open_ring(&ps->set, m->from_vm_path, &m->from_vm, &m->from_vm_seg, err);
        if (rc)
            return rc;
        uint32_t size = m->pool->mp.obj_size;
        if (size <= IVSHM_PKT_HEADROOM)
            return ivshm_fail(err, IVSHM_E_INVAL,
                              "%s: %u-byte buffers leave no room after the %u-byte headroom",
                              m->pool_path, size, IVSHM_PKT_HEADROOM);
        m->room = size - IVSHM_PKT_HEADROOM;
        if (ps->opt.zero_copy && size > UINT16_MAX)
            return ivshm_fail(err, IVSHM_E_INVAL,
                              "%s: %u-byte buffers are too large for zero-copy (64 KiB at most)",
                              m->pool_path, size);
    }
    return check_rings_once(ps, err);
}

static int create_mbuf_pools(struct port_state *ps, struct ivshm_error *err)
{
    /* Copy transmit needs a frame of up to a buffer's size less its header
     * in one mbuf. */
    uint32_t room = RTE_MBUF_DEFAULT_DATAROOM;
    for (unsigned i = 0; i < ps->nmaps; i++) {
        uint32_t frame_max = ps->maps[i].pool->mp.obj_size - (uint32_t)sizeof(struct ivshm_pkt);
        if (frame_max > room)
            room = frame_max;
    }
    if (room > UINT16_MAX - RTE_PKTMBUF_HEADROOM)
        room = UINT16_MAX - RTE_PKTMBUF_HEADROOM;
    ps->mbuf_room = room;
    unsigned count = ps->nmaps * (RX_DESC + TX_DESC + 2 * IVSHM_BURST_MAX) +
                     rte_lcore_count() * (MBUF_CACHE + IVSHM_BURST_MAX);
    ps->mbufs = rte_pktmbuf_pool_create("ivshm_port", count, MBUF_CACHE, 0,
                                        (uint16_t)(room + RTE_PKTMBUF_HEADROOM), SOCKET_ID_ANY);
    if (!ps->mbufs)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "mbuf pool of %u x %u bytes: %s (more memory: -m or hugepages)", count,
                          room + RTE_PKTMBUF_HEADROOM, rte_strerror(rte_errno));
    if (ps->opt.zero_copy) {
        count = ps->nmaps * (TX_DESC + 2 * IVSHM_BURST_MAX) +
                rte_lcore_count() * (MBUF_CACHE + IVSHM_BURST_MAX);
        ps->ext_mbufs =
            rte_pktmbuf_pool_create("ivshm_port_ext", count, MBUF_CACHE, 0, 0, SOCKET_ID_ANY);
        if (!ps->ext_mbufs)
            return ivshm_fail(err, IVSHM_E_INVAL, "mbuf pool of %u headers: %s", count,
                              rte_strerror(rte_errno));
    }
    return 0;
}

static bool is_virtual(const struct rte_eth_dev_info *info)
{
    const struct rte_bus *bus = info->device ? rte_dev_bus(info->device) : NULL;
    return bus && strcmp(rte_bus_name(bus), "vdev") == 0;
}

/*
 * Zero-copy hands the NIC addresses inside the segment. Virtual PMDs (tap,
 * pcap, af_packet, null, ring) copy from the mbuf with the CPU: nothing to
 * do. A device that does DMA must be able to reach the segment: with IOVA as
 * VA (vfio-pci with an IOMMU) the segment is registered with EAL and mapped
 * for the device; with physical addresses it cannot be (a hugetlbfs file is
 * not EAL memory), so zero-copy is refused.
 */
static int zero_copy_setup(struct port_map *m, const struct rte_eth_dev_info *info,
                           struct ivshm_error *err)
{
    m->shinfo = calloc(m->pool->mp.count, sizeof(*m->shinfo));
    if (!m->shinfo)
        return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: no memory for %u buffer descriptors",
                          m->spec, m->pool->mp.count);
    if (is_virtual(info)) {
        m->iova_ok = rte_eal_iova_mode() == RTE_IOVA_VA;
        return 0;
    }
    if (rte_eal_iova_mode() != RTE_IOVA_VA)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "--port %s: zero-copy on a DMA device needs IOVA as VA (vfio-pci with "
                          "an IOMMU, --iova-mode=va); run without --zero-copy",
                          m->spec);
    void *base;
    uint64_t len;
    pi_pool_memory(m->pool, &base, &len);
    if (rte_extmem_register(base, len, NULL, 0, (size_t)sysconf(_SC_PAGESIZE)) != 0 &&
        rte_errno != EEXIST)
        return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: cannot register %s with EAL: %s", m->spec,
                          m->pool_path, rte_strerror(rte_errno));
    if (rte_dev_dma_map(info->device, base, (uint64_t)(uintptr_t)base, len) != 0 &&
        rte_errno != EEXIST)
        return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: cannot map %s for DMA by %s: %s", m->spec,
                          m->pool_path, m->dev_name, rte_strerror(rte_errno));
    m->iova_ok = true;
    return 0;
}

/* One queue each way, then start. *step gets what failed. */
static int configure_and_start(const struct port_state *ps, const struct port_map *m,
                               const struct rte_eth_conf *conf, const char **step)
{
    uint16_t nb_rxd = RX_DESC, nb_txd = TX_DESC;
    int rc;
    *step = "set up";
    if ((rc = rte_eth_dev_configure(m->port_id, 1, 1, conf)) != 0 ||
        (rc = rte_eth_dev_adjust_nb_rx_tx_desc(m->port_id, &nb_rxd, &nb_txd)) != 0 ||
        (rc = rte_eth_rx_queue_setup(m->port_id, 0, nb_rxd, rte_eth_dev_socket_id(m->port_id), NULL,
                                     ps->mbufs)) != 0 ||
        (rc = rte_eth_tx_queue_setup(m->port_id, 0, nb_txd, rte_eth_dev_socket_id(m->port_id),
                                     NULL)) != 0)
        return rc;
    *step = "start";
    return rte_eth_dev_start(m->port_id);
}

static int port_start(struct port_state *ps, struct port_map *m, struct ivshm_error *err)
{
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(m->port_id, &info);
    if (rc != 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: device info: %s", m->spec,
                          rte_strerror(-rc));
    if (ps->opt.zero_copy && (rc = zero_copy_setup(m, &info, err)) != 0)
        return rc;
    m->zero_copy = ps->opt.zero_copy;
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    /* Frames longer than an mbuf arrive chained rather than dropped unseen:
     * they are then counted (too big) where they would not fit a buffer. */
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    /* Adaptive mode: the port's rx interrupt, where its PMD has one, wakes
     * a sleeping worker (adaptive.c). A PMD that refuses it runs without. */
    conf.intr_conf.rxq = port_wants_rx_intr(ps);
    const char *step;
    rc = configure_and_start(ps, m, &conf, &step);
    if (rc != 0 && conf.intr_conf.rxq) {
        conf.intr_conf.rxq = 0;
        rc = configure_and_start(ps, m, &conf, &step);
    }
    if (rc != 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "--port %s: cannot %s %s: %s", m->spec, step,
                          m->dev_name, rte_strerror(rc < 0 ? -rc : rc));
    /* A wire passes every frame, whatever its destination. Some PMDs have
     * no such mode (and need none): not an error. */
    rte_eth_promiscuous_enable(m->port_id);
    return 0;
}

/* Stops and closes the ports: the PMDs free every mbuf they hold, so the
 * zero-copy buffers lent to them come back (port_zero_copy_free). */
static void ports_close(struct port_state *ps, unsigned started)
{
    for (unsigned i = 0; i < started; i++) {
        rte_eth_stats_get(ps->maps[i].port_id, &ps->maps[i].eth);
        rte_eth_dev_stop(ps->maps[i].port_id);
        rte_eth_dev_close(ps->maps[i].port_id);
    }
}

/* ---- buffers of a dead earlier run ---- */

/*
 * Before we start: host parties of a pool's segment that died (an earlier
 * ivshm-port or pktgen killed with SIGKILL) may hold buffers: in their
 * private cache, taken but not sent, or in flight in the rings of our
 * mappings. The shared host module takes them back (and repairs a free ring
 * a process died in the middle of using), as pktgen does.
 */
static int reclaim_pool(struct port_state *ps, struct pi_pool *pool, struct ivshm_error *err)
{
    struct ivshm_fwd_host_queue queues[PORT_MAX_MAPS];
    unsigned n = 0;
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        if (m->pool == pool)
            queues[n++] = (struct ivshm_fwd_host_queue){&m->to_vm, &m->from_vm, m->to_vm_seg->ctrl};
    }
    uint32_t reclaimed = 0;
    int rc = ivshm_fwd_host_reclaim(&ps->set.fwds, &pool->mp, &pool->seg->seg.view, pool->path,
                                    queues, n, ps->opt.timeout, &reclaimed, err);
    ps->reclaimed += reclaimed;
    return rc;
}

/* ---- the stop ---- */

/* Buffers marked ours that are not lent to a port (zero-copy). */
static uint32_t outstanding(struct port_state *ps)
{
    uint64_t lent = 0;
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        port_flush_returned(m);
        ivshm_mempool_cache_flush(&m->mp, &m->cache);
        lent += m->lent - m->returned;
    }
    uint64_t ours = 0;
    for (unsigned i = 0; i < ps->set.npools; i++)
        ours += pi_buffers_ours(&ps->set.pools[i]);
    return ours > lent ? (uint32_t)(ours - lent) : 0;
}

/*
 * After the ports stopped receiving: frames still on their way out of the VM
 * are sent, and our buffers in flight come home (to us, or to another host
 * party that frees them). With no forwarder running, what waits in the to-VM
 * rings is taken back. Ends 200 ms after none of our buffers is out (frames
 * of another ivshm-port stopping at the same moment still arrive then: sent
 * on, not stranded in a ring nobody reads), or when nothing moves and no
 * forwarder's heartbeat has moved for a second, or after --timeout, or on a
 * second signal. Returns the buffers still out.
 */
static uint32_t drain_at_stop(struct port_state *ps)
{
    unsigned signals = atomic_load(&signals_seen);
    uint64_t now = port_now_ns(), deadline = now + (uint64_t)(ps->opt.timeout * 1e9);
    uint64_t beat[PORT_MAX_MAPS], beat_ns[PORT_MAX_MAPS];
    uint64_t idle_since = now, home_at = 0, counted_at = 0;
    uint32_t out = UINT32_MAX;
    for (unsigned i = 0; i < ps->nmaps; i++) {
        beat[i] = pi_heartbeat(ps->maps[i].to_vm_seg);
        beat_ns[i] = now;
    }
    for (;;) {
        uint32_t moved = 0;
        bool stale = true;
        now = port_now_ns();
        for (unsigned i = 0; i < ps->nmaps; i++) {
            struct port_map *m = &ps->maps[i];
            moved += port_map_transmit(ps, m);
            if (!ivshm_fwd_active(m->to_vm_seg->ctrl)) {
                uint64_t h[IVSHM_BURST_MAX];
                uint32_t n = ivshm_ring_dequeue_burst(&m->to_vm, h, IVSHM_BURST_MAX, NULL);
                port_put_all(m, h, n);
                moved += n;
                continue;
            }
            uint64_t b = pi_heartbeat(m->to_vm_seg);
            if (b != beat[i]) {
                beat[i] = b;
                beat_ns[i] = now;
            }
            stale &= now - beat_ns[i] > 1000000000ull;
        }
        if (moved)
            idle_since = now;
        /* Counting walks the pool's state bytes: when idle, or every 10 ms
         * while another party's frames keep coming. */
        if (!moved || now - counted_at > 10000000ull) {
            out = outstanding(ps);
            counted_at = now;
            if (out == 0 && home_at == 0)
                home_at = now;
        }
        if ((home_at && now - home_at > 200000000ull) || now > deadline ||
            atomic_load(&signals_seen) != signals || (stale && now - idle_since > 1000000000ull))
            return outstanding(ps);
        if (!moved)
            usleep(1000);
    }
}

/* ---- the run ---- */

static void print_rates(const struct port_state *ps, double t, double dt, uint64_t *last)
{
    for (unsigned i = 0; i < ps->nmaps; i++) {
        const struct port_map *m = &ps->maps[i];
        const struct port_counters *c = &m->c;
        uint64_t rx = atomic_load_explicit(&c->rx_to_vm, memory_order_relaxed);
        uint64_t tx = atomic_load_explicit(&c->tx_packets, memory_order_relaxed);
        uint64_t drops = atomic_load_explicit(&c->rx_ring_full, memory_order_relaxed) +
                         atomic_load_explicit(&c->rx_too_big, memory_order_relaxed) +
                         atomic_load_explicit(&c->rx_no_buffer, memory_order_relaxed) +
                         atomic_load_explicit(&c->tx_port_full, memory_order_relaxed) +
                         atomic_load_explicit(&c->tx_invalid, memory_order_relaxed) +
                         atomic_load_explicit(&c->tx_no_mbuf, memory_order_relaxed);
        printf(PROG ": %7.1f s  %s: %.3f Mpps -> %s, %.3f Mpps <- %s, %" PRIu64 " dropped\n", t,
               m->dev_name, (double)(rx - last[2 * i]) / dt / 1e6, m->to_vm_path,
               (double)(tx - last[2 * i + 1]) / dt / 1e6, m->from_vm_path, drops);
        last[2 * i] = rx;
        last[2 * i + 1] = tx;
    }
    fflush(stdout);
}

/* Idle rounds between two readings of the clock, in adaptive mode (as the
 * fwd module's loop). */
#define IDLE_CHECK_ROUNDS 16u

static int worker_main(void *arg)
{
    struct port_state *ps = arg;
    unsigned lcore = rte_lcore_id();
    bool main_lcore = lcore == rte_get_main_lcore();
    struct port_worker *w = NULL;
    for (unsigned i = 0; i < ps->nworkers; i++)
        if (ps->workers[i].lcore == lcore)
            w = &ps->workers[i];
    unsigned n = w ? w->nmaps : 0;
    if (n == 0 && !main_lcore)
        return 0;
    bool adaptive = w && w->epfd >= 0;
    uint64_t idle_ns = (uint64_t)ps->opt.idle_us * 1000, idle_since = 0;
    uint32_t idle = 0;
    uint64_t stats_ns = (uint64_t)(ps->opt.stats * 1e9), next = ps->start_ns + stats_ns;
    uint64_t last_t = ps->start_ns, last[2 * PORT_MAX_MAPS] = {0};
    for (uint64_t iter = 0;; iter++) {
        uint32_t moved = 0;
        for (unsigned i = 0; i < n; i++)
            moved += port_map_poll(ps, w->maps[i]);
        bool slept = false;
        if (moved) {
            idle = 0;
        } else if (adaptive && ++idle % IDLE_CHECK_ROUNDS == 0) {
            /* Adaptive: an idle round reads the clock every few rounds; after
             * the idle spell, sleep. Still idle after a sleep, sleep again
             * at once: the spell is not waited again until frames moved (a
             * port without an rx interrupt ends each sleep early, and would
             * otherwise cost a spell each time). The stop and --stats are
             * looked at after each sleep, not 1024 rounds later. */
            uint64_t now = port_now_ns();
            if (idle == IDLE_CHECK_ROUNDS)
                idle_since = now;
            else if (now - idle_since >= idle_ns) {
                port_worker_sleep(ps, w);
                slept = true;
            }
        }
        if (n == 0)
            usleep(10000); /* the main lcore with no port: it only prints */
        else if ((iter & 1023) && !slept)
            continue;
        if (atomic_load_explicit(&stop_requested, memory_order_relaxed))
            break;
        if (main_lcore && stats_ns) {
            uint64_t t = port_now_ns();
            if (t >= next) {
                print_rates(ps, (double)(t - ps->start_ns) * 1e-9, (double)(t - last_t) * 1e-9,
                            last);
                last_t = t;
                next += stats_ns;
            }
        }
    }
    return 0;
}

static uint64_t counter(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void report(const struct port_state *ps, uint32_t held, int fwd_stopped)
{
    double seconds = (double)(ps->stop_ns - ps->start_ns) * 1e-9;
    uint64_t f_recv, f_sent, f_drop, f_sleeps, f_wakeups, f_rings;
    ivshm_fwd_host_counters(&ps->set.fwds, &f_recv, &f_sent, &f_drop);
    ivshm_fwd_host_wake_counters(&ps->set.fwds, &f_sleeps, &f_wakeups, &f_rings);
    const char *mode = ps->opt.zero_copy ? "zero-copy" : "copy";
    const char *polling = ivshm_fwd_mode_name(ps->opt.mode);
    if (ps->opt.json) {
        uint64_t rx = 0, tx = 0;
        uint64_t refused = 0;
        for (unsigned i = 0; i < ps->nmaps; i++)
            refused += ps->maps[i].refused;
        printf("{\"seconds\":%.3f,\"transmit\":\"%s\",\"mode\":\"%s\",\"burst\":%u,"
               "\"reclaimed\":%u,\"buffers_held\":%u,\"refused\":%" PRIu64
               ",\"forwarder_stopped\":%s,\"ports\":[",
               seconds, mode, polling, ps->opt.burst, ps->reclaimed, held, refused,
               fwd_stopped < 0 ? "null"
               : fwd_stopped   ? "true"
                               : "false");
        for (unsigned i = 0; i < ps->nmaps; i++) {
            const struct port_map *m = &ps->maps[i];
            const struct rte_eth_stats *es = &m->eth;
            printf("%s{\"port\":%u,\"device\":\"%s\",\"to_vm\":\"%s\",\"from_vm\":\"%s\","
                   "\"pool\":\"%s\",\"rx_interrupt\":%s",
                   i ? "," : "", m->port_id, m->dev_name, m->to_vm_path, m->from_vm_path,
                   m->pool_path, m->rx_fd >= 0 ? "true" : "false");
#define JSON_COUNTER(f) printf(",\"" #f "\":%" PRIu64, counter(&m->c.f));
            PORT_COUNTERS(JSON_COUNTER)
#undef JSON_COUNTER
            printf(
                ",\"eth\":{\"ipackets\":%" PRIu64 ",\"opackets\":%" PRIu64 ",\"imissed\":%" PRIu64
                ",\"ierrors\":%" PRIu64 ",\"oerrors\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64 "}}",
                es->ipackets, es->opackets, es->imissed, es->ierrors, es->oerrors, es->rx_nombuf);
            rx += counter(&m->c.rx_packets);
            tx += counter(&m->c.tx_packets);
        }
        printf("],\"rx_packets\":%" PRIu64 ",\"tx_packets\":%" PRIu64 ",\"tx_mpps\":%.4f,"
               "\"forwarder\":{\"received\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"dropped\":%" PRIu64
               ",\"sleeps\":%" PRIu64 ",\"wakeups\":%" PRIu64 ",\"rings\":%" PRIu64 "}}\n",
               rx, tx, seconds > 0 ? (double)tx / seconds / 1e6 : 0.0, f_recv, f_sent, f_drop,
               f_sleeps, f_wakeups, f_rings);
        fflush(stdout);
        return;
    }
    for (unsigned i = 0; i < ps->nmaps; i++) {
        const struct port_map *m = &ps->maps[i];
        printf(PROG ": port %u (%s) <-> %s,%s:", m->port_id, m->dev_name, m->to_vm_path,
               m->from_vm_path);
#define TEXT_COUNTER(f) printf(" " #f " %" PRIu64, counter(&m->c.f));
        PORT_COUNTERS(TEXT_COUNTER)
#undef TEXT_COUNTER
        printf("\n");
    }
    printf(PROG ": %.2f s, %s transmit, mode %s, %u buffers reclaimed from a dead process, %u "
                "held at exit; forwarder received %" PRIu64 " sent %" PRIu64 " dropped %" PRIu64
                " slept %" PRIu64 " (%" PRIu64 " rung awake) rang %" PRIu64 "%s\n",
           seconds, mode, polling, ps->reclaimed, held, f_recv, f_sent, f_drop, f_sleeps, f_wakeups,
           f_rings, fwd_stopped == 0 ? " (did not finish after EXIT)" : "");
    fflush(stdout);
}

/* Spreads the mappings over the lcores EAL gave us, main lcore first: a
 * worker for each lcore that has some. */
static void assign_lcores(struct port_state *ps)
{
    unsigned lcores[PORT_MAX_WORKERS], n = 0;
    lcores[n++] = rte_get_main_lcore();
    unsigned id;
    RTE_LCORE_FOREACH_WORKER(id)
    {
        if (n < PORT_MAX_WORKERS)
            lcores[n++] = id;
    }
    ps->nworkers = ps->nmaps < n ? ps->nmaps : n;
    for (unsigned i = 0; i < ps->nworkers; i++) {
        ps->workers[i].lcore = lcores[i];
        ps->workers[i].nmaps = 0;
    }
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_worker *w = &ps->workers[i % ps->nworkers];
        w->maps[w->nmaps++] = &ps->maps[i];
    }
}

static int run(struct port_state *ps)
{
    struct ivshm_error err = {0};
    unsigned started = 0;
    int status = 1, fwd_stopped = -1;
    for (unsigned i = 0; i < ps->nmaps; i++)
        if (resolve_port(ps, &ps->maps[i], &err) != 0)
            goto out;
    /* Doorbells before the ports (mode AUTO settles whether they need
     * their rx interrupts) and before READY (a sleeping forwarder is rung). */
    if (open_segments(ps, &err) != 0 || port_doorbells_connect(ps, &err) != 0 ||
        create_mbuf_pools(ps, &err) != 0)
        goto out;
    for (; started < ps->nmaps; started++)
        if (port_start(ps, &ps->maps[started], &err) != 0)
            goto out;
    if (ivshm_fwd_host_wait_ready(&ps->set.fwds, ps->opt.timeout, &err) != IVSHM_OK)
        goto out;
    /* Our queues, before any ring is touched: one live source each. */
    for (unsigned i = 0; i < ps->nmaps; i++)
        if (pi_claim_source(ps->maps[i].to_vm_seg, ps->maps[i].to_vm_path, &err) != IVSHM_OK)
            goto out;
    for (unsigned i = 0; i < ps->set.npools; i++)
        if (reclaim_pool(ps, &ps->set.pools[i], &err) != 0)
            goto out;
    /* Each mapping's thread gets its own handle (and cache), copied after
     * any reclaim has rebuilt the pool. */
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        m->mp = m->pool->mp;
        ivshm_mempool_cache_init(&m->cache, PORT_CACHE_SIZE);
    }
    assign_lcores(ps);
    if (port_workers_prepare(ps, &err) != 0)
        goto out;
    ivshm_fwd_host_start(&ps->set.fwds);
    ps->start_ns = port_now_ns();
    rte_eal_mp_remote_launch(worker_main, ps, CALL_MAIN);
    rte_eal_mp_wait_lcore();
    ps->stop_ns = port_now_ns();
    /* EXIT first: the forwarder then passes on what it holds and stops. */
    if (ps->opt.exit_fwd)
        ivshm_fwd_host_exit(&ps->set.fwds);
    drain_at_stop(ps);
    fwd_stopped = ps->opt.exit_fwd ? ivshm_fwd_host_wait_done(&ps->set.fwds, EXIT_WAIT_S) : -1;
    status = 0;
out:
    /* The PMDs free what they hold: zero-copy buffers come back. */
    ports_close(ps, started);
    uint32_t held = 0;
    uint64_t refused = 0;
    for (unsigned i = 0; i < ps->nmaps; i++) {
        struct port_map *m = &ps->maps[i];
        refused += m->refused;
        free(m->shinfo);
        m->shinfo = NULL;
    }
    if (ps->set.npools && ps->maps[0].mp.base)
        held = outstanding(ps);
    if (status == 0) {
        report(ps, held, fwd_stopped);
        if (held)
            fprintf(stderr,
                    PROG ": %u buffers did not come back (a forwarder holds them, or it "
                         "stopped); our party slot stays claimed, so the next " PROG
                         " or 'ivshm reclaim' takes them back\n",
                    held);
        if (refused)
            fprintf(stderr,
                    PROG ": %" PRIu64 " handles from the VM were not buffers the pool "
                         "could take back\n",
                    refused);
    } else {
        cli_fail(CLI_EXIT_RUNTIME, "%s", err.msg);
    }
    /* Buffers still out are marked with our party: keep the slot claimed
     * (we look dead once we exit), so they can be reclaimed. */
    pi_close(&ps->set, held != 0);
    port_doorbells_close(ps);
    if (ps->mbufs)
        rte_mempool_free(ps->mbufs);
    if (ps->ext_mbufs)
        rte_mempool_free(ps->ext_mbufs);
    return status;
}

/*
 * rte_eal_init with its output held back: on failure EAL prints its whole
 * usage and several lines, where we want one line naming the problem. What
 * EAL printed goes to stderr after a success (warnings matter then); after a
 * failure only its most telling line is kept. Telemetry (a socket per
 * process, which a second ivshm-port would fight over) is off unless asked
 * for.
 */
static int eal_init(int argc, char **argv)
{
    static char *args[512];
    if (argc + 2 > (int)(sizeof(args) / sizeof(args[0]))) {
        return cli_fail(-1, "too many arguments (%d)", argc);
    }
    int n = 0;
    bool telemetry_given = false;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        telemetry_given |= strstr(argv[i], "telemetry") != NULL;
    args[n++] = argv[0];
    if (!telemetry_given)
        args[n++] = "--no-telemetry";
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;

    fflush(stdout);
    fflush(stderr);
    FILE *capture = tmpfile();
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    bool redirected = capture && saved_out >= 0 && saved_err >= 0 &&
                      dup2(fileno(capture), STDOUT_FILENO) >= 0 &&
                      dup2(fileno(capture), STDERR_FILENO) >= 0;
    int used = rte_eal_init(n, args);
    int eal_errno = rte_errno;
    if (redirected) {
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, STDOUT_FILENO);
        dup2(saved_err, STDERR_FILENO);
    }
    if (saved_out >= 0)
        close(saved_out);
    if (saved_err >= 0)
        close(saved_err);
    char line[512], telling[512] = "";
    bool from_getopt = false;
    if (capture) {
        rewind(capture);
        while (fgets(line, sizeof(line), capture)) {
            if (used >= 0) {
                fputs(line, stderr);
                continue;
            }
            /* getopt's complaint names the argument; else the first EAL line. */
            line[strcspn(line, "\n")] = '\0';
            bool getopt_msg = strstr(line, "option") && strstr(line, argv[0]) == line;
            if (getopt_msg ||
                (!telling[0] && strncmp(line, "EAL: ", 5) == 0 && !strstr(line, "FATAL"))) {
                snprintf(telling, sizeof(telling), "%s",
                         getopt_msg ? line + strlen(argv[0]) + 2 : line + 5);
                from_getopt = getopt_msg;
            }
        }
        fclose(capture);
    }
    if (used < 0) {
        const char *hint = strstr(telling, "hugepage")
                               ? " (reserve hugepages and mount hugetlbfs, or give --no-huge: "
                                 "docs/ports.md)"
                               : "";
        return cli_fail(-1, "%s: %s%s",
                        from_getopt ? "EAL arguments (before '--')" : "EAL initialisation failed",
                        telling[0] ? telling : rte_strerror(eal_errno), hint);
    }
    return 0;
}

/* The whole command line, for EAL; and whether it has the '--' that ends
 * EAL's part. */
static int eal_argc;
static char **eal_argv;
static bool has_separator;

static void port_defaults(void *opts)
{
    struct port_options *o = opts;
    o->burst = IVSHM_FWD_BURST_DEFAULT;
    o->timeout = 30;
    o->idle_us = IVSHM_FWD_IDLE_NS / 1000;
}

/* Runs after our options parsed (before EAL starts: a usage error must not
 * wait for EAL to probe devices). */
static int port_run(void *opts, char **args, unsigned nargs)
{
    (void)args;
    (void)nargs;
    if (!has_separator)
        return cli_fail(CLI_EXIT_USAGE, "give EAL options, then '--', then --port P=SEG:Q (see "
                                        "ivshm-port --help)");
    if (port.nmaps == 0)
        return cli_fail(CLI_EXIT_USAGE, "--port: give at least one --port P=SEG:Q after '--'");
    port.opt = *(const struct port_options *)opts;
    if (check_sockets(&port) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    set_pools(&port);
    /* EAL's start-up chatter off unless asked for (--log-level). */
    rte_log_set_global_level(RTE_LOG_WARNING);
    if (eal_init(eal_argc, eal_argv) < 0)
        return CLI_EXIT_RUNTIME;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = run(&port);
    rte_eal_cleanup();
    return status;
}

#define OPT(field) CLI_FIELD(struct port_options, field)

static const struct cli_option port_option_table[] = {
    {"--port", "P=SEG:Q",
     "join DPDK port P (number or name) to SEG/rxQ and SEG/txQ (repeatable); "
     "P=SEG/RX,SEG/TX: any two rings",
     CLI_CALL, 0, 0, 0, parse_port, NULL},
    {"--pool", "SEG/NAME", "the buffers' mempool (default: pkts in the segment of the RX ring)",
     CLI_CALL, OPT(pool), 0, 0, parse_pool, NULL},
    {"--zero-copy", NULL, "transmit straight from the VM's buffers (no copy)", CLI_FLAG,
     OPT(zero_copy), 0, 0, NULL, NULL},
    {"--burst", "B", "frames per burst, 1..64 (default 32)", CLI_U32, OPT(burst), 1,
     IVSHM_BURST_MAX, NULL, NULL},
    {"--stats", "S", "print rates every S seconds", CLI_SECONDS, OPT(stats), 0, 0, NULL, NULL},
    {"--json", NULL, "print the final counters as one JSON object", CLI_FLAG, OPT(json), 0, 0, NULL,
     NULL},
    {"--timeout", "S", "wait up to S s for READY, and for a dead run's buffers (default 30)",
     CLI_SECONDS, OPT(timeout), 0, 0, NULL, NULL},
    {"--exit", NULL, "when stopping, set EXIT: the forwarder finishes", CLI_FLAG, OPT(exit_fwd), 0,
     0, NULL, NULL},
    CLI_OPTION_MODE(struct port_options,
                    "adaptive: sleep when idle, woken by the forwarder's doorbell or the port "
                    "(default when a doorbell server runs for every segment of the rings)"),
    CLI_OPTION_IDLE_US(struct port_options),
    {"--sleep-us", "N",
     "adaptive: longest sleep, 1..1000000 us (default 1000, 100000 when every port has an rx "
     "interrupt)",
     CLI_U32, OPT(sleep_us), 1, 1000000, NULL, NULL},
    {"--socket", "[SEG=]PATH",
     "SEG's doorbell server socket (default DIR/.ivshm-SEG.sock; repeatable)", CLI_CALL, 0, 0, 0,
     parse_socket, NULL},
    CLI_OPTION_DIR(struct port_options),
    CLI_OPTION_END,
};

static const struct cli_command port_command = {
    .args = "[EAL options] -- --port P=SEG:Q...",
    .summary = "join DPDK ports to queue pairs of ivshm segments (docs/ports.md)",
    .details = "Frames received on port P go to ring SEG/rxQ, frames the VM puts into SEG/txQ\n"
               "are sent on port P; buffers come from SEG/pkts (preset fwd).\n"
               "EAL options, before '--', choose the ports and cores, e.g. -l 0 --no-pci\n"
               "--vdev net_tap0 --vdev net_tap1 (mappings are spread over the lcores given).\n"
               "A second ivshm-port on the same machine needs --in-memory or its own\n"
               "--file-prefix. Stops on SIGINT or SIGTERM and prints its counters.\n"
               "Exit status: 0 after a stop; 1 on an error at run time; 2 on bad usage.\n",
    .opts_size = sizeof(struct port_options),
    .defaults = port_defaults,
    .options = port_option_table,
    .run = port_run,
};

static bool asks_help_or_version(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "--version") == 0 ||
           strcmp(arg, "-V") == 0;
}

int main(int argc, char **argv)
{
    static const struct cli_command *const commands[] = {&port_command, NULL};
    static const struct cli_program program = {PROG, NULL, commands};
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    /* Help and version before EAL's, wherever they stand: they need no
     * ports. */
    for (int i = 1; i < sep; i++)
        if (asks_help_or_version(argv[i]))
            return cli_main(&program, 2, (char *[]){argv[0], argv[i], NULL});
    eal_argc = argc;
    eal_argv = argv;
    has_separator = sep < argc;
    /* Our options: those after '--' (argv[sep], the '--', takes the place of
     * the program name); without '--', none (port_run says so). */
    return has_separator ? cli_main(&program, argc - sep, argv + sep) : cli_main(&program, 1, argv);
}
