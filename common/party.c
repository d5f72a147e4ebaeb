/* SPDX-License-Identifier: BSD-3-Clause */
/* The party table: claim, release, checked copies, names. Freestanding. */
#include <stdatomic.h>

#include "common/internal.h"
#include "ivshm/party.h"

int ivshm_party_claim(const struct ivshm_segment_view *view, uint32_t kind, uint64_t pid,
                      uint64_t start_time, const char *label)
{
    for (uint32_t i = 0; i < view->party_capacity; i++) {
        struct ivshm_party *p = &view->parties[i];
        static const uint32_t reusable[2] = {IVSHM_PARTY_FREE, IVSHM_PARTY_GONE};
        for (unsigned k = 0; k < 2; k++) {
            uint32_t expected = reusable[k];
            if (!atomic_compare_exchange_strong_explicit(&p->state, &expected, IVSHM_PARTY_CLAIMING,
                                                         memory_order_acquire,
                                                         memory_order_relaxed))
                continue;
            p->kind = kind;
            p->pid = pid;
            p->start_time = start_time;
            p->attach_count++;
            atomic_store_explicit(&p->heartbeat, 0, memory_order_relaxed);
            size_t n = 0;
            for (; label && label[n] && n < sizeof(p->label) - 1; n++)
                p->label[n] = label[n];
            for (; n < sizeof(p->label); n++)
                p->label[n] = 0;
            /* Release: whoever sees ALIVE sees the fields above. */
            atomic_store_explicit(&p->state, IVSHM_PARTY_ALIVE, memory_order_release);
            return (int)i;
        }
    }
    return IVSHM_E_PARTIES;
}

void ivshm_party_release(const struct ivshm_segment_view *view, int index)
{
    if (index < 0 || (uint32_t)index >= view->party_capacity)
        return;
    atomic_store_explicit(&view->parties[index].state, IVSHM_PARTY_GONE, memory_order_release);
}

int ivshm_party_get(const struct ivshm_segment_view *view, uint32_t index, struct ivshm_party *out,
                    struct ivshm_error *err)
{
    if (index >= view->party_capacity)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: party %u of %u", view->name, index,
                          view->party_capacity);
    const struct ivshm_party *p = &view->parties[index];
    atomic_store_explicit(&out->state, atomic_load_explicit(&p->state, memory_order_acquire),
                          memory_order_relaxed);
    out->kind = *(const volatile uint32_t *)&p->kind;
    out->pid = *(const volatile uint64_t *)&p->pid;
    out->start_time = *(const volatile uint64_t *)&p->start_time;
    atomic_store_explicit(&out->heartbeat,
                          atomic_load_explicit(&p->heartbeat, memory_order_relaxed),
                          memory_order_relaxed);
    out->attach_count = *(const volatile uint64_t *)&p->attach_count;
    /* The label is printed as it is: a byte outside printable ASCII (a
     * newline, an escape sequence from a peer) becomes '?'. */
    for (size_t i = 0; i < sizeof(out->label); i++) {
        unsigned char c = ((const volatile unsigned char *)p->label)[i];
        out->label[i] = (char)(c && (c < 0x20 || c > 0x7e) ? '?' : c);
    }
    out->label[sizeof(out->label) - 1] = '\0';
    return IVSHM_OK;
}

const char *ivshm_party_state_name(uint32_t state)
{
    switch (state) {
    case IVSHM_PARTY_FREE:
        return "free";
    case IVSHM_PARTY_ALIVE:
        return "alive";
    case IVSHM_PARTY_GONE:
        return "gone";
    case IVSHM_PARTY_CLAIMING:
        return "claiming";
    }
    return "unknown";
}

const char *ivshm_party_kind_name(uint32_t kind)
{
    switch (kind) {
    case IVSHM_PARTY_HOST:
        return "host";
    case IVSHM_PARTY_GUEST:
        return "guest";
    }
    return "unknown";
}
