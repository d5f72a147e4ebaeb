/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: segment validation, then (when it validates) object lookup,
 * ring and mempool attach and operations, memzone lookup and party claim.
 *
 * Built twice: fuzz_segment sees the input as it is (most mutations stop at
 * the checksum, which is the point of the checksum), fuzz_segment_fixed
 * (FUZZ_FIX_CHECKSUM) stores the right checksum first, so mutations of the
 * header and directory reach every later rule.
 */
#include "fuzz_harness.h"

#ifndef FUZZ_FIX_CHECKSUM
#define FUZZ_FIX_CHECKSUM 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_load(data, size, FUZZ_FIX_CHECKSUM);
    struct ivshm_segment_view view;
    struct ivshm_error err;
    int rc = ta_validate(fz_arena, fz_mapped, &view, &err);
    if (rc == IVSHM_OK) {
        int party = ta_party_claim(&view, IVSHM_PARTY_HOST, 1, 1, "fuzz");
        fz_exercise_view(&view, party >= 0 ? party : 0);
    } else {
        FZ_ASSERT(rc == IVSHM_E_NOTSEG || rc == IVSHM_E_VERSION || rc == IVSHM_E_BADSEG);
        FZ_ASSERT(err.code == rc);
        fz_check_message(&err);
    }
    fz_reset();
    return 0;
}
