/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC-32C: the SSE4.2 instruction and a portable slicing-by-8 fallback, same
 * result (crc32c.h); ivshm_crc32c (common/internal.h) picks one. */
#include "common/crc32c.h"
#include "common/internal.h"

#include <stdatomic.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof(v)); /* unaligned, little-endian (x86) */
    return v;
}

/* ---- portable: slicing by 8 ---- */

/* table[k][b]: the CRC register after feeding byte b followed by k zero
 * bytes. Built once, on first use: 8 KiB the guest image need not carry. */
static uint32_t table[8][256];
static _Atomic int table_state; /* 0 not built, 1 being built, 2 ready */

static void build_table(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

/* The tables, built by the first caller; others wait for them (acquire pairs
 * with the release that publishes them). */
static const uint32_t (*tables(void))[256]
{
    if (atomic_load_explicit(&table_state, memory_order_acquire) != 2) {
        int expect = 0;
        if (atomic_compare_exchange_strong_explicit(&table_state, &expect, 1, memory_order_acquire,
                                                    memory_order_acquire)) {
            build_table();
            atomic_store_explicit(&table_state, 2, memory_order_release);
        } else {
            while (atomic_load_explicit(&table_state, memory_order_acquire) != 2)
                ;
        }
    }
    return (const uint32_t(*)[256])table;
}

uint32_t ivshm_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    const uint32_t(*t)[256] = tables();
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v = load64(p) ^ c;
        c = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
            t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
            t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    }
    for (; len; p++, len--)
        c = (c >> 8) ^ t[0][(c ^ *p) & 0xff];
    return ~c;
}

/* ---- SSE4.2 ---- */

#if defined(__x86_64__)
#include <cpuid.h>

__attribute__((target("sse4.2"))) uint32_t ivshm_crc32c_sse42(uint32_t crc, const void *data,
                                                              size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8)
        c = __builtin_ia32_crc32di(c, load64(p));
    uint32_t c32 = (uint32_t)c;
    if (len & 4) {
        uint32_t v;
        __builtin_memcpy(&v, p, 4);
        c32 = __builtin_ia32_crc32si(c32, v);
        p += 4;
    }
    if (len & 2) {
        uint16_t v;
        __builtin_memcpy(&v, p, 2);
        c32 = __builtin_ia32_crc32hi(c32, v);
        p += 2;
    }
    if (len & 1)
        c32 = __builtin_ia32_crc32qi(c32, *p);
    return ~c32;
}

/* 0 not asked yet, 1 no, 2 yes. Racing first callers store the same. */
static _Atomic int sse42_known;

bool ivshm_crc32c_has_sse42(void)
{
    int k = atomic_load_explicit(&sse42_known, memory_order_relaxed);
    if (k == 0) {
        unsigned a, b, c, d;
        k = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 2 : 1;
        atomic_store_explicit(&sse42_known, k, memory_order_relaxed);
    }
    return k == 2;
}

uint32_t ivshm_crc32c(uint32_t crc, const void *data, size_t len)
{
    /* One load and a compare once known: test frames are checksummed some
     * 50 million times a second. */
    int k = atomic_load_explicit(&sse42_known, memory_order_relaxed);
    if (__builtin_expect(k == 2, 1) || (k == 0 && ivshm_crc32c_has_sse42()))
        return ivshm_crc32c_sse42(crc, data, len);
    return ivshm_crc32c_portable(crc, data, len);
}
#else
uint32_t ivshm_crc32c_sse42(uint32_t crc, const void *data, size_t len)
{
    return ivshm_crc32c_portable(crc, data, len);
}

bool ivshm_crc32c_has_sse42(void)
{
    return false;
}

uint32_t ivshm_crc32c(uint32_t crc, const void *data, size_t len)
{
    return ivshm_crc32c_portable(crc, data, len);
}
#endif
