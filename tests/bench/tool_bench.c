/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tool/pktgen-fwd64: Mpps of the real tools, `ivshm pktgen` against
 * `ivshm-fwd`, two processes pinned to the two cores, 64-byte frames,
 * 10,000,000 frames a run (pktgen's own figure: frames received intact per
 * second over its run). As for the other rows a repetition is the best of a
 * few runs (the hypervisor moves the two vCPUs between physical cores, and
 * the rate of anything that passes cache lines between them moves by 3-10x
 * with it), and the figure the median of the repetitions: 3 x 3 runs. Each frame is filled,
 * checksummed (CRC-32C), sent, rewritten by the forwarder, received, checked (sequence, checksum,
 * address) and freed: what pipeline/fwd64 does in one process with less
 * checking. The second column is not DPDK but pipeline/fwd64 (ivshm) of the
 * same run, and the ratio is pktgen's rate over it (issue 12: at least 0.5).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SEGMENT "benchtool"

/* One pktgen run: its Mpps, or dies. */
static double run_pktgen(uint64_t frames)
{
    char ivshm[PATH_MAX + 16], count[32], cpu[16];
    bench_bin("ivshm", ivshm, sizeof(ivshm));
    snprintf(count, sizeof(count), "%llu", (unsigned long long)frames);
    snprintf(cpu, sizeof(cpu), "%d", bench_cfg.cpu[0]);
    char *argv[] = {ivshm, "pktgen", SEGMENT,  "--count",   count, "--cpu",
                    cpu,   "--json", "--keep", "--timeout", "60",  NULL};
    int pipefd[2];
    if (pipe(pipefd) != 0)
        bench_die("pipe: %s", strerror(errno));
    pid_t pid = bench_spawn(argv, pipefd[1]);
    close(pipefd[1]);
    char out[4096];
    size_t len = 0;
    while (bench_read_more(pipefd[0], out, sizeof(out), &len) > 0)
        ; /* only the summary, the last line, matters */
    out[len] = '\0';
    close(pipefd[0]);
    int status = bench_wait_exit(pid);
    const char *mpps = strstr(out, "\"mpps\":");
    if (status != 0 || !mpps || !strstr(out, "\"lost\":0,"))
        bench_die("tool/pktgen-fwd64: pktgen exit %d, output '%.300s'", status, out);
    return strtod(mpps + 7, NULL);
}

void bench_tool(void)
{
    if (!bench_selected("tool/pktgen-fwd64"))
        return;
    double pipeline = bench_row_figure("pipeline/fwd64");
    if (pipeline <= 0)
        bench_die("tool/pktgen-fwd64 is compared with pipeline/fwd64 of the same run: select "
                  "both (e.g. --filter fwd64)");
    bench_segment_dir(true);
    bench_ivshm((const char *[]){"create", SEGMENT, "--size", "16M", "--preset", "fwd", NULL});
    char fwd[PATH_MAX + 16], cpu[16];
    bench_bin("ivshm-fwd", fwd, sizeof(fwd));
    snprintf(cpu, sizeof(cpu), "%d", bench_cfg.cpu[1]);
    char *fwd_argv[] = {fwd, SEGMENT, "--cpu", cpu, NULL};
    pid_t fwd_pid = bench_spawn(fwd_argv, -1);

    /* Each run is 10M frames: at most 3 x 3 of them. */
    const uint64_t frames = bench_cfg.smoke ? 100000 : 10000000;
    const unsigned reps = bench_cfg.reps < 3 ? bench_cfg.reps : 3;
    const unsigned runs = bench_cfg.runs < 3 ? bench_cfg.runs : 3;
    double mpps[BENCH_MAX_REPS];
    for (unsigned r = 0; r < reps; r++) {
        mpps[r] = 0;
        for (unsigned k = 0; k < runs; k++) {
            double m = run_pktgen(frames);
            mpps[r] = m > mpps[r] ? m : mpps[r];
        }
    }
    bench_add_row_versus("tool/pktgen-fwd64", "Mpps", true, bench_median(mpps, reps), pipeline,
                         "pipeline/fwd64");

    kill(fwd_pid, SIGKILL); /* --keep left it running; the segment goes next */
    bench_wait_exit(fwd_pid);
    bench_ivshm((const char *[]){"destroy", SEGMENT, "--force", NULL});
    bench_segment_dir(false);
}
