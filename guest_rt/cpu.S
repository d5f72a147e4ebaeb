/* SPDX-License-Identifier: BSD-3-Clause */
/* Exception entry stubs, GDT reload and stack switch. Position-independent:
 * the same object links into the Multiboot ELF and the UEFI image. */

    .text

/* void rt_switch_stack(void *stack_top, void (*fn)(void *), void *arg) */
    .globl rt_switch_stack
    .type rt_switch_stack, @function
rt_switch_stack:
    movq %rdi, %rsp
    xorl %ebp, %ebp             /* ends the backtrace */
    movq %rdx, %rdi
    pushq $0                    /* fake return address keeps the ABI alignment */
    jmpq *%rsi
    .size rt_switch_stack, . - rt_switch_stack

/* void cpu_load_gdt(const void *descriptor, uint16_t code_sel, uint16_t data_sel) */
    .globl cpu_load_gdt
    .type cpu_load_gdt, @function
cpu_load_gdt:
    lgdt (%rdi)
    movw %dx, %ds
    movw %dx, %es
    movw %dx, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    /* CS can only change through a far transfer: far-return to 1f. */
    popq %rax                   /* our return address */
    movzwq %si, %rsi
    pushq %rsi
    leaq 1f(%rip), %rcx
    pushq %rcx
    lretq
1:  jmpq *%rax
    .size cpu_load_gdt, . - cpu_load_gdt

/* 32 exception stubs, each exactly 16 bytes so C finds stub N at
 * exception_stubs_start + 16 * N. Vectors that push no error code push 0,
 * so every frame looks the same. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

    .balign 16
    .globl exception_stubs_start
exception_stubs_start:
    .set vector, 0
    .rept 32
    .balign 16
    .if HAS_ERROR_CODE(vector)
    nop; nop                    /* same length as the pushq $0 */
    .else
    pushq $0
    .endif
    pushq $vector
    jmp exception_common
    .set vector, vector + 1
    .endr

exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $-16, %rsp
    cld
    call exception_handler      /* never returns */
2:  hlt
    jmp 2b

    .section .note.GNU-stack, "", @progbits
