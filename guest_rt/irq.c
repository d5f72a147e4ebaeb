/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interrupts, for applications that ask for them (guest_doorbell_open,
 * guest_irq_wait): the local APIC in xAPIC mode (TCG has no x2APIC), its
 * timer for timeouts, device vectors in the IDT next to the exception
 * entries, and a timed sleep.
 *
 * Interrupts stay disabled (IF = 0) everywhere except inside
 * guest_irq_wait's `sti; hlt`. An interrupt that arrives while they are off
 * waits in the local APIC (IRR) and is delivered at the next `sti`: the
 * instruction after sti (hlt) starts before it is taken, so it wakes that
 * hlt instead of being lost before it.
 */
#include <stdint.h>
#include <string.h>

#include "guest.h"
#include "rt.h"
#include "x86.h"

#define MSR_APIC_BASE        0x1B
#define APIC_BASE_ENABLE     (1ull << 11)
#define APIC_BASE_X2APIC     (1ull << 10)
#define APIC_BASE_ADDR_MASK  0x000FFFFFFFFFF000ull
#define APIC_ID              0x020
#define APIC_TPR             0x080
#define APIC_EOI             0x0B0
#define APIC_SVR             0x0F0
#define APIC_ISR0            0x100 /* eight 32-bit registers, 16 bytes apart */
#define APIC_ESR             0x280
#define APIC_LVT_TIMER       0x320
#define APIC_LVT_THERMAL     0x330
#define APIC_LVT_PERF        0x340
#define APIC_LVT_LINT0       0x350
#define APIC_LVT_ERROR       0x370
#define APIC_TIMER_INIT      0x380
#define APIC_TIMER_CURRENT   0x390
#define APIC_TIMER_DIVIDE    0x3E0
#define APIC_SVR_ENABLE      0x100
#define APIC_LVT_MASKED      0x10000
#define APIC_TIMER_DIVIDE_16 0x3

#define VECTOR_PIC_BASE 0x20 /* the legacy PIC, remapped and masked */
#define VECTOR_TIMER    0x30
#define VECTOR_ERROR    0x31
#define VECTOR_SPURIOUS 0xFF

#define IOAPIC_DEFAULT 0xFEC00000u

static volatile uint32_t *apic;
static uint64_t apic_timer_hz;
static unsigned next_device_vector = IRQ_DEVICE_FIRST;
static struct {
    irq_handler_fn fn;
    void *owner;
    unsigned index;
} owners[256];

/* Written by the handler (interrupts on), read with interrupts off. */
static volatile uint64_t device_irqs, timer_irqs, stray_irqs;
static uint64_t waits, timeouts;

static uint32_t apic_read(uint32_t reg)
{
    return apic[reg / 4];
}

static void apic_write(uint32_t reg, uint32_t value)
{
    apic[reg / 4] = value;
}

void irq_dispatch(uint64_t vector);

void irq_dispatch(uint64_t vector)
{
    if (vector == VECTOR_SPURIOUS)
        return; /* a spurious interrupt is not in service: no EOI */
    if (vector == VECTOR_TIMER)
        timer_irqs++;
    else if (vector < 256 && owners[vector].fn) {
        owners[vector].fn(owners[vector].owner, owners[vector].index);
        device_irqs++;
    } else
        stray_irqs++; /* a leftover of the firmware, or a masked source that slipped */
    apic_write(APIC_EOI, 0);
}

/* Remaps the 8259 pair away from the exception vectors (the BIOS leaves the
 * master at 0x08, where its timer would look like #DF), then masks every
 * line. */
static void mask_legacy_pic(void)
{
    outb(0x20, 0x11); /* ICW1: init, ICW4 follows */
    outb(0xA0, 0x11);
    outb(0x21, VECTOR_PIC_BASE); /* ICW2: vector base */
    outb(0xA1, VECTOR_PIC_BASE + 8);
    outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
    outb(0xA1, 0x02);
    outb(0x21, 0x01); /* ICW4: 8086 mode */
    outb(0xA1, 0x01);
    outb(0x21, 0xFF); /* OCW1: all masked */
    outb(0xA1, 0xFF);
}

/* Masks every redirection entry of every IOAPIC (MADT entries of type 1,
 * else the usual address): the firmware may have left some unmasked. */
static void mask_ioapic_at(uint64_t base)
{
    if (paging_map(base, 4096, CACHE_UC) < 0)
        return;
    volatile uint32_t *select = phys_ptr(base), *window = phys_ptr(base + 0x10);
    *select = 1;
    unsigned entries = ((*window >> 16) & 0xFF) + 1;
    for (unsigned i = 0; i < entries; i++) {
        *select = 0x10 + 2 * i;
        *window = *window | APIC_LVT_MASKED;
    }
}

static void mask_ioapics(void)
{
    const uint8_t *madt = rt_acpi_table("APIC");
    bool found = false;
    if (madt) {
        uint32_t length;
        memcpy(&length, madt + 4, 4);
        /* 36-byte header, local APIC address, flags, then entries. */
        for (uint32_t at = 44; at + 2 <= length && madt[at + 1] >= 2; at += madt[at + 1]) {
            if (madt[at] == 1 && madt[at + 1] >= 12 && at + 12 <= length) {
                uint32_t address;
                memcpy(&address, madt + at + 4, 4);
                mask_ioapic_at(address);
                found = true;
            }
        }
    }
    if (!found)
        mask_ioapic_at(IOAPIC_DEFAULT);
}

/* Timer ticks per second (divide by 16), against the TSC over 2 ms. */
static uint64_t calibrate_timer(void)
{
    uint64_t tsc_hz = guest_tsc_hz();
    apic_write(APIC_TIMER_DIVIDE, APIC_TIMER_DIVIDE_16);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | VECTOR_TIMER);
    apic_write(APIC_TIMER_INIT, 0xFFFFFFFFu);
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < tsc_hz / 500)
        cpu_relax();
    uint32_t left = apic_read(APIC_TIMER_CURRENT);
    uint64_t t1 = rdtsc();
    apic_write(APIC_TIMER_INIT, 0);
    uint64_t ticks = 0xFFFFFFFFu - left;
    uint64_t hz = t1 > t0 ? (uint64_t)((unsigned __int128)ticks * tsc_hz / (t1 - t0)) : 0;
    return hz ? hz : 62500000; /* 1 GHz bus / 16, QEMU's, if the measure failed */
}

int irq_init(void)
{
    if (apic)
        return 0;
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(d & (1u << 9))) /* no local APIC */
        return -1;
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (base & APIC_BASE_X2APIC) { /* x2APIC -> xAPIC goes through "disabled" */
        wrmsr(MSR_APIC_BASE, base & ~(APIC_BASE_X2APIC | APIC_BASE_ENABLE));
        base &= ~(APIC_BASE_X2APIC | APIC_BASE_ENABLE);
    }
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    uint64_t address = base & APIC_BASE_ADDR_MASK;
    if (paging_map(address, 4096, CACHE_UC) < 0)
        return -1;
    mask_legacy_pic();
    mask_ioapics();
    apic = phys_ptr(address);
    apic_write(APIC_SVR, APIC_SVR_ENABLE | VECTOR_SPURIOUS);
    apic_write(APIC_TPR, 0); /* accept every priority */
    apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED);
    apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED | VECTOR_ERROR);
    apic_write(APIC_LVT_PERF, APIC_LVT_MASKED);
    apic_write(APIC_LVT_THERMAL, APIC_LVT_MASKED);
    apic_write(APIC_ESR, 0);
    /* An interrupt the firmware left in service would block ours of lower
     * priority: end them all. */
    for (int reg = 7; reg >= 0; reg--)
        for (uint32_t bits = apic_read(APIC_ISR0 + 16 * (unsigned)reg); bits; bits &= bits - 1)
            apic_write(APIC_EOI, 0);
    apic_timer_hz = calibrate_timer();
    cpu_enable_irq_gates();
    return 0;
}

uint32_t irq_apic_id(void)
{
    return apic ? apic_read(APIC_ID) >> 24 : 0;
}

int irq_alloc_vectors(unsigned count, irq_handler_fn fn, void *owner)
{
    if (count == 0 || next_device_vector + count - 1 > IRQ_DEVICE_LAST)
        return -1;
    int first = (int)next_device_vector;
    for (unsigned i = 0; i < count; i++) {
        owners[next_device_vector + i].owner = owner;
        owners[next_device_vector + i].index = i;
        owners[next_device_vector + i].fn = fn;
    }
    next_device_vector += count;
    return first;
}

/* One-shot timer interrupt after `tsc_ticks` TSC ticks (at most ~60 s). */
static void arm_timer(uint64_t tsc_ticks)
{
    uint64_t tsc_hz = guest_tsc_hz();
    if (tsc_ticks > 60 * tsc_hz)
        tsc_ticks = 60 * tsc_hz;
    uint64_t count = (uint64_t)((unsigned __int128)tsc_ticks * apic_timer_hz / tsc_hz);
    if (count == 0)
        count = 1;
    if (count > 0xFFFFFFFFu)
        count = 0xFFFFFFFFu;
    apic_write(APIC_LVT_TIMER, VECTOR_TIMER); /* one-shot, unmasked */
    apic_write(APIC_TIMER_INIT, (uint32_t)count);
}

int guest_irq_wait(uint64_t timeout_us)
{
    if (irq_init() < 0)
        return IVSHM_E_INVAL;
    waits++;
    uint64_t seen = device_irqs, start = rdtsc(), tsc_hz = guest_tsc_hz();
    uint64_t limit = timeout_us == UINT64_MAX           ? UINT64_MAX
                     : timeout_us > UINT64_MAX / tsc_hz ? UINT64_MAX
                                                        : timeout_us * tsc_hz / 1000000;
    /* Interrupts that came while they were off are pending in the APIC: let
     * them in first (sti's one-instruction shadow, then the window). */
    __asm__ volatile("sti; nop; cli" ::: "memory");
    for (;;) {
        if (device_irqs != seen)
            break;
        uint64_t elapsed = rdtsc() - start;
        if (elapsed >= limit) {
            apic_write(APIC_TIMER_INIT, 0);
            timeouts++;
            return IVSHM_E_TIMEOUT;
        }
        if (limit != UINT64_MAX)
            arm_timer(limit - elapsed);
        /* With IF set by sti, an interrupt already pending is taken right
         * after hlt begins and ends it: no doorbell falls between the check
         * above and the sleep. */
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
    apic_write(APIC_TIMER_INIT, 0);
    return IVSHM_OK;
}

void guest_irq_stats(struct guest_irq_stats *out)
{
    out->device = device_irqs;
    out->timer = timer_irqs;
    out->stray = stray_irqs;
    out->waits = waits;
    out->timeouts = timeouts;
}
