/* SPDX-License-Identifier: BSD-3-Clause */
/* Building an ivshm segment in anonymous shared memory for the benchmark. */
#ifndef IVSHM_BENCH_SEGMENT_H
#define IVSHM_BENCH_SEGMENT_H

#include "common/layout_builder.h"

struct bench_object {
    const char *name;
    uint32_t type;  /* IVSHM_OBJ_* */
    uint32_t a;     /* ring: slots; mempool: count; memzone: alignment */
    uint32_t b;     /* ring: mode; mempool: object size */
    uint64_t bytes; /* memzone: size */
};

/* Maps `size` bytes (a power of two), builds and validates a segment holding
 * `objs`; dies with a one-line message on any error. */
void *bench_segment_build(uint64_t size, const struct bench_object *objs, unsigned count,
                          struct ivshm_segment_view *view);

void bench_segment_find(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                        struct ivshm_dir_entry *out);

/* Claims a party slot for a benchmark thread. */
int bench_party(const struct ivshm_segment_view *view, const char *label);

#endif
