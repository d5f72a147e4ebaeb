/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: a script of operations on a segment, as a party would run
 * them while a peer writes into the shared memory.
 *
 * Input: script length (2 bytes, little-endian), the script, then a segment
 * image (as in fuzz_segment, checksum fixed). When the image validates, each
 * script step is one of: a peer's write (a byte, a word, or a nudge of a word
 * by -128..127) anywhere in the segment, ring enqueue or dequeue (bulk or
 * burst, on any ring or the pool's free ring), mempool get or put (cached or
 * not, of held handles or of garbage), cache flush, audit, reclaim, rebuild,
 * party claim or release, a lookup of a name from the script, ring stats and
 * check. Invariants are checked after every step.
 */
#include <string.h>

#include "fuzz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RINGS 16
#define MAX_HELD  64

struct ops {
    struct ivshm_segment_view view;
    struct ivshm_ring rings[MAX_RINGS];
    uint32_t nrings;
    struct ivshm_mempool pool;
    bool have_pool;
    struct ivshm_mempool_cache cache;
    int party;
    uint64_t held[MAX_HELD];
    uint32_t nheld;
    int claimed[IVSHM_MAX_PARTIES];
    uint32_t nclaimed;
    const uint8_t *script;
    size_t left;
};

static struct ops st;

static uint8_t next_byte(void)
{
    if (st.left == 0)
        return 0;
    st.left--;
    return *st.script++;
}

static uint32_t next_u32(unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint32_t)next_byte() << (8 * i);
    return v;
}

/* A peer's write into the segment. */
static void peer_write(uint8_t kind)
{
    uint64_t off = next_u32(3) % st.view.size;
    if (kind == 0) {
        st.view.base[off] = next_byte();
        fz_dirty(off, 1);
        return;
    }
    off &= ~3ull;
    if (off + 4 > st.view.size)
        return;
    uint32_t v;
    memcpy(&v, st.view.base + off, 4);
    v = kind == 1 ? next_u32(4) : v + (uint32_t)(int32_t)(int8_t)next_byte();
    memcpy(st.view.base + off, &v, 4);
    fz_dirty(off, 4);
}

static struct ivshm_ring *pick_ring(uint8_t b)
{
    uint32_t n = st.nrings + st.have_pool;
    if (n == 0)
        return NULL;
    uint32_t i = b % n;
    return i < st.nrings ? &st.rings[i] : ta_mempool_ring(&st.pool);
}

static void ring_op(bool enqueue)
{
    struct ivshm_ring *r = pick_ring(next_byte());
    uint8_t arg = next_byte();
    uint32_t n = arg % 9;
    bool bulk = arg & 0x80;
    if (!r || ta_ring_would_wait(r, enqueue))
        return;
    uint64_t buf[8];
    for (uint32_t i = 0; i < 8; i++)
        buf[i] = st.nheld ? st.held[i % st.nheld] : next_u32(4);
    uint32_t done = enqueue ? ta_ring_enqueue(r, buf, n, bulk) : ta_ring_dequeue(r, buf, n, bulk);
    FZ_ASSERT(done <= n && (!bulk || done == 0 || done == n));
    struct ivshm_ring_stats s;
    ta_ring_stats(r, &s);
    FZ_ASSERT(s.in_use <= s.capacity);
}

static bool pool_usable(void)
{
    if (!st.have_pool)
        return false;
    struct ivshm_ring *r = ta_mempool_ring(&st.pool);
    return !ta_ring_would_wait(r, true) && !ta_ring_would_wait(r, false);
}

static void mempool_get(void)
{
    uint8_t arg = next_byte();
    uint32_t n = 1 + arg % 16;
    bool cached = arg & 0x80;
    if (!pool_usable() || st.nheld + n > MAX_HELD)
        return;
    uint64_t *h = &st.held[st.nheld];
    if (ta_mempool_get(&st.pool, cached ? &st.cache : NULL, h, n) != IVSHM_OK)
        return;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = ta_mempool_index(&st.pool, h[i]);
        FZ_ASSERT(idx < ta_mempool_count(&st.pool));
        /* Taken from the shared ring, it is marked ours. From our own cache
         * it was checked when it entered the cache and is handed out as it
         * is (docs/abi.md 3.2): a peer may have written its state byte since. */
        if (!cached)
            FZ_ASSERT(ta_mempool_state(&st.pool, idx) == IVSHM_OBJ_ALLOCATED(st.party));
    }
    st.nheld += n;
}

static void mempool_put(void)
{
    uint8_t arg = next_byte();
    bool cached = arg & 0x80, garbage = arg & 0x40;
    if (!pool_usable())
        return;
    struct ivshm_mempool_cache *c = cached ? &st.cache : NULL;
    int rc;
    if (garbage || st.nheld == 0) {
        uint64_t h = next_u32(4);
        rc = ta_mempool_put(&st.pool, c, &h, 1, NULL);
    } else {
        uint32_t n = 1 + arg % st.nheld, freed = 0;
        rc = ta_mempool_put(&st.pool, c, st.held, n, &freed);
        FZ_ASSERT(freed <= n);
        /* Those not freed (a peer changed their state) are dropped too. */
        memmove(st.held, st.held + n, (st.nheld - n) * sizeof(st.held[0]));
        st.nheld -= n;
    }
    FZ_ASSERT(rc == IVSHM_OK || rc == IVSHM_E_FOREIGN || rc == IVSHM_E_DOUBLE_FREE ||
              rc == IVSHM_E_CORRUPT);
}

static void pool_maintenance(void)
{
    uint8_t arg = next_byte();
    if (!st.have_pool)
        return;
    struct ivshm_mempool_audit a;
    switch (arg % 4) {
    case 0:
        ta_mempool_audit(&st.pool, &a);
        FZ_ASSERT((uint64_t)a.free + a.allocated + a.cached + a.invalid ==
                  ta_mempool_count(&st.pool));
        break;
    case 1:
        if (pool_usable())
            ta_cache_flush(&st.pool, &st.cache);
        break;
    case 2:
        if (pool_usable())
            ta_mempool_reclaim(&st.pool, (arg >> 2) % IVSHM_MAX_PARTIES);
        break;
    case 3:
        /* Our own cache first: rebuild leaves live parties' objects alone. */
        if (pool_usable())
            ta_cache_flush(&st.pool, &st.cache);
        ta_mempool_rebuild(&st.pool, (uint64_t)next_u32(4) << 32 | next_u32(4));
        FZ_ASSERT(pool_usable());
        break;
    }
}

static void party_op(void)
{
    uint8_t arg = next_byte();
    if (arg & 1) {
        int idx = ta_party_claim(&st.view, IVSHM_PARTY_HOST, 99, 99, "ops");
        if (idx < 0) {
            FZ_ASSERT(idx == IVSHM_E_PARTIES);
            return;
        }
        FZ_ASSERT((uint32_t)idx < st.view.party_capacity);
        FZ_ASSERT(st.nclaimed < IVSHM_MAX_PARTIES);
        st.claimed[st.nclaimed++] = idx;
    } else if (st.nclaimed) {
        ta_party_release(&st.view, st.claimed[--st.nclaimed]);
    }
}

static void lookup_op(void)
{
    char name[IVSHM_NAME_SIZE + 1];
    uint8_t arg = next_byte();
    uint32_t len = arg % (IVSHM_NAME_SIZE + 1);
    for (uint32_t i = 0; i < len; i++)
        name[i] = (char)next_byte();
    name[len] = 0;
    struct ivshm_dir_entry e;
    struct ivshm_error err;
    int rc = ta_object_lookup(&st.view, name, (arg >> 6) & 3, &e, &err);
    if (rc == IVSHM_OK)
        FZ_ASSERT(e.offset <= st.view.size && e.length <= st.view.size - e.offset);
    else
        FZ_ASSERT(rc == IVSHM_E_NOENT || rc == IVSHM_E_BADSEG);
}

static void ring_check_op(void)
{
    struct ivshm_ring *r = pick_ring(next_byte());
    struct ivshm_error err;
    if (r && ta_ring_check(r, &err) != IVSHM_OK)
        FZ_ASSERT(err.code == IVSHM_E_CORRUPT);
}

/* Handles for every ring and the first mempool, from the directory. */
static void open_objects(void)
{
    struct ivshm_error err;
    struct ivshm_dir_entry e;
    for (uint32_t i = 0; i < st.view.object_count && i < 64; i++) {
        FZ_ASSERT(ta_object_get(&st.view, i, &e, &err) == IVSHM_OK);
        fz_dirty_object(&e);
        if (e.type == IVSHM_OBJ_RING && st.nrings < MAX_RINGS)
            FZ_ASSERT(ta_ring_lookup(&st.view, e.name, &st.rings[st.nrings++], &err) == 0);
        else if (e.type == IVSHM_OBJ_MEMPOOL && !st.have_pool)
            st.have_pool =
                ta_mempool_lookup(&st.view, e.name, st.party, &st.pool, &err) == IVSHM_OK;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t len = data[0] | (size_t)data[1] << 8;
    if (len > size - 2)
        len = size - 2;
    fz_load(data + 2 + len, size - 2 - len, true);
    memset(&st, 0, sizeof(st));
    struct ivshm_error err;
    if (ta_validate(fz_arena, fz_mapped, &st.view, &err) != IVSHM_OK) {
        fz_reset();
        return 0;
    }
    fz_dirty(0, st.view.data_offset);
    st.party = ta_party_claim(&st.view, IVSHM_PARTY_HOST, 1, 1, "fuzz-ops");
    if (st.party < 0)
        st.party = 0;
    ta_cache_init(&st.cache, 8);
    open_objects();
    st.script = data + 2;
    st.left = len;
    while (st.left) {
        uint8_t op = next_byte();
        switch (op % 11) {
        case 0:
        case 1:
        case 2:
            peer_write(op % 3);
            break;
        case 3:
            ring_op(true);
            break;
        case 4:
            ring_op(false);
            break;
        case 5:
            mempool_get();
            break;
        case 6:
            mempool_put();
            break;
        case 7:
            pool_maintenance();
            break;
        case 8:
            party_op();
            break;
        case 9:
            lookup_op();
            break;
        case 10:
            ring_check_op();
            break;
        }
    }
    if (pool_usable())
        ta_cache_flush(&st.pool, &st.cache);
    fz_reset();
    return 0;
}
