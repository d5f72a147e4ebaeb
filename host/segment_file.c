/* SPDX-License-Identifier: BSD-3-Clause */
/* Segment files: directory, path, attach, detach, destroy, list (segment.h).
 * Creating one: create.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/internal.h"
#include "ivshm/party.h"

/* ---- directory and path ---- */

int ivshm_dir_resolve_from(const char *dir, const char *mounts, char *out, size_t size,
                           bool *fallback, struct ivshm_error *err)
{
    const char *chosen = dir;
    char found[IVSHM_PATH_MAX] = "";
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
            char dev[256], mnt[IVSHM_PATH_MAX], type[64];
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
    int rc = ivshm_name_check("segment", name, IVSHM_E_INVAL, err);
    if (rc)
        return rc;
    int n = snprintf(out, size, "%s/%s%s", dir, IVSHM_FILE_PREFIX, name);
    if (n < 0 || (size_t)n >= size)
        return ivshm_fail(err, IVSHM_E_INVAL, "directory '%s': path too long", dir);
    return IVSHM_OK;
}

/* ---- attach ---- */

/* The state of a segment that is not attached: detach does nothing to it. */
static void detached(struct ivshm_segment *seg)
{
    memset(seg, 0, sizeof(*seg));
    seg->fd = -1;
    seg->base = MAP_FAILED;
    seg->view.party = -1;
}

int ivshm_segment_attach_path(const char *path, unsigned flags, const char *label,
                              struct ivshm_segment *seg, struct ivshm_error *err)
{
    detached(seg);
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
    ivshm_mapping_add(base, (uint64_t)st.st_size, fd, path);
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
        rc = ivshm_process_start_time(0, &start, err);
        if (rc) {
            ivshm_segment_detach(seg);
            return rc;
        }
        int idx = ivshm_party_claim(&seg->view, IVSHM_PARTY_HOST, (uint64_t)getpid(), start, label);
        if (idx < 0) {
            ivshm_fail(err, idx, "%s: all %u party slots are taken", path,
                       seg->view.party_capacity);
            ivshm_segment_detach(seg);
            return idx;
        }
        seg->view.party = idx;
    }
    return IVSHM_OK;
}

int ivshm_segment_attach(const char *dir, const char *name, unsigned flags, const char *label,
                         struct ivshm_segment *seg, struct ivshm_error *err)
{
    char d[IVSHM_PATH_MAX], path[IVSHM_PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(d, name, path, sizeof(path), err);
    if (rc) {
        detached(seg);
        return rc;
    }
    return ivshm_segment_attach_path(path, flags, label, seg, err);
}

void ivshm_segment_detach(struct ivshm_segment *seg)
{
    if (seg->view.party >= 0 && seg->base != MAP_FAILED && seg->base)
        ivshm_party_release(&seg->view, seg->view.party);
    seg->view.party = -1;
    if (seg->base != MAP_FAILED && seg->base) {
        ivshm_mapping_remove(seg->base);
        munmap(seg->base, seg->mapped_size);
    }
    seg->base = MAP_FAILED;
    if (seg->fd >= 0)
        close(seg->fd);
    seg->fd = -1;
}

/* ---- leftovers of a create that died (create.c) ---- */

/* Start of process pid, in seconds since the epoch (0: unknown). */
static double process_started(pid_t pid)
{
    uint64_t ticks;
    if (ivshm_process_start_time(pid, &ticks, NULL) != IVSHM_OK)
        return 0;
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    unsigned long long boot = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %llu", &boot) == 1)
            break;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return boot && hz > 0 ? (double)boot + (double)ticks / (double)hz : 0;
}

bool ivshm_leftover(const char *dir, const char *file, char name[IVSHM_NAME_SIZE], long *pid)
{
    const size_t plen = strlen(IVSHM_FILE_PREFIX);
    if (file[0] != '.' || strncmp(file + 1, IVSHM_FILE_PREFIX, plen) != 0)
        return false;
    const char *start = file + 1 + plen, *infix = NULL;
    for (const char *p = strstr(start, IVSHM_TMP_INFIX); p; p = strstr(p + 1, IVSHM_TMP_INFIX))
        infix = p;
    if (!infix || infix == start || (size_t)(infix - start) > IVSHM_NAME_MAX)
        return false;
    char n[IVSHM_NAME_SIZE] = {0};
    memcpy(n, start, (size_t)(infix - start));
    const char *digits = infix + strlen(IVSHM_TMP_INFIX);
    char *end;
    errno = 0;
    long p = strtol(digits, &end, 10);
    if (!ivshm_name_valid(n) || *digits < '1' || *digits > '9' || *end || errno || p <= 0 ||
        p > 0x7fffffff)
        return false;
    char path[IVSHM_PATH_MAX + 300];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    /* Gone: no such process, or the pid now names a process that started
     * after the file was last written (the creator died, the pid was
     * reused). */
    bool gone = kill((pid_t)p, 0) != 0 && errno == ESRCH;
    if (!gone) {
        double started = process_started((pid_t)p);
        gone = started > (double)st.st_mtime + 1;
    }
    if (gone && name)
        memcpy(name, n, IVSHM_NAME_SIZE);
    if (gone)
        *pid = p;
    return gone;
}

/* Removes DIR/.ivshm-NAME.tmp-PID files whose creator is gone; returns how
 * many. */
static int remove_leftovers(const char *dir, const char *name)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        char n[IVSHM_NAME_SIZE];
        long pid;
        char path[IVSHM_PATH_MAX + 300];
        if (!ivshm_leftover(dir, de->d_name, n, &pid) || strcmp(n, name) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        removed += unlink(path) == 0;
    }
    closedir(dp);
    return removed;
}

/* ---- destroy ---- */

int ivshm_segment_destroy(const char *dir, const char *name, unsigned flags,
                          struct ivshm_error *err)
{
    char d[IVSHM_PATH_MAX], path[IVSHM_PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc == IVSHM_OK)
        rc = ivshm_segment_path(d, name, path, sizeof(path), err);
    if (rc)
        return rc;
    int leftovers = remove_leftovers(d, name);
    struct ivshm_segment seg;
    rc = ivshm_segment_attach_path(path, IVSHM_ATTACH_READONLY, NULL, &seg, err);
    if (rc == IVSHM_E_NOENT && leftovers)
        return IVSHM_OK; /* only what a dead create left */
    /* A damaged segment or one of another ABI version is still ours to
     * delete; anything without the magic is not. */
    if (rc && rc != IVSHM_E_BADSEG && rc != IVSHM_E_VERSION)
        return rc;
    if (rc == IVSHM_OK && !(flags & IVSHM_DESTROY_FORCE)) {
        for (uint32_t i = 0; i < seg.view.party_capacity; i++) {
            const struct ivshm_party *p = &seg.view.parties[i];
            if (p->kind == IVSHM_PARTY_HOST && ivshm_party_alive(p)) {
                unsigned long long pid = p->pid;
                ivshm_segment_detach(&seg);
                return ivshm_fail(err, IVSHM_E_EXIST, "%s: process %llu is still attached", path,
                                  pid);
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

/* A file of DIR that list reports: a segment file, or what a dead create
 * left (pid > 0). */
struct listed {
    char *file;
    char name[256];
    long pid;
};

static int cmp_listed(const void *a, const void *b)
{
    const struct listed *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->file, y->file);
}

static void list_one(const char *d, const struct listed *l, ivshm_list_fn fn, void *ctx, bool *stop)
{
    char path[IVSHM_PATH_MAX + 300];
    struct ivshm_segment seg;
    struct ivshm_error why;
    snprintf(path, sizeof(path), "%s/%s", d, l->file);
    if (strlen(path) >= IVSHM_PATH_MAX) {
        *stop = fn(l->name, path, NULL, &(struct ivshm_error){IVSHM_E_INVAL, "path too long"},
                   ctx) != 0;
    } else if (l->pid) {
        ivshm_fail(&why, IVSHM_E_NOTSEG,
                   "left by a create that did not finish (pid %ld); destroying %s removes it",
                   l->pid, l->name);
        *stop = fn(l->name, path, NULL, &why, ctx) != 0;
    } else if (ivshm_segment_attach_path(path, IVSHM_ATTACH_READONLY, NULL, &seg, &why) ==
               IVSHM_OK) {
        *stop = fn(l->name, path, &seg, NULL, ctx) != 0;
        ivshm_segment_detach(&seg);
    } else {
        *stop = fn(l->name, path, NULL, &why, ctx) != 0;
    }
}

int ivshm_segment_list(const char *dir, ivshm_list_fn fn, void *ctx, struct ivshm_error *err)
{
    char d[IVSHM_PATH_MAX];
    int rc = ivshm_dir_resolve(dir, d, sizeof(d), NULL, err);
    if (rc)
        return rc;
    DIR *dp = opendir(d);
    if (!dp)
        return ivshm_fail(err, errno == ENOENT ? IVSHM_E_NOENT : IVSHM_E_SYSTEM,
                          "directory '%s': %s", d, strerror(errno));
    struct listed *found = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    const size_t plen = strlen(IVSHM_FILE_PREFIX);
    while ((de = readdir(dp)) != NULL) {
        struct listed l = {.pid = 0};
        char name[IVSHM_NAME_SIZE];
        if (strncmp(de->d_name, IVSHM_FILE_PREFIX, plen) == 0)
            snprintf(l.name, sizeof(l.name), "%s", de->d_name + plen);
        else if (ivshm_leftover(d, de->d_name, name, &l.pid))
            snprintf(l.name, sizeof(l.name), "%s", name);
        else
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct listed *grown = realloc(found, cap * sizeof(*found));
            if (!grown)
                break;
            found = grown;
        }
        l.file = strdup(de->d_name);
        if (l.file)
            found[n++] = l;
    }
    closedir(dp);
    if (n)
        qsort(found, n, sizeof(*found), cmp_listed);
    bool stop = false;
    for (size_t i = 0; i < n; i++) {
        if (!stop)
            list_one(d, &found[i], fn, ctx, &stop);
        free(found[i].file);
    }
    free(found);
    return IVSHM_OK;
}
