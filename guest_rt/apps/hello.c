/* SPDX-License-Identifier: BSD-3-Clause */
/* hello: smallest guest application. Prints what the runtime found, and with
 * fault=pf|gp|ud|de|stack triggers that CPU exception on purpose (boot tests check
 * the exception handler catches and reports it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

/* Recurses until the stack runs into its guard page (the volatile limit is
 * never reached; it keeps gcc from calling the recursion infinite). */
static volatile uint64_t recursion_limit = UINT64_MAX;

__attribute__((noinline)) static uint64_t recurse(uint64_t depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    if (depth == recursion_limit)
        return 0;
    return recurse(depth + 1) + pad[0];
}

__attribute__((noinline)) static void trigger_fault(const char *kind)
{
    if (strcmp(kind, "pf") == 0) {
        /* Canonical but never mapped: a page fault with CR2 = this address. */
        volatile uint64_t *p = (volatile uint64_t *)0x00004000deadb000ull;
        *p = 1;
    } else if (strcmp(kind, "gp") == 0) {
        volatile uint64_t *p = (volatile uint64_t *)0xdead000000000000ull; /* non-canonical */
        *p = 1;
    } else if (strcmp(kind, "stack") == 0) {
        printf("%llu\n", (unsigned long long)recurse(0));
    } else if (strcmp(kind, "ud") == 0) {
        __asm__ volatile("ud2");
    } else if (strcmp(kind, "de") == 0) {
        volatile unsigned zero = 0, seven = 7; /* volatile: 1u / x folds to x == 1 */
        printf("%u\n", seven / zero);
    }
    printf("hello: unknown fault kind '%s'\n", kind);
}

int main(int argc, char **argv)
{
    printf("hello: guest runtime up, boot=%s args=%d\n", guest_boot_path(), argc - 1);
    for (int i = 1; i < argc; i++)
        printf("hello: argv[%d]=%s\n", i, argv[i]);

    char *block = malloc(1 << 20);
    if (!block)
        guest_panic("malloc of 1 MiB failed");
    memset(block, 0xA5, 1 << 20);
    free(block);

    if (guest_arg("tsc")) {
        uint64_t at_main = guest_tsc();
        double hz = (double)guest_tsc_hz();
        printf("hello: tsc %.1f MHz, runtime start to main %.0f us\n", hz / 1e6,
               (double)(at_main - guest_boot_tsc()) / hz * 1e6);
    }

    for (size_t i = 0; i < guest_pci_count(); i++) {
        const struct guest_pci_function *f = guest_pci_get(i);
        printf("hello: pci %02x:%02x.%x %04x:%04x class %02x%02x", f->bus, f->device, f->function,
               f->vendor_id, f->device_id, f->class_code, f->subclass);
        for (int b = 0; b < 6; b++)
            if (f->bars[b].size)
                printf(" bar%d=0x%llx/%llu%s", b, (unsigned long long)f->bars[b].address,
                       (unsigned long long)f->bars[b].size, f->bars[b].is_io ? "io" : "");
        printf("\n");
    }

    const char *fault = guest_arg("fault");
    if (fault)
        trigger_fault(fault);
    printf("hello: done\n");
    return 0;
}
