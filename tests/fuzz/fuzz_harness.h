/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the fuzz targets share: the arena an input is mapped into, the
 * checksum fix, and the exercises that run on a segment that validates.
 *
 * An input is a segment image with its trailing zero bytes cut off (the seeds
 * are `ivshm create` files cut that way). It is copied to the start of a
 * 64 MiB zero-filled arena, and the mapped size given to validation is the
 * size the header claims when that fits the arena (so an 8 MiB fwd segment
 * is a 26 KiB input), the input's length otherwise. Everything a run writes
 * is recorded and zeroed again after it, so every run starts from the same
 * arena and a crash reproduces from its input alone. (Zeroing exactly what
 * was written matters: giving pages back to the kernel and faulting them in
 * again cost 90 % of the time here.)
 */
#ifndef IVSHM_FUZZ_HARNESS_H
#define IVSHM_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../adapter.h"

#define FZ_ARENA_SIZE (64ull << 20)

/* An invariant of the library broke: libFuzzer records the input. */
#define FZ_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

extern uint8_t *fz_arena;
extern uint64_t fz_mapped;

/* Copies the image into the arena and picks the mapped size; with
 * fix_checksum, stores the checksum the header and directory need (when
 * their geometry lets it be computed), so mutations get past that check. */
void fz_load(const uint8_t *image, size_t len, bool fix_checksum);

/* Records [off, off + len) as written; fz_reset zeroes it. */
void fz_dirty(uint64_t off, uint64_t len);
void fz_reset(void);
/* Records what operations on this object may write (ring: all of it;
 * mempool: free ring and state bytes; memzone: nothing). */
void fz_dirty_object(const struct ivshm_dir_entry *entry);

/* An error message from validating or looking up what a segment holds is
 * one line of printable text. */
void fz_check_message(const struct ivshm_error *err);

/* On a validated view: every entry by index and by name, a name that is not
 * there, each ring, mempool and memzone through its lookup and a few
 * operations (party: the mempool's user), then the party table filled and
 * released. */
void fz_exercise_view(struct ivshm_segment_view *view, int party);

/* A few ring operations, with invariants (counts within capacity). */
void fz_exercise_ring(struct ivshm_ring *r);

/* Get, put, a foreign and a double put, flush, audit, reclaim, rebuild. */
void fz_exercise_mempool(struct ivshm_mempool *mp, int party);

/* Claims every free slot, checks them, releases them. */
void fz_exercise_parties(struct ivshm_segment_view *view);

#endif
