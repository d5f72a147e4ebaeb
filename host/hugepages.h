/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal to libivshm (not installed): page sizes and hugepage accounting of the directory a
 * segment lives in.
 *
 * hugetlbfs hands out pages from a pool the administrator sizes
 * (/proc/sys/vm/nr_hugepages). Touching a page of a file when the pool is
 * empty kills the process with SIGBUS, so the library checks the pool before
 * it allocates anything and says how many pages are needed and how many free.
 */
#ifndef IVSHM_HOST_HUGEPAGES_INTERNAL_H
#define IVSHM_HOST_HUGEPAGES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ivshm/status.h"

/* What the file system holding `dir` offers. */
struct ivshm_dir_info {
    bool hugetlbfs;     /* dir is on hugetlbfs */
    uint64_t page_size; /* hugepage size there, else the base page size */
};

/* Fills *info from statfs(dir). IVSHM_E_NOENT when dir does not exist or is
 * not a directory, IVSHM_E_SYSTEM when it is not writable (err says which). */
int ivshm_dir_info(const char *dir, struct ivshm_dir_info *info, struct ivshm_error *err);

/* Hugepages of `page_size` that are free and not reserved: from
 * /sys/kernel/mm/hugepages/hugepages-<kB>kB/{free,resv}_hugepages, or for a
 * node >= 0 from /sys/devices/system/node/node<N>/hugepages/.../free_hugepages
 * (minus the global reservations, which may land on any node). Also bounded
 * by the free blocks of the mount at `dir` when it has a size= limit (dir may
 * be NULL). Returns IVSHM_OK and *free, or IVSHM_E_SYSTEM. */
int ivshm_hugepages_free(const char *dir, uint64_t page_size, int node, uint64_t *free,
                         struct ivshm_error *err);

/* IVSHM_OK when `bytes` of hugepages can be had at dir, else IVSHM_E_NOSPC
 * with "DIR: need N hugepages of K kB for SIZE bytes, only F free (...)". */
int ivshm_hugepages_check(const char *dir, uint64_t page_size, int node, uint64_t bytes,
                          struct ivshm_error *err);

/* Smallest power of two >= max(bytes, page_size) (page_size a power of two).
 * 0 when that would exceed 2^62. */
uint64_t ivshm_round_segment_size(uint64_t bytes, uint64_t page_size);

#endif
