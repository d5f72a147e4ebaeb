/* SPDX-License-Identifier: BSD-3-Clause */
/* Serial console on COM1 (16550 UART at I/O port 0x3F8). */
#include "rt.h"
#include "x86.h"

#define COM1     0x3F8
#define UART_THR 0 /* transmit holding (DLAB=0) */
#define UART_DLL 0 /* divisor low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

void console_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* polled: no interrupts */
    outb(COM1 + UART_LCR, 0x80); /* DLAB on to set the divisor */
    outb(COM1 + UART_DLL, 0x01); /* 115200 baud */
    outb(COM1 + UART_DLM, 0x00);
    outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
    outb(COM1 + UART_FCR, 0xC7); /* FIFO on and cleared */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void console_putc(char c)
{
    /* Bounded wait: a missing UART reads 0xFF (THRE set), a stuck one must
     * not hang the guest forever. */
    for (int i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)c);
}

void console_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            console_putc('\r');
        console_putc(s[i]);
    }
}

void console_puts(const char *s)
{
    while (*s) {
        if (*s == '\n')
            console_putc('\r');
        console_putc(*s++);
    }
}

void console_put_hex(uint64_t v)
{
    char buf[19] = "0x";
    for (int i = 0; i < 16; i++)
        buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xF];
    buf[18] = '\0';
    console_puts(buf);
}

void console_put_dec(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    console_puts(&buf[i]);
}
