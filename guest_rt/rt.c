/* SPDX-License-Identifier: BSD-3-Clause */
/* Runtime start-up, common to both boot paths: CPU, stack, paging, heap,
 * command line, PCI (pci_access.c), ivshm devices, then the application's
 * main; and the ways out (exit, panic). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "guest.h"
#include "rt.h"
#include "x86.h"

#define DEBUG_EXIT_PORT 0xF4

char rt_stack_area[RT_GUARD_SIZE + RT_STACK_SIZE] __attribute__((aligned(4096)));
#define rt_stack_top (rt_stack_bottom + RT_STACK_SIZE)

static const struct boot_info *boot;
static uint64_t boot_tsc;
static struct cmdline cmdline;

int main(int argc, char **argv);

/* ---- exit ------------------------------------------------------------- */

void guest_hw_exit(int code)
{
    ivshm_devices_release();
    /* isa-debug-exit: QEMU exits with (code << 1) | 1. Without the device
     * the write goes nowhere and we halt. */
    outl(DEBUG_EXIT_PORT, (uint32_t)code);
    cpu_halt_forever();
}

void guest_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    guest_hw_exit(code);
}

void guest_panic(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("guest: panic: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    guest_exit(GUEST_EXIT_PANIC);
}

/* ---- command line -------------------------------------------------------- */

const char *guest_arg(const char *key)
{
    return cmdline_get(&cmdline, key);
}

uint64_t guest_arg_u64(const char *key, uint64_t fallback)
{
    uint64_t v;
    return cmdline_parse_u64(guest_arg(key), &v) ? v : fallback;
}

const char *guest_boot_path(void)
{
    return boot->boot_path;
}

int guest_map(uint64_t phys, uint64_t length, enum guest_cache cache)
{
    enum cache_attr attr = cache == GUEST_CACHE_WB   ? CACHE_WB
                           : cache == GUEST_CACHE_WC ? CACHE_WC
                                                     : CACHE_UC;
    return paging_map(phys, length, attr) == 0 ? IVSHM_OK : IVSHM_E_NOSPC;
}

/* ---- start-up ------------------------------------------------------------ */

static void print_boot_summary(void)
{
    uint64_t usable = 0;
    for (uint32_t i = 0; i < boot->mem_range_count; i++)
        if (boot->mem_ranges[i].type == BOOT_MEM_USABLE)
            usable += boot->mem_ranges[i].length;
    printf("guest: boot=%s image=0x%llx-0x%llx ram=%llu KiB ranges=%u rsdp=0x%llx 1g-pages=%d "
           "cmdline=\"%s\"\n",
           boot->boot_path, (unsigned long long)boot->image_start,
           (unsigned long long)boot->image_end, (unsigned long long)(usable >> 10),
           boot->mem_range_count, (unsigned long long)boot->rsdp_address, paging_has_1g_pages(),
           boot->cmdline);
}

__attribute__((noreturn)) static void rt_continue(void *arg)
{
    boot = arg;
    paging_init(boot);
    paging_unmap_page((uint64_t)(uintptr_t)rt_stack_area);
    heap_init(boot);
    cmdline_parse(&cmdline, boot->cmdline);
    /* Line-buffered: whole lines reach the serial port even if we fault. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (guest_arg("verbose"))
        print_boot_summary();
    uint64_t t_pci = rdtsc();
    pci_init(boot->rsdp_address);
    uint64_t t_ivshm = rdtsc();
    ivshm_devices_init(guest_arg("label") ? guest_arg("label") : "guest");
    if (guest_arg("verbose"))
        printf("guest: start-up TSC ticks: paging+heap %llu, pci %llu, ivshm %llu\n",
               (unsigned long long)(t_pci - boot_tsc), (unsigned long long)(t_ivshm - t_pci),
               (unsigned long long)(rdtsc() - t_ivshm));

    static char *argv[CMDLINE_MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = "guest";
    for (size_t i = 0; i < cmdline.count; i++)
        argv[argc++] = (char *)cmdline.word[i];
    argv[argc] = NULL;
    exit(main(argc, argv));
}

const void *rt_acpi_table(const char signature[4])
{
    return acpi_find_table(boot->rsdp_address, signature);
}

uint64_t guest_boot_tsc(void)
{
    return boot_tsc;
}

void rt_start(const struct boot_info *info)
{
    boot_tsc = rdtsc();
    console_init();
    cpu_init();
    rt_switch_stack(rt_stack_top, rt_continue, (void *)info);
}
