/* Runtime start-up, common to both boot paths: CPU, stack, paging, heap,
 * command line, PCI, ivshm devices, then the application's main. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "guest.h"
#include "pci.h"
#include "rt.h"
#include "x86.h"

#define DEBUG_EXIT_PORT 0xF4

char rt_stack_area[RT_GUARD_SIZE + RT_STACK_SIZE] __attribute__((aligned(4096)));
#define rt_stack_top (rt_stack_bottom + RT_STACK_SIZE)

static const struct boot_info *boot;
static uint64_t boot_tsc;
static struct cmdline cmdline;
static struct pci_scan pci;
static uint8_t *ecam_base;
static uint8_t ecam_start_bus, ecam_end_bus;

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
    return paging_map(phys, length, attr);
}

/* ---- PCI config space ------------------------------------------------------ */

static uint32_t port_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    (void)ctx;
    if (off >= 256)
        return 0xFFFFFFFF;
    outl(0xCF8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
                    (off & 0xFC));
    return inl(0xCFC);
}

static void port_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
                         uint32_t value)
{
    (void)ctx;
    if (off >= 256)
        return;
    outl(0xCF8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
                    (off & 0xFC));
    outl(0xCFC, value);
}

static volatile uint32_t *ecam_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (bus < ecam_start_bus || bus > ecam_end_bus || off >= 4096)
        return NULL;
    return (volatile uint32_t *)(ecam_base + ((uint64_t)(bus - ecam_start_bus) << 20) +
                                 ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + (off & 0xFFC));
}

static uint32_t ecam_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    volatile uint32_t *p = ecam_address(bus, dev, fn, off);
    return p ? *p : port_read32(ctx, bus, dev, fn, off);
}

static void ecam_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
                         uint32_t value)
{
    volatile uint32_t *p = ecam_address(bus, dev, fn, off);
    if (p)
        *p = value;
    else
        port_write32(ctx, bus, dev, fn, off, value);
}

static struct pci_config_access pci_access = {port_read32, port_write32, NULL};

uint32_t guest_pci_read32(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset)
{
    return pci_access.read32(pci_access.ctx, bus, device, function, offset);
}

void guest_pci_write32(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset,
                       uint32_t value)
{
    pci_access.write32(pci_access.ctx, bus, device, function, offset, value);
}

size_t guest_pci_count(void)
{
    return pci.count;
}

const struct guest_pci_function *guest_pci_get(size_t index)
{
    return index < pci.count ? &pci.functions[index] : NULL;
}

/* MCFG (PCI Firmware spec): 44-byte header, then 16-byte allocations. */
static void pci_use_ecam_if_present(void)
{
    const uint8_t *mcfg = acpi_find_table(boot->rsdp_address, "MCFG");
    if (!mcfg)
        return;
    uint32_t length;
    memcpy(&length, mcfg + 4, 4);
    for (uint32_t at = 44; at + 16 <= length; at += 16) {
        uint64_t base;
        uint16_t segment;
        memcpy(&base, mcfg + at, 8);
        memcpy(&segment, mcfg + at + 8, 2);
        if (segment != 0)
            continue;
        ecam_start_bus = mcfg[at + 10];
        ecam_end_bus = mcfg[at + 11];
        uint64_t size = (uint64_t)(ecam_end_bus - ecam_start_bus + 1) << 20;
        if (paging_map(base, size, CACHE_UC) < 0)
            return;
        ecam_base = (uint8_t *)(uintptr_t)base;
        pci_access.read32 = ecam_read32;
        pci_access.write32 = ecam_write32;
        return;
    }
}

static unsigned physical_address_bits(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a < 0x80000008)
        return 36;
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    return a & 0xFF;
}

static void pci_init(void)
{
    pci_use_ecam_if_present();
    unsigned bits = physical_address_bits();
    /* Windows for BARs the firmware left at 0: the 32-bit hole above the
     * q35 ECAM window and below the IOAPIC, and the top half of the
     * physical address space (SeaBIOS's 64-bit window starts there too). */
    struct pci_root_windows root = {
        .mem32 = {0xC0000000, 0xFEBFFFFF},
        .mem64 = {1ull << (bits - 1), (1ull << bits) - 1},
    };
    pci_scan_all(&pci_access, &root, &pci);
    for (size_t i = 0; i < pci.count; i++)
        for (int b = 0; b < 6; b++) {
            const struct guest_pci_bar *bar = &pci.functions[i].bars[b];
            if (bar->is_io || !bar->size || !bar->address || bar->address < (1ull << 32))
                continue; /* below 4 GiB is mapped UC already */
            paging_map(bar->address, bar->size, bar->prefetchable ? CACHE_WC : CACHE_UC);
        }
    if (guest_arg("verbose"))
        printf("guest: pci: %zu functions via %s, %u buses numbered, %u BARs assigned, "
               "%u unassignable\n",
               pci.count, ecam_base ? "ECAM" : "ports 0xCF8/0xCFC", pci.buses_numbered,
               pci.bars_assigned, pci.bars_unassignable);
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
    pci_init();
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

void boot_info_add_range(struct boot_info *info, uint64_t base, uint64_t length, uint32_t type)
{
    if (length == 0)
        return;
    /* Merge with the previous range when contiguous and alike: UEFI maps
     * have many small neighbours. */
    if (info->mem_range_count) {
        struct boot_mem_range *last = &info->mem_ranges[info->mem_range_count - 1];
        if (last->type == type && last->base + last->length == base) {
            last->length += length;
            return;
        }
    }
    if (info->mem_range_count >= BOOT_MAX_MEM_RANGES)
        return;
    struct boot_mem_range *r = &info->mem_ranges[info->mem_range_count++];
    r->base = base;
    r->length = length;
    r->type = type;
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
