/* SPDX-License-Identifier: BSD-3-Clause */
/* QEMU fw_cfg: a second way to pass a command line, for boot paths where the
 * usual one is awkward (UEFI without a shell):
 *     -fw_cfg name=opt/ivshm/cmdline,string="key=value ..." */
#ifndef GUEST_FW_CFG_H
#define GUEST_FW_CFG_H

#include <stddef.h>

/* Copies the file opt/ivshm/cmdline into buf (NUL-terminated); 0 if found. */
int fw_cfg_read_cmdline(char *buf, size_t size);

#endif
