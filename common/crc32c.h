/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The two implementations behind ivshm_crc32c (common/internal.h), for tests
 * and benchmarks: the SSE4.2 crc32 instruction, eight bytes per instruction,
 * and a portable one (slicing by 8, eight table lookups per eight bytes),
 * with the same result. ivshm_crc32c() picks the instruction when the CPU
 * has it: the choice is made at run time (cpuid, once), so the same code runs
 * on a host, in a guest whose virtual CPU lacks SSE4.2 (QEMU's default qemu64
 * model under TCG, for one) and in either build: the instruction is compiled
 * with a per-function target attribute, not with a global -msse4.2.
 * Freestanding: only <stdint.h>, <stddef.h>, <stdbool.h>.
 *
 * What CRC-32C detects (properties of the polynomial, not of the code): every
 * error burst of up to 32 bits; other errors are missed with probability
 * about 2^-32. tests/unit/test_crc32c.c checks every single changed, swapped
 * and moved 8-byte word of test frames.
 */
#ifndef IVSHM_COMMON_CRC32C_H
#define IVSHM_COMMON_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ivshm_crc32c_sse42 may only be called when ivshm_crc32c_has_sse42() is
 * true. Both continue from crc (start with 0), as ivshm_crc32c. */
uint32_t ivshm_crc32c_portable(uint32_t crc, const void *data, size_t len);
uint32_t ivshm_crc32c_sse42(uint32_t crc, const void *data, size_t len);
bool ivshm_crc32c_has_sse42(void);

#endif
