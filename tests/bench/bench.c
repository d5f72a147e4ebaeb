/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ivshm-bench main: options, CPU selection, TSC calibration, the repetition
 * harness, the table and build/bench/results.json.
 *
 *   ivshm-bench [--smoke] [--reps N] [--runs N] [--filter TEXT] [--out FILE]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_CFLAGS_STR
#define BENCH_CFLAGS_STR "(unknown)"
#endif

struct bench_config bench_cfg = {
    .reps = 7,
    .runs = 7,
    .ring_elems = 1u << 19,
    .mempool_objs = 1u << 18,
    .pipeline_pkts = 1u << 18,
};

struct row {
    char name[64];
    const char *unit;
    bool higher_is_better;
    double ivshm, dpdk, ratio;
};

#define MAX_ROWS 64
static struct row rows[MAX_ROWS];
static unsigned row_count;

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ivshm-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

bool bench_selected(const char *name)
{
    return bench_cfg.filter == NULL || strstr(name, bench_cfg.filter) != NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_row(const char *name, const char *unit, bool higher_is_better, bench_measure_fn measure,
               void *arg)
{
    if (!bench_selected(name))
        return;
    if (row_count == MAX_ROWS)
        bench_die("more than %d rows", MAX_ROWS);
    double iv[BENCH_MAX_REPS], dp[BENCH_MAX_REPS];
    for (unsigned r = 0; r < bench_cfg.reps; r++) {
        /* A repetition is the best of `runs` short runs: on a shared machine
         * a run during which the scheduler preempted one of our threads
         * measures the other process, not the ring. */
        for (unsigned k = 0; k < bench_cfg.runs; k++) {
            double a = measure(arg, IMPL_IVSHM);
            double b = measure(arg, IMPL_DPDK);
            if (a <= 0 || b <= 0)
                bench_die("%s: measurement failed (ivshm %g, dpdk %g)", name, a, b);
            bool better_a = higher_is_better ? a > iv[r] : a < iv[r];
            bool better_b = higher_is_better ? b > dp[r] : b < dp[r];
            iv[r] = k == 0 || better_a ? a : iv[r];
            dp[r] = k == 0 || better_b ? b : dp[r];
        }
    }
    struct row *row = &rows[row_count++];
    snprintf(row->name, sizeof(row->name), "%s", name);
    row->unit = unit;
    row->higher_is_better = higher_is_better;
    row->ivshm = median(iv, bench_cfg.reps);
    row->dpdk = median(dp, bench_cfg.reps);
    /* ratio > 1: ivshm is faster (DPDK's cost over ours, or our rate over DPDK's). */
    row->ratio = higher_is_better ? row->ivshm / row->dpdk : row->dpdk / row->ivshm;
    printf("%-32s %10.2f %10.2f  %-11s %6.2f\n", row->name, row->ivshm, row->dpdk, row->unit,
           row->ratio);
    fflush(stdout);
}

void bench_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (rc != 0)
        bench_die("cannot pin a thread to cpu %d: %s", cpu, strerror(rc));
}

struct pair_arg {
    void (*fn)(void *);
    void *arg;
    int cpu;
    _Atomic unsigned *ready;
};

static void *pair_thread(void *p)
{
    struct pair_arg *pa = p;
    bench_pin(pa->cpu);
    /* Both threads spin until both are pinned and running. */
    atomic_fetch_add(pa->ready, 1);
    while (atomic_load(pa->ready) != 2)
        bench_pause();
    pa->fn(pa->arg);
    return NULL;
}

void bench_run_pair(void (*a)(void *), void *arga, void (*b)(void *), void *argb)
{
    _Atomic unsigned ready = 0;
    struct pair_arg pa = {a, arga, bench_cfg.cpu[0], &ready};
    struct pair_arg pb = {b, argb, bench_cfg.cpu[1], &ready};
    pthread_t tid;
    int rc = pthread_create(&tid, NULL, pair_thread, &pb);
    if (rc != 0)
        bench_die("cannot start a thread: %s", strerror(rc));
    pair_thread(&pa);
    pthread_join(tid, NULL);
    bench_pin(bench_cfg.cpu[0]);
}

static void pick_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        bench_die("sched_getaffinity: %s", strerror(errno));
    int found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &set))
            bench_cfg.cpu[found++] = c;
    if (found < 2)
        bench_die("needs two CPUs, this process may use %d", found);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void calibrate_tsc(void)
{
    double t0 = now_sec();
    uint64_t c0 = bench_rdtsc();
    while (now_sec() - t0 < 0.05)
        ;
    uint64_t c1 = bench_rdtsc();
    bench_cfg.tsc_hz = (c1 - c0) / (now_sec() - t0);
}

static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = 0;
                snprintf(out, size, "%s", v);
            }
            break;
        }
    }
    fclose(f);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Written to FILE.tmp and renamed, so no half-written results file is left. */
static void write_json(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        bench_die("cannot write %s: %s", tmp, strerror(errno));
    fputs("[\n", f);
    for (unsigned i = 0; i < row_count; i++) {
        fputs("  {\"name\": ", f);
        json_string(f, rows[i].name);
        fprintf(f, ", \"ivshm\": %.3f, \"dpdk\": %.3f, \"unit\": ", rows[i].ivshm, rows[i].dpdk);
        json_string(f, rows[i].unit);
        fprintf(f, ", \"ratio\": %.3f}%s\n", rows[i].ratio, i + 1 < row_count ? "," : "");
    }
    fputs("]\n", f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        bench_die("cannot write %s: %s", path, strerror(e));
    }
}

static unsigned long parse_count(const char *opt, const char *v, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n == 0 || n > max || v[0] == '-')
        bench_die("%s '%s': expected a whole number from 1 to %lu", opt, v, max);
    return n;
}

static void usage(FILE *f)
{
    fputs("usage: ivshm-bench [--smoke] [--reps N] [--runs N] [--filter TEXT] [--out FILE]\n"
          "  --smoke        tiny iteration counts: checks that everything runs, times nothing\n"
          "  --reps N       repetitions per figure, median reported (default 7)\n"
          "  --runs N       short runs per repetition, best kept (default 7)\n"
          "  --filter TEXT  only rows whose name contains TEXT\n"
          "  --out FILE     results file (default build/bench/results.json)\n",
          f);
}

int main(int argc, char **argv)
{
    const char *out = "build/bench/results.json";
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--smoke") == 0) {
            smoke = true;
        } else if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (v && strcmp(a, "--reps") == 0) {
            bench_cfg.reps = parse_count(a, v, BENCH_MAX_REPS);
            i++;
        } else if (v && strcmp(a, "--runs") == 0) {
            bench_cfg.runs = parse_count(a, v, 100);
            i++;
        } else if (v && strcmp(a, "--filter") == 0) {
            bench_cfg.filter = v;
            i++;
        } else if (v && strcmp(a, "--out") == 0) {
            out = v;
            i++;
        } else {
            fprintf(stderr, "ivshm-bench: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (smoke) {
        bench_cfg.smoke = true;
        bench_cfg.runs = 1;
        bench_cfg.ring_elems = 1u << 12;
        bench_cfg.mempool_objs = 1u << 10;
        bench_cfg.pipeline_pkts = 1u << 12;
    }

    pick_cpus();
    bench_pin(bench_cfg.cpu[0]);
    calibrate_tsc();
    if (bench_dpdk_init() != 0)
        bench_die("rte_eal_init failed (DPDK mempool rows need it)");
    bench_pin(bench_cfg.cpu[0]);

    char cpu[128];
    cpu_model(cpu, sizeof(cpu));
    printf("ivshm-bench: %s%u repetitions per figure, median reported; each repetition the "
           "best of %u runs\n",
           smoke ? "SMOKE (numbers mean nothing), " : "", bench_cfg.reps, bench_cfg.runs);
    printf("cpu:      %s, TSC %.3f GHz, cores %d and %d\n", cpu, bench_cfg.tsc_hz / 1e9,
           bench_cfg.cpu[0], bench_cfg.cpu[1]);
    char load[64] = "unknown";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fgets(load, sizeof(load), lf))
            load[strcspn(load, "\n")] = 0;
        fclose(lf);
    }
    printf("load:     %s (/proc/loadavg at start; other processes disturb the figures)\n", load);
    printf("compiler: gcc %s\n", __VERSION__);
    printf("flags:    %s\n", BENCH_CFLAGS_STR);
    printf("ratio = DPDK cost / ivshm cost (Mpps: ivshm / DPDK); above 1: ivshm is faster\n\n");
    printf("%-32s %10s %10s  %-11s %6s\n", "name", "ivshm", "dpdk", "unit", "ratio");

    bench_rings();
    bench_mempools();
    bench_pipeline();
    bench_port();

    if (row_count == 0)
        bench_die("no row matches filter '%s'", bench_cfg.filter);
    write_json(out);
    printf("\nwrote %s (%u rows)\n", out, row_count);
    return 0;
}
