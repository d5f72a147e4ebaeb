/* SPDX-License-Identifier: BSD-3-Clause */
/* An out-of-tree guest application: tests/install/test_install.py copies this
 * file alone into an empty directory and builds it with the installed
 * ivshm-guest-build. It finds the ring named by ring=SEGMENT/NAME on the
 * command line, moves one entry through it and names what it found. */
#include <stdio.h>

#include <ivshm/guest.h>

int main(void)
{
    const char *path = guest_arg("ring");
    struct ivshm_ring ring;
    struct ivshm_error err;
    uint64_t value = 0;

    if (path == NULL)
        guest_panic("no ring=SEGMENT/NAME on the command line");
    if (guest_ring_lookup(path, &ring, &err) != IVSHM_OK)
        guest_panic("%s", err.msg);
    if (ivshm_ring_enqueue(&ring, 0x1f2e3d4c) != IVSHM_OK ||
        ivshm_ring_dequeue(&ring, &value) != IVSHM_OK || value != 0x1f2e3d4c)
        guest_panic("ring %s: an entry did not come back", path);
    printf("guest-app: ring %s: %u free slots, boot=%s\n", path, ivshm_ring_free_count(&ring),
           guest_boot_path());
    return 0;
}
