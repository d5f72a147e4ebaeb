/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ivshm/host/hugepages.h"
#include "ivshm/host/party.h"
#include "ivshm/host/segment_file.h"

/* ---- directory and path ---- */

int ivshm_dir_resolve_from(const char *dir, const char *mounts, char *out, size_t size,
                           bool *fallback, struct ivshm_error *err)
{
    const char *chosen = dir;
    char found[PATH_MAX] = "";
    bool fell_back = false;
    if (!chosen || !*chosen) {
        chosen = getenv(IVSHM_ENV_DIR);
        if (chosen && !*chosen)
            chosen = NULL;
    }
    if (!chosen) {
        FILE *f = fopen(mounts, "r");
        char line[4096];
        while (f && fgets(line, sizeof(line), f)) {
            char dev[256], mnt[PATH_MAX], type[64];
            if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) == 3 &&
                strcmp(type, "hugetlbfs") == 0) {
                /* /proc/mounts escapes space, tab, newline and backslash as \ooo. */
                size_t j = 0;
                for (size_t i = 0; mnt[i] && j + 1 < sizeof(found); i++) {
                    if (mnt[i] == '\\' && mnt[i + 1] >= '0' && mnt[i + 1] <= '7' &&
                        mnt[i + 2] >= '0' && mnt[i + 2] <= '7' && mnt[i + 3] >= '0' &&
                        mnt[i + 3] <= '7') {
                        found[j++] = (char)((mnt[i + 1] - '0') * 64 + (mnt[i + 2] - '0') * 8 +
                                            (mnt[i + 3] - '0'));
                        i += 3;
                    } else {
                        found[j++] = mnt[i];
                    }
                }
                found[j] = 0;
                break;
            }
        }
        if (f)
            fclose(f);
        if (found[0]) {
            chosen = found;
        } else {
            chosen = IVSHM_SHM_DIR;
            fell_back = true;
        }
    }
    if (strlen(chosen) >= size)
        return ivshm_fail(err, IVSHM_E_INVAL, "directory '%s': path too long", chosen);
    strcpy(out, chosen);
    if (fallback)
        *fallback = fell_back;
    return IVSHM_OK;
}

int ivshm_dir_resolve(const char *dir, char *out, size_t size, bool *fallback,
                      struct ivshm_error *err)
{
    return ivshm_dir_resolve_from(dir, "/proc/mounts", out, size, fallback, err);
}

int ivshm_segment_path(const char *dir, const char *name, char *out, size_t size,
                       struct ivshm_error *err)
{
    if (!ivshm_name_valid(name, strlen(name) + 1))
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "segment name '%s': must be 1 to 31 characters of [A-Za-z0-9_-]", name);
    int n = snprintf(out, size, "%s/%s%s", dir, IVSHM_FILE_PREFIX, name);
    if (n < 0 || (size_t)n >= size)
        return ivshm_fail(err, IVSHM_E_INVAL, "directory '%s': path too long", dir);
    return IVSHM_OK;
}

/* ---- argument checks ---- */

static const char *type_word(uint32_t type)
{
    return ivshm_type_name(type);
}

int ivshm_create_opts_check(const struct ivshm_create_opts *o, struct ivshm_error *err)
{
    if (!o->name || !ivshm_name_valid(o->name, strlen(o->name) + 1))
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "segment name '%s': must be 1 to 31 characters of [A-Za-z0-9_-]",
                          o->name ? o->name : "");
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
        const char *kind = type_word(s->type);
        if (s->type != IVSHM_OBJ_RING && s->type != IVSHM_OBJ_MEMPOOL &&
            s->type != IVSHM_OBJ_MEMZONE)
            return ivshm_fail(err, IVSHM_E_INVAL, "object %u: unknown type %u", i, s->type);
        if (!s->name || !ivshm_name_valid(s->name, strlen(s->name) + 1))
            return ivshm_fail(err, IVSHM_E_INVAL,
                              "%s name '%s': must be 1 to 31 characters of [A-Za-z0-9_-]", kind,
                              s->name ? s->name : "");
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(o->objects[j].name, s->name) == 0)
                return ivshm_fail(err, IVSHM_E_EXIST,
                                  "%s name '%s': duplicate (already used by a %s)", kind, s->name,
                                  type_word(o->objects[j].type));
        switch (s->type) {
        case IVSHM_OBJ_RING:
            if (!ivshm_is_pow2(s->slots) || s->slots > IVSHM_RING_MAX_SLOTS)
                return ivshm_fail(err, IVSHM_E_INVAL,
                                  "ring '%s': slots=%u is not a power of two in 1..%u", s->name,
                                  s->slots, IVSHM_RING_MAX_SLOTS);
            if (s->mode != IVSHM_RING_SPSC && s->mode != IVSHM_RING_MPMC)
                return ivshm_fail(err, IVSHM_E_INVAL, "ring '%s': mode 0x%x is not spsc or mpmc",
                                  s->name, s->mode);
            break;
        case IVSHM_OBJ_MEMPOOL: {
            struct ivshm_mempool_layout lay;
            if (s->count == 0 || s->obj_size == 0 ||
                ivshm_mempool_layout(s->count, s->obj_size, &lay) != IVSHM_OK)
                return ivshm_fail(err, IVSHM_E_INVAL,
                                  "mempool '%s': count=%u size=%u out of range (count 1..%u, "
                                  "size 1..%u)",
                                  s->name, s->count, s->obj_size, IVSHM_MEMPOOL_MAX_OBJ, 1u << 30);
            if (s->cache > IVSHM_MEMPOOL_CACHE_MAX)
                return ivshm_fail(err, IVSHM_E_INVAL, "mempool '%s': cache=%u is above %u", s->name,
                                  s->cache, IVSHM_MEMPOOL_CACHE_MAX);
            break;
        }
        case IVSHM_OBJ_MEMZONE:
            if (s->size == 0)
                return ivshm_fail(err, IVSHM_E_INVAL, "memzone '%s': size 0", s->name);
            if (s->align && (!ivshm_is_pow2(s->align) || s->align > (1u << 30)))
                return ivshm_fail(err, IVSHM_E_INVAL,
                                  "memzone '%s': align=%u is not a power of two up to 1 GiB",
                                  s->name, s->align);
            break;
        }
    }
    return IVSHM_OK;
}

/* Adds every object through the shared builder. */
static int build_objects(struct ivshm_builder *b, const struct ivshm_create_opts *o,
                         struct ivshm_error *err)
{
    for (uint32_t i = 0; i < o->object_count; i++) {
        const struct ivshm_object_spec *s = &o->objects[i];
        int rc = IVSHM_E_INVAL;
        switch (s->type) {
        case IVSHM_OBJ_RING:
            rc = ivshm_builder_add_ring(b, s->name, s->slots, s->mode, err);
            break;
        case IVSHM_OBJ_MEMPOOL:
            rc = ivshm_builder_add_mempool(b, s->name, s->count, s->obj_size, err);
            break;
        case IVSHM_OBJ_MEMZONE:
            rc = ivshm_builder_add_memzone(b, s->name, s->size, s->align, err);
            break;
        }
        if (rc)
            return rc;
    }
    return IVSHM_OK;
}

/* ---- create ---- */

static int check_node(const struct ivshm_create_opts *o, struct ivshm_error *err)
{
    if (o->numa_node < 0)
        return IVSHM_OK;
    if (numa_available() < 0)
        return ivshm_fail(err, IVSHM_E_NOENT, "--node %d: NUMA is not available on this host",
                          o->numa_node);
    int max = numa_max_node();
    if (o->numa_node > max || !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)o->numa_node))
        return ivshm_fail(err, IVSHM_E_NOENT,
                          "--node %d: no such NUMA node with memory (nodes 0..%d)", o->numa_node,
                          max);
    return IVSHM_OK;
}

static int publish(const char *tmp, const char *path, struct ivshm_error *err)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return IVSHM_OK;
    if (errno == EEXIST)
        return ivshm_fail(err, IVSHM_E_EXIST, "segment '%s': exists already", path);
    if (errno != EINVAL && errno != ENOSYS)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "rename to '%s': %s", path, strerror(errno));
    /* File systems without RENAME_NOREPLACE: link() fails on an existing name. */
    if (link(tmp, path) != 0)
        return ivshm_fail(err, errno == EEXIST ? IVSHM_E_EXIST : IVSHM_E_SYSTEM, "segment '%s': %s",
                          path, errno == EEXIST ? "exists already" : strerror(errno));
    unlink(tmp);
    return IVSHM_OK;
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

int ivshm_segment_create(const struct ivshm_create_opts *o, struct ivshm_create_result *res,
                         struct ivshm_error *err)
{
    struct ivshm_create_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    int rc = ivshm_create_opts_check(o, err);
    if (rc) {
        res->bad_arguments = true;
        return rc;
    }

    char dir[PATH_MAX];
    rc = ivshm_dir_resolve(o->dir, dir, sizeof(dir), &res->shm_fallback, err);
    if (rc)
        return rc;
    struct ivshm_dir_info info;
    rc = ivshm_dir_info(dir, &info, err);
    if (rc)
        return rc;
    rc = ivshm_segment_path(dir, o->name, res->path, sizeof(res->path), err);
    if (rc)
        return rc;
    struct stat st;
    if (lstat(res->path, &st) == 0)
        return ivshm_fail(err, IVSHM_E_EXIST, "segment '%s': %s exists already", o->name,
                          res->path);

    uint64_t size = ivshm_round_segment_size(o->size, info.page_size);
    if (size == 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "segment '%s': size %llu too large", o->name,
                          (unsigned long long)o->size);
    uint32_t dir_cap = o->dir_capacity > o->object_count ? o->dir_capacity : o->object_count;
    uint32_t party_cap = o->party_capacity ? o->party_capacity : IVSHM_DEFAULT_PARTIES;
    uint64_t meta = ivshm_metadata_bytes(dir_cap, party_cap);
    if (meta > size) {
        res->bad_arguments = true;
        return ivshm_fail(err, IVSHM_E_NOSPC,
                          "segment '%s': %llu bytes of metadata do not fit in %llu bytes", o->name,
                          (unsigned long long)meta, (unsigned long long)size);
    }
    rc = check_node(o, err);
    if (rc)
        return rc;
    if (info.hugetlbfs) {
        rc = ivshm_hugepages_check(dir, info.page_size, o->numa_node, size, err);
        if (rc)
            return rc;
    }
    res->size = size;
    res->page_size = info.page_size;

    /* From here on a temporary file exists: hold off the usual termination
     * signals until it is either published or removed. */
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &block, &saved);

    /* res->path fitted in PATH_MAX, so this fits in PATH_MAX + 64. */
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof(tmp), "%s/.%s%s.tmp-%d", dir, IVSHM_FILE_PREFIX, o->name, (int)getpid());
    void *base = MAP_FAILED;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = ivshm_fail(err, IVSHM_E_SYSTEM, "create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    /* Group/other access follows the umask, as for any new file. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    if (ftruncate(fd, (off_t)size) != 0) {
        rc = ivshm_fail(err, IVSHM_E_SYSTEM, "segment '%s': ftruncate to %llu bytes: %s", o->name,
                        (unsigned long long)size, strerror(errno));
        goto fail;
    }
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = ivshm_fail(err, errno == ENOMEM ? IVSHM_E_NOSPC : IVSHM_E_SYSTEM,
                        "segment '%s': mmap of %llu bytes: %s", o->name, (unsigned long long)size,
                        strerror(errno));
        goto fail;
    }
    /* Allocate every page now: a shortage is an error here rather than a
     * SIGBUS on first touch (tmpfs full, hugepages taken meanwhile). */
    struct ivshm_error why;
    rc = allocate_pages(fd, base, size, o->numa_node, &why);
    if (rc) {
        ivshm_fail(err, rc, "segment '%s': allocating %llu bytes in %s: %s", o->name,
                   (unsigned long long)size, dir, why.msg);
        goto fail;
    }
    struct ivshm_builder b;
    rc = ivshm_builder_init(&b, base, size, info.page_size, o->numa_node, o->name, dir_cap,
                            party_cap, err);
    if (rc == IVSHM_OK)
        rc = build_objects(&b, o, err);
    if (rc) {
        res->bad_arguments = true; /* validated above: only "does not fit" is left */
        goto fail;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b.hdr->created_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ivshm_builder_finalize(&b);
    /* A termination signal that arrived meanwhile cancels the creation: the
     * temporary file goes, then the signal is delivered when the mask is
     * restored (unless the caller itself had blocked it). */
    sigset_t pending;
    sigpending(&pending);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&block, sig) == 1 && sigismember(&pending, sig) == 1 &&
            sigismember(&saved, sig) != 1) {
            rc = ivshm_fail(err, IVSHM_E_SYSTEM, "segment '%s': interrupted by signal %d", o->name,
                            sig);
            goto fail;
        }
    }
    rc = publish(tmp, res->path, err);
    if (rc)
        goto fail;
    goto out;
fail:
    unlink(tmp);
out:
    if (base != MAP_FAILED)
        munmap(base, size);
    if (fd >= 0)
        close(fd);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

/* ---- attach ---- */

int ivshm_segment_attach_path(const char *path, unsigned flags, const char *label,
                              struct ivshm_segment *seg, struct ivshm_error *err)
{
    memset(seg, 0, sizeof(*seg));
    seg->fd = -1;
    seg->party = -1;
    seg->base = MAP_FAILED;
    if (strlen(path) >= sizeof(seg->path))
        return ivshm_fail(err, IVSHM_E_INVAL, "path '%s': too long", path);
    strcpy(seg->path, path);
    bool ro = flags & IVSHM_ATTACH_READONLY;
    if (ro && (flags & IVSHM_ATTACH_CLAIM))
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: a read-only attach cannot claim a party", path);
    /* Only a regular file can be a segment. Check before opening: opening a
     * FIFO blocks until a writer comes, and opening a device may act on it.
     * O_NONBLOCK covers a file swapped in between (the fstat below then
     * refuses it); on a regular file it changes nothing. */
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ivshm_fail(err, IVSHM_E_NOTSEG, "%s: not an ivshm segment (not a regular file)",
                          path);
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return ivshm_fail(err, errno == ENOENT ? IVSHM_E_NOENT : IVSHM_E_SYSTEM, "%s: %s", path,
                          errno == ENOENT ? "no such segment" : strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ivshm_fail(err, IVSHM_E_NOTSEG, "%s: not an ivshm segment (not a regular file)",
                          path);
    }
    if ((uint64_t)st.st_size < sizeof(struct ivshm_segment_header)) {
        close(fd);
        return ivshm_fail(err, IVSHM_E_NOTSEG,
                          "%s: not an ivshm segment (%lld bytes, smaller than a header)", path,
                          (long long)st.st_size);
    }
    /* Read the magic with read() first: mapping an arbitrary file is fine,
     * but a file on a file system that cannot be mapped should still get the
     * "not a segment" answer. */
    char magic[IVSHM_MAGIC_LEN];
    if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
        memcmp(magic, IVSHM_MAGIC, IVSHM_MAGIC_LEN) != 0) {
        close(fd);
        return ivshm_fail(err, IVSHM_E_NOTSEG, "%s: not an ivshm segment (no ivshm magic)", path);
    }
    void *base =
        mmap(NULL, (size_t)st.st_size, PROT_READ | (ro ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: mmap: %s", path, strerror(e));
    }
    seg->fd = fd;
    seg->base = base;
    seg->mapped_size = (uint64_t)st.st_size;
    seg->writable = !ro;
    struct ivshm_error sub;
    int rc = ivshm_segment_validate(base, seg->mapped_size, &seg->view, &sub);
    if (rc) {
        ivshm_fail(err, rc, "%s: %s", path, sub.msg);
        ivshm_segment_detach(seg);
        return rc;
    }
    if (flags & IVSHM_ATTACH_CLAIM) {
        uint64_t start = 0;
        if (ivshm_process_start_time(0, &start) != 0) {
            ivshm_fail(err, IVSHM_E_SYSTEM, "/proc/self/stat: %s", strerror(errno));
            ivshm_segment_detach(seg);
            return IVSHM_E_SYSTEM;
        }
        int idx = ivshm_party_claim(&seg->view, IVSHM_PARTY_HOST, (uint64_t)getpid(), start, label);
        if (idx < 0) {
            ivshm_fail(err, idx, "%s: all %u party slots are taken", path,
                       seg->view.party_capacity);
            ivshm_segment_detach(seg);
            return idx;
        }
        seg->party = idx;
    }
    return IVSHM_OK;
}

int ivshm_segment_attach(const char *dir, const char *name, unsigned flags, const char *label,
                         struct ivshm_segment *seg, struct ivshm_error *err)
{
    char d[PATH_MAX], path[PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(d, name, path, sizeof(path), err);
    if (rc) {
        memset(seg, 0, sizeof(*seg));
        seg->fd = -1;
        seg->party = -1;
        seg->base = MAP_FAILED;
        return rc;
    }
    return ivshm_segment_attach_path(path, flags, label, seg, err);
}

void ivshm_segment_detach(struct ivshm_segment *seg)
{
    if (seg->party >= 0 && seg->base != MAP_FAILED && seg->base)
        ivshm_party_release(&seg->view, seg->party);
    seg->party = -1;
    if (seg->base != MAP_FAILED && seg->base)
        munmap(seg->base, seg->mapped_size);
    seg->base = MAP_FAILED;
    if (seg->fd >= 0)
        close(seg->fd);
    seg->fd = -1;
}

/* ---- lookup ---- */

int ivshm_segment_lookup(const struct ivshm_segment *seg, const char *name, uint32_t type,
                         struct ivshm_dir_entry *entry, struct ivshm_error *err)
{
    return ivshm_segment_find(&seg->view, name, type, entry, err);
}

int ivshm_segment_ring(const struct ivshm_segment *seg, const char *name, struct ivshm_ring *ring,
                       struct ivshm_error *err)
{
    struct ivshm_dir_entry e;
    int rc = ivshm_segment_find(&seg->view, name, IVSHM_OBJ_RING, &e, err);
    return rc ? rc : ivshm_ring_attach(ring, &seg->view, &e, err);
}

int ivshm_segment_mempool(const struct ivshm_segment *seg, const char *name,
                          struct ivshm_mempool *mp, struct ivshm_error *err)
{
    if (seg->party < 0)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "%s/%s: attach with IVSHM_ATTACH_CLAIM to use a mempool", seg->view.name,
                          name);
    struct ivshm_dir_entry e;
    int rc = ivshm_segment_find(&seg->view, name, IVSHM_OBJ_MEMPOOL, &e, err);
    return rc ? rc : ivshm_mempool_attach(mp, &seg->view, &e, seg->party, err);
}

int ivshm_segment_memzone(const struct ivshm_segment *seg, const char *name, void **addr,
                          uint64_t *length, struct ivshm_error *err)
{
    struct ivshm_dir_entry e;
    int rc = ivshm_segment_find(&seg->view, name, IVSHM_OBJ_MEMZONE, &e, err);
    if (rc)
        return rc;
    *addr = seg->view.base + e.offset;
    *length = e.length;
    return IVSHM_OK;
}

/* ---- destroy ---- */

int ivshm_segment_destroy(const char *dir, const char *name, bool force, struct ivshm_error *err)
{
    char d[PATH_MAX], path[PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(d, name, path, sizeof(path), err);
    if (rc)
        return rc;
    struct ivshm_segment seg;
    rc = ivshm_segment_attach_path(path, IVSHM_ATTACH_READONLY, NULL, &seg, err);
    /* A damaged segment or one of another ABI version is still ours to
     * delete; anything without the magic is not. */
    if (rc && rc != IVSHM_E_BADSEG && rc != IVSHM_E_VERSION)
        return rc;
    if (rc == IVSHM_OK && !force) {
        for (uint32_t i = 0; i < seg.view.party_capacity; i++) {
            const struct ivshm_party *p = &seg.view.parties[i];
            if (p->kind == IVSHM_PARTY_HOST && ivshm_party_alive(p)) {
                unsigned long long pid = p->pid;
                ivshm_segment_detach(&seg);
                return ivshm_fail(err, IVSHM_E_EXIST,
                                  "%s: process %llu is still attached (use --force)", path, pid);
            }
        }
    }
    struct stat before, now;
    bool have_before = rc == IVSHM_OK && fstat(seg.fd, &before) == 0;
    if (rc == IVSHM_OK)
        ivshm_segment_detach(&seg);
    /* Unlink only the file we checked, not one swapped in meanwhile. */
    if (have_before &&
        (lstat(path, &now) != 0 || now.st_ino != before.st_ino || now.st_dev != before.st_dev))
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: replaced while being destroyed", path);
    if (unlink(path) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: unlink: %s", path, strerror(errno));
    return IVSHM_OK;
}

/* ---- list ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ivshm_segment_list(const char *dir, ivshm_list_fn fn, void *ctx, struct ivshm_error *err)
{
    char d[PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc)
        return rc;
    DIR *dp = opendir(d);
    if (!dp)
        return ivshm_fail(err, errno == ENOENT ? IVSHM_E_NOENT : IVSHM_E_SYSTEM,
                          "directory '%s': %s", d, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    const size_t plen = strlen(IVSHM_FILE_PREFIX);
    while ((de = readdir(dp)) != NULL) {
        if (strncmp(de->d_name, IVSHM_FILE_PREFIX, plen) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                break;
            names = grown;
        }
        names[n] = strdup(de->d_name + plen);
        if (names[n])
            n++;
    }
    closedir(dp);
    qsort(names, n, sizeof(*names), cmp_names);
    rc = IVSHM_OK;
    bool stop = false;
    for (size_t i = 0; i < n; i++) {
        if (!stop) {
            char path[PATH_MAX + 300];
            struct ivshm_segment seg;
            struct ivshm_error why;
            snprintf(path, sizeof(path), "%s/%s%s", d, IVSHM_FILE_PREFIX, names[i]);
            if (strlen(path) >= PATH_MAX)
                stop = fn(names[i], path, NULL,
                          &(struct ivshm_error){IVSHM_E_INVAL, "path too long"}, ctx) != 0;
            else if (ivshm_segment_attach_path(path, IVSHM_ATTACH_READONLY, NULL, &seg, &why) ==
                     IVSHM_OK) {
                stop = fn(names[i], path, &seg, NULL, ctx) != 0;
                ivshm_segment_detach(&seg);
            } else {
                stop = fn(names[i], path, NULL, &why, ctx) != 0;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}
