/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segments: validation and object lookup (host and guest), and segment files
 * (host: attach, detach, destroy, list).
 *
 * Every value read from a segment is checked against the segment's bounds
 * before it is used: a damaged or hostile segment yields an ivshm_error,
 * never a fault. Return convention: status.h.
 *
 * A host process:
 *     struct ivshm_segment seg;
 *     struct ivshm_ring rx;
 *     struct ivshm_error err;
 *     if (ivshm_segment_attach(NULL, "t1", IVSHM_ATTACH_CLAIM, "pktgen", &seg, &err) ||
 *         ivshm_ring_lookup(&seg.view, "rx0", &rx, &err))
 *         die(err.msg);
 *     ...
 *     ivshm_segment_detach(&seg);
 *
 * A guest finds the same objects with guest_ring_lookup("t1/rx0", ...)
 * (guest_rt/guest.h); the runtime has validated the segment and claimed its
 * party slot.
 */
#ifndef IVSHM_SEGMENT_H
#define IVSHM_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "status.h"

/* ---- both sides --------------------------------------------------------- */

/* A validated segment, as one party sees it. Only base points into shared
 * memory (through hdr, dir, parties); the other fields are private copies
 * made by validation, so a peer rewriting the header afterwards cannot
 * enlarge them. */
struct ivshm_segment_view {
    uint8_t *base;
    uint64_t size; /* segment_size, <= the mapped size */
    struct ivshm_segment_header *hdr;
    struct ivshm_dir_entry *dir;
    struct ivshm_party *parties;
    uint32_t object_count;
    uint32_t party_capacity;
    uint64_t data_offset;
    uint64_t generation;
    char name[IVSHM_NAME_SIZE];
    /* Our slot in the party table (0..63), -1 when none was claimed. Set by
     * a host attach with IVSHM_ATTACH_CLAIM, and by the guest runtime for
     * every segment it attaches; mempools act as this party. */
    int party;
};

/*
 * Checks everything a reader relies on, in this order: magic, ABI version,
 * header size, segment size (a power of two, not above mapped_size), name,
 * party table and directory bounds, object count against directory
 * capacity, checksum, then each entry (terminated and valid name, known type,
 * offset and length in bounds and aligned, the type's parameters consistent
 * with its length), entries sorted by offset with no overlap, no duplicate
 * name. Fills *view (view->party = -1).
 * Errors: IVSHM_E_NOTSEG (no magic, or smaller than a header),
 * IVSHM_E_VERSION (another ABI version), IVSHM_E_BADSEG (any other rule).
 */
int ivshm_segment_validate(void *base, uint64_t mapped_size, struct ivshm_segment_view *view,
                           struct ivshm_error *err);

/*
 * Finds object `name` of `type` (an enum ivshm_object_type; 0: any type) and
 * copies its directory entry to *entry, re-checking it, so the copy is safe
 * to use whatever a peer writes later.
 * Errors: IVSHM_E_NOENT ("SEG/NAME: no ring of that name"), IVSHM_E_BADSEG
 * (the entry was damaged after validation).
 */
int ivshm_object_lookup(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                        struct ivshm_dir_entry *entry, struct ivshm_error *err);

/*
 * Checked copy of directory entry `index` (0..view->object_count-1), for
 * iterating over the objects.
 * Errors: IVSHM_E_INVAL (index out of range), IVSHM_E_BADSEG.
 */
int ivshm_object_get(const struct ivshm_segment_view *view, uint32_t index,
                     struct ivshm_dir_entry *entry, struct ivshm_error *err);

/*
 * Finds memzone `name`: its local address and length (length may be NULL).
 * Errors: as ivshm_object_lookup.
 */
int ivshm_memzone_lookup(const struct ivshm_segment_view *view, const char *name, void **addr,
                         uint64_t *length, struct ivshm_error *err);

/* Whether name is 1 to 31 characters of [A-Za-z0-9_-] (segment and object
 * names alike). Reads at most IVSHM_NAME_SIZE bytes. */
bool ivshm_name_valid(const char *name);

/* "ring", "mempool", "memzone" (or another registered type), else "unknown". */
const char *ivshm_object_type_name(uint32_t type);

/* ---- host: segment files ------------------------------------------------
 *
 * A segment named NAME is the file DIR/ivshm-NAME. DIR is, in this order: the
 * directory the caller passes, the environment variable IVSHM_DIR, the first
 * hugetlbfs mount listed in /proc/mounts, or /dev/shm (4 KiB pages).
 * Creating one: builder.h.
 */
#if __STDC_HOSTED__

#define IVSHM_PATH_MAX    4096     /* PATH_MAX on Linux */
#define IVSHM_FILE_PREFIX "ivshm-" /* DIR/ivshm-NAME */
#define IVSHM_ENV_DIR     "IVSHM_DIR"
#define IVSHM_SHM_DIR     "/dev/shm"

/* An attached segment. */
struct ivshm_segment {
    char path[IVSHM_PATH_MAX];
    int fd;
    void *base;
    uint64_t mapped_size;
    bool writable;
    struct ivshm_segment_view view; /* validated; view.party is our claimed slot */
};

/* ivshm_segment_attach flags. */
#define IVSHM_ATTACH_READONLY 0x1u /* map read-only (inspect); no party can be claimed */
#define IVSHM_ATTACH_CLAIM    0x2u /* claim a party slot as this process */

/*
 * Maps DIR/ivshm-NAME (MAP_SHARED) and validates it. With IVSHM_ATTACH_CLAIM
 * it also claims a party slot, recording this process's pid and start time
 * (from /proc/self/stat) and `label` (may be NULL): seg->view.party.
 * On failure *seg is left detached (ivshm_segment_detach is harmless on it).
 * Errors: IVSHM_E_INVAL (bad NAME, path too long, READONLY with CLAIM),
 * IVSHM_E_NOENT (no such file), IVSHM_E_NOTSEG (not a regular file, or no
 * ivshm magic), IVSHM_E_VERSION, IVSHM_E_BADSEG, IVSHM_E_PARTIES (every slot
 * taken), IVSHM_E_SYSTEM (open, mmap or /proc/self/stat failed).
 */
int ivshm_segment_attach(const char *dir, const char *name, unsigned flags, const char *label,
                         struct ivshm_segment *seg, struct ivshm_error *err);

/* Same, by path. Errors: as ivshm_segment_attach. */
int ivshm_segment_attach_path(const char *path, unsigned flags, const char *label,
                              struct ivshm_segment *seg, struct ivshm_error *err);

/* Releases the party slot (if claimed), unmaps and closes. The file stays. */
void ivshm_segment_detach(struct ivshm_segment *seg);

/* ivshm_segment_destroy flags. */
#define IVSHM_DESTROY_FORCE 0x1u /* even while a host process is attached */

/*
 * Removes DIR/ivshm-NAME. A damaged segment or one of another ABI version is
 * removed too; memory a VM or process still maps stays valid until it unmaps
 * it. Also removes what a create of NAME that died left behind (a temporary
 * DIR/.ivshm-NAME.tmp-PID, on file systems without O_TMPFILE), which alone
 * is success. Errors: IVSHM_E_INVAL (bad NAME), IVSHM_E_NOENT, IVSHM_E_NOTSEG (not a
 * regular file or no ivshm magic: left untouched), IVSHM_E_EXIST (a live host
 * party is attached and no IVSHM_DESTROY_FORCE; the message names its pid),
 * IVSHM_E_SYSTEM (the file could not be opened or mapped, unlink failed, or
 * the file was replaced meanwhile).
 */
int ivshm_segment_destroy(const char *dir, const char *name, unsigned flags,
                          struct ivshm_error *err);

/* Called by ivshm_segment_list for each DIR/ivshm-* file: name is the part
 * after the prefix (as found: not necessarily a valid name); seg is NULL
 * (and why says why) when the file could not be attached. Also called for
 * each temporary file a dead create left (see ivshm_segment_destroy): name
 * is its segment's, seg NULL, why IVSHM_E_NOTSEG "left by a create that did
 * not finish (pid N); ...". Return non-zero to stop. */
typedef int (*ivshm_list_fn)(const char *name, const char *path, const struct ivshm_segment *seg,
                             const struct ivshm_error *why, void *ctx);

/* Calls fn for each segment file of DIR, in name order (read-only attach);
 * a file that cannot be attached is passed with the reason, it is not an
 * error of the listing. Returns IVSHM_OK also when fn stopped it.
 * Errors: IVSHM_E_INVAL (DIR too long), IVSHM_E_NOENT (no DIR),
 * IVSHM_E_SYSTEM (DIR unreadable). */
int ivshm_segment_list(const char *dir, ivshm_list_fn fn, void *ctx, struct ivshm_error *err);

/* Writes DIR/ivshm-NAME to out (size bytes). dir is used as given (not
 * resolved). Errors: IVSHM_E_INVAL (bad NAME, or the path does not fit). */
int ivshm_segment_path(const char *dir, const char *name, char *out, size_t size,
                       struct ivshm_error *err);

/*
 * Resolves the directory: `dir` if not NULL or empty, else $IVSHM_DIR, else
 * the first hugetlbfs mount in /proc/mounts, else /dev/shm (*fallback set;
 * fallback may be NULL). Writes it to out (size bytes). Does not check that
 * it exists. Errors: IVSHM_E_INVAL (the path does not fit).
 */
int ivshm_dir_resolve(const char *dir, char *out, size_t size, bool *fallback,
                      struct ivshm_error *err);

#endif /* __STDC_HOSTED__ */

#endif
