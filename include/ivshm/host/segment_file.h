/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment files on the host: create, attach, look up, list, destroy.
 *
 * A segment named NAME is the file DIR/ivshm-NAME. DIR is, in this order: the
 * directory the caller passes, the environment variable IVSHM_DIR, the first
 * hugetlbfs mount listed in /proc/mounts, or /dev/shm (4 KiB pages).
 *
 * The layout itself (header, directory, objects) is written by the shared
 * builder in include/ivshm/segment.h; this library only manages the file: its
 * size, the hugepage accounting, NUMA binding, and publishing it atomically.
 *
 * Every function returns IVSHM_OK or a negative ivshm_status code and, when
 * err is not NULL, fills it with one line naming the value and the reason.
 *
 * Typical host process:
 *     struct ivshm_segment seg;
 *     struct ivshm_error err;
 *     if (ivshm_segment_attach(NULL, "t1", IVSHM_ATTACH_CLAIM, "pktgen", &seg, &err))
 *         die(err.msg);
 *     struct ivshm_ring rx;
 *     ivshm_segment_ring(&seg, "rx", &rx, &err);
 *     ...
 *     ivshm_segment_detach(&seg);
 */
#ifndef IVSHM_HOST_SEGMENT_FILE_H
#define IVSHM_HOST_SEGMENT_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "../mempool.h"
#include "../ring.h"
#include "../segment.h"
#include "../status.h"

#define IVSHM_FILE_PREFIX "ivshm-" /* DIR/ivshm-NAME */
#define IVSHM_ENV_DIR     "IVSHM_DIR"
#define IVSHM_SHM_DIR     "/dev/shm"

/* One object to place in a new segment. Fill `type`, `name` and the fields of
 * that type; the others are ignored. */
struct ivshm_object_spec {
    uint32_t type;    /* IVSHM_OBJ_RING, IVSHM_OBJ_MEMPOOL or IVSHM_OBJ_MEMZONE */
    const char *name; /* [A-Za-z0-9_-]{1,31} */
    /* ring */
    uint32_t slots; /* power of two */
    uint32_t mode;  /* IVSHM_RING_SPSC or IVSHM_RING_MPMC */
    /* mempool */
    uint32_t count;    /* objects */
    uint32_t obj_size; /* bytes per object */
    uint32_t cache;    /* suggested per-party cache (0..IVSHM_MEMPOOL_CACHE_MAX); see below */
    /* memzone */
    uint64_t size;  /* bytes */
    uint32_t align; /* power of two; 0 or < 64 means 64 */
};
/* About `cache`: caches are private to each party (never in the segment), so
 * the value is only range-checked and not stored: ABI v1 has no field for it.
 * Each party chooses its own cache size when it attaches. */

/* What to create. Zero-initialise, then set at least name, size and objects. */
struct ivshm_create_opts {
    const char *name;        /* segment name, [A-Za-z0-9_-]{1,31} */
    const char *dir;         /* NULL: IVSHM_DIR, hugetlbfs, /dev/shm (see top) */
    uint64_t size;           /* requested bytes; rounded up to a power of two and a page */
    int numa_node;           /* -1: no binding; else bind the memory to this node */
    uint32_t dir_capacity;   /* directory entries; 0 or < object_count: object_count */
    uint32_t party_capacity; /* 0: IVSHM_DEFAULT_PARTIES */
    const struct ivshm_object_spec *objects;
    uint32_t object_count;
};

/* What ivshm_segment_create did. */
struct ivshm_create_result {
    char path[PATH_MAX]; /* the published file */
    uint64_t size;       /* segment size after rounding */
    uint64_t page_size;  /* of the directory's filesystem */
    bool shm_fallback;   /* no hugetlbfs was found: DIR is /dev/shm, 4 KiB pages */
    bool bad_arguments;  /* on failure: the arguments alone are at fault (a usage error:
                            bad name or parameter, duplicate, objects too big for the size) */
};

/*
 * Creates DIR/ivshm-NAME holding the given objects, finalized. In order:
 * checks the arguments (names, slots, sizes, duplicates), resolves DIR (must
 * be a writable directory), refuses an existing NAME, rounds the size, checks
 * that the objects fit, checks free hugepages on a hugetlbfs DIR (the error
 * says how many are needed and how many are free), checks the NUMA node, and
 * only then creates a temporary file, allocates its memory (fallocate, after
 * binding it to the node), builds the layout and publishes the file under its
 * name without replacing anything (renameat2 RENAME_NOREPLACE, else
 * link + unlink). On any error the temporary file is removed; SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT are held off while the temporary file exists, so they
 * cannot leave it behind either: one that arrives meanwhile cancels the
 * creation (IVSHM_E_SYSTEM, file removed) and is delivered on return.
 * Errors: IVSHM_E_INVAL (bad argument), IVSHM_E_NOSPC (objects do not fit, or
 * not enough hugepages or memory), IVSHM_E_EXIST (NAME exists), IVSHM_E_NOENT
 * (DIR or node missing), IVSHM_E_SYSTEM (a system call failed).
 */
int ivshm_segment_create(const struct ivshm_create_opts *opts, struct ivshm_create_result *result,
                         struct ivshm_error *err);

/* Checks everything ivshm_segment_create checks about the arguments alone
 * (no file system access): names, ring slots and modes, mempool and memzone
 * parameters, cache range, duplicates. */
int ivshm_create_opts_check(const struct ivshm_create_opts *opts, struct ivshm_error *err);

/* An attached segment. */
struct ivshm_segment {
    char path[PATH_MAX];
    int fd;
    void *base;
    uint64_t mapped_size;
    bool writable;
    struct ivshm_segment_view view; /* validated; use with segment.h, ring.h, mempool.h */
    int party;                      /* claimed party slot, or -1 */
};

/* ivshm_segment_attach flags. */
#define IVSHM_ATTACH_READONLY 0x1u /* map read-only (inspect); no party can be claimed */
#define IVSHM_ATTACH_CLAIM    0x2u /* claim a party slot as this process */

/*
 * Maps DIR/ivshm-NAME (MAP_SHARED) and validates it. With IVSHM_ATTACH_CLAIM
 * it also claims a party slot, recording this process's pid and start time
 * (from /proc/self/stat) and `label` (may be NULL); the slot index is then
 * seg->party, to pass to ivshm_mempool_attach.
 * Errors: IVSHM_E_NOENT (no such file), IVSHM_E_NOTSEG (not an ivshm
 * segment), IVSHM_E_VERSION, IVSHM_E_BADSEG, IVSHM_E_PARTIES, IVSHM_E_SYSTEM.
 */
int ivshm_segment_attach(const char *dir, const char *name, unsigned flags, const char *label,
                         struct ivshm_segment *seg, struct ivshm_error *err);

/* Same, by path. */
int ivshm_segment_attach_path(const char *path, unsigned flags, const char *label,
                              struct ivshm_segment *seg, struct ivshm_error *err);

/* Releases the party slot (if claimed), unmaps and closes. The file stays. */
void ivshm_segment_detach(struct ivshm_segment *seg);

/* Finds an object by name (type 0: any) and copies its checked entry. */
int ivshm_segment_lookup(const struct ivshm_segment *seg, const char *name, uint32_t type,
                         struct ivshm_dir_entry *entry, struct ivshm_error *err);

/* Looks up ring NAME and builds a handle for it. */
int ivshm_segment_ring(const struct ivshm_segment *seg, const char *name, struct ivshm_ring *ring,
                       struct ivshm_error *err);

/* Looks up mempool NAME and builds a handle for it, acting as the claimed
 * party (IVSHM_E_INVAL when the segment was attached without a party). */
int ivshm_segment_mempool(const struct ivshm_segment *seg, const char *name,
                          struct ivshm_mempool *mp, struct ivshm_error *err);

/* Looks up memzone NAME: its local address and length. */
int ivshm_segment_memzone(const struct ivshm_segment *seg, const char *name, void **addr,
                          uint64_t *length, struct ivshm_error *err);

/*
 * Removes DIR/ivshm-NAME. Refuses (IVSHM_E_NOTSEG, file untouched) a file
 * that does not start with the ivshm magic or is not a regular file. A segment
 * with a live host party (ivshm_party_alive) is refused with IVSHM_E_EXIST
 * unless `force`. Memory a VM or process still maps stays valid until it
 * unmaps it.
 */
int ivshm_segment_destroy(const char *dir, const char *name, bool force, struct ivshm_error *err);

/* Called by ivshm_segment_list for each DIR/ivshm-* file: name is the part
 * after the prefix; seg is NULL (and why says why) when the file could not be
 * attached. Return non-zero to stop. */
typedef int (*ivshm_list_fn)(const char *name, const char *path, const struct ivshm_segment *seg,
                             const struct ivshm_error *why, void *ctx);

/* Calls fn for each segment file of DIR, in name order (read-only attach). */
int ivshm_segment_list(const char *dir, ivshm_list_fn fn, void *ctx, struct ivshm_error *err);

/*
 * Resolves the directory: `dir` if not NULL, else $IVSHM_DIR, else the first
 * hugetlbfs mount in /proc/mounts, else /dev/shm (*fallback set true). Writes
 * it to out (size bytes). Does not check that it exists.
 */
int ivshm_dir_resolve(const char *dir, char *out, size_t size, bool *fallback,
                      struct ivshm_error *err);

/* Same, reading the mount table from `mounts` (e.g. "/proc/mounts"); for tests. */
int ivshm_dir_resolve_from(const char *dir, const char *mounts, char *out, size_t size,
                           bool *fallback, struct ivshm_error *err);

/* Builds DIR/ivshm-NAME into out after checking NAME. */
int ivshm_segment_path(const char *dir, const char *name, char *out, size_t size,
                       struct ivshm_error *err);

#endif
