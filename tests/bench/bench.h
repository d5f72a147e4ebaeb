/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-bench: ivshm rings and mempools side by side with DPDK's rte_ring and
 * rte_mempool, same loops, same iteration counts, same cores, same run.
 * Modelled on DPDK's app/test/test_ring_perf.c and test_mempool_perf.c.
 */
#ifndef IVSHM_BENCH_H
#define IVSHM_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#define BENCH_MAX_REPS 31

enum bench_impl { IMPL_IVSHM = 0, IMPL_DPDK = 1 };

struct bench_config {
    unsigned reps;          /* repetitions of each figure (median reported) */
    unsigned runs;          /* short runs per repetition (best kept) */
    uint64_t ring_elems;    /* elements moved per ring measurement */
    uint64_t mempool_objs;  /* objects got+put per thread per mempool measurement */
    uint64_t pipeline_pkts; /* packets per pipeline measurement */
    int cpu[2];             /* the two cores used; cpu[0] runs 1-core rows */
    double tsc_hz;
    const char *filter; /* only rows whose name contains this (NULL: all) */
    bool smoke;         /* --smoke: tiny runs that time nothing */
};

extern struct bench_config bench_cfg;

static inline uint64_t bench_rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

static inline void bench_pause(void)
{
    __builtin_ia32_pause();
}

/* One figure of one implementation: cycles per element (lower is better) or,
 * for rates, Mpps (higher is better). Returns a negative value on failure. */
typedef double (*bench_measure_fn)(void *arg, enum bench_impl impl);

/* Runs `measure` reps times for each implementation (alternating, so drift
 * hits both alike), records the medians as row `name`. Skipped when the
 * name does not match the filter. */
void bench_row(const char *name, const char *unit, bool higher_is_better, bench_measure_fn measure,
               void *arg);

bool bench_selected(const char *name);

/* Pins the calling thread to cpu. */
void bench_pin(int cpu);

/* Runs a on cpu[0] (the calling thread) and b on cpu[1] (a new thread),
 * releasing both at the same moment; returns when both are done. */
void bench_run_pair(void (*a)(void *), void *arga, void (*b)(void *), void *argb);

/* Sections. */
int bench_dpdk_init(void);
void bench_rings(void);
void bench_mempools(void);
void bench_pipeline(void);
void bench_port(void);

/* Fatal error: one line, exit status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
