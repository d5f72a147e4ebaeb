/* SPDX-License-Identifier: BSD-3-Clause */
/* TSC frequency: CPUID leaf 0x15 (crystal ratio), else 0x16 (base MHz), else
 * measured against PIT channel 2. */
#include "guest.h"
#include "rt.h"
#include "x86.h"

#define PIT_HZ       1193182u
#define PIT_CH2_DATA 0x42
#define PIT_COMMAND  0x43
#define PORT_B       0x61 /* bit 0: ch2 gate, bit 1: speaker, bit 5: ch2 output */
#define CALIBRATE_MS 10

static uint64_t tsc_hz;

static uint64_t tsc_hz_from_cpuid(void)
{
    uint32_t max_leaf, b, c, d, a;
    cpuid(0, 0, &max_leaf, &b, &c, &d);
    if (max_leaf >= 0x15) {
        cpuid(0x15, 0, &a, &b, &c, &d);
        if (a && b && c)
            return (uint64_t)c * b / a;
    }
    if (max_leaf >= 0x16) {
        cpuid(0x16, 0, &a, &b, &c, &d);
        if (a & 0xFFFF)
            return (uint64_t)(a & 0xFFFF) * 1000000;
    }
    return 0;
}

static uint64_t tsc_hz_from_pit(void)
{
    const uint32_t count = PIT_HZ * CALIBRATE_MS / 1000;
    outb(PORT_B, (uint8_t)((inb(PORT_B) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(PIT_COMMAND, 0xB0); /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count) */
    outb(PIT_CH2_DATA, (uint8_t)count);
    outb(PIT_CH2_DATA, (uint8_t)(count >> 8));
    uint64_t start = rdtsc();
    /* Mode 0 raises OUT2 when the count reaches 0; bound the wait in case
     * the PIT is absent. */
    for (uint64_t spins = 0; !(inb(PORT_B) & 0x20); spins++)
        if (spins > 100000000)
            return 0;
    uint64_t ticks = rdtsc() - start;
    return ticks * 1000 / CALIBRATE_MS;
}

uint64_t guest_tsc_hz(void)
{
    if (!tsc_hz)
        tsc_hz = tsc_hz_from_cpuid();
    if (!tsc_hz)
        tsc_hz = tsc_hz_from_pit();
    if (!tsc_hz)
        tsc_hz = 1000000000; /* no way to tell: assume 1 GHz rather than divide by 0 */
    return tsc_hz;
}

void guest_delay_us(uint64_t microseconds)
{
    uint64_t end = rdtsc() + guest_tsc_hz() / 1000000 * microseconds;
    while ((int64_t)(rdtsc() - end) < 0)
        cpu_relax();
}
