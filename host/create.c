/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Creating a segment file (builder.h), in named steps:
 *
 *   check          the arguments alone (ivshm_create_check)
 *   prepare_file   DIR, NAME not taken, the size, the metadata fits, the NUMA
 *                  node exists, enough free hugepages
 *   place_memory   an unnamed file (O_TMPFILE), or where the file system
 *                  has none a temporary DIR/.ivshm-NAME.tmp-PID; sized,
 *                  mapped, bound to the node and allocated (no SIGBUS later)
 *   build          the layout, through the object-type table; magic last
 *   publish        link or rename to DIR/ivshm-NAME, never replacing a file
 *
 * An unnamed file disappears with the process however it ends (SIGKILL
 * included); a named temporary one is left behind by a SIGKILL, and then
 * `ivshm_segment_list` shows it and `ivshm_segment_destroy` removes it
 * (segment_file.c). From place_memory on, the usual termination signals are
 * held until the file is published or removed: one that arrived meanwhile
 * cancels the creation.
 */
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/layout_builder.h"
#include "common/object.h"
#include "host/hugepages.h"
#include "host/internal.h"
#include "ivshm/builder.h"

/* ---- check ---- */

int ivshm_create_check(const struct ivshm_create_opts *o, struct ivshm_error *err)
{
    int rc = ivshm_name_check("segment", o->name, IVSHM_E_INVAL, err);
    if (rc)
        return rc;
    if (o->size == 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "segment '%s': size 0", o->name);
    if (o->size > (1ull << 46))
        return ivshm_fail(err, IVSHM_E_INVAL, "segment '%s': size %llu is above 64 TiB", o->name,
                          (unsigned long long)o->size);
    if (o->party_capacity > IVSHM_MAX_PARTIES)
        return ivshm_fail(err, IVSHM_E_INVAL, "segment '%s': %u parties, at most %u", o->name,
                          o->party_capacity, IVSHM_MAX_PARTIES);
    if (o->object_count > IVSHM_MAX_OBJECTS || o->dir_capacity > IVSHM_MAX_OBJECTS)
        return ivshm_fail(err, IVSHM_E_INVAL, "segment '%s': %u objects, at most %u", o->name,
                          o->object_count > o->dir_capacity ? o->object_count : o->dir_capacity,
                          IVSHM_MAX_OBJECTS);
    for (uint32_t i = 0; i < o->object_count; i++) {
        const struct ivshm_object_spec *s = &o->objects[i];
        rc = ivshm_object_spec_check(s, err);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(o->objects[j].name, s->name) == 0)
                return ivshm_fail(err, IVSHM_E_EXIST,
                                  "%s name '%s': duplicate (already used by a %s)",
                                  ivshm_object_type_name(s->type), s->name,
                                  ivshm_object_type_name(o->objects[j].type));
    }
    return IVSHM_OK;
}

/* What the steps share. */
struct creation {
    const struct ivshm_create_opts *o;
    struct ivshm_create_result *res;
    char dir[IVSHM_PATH_MAX];
    /* res->path fitted in IVSHM_PATH_MAX, so this fits in IVSHM_PATH_MAX + 64. */
    char tmp[IVSHM_PATH_MAX + 64];
    uint64_t size;
    uint32_t dir_capacity, party_capacity;
    int fd;
    bool unnamed; /* fd is an O_TMPFILE file: nothing to remove */
    void *base;
    sigset_t held, saved;
};

/* ---- prepare the file ---- */

static int check_node(int node, struct ivshm_error *err)
{
    if (node < 0)
        return IVSHM_OK;
    if (numa_available() < 0)
        return ivshm_fail(err, IVSHM_E_NOENT, "NUMA node %d: NUMA is not available on this host",
                          node);
    int max = numa_max_node();
    if (node > max || !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)node))
        return ivshm_fail(err, IVSHM_E_NOENT,
                          "NUMA node %d: no such node with memory (nodes 0..%d)", node, max);
    return IVSHM_OK;
}

/* Everything that can be checked before a file exists: DIR (a writable
 * directory), NAME not taken, the size rounded up, the metadata fits, the
 * node exists, enough free hugepages. */
static int prepare_file(struct creation *c, struct ivshm_error *err)
{
    const struct ivshm_create_opts *o = c->o;
    int rc = ivshm_dir_resolve(o->dir, c->dir, sizeof(c->dir), &c->res->shm_fallback, err);
    if (rc)
        return rc;
    struct ivshm_dir_info info;
    rc = ivshm_dir_info(c->dir, &info, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(c->dir, o->name, c->res->path, sizeof(c->res->path), err);
    if (rc)
        return rc;
    struct stat st;
    if (lstat(c->res->path, &st) == 0)
        return ivshm_fail(err, IVSHM_E_EXIST, "segment '%s': %s exists already", o->name,
                          c->res->path);
    c->size = ivshm_round_segment_size(o->size, info.page_size);
    if (c->size == 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "segment '%s': size %llu too large", o->name,
                          (unsigned long long)o->size);
    c->dir_capacity = o->dir_capacity > o->object_count ? o->dir_capacity : o->object_count;
    c->party_capacity = o->party_capacity ? o->party_capacity : IVSHM_DEFAULT_PARTIES;
    uint64_t meta = ivshm_metadata_bytes(c->dir_capacity, c->party_capacity);
    if (meta > c->size)
        return ivshm_fail(err, IVSHM_E_TOOBIG,
                          "segment '%s': %llu bytes of metadata do not fit in %llu bytes", o->name,
                          (unsigned long long)meta, (unsigned long long)c->size);
    rc = check_node(o->numa_node, err);
    if (rc == IVSHM_OK && info.hugetlbfs)
        rc = ivshm_hugepages_check(c->dir, info.page_size, o->numa_node, c->size, err);
    if (rc)
        return rc;
    c->res->size = c->size;
    c->res->page_size = info.page_size;
    return IVSHM_OK;
}

/* ---- place the memory ---- */

const char *ivshm_signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGQUIT:
        return "SIGQUIT";
    }
    return "a signal";
}

/* Holds off SIGINT, SIGTERM, SIGHUP and SIGQUIT while a temporary file
 * exists. */
static void hold_signals(struct creation *c)
{
    sigemptyset(&c->held);
    sigaddset(&c->held, SIGINT);
    sigaddset(&c->held, SIGTERM);
    sigaddset(&c->held, SIGHUP);
    sigaddset(&c->held, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &c->held, &c->saved);
}

/*
 * Allocates the file's pages, on `node` when node >= 0. The mapping's policy
 * (mbind) is what tmpfs follows, but hugetlbfs allocates in fallocate() by the
 * calling thread's policy: set both, and restore the thread's afterwards.
 * On failure err->msg holds the reason alone (the caller adds the context).
 */
static int allocate_pages(int fd, void *base, uint64_t size, int node, struct ivshm_error *err)
{
    enum { MASK_BITS = 4096 };
    unsigned long old_mask[MASK_BITS / (8 * sizeof(unsigned long))];
    int old_mode = MPOL_DEFAULT;
    bool restore = false;
    if (node >= 0) {
        unsigned long mask[MASK_BITS / (8 * sizeof(unsigned long))] = {0};
        mask[node / (8 * sizeof(unsigned long))] |= 1ul << (node % (8 * sizeof(unsigned long)));
        if (mbind(base, size, MPOL_BIND, mask, MASK_BITS, 0) != 0)
            return ivshm_fail(err, IVSHM_E_SYSTEM, "mbind to node %d: %s", node, strerror(errno));
        if (get_mempolicy(&old_mode, old_mask, MASK_BITS, NULL, 0) != 0)
            return ivshm_fail(err, IVSHM_E_SYSTEM, "get_mempolicy: %s", strerror(errno));
        if (set_mempolicy(MPOL_BIND, mask, MASK_BITS) != 0)
            return ivshm_fail(err, IVSHM_E_SYSTEM, "set_mempolicy node %d: %s", node,
                              strerror(errno));
        restore = true;
    }
    int rc = IVSHM_OK;
    if (fallocate(fd, 0, 0, (off_t)size) != 0 && errno != EOPNOTSUPP)
        rc = ivshm_fail(err, errno == ENOSPC ? IVSHM_E_NOSPC : IVSHM_E_SYSTEM, "%s",
                        strerror(errno));
    if (restore)
        set_mempolicy(old_mode, old_mode == MPOL_DEFAULT ? NULL : old_mask,
                      old_mode == MPOL_DEFAULT ? 0 : MASK_BITS);
    return rc;
}

/* An unnamed file in DIR (O_TMPFILE), or the temporary file
 * DIR/.ivshm-NAME.tmp-PID where the file system has no O_TMPFILE. */
static int open_file(struct creation *c, struct ivshm_error *err)
{
    c->fd = open(c->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (c->fd >= 0) {
        c->unnamed = true;
        snprintf(c->tmp, sizeof(c->tmp), "%s (unnamed)", c->dir);
        return IVSHM_OK;
    }
    /* Anything else than "not supported here" is worth reporting. */
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "segment '%s': a new file in %s: %s", c->o->name,
                          c->dir, strerror(errno));
    snprintf(c->tmp, sizeof(c->tmp), "%s/.%s%s%s%d", c->dir, IVSHM_FILE_PREFIX, c->o->name,
             IVSHM_TMP_INFIX, (int)getpid());
    c->fd = open(c->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (c->fd < 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "create '%s': %s", c->tmp, strerror(errno));
    return IVSHM_OK;
}

/* The new file, sized, mapped and allocated: a shortage is an error here
 * rather than a SIGBUS on first touch (tmpfs full, hugepages taken
 * meanwhile). */
static int place_memory(struct creation *c, struct ivshm_error *err)
{
    const char *name = c->o->name;
    int rc = open_file(c, err);
    if (rc)
        return rc;
    /* Group/other access follows the umask, as for any new file. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(c->fd, 0666 & ~mask);
    if (ftruncate(c->fd, (off_t)c->size) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "segment '%s': ftruncate to %llu bytes: %s", name,
                          (unsigned long long)c->size, strerror(errno));
    c->base = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
    if (c->base == MAP_FAILED)
        return ivshm_fail(err, errno == ENOMEM ? IVSHM_E_NOSPC : IVSHM_E_SYSTEM,
                          "segment '%s': mmap of %llu bytes: %s", name, (unsigned long long)c->size,
                          strerror(errno));
    ivshm_mapping_add(c->base, c->size, c->fd, c->res->path);
    struct ivshm_error why;
    rc = allocate_pages(c->fd, c->base, c->size, c->o->numa_node, &why);
    if (rc)
        return ivshm_fail(err, rc, "segment '%s': allocating %llu bytes in %s: %s", name,
                          (unsigned long long)c->size, c->dir, why.msg);
    return IVSHM_OK;
}

/* ---- build ---- */

/* The layout over the mapped file: header, party table, directory, then
 * every object through its row of the object-type table; finalize writes
 * the checksum and the magic last. Only "does not fit" (IVSHM_E_TOOBIG) can
 * fail here: the arguments were checked. */
static int build(struct creation *c, struct ivshm_error *err)
{
    const struct ivshm_create_opts *o = c->o;
    struct ivshm_builder b;
    int rc = ivshm_builder_init(&b, c->base, c->size, c->res->page_size, o->numa_node, o->name,
                                c->dir_capacity, c->party_capacity, err);
    for (uint32_t i = 0; rc == IVSHM_OK && i < o->object_count; i++)
        rc = ivshm_builder_add(&b, &o->objects[i], err);
    if (rc)
        return rc;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b.hdr->created_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ivshm_builder_finalize(&b);
    return IVSHM_OK;
}

/* ---- publish ---- */

/* A termination signal that arrived meanwhile cancels the creation: the
 * temporary file goes, then the signal is delivered when the mask is
 * restored (unless the caller itself had blocked it). */
static int cancelled(const struct creation *c, struct ivshm_error *err)
{
    sigset_t pending;
    sigpending(&pending);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&c->held, sig) == 1 && sigismember(&pending, sig) == 1 &&
            sigismember(&c->saved, sig) != 1)
            return ivshm_fail(err, IVSHM_E_SYSTEM,
                              "segment '%s': creation interrupted by %s; nothing was created",
                              c->o->name, ivshm_signal_name(sig));
    return IVSHM_OK;
}

/* Gives the unnamed file its name: linkat fails on an existing name. With
 * AT_EMPTY_PATH the kernel may ask for CAP_DAC_READ_SEARCH; the
 * /proc/self/fd link works for the file's opener without it. */
static int link_unnamed(const struct creation *c, struct ivshm_error *err)
{
    const char *path = c->res->path;
    int rc = linkat(c->fd, "", AT_FDCWD, path, AT_EMPTY_PATH);
    if (rc != 0 && errno != EEXIST) {
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", c->fd);
        rc = linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
    }
    if (rc == 0)
        return IVSHM_OK;
    if (errno == EEXIST)
        return ivshm_fail(err, IVSHM_E_EXIST, "segment '%s': exists already", path);
    return ivshm_fail(err, IVSHM_E_SYSTEM, "link to '%s': %s", path, strerror(errno));
}

/* Gives the new file its name, never replacing one. */
static int publish(const struct creation *c, struct ivshm_error *err)
{
    int rc = cancelled(c, err);
    if (rc)
        return rc;
    if (c->unnamed)
        return link_unnamed(c, err);
    const char *path = c->res->path;
    if (renameat2(AT_FDCWD, c->tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return IVSHM_OK;
    if (errno == EEXIST)
        return ivshm_fail(err, IVSHM_E_EXIST, "segment '%s': exists already", path);
    if (errno != EINVAL && errno != ENOSYS)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "rename to '%s': %s", path, strerror(errno));
    /* File systems without RENAME_NOREPLACE: link() fails on an existing name. */
    if (link(c->tmp, path) != 0)
        return ivshm_fail(err, errno == EEXIST ? IVSHM_E_EXIST : IVSHM_E_SYSTEM, "segment '%s': %s",
                          path, errno == EEXIST ? "exists already" : strerror(errno));
    unlink(c->tmp);
    return IVSHM_OK;
}

/* Unmaps and closes; removes a named temporary file unless it was
 * published (an unnamed one goes with its last descriptor); delivers what
 * the signal mask held. */
static void finish(struct creation *c, bool published)
{
    if (c->fd >= 0 && !c->unnamed && !published)
        unlink(c->tmp);
    if (c->base != MAP_FAILED) {
        ivshm_mapping_remove(c->base);
        munmap(c->base, c->size);
    }
    if (c->fd >= 0)
        close(c->fd);
    pthread_sigmask(SIG_SETMASK, &c->saved, NULL);
}

int ivshm_segment_create(const struct ivshm_create_opts *o, struct ivshm_create_result *res,
                         struct ivshm_error *err)
{
    struct ivshm_create_result local;
    struct creation c = {.o = o, .res = res ? res : &local, .fd = -1, .base = MAP_FAILED};
    memset(c.res, 0, sizeof(*c.res));
    int rc = ivshm_create_check(o, err);
    if (rc == IVSHM_OK)
        rc = prepare_file(&c, err);
    if (rc)
        return rc;
    hold_signals(&c);
    rc = place_memory(&c, err);
    if (rc == IVSHM_OK)
        rc = build(&c, err);
    if (rc == IVSHM_OK)
        rc = publish(&c, err);
    finish(&c, rc == IVSHM_OK);
    return rc;
}
