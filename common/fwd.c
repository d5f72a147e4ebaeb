/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fwd module (include/ivshm/fwd.h): the preset, the test frames, and the
 * forwarder that the bare-metal guest and the host-only forwarder both run.
 * Freestanding.
 */
#include "common/internal.h"
#include "ivshm/builder.h"
#include "ivshm/fwd.h"
#include "ivshm/notify.h"

/* ---- the preset ---- */

#define NAMES16(p)                                                                                 \
    {                                                                                              \
        p "0", p "1", p "2", p "3", p "4", p "5", p "6", p "7", p "8", p "9", p "10", p "11",      \
            p "12", p "13", p "14", p "15"                                                         \
    }
static const char *const ring_names[2][IVSHM_FWD_MAX_QUEUES] = {NAMES16("rx"), NAMES16("tx")};
_Static_assert(IVSHM_FWD_MAX_QUEUES == 16, "one name per queue above");

const char *ivshm_fwd_ring_name(enum ivshm_fwd_dir dir, uint32_t queue)
{
    return queue < IVSHM_FWD_MAX_QUEUES ? ring_names[dir == IVSHM_FWD_TX][queue] : NULL;
}

int ivshm_fwd_preset(uint32_t queues, struct ivshm_object_spec *out, uint32_t capacity,
                     uint32_t *count, struct ivshm_error *err)
{
    if (queues < 1 || queues > IVSHM_FWD_MAX_QUEUES)
        return ivshm_fail(err, IVSHM_E_INVAL, "preset fwd: %u queues, not in 1..%u", queues,
                          IVSHM_FWD_MAX_QUEUES);
    if (capacity < ivshm_fwd_preset_objects(queues))
        return ivshm_fail(err, IVSHM_E_NOSPC, "preset fwd: %u objects, room for %u",
                          ivshm_fwd_preset_objects(queues), capacity);
    uint32_t n = 0;
    out[n++] = (struct ivshm_object_spec){.type = IVSHM_OBJ_MEMPOOL,
                                          .name = IVSHM_FWD_POOL,
                                          .count = ivshm_fwd_pool_count(queues),
                                          .obj_size = IVSHM_FWD_PKT_SIZE};
    for (uint32_t q = 0; q < queues; q++)
        for (int dir = IVSHM_FWD_RX; dir <= IVSHM_FWD_TX; dir++)
            out[n++] = (struct ivshm_object_spec){.type = IVSHM_OBJ_RING,
                                                  .name = ivshm_fwd_ring_name(dir, q),
                                                  .slots = IVSHM_FWD_RING_SLOTS,
                                                  .mode = IVSHM_RING_SPSC};
    out[n++] = (struct ivshm_object_spec){
        .type = IVSHM_OBJ_MEMZONE, .name = IVSHM_FWD_CTRL, .size = sizeof(struct ivshm_fwd_ctrl)};
    *count = n;
    return IVSHM_OK;
}

/* ---- test frames ---- */

/* Little-endian whatever the CPU, written out byte by byte: GCC -O2 merges
 * each into one load or store (its bswap and store-merging passes) on a
 * little-endian CPU. Loops over i < 8 it left as loops of byte moves, which
 * cost a 64-byte frame some 150 instructions. */
static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32);
    p[5] = (uint8_t)(v >> 40);
    p[6] = (uint8_t)(v >> 48);
    p[7] = (uint8_t)(v >> 56);
}

static void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t ivshm_pkt_checksum(const uint8_t *data, uint32_t len)
{
    return ivshm_crc32c(0, data, len);
}

/* The destination a forwarder writes on queue `queue`: 02:00:00:00:00:<queue>. */
static void write_dst_mac(uint8_t *eth, uint8_t queue)
{
    eth[0] = 0x02;
    eth[1] = eth[2] = eth[3] = eth[4] = 0;
    eth[5] = queue;
}

/* The checksummed part of a frame: from the sequence number to the sum. */
static uint32_t frame_sum(const uint8_t *frame, uint32_t len)
{
    return ivshm_crc32c(0, frame + IVSHM_FRAME_SEQ_OFF,
                        len - IVSHM_FRAME_SEQ_OFF - IVSHM_FRAME_SUM_LEN);
}

void ivshm_frame_fill(uint8_t *frame, uint32_t len, uint64_t seq, const uint8_t src_mac[6])
{
    /* Constant sizes: GCC writes these inline, no libc call. */
    __builtin_memset(frame + IVSHM_FRAME_DST_OFF, 0xff, 6);
    __builtin_memcpy(frame + IVSHM_FRAME_SRC_OFF, src_mac, 6);
    frame[IVSHM_FRAME_TYPE_OFF] = IVSHM_PKT_ETHERTYPE >> 8;
    frame[IVSHM_FRAME_TYPE_OFF + 1] = IVSHM_PKT_ETHERTYPE & 0xff;
    store_le64(frame + IVSHM_FRAME_SEQ_OFF, seq);
    /* The payload: 64-bit words (seq + 1 + k) * IVSHM_FRAME_WORD_STEP, k =
     * 0, 1, ..., little-endian, the last one cut at the checksum. Whole
     * words, then the tail in 4, 2 and 1 bytes: a handful of stores. */
    uint8_t *p = frame + IVSHM_FRAME_PAYLOAD_OFF;
    uint8_t *const end = frame + len - IVSHM_FRAME_SUM_LEN;
    uint64_t word = (seq + 1) * IVSHM_FRAME_WORD_STEP;
    for (; end - p >= 8; p += 8, word += IVSHM_FRAME_WORD_STEP)
        store_le64(p, word);
    if ((end - p) & 4) {
        store_le32(p, (uint32_t)word);
        p += 4;
        word >>= 32;
    }
    if ((end - p) & 2) {
        p[0] = (uint8_t)word;
        p[1] = (uint8_t)(word >> 8);
        p += 2;
        word >>= 16;
    }
    if (end - p)
        p[0] = (uint8_t)word;
    /* Read back at once: store-to-load forwarding, no cache miss. */
    store_le32(end, frame_sum(frame, len));
}

bool ivshm_frame_check(const uint8_t *frame, uint32_t len, uint8_t dst_last, uint64_t *seq)
{
    if (len < IVSHM_PKT_MIN_FRAME)
        return false;
    uint8_t want[6];
    write_dst_mac(want, dst_last);
    if (__builtin_memcmp(frame + IVSHM_FRAME_DST_OFF, want, 6) != 0)
        return false;
    if (load_le32(frame + len - IVSHM_FRAME_SUM_LEN) != frame_sum(frame, len))
        return false;
    *seq = load_le64(frame + IVSHM_FRAME_SEQ_OFF);
    return true;
}

/* ---- modes ---- */

/* The index of `name` in names[0..n), or -1. */
static int name_index(const char *const *names, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (__builtin_strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

static const char *const mac_mode_names[] = {"rewrite", "keep"};
_Static_assert(IVSHM_FWD_MAC_REWRITE == 0 && IVSHM_FWD_MAC_KEEP == 1, "one name per mode above");

const char *ivshm_fwd_mac_mode_name(enum ivshm_fwd_mac_mode mode)
{
    return (unsigned)mode < 2 ? mac_mode_names[mode] : NULL;
}

int ivshm_fwd_mac_mode_parse(const char *name, enum ivshm_fwd_mac_mode *mode,
                             struct ivshm_error *err)
{
    int i = name_index(mac_mode_names, 2, name);
    if (i < 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "mac mode '%s': not rewrite or keep", name);
    *mode = (enum ivshm_fwd_mac_mode)i;
    return IVSHM_OK;
}

static const char *const mode_names[] = {"auto", "poll", "adaptive"};
_Static_assert(IVSHM_FWD_MODE_AUTO == 0 && IVSHM_FWD_MODE_POLL == 1 && IVSHM_FWD_MODE_ADAPTIVE == 2,
               "one name per mode above");

const char *ivshm_fwd_mode_name(enum ivshm_fwd_mode mode)
{
    return (unsigned)mode < 3 ? mode_names[mode] : NULL;
}

int ivshm_fwd_mode_parse(const char *name, enum ivshm_fwd_mode *mode, struct ivshm_error *err)
{
    int i = name_index(mode_names, 3, name);
    if (i < 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "mode '%s': not poll or adaptive", name);
    *mode = (enum ivshm_fwd_mode)i;
    return IVSHM_OK;
}

/* ---- finding the objects ---- */

/* Splits "SEG/NAME" (or "NAME": seg = NULL) into seg and name buffers. */
static int split_path(const char *path, char seg[IVSHM_NAME_SIZE], const char **name, bool *has_seg,
                      struct ivshm_error *err)
{
    const char *slash = path;
    while (*slash && *slash != '/')
        slash++;
    *has_seg = *slash == '/';
    if (!*has_seg) {
        *name = path;
        return IVSHM_OK;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0 || n >= IVSHM_NAME_SIZE)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: not SEG/NAME with a valid SEG", path);
    for (size_t i = 0; i < n; i++)
        seg[i] = path[i];
    seg[n] = '\0';
    *name = slash + 1;
    return IVSHM_OK;
}

/* The view of the segment `path` names and the object's name in it; the
 * resolved "SEG/NAME" goes to out (for messages). */
static int resolve(const struct ivshm_fwd_resolver *r, const char *path,
                   const struct ivshm_segment_view **view, const char **name,
                   char out[2 * IVSHM_NAME_SIZE], struct ivshm_error *err)
{
    char seg[IVSHM_NAME_SIZE];
    bool has_seg;
    int rc = split_path(path, seg, name, &has_seg, err);
    if (rc == IVSHM_OK)
        rc = r->segment(r->ctx, has_seg ? seg : NULL, view, err);
    if (rc == IVSHM_OK)
        ivshm_format(out, 2 * IVSHM_NAME_SIZE, "%s/%s", (*view)->name, *name);
    return rc;
}

static int open_ctrl(struct ivshm_fwd *fwd, const struct ivshm_fwd_resolver *r, const char *path,
                     const struct ivshm_segment_view **view, struct ivshm_error *err)
{
    const char *name;
    void *addr;
    uint64_t len;
    int rc = resolve(r, path, view, &name, fwd->ctrl_path, err);
    if (rc == IVSHM_OK)
        rc = ivshm_memzone_lookup(*view, name, &addr, &len, err);
    if (rc)
        return rc;
    if (len < sizeof(struct ivshm_fwd_ctrl))
        return ivshm_fail(err, IVSHM_E_TOOBIG,
                          "%s: %llu bytes, smaller than the %u-byte control block", fwd->ctrl_path,
                          (unsigned long long)len, (unsigned)sizeof(struct ivshm_fwd_ctrl));
    fwd->ctrl = addr;
    return IVSHM_OK;
}

static int open_ring(const struct ivshm_fwd_resolver *r, const char *path, struct ivshm_ring *ring,
                     char out[2 * IVSHM_NAME_SIZE], const struct ivshm_segment_view **view,
                     struct ivshm_error *err)
{
    const char *name;
    int rc = resolve(r, path, view, &name, out, err);
    return rc ? rc : ivshm_ring_lookup(*view, name, ring, err);
}

/* The segments each ring pair lies in, for the doorbells. */
struct pair_views {
    const struct ivshm_segment_view *rx[IVSHM_FWD_MAX_QUEUES];
    const struct ivshm_segment_view *tx[IVSHM_FWD_MAX_QUEUES];
};

/* The ring pairs: those the config names, else rxN/txN of the default
 * segment. Opens them, fills their paths, views and fwd->queues. */
static int find_pairs(struct ivshm_fwd *fwd, const struct ivshm_fwd_config *cfg,
                      const struct ivshm_fwd_resolver *r, struct pair_views *views,
                      struct ivshm_error *err)
{
    if (cfg->rx[0]) {
        if (cfg->queues < 1 || cfg->queues > IVSHM_FWD_MAX_QUEUES)
            return ivshm_fail(err, IVSHM_E_INVAL, "%u queue pairs, not in 1..%u", cfg->queues,
                              IVSHM_FWD_MAX_QUEUES);
        for (uint32_t q = 0; q < cfg->queues; q++) {
            if (!cfg->rx[q] || !cfg->tx[q])
                return ivshm_fail(err, IVSHM_E_INVAL, "queue pair %u: no %s ring", q,
                                  cfg->rx[q] ? "tx" : "rx");
            int rc = open_ring(r, cfg->rx[q], &fwd->rx[q], fwd->rx_path[q], &views->rx[q], err);
            if (rc == IVSHM_OK)
                rc = open_ring(r, cfg->tx[q], &fwd->tx[q], fwd->tx_path[q], &views->tx[q], err);
            if (rc)
                return rc;
        }
        fwd->queues = cfg->queues;
        return IVSHM_OK;
    }
    if (cfg->queues > IVSHM_FWD_MAX_QUEUES)
        return ivshm_fail(err, IVSHM_E_INVAL, "%u queue pairs, at most %u", cfg->queues,
                          IVSHM_FWD_MAX_QUEUES);
    uint32_t want = cfg->queues ? cfg->queues : IVSHM_FWD_MAX_QUEUES;
    uint32_t q = 0;
    for (; q < want; q++) {
        int rc = open_ring(r, ivshm_fwd_ring_name(IVSHM_FWD_RX, q), &fwd->rx[q], fwd->rx_path[q],
                           &views->rx[q], err);
        if (rc == IVSHM_OK)
            rc = open_ring(r, ivshm_fwd_ring_name(IVSHM_FWD_TX, q), &fwd->tx[q], fwd->tx_path[q],
                           &views->tx[q], err);
        if (rc == IVSHM_E_NOENT && cfg->queues == 0 && q > 0)
            break; /* every pair there is */
        if (rc)
            return rc;
    }
    fwd->queues = q;
    return IVSHM_OK;
}

/* The segment ctrl and the pool default to: that of the first rx ring. */
static int default_segment(const struct ivshm_fwd_config *cfg, const struct ivshm_fwd_resolver *r,
                           char seg[IVSHM_NAME_SIZE], struct ivshm_error *err)
{
    const char *name;
    bool has_seg = false;
    if (cfg->rx[0]) {
        int rc = split_path(cfg->rx[0], seg, &name, &has_seg, err);
        if (rc)
            return rc;
    }
    if (!has_seg) {
        const struct ivshm_segment_view *view;
        int rc = r->segment(r->ctx, NULL, &view, err);
        if (rc)
            return rc;
        for (unsigned i = 0; i < IVSHM_NAME_SIZE; i++)
            seg[i] = view->name[i];
    }
    return IVSHM_OK;
}

/* A forwarder that starts carries on from the shared counters (they count
 * across restarts), but holds nothing: whatever its predecessor held when
 * it died (received - sent - dropped) counts as dropped, so the host sees
 * received = sent + dropped again (docs/abi.md 4.1). Those buffers are still
 * marked as their sender's and come back with its others (reclaim, repair).
 * Counters a peer left with sent above received restart at received = sent. */
static void carry_on(struct ivshm_fwd_port *port, struct ivshm_fwd_counters *counters)
{
    uint64_t received = atomic_load_explicit(&counters->received, memory_order_relaxed);
    uint64_t sent = atomic_load_explicit(&counters->sent, memory_order_relaxed);
    if (sent > received)
        received = sent;
    port->received = received;
    port->sent = sent;
    port->dropped = received - sent;
    /* Now, not at the first frame: a host may be waiting for us to hold
     * nothing. */
    atomic_store_explicit(&counters->received, received, memory_order_relaxed);
    atomic_store_explicit(&counters->dropped, port->dropped, memory_order_relaxed);
}

/* Our doorbell in the segment of view (*id, *bell); false when it has none. */
static bool bell_of(const struct ivshm_fwd *fwd, const struct ivshm_segment_view *view,
                    uint16_t *id, void **bell)
{
    return fwd->doorbells.lookup && fwd->doorbells.lookup(fwd->doorbells.ctx, view, id, bell);
}

/* Looks the doorbells up and settles the mode (AUTO: ADAPTIVE when ctrl's
 * and every rx ring's segment has one). */
static int bind_doorbells(struct ivshm_fwd *fwd, const struct ivshm_fwd_config *cfg,
                          const struct ivshm_segment_view *ctrl_view,
                          const struct pair_views *views, struct ivshm_error *err)
{
    uint16_t id;
    void *bell;
    const char *missing = NULL;
    fwd->ctrl_id = bell_of(fwd, ctrl_view, &id, &bell) ? id : -1;
    if (fwd->ctrl_id < 0)
        missing = fwd->ctrl_path;
    for (uint32_t q = 0; q < fwd->queues; q++) {
        struct ivshm_fwd_port *port = &fwd->port[q];
        if (bell_of(fwd, views->rx[q], &id, &bell))
            port->rx_id = id;
        else if (!missing)
            missing = fwd->rx_path[q];
        port->ring = bell_of(fwd, views->tx[q], &id, &port->tx_bell) ? fwd->doorbells.ring : NULL;
    }
    fwd->mode = cfg->mode;
    if (fwd->mode == IVSHM_FWD_MODE_AUTO)
        fwd->mode = missing ? IVSHM_FWD_MODE_POLL : IVSHM_FWD_MODE_ADAPTIVE;
    if (fwd->mode == IVSHM_FWD_MODE_ADAPTIVE && missing)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "adaptive mode: %s lies in a segment without a doorbell", missing);
    if (fwd->mode == IVSHM_FWD_MODE_ADAPTIVE && !fwd->doorbells.wait)
        return ivshm_fail(err, IVSHM_E_INVAL, "adaptive mode: no way to wait for a doorbell");
    return IVSHM_OK;
}

int ivshm_fwd_open(struct ivshm_fwd *fwd, const struct ivshm_fwd_config *cfg,
                   const struct ivshm_fwd_resolver *resolve_fn, struct ivshm_error *err)
{
    fwd->ctrl = NULL;
    fwd->queues = 0;
    fwd->burst = cfg->burst ? cfg->burst : IVSHM_FWD_BURST_DEFAULT;
    fwd->now_ns = cfg->now_ns;
    fwd->pool_path[0] = fwd->ctrl_path[0] = '\0';
    fwd->mode = IVSHM_FWD_MODE_POLL;
    fwd->idle_ns = cfg->idle_ns ? cfg->idle_ns : IVSHM_FWD_IDLE_NS;
    fwd->sleep_ns = cfg->sleep_ns ? cfg->sleep_ns : IVSHM_FWD_SLEEP_NS;
    fwd->doorbells = cfg->doorbells ? *cfg->doorbells : (struct ivshm_fwd_doorbells){0};
    fwd->ctrl_id = -1;
    if (!ivshm_fwd_mode_name(cfg->mode))
        return ivshm_fail(err, IVSHM_E_INVAL, "mode %u: not auto (0), poll (1) or adaptive (2)",
                          (unsigned)cfg->mode);
    if (fwd->burst > IVSHM_BURST_MAX)
        return ivshm_fail(err, IVSHM_E_INVAL, "burst %u: not in 1..%u", fwd->burst,
                          IVSHM_BURST_MAX);
    if (!fwd->now_ns)
        return ivshm_fail(err, IVSHM_E_INVAL, "forwarder: no clock for the drain policy");
    if (!ivshm_fwd_mac_mode_name(cfg->mac_mode))
        return ivshm_fail(err, IVSHM_E_INVAL, "mac mode %u: not rewrite (%u) or keep (%u)",
                          (unsigned)cfg->mac_mode, IVSHM_FWD_MAC_REWRITE, IVSHM_FWD_MAC_KEEP);
    /* ctrl first, so that any later failure can be reported there. */
    char seg[IVSHM_NAME_SIZE], path[2 * IVSHM_NAME_SIZE];
    int rc = default_segment(cfg, resolve_fn, seg, err);
    if (rc)
        return rc;
    if (!cfg->ctrl)
        ivshm_format(path, sizeof(path), "%s/%s", seg, IVSHM_FWD_CTRL);
    const struct ivshm_segment_view *ctrl_view;
    rc = open_ctrl(fwd, resolve_fn, cfg->ctrl ? cfg->ctrl : path, &ctrl_view, err);
    if (rc)
        return rc;
    struct pair_views views;
    const struct ivshm_segment_view *view;
    const char *name;
    if (!cfg->pool)
        ivshm_format(path, sizeof(path), "%s/%s", seg, IVSHM_FWD_POOL);
    rc = resolve(resolve_fn, cfg->pool ? cfg->pool : path, &view, &name, fwd->pool_path, err);
    if (rc == IVSHM_OK)
        rc = ivshm_mempool_lookup(view, name, &fwd->pool, err);
    if (rc == IVSHM_OK)
        rc = find_pairs(fwd, cfg, resolve_fn, &views, err);
    if (rc)
        return rc;
    for (unsigned i = 0; i < 6; i++)
        fwd->ctrl->mac[i] = cfg->mac[i];
    for (uint32_t q = 0; q < fwd->queues; q++) {
        struct ivshm_fwd_port *port = &fwd->port[q];
        struct ivshm_fwd_counters *counters = &fwd->ctrl->q[q];
        port->rx = &fwd->rx[q];
        port->tx = &fwd->tx[q];
        port->pool = &fwd->pool;
        port->counters = counters;
        for (unsigned i = 0; i < 6; i++)
            port->src_mac[i] = cfg->mac[i];
        port->dst_last = (uint8_t)q;
        port->mac_mode = (uint8_t)cfg->mac_mode;
        port->burst = fwd->burst;
        port->pending_len = port->pending_at = 0;
        carry_on(port, counters);
        port->sleeps = atomic_load_explicit(&counters->sleeps, memory_order_relaxed);
        port->wakeups = atomic_load_explicit(&counters->wakeups, memory_order_relaxed);
        port->rings = atomic_load_explicit(&counters->rings, memory_order_relaxed);
        port->ring = NULL;
        port->tx_bell = NULL;
        port->rx_id = 0;
    }
    return bind_doorbells(fwd, cfg, ctrl_view, &views, err);
}

void ivshm_fwd_fail(struct ivshm_fwd *fwd, const char *reason)
{
    if (!fwd->ctrl)
        return;
    ivshm_format(fwd->ctrl->reason, sizeof(fwd->ctrl->reason), "%s", reason);
    atomic_store_explicit(&fwd->ctrl->state, IVSHM_FWD_FAIL, memory_order_release);
}

/* ---- forwarding ---- */

/* Whether the frame behind `handle` may be forwarded: the handle is one of
 * the pool's objects and the frame lies inside it (both MAC modes check
 * this). In mode REWRITE, writes `addresses` (destination and source, 12
 * bytes) over its Ethernet header. The header fields are read once: a peer
 * may change them at any time. */
static bool pass_frame(const struct ivshm_fwd_port *port, uint64_t handle,
                       const uint8_t addresses[12])
{
    const struct ivshm_mempool *pool = port->pool;
    if (ivshm_mempool_index(pool, handle) == UINT32_MAX)
        return false;
    uint8_t *obj = ivshm_mempool_ptr(pool, handle);
    volatile struct ivshm_pkt *pkt = (volatile struct ivshm_pkt *)obj;
    uint32_t off = pkt->data_off;
    uint32_t len = pkt->data_len;
    if (off < sizeof(struct ivshm_pkt) || len < IVSHM_ETH_HLEN || off > pool->obj_size ||
        len > pool->obj_size - off)
        return false;
    if (port->mac_mode == IVSHM_FWD_MAC_KEEP)
        return true;
    /* A constant size: one 8-byte and one 4-byte store. */
    __builtin_memcpy(obj + off + IVSHM_FRAME_DST_OFF, addresses, 12);
    return true;
}

/* A consumer sleeping on tx asked to be rung (notify.h): ring it, once. */
static void wake_tx_consumer(struct ivshm_fwd_port *port)
{
    uint32_t w = ivshm_ring_wake_needed(port->tx, IVSHM_WAKE_CONSUMER);
    if (IVSHM_UNLIKELY(w)) {
        port->ring(port->tx_bell, ivshm_wake_peer(w), ivshm_wake_vector(w));
        atomic_store_explicit(&port->counters->rings, ++port->rings, memory_order_relaxed);
    }
}

/* After a poll that moved something: the counters, and the doorbell of a
 * consumer that sleeps on tx (checked only when entries went to tx: the
 * exchange comes after their tail store, as notify.h requires). */
static void publish(struct ivshm_fwd_port *port, uint32_t moved)
{
    /* Relaxed: counters are statistics; the host reads them only to report
     * and to see that the forwarder holds nothing back. */
    atomic_store_explicit(&port->counters->received, port->received, memory_order_relaxed);
    atomic_store_explicit(&port->counters->sent, port->sent, memory_order_relaxed);
    atomic_store_explicit(&port->counters->dropped, port->dropped, memory_order_relaxed);
    if (moved && port->ring)
        wake_tx_consumer(port);
}

uint32_t ivshm_fwd_poll(struct ivshm_fwd_port *port)
{
    uint32_t moved = 0;
    if (port->pending_at < port->pending_len) {
        uint32_t n = ivshm_ring_enqueue_burst(port->tx, &port->pending[port->pending_at],
                                              port->pending_len - port->pending_at, NULL);
        port->pending_at += n;
        port->sent += n;
        moved = n;
        if (port->pending_at < port->pending_len) {
            if (n)
                publish(port, n);
            return moved;
        }
        port->pending_at = port->pending_len = 0;
    }

    uint64_t burst[IVSHM_BURST_MAX];
    uint32_t n = ivshm_ring_dequeue_burst(port->rx, burst, port->burst, NULL);
    if (n == 0) {
        if (moved)
            publish(port, moved);
        return moved;
    }
    port->received += n;
    /* The new addresses, once a burst: the frames' bytes may alias the
     * port's, so the compiler would read these again for every frame. */
    uint8_t addresses[12];
    write_dst_mac(addresses + IVSHM_FRAME_DST_OFF, port->dst_last);
    for (int i = 0; i < 6; i++)
        addresses[IVSHM_FRAME_SRC_OFF + i] = port->src_mac[i];
    uint32_t good = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (IVSHM_LIKELY(pass_frame(port, burst[i], addresses)))
            burst[good++] = burst[i];
        else
            port->dropped++;
    }
    uint32_t sent = ivshm_ring_enqueue_burst(port->tx, burst, good, NULL);
    port->sent += sent;
    moved += sent;
    for (uint32_t i = sent; i < good; i++)
        port->pending[port->pending_len++] = burst[i];
    publish(port, moved);
    return moved;
}

/* After EXIT: forwards what the ports still hold until it is all in tx, or
 * nothing has moved for IVSHM_FWD_DRAIN_NS (the clock is read every
 * IVSHM_FWD_HEARTBEAT_POLLS idle rounds). Returns what is left. */
static uint32_t drain(struct ivshm_fwd *fwd)
{
    uint64_t idle_since = 0;
    uint32_t idle = 0;
    for (;;) {
        uint32_t held = 0, moved = 0;
        for (uint32_t i = 0; i < fwd->queues; i++) {
            moved += ivshm_fwd_poll(&fwd->port[i]);
            held += ivshm_fwd_pending(&fwd->port[i]);
        }
        if (held == 0 && moved == 0)
            return 0;
        if (moved) {
            idle = 0;
            continue;
        }
        if (idle++ % IVSHM_FWD_HEARTBEAT_POLLS == 0) {
            uint64_t now = fwd->now_ns();
            if (idle == 1)
                idle_since = now;
            else if (now - idle_since >= IVSHM_FWD_DRAIN_NS)
                return held;
        }
    }
}

/*
 * PAUSE: a host repairs the segment (docs/abi.md 4.1). Stops touching rings
 * and buffers: what the ports hold (frames tx refused) is abandoned and
 * counted as dropped (the repair takes the buffers back), the counters are
 * published and PAUSED answers, with release (again each time it finds
 * PAUSE). Then it only beats the heart until the host moves the state on:
 * READY or FWD (resume: the rings' indices were rewritten, their private
 * copies are re-read, the queue count is published again), or EXIT
 * (returns true). Any other value, a peer's garbage included, keeps it
 * paused: a repair may be rewriting the rings.
 */
/* What a host reads in ctrl before it trusts us: the queue count, and
 * where to ring us when it changes state (0: we never sleep). Written at the
 * start and again on resuming after PAUSE, in case a peer wrote over them. */
static void publish_ctrl(struct ivshm_fwd *fwd)
{
    const bool adaptive = fwd->mode == IVSHM_FWD_MODE_ADAPTIVE;
    fwd->ctrl->queues = fwd->queues;
    atomic_store_explicit(&fwd->ctrl->doorbell,
                          adaptive && fwd->ctrl_id >= 0 ? (uint16_t)(fwd->ctrl_id + 1) : 0,
                          memory_order_relaxed);
}

static bool pause_for_repair(struct ivshm_fwd *fwd, uint64_t *beat)
{
    struct ivshm_fwd_ctrl *ctrl = fwd->ctrl;
    for (uint32_t i = 0; i < fwd->queues; i++) {
        struct ivshm_fwd_port *port = &fwd->port[i];
        port->dropped += ivshm_fwd_pending(port);
        port->pending_len = port->pending_at = 0;
        publish(port, 0);
    }
    for (uint32_t st = IVSHM_FWD_PAUSE;;
         st = atomic_load_explicit(&ctrl->state, memory_order_acquire)) {
        if (st == IVSHM_FWD_EXIT)
            return true;
        if (st == IVSHM_FWD_READY || st == IVSHM_FWD_FWD)
            break;
        /* Answered again whenever PAUSE is there: a host that came after a
         * peer's garbage replaced our first PAUSED asks anew. */
        if (st == IVSHM_FWD_PAUSE)
            atomic_compare_exchange_strong_explicit(&ctrl->state, &st, IVSHM_FWD_PAUSED,
                                                    memory_order_release, memory_order_relaxed);
        for (uint32_t i = 0; i < IVSHM_FWD_HEARTBEAT_POLLS; i++)
            ivshm__cpu_relax();
        atomic_store_explicit(&ctrl->heartbeat, ++*beat, memory_order_relaxed);
    }
    for (uint32_t i = 0; i < fwd->queues; i++) {
        ivshm_ring_resync(fwd->port[i].rx);
        ivshm_ring_resync(fwd->port[i].tx);
    }
    publish_ctrl(fwd);
    return false;
}

static bool pause_requested(const struct ivshm_fwd_ctrl *ctrl)
{
    return atomic_load_explicit(&ctrl->state, memory_order_acquire) == IVSHM_FWD_PAUSE;
}

static bool exit_requested(const struct ivshm_fwd_ctrl *ctrl)
{
    return atomic_load_explicit(&ctrl->state, memory_order_acquire) == IVSHM_FWD_EXIT;
}

/*
 * Adaptive mode, after an idle spell: asks every rx ring's producer to ring
 * us (the wake request, notify.h), sleeps until a doorbell or sleep_ns, and
 * withdraws the requests. Does not sleep while a port holds frames that tx
 * refused (the host empties tx: keep polling), when frames arrived while
 * arming, or when the host has set EXIT meanwhile.
 */
static void fwd_sleep(struct ivshm_fwd *fwd)
{
    for (uint32_t q = 0; q < fwd->queues; q++)
        if (ivshm_fwd_pending(&fwd->port[q]))
            return;
    uint32_t armed = 0;
    bool work = false;
    for (; armed < fwd->queues && !work; armed++) {
        struct ivshm_fwd_port *port = &fwd->port[armed];
        work =
            !ivshm_ring_arm_wake(port->rx, IVSHM_WAKE_CONSUMER, port->rx_id, IVSHM_FWD_VECTOR, 1);
    }
    /* A host that sets EXIT rings us after its store: either we see EXIT
     * here, or its doorbell ends the wait at once. */
    bool slept = !work && !exit_requested(fwd->ctrl);
    if (slept)
        fwd->doorbells.wait(fwd->doorbells.ctx, fwd->sleep_ns);
    for (uint32_t q = 0; q < armed; q++) {
        struct ivshm_fwd_port *port = &fwd->port[q];
        /* Still there: nobody took it. Taken: the producer rang us. */
        bool untaken = ivshm_ring_disarm_wake(port->rx, IVSHM_WAKE_CONSUMER);
        if (!slept)
            continue;
        atomic_store_explicit(&port->counters->sleeps, ++port->sleeps, memory_order_relaxed);
        if (!untaken)
            atomic_store_explicit(&port->counters->wakeups, ++port->wakeups, memory_order_relaxed);
    }
}

/* Idle rounds between two readings of the clock, in adaptive mode. */
#define IDLE_CHECK_ROUNDS 16u

/* Beats the heart with *beat and looks at the state: true when the run must
 * end (EXIT, or EXIT during a repair's PAUSE). */
static bool beat_and_check(struct ivshm_fwd *fwd, uint64_t *beat)
{
    struct ivshm_fwd_ctrl *ctrl = fwd->ctrl;
    atomic_store_explicit(&ctrl->heartbeat, *beat, memory_order_relaxed);
    if (exit_requested(ctrl))
        return true;
    return pause_requested(ctrl) && pause_for_repair(fwd, beat);
}

uint32_t ivshm_fwd_run(struct ivshm_fwd *fwd)
{
    struct ivshm_fwd_ctrl *ctrl = fwd->ctrl;
    const bool adaptive = fwd->mode == IVSHM_FWD_MODE_ADAPTIVE;
    publish_ctrl(fwd);
    uint32_t state = atomic_load_explicit(&ctrl->state, memory_order_acquire);
    if (state != IVSHM_FWD_FWD) {
        /* Release: queues, mac and doorbell are visible with READY. */
        atomic_store_explicit(&ctrl->state, IVSHM_FWD_READY, memory_order_release);
    }
    uint64_t beat = atomic_load_explicit(&ctrl->heartbeat, memory_order_relaxed);
    uint32_t idle = 0;
    uint64_t idle_since = 0;
    for (;;) {
        uint32_t moved = 0;
        for (uint32_t i = 0; i < fwd->queues; i++)
            moved += ivshm_fwd_poll(&fwd->port[i]);
        /* Check the state and beat the heart every few rounds only: both touch
         * a line the host reads, and the ring lines matter more. */
        if ((++beat % IVSHM_FWD_HEARTBEAT_POLLS) == 0 && beat_and_check(fwd, &beat))
            break;
        /* Adaptive mode: the fast path costs the test of moved; an idle
         * round reads the clock every IDLE_CHECK_ROUNDS. */
        if (moved) {
            idle = 0;
            continue;
        }
        if (!adaptive || ++idle % IDLE_CHECK_ROUNDS != 0)
            continue;
        uint64_t now = fwd->now_ns();
        if (idle == IDLE_CHECK_ROUNDS)
            idle_since = now;
        if (now - idle_since < fwd->idle_ns)
            continue;
        fwd_sleep(fwd);
        idle = 0;
        /* Alive after a sleep too; and a host that rang us with EXIT is
         * answered now, not some rounds later. A repair's PAUSE does not
         * ring: it is seen here, at the latest a sleep (sleep_ns) after. */
        ++beat;
        if (beat_and_check(fwd, &beat))
            break;
    }
    uint32_t held = drain(fwd);
    atomic_store_explicit(&ctrl->heartbeat, beat + 1, memory_order_relaxed);
    /* Release: the final counters are visible with DONE. */
    atomic_store_explicit(&ctrl->state, IVSHM_FWD_DONE, memory_order_release);
    return held;
}
