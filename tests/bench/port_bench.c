/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port/null64/copy and port/null64/zerocopy: Mpps of 64-byte frames through
 * ivshm-port between two net_null ports, cross-connected by ivshm-fwd
 * (--mac keep) on the other core. The port process's own ceiling: net_null
 * never runs dry, so the rings stay full.
 *
 *   ivshm (cpu 0: ivshm-port, cpu 1: ivshm-fwd, two processes):
 *     net_null0 rx -> copy into a pool buffer -> rx0 -> ivshm-fwd -> tx1 ->
 *     copy into an mbuf (or attach the buffer: zero-copy) -> net_null1 tx,
 *     and the same from net_null1 to net_null0
 *   dpdk (this process, the same two cores): the cpu-0 thread polls both
 *     ports and two rte_ring pairs, the cpu-1 thread moves mbuf pointers
 *     from ring to ring, crosswise; nothing is copied
 *
 * Figure: frames transmitted on both ports per second. The ivshm runs spawn
 * build/bin/ivshm, ivshm-fwd and ivshm-port (next to this program's
 * directory) on a segment in a temporary directory; each run starts and
 * stops them, so nothing polls while the DPDK run measures.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bench.h"

#define PORT_BURST 32u
#define PORT_RING  1024u
#define SEGMENT    "benchport"

static double run_seconds = 1.0;

/* ---- the ivshm side: processes ---- */

static double measure_ivshm_port(bool zero_copy)
{
    char fwd[PATH_MAX + 16], port[PATH_MAX + 16], cpu0[16], cpu1[16], prefix[64];
    bench_bin("ivshm-fwd", fwd, sizeof(fwd));
    bench_bin("ivshm-port", port, sizeof(port));
    snprintf(cpu0, sizeof(cpu0), "%d", bench_cfg.cpu[0]);
    snprintf(cpu1, sizeof(cpu1), "%d", bench_cfg.cpu[1]);
    snprintf(prefix, sizeof(prefix), "--file-prefix=ivshm-bench-%d", (int)getpid());
    char *fwd_argv[] = {fwd,      "--mac",  "keep",   "--cpu",  cpu1, SEGMENT,
                        "rx=rx0", "tx=tx1", "rx=rx1", "tx=tx0", NULL};
    char *port_argv[] = {port,
                         "-l",
                         cpu0,
                         "--no-huge",
                         "--no-pci",
                         "--no-shconf",
                         prefix,
                         "-m",
                         "256",
                         "--vdev",
                         "net_null0",
                         "--vdev",
                         "net_null1",
                         "--",
                         "--port",
                         "0=" SEGMENT ":0",
                         "--port",
                         "1=" SEGMENT ":1",
                         "--exit",
                         "--json",
                         "--stats",
                         "0.1",
                         zero_copy ? "--zero-copy" : NULL,
                         NULL};
    int pipefd[2];
    if (pipe(pipefd) != 0)
        bench_die("pipe: %s", strerror(errno));
    pid_t fwd_pid = bench_spawn(fwd_argv, -1);
    pid_t port_pid = bench_spawn(port_argv, pipefd[1]);
    close(pipefd[1]);
    /* The first --stats line says it forwards (EAL start-up and the READY
     * handshake take a while on a loaded machine); the figure is
     * ivshm-port's own: frames sent / time since it started forwarding. */
    char out[16384];
    size_t len = 0;
    bool signalled = false;
    for (;;) {
        struct pollfd pfd = {pipefd[0], POLLIN, 0};
        int ready = poll(&pfd, 1, 60000);
        if (ready <= 0 && !signalled) {
            kill(port_pid, SIGKILL); /* no line in 60 s: give up */
            signalled = true;
            continue;
        }
        if (bench_read_more(pipefd[0], out, sizeof(out), &len) <= 0)
            break; /* (only the last line matters) */
        if (!signalled && memchr(out, '\n', len)) {
            bench_sleep_seconds(run_seconds);
            kill(port_pid, SIGINT);
            signalled = true;
        }
    }
    out[len] = '\0';
    close(pipefd[0]);
    int port_status = bench_wait_exit(port_pid);
    if (port_status != 0)
        kill(fwd_pid, SIGKILL); /* it waits for an EXIT that will not come */
    int fwd_status = bench_wait_exit(fwd_pid);
    const char *mpps = strstr(out, "\"tx_mpps\":");
    if (port_status != 0 || fwd_status != 0 || !mpps)
        bench_die("port/null64: ivshm-port exit %d, ivshm-fwd exit %d, output '%.200s'",
                  port_status, fwd_status, out);
    return strtod(mpps + 10, NULL);
}

/* ---- the dpdk side: the same shape in this process ---- */

static uint16_t dp_port[2];
static struct rte_ring *to_fwd[2], *from_fwd[2];
static struct rte_mempool *dp_mbufs;

struct dp_run {
    _Atomic bool stop;
    uint64_t sent;
    uint64_t cycles;
};

static void dp_port_loop(void *arg)
{
    struct dp_run *r = arg;
    struct rte_mbuf *pkts[PORT_BURST];
    uint64_t t0 = bench_rdtsc(), limit = (uint64_t)(run_seconds * bench_cfg.tsc_hz), sent = 0;
    while (bench_rdtsc() - t0 < limit) {
        for (int p = 0; p < 2; p++) {
            uint16_t n = rte_eth_rx_burst(dp_port[p], 0, pkts, PORT_BURST);
            unsigned k = rte_ring_sp_enqueue_burst(to_fwd[p], (void **)pkts, n, NULL);
            if (k < n)
                rte_pktmbuf_free_bulk(pkts + k, n - k);
            n = (uint16_t)rte_ring_sc_dequeue_burst(from_fwd[p], (void **)pkts, PORT_BURST, NULL);
            uint16_t s = rte_eth_tx_burst(dp_port[p], 0, pkts, n);
            if (s < n)
                rte_pktmbuf_free_bulk(pkts + s, n - s);
            sent += s;
        }
    }
    r->cycles = bench_rdtsc() - t0;
    r->sent = sent;
    atomic_store_explicit(&r->stop, true, memory_order_relaxed);
}

/* Moves ring to ring crosswise, retrying a full ring (never dropping), as
 * the ivshm forwarder does. */
static void dp_fwd_loop(void *arg)
{
    struct dp_run *r = arg;
    void *objs[PORT_BURST];
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        for (int p = 0; p < 2; p++) {
            unsigned n = rte_ring_sc_dequeue_burst(to_fwd[p], objs, PORT_BURST, NULL);
            unsigned done = 0;
            while (done < n && !atomic_load_explicit(&r->stop, memory_order_relaxed))
                done += rte_ring_sp_enqueue_burst(from_fwd[1 - p], objs + done, n - done, NULL);
            if (done < n)
                rte_pktmbuf_free_bulk((struct rte_mbuf **)objs + done, n - done);
        }
    }
}

static void dp_drain(void)
{
    void *objs[PORT_BURST];
    for (int p = 0; p < 2; p++) {
        unsigned n;
        while ((n = rte_ring_sc_dequeue_burst(to_fwd[p], objs, PORT_BURST, NULL)) != 0)
            rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
        while ((n = rte_ring_sc_dequeue_burst(from_fwd[p], objs, PORT_BURST, NULL)) != 0)
            rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
    }
}

static double measure_dpdk(void)
{
    struct dp_run r = {0};
    bench_run_pair(dp_port_loop, &r, dp_fwd_loop, &r);
    dp_drain();
    return (double)r.sent / ((double)r.cycles / bench_cfg.tsc_hz) / 1e6;
}

static double measure_port(void *arg, enum bench_impl impl)
{
    return impl == IMPL_IVSHM ? measure_ivshm_port(arg != NULL) : measure_dpdk();
}

static void dpdk_setup(void)
{
    dp_mbufs = rte_pktmbuf_pool_create("bench_port", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                       SOCKET_ID_ANY);
    if (!dp_mbufs)
        bench_die("port/null64: mbuf pool: %s", rte_strerror(rte_errno));
    for (int p = 0; p < 2; p++) {
        char name[32];
        snprintf(name, sizeof(name), "net_null%d", p);
        if (rte_dev_probe(name) != 0 || rte_eth_dev_get_port_by_name(name, &dp_port[p]))
            bench_die("port/null64: cannot create %s", name);
        struct rte_eth_conf conf;
        memset(&conf, 0, sizeof(conf));
        if (rte_eth_dev_configure(dp_port[p], 1, 1, &conf) != 0 ||
            rte_eth_rx_queue_setup(dp_port[p], 0, 1024, SOCKET_ID_ANY, NULL, dp_mbufs) != 0 ||
            rte_eth_tx_queue_setup(dp_port[p], 0, 1024, SOCKET_ID_ANY, NULL) != 0 ||
            rte_eth_dev_start(dp_port[p]) != 0)
            bench_die("port/null64: cannot start %s", name);
        snprintf(name, sizeof(name), "bench_to_fwd%d", p);
        to_fwd[p] = rte_ring_create(name, PORT_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "bench_from_fwd%d", p);
        from_fwd[p] =
            rte_ring_create(name, PORT_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!to_fwd[p] || !from_fwd[p])
            bench_die("port/null64: rte_ring_create: %s", rte_strerror(rte_errno));
    }
}

static void dpdk_teardown(void)
{
    for (int p = 0; p < 2; p++) {
        rte_eth_dev_stop(dp_port[p]);
        rte_eth_dev_close(dp_port[p]);
        rte_ring_free(to_fwd[p]);
        rte_ring_free(from_fwd[p]);
    }
    rte_mempool_free(dp_mbufs);
}

void bench_port(void)
{
    if (!bench_selected("port/null64/copy") && !bench_selected("port/null64/zerocopy"))
        return;
    char port[PATH_MAX + 16];
    bench_bin("ivshm-port", port, sizeof(port)); /* built when DPDK is installed */
    bench_segment_dir(true);
    bench_ivshm(
        (const char *[]){"create", SEGMENT, "--size", "16M", "--preset", "fwd,queues=2", NULL});
    dpdk_setup();

    /* Each ivshm figure starts three processes: a few runs, not 7 x 7. */
    unsigned reps = bench_cfg.reps, runs = bench_cfg.runs;
    bench_cfg.reps = reps < 3 ? reps : 3;
    bench_cfg.runs = 1;
    if (bench_cfg.smoke) {
        bench_cfg.reps = 1;
        run_seconds = 0.05;
    }
    bench_row("port/null64/copy", "Mpps", true, measure_port, NULL);
    bench_row("port/null64/zerocopy", "Mpps", true, measure_port, (void *)1);
    bench_cfg.reps = reps;
    bench_cfg.runs = runs;

    dpdk_teardown();
    bench_ivshm((const char *[]){"destroy", SEGMENT, "--force", NULL});
    bench_segment_dir(false);
}
