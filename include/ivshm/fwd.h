/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fwd module: l2fwd-style forwarding over ivshm rings, in one place.
 *
 *   - the preset: the objects a forwarding segment holds, and their names;
 *   - the control block (ctrl) and the packet header: ABI, docs/abi.md 4;
 *   - the test frames pktgen sends and checks;
 *   - the forwarder: ivshm_fwd_open() finds rings, pool and ctrl, and
 *     ivshm_fwd_run() forwards until the host says EXIT. The bare-metal guest
 *     (guest_rt/apps/fwd.c) and the host-only forwarder (host/fwd/ivshm_fwd.c)
 *     both run exactly this code (common/fwd.c).
 *
 * Preset `fwd` (ivshm create NAME --preset fwd[,queues=Q]), in this order:
 *   mempool "pkts"            packet buffers (struct ivshm_pkt + frame)
 *   ring    "rx0", "tx0", ... host -> forwarder (rxN), forwarder -> host (txN), SP/SC
 *   memzone "ctrl"            struct ivshm_fwd_ctrl
 *
 * Ring entries are mempool handles: offsets from the start of the segment
 * that holds the pool, which need not be the ring's segment.
 *
 * Protocol on ctrl->state:
 *   NONE  --forwarder: rings found-->  READY  --host-->  FWD  --host-->  EXIT
 *   EXIT  --forwarder: drained, counters final-->  DONE
 *   any   --forwarder: cannot go on-->  FAIL (ctrl->reason says why)
 *   READY/FWD  --host: repair-->  PAUSE  --forwarder: holds nothing-->  PAUSED
 *   PAUSED  --host: repaired-->  READY (or FWD, or EXIT)
 * The forwarder forwards in READY and FWD alike; the host sets FWD to say a
 * traffic source is attached. A host that restarts finds READY or FWD and
 * carries on; the forwarder never stops for it. PAUSE is `ivshm repair`'s
 * (docs/abi.md 4.1): the forwarder abandons what it holds (counted as
 * dropped), publishes its counters, answers PAUSED and touches no ring or
 * buffer until the host moves the state on; then it re-reads the rings'
 * indices, which the repair rewrote.
 *
 * Return convention: status.h. Freestanding C.
 */
#ifndef IVSHM_FWD_H
#define IVSHM_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "mempool.h"
#include "segment.h"

/* ---- the preset ---------------------------------------------------------- */

#define IVSHM_FWD_POOL       "pkts" /* the mempool */
#define IVSHM_FWD_CTRL       "ctrl" /* the control block */
#define IVSHM_FWD_MAX_QUEUES 16u    /* queue pairs rx0/tx0 .. rx15/tx15 */
#define IVSHM_FWD_RING_SLOTS 1024u  /* slots of each ring */
#define IVSHM_FWD_PKT_SIZE   2048u  /* bytes of each buffer */

/* Buffers: enough to fill every ring, plus a margin. */
static inline uint32_t ivshm_fwd_pool_count(uint32_t queues)
{
    return 2u * IVSHM_FWD_RING_SLOTS * queues + IVSHM_FWD_RING_SLOTS;
}

/* Directory entries the preset adds: 2 rings a queue, the pool, ctrl. */
static inline uint32_t ivshm_fwd_preset_objects(uint32_t queues)
{
    return 2u * queues + 2u;
}

enum ivshm_fwd_dir {
    IVSHM_FWD_RX = 0, /* "rx<q>": host -> forwarder */
    IVSHM_FWD_TX = 1, /* "tx<q>": forwarder -> host */
};

/* "rx<queue>" or "tx<queue>" (static text), NULL when queue is not below
 * IVSHM_FWD_MAX_QUEUES. */
const char *ivshm_fwd_ring_name(enum ivshm_fwd_dir dir, uint32_t queue);

struct ivshm_object_spec; /* builder.h */

/*
 * The objects of preset fwd with `queues` queue pairs, in order, into
 * out[0..capacity); *count gets how many (ivshm_fwd_preset_objects). The
 * names are static text. Errors: IVSHM_E_INVAL (queues not in
 * 1..IVSHM_FWD_MAX_QUEUES), IVSHM_E_NOSPC (capacity too small).
 */
int ivshm_fwd_preset(uint32_t queues, struct ivshm_object_spec *out, uint32_t capacity,
                     uint32_t *count, struct ivshm_error *err);

/* ---- bursts and the end of a run ------------------------------------------ */

#define IVSHM_BURST_MAX         64u /* entries per ring operation, for every poller */
#define IVSHM_FWD_BURST_DEFAULT 32u

/* The forwarder bumps ctrl->heartbeat, and reads ctrl->state, once every this
 * many polling rounds. */
#define IVSHM_FWD_HEARTBEAT_POLLS 64u

/* The drain policy: after EXIT the forwarder keeps moving what it holds to
 * its tx rings, and abandons it once nothing has moved for this long (nobody
 * empties tx). Time rather than a count of polls, so that it means the same
 * on the host and in a guest under TCG, which polls ten times slower. */
#define IVSHM_FWD_DRAIN_NS 1000000000ull

/* ---- ctrl: the control block (ABI) ----------------------------------------- */

enum ivshm_fwd_state {
    IVSHM_FWD_NONE = 0,
    IVSHM_FWD_READY = 1,
    IVSHM_FWD_FWD = 2,
    IVSHM_FWD_EXIT = 3,
    IVSHM_FWD_DONE = 4,
    IVSHM_FWD_FAIL = 5,
    IVSHM_FWD_PAUSE = 6,  /* host: stop touching rings and buffers (a repair) */
    IVSHM_FWD_PAUSED = 7, /* forwarder: stopped, holding nothing */
};

/* One queue pair: counters written by the forwarder only, and the traffic
 * source that drives it (docs/abi.md 4.1). */
struct ivshm_fwd_counters {
    _Atomic uint64_t received; /* dequeued from rx */
    _Atomic uint64_t sent;     /* enqueued to tx */
    _Atomic uint64_t dropped;  /* not forwarded: invalid handle or frame */
    /* +24: adaptive mode (docs/abi.md 4.1; was reserved, zero: a forwarder
     * that never sleeps leaves it 0, readers of ABI 1 ignore it), as +40, +48 */
    _Atomic uint64_t wakeups; /* sleeps rx's producer ended (it took the request, rang us) */
    /* +32: the host traffic source (pktgen, ivshm-port) driving this queue,
     * one 8-byte word changed by CAS only: bits 0..31 `source`, its party
     * index + 1 in this segment (0: none); bits 32..63 `source_attach`, the
     * low 32 bits of that party slot's attach_count when it claimed. */
    _Atomic uint64_t source;
    _Atomic uint64_t sleeps; /* +40: sleeps with a wake request on rx */
    _Atomic uint64_t rings;  /* +48: doorbells the forwarder rang for tx's consumer */
    uint8_t pad[IVSHM_CACHE_LINE - 56];
};

struct ivshm_fwd_ctrl {
    _Atomic uint32_t state;     /* enum ivshm_fwd_state */
    uint32_t queues;            /* queue pairs the forwarder serves (set before READY) */
    _Atomic uint64_t heartbeat; /* bumped by the forwarder while it polls */
    uint8_t mac[6];             /* the forwarder's port address (source MAC it writes) */
    /* The forwarder's doorbell peer ID + 1 (0: it has none and polls), set
     * before READY; a host that changes state while the forwarder may sleep
     * rings this ID, vector 0. Was pad (zero) before. docs/abi.md 4.1. */
    _Atomic uint16_t doorbell;
    char reason[40]; /* NUL-terminated, when state is FAIL */
    struct ivshm_fwd_counters q[IVSHM_FWD_MAX_QUEUES];
};

_Static_assert(sizeof(struct ivshm_fwd_counters) == IVSHM_CACHE_LINE, "one line per queue");
_Static_assert(offsetof(struct ivshm_fwd_counters, wakeups) == 24 &&
                   offsetof(struct ivshm_fwd_counters, sleeps) == 40 &&
                   offsetof(struct ivshm_fwd_counters, rings) == 48,
               "wake-up counters at 24, 40, 48 (were reserved)");
_Static_assert(offsetof(struct ivshm_fwd_counters, source) == 32, "source at +32");
_Static_assert(offsetof(struct ivshm_fwd_ctrl, doorbell) == 22, "doorbell at 22 (was pad)");
_Static_assert(offsetof(struct ivshm_fwd_ctrl, q) == IVSHM_CACHE_LINE, "counters at 64");
_Static_assert(sizeof(struct ivshm_fwd_ctrl) == 17 * IVSHM_CACHE_LINE, "ctrl is 1088 bytes");

/* ---- packet buffers (ABI) ---------------------------------------------------
 *
 * Every object of the pool starts with this header; the frame is at data_off
 * from the object start. The forwarder trusts none of it: it checks
 * data_off + data_len against the pool's object size.
 */
struct ivshm_pkt {
    uint32_t data_len; /* frame bytes */
    uint16_t data_off; /* from the object start, >= sizeof(struct ivshm_pkt) */
    uint16_t port;     /* queue it was sent on */
    uint8_t reserved[8];
};
_Static_assert(sizeof(struct ivshm_pkt) == 16, "packet header is 16 bytes");

#define IVSHM_PKT_HEADROOM 64u /* default data_off */
#define IVSHM_ETH_HLEN     14u

/* What the forwarder does to a frame's Ethernet header (its MAC mode). */
enum ivshm_fwd_mac_mode {
    /* l2fwd (the default): destination 02:00:00:00:00:<queue>, source the
     * forwarder's mac */
    IVSHM_FWD_MAC_REWRITE = 0,
    /* a wire: the frame leaves exactly as it came (ivshm-port's data path) */
    IVSHM_FWD_MAC_KEEP = 1,
};

/* "rewrite" or "keep" (static text); NULL for another value. */
const char *ivshm_fwd_mac_mode_name(enum ivshm_fwd_mac_mode mode);

/* The mode called `name` ("rewrite" or "keep") into *mode. Errors:
 * IVSHM_E_INVAL (another name: "mac mode '<name>': not rewrite or keep"). */
int ivshm_fwd_mac_mode_parse(const char *name, enum ivshm_fwd_mac_mode *mode,
                             struct ivshm_error *err);

/* ---- test frames ------------------------------------------------------------
 *
 * What pktgen sends: an Ethernet header (destination broadcast, ethertype
 * IVSHM_PKT_ETHERTYPE), a sequence number, a payload derived from it (64-bit
 * words (seq + 1 + k) * IVSHM_FRAME_WORD_STEP, k = 0, 1, ..., the last one
 * cut short), and a CRC-32C (ivshm_pkt_checksum) of everything from the
 * sequence number to the checksum. Offsets from the frame start; numbers
 * little-endian. docs/abi.md 4.2.
 */
#define IVSHM_FRAME_DST_OFF     0u
#define IVSHM_FRAME_SRC_OFF     6u
#define IVSHM_FRAME_TYPE_OFF    12u
#define IVSHM_FRAME_SEQ_OFF     IVSHM_ETH_HLEN /* u64 */
#define IVSHM_FRAME_PAYLOAD_OFF 22u
#define IVSHM_FRAME_SUM_LEN     4u                    /* u32, in the last 4 bytes */
#define IVSHM_PKT_ETHERTYPE     0x88b5u               /* IEEE local experimental */
#define IVSHM_FRAME_WORD_STEP   0x9e3779b97f4a7c15ull /* payload words: 2^64 / golden ratio */
#define IVSHM_PKT_MIN_FRAME     64u

/* The test frames' checksum: CRC-32C (Castagnoli; "123456789" gives
 * 0xE3069283) of data[0..len), on the CPU's crc32 instruction when it has
 * SSE4.2 and in portable code otherwise (same result). Detects every error
 * burst of up to 32 bits, and any changed, swapped or shifted 8-byte word. */
uint32_t ivshm_pkt_checksum(const uint8_t *data, uint32_t len);

/* Writes test frame `seq` of `len` bytes (IVSHM_PKT_MIN_FRAME or more) from
 * src_mac. */
void ivshm_frame_fill(uint8_t *frame, uint32_t len, uint64_t seq, const uint8_t src_mac[6]);

/* Whether frame (len bytes) is an intact test frame that a forwarder sent on
 * queue dst_last (destination 02:00:00:00:00:<dst_last>); *seq gets its
 * sequence number. */
bool ivshm_frame_check(const uint8_t *frame, uint32_t len, uint8_t dst_last, uint64_t *seq);

/* ---- adaptive polling --------------------------------------------------------
 *
 * A forwarder in adaptive mode polls while frames flow; after an idle spell
 * (nothing moved for idle_ns) it asks every rx ring's producer to ring its
 * doorbell (the wake request of notify.h), sleeps until a doorbell or at most
 * sleep_ns, withdraws the requests and polls again. Under load it never
 * sleeps, so nobody rings. In every mode it rings the consumer of a tx ring
 * that asked for it (a host waiting for frames), if it has a doorbell in that
 * ring's segment. docs/forwarding.md, docs/abi.md 3.1.1 and 4.1.
 */
enum ivshm_fwd_mode {
    IVSHM_FWD_MODE_AUTO = 0,     /* adaptive if ctrl's and every rx ring's segment has a
                                    doorbell, else poll */
    IVSHM_FWD_MODE_POLL = 1,     /* never sleeps */
    IVSHM_FWD_MODE_ADAPTIVE = 2, /* sleeps after an idle spell */
};

#define IVSHM_FWD_IDLE_NS  50000ull     /* default idle spell: 50 us */
#define IVSHM_FWD_SLEEP_NS 100000000ull /* default longest sleep: 100 ms */
/* The vector a forwarder waits on, for its rx rings and for ctrl. */
#define IVSHM_FWD_VECTOR 0u

/* "auto", "poll" or "adaptive" (static text); NULL for another value. */
const char *ivshm_fwd_mode_name(enum ivshm_fwd_mode mode);

/* The mode called `name` into *mode. Errors: IVSHM_E_INVAL (another name:
 * "mode '<name>': not poll or adaptive"). */
int ivshm_fwd_mode_parse(const char *name, enum ivshm_fwd_mode *mode, struct ivshm_error *err);

/* The forwarder's doorbells, from the platform: the guest's ivshmem-doorbell
 * devices, or the host's clients of `ivshm serve` (doorbell.h). */
struct ivshm_fwd_doorbells {
    /* Our doorbell in the segment of `view`: our peer ID there and a handle
     * for ring. False when that segment has none. */
    bool (*lookup)(void *ctx, const struct ivshm_segment_view *view, uint16_t *id, void **bell);
    /* Rings `vector` of `peer` through `bell`. Must cope with a peer or
     * vector that does not exist (the request was written by a peer). */
    void (*ring)(void *bell, uint16_t peer, uint16_t vector);
    /* Sleeps until one of our doorbells rings, or timeout_ns passes. */
    void (*wait)(void *ctx, uint64_t timeout_ns);
    void *ctx;
};

/* ---- the forwarder ---------------------------------------------------------- */

/* One forwarding queue pair, private to the forwarder. */
struct ivshm_fwd_port {
    struct ivshm_ring *rx;
    struct ivshm_ring *tx;
    const struct ivshm_mempool *pool;    /* where the handles point */
    struct ivshm_fwd_counters *counters; /* in ctrl, shared */
    uint8_t src_mac[6];
    uint8_t dst_last; /* destination 02:00:00:00:00:<dst_last> */
    uint8_t mac_mode; /* enum ivshm_fwd_mac_mode */
    uint32_t burst;
    /* Entries dequeued but not yet accepted by a full tx ring: retried first,
     * never dropped. */
    uint32_t pending_len;
    uint32_t pending_at;
    uint64_t received, sent, dropped; /* private copies of the counters */
    uint64_t sleeps, wakeups, rings;
    /* Doorbells: ring (NULL when tx's segment has none) and tx_bell ring a
     * consumer sleeping on tx; rx_id is our peer ID in rx's segment. */
    void (*ring)(void *bell, uint16_t peer, uint16_t vector);
    void *tx_bell;
    uint16_t rx_id;
    uint64_t pending[IVSHM_BURST_MAX];
};

/* Maps a segment name to its validated view, for ivshm_fwd_open: the guest
 * resolves its devices, the host-only forwarder the segments it attached.
 * name NULL asks for the default segment (the guest: its first valid one).
 * The view's party is the one the pool is used as. */
struct ivshm_fwd_resolver {
    int (*segment)(void *ctx, const char *name, const struct ivshm_segment_view **view,
                   struct ivshm_error *err);
    void *ctx;
};

/* Where a forwarder finds its objects. Paths are "SEG/NAME", or "NAME" in
 * the default segment. */
struct ivshm_fwd_config {
    /* Queue pairs rx[i] -> tx[i] for i < queues. With rx[0] NULL: the
     * default segment's rx0/tx0, rx1/tx1, ...: exactly `queues` pairs, or
     * with queues 0 every pair there is (at least one). */
    uint32_t queues;
    const char *rx[IVSHM_FWD_MAX_QUEUES];
    const char *tx[IVSHM_FWD_MAX_QUEUES];
    const char *pool; /* NULL: "pkts" in the segment of the first rx ring */
    const char *ctrl; /* NULL: "ctrl" in that segment */
    uint32_t burst;   /* entries per ring operation, 1..IVSHM_BURST_MAX; 0: default */
    uint8_t mac[6];   /* the forwarder's address: the source it writes */
    enum ivshm_fwd_mac_mode mac_mode; /* what it does to a frame's header; 0: REWRITE */
    uint64_t (*now_ns)(void);         /* a monotonic clock (the drain policy, idle spells) */
    enum ivshm_fwd_mode mode;
    uint64_t idle_ns;                            /* adaptive: 0: IVSHM_FWD_IDLE_NS */
    uint64_t sleep_ns;                           /* adaptive: 0: IVSHM_FWD_SLEEP_NS */
    const struct ivshm_fwd_doorbells *doorbells; /* NULL: none (mode poll) */
};

/* A forwarder. Large (ring handles are cache-line aligned): static storage.
 * It must not move after ivshm_fwd_open (its ports point into it). */
struct ivshm_fwd {
    struct ivshm_fwd_ctrl *ctrl; /* set as soon as it is found */
    struct ivshm_mempool pool;
    uint32_t queues;
    uint32_t burst;
    uint64_t (*now_ns)(void);
    enum ivshm_fwd_mode mode; /* POLL or ADAPTIVE, once open */
    uint64_t idle_ns, sleep_ns;
    struct ivshm_fwd_doorbells doorbells;
    int32_t ctrl_id; /* our peer ID in ctrl's segment; -1: none */
    struct ivshm_ring rx[IVSHM_FWD_MAX_QUEUES];
    struct ivshm_ring tx[IVSHM_FWD_MAX_QUEUES];
    struct ivshm_fwd_port port[IVSHM_FWD_MAX_QUEUES];
    /* "SEG/NAME" of each object, for messages */
    char rx_path[IVSHM_FWD_MAX_QUEUES][2 * IVSHM_NAME_SIZE];
    char tx_path[IVSHM_FWD_MAX_QUEUES][2 * IVSHM_NAME_SIZE];
    char pool_path[2 * IVSHM_NAME_SIZE];
    char ctrl_path[2 * IVSHM_NAME_SIZE];
};

/*
 * Finds ctrl, the pool and every ring pair (in that order: once ctrl is
 * found, a later failure can be reported there with ivshm_fwd_fail), sets up
 * a port per pair and writes cfg->mac into ctrl. Publishes nothing else: the state
 * moves when ivshm_fwd_run starts.
 * Resolves the mode (AUTO: ADAPTIVE when ctrl's and every rx ring's segment
 * has a doorbell) and looks up the doorbells.
 * Errors: IVSHM_E_INVAL (a path, the burst, the MAC mode, no clock, an unknown
 * mode, or mode ADAPTIVE with a segment that has no doorbell), IVSHM_E_NOENT (a
 * segment or object missing, or no ring pair at all), IVSHM_E_TOOBIG (ctrl
 * smaller than struct ivshm_fwd_ctrl), IVSHM_E_BADSEG, those of
 * ivshm_mempool_lookup (the resolver's view must hold a party), and whatever
 * the resolver returns.
 */
int ivshm_fwd_open(struct ivshm_fwd *fwd, const struct ivshm_fwd_config *cfg,
                   const struct ivshm_fwd_resolver *resolve, struct ivshm_error *err);

/* Tells the host the forwarder cannot go on: `reason` (cut to fit) into
 * ctrl->reason and state FAIL. Does nothing when ctrl was not found. */
void ivshm_fwd_fail(struct ivshm_fwd *fwd, const char *reason);

/*
 * The forwarder's main loop: publishes the queue count, its doorbell (in
 * adaptive mode) and READY (unless a host already set FWD), polls every port
 * (sleeping when idle, in adaptive mode) until the host sets EXIT (pausing
 * while a host repairs the segment: PAUSE, above), then
 * forwards what it still holds under the drain policy (IVSHM_FWD_DRAIN_NS),
 * publishes the final counters and sets DONE. Returns the number of entries
 * it had to abandon (0 on a clean exit).
 */
uint32_t ivshm_fwd_run(struct ivshm_fwd *fwd);

/*
 * One poll of one port: retries what the tx ring refused last time; when that
 * is all gone, dequeues up to a burst from rx, checks each handle and frame
 * (one of the pool's objects, the frame inside it), rewrites its Ethernet
 * header (MAC mode REWRITE; KEEP leaves every byte) and enqueues them to tx.
 * Invalid handles or frames are counted as dropped and not forwarded (they
 * cannot be freed either), in both modes. Publishes the counters. Returns the
 * number of entries moved to tx.
 */
uint32_t ivshm_fwd_poll(struct ivshm_fwd_port *port);

/* Entries this port holds (dequeued, not yet in tx). */
static inline uint32_t ivshm_fwd_pending(const struct ivshm_fwd_port *port)
{
    return port->pending_len - port->pending_at;
}

#endif
