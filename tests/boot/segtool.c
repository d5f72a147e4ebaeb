/* SPDX-License-Identifier: BSD-3-Clause */
/* segtool: host helper for the boot tests.
 *
 *   segtool create FILE SIZE NAME [ring:NAME:SLOTS] [memzone:NAME:SIZE]
 *                                  [mempool:NAME:COUNT:OBJSIZE] ...
 *       builds a segment file with the common builder (tests that must not
 *       depend on the ivshm CLI)
 *   segtool corrupt IN OUT KIND
 *       copies a good segment and damages one thing. KIND: magic, version,
 *       checksum, past-end, overlap, huge-count, unterminated-name. Where the
 *       damage sits behind the checksum check, the checksum is recomputed so
 *       that the deeper check is the one that fires.
 *   segtool list FILE
 *       prints the objects as the probe does ("object segment=... type=...")
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/layout_builder.h"

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "segtool: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(2);
}

static void *map_file(const char *path, uint64_t *size, int create_size_log)
{
    int fd = open(path, create_size_log ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0644);
    if (fd < 0)
        die("%s: cannot open", path);
    if (create_size_log) {
        if (ftruncate(fd, (off_t)*size) < 0)
            die("%s: cannot size", path);
    } else {
        struct stat st;
        fstat(fd, &st);
        *size = (uint64_t)st.st_size;
    }
    void *p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        die("%s: cannot map", path);
    return p;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 0);
    if (*end == 'k' || *end == 'K')
        v <<= 10;
    else if (*end == 'M')
        v <<= 20;
    else if (*end == 'G')
        v <<= 30;
    return v;
}

static int cmd_create(int argc, char **argv)
{
    if (argc < 5)
        die("%s", "usage: segtool create FILE SIZE NAME OBJECT...");
    uint64_t size = parse_size(argv[3]);
    uint8_t *base = map_file(argv[2], &size, 1);
    struct ivshm_builder b;
    struct ivshm_error err;
    if (ivshm_builder_init(&b, base, size, 4096, -1, argv[4], 64, IVSHM_DEFAULT_PARTIES, &err))
        die("%s", err.msg);
    for (int i = 5; i < argc; i++) {
        char kind[16], name[64];
        unsigned long long a = 0, c = 0;
        int rc;
        if (sscanf(argv[i], "%15[a-z]:%63[^:]:%llu:%llu", kind, name, &a, &c) < 3)
            die("bad object spec '%s'", argv[i]);
        if (!strcmp(kind, "ring"))
            rc = ivshm_builder_add_ring(&b, name, (uint32_t)a, IVSHM_RING_SPSC, &err);
        else if (!strcmp(kind, "memzone"))
            rc = ivshm_builder_add_memzone(&b, name, a, 64, &err);
        else if (!strcmp(kind, "mempool"))
            rc = ivshm_builder_add_mempool(&b, name, (uint32_t)a, (uint32_t)c, &err);
        else
            die("unknown object kind '%s'", kind);
        if (rc)
            die("%s", err.msg);
    }
    ivshm_builder_finalize(&b);
    munmap(base, size);
    return 0;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    if (system(cmd) != 0)
        die("cannot copy to %s", to);
}

static void reseal(struct ivshm_segment_header *h, uint8_t *base)
{
    h->checksum = ivshm_segment_checksum(h, (const struct ivshm_dir_entry *)(base + h->dir_offset),
                                         h->object_count);
}

static int cmd_corrupt(int argc, char **argv)
{
    if (argc != 5)
        die("%s", "usage: segtool corrupt IN OUT KIND");
    copy_file(argv[2], argv[3]);
    uint64_t size;
    uint8_t *base = map_file(argv[3], &size, 0);
    struct ivshm_segment_header *h = (void *)base;
    struct ivshm_dir_entry *dir = (void *)(base + h->dir_offset);
    const char *kind = argv[4];
    if (!strcmp(kind, "magic")) {
        h->magic[7] ^= 0x20; /* "IVSHMSEg": still clearly not all zero */
    } else if (!strcmp(kind, "version")) {
        h->abi_version = IVSHM_ABI_VERSION + 1;
        reseal(h, base);
    } else if (!strcmp(kind, "checksum")) {
        h->checksum ^= 0x1;
    } else if (!strcmp(kind, "past-end")) {
        if (h->object_count < 1)
            die("%s", "past-end needs an object");
        dir[h->object_count - 1].offset = h->segment_size - 64;
        reseal(h, base);
    } else if (!strcmp(kind, "overlap")) {
        if (h->object_count < 2)
            die("%s", "overlap needs two objects");
        dir[1].offset = dir[0].offset;
        reseal(h, base);
    } else if (!strcmp(kind, "huge-count")) {
        h->object_count = 0xFFFFFFF0u;
    } else if (!strcmp(kind, "unterminated-name")) {
        if (h->object_count < 1)
            die("%s", "unterminated-name needs an object");
        memset(dir[0].name, 'A', IVSHM_NAME_SIZE);
        reseal(h, base);
    } else {
        die("unknown corruption '%s'", kind);
    }
    munmap(base, size);
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    if (argc != 3)
        die("%s", "usage: segtool list FILE");
    uint64_t size;
    uint8_t *base = map_file(argv[2], &size, 0);
    struct ivshm_segment_view view;
    struct ivshm_error err;
    if (ivshm_segment_validate(base, size, &view, &err))
        die("%s", err.msg);
    for (uint32_t i = 0; i < view.object_count; i++)
        printf("object segment=%s type=%s name=%s offset=%llu length=%llu\n", view.name,
               ivshm_object_type_name(view.dir[i].type), view.dir[i].name,
               (unsigned long long)view.dir[i].offset, (unsigned long long)view.dir[i].length);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return cmd_create(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "corrupt"))
        return cmd_corrupt(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return cmd_list(argc, argv);
    fprintf(stderr, "usage: segtool create|corrupt|list ...\n");
    return 2;
}
