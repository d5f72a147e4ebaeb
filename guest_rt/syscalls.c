/* SPDX-License-Identifier: BSD-3-Clause */
/* The system-call layer newlib's libc expects (built with
 * --disable-newlib-supplied-syscalls; for x86_64-elf newlib's _write_r & co.
 * call the plain names write, sbrk, ...): console output, a heap over free RAM
 * from the boot memory map, exit; everything else fails with an errno. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "guest.h"
#include "rt.h"

#undef errno
extern int errno;

static uint64_t heap_start, heap_end, heap_break;

/* The heap is the largest usable RAM range above 1 MiB, minus our own image
 * (on the direct path the image sits inside a usable range). */
void heap_init(const struct boot_info *info)
{
    uint64_t best_start = 0, best_end = 0;
    for (uint32_t i = 0; i < info->mem_range_count; i++) {
        const struct boot_mem_range *r = &info->mem_ranges[i];
        if (r->type != BOOT_MEM_USABLE)
            continue;
        uint64_t start = r->base < (1ull << 20) ? (1ull << 20) : r->base;
        uint64_t end = r->base + r->length;
        /* Cut the image out, keeping the larger side. */
        if (info->image_start < end && info->image_end > start) {
            uint64_t below = info->image_start > start ? info->image_start - start : 0;
            uint64_t above = end > info->image_end ? end - info->image_end : 0;
            if (above >= below)
                start = info->image_end;
            else
                end = info->image_start;
        }
        start = (start + 4095) & ~4095ull;
        /* Only what paging_init managed to map (huge RAM without 1 GiB
         * pages can exhaust the page-table pool). */
        for (uint64_t at = start; at < end; at = (at | 0x1FFFFF) + 1)
            if (!paging_is_mapped(at)) {
                end = at;
                break;
            }
        if (end > start && end - start > best_end - best_start) {
            best_start = start;
            best_end = end;
        }
    }
    heap_start = heap_break = best_start;
    heap_end = best_end;
}

void *sbrk(ptrdiff_t increment);
void *sbrk(ptrdiff_t increment)
{
    uint64_t old = heap_break;
    if ((increment > 0 && (uint64_t)increment > heap_end - heap_break) ||
        (increment < 0 && (uint64_t)-increment > heap_break - heap_start)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    heap_break += (uint64_t)increment;
    return (void *)(uintptr_t)old;
}

_READ_WRITE_RETURN_TYPE write(int fd, const void *buf, size_t len)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    console_write(buf, len);
    return (_READ_WRITE_RETURN_TYPE)len;
}

_READ_WRITE_RETURN_TYPE read(int fd, void *buf, size_t len)
{
    (void)fd, (void)buf, (void)len;
    return 0; /* no input: end of file */
}

int close(int fd)
{
    (void)fd;
    errno = EBADF;
    return -1;
}

off_t lseek(int fd, off_t offset, int whence)
{
    (void)fd, (void)offset, (void)whence;
    errno = ESPIPE;
    return -1;
}

int fstat(int fd, struct stat *st)
{
    if (fd < 0 || fd > 2) {
        errno = EBADF;
        return -1;
    }
    st->st_mode = S_IFCHR; /* a terminal: stdio line-buffers it */
    return 0;
}

int isatty(int fd)
{
    return fd >= 0 && fd <= 2;
}

int open(const char *path, int flags, ...)
{
    (void)path, (void)flags;
    errno = ENOSYS;
    return -1;
}

pid_t getpid(void)
{
    return 1;
}

int kill(pid_t pid, int sig)
{
    (void)pid;
    if (sig)
        guest_exit(128 + sig); /* abort() raises SIGABRT */
    return 0;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    uint64_t hz = guest_tsc_hz(), t = guest_tsc();
    tv->tv_sec = (time_t)(t / hz);
    tv->tv_usec = (suseconds_t)(t % hz * 1000000 / hz);
    return 0;
}

clock_t times(struct tms *buf)
{
    (void)buf;
    errno = ENOSYS;
    return (clock_t)-1;
}

int unlink(const char *path)
{
    (void)path;
    errno = ENOSYS;
    return -1;
}

int link(const char *old, const char *new_path)
{
    (void)old, (void)new_path;
    errno = ENOSYS;
    return -1;
}

pid_t fork(void)
{
    errno = ENOSYS;
    return -1;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    (void)path, (void)argv, (void)envp;
    errno = ENOSYS;
    return -1;
}

pid_t wait(int *status)
{
    (void)status;
    errno = ECHILD;
    return -1;
}

int stat(const char *restrict path, struct stat *restrict st)
{
    (void)path, (void)st;
    errno = ENOENT;
    return -1;
}

void _exit(int code)
{
    guest_hw_exit(code);
}
