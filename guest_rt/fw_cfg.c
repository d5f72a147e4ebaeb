/* SPDX-License-Identifier: BSD-3-Clause */
/* QEMU fw_cfg over I/O ports (x86: selector 0x510, data 0x511). */
#include <stdint.h>
#include <string.h>

#include "fw_cfg.h"
#include "x86.h"

#define FW_CFG_SELECTOR  0x510
#define FW_CFG_DATA      0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR  0x0019

static void fw_cfg_read(void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = inb(FW_CFG_DATA);
}

static uint32_t be32(uint32_t v)
{
    return __builtin_bswap32(v);
}

int fw_cfg_read_cmdline(char *buf, size_t size)
{
    char signature[4];
    outw(FW_CFG_SELECTOR, FW_CFG_SIGNATURE);
    fw_cfg_read(signature, 4);
    if (memcmp(signature, "QEMU", 4) != 0 || size == 0)
        return -1;
    uint32_t count;
    outw(FW_CFG_SELECTOR, FW_CFG_FILE_DIR);
    fw_cfg_read(&count, 4);
    count = be32(count);
    for (uint32_t i = 0; i < count && i < 4096; i++) {
        struct {
            uint32_t size;
            uint16_t select;
            uint16_t reserved;
            char name[56];
        } file;
        fw_cfg_read(&file, sizeof(file));
        if (strncmp(file.name, "opt/ivshm/cmdline", sizeof(file.name)) != 0)
            continue;
        size_t n = be32(file.size);
        if (n > size - 1)
            n = size - 1;
        outw(FW_CFG_SELECTOR, __builtin_bswap16(file.select));
        fw_cfg_read(buf, n);
        buf[n] = '\0';
        return 0;
    }
    return -1;
}
