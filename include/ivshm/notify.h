/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sleeping on a ring: the wake request (docs/abi.md, 3.1.1).
 *
 * A party that finds nothing to do on a ring may sleep on a doorbell instead
 * of polling, and the other side rings that doorbell when it publishes. Each
 * ring side holds one 32-bit wake word (struct ivshm_ring_side.wake) written
 * by the *other* side's sleeper:
 *
 *   prod.wake   a consumer waiting for entries; the producer checks it after
 *               every enqueue (it sits on the producer's own cache line)
 *   cons.wake   a producer waiting for room; the consumer checks it after
 *               every dequeue
 *
 *   bits 0..14  vector to ring            (IVSHM_WAKE_VECTOR_MAX)
 *   bit  15     armed                     (IVSHM_WAKE_ARMED)
 *   bits 16..31 doorbell peer ID to ring  (the sleeper's own ID)
 *
 * so `word & ~IVSHM_WAKE_ARMED` is exactly what an ivshmem-doorbell device's
 * Doorbell register takes. Zero means nobody sleeps.
 *
 * Sleeper (a consumer that found the ring empty):
 *
 *     if (ivshm_ring_arm_wake(&rx, IVSHM_WAKE_CONSUMER, my_id, my_vector, 1))
 *         wait_for_the_doorbell(timeout);      // eventfd / guest_irq_wait
 *     ivshm_ring_disarm_wake(&rx, IVSHM_WAKE_CONSUMER);
 *     // poll the ring again
 *
 * Waker (the producer), after an enqueue that moved entries:
 *
 *     uint32_t w = ivshm_ring_wake_needed(&rx, IVSHM_WAKE_CONSUMER);
 *     if (w)
 *         ring_doorbell(ivshm_wake_peer(w), ivshm_wake_vector(w));
 *
 * No lost wake-up: the sleeper stores its request by an exchange (acquire
 * and release), then re-reads the ring; the waker publishes (release store
 * of its tail), then takes the request by an exchange with 0 (acquire and
 * release). Both exchanges write the same word, so one comes first: if the
 * sleeper's, the waker's exchange returns the request and it rings; if the
 * waker's, the sleeper's exchange reads what the waker's wrote (release after
 * its tail store), so the sleeper's re-read sees the new entries and it does
 * not sleep. A plain store then a load of the other location would not do:
 * the CPU may reorder them (x86 store buffer) and both would miss. On x86
 * each exchange is one locked instruction, itself a full barrier.
 *
 * A busy ring rings nothing: the waker's check is that one exchange on a
 * word of its own cache line, which stays 0 while the sleeper has work. A
 * request is taken by the exchange, so it rings at most once however many
 * entries follow.
 *
 * One sleeper per side: the word holds one request. SP/SC sides (the fwd
 * rings) have exactly one. Several sleepers on an MP or MC side overwrite one
 * another; the one whose request was lost sleeps until its timeout. Always
 * bound a sleep by a timeout anyway: a peer may die or write garbage here,
 * and a doorbell server restart loses doorbells (docs/abi.md).
 *
 * A garbage word written by a faulty peer makes the waker ring some doorbell
 * once per garbage store; ringing an unknown peer or vector is ignored (QEMU)
 * or refused (ivshm_doorbell_ring). Nothing else reads the word.
 *
 * Freestanding: host and guest alike.
 */
#ifndef IVSHM_NOTIFY_H
#define IVSHM_NOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

#define IVSHM_WAKE_ARMED      0x8000u
#define IVSHM_WAKE_VECTOR_MAX 0x7fffu

/* Who asks to be woken. */
enum ivshm_wake_sleeper {
    IVSHM_WAKE_CONSUMER = 0, /* waits for entries; its request is prod.wake */
    IVSHM_WAKE_PRODUCER = 1, /* waits for room; its request is cons.wake */
};

/* An armed request for doorbell `peer`, `vector` (vector <= IVSHM_WAKE_VECTOR_MAX). */
static inline uint32_t ivshm_wake_word(uint16_t peer, uint16_t vector)
{
    return (uint32_t)peer << 16 | IVSHM_WAKE_ARMED | (vector & IVSHM_WAKE_VECTOR_MAX);
}

static inline uint16_t ivshm_wake_peer(uint32_t word)
{
    return (uint16_t)(word >> 16);
}

static inline uint16_t ivshm_wake_vector(uint32_t word)
{
    return (uint16_t)(word & IVSHM_WAKE_VECTOR_MAX);
}

/* The wake word of a sleeper of kind `who` on ring r. */
static inline _Atomic uint32_t *ivshm__wake_word_of(const struct ivshm_ring *r,
                                                    enum ivshm_wake_sleeper who)
{
    return who == IVSHM_WAKE_CONSUMER ? &r->shared->prod.wake : &r->shared->cons.wake;
}

/*
 * Sleeper, before it sleeps: stores the request (ring doorbell `peer`,
 * `vector`) by exchange, then re-reads the shared tails. Returns true when
 * the ring still has fewer than `want` entries (consumer) or free slots
 * (producer): sleep now, the other side will ring. Returns false when they
 * arrived meanwhile: the request is withdrawn, go back to work (a doorbell
 * may still come, once: harmless).
 */
static inline bool ivshm_ring_arm_wake(struct ivshm_ring *r, enum ivshm_wake_sleeper who,
                                       uint16_t peer, uint16_t vector, uint32_t want)
{
    _Atomic uint32_t *word = ivshm__wake_word_of(r, who);
    uint32_t request = ivshm_wake_word(peer, vector);
    /* A read-modify-write, not a store: if the waker's exchange came first,
     * this one reads its value (acquire), so the re-read below sees the tail
     * the waker published before it (release). A plain store could pass the
     * re-read's loads. */
    (void)atomic_exchange_explicit(word, request, memory_order_acq_rel);
    uint32_t have = who == IVSHM_WAKE_CONSUMER ? ivshm_ring_count(r) : ivshm_ring_free_count(r);
    if (have < want)
        return true;
    /* Withdraw our own request only (a CAS, so a newer one stays). */
    atomic_compare_exchange_strong_explicit(word, &request, 0, memory_order_relaxed,
                                            memory_order_relaxed);
    return false;
}

/*
 * Sleeper, after it woke (doorbell, timeout or anything else): withdraws the
 * request if still there. Returns true when it was still there, i.e. nobody
 * took it (the wake-up was not this ring's doorbell).
 */
static inline bool ivshm_ring_disarm_wake(struct ivshm_ring *r, enum ivshm_wake_sleeper who)
{
    _Atomic uint32_t *word = ivshm__wake_word_of(r, who);
    if (!(atomic_load_explicit(word, memory_order_relaxed) & IVSHM_WAKE_ARMED))
        return false;
    return (atomic_exchange_explicit(word, 0, memory_order_relaxed) & IVSHM_WAKE_ARMED) != 0;
}

/*
 * Waker, after an enqueue (who = IVSHM_WAKE_CONSUMER) or a dequeue
 * (IVSHM_WAKE_PRODUCER) that moved entries: takes the request (exchange with
 * 0). Returns 0 when nobody sleeps (the common case under load: one locked
 * exchange on a word of the caller's own cache line), else the request,
 * which only this waker got. Ring ivshm_wake_peer(w), ivshm_wake_vector(w).
 */
static inline uint32_t ivshm_ring_wake_needed(struct ivshm_ring *r, enum ivshm_wake_sleeper who)
{
    _Atomic uint32_t *word = ivshm__wake_word_of(r, who);
    /* Always the exchange, never a load first: a load could be satisfied
     * before our tail store is visible (store-load reordering) and miss a
     * request stored meanwhile. Release: if the sleeper's exchange comes
     * after this one, it sees our tail. */
    uint32_t request = atomic_exchange_explicit(word, 0, memory_order_acq_rel);
    return request & IVSHM_WAKE_ARMED ? request : 0;
}

/* A snapshot of the request (for inspection): 0 or an armed word. */
static inline uint32_t ivshm_ring_wake_request(const struct ivshm_ring *r,
                                               enum ivshm_wake_sleeper who)
{
    uint32_t w = atomic_load_explicit(ivshm__wake_word_of(r, who), memory_order_relaxed);
    return w & IVSHM_WAKE_ARMED ? w : 0;
}

#endif
