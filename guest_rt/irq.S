/* SPDX-License-Identifier: BSD-3-Clause */
/* Interrupt entry stubs for vectors 32..255 (device, timer, stray), next to
 * the exception stubs of cpu.S. Position-independent, like cpu.S. */

    .text

/* 224 stubs, each exactly 16 bytes so C finds vector V's at
 * irq_stubs_start + 16 * (V - 32). Each pushes its vector. */
    .balign 16
    .globl irq_stubs_start
irq_stubs_start:
    .set vector, 32
    .rept 224
    .balign 16
    pushq $vector
    jmp irq_common
    .set vector, vector + 1
    .endr

/*
 * Saves what a C call may clobber (the caller-saved registers and, with
 * fxsave, the SSE state: the interrupted code may hold values in xmm
 * registers), calls irq_dispatch(vector), restores, returns. Interrupt gates
 * enter with IF clear, and iretq restores the interrupted IF.
 */
irq_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %rbp
    movq %rsp, %rbp
    andq $-16, %rsp
    subq $512, %rsp
    fxsave64 (%rsp)
    movq 80(%rbp), %rdi         /* the vector the stub pushed */
    cld
    call irq_dispatch
    fxrstor64 (%rsp)
    movq %rbp, %rsp
    popq %rbp
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $8, %rsp               /* the vector */
    iretq

    .section .note.GNU-stack, "", @progbits
