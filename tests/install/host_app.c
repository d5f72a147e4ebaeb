/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An out-of-tree host program: tests/install/test_install.py builds it with
 * nothing but `pkg-config --cflags --libs ivshm` pointed at an install.
 *
 *     host_app DIR
 *
 * Creates segment "inst-host" in DIR with two rings and a mempool, forks, and
 * parent and child pass COUNT buffers through it: the parent takes a buffer,
 * writes a sequence number into it and sends it on "p2c"; the child checks
 * it, writes the number's complement and sends it back on "c2p"; the parent
 * checks that and frees the buffer. Prints where libivshm was loaded from
 * (the test compares it with the install) and "host-app: N entries" on
 * success; exit status 0 iff every entry came back right and the pool is
 * full again at the end.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ivshm/ivshm.h>

#define COUNT     100000u
#define POOL_SIZE 256u
#define SLOTS     512u /* > POOL_SIZE: a ring never fills */

struct endpoint {
    struct ivshm_segment seg;
    struct ivshm_ring send, recv;
    struct ivshm_mempool pool;
};

static void die(const char *who, const struct ivshm_error *err)
{
    fprintf(stderr, "host-app: %s: %s\n", who, err->msg);
    exit(1);
}

/* Every call into libivshm's segment API is in the two functions below (the
 * rest is ring and mempool operations), so a rename touches only them. */
static void create_segment(const char *dir)
{
    struct ivshm_object_spec objects[] = {
        {.type = IVSHM_OBJ_RING, .name = "p2c", .slots = SLOTS, .mode = IVSHM_RING_SPSC},
        {.type = IVSHM_OBJ_RING, .name = "c2p", .slots = SLOTS, .mode = IVSHM_RING_SPSC},
        {.type = IVSHM_OBJ_MEMPOOL, .name = "bufs", .count = POOL_SIZE, .obj_size = 64},
    };
    struct ivshm_create_opts opts = {.name = "inst-host",
                                     .dir = dir,
                                     .size = 1 << 20,
                                     .numa_node = -1,
                                     .objects = objects,
                                     .object_count = 3};
    struct ivshm_create_result result;
    struct ivshm_error err;
    if (ivshm_segment_create(&opts, &result, &err) != IVSHM_OK)
        die("create", &err);
}

static void open_endpoint(const char *dir, const char *label, const char *send, const char *recv,
                          struct endpoint *ep)
{
    struct ivshm_error err;
    if (ivshm_segment_attach(dir, "inst-host", IVSHM_ATTACH_CLAIM, label, &ep->seg, &err) ||
        ivshm_ring_lookup(&ep->seg.view, send, &ep->send, &err) ||
        ivshm_ring_lookup(&ep->seg.view, recv, &ep->recv, &err) ||
        ivshm_mempool_lookup(&ep->seg.view, "bufs", &ep->pool, &err))
        die(label, &err);
}

static void destroy_segment(const char *dir)
{
    struct ivshm_error err;
    if (ivshm_segment_destroy(dir, "inst-host", 0, &err) != IVSHM_OK)
        die("destroy", &err);
}

static int child(const char *dir)
{
    struct endpoint ep;
    open_endpoint(dir, "child", "c2p", "p2c", &ep);
    for (uint64_t expect = 0; expect < COUNT;) {
        uint64_t handle;
        if (ivshm_ring_dequeue(&ep.recv, &handle) != IVSHM_OK)
            continue;
        if (ivshm_mempool_index(&ep.pool, handle) == UINT32_MAX) {
            fprintf(stderr, "host-app: child: entry %llu is not a buffer of the pool\n",
                    (unsigned long long)expect);
            return 1;
        }
        uint64_t *payload = ivshm_mempool_ptr(&ep.pool, handle);
        if (*payload != expect) {
            fprintf(stderr, "host-app: child: got %llu, expected %llu\n",
                    (unsigned long long)*payload, (unsigned long long)expect);
            return 1;
        }
        *payload = ~expect;
        while (ivshm_ring_enqueue(&ep.send, handle) != IVSHM_OK)
            ;
        expect++;
    }
    ivshm_segment_detach(&ep.seg);
    return 0;
}

static int parent(const char *dir)
{
    struct endpoint ep;
    open_endpoint(dir, "parent", "p2c", "c2p", &ep);
    uint64_t sent = 0, received = 0;
    while (received < COUNT) {
        uint64_t handle;
        if (sent < COUNT && ivshm_mempool_get(&ep.pool, NULL, &handle) == IVSHM_OK) {
            *(uint64_t *)ivshm_mempool_ptr(&ep.pool, handle) = sent++;
            if (ivshm_ring_enqueue(&ep.send, handle) != IVSHM_OK) {
                fprintf(stderr, "host-app: parent: ring p2c full\n");
                return 1;
            }
        }
        if (ivshm_ring_dequeue(&ep.recv, &handle) != IVSHM_OK)
            continue;
        uint64_t *payload = ivshm_mempool_ptr(&ep.pool, handle);
        if (ivshm_mempool_index(&ep.pool, handle) == UINT32_MAX || *payload != ~received) {
            fprintf(stderr, "host-app: parent: entry %llu came back wrong\n",
                    (unsigned long long)received);
            return 1;
        }
        if (ivshm_mempool_put(&ep.pool, NULL, handle) != IVSHM_OK) {
            fprintf(stderr, "host-app: parent: put of entry %llu failed\n",
                    (unsigned long long)received);
            return 1;
        }
        received++;
    }
    uint32_t free_count = ivshm_mempool_free_count(&ep.pool);
    ivshm_segment_detach(&ep.seg);
    if (free_count != POOL_SIZE) {
        fprintf(stderr, "host-app: %u of %u buffers free at the end\n", free_count, POOL_SIZE);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: host_app DIR\n");
        return 2;
    }
    Dl_info lib;
    if (dladdr((void *)ivshm_segment_create, &lib) && lib.dli_fname)
        printf("host-app: libivshm from %s\n", lib.dli_fname);
    alarm(60); /* a peer stuck for good ends the test, not hangs it */
    create_segment(argv[1]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("host-app: fork");
        return 1;
    }
    if (pid == 0)
        _exit(child(argv[1]));
    int rc = parent(argv[1]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = 1;
    destroy_segment(argv[1]);
    if (rc == 0)
        printf("host-app: %u entries from parent to child and back\n", COUNT);
    return rc;
}
