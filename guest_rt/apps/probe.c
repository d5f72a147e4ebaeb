/* SPDX-License-Identifier: BSD-3-Clause */
/* probe: lists every ivshm device and object the runtime found.
 *
 *   ivshm-probe: device bdf=00:03.0 bar2=0x... size=16777216 segment=vm1 objects=4
 *   ivshm-probe: object segment=vm1 type=ring name=rx offset=... length=...
 *   ivshm-probe: done devices=1 objects=4 rejected=0
 *
 * plus "ivshm-probe: rejected bdf=... reason=..." and "ivshm-probe: skipped
 * bdf=... reason=..." lines. Exit code 0 when every ivshm segment validated,
 * 3 (GUEST_EXIT_REJECTED) when one was rejected. */
#include <stdio.h>
#include <string.h>

#include "guest.h"

int main(void)
{
    unsigned devices = 0, objects = 0, rejected = 0;
    for (size_t i = 0; i < guest_ivshm_count(); i++) {
        const struct guest_ivshm_device *d = guest_ivshm_get(i);
        char bdf[16];
        snprintf(bdf, sizeof(bdf), "%02x:%02x.%x", d->bus, d->device, d->function);
        if (d->state == GUEST_IVSHM_REJECTED) {
            rejected++;
            printf("ivshm-probe: rejected bdf=%s bar2=0x%llx size=%llu reason=%s\n", bdf,
                   (unsigned long long)d->bar2_address, (unsigned long long)d->bar2_size,
                   d->reason);
            continue;
        }
        if (d->state == GUEST_IVSHM_NOT_SEGMENT) {
            printf("ivshm-probe: skipped bdf=%s bar2=0x%llx size=%llu reason=%s\n", bdf,
                   (unsigned long long)d->bar2_address, (unsigned long long)d->bar2_size,
                   d->reason);
            continue;
        }
        devices++;
        const struct ivshm_segment_view *v = &d->view;
        printf("ivshm-probe: device bdf=%s bar2=0x%llx size=%llu segment=%s objects=%u\n", bdf,
               (unsigned long long)d->bar2_address, (unsigned long long)v->size, v->name,
               v->object_count);
        for (uint32_t o = 0; o < v->object_count; o++) {
            struct ivshm_dir_entry e;
            memcpy(&e, &v->dir[o], sizeof(e)); /* one consistent copy of shared memory */
            e.name[IVSHM_NAME_SIZE - 1] = '\0';
            printf("ivshm-probe: object segment=%s type=%s name=%s offset=%llu length=%llu\n",
                   v->name, ivshm_object_type_name(e.type), e.name, (unsigned long long)e.offset,
                   (unsigned long long)e.length);
            objects++;
        }
    }
    printf("ivshm-probe: done devices=%u objects=%u rejected=%u\n", devices, objects, rejected);
    return rejected ? GUEST_EXIT_REJECTED : GUEST_EXIT_OK;
}
