/* SPDX-License-Identifier: BSD-3-Clause */
/* CPU setup common to both boot paths: our own GDT (firmware's may live in
 * memory we reuse), an IDT that reports every exception and exits, SSE. */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"
#include "rt.h"
#include "x86.h"

#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_TSS    0x18

/* The TSS only serves the interrupt stack table: every exception handler
 * runs on its own stack (IST1), so a stack overflow, which faults on the
 * runtime stack's guard page, can still be reported. */
struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

static struct tss64 tss;
static uint8_t exception_stack[16384] __attribute__((aligned(16)));

static uint64_t gdt[5] = {
    [1] = 0x00AF9A000000FFFF, /* 64-bit code, DPL 0 */
    [2] = 0x00CF92000000FFFF, /* data */
    /* [3], [4]: the 16-byte TSS descriptor, filled in by cpu_init */
};

struct descriptor_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

/* 256 gates; only the 32 exception gates are loaded until an application
 * asks for interrupts (irq.c extends the limit then), so a stray vector
 * stays a #GP, reported as before. */
static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct descriptor_pointer idt_pointer;

static void set_gate(unsigned vector, uint64_t handler, uint8_t ist)
{
    idt[vector].offset_low = (uint16_t)handler;
    idt[vector].selector = SEL_CODE64;
    idt[vector].ist = ist;
    idt[vector].type_attr = 0x8E; /* present, DPL 0, 64-bit interrupt gate */
    idt[vector].offset_mid = (uint16_t)(handler >> 16);
    idt[vector].offset_high = (uint32_t)(handler >> 32);
    idt[vector].reserved = 0;
}

static void load_idt(unsigned gates)
{
    idt_pointer.limit = (uint16_t)(gates * sizeof(idt[0]) - 1);
    idt_pointer.base = (uint64_t)(uintptr_t)idt;
    __asm__ volatile("lidt %0" : : "m"(idt_pointer));
}

void cpu_enable_irq_gates(void)
{
    for (unsigned v = 32; v < 256; v++)
        set_gate(v, (uint64_t)(uintptr_t)(irq_stubs_start + 16 * (v - 32)), 0);
    load_idt(256);
}

/* Registers as exception_common in cpu.S pushes them, lowest address first. */
struct exception_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

static const char *const exception_names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization",
    "#CP control protection",
};

static void put_field(const char *name, uint64_t value)
{
    console_puts(name);
    console_put_hex(value);
}

/* Uses only the raw console: stdio or the heap may be what broke. */
__attribute__((noreturn)) void exception_handler(struct exception_frame *f);

void exception_handler(struct exception_frame *f)
{
    static int nesting;
    if (nesting++) {
        console_puts("\nguest: exception inside the exception handler\n");
        guest_hw_exit(GUEST_EXIT_EXCEPTION);
    }
    const char *name =
        f->vector < 32 && exception_names[f->vector] ? exception_names[f->vector] : "reserved";
    console_puts("\nguest: EXCEPTION vector=");
    console_put_dec(f->vector);
    console_puts(" (");
    console_puts(name);
    console_puts(")");
    put_field(" error=", f->error_code);
    put_field(" rip=", f->rip);
    put_field(" cr2=", read_cr2());
    console_puts("\n");
    uint64_t guard = (uint64_t)(uintptr_t)rt_stack_area;
    if (f->vector == 14 && read_cr2() >= guard && read_cr2() < guard + RT_GUARD_SIZE)
        console_puts("guest:   stack overflow: the fault hit the runtime stack's guard page\n");
    put_field("guest:   rsp=", f->rsp);
    put_field(" rbp=", f->rbp);
    put_field(" rax=", f->rax);
    put_field(" rdi=", f->rdi);
    put_field(" rsi=", f->rsi);
    console_puts("\nguest: backtrace:\n");
    put_field("guest:   #0 ", f->rip);
    console_puts("\n");
    /* Frame pointers (-fno-omit-frame-pointer): [rbp] = caller's rbp,
     * [rbp+8] = return address. Only follow frames inside our stack. */
    uint64_t rbp = f->rbp, lo = (uint64_t)(uintptr_t)rt_stack_bottom, hi = lo + RT_STACK_SIZE;
    for (int depth = 1; depth < 32 && rbp >= lo && rbp + 16 <= hi && !(rbp & 7); depth++) {
        const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;
        if (frame[1] == 0)
            break;
        console_puts("guest:   #");
        console_put_dec((uint64_t)depth);
        put_field(" ", frame[1]);
        console_puts("\n");
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
    guest_hw_exit(GUEST_EXIT_EXCEPTION);
}

static void enable_sse(void)
{
    uint64_t cr0 = read_cr0();
    cr0 &= ~(1ull << 2); /* EM: no x87 emulation */
    cr0 |= 1ull << 1;    /* MP */
    write_cr0(cr0);
    write_cr4(read_cr4() | (1ull << 9) | (1ull << 10)); /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("fninit");
    uint32_t mxcsr = 0x1F80; /* all SIMD exceptions masked: the C default */
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
}

void cpu_init(void)
{
    static struct descriptor_pointer gdt_pointer;
    uint64_t tss_base = (uint64_t)(uintptr_t)&tss, tss_limit = sizeof(tss) - 1;
    tss.ist[0] = (uint64_t)(uintptr_t)(exception_stack + sizeof(exception_stack));
    tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */
    gdt[3] = (tss_limit & 0xFFFF) | (tss_base & 0xFFFFFF) << 16 | 0x89ull << 40 |
             ((tss_limit >> 16) & 0xF) << 48 | ((tss_base >> 24) & 0xFF) << 56;
    gdt[4] = tss_base >> 32;
    gdt_pointer.limit = sizeof(gdt) - 1;
    gdt_pointer.base = (uint64_t)(uintptr_t)gdt;
    cpu_load_gdt(&gdt_pointer, SEL_CODE64, SEL_DATA);
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

    for (unsigned v = 0; v < 32; v++)
        set_gate(v, (uint64_t)(uintptr_t)(exception_stubs_start + 16 * v), 1);
    load_idt(32);
    enable_sse();
}

void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}
