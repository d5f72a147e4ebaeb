/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QEMU command-line arguments that attach segments to a VM.
 *
 * Each segment becomes
 *     -object memory-backend-file,id=ivshm-mem-NAME,mem-path=PATH,size=BYTES,share=on
 *             [,host-nodes=N,policy=bind]
 *     -device ivshmem-plain,id=ivshm-NAME,memdev=ivshm-mem-NAME[,bus=...]
 * so the segment is the device's BAR2 (1af4:1110). On q35 the devices sit
 * behind pcie-root-ports, eight functions to a slot (multifunction=on on
 * function 0) from slot 0x10 upwards, which stock q35 leaves alone when it
 * places its own devices: 32 segments take slots 0x10..0x13. On pc
 * (i440fx) they go on the root bus, where QEMU places them.
 *
 * With opts.doorbell, each segment instead becomes
 *     -chardev socket,id=ivshm-sock-NAME,path=SOCKET
 *     -device ivshmem-doorbell,id=ivshm-NAME,chardev=ivshm-sock-NAME,vectors=N[,bus=...]
 * at the same place: QEMU gets the memory (the segment file itself) and
 * the eventfds from the doorbell server listening on SOCKET (doorbell.h),
 * which must run before QEMU starts.
 *
 * Return convention: status.h.
 */
#ifndef IVSHM_QEMU_H
#define IVSHM_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

enum ivshm_qemu_machine {
    IVSHM_QEMU_Q35 = 0, /* pcie-root-port per device */
    IVSHM_QEMU_PC = 1,  /* devices on the root PCI bus */
};

#define IVSHM_QEMU_FIRST_SLOT 0x10u

/* One segment to attach. */
struct ivshm_qemu_segment {
    const char *name;   /* segment name: used in the QEMU ids */
    const char *path;   /* backing file */
    uint64_t size;      /* segment size (a power of two) */
    int numa_node;      /* -1: no host-nodes binding */
    const char *socket; /* doorbell: the server's socket (ivshm_doorbell_socket_path) */
};

struct ivshm_qemu_opts {
    enum ivshm_qemu_machine machine;
    unsigned first_slot; /* q35: first pcie.0 slot for root ports; 0: IVSHM_QEMU_FIRST_SLOT */
    bool doorbell;       /* ivshmem-doorbell devices on the segments' sockets */
    unsigned vectors;    /* doorbell: MSI-X vectors a device, 1..64; 0: IVSHM_DOORBELL_VECTORS */
};

/*
 * Writes the arguments for `count` segments to out (size bytes, always
 * terminated), one line per segment, words separated by spaces, so that
 * `qemu-system-x86_64 ... $(ivshm qemu-args a b)` works. Commas in paths are
 * doubled (QEMU's escape). opts may be NULL (q35 from slot 0x10).
 * Errors: IVSHM_E_INVAL (a path or doorbell socket contains white space or a
 * character the shell would interpret, a doorbell segment has no socket,
 * vectors is above 64, or the root ports would run past slot 0x1e),
 * IVSHM_E_NOSPC (out is too small).
 */
int ivshm_qemu_args(const struct ivshm_qemu_segment *segs, unsigned count,
                    const struct ivshm_qemu_opts *opts, char *out, size_t size,
                    struct ivshm_error *err);

#endif
