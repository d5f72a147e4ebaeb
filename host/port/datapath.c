/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-port's data path: one poll of one mapping moves a burst each way.
 *
 *   port -> VM: rte_eth_rx_burst, a buffer from the pool for each frame, the
 *               frame copied behind an ivshm_pkt header, enqueue to the to-VM
 *               ring. Frames longer than a buffer's room, frames the ring has
 *               no room for, and frames the pool has no buffer for are
 *               dropped and counted: the port is never held up.
 *   VM -> port: dequeue from the from-VM ring, check each handle and frame
 *               (a peer may write anything there), then either copy into an
 *               mbuf and free the buffer at once, or (zero-copy) attach the
 *               buffer to an mbuf as an external buffer, which the PMD frees
 *               through port_zero_copy_free when it is done with it.
 *
 * Only the inline ring and mempool operations of libivshm are used here (and
 * ivshm_fwd_host_put, which steps over handles the pool refuses), and the
 * waker's side of a wake request (cli_doorbell_wake) after an enqueue.
 */
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include "host/cli/doorbells.h"
#include "port.h"

uint64_t port_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Frees buffers, stepping over (and counting) any the pool refuses: not one
 * of its objects, or not allocated (a peer's garbage or a handle it sent
 * twice). */
void port_put_all(struct port_map *m, const uint64_t *h, uint32_t n)
{
    if (n)
        m->refused += ivshm_fwd_host_put(&m->mp, &m->cache, h, n);
}

void port_flush_returned(struct port_map *m)
{
    port_put_all(m, m->back, m->nback);
    m->nback = 0;
}

/* Called by the PMD's free of a zero-copy mbuf, one buffer at a time: they
 * are collected and put into the pool in bulk after the burst (a put per
 * buffer cost 80 instructions a frame, measured with callgrind). */
void port_zero_copy_free(void *addr, void *opaque)
{
    struct port_map *m = opaque;
    m->back[m->nback++] = (uint64_t)((uint8_t *)addr - m->mp.base);
    m->returned++;
    if (IVSHM_UNLIKELY(m->nback == sizeof(m->back) / sizeof(m->back[0])))
        port_flush_returned(m);
}

/* Copies a frame of `len` bytes out of an mbuf chain. */
static inline void copy_from_mbuf(uint8_t *dst, const struct rte_mbuf *mb, uint32_t len)
{
    if (IVSHM_LIKELY(mb->nb_segs == 1)) {
        rte_memcpy(dst, rte_pktmbuf_mtod(mb, const void *), len);
        return;
    }
    const void *p = rte_pktmbuf_read(mb, 0, len, dst);
    if (p != dst)
        rte_memcpy(dst, p, len);
}

uint32_t port_map_receive(const struct port_state *ps, struct port_map *m)
{
    struct rte_mbuf *pkts[IVSHM_BURST_MAX];
    uint16_t n = rte_eth_rx_burst(m->port_id, 0, pkts, (uint16_t)ps->opt.burst);
    if (n == 0)
        return 0;
    PORT_COUNT(m->c.rx_packets, n);

    /* After the ring was found full, look at its room first: no point in
     * copying frames it cannot take. (Only then: the count reads the
     * consumer's line, which the enqueue itself seldom needs.) */
    uint32_t room = n;
    if (m->to_vm_full) {
        room = ivshm_ring_free_count(&m->to_vm);
        if (room > n)
            room = n;
    }
    uint64_t h[IVSHM_BURST_MAX];
    uint32_t want = 0, big = 0;
    for (uint32_t i = 0; i < room; i++) {
        if (rte_pktmbuf_pkt_len(pkts[i]) <= m->room)
            want++;
        else
            big++;
    }
    if (want && ivshm_mempool_get_bulk(&m->mp, &m->cache, h, want) != IVSHM_OK) {
        PORT_COUNT(m->c.rx_no_buffer, want);
        want = 0;
    }
    uint32_t good = 0;
    for (uint32_t i = 0; i < room && good < want; i++) {
        const struct rte_mbuf *mb = pkts[i];
        uint32_t len = rte_pktmbuf_pkt_len(mb);
        if (len > m->room)
            continue;
        uint8_t *obj = ivshm_mempool_ptr(&m->mp, h[good]);
        struct ivshm_pkt *pkt = (struct ivshm_pkt *)obj;
        copy_from_mbuf(obj + IVSHM_PKT_HEADROOM, mb, len);
        pkt->data_len = len;
        pkt->data_off = IVSHM_PKT_HEADROOM;
        pkt->port = m->queue;
        good++;
    }
    /* Beyond the room: counted as ring-full whatever their size. */
    rte_pktmbuf_free_bulk(pkts, n);
    uint32_t sent = ivshm_ring_enqueue_burst(&m->to_vm, h, good, NULL);
    if (sent < good)
        port_put_all(m, h + sent, good - sent);
    m->to_vm_full = sent < good || room < n;
    /* A forwarder asleep on the ring asked to be rung (notify.h); under
     * load the request word stays 0 and this is one exchange a burst. */
    if (sent && m->wake_db && cli_doorbell_wake(m->wake_db, &m->to_vm))
        PORT_COUNT(m->c.rings, 1);
    PORT_COUNT(m->c.rx_to_vm, sent);
    PORT_COUNT(m->c.rx_too_big, big);
    PORT_COUNT(m->c.rx_ring_full, (n - room) + (good - sent));
    return n;
}

/*
 * Checks a handle from the from-VM ring and the frame its header describes.
 * Returns 1 (good: *frame_off and *len set), 0 (a buffer of the pool with a
 * bad frame: free it) or -1 (not a buffer of the pool: it cannot be freed).
 * The header is read once: the peer may rewrite it at any time.
 */
static inline int frame_check(const struct port_map *m, uint64_t handle, uint32_t max_len,
                              uint32_t *frame_off, uint32_t *len)
{
    if (IVSHM_UNLIKELY(ivshm_mempool_index(&m->mp, handle) == UINT32_MAX))
        return -1;
    const volatile struct ivshm_pkt *pkt = ivshm_mempool_ptr(&m->mp, handle);
    uint32_t off = pkt->data_off, n = pkt->data_len;
    uint32_t size = m->mp.obj_size;
    if (IVSHM_UNLIKELY(off < sizeof(struct ivshm_pkt) || off > size || n > size - off || n == 0 ||
                       n > max_len))
        return 0;
    *frame_off = off;
    *len = n;
    return 1;
}

/* Transmits what the port took, drops (and frees) the rest. */
static void transmit(struct port_map *m, struct rte_mbuf **pkts, uint32_t n)
{
    uint16_t sent = n ? rte_eth_tx_burst(m->port_id, 0, pkts, (uint16_t)n) : 0;
    if (sent < n) {
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        PORT_COUNT(m->c.tx_port_full, n - sent);
    }
    PORT_COUNT(m->c.tx_packets, sent);
}

/* Zero-copy: the mbuf points into the buffer; the PMD's free of the mbuf
 * calls port_zero_copy_free, which returns the buffer to the pool. */
static inline void lend(struct port_map *m, struct rte_mbuf *mb, uint64_t handle, uint32_t off)
{
    struct rte_mbuf_ext_shared_info *shinfo = &m->shinfo[ivshm_mempool_index(&m->mp, handle)];
    shinfo->free_cb = port_zero_copy_free;
    shinfo->fcb_opaque = m;
    rte_mbuf_ext_refcnt_set(shinfo, 1);
    uint8_t *obj = ivshm_mempool_ptr(&m->mp, handle);
    rte_iova_t iova = m->iova_ok ? (rte_iova_t)(uintptr_t)obj : RTE_BAD_IOVA;
    rte_pktmbuf_attach_extbuf(mb, obj, iova, (uint16_t)m->mp.obj_size, shinfo);
    mb->data_off = (uint16_t)off;
    m->lent++;
}

uint32_t port_map_transmit(const struct port_state *ps, struct port_map *m)
{
    uint64_t h[IVSHM_BURST_MAX];
    uint32_t n = ivshm_ring_dequeue_burst(&m->from_vm, h, ps->opt.burst, NULL);
    if (n == 0)
        return 0;
    PORT_COUNT(m->c.tx_from_vm, n);
    const bool zero_copy = m->zero_copy;
    struct rte_mbuf *pkts[IVSHM_BURST_MAX];
    uint64_t done[IVSHM_BURST_MAX]; /* buffers to free now */
    uint32_t good = 0, ndone = 0, invalid = 0;
    if (rte_pktmbuf_alloc_bulk(zero_copy ? ps->ext_mbufs : ps->mbufs, pkts, n) != 0) {
        PORT_COUNT(m->c.tx_no_mbuf, n);
        for (uint32_t i = 0; i < n; i++)
            if (ivshm_mempool_index(&m->mp, h[i]) != UINT32_MAX)
                done[ndone++] = h[i];
        port_put_all(m, done, ndone);
        return n;
    }
    const uint32_t max_len = zero_copy ? UINT16_MAX : ps->mbuf_room;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off, len;
        int v = frame_check(m, h[i], max_len, &off, &len);
        if (v > 0) {
            struct rte_mbuf *mb = pkts[good++];
            if (zero_copy)
                lend(m, mb, h[i], off);
            else
                rte_memcpy(rte_pktmbuf_mtod(mb, void *),
                           (uint8_t *)ivshm_mempool_ptr(&m->mp, h[i]) + off, len);
            mb->data_len = (uint16_t)len;
            mb->pkt_len = len;
        } else {
            invalid++;
        }
        if (v == 0 || (v > 0 && !zero_copy))
            done[ndone++] = h[i];
    }
    port_put_all(m, done, ndone);
    if (good < n)
        rte_pktmbuf_free_bulk(pkts + good, n - good);
    PORT_COUNT(m->c.tx_invalid, invalid);
    transmit(m, pkts, good);
    if (m->nback)
        port_flush_returned(m);
    return n;
}

uint32_t port_map_poll(const struct port_state *ps, struct port_map *m)
{
    uint32_t moved = port_map_receive(ps, m);
    return moved + port_map_transmit(ps, m);
}
