/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "host/hugepages.h"
#include "common/internal.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

int ivshm_dir_info(const char *dir, struct ivshm_dir_info *info, struct ivshm_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return ivshm_fail(err, errno == ENOENT ? IVSHM_E_NOENT : IVSHM_E_SYSTEM,
                          "directory '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ivshm_fail(err, IVSHM_E_NOENT, "directory '%s': not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "directory '%s': not writable (%s)", dir,
                          strerror(errno));
    struct statfs fs;
    if (statfs(dir, &fs) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "directory '%s': statfs: %s", dir, strerror(errno));
    info->hugetlbfs = (unsigned long)fs.f_type == (unsigned long)HUGETLBFS_MAGIC;
    info->page_size = info->hugetlbfs ? (uint64_t)fs.f_bsize : (uint64_t)sysconf(_SC_PAGESIZE);
    return IVSHM_OK;
}

/* Reads one unsigned number from a sysfs file; -1 when it cannot. */
static int read_u64_file(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long v;
    int n = fscanf(f, "%llu", &v);
    fclose(f);
    if (n != 1)
        return -1;
    *out = v;
    return 0;
}

int ivshm_hugepages_free(const char *dir, uint64_t page_size, int node, uint64_t *free_pages,
                         struct ivshm_error *err)
{
    char path[256];
    unsigned long long kb = (unsigned long long)(page_size >> 10);
    uint64_t free_count, resv;
    snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages", kb);
    if (read_u64_file(path, &free_count) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/resv_hugepages", kb);
    if (read_u64_file(path, &resv) != 0)
        return ivshm_fail(err, IVSHM_E_SYSTEM, "%s: %s", path, strerror(errno));
    uint64_t avail = free_count > resv ? free_count - resv : 0;
    if (node >= 0) {
        uint64_t node_free;
        snprintf(path, sizeof(path),
                 "/sys/devices/system/node/node%d/hugepages/hugepages-%llukB/free_hugepages", node,
                 kb);
        if (read_u64_file(path, &node_free) == 0) {
            /* Reservations are not broken down by node: assume the worst. */
            node_free = node_free > resv ? node_free - resv : 0;
            if (node_free < avail)
                avail = node_free;
        }
    }
    struct statfs fs;
    /* A mount with size= reports its own limit in f_blocks/f_bavail. */
    if (dir && statfs(dir, &fs) == 0 && fs.f_blocks > 0 && (uint64_t)fs.f_bavail < avail)
        avail = (uint64_t)fs.f_bavail;
    *free_pages = avail;
    return IVSHM_OK;
}

int ivshm_hugepages_check(const char *dir, uint64_t page_size, int node, uint64_t bytes,
                          struct ivshm_error *err)
{
    uint64_t free_pages;
    int rc = ivshm_hugepages_free(dir, page_size, node, &free_pages, err);
    if (rc)
        return rc;
    uint64_t need = (bytes + page_size - 1) / page_size;
    if (need <= free_pages)
        return IVSHM_OK;
    char where[32] = "";
    if (node >= 0)
        snprintf(where, sizeof(where), " on node %d", node);
    return ivshm_fail(err, IVSHM_E_NOSPC,
                      "%s: need %llu hugepages of %llu kB for %llu bytes, only %llu free%s "
                      "(raise /proc/sys/vm/nr_hugepages)",
                      dir, (unsigned long long)need, (unsigned long long)(page_size >> 10),
                      (unsigned long long)bytes, (unsigned long long)free_pages, where);
}

uint64_t ivshm_round_segment_size(uint64_t bytes, uint64_t page_size)
{
    if (bytes < page_size)
        bytes = page_size;
    if (bytes > (1ull << 62))
        return 0;
    return ivshm_next_pow2(bytes);
}
