/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A program that knows libivshm only through its installed headers and the
 * shared library: creates a segment in the directory argv[1], moves objects
 * through a ring and a mempool (the inline get/put call the library's
 * internal cold paths), destroys it. Exit 0 on success, else one line.
 */
#include <stdio.h>
#include <string.h>

#include <ivshm/ivshm.h>

static int die(const char *what, const struct ivshm_error *err)
{
    fprintf(stderr, "so_user: %s: %s (%s)\n", what, err->msg, ivshm_strerror(err->code));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    static const struct ivshm_object_spec objs[] = {
        {.type = IVSHM_OBJ_RING, .name = "rx", .slots = 64},
        {.type = IVSHM_OBJ_MEMPOOL, .name = "pool", .count = 100, .obj_size = 64},
    };
    struct ivshm_create_opts o = {.name = "so-user",
                                  .dir = argv[1],
                                  .size = 1 << 20,
                                  .numa_node = -1,
                                  .objects = objs,
                                  .object_count = 2};
    struct ivshm_error err = {0};
    if (ivshm_segment_create(&o, NULL, &err) != IVSHM_OK)
        return die("create", &err);
    struct ivshm_segment seg;
    struct ivshm_ring rx;
    struct ivshm_mempool mp;
    struct ivshm_mempool_cache cache;
    if (ivshm_segment_attach(argv[1], "so-user", IVSHM_ATTACH_CLAIM, "so_user", &seg, &err) ||
        ivshm_ring_lookup(&seg.view, "rx", &rx, &err) ||
        ivshm_mempool_lookup(&seg.view, "pool", &mp, &err))
        return die("attach", &err);
    ivshm_mempool_cache_init(&cache, 16);
    uint64_t h[8];
    for (int round = 0; round < 100; round++) {
        if (ivshm_mempool_get_bulk(&mp, &cache, h, 8) != IVSHM_OK ||
            ivshm_ring_enqueue_burst(&rx, h, 8, NULL) != 8 ||
            ivshm_ring_dequeue_bulk(&rx, h, 8, NULL) != 8 ||
            ivshm_mempool_put_bulk(&mp, &cache, h, 8, NULL) != IVSHM_OK) {
            fprintf(stderr, "so_user: round %d failed\n", round);
            return 1;
        }
    }
    ivshm_mempool_cache_flush(&mp, &cache);
    if (ivshm_mempool_free_count(&mp) != 100) {
        fprintf(stderr, "so_user: %u free, want 100\n", ivshm_mempool_free_count(&mp));
        return 1;
    }
    ivshm_segment_detach(&seg);
    if (ivshm_segment_destroy(argv[1], "so-user", 0, &err) != IVSHM_OK)
        return die("destroy", &err);
    return 0;
}
