/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Creating a segment file (host): which objects, how big, where. (The object
 * spec alone is visible to freestanding code too.)
 *
 * Return convention: status.h.
 *
 *     static const struct ivshm_object_spec objs[] = {
 *         {.type = IVSHM_OBJ_RING, .name = "rx0", .slots = 1024},
 *         {.type = IVSHM_OBJ_MEMPOOL, .name = "pkts", .count = 4096, .obj_size = 2048},
 *     };
 *     struct ivshm_create_opts o = {.name = "t1", .size = 16 << 20, .numa_node = -1,
 *                                   .objects = objs, .object_count = 2};
 *     struct ivshm_create_result res;
 *     if (ivshm_segment_create(&o, &res, &err) != IVSHM_OK)
 *         die(err.msg);
 */
#ifndef IVSHM_BUILDER_H
#define IVSHM_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

/* One object to place in a new segment. Fill `type`, `name` and the fields of
 * that type; the others are ignored. */
struct ivshm_object_spec {
    uint32_t type;    /* enum ivshm_object_type */
    const char *name; /* [A-Za-z0-9_-]{1,31} */
    /* ring */
    uint32_t slots; /* power of two, 1..IVSHM_RING_MAX_SLOTS */
    uint32_t mode;  /* IVSHM_RING_SPSC, IVSHM_RING_MPMC, or one of the MP/MC bits */
    /* mempool */
    uint32_t count;    /* objects, 1..IVSHM_MEMPOOL_MAX_OBJ */
    uint32_t obj_size; /* bytes per object, 1..IVSHM_MEMPOOL_MAX_OBJ_SIZE */
    uint32_t cache;    /* suggested per-party cache (0..IVSHM_MEMPOOL_CACHE_MAX): not stored */
    /* memzone */
    uint64_t size;  /* bytes, >= 1 */
    uint32_t align; /* power of two up to 1 GiB; 0 or < 64 means 64 */
};
/* About `cache`: caches are private to each party (never in the segment), so
 * the value is only range-checked and not stored: ABI v1 has no field for it.
 * Each party chooses its own cache size (ivshm_mempool_cache_init). */

#if __STDC_HOSTED__

/* What to create. Zero-initialise, then set at least name, size, numa_node
 * and objects. */
struct ivshm_create_opts {
    const char *name;        /* segment name, [A-Za-z0-9_-]{1,31} */
    const char *dir;         /* NULL: IVSHM_DIR, hugetlbfs, /dev/shm (segment.h) */
    uint64_t size;           /* bytes, 1..64 TiB; rounded up to a power of two and a page */
    int numa_node;           /* -1: no binding; else bind the memory to this node */
    uint32_t dir_capacity;   /* directory entries; 0 or < object_count: object_count */
    uint32_t party_capacity; /* 0: IVSHM_DEFAULT_PARTIES */
    const struct ivshm_object_spec *objects;
    uint32_t object_count;
};

/* What ivshm_segment_create did. */
struct ivshm_create_result {
    char path[IVSHM_PATH_MAX]; /* the published file */
    uint64_t size;             /* segment size after rounding */
    uint64_t page_size;        /* of the directory's file system */
    bool shm_fallback;         /* no hugetlbfs was found: DIR is /dev/shm, 4 KiB pages */
};

/*
 * Checks the arguments alone, as ivshm_segment_create does first, without
 * touching the file system: names, sizes and capacities, every object's
 * parameters, duplicate names.
 * Errors: IVSHM_E_INVAL (the message names the value), IVSHM_E_EXIST (two
 * objects share a name).
 */
int ivshm_create_check(const struct ivshm_create_opts *opts, struct ivshm_error *err);

/*
 * Creates DIR/ivshm-NAME holding the given objects, in the order given,
 * finalized. In named steps: check the arguments (ivshm_create_check);
 * prepare the file (resolve DIR, which must be a writable directory; refuse
 * an existing NAME; round the size; check that the metadata fits, the NUMA
 * node exists and, on hugetlbfs, enough hugepages are free); place the memory
 * (a temporary file, sized, mapped, bound to the node and allocated with
 * fallocate, so a shortage is an error rather than a SIGBUS later); build the
 * layout (magic and checksum last); publish it under its name without
 * replacing anything (renameat2 RENAME_NOREPLACE, else link + unlink).
 * Nothing is left behind on any error. SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * are held off while the temporary file exists: one that arrives meanwhile
 * cancels the creation (IVSHM_E_SYSTEM, file removed) and is delivered on
 * return. result may be NULL.
 * Errors: IVSHM_E_INVAL and IVSHM_E_EXIST as ivshm_create_check;
 * IVSHM_E_TOOBIG (the objects or the metadata do not fit in the size);
 * IVSHM_E_NOSPC (not enough hugepages or memory); IVSHM_E_EXIST (NAME exists);
 * IVSHM_E_NOENT (DIR or the NUMA node missing); IVSHM_E_SYSTEM (a system
 * call failed, DIR not writable, or a signal cancelled the creation).
 */
int ivshm_segment_create(const struct ivshm_create_opts *opts, struct ivshm_create_result *result,
                         struct ivshm_error *err);

#endif /* __STDC_HOSTED__ */

#endif
