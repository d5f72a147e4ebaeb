/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-bench: ivshm rings and mempools side by side with DPDK's rte_ring and
 * rte_mempool, same loops, same iteration counts, same cores, same run.
 * Modelled on DPDK's app/test/test_ring_perf.c and test_mempool_perf.c.
 */
#ifndef IVSHM_BENCH_H
#define IVSHM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_REPS 31

enum bench_impl { IMPL_IVSHM = 0, IMPL_DPDK = 1 };

struct bench_config {
    unsigned reps;          /* repetitions of each figure (median reported) */
    unsigned runs;          /* short runs per repetition (best kept) */
    uint64_t ring_elems;    /* elements moved per ring measurement */
    uint64_t mempool_objs;  /* objects got+put per thread per mempool measurement */
    uint64_t pipeline_pkts; /* packets per pipeline measurement */
    uint64_t latency_trips; /* round trips per latency run */
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

/* Records a row measured by its own method (the latency rows). */
void bench_add_row(const char *name, const char *unit, bool higher_is_better, double ivshm,
                   double dpdk);
/* The same with something else than DPDK in the second column: `versus`
 * names it (the table and the JSON say so). */
void bench_add_row_versus(const char *name, const char *unit, bool higher_is_better, double ivshm,
                          double other, const char *versus);
/* The ivshm figure of a row recorded earlier in this run; 0 when none. */
double bench_row_figure(const char *name);

bool bench_selected(const char *name);

/* Median of v[0..n) (sorts v). */
double bench_median(double *v, unsigned n);

/* Pins the calling thread to cpu. */
void bench_pin(int cpu);

/* Runs a on cpu[0] (the calling thread) and b on cpu[1] (a new thread),
 * releasing both at the same moment; returns when both are done. */
void bench_run_pair(void (*a)(void *), void *arga, void (*b)(void *), void *argb);

/* ---- our programs as processes (bench_proc.c) ---- */

/* The path of build/bin/PROGRAM (next to this program's directory) into out;
 * dies when it is not there. Returns out. */
const char *bench_bin(const char *program, char *out, size_t size);
/* Starts argv[0] with argv; its stdout goes to out_fd (-1: /dev/null). */
pid_t bench_spawn(char *const argv[], int out_fd);
/* Its exit status, 128 + signal when killed. */
int bench_wait_exit(pid_t pid);
/* One read of a child's output from fd, appended to out[*len..size - 1)
 * (EINTR retried); when the buffer fills it starts over, as only the last
 * lines matter. Returns what read returned: 0 at the end, < 0 on error. */
ssize_t bench_read_more(int fd, char *out, size_t size, size_t *len);
void bench_sleep_seconds(double s);
/* Runs build/bin/ivshm with args (NULL-terminated, at most 14); dies when it
 * fails. */
void bench_ivshm(const char *const args[]);
/* enter: a fresh directory on tmpfs as IVSHM_DIR; !enter: removes it (its
 * segments destroyed first). */
void bench_segment_dir(bool enter);

/* Sections. */
int bench_dpdk_init(void);
void bench_rings(void);
void bench_mempools(void);
void bench_pipeline(void);
void bench_latency(void);
void bench_port(void);
void bench_tool(void);

/* Fatal error: one line, exit status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
