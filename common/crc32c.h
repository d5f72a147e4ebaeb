/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C for packet checks: the same function as ivshm_crc32c (common/internal.h:
 * Castagnoli, reflected polynomial 0x82F63B78, initial value and final XOR
 * 0xFFFFFFFF, "123456789" -> 0xE3069283), fast enough to run on every test
 * frame. Internal to ivshm (the test-frame code of pktgen and the fwd module
 * use it), not part of the API.
 *
 * Two implementations with the same result: the SSE4.2 crc32 instruction,
 * eight bytes per instruction, and a portable one (slicing by 8, eight table
 * lookups per eight bytes). ivshm_crc32c_fast() picks the instruction when
 * the CPU has it: the choice is made at run time (cpuid, once), so the same
 * code runs on a host, in a guest whose virtual CPU lacks SSE4.2 (QEMU's
 * default qemu64 model under TCG, for one) and in either build: the
 * instruction is compiled with a per-function target attribute, not with a
 * global -msse4.2. Freestanding: only <stdint.h>, <stddef.h>, <stdbool.h>.
 *
 * What it detects (properties of the polynomial, not of the code): every
 * error burst of up to 32 bits; other errors are missed with probability
 * about 2^-32. tests/unit/test_crc32c.c checks every single changed, swapped
 * and moved 8-byte word of test frames.
 */
#ifndef IVSHM_COMMON_CRC32C_H
#define IVSHM_COMMON_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C of data[0..len), continuing from crc (start with 0): the crc32
 * instruction when the CPU has it, the portable code otherwise. */
uint32_t ivshm_crc32c_fast(uint32_t crc, const void *data, size_t len);

/* The two implementations, for tests and benchmarks. ivshm_crc32c_sse42 may
 * only be called when ivshm_crc32c_has_sse42() is true. */
uint32_t ivshm_crc32c_portable(uint32_t crc, const void *data, size_t len);
uint32_t ivshm_crc32c_sse42(uint32_t crc, const void *data, size_t len);
bool ivshm_crc32c_has_sse42(void);

#endif
