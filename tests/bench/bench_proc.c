/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rows that run our programs as processes (port/null64,
 * tool/pktgen-fwd64): where the programs are, starting them, waiting for
 * them, a scratch segment directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static char bin_dir[PATH_MAX];
static char seg_dir[64];

const char *bench_bin(const char *program, char *out, size_t size)
{
    if (!bin_dir[0]) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            bench_die("readlink /proc/self/exe: %s", strerror(errno));
        exe[n] = '\0';
        snprintf(bin_dir, sizeof(bin_dir), "%s/../bin", dirname(exe));
    }
    snprintf(out, size, "%s/%s", bin_dir, program);
    if (access(out, X_OK) != 0)
        bench_die("%s: %s (make builds it)", out, strerror(errno));
    return out;
}

pid_t bench_spawn(char *const argv[], int out_fd)
{
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        if (out_fd >= 0)
            dup2(out_fd, STDOUT_FILENO);
        int null = open("/dev/null", O_WRONLY);
        if (out_fd < 0 && null >= 0)
            dup2(null, STDOUT_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "ivshm-bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int bench_wait_exit(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ssize_t bench_read_more(int fd, char *out, size_t size, size_t *len)
{
    ssize_t n;
    do
        n = read(fd, out + *len, size - 1 - *len);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        *len += (size_t)n;
        if (*len + 1 >= size)
            *len = 0;
    }
    return n;
}

void bench_sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void bench_ivshm(const char *const args[])
{
    char path[PATH_MAX + 16];
    char *argv[16] = {(char *)bench_bin("ivshm", path, sizeof(path))};
    unsigned n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    if (bench_wait_exit(bench_spawn(argv, -1)) != 0)
        bench_die("%s %s %s failed", path, args[0], args[1] ? args[1] : "");
}

void bench_segment_dir(bool enter)
{
    if (enter) {
        /* tmpfs: a shared file mapping on a disk file system is written
         * back now and then, and each page written back faults on the next
         * store. */
        snprintf(seg_dir, sizeof(seg_dir), "/dev/shm/ivshm-bench.XXXXXX");
        if (!mkdtemp(seg_dir))
            bench_die("mkdtemp %s: %s", seg_dir, strerror(errno));
        setenv("IVSHM_DIR", seg_dir, 1);
    } else if (seg_dir[0]) {
        rmdir(seg_dir);
        seg_dir[0] = '\0';
    }
}
