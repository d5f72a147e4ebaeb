/* SPDX-License-Identifier: BSD-3-Clause */
/* Direct boot: a Multiboot (v1) header with the a.out kludge, so QEMU's
 * -kernel loads this x86-64 ELF by the addresses in the header (it refuses
 * 64-bit ELFs otherwise), and the 32-bit entry that switches to long mode.
 *
 * Layout (linker/multiboot.ld): one contiguous load image at 1 MiB, the
 * header first, the file offset of every byte = its address - 1 MiB + 4 KiB.
 * QEMU zero-fills [load_end, bss_end). */

#define MB_MAGIC        0x1BADB002
#define MB_FLAG_MEMINFO (1 << 1)
#define MB_FLAG_AOUT    (1 << 16)
#define MB_FLAGS        (MB_FLAG_MEMINFO | MB_FLAG_AOUT)

#define CR0_PE  (1 << 0)
#define CR0_MP  (1 << 1)
#define CR0_EM  (1 << 2)
#define CR0_PG  (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

    .section .multiboot_header, "a"
    .balign 4
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long multiboot_header      /* header_addr */
    .long __image_start         /* load_addr */
    .long __load_end            /* load_end_addr */
    .long __bss_end             /* bss_end_addr */
    .long multiboot_entry32     /* entry_addr */

    .section .boot32, "ax"
    .code32
    .globl multiboot_entry32
multiboot_entry32:
    cli
    cld
    movl $boot_stack_top, %esp
    movl %ebx, %edi             /* Multiboot info pointer: first C argument */
    /* Identity-map the first 4 GiB with 2 MiB pages: enough to run the C
     * code and touch the ACPI tables and ECAM; rt_start builds the final
     * tables. Four page directories, one per GiB. */
    movl $boot_pd, %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax             /* present | writable | 2 MiB page */
    movl %eax, (%ebx, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax              /* bits 32.. of (index << 21) */
    movl %eax, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b
    /* PDPT entries 0..3 -> the four page directories */
    movl $boot_pdpt, %ebx
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 2b
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl $0, boot_pml4 + 4

    movl %cr4, %eax
    orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $(EFER_LME | EFER_NXE), %eax
    wrmsr
    movl %cr0, %eax
    andl $~CR0_EM, %eax         /* SSE: gcc uses it in any C code */
    orl $(CR0_PE | CR0_MP | CR0_PG), %eax
    movl %eax, %cr0
    lgdt boot_gdt_descriptor
    ljmp $0x08, $multiboot_entry64

    .code64
multiboot_entry64:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movq $boot_stack_top, %rsp
    xorl %ebp, %ebp             /* ends the backtrace */
    fninit
    call multiboot_main         /* (uint32_t mbi), never returns */
3:  hlt
    jmp 3b

    .section .rodata.boot_gdt, "a"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF    /* 0x10: data */
boot_gdt_descriptor:
    .word boot_gdt_descriptor - boot_gdt - 1
    .quad boot_gdt

    .section .bss.boot_tables, "aw", @nobits
    .balign 4096
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4 * 4096
    .balign 16
boot_stack: .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
