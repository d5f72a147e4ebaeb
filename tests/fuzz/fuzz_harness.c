/* SPDX-License-Identifier: BSD-3-Clause */
/* The arena, the checksum fix and the shared exercises (fuzz_harness.h). */
#include <string.h>
#include <sys/mman.h>

#include "fuzz_harness.h"

uint8_t *fz_arena;
uint64_t fz_mapped;

#define FZ_MAX_DIRTY 256
static struct {
    uint64_t off, len;
} dirty[FZ_MAX_DIRTY];
static unsigned ndirty;
static bool dirty_all; /* too many ranges: zero the whole arena */

static void arena_init(void)
{
    if (fz_arena)
        return;
    void *p = mmap(NULL, FZ_ARENA_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("fuzz: mmap arena");
        abort();
    }
    fz_arena = p;
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i--;)
        v = (v << 8) | p[i];
    return v;
}

void fz_dirty(uint64_t off, uint64_t len)
{
    if (off >= FZ_ARENA_SIZE || len == 0)
        return;
    if (len > FZ_ARENA_SIZE - off)
        len = FZ_ARENA_SIZE - off;
    if (ndirty == FZ_MAX_DIRTY) {
        dirty_all = true;
        return;
    }
    dirty[ndirty].off = off;
    dirty[ndirty].len = len;
    ndirty++;
}

/* Large ranges go back to the kernel (cost: the pages really touched), small
 * ones are cleared in place. */
static void zero_range(uint64_t off, uint64_t len)
{
    const uint64_t page = 4096;
    if (len < (1u << 20)) {
        memset(fz_arena + off, 0, len);
        return;
    }
    uint64_t start = (off + page - 1) & ~(page - 1), end = (off + len) & ~(page - 1);
    memset(fz_arena + off, 0, start - off);
    memset(fz_arena + end, 0, off + len - end);
    if (madvise(fz_arena + start, end - start, MADV_DONTNEED) != 0) {
        perror("fuzz: madvise");
        abort();
    }
}

void fz_dirty_object(const struct ivshm_dir_entry *e)
{
    if (e->type == IVSHM_OBJ_RING)
        fz_dirty(e->offset, e->length);
    else if (e->type == IVSHM_OBJ_MEMPOOL)
        fz_dirty(e->offset, ta_mempool_control_bytes(e));
}

void fz_reset(void)
{
    if (dirty_all)
        zero_range(0, FZ_ARENA_SIZE);
    else
        for (unsigned i = 0; i < ndirty; i++)
            zero_range(dirty[i].off, dirty[i].len);
    ndirty = 0;
    dirty_all = false;
}

void fz_load(const uint8_t *image, size_t len, bool fix_checksum)
{
    arena_init();
    if (len > FZ_ARENA_SIZE)
        len = FZ_ARENA_SIZE;
    memcpy(fz_arena, image, len);
    fz_dirty(0, len);
    fz_mapped = len;
    if (len < sizeof(struct ivshm_segment_header))
        return;
    const struct ivshm_segment_header *h = (const void *)fz_arena;
    uint64_t claimed = load_le(fz_arena + offsetof(struct ivshm_segment_header, segment_size), 8);
    if (claimed > len && claimed <= FZ_ARENA_SIZE)
        fz_mapped = claimed;
    if (!fix_checksum)
        return;
    uint64_t dir_off = h->dir_offset;
    uint32_t count = h->object_count;
    if (count > IVSHM_MAX_OBJECTS || dir_off > fz_mapped ||
        (uint64_t)count * sizeof(struct ivshm_dir_entry) > fz_mapped - dir_off)
        return;
    uint32_t sum = ta_checksum(fz_arena, fz_arena + dir_off, count);
    memcpy(fz_arena + offsetof(struct ivshm_segment_header, checksum), &sum, sizeof(sum));
}

void fz_check_message(const struct ivshm_error *err)
{
    size_t n = 0;
    while (n < sizeof(err->msg) && err->msg[n]) {
        unsigned char c = (unsigned char)err->msg[n];
        if (c < 0x20 || c == 0x7f) {
            fprintf(stderr, "fuzz: message with control byte 0x%02x: %s\n", c, err->msg);
            abort();
        }
        n++;
    }
    FZ_ASSERT(n > 0 && n < sizeof(err->msg));
}

void fz_exercise_ring(struct ivshm_ring *r)
{
    struct ivshm_ring_stats st;
    struct ivshm_error err;
    ta_ring_stats(r, &st);
    FZ_ASSERT(st.in_use <= st.capacity);
    if (ta_ring_check(r, &err) != IVSHM_OK)
        FZ_ASSERT(err.code == IVSHM_E_CORRUPT);
    uint64_t buf[16] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint32_t n = 0;
    if (!ta_ring_would_wait(r, false)) {
        n = ta_ring_dequeue(r, buf, 8, false);
        FZ_ASSERT(n <= 8);
        FZ_ASSERT(ta_ring_dequeue(r, buf + n, 3, true) % 3 == 0);
    }
    if (!ta_ring_would_wait(r, true)) {
        uint32_t m = ta_ring_enqueue(r, buf, n, false);
        FZ_ASSERT(m <= n);
        FZ_ASSERT(ta_ring_enqueue(r, buf, 3, true) % 3 == 0);
    }
    FZ_ASSERT(ta_ring_count(r) <= st.capacity);
}

/* What a get hands out is ours: marked allocated-by-us, or (taken from our
 * own cache, outside debug mode) still marked cached-by-us (docs/abi.md 3.2:
 * a party's own cache cycle writes no shared state). */
static void check_got(struct ivshm_mempool *mp, const uint64_t *h, uint32_t n, int party,
                      bool from_cache)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = ta_mempool_index(mp, h[i]);
        FZ_ASSERT(idx < ta_mempool_count(mp));
        uint8_t s = ta_mempool_state(mp, idx);
        FZ_ASSERT(s == IVSHM_OBJ_ALLOCATED(party) ||
                  (from_cache && !mp->debug && s == IVSHM_OBJ_CACHED(party)));
    }
}

static void check_audit(struct ivshm_mempool *mp)
{
    struct ivshm_mempool_audit a;
    ta_mempool_audit(mp, &a);
    FZ_ASSERT((uint64_t)a.free + a.allocated + a.cached + a.invalid == ta_mempool_count(mp));
}

/* One round of gets and puts, with and without the cache. */
static void exercise_mempool_round(struct ivshm_mempool *mp, int party)
{
    struct ivshm_ring *ring = ta_mempool_ring(mp);
    /* A head left ahead of its tail (a party killed mid-operation) is what
     * rebuild repairs; afterwards nothing may wait. */
    if (ta_ring_would_wait(ring, true) || ta_ring_would_wait(ring, false)) {
        ta_mempool_rebuild(mp, 0);
        FZ_ASSERT(!ta_ring_would_wait(ring, true) && !ta_ring_would_wait(ring, false));
    }
    static struct ivshm_mempool_cache cache;
    FZ_ASSERT(ta_cache_init(&cache, 8) == IVSHM_OK);
    uint64_t h[8] = {0};
    uint32_t got = 0;
    if (ta_mempool_get(mp, NULL, h, 4) == IVSHM_OK)
        got = 4;
    check_got(mp, h, got, party, false);
    if (ta_mempool_get(mp, &cache, h + got, 3) == IVSHM_OK) {
        check_got(mp, h + got, 3, party, true);
        got += 3;
    }
    uint32_t freed = 0;
    if (got) {
        int rc = ta_mempool_put(mp, NULL, h, 2 < got ? 2 : got, &freed);
        FZ_ASSERT(rc == IVSHM_OK || rc == IVSHM_E_CORRUPT);
        if (got > 2)
            FZ_ASSERT(ta_mempool_put(mp, &cache, h + 2, got - 2, &freed) == IVSHM_OK);
        /* Freed already: a second put is a double free, in or out of the cache. */
        FZ_ASSERT(ta_mempool_put(mp, NULL, h, 1, NULL) == IVSHM_E_DOUBLE_FREE);
        FZ_ASSERT(ta_mempool_put(mp, &cache, h, 1, NULL) == IVSHM_E_DOUBLE_FREE);
    }
    uint64_t foreign[2] = {0, h[0] + 1};
    FZ_ASSERT(ta_mempool_put(mp, NULL, foreign, 1, NULL) == IVSHM_E_FOREIGN);
    if (got)
        FZ_ASSERT(ta_mempool_put(mp, &cache, foreign + 1, 1, NULL) == IVSHM_E_FOREIGN);
    ta_cache_flush(mp, &cache);
    int other = (party + 1) % (int)IVSHM_MAX_PARTIES;
    ta_mempool_reclaim(mp, other);
    ta_mempool_rebuild(mp, 1ull << other);
    check_audit(mp);
}

/* In debug mode and in the fast one (mempool.h: what each checks where). */
void fz_exercise_mempool(struct ivshm_mempool *mp, int party)
{
    ta_mempool_set_debug(mp, true);
    exercise_mempool_round(mp, party);
    ta_mempool_set_debug(mp, false);
    exercise_mempool_round(mp, party);
}

void fz_exercise_parties(struct ivshm_segment_view *view)
{
    int claimed[IVSHM_MAX_PARTIES + 1];
    int n = 0;
    for (; n <= (int)IVSHM_MAX_PARTIES; n++) {
        int idx = ta_party_claim(view, IVSHM_PARTY_HOST, 4242, 77, "fuzz-party-label-that-is-long");
        if (idx < 0) {
            FZ_ASSERT(idx == IVSHM_E_PARTIES);
            break;
        }
        FZ_ASSERT((uint32_t)idx < view->party_capacity);
        FZ_ASSERT(atomic_load(&view->parties[idx].state) == IVSHM_PARTY_ALIVE);
        FZ_ASSERT(view->parties[idx].label[sizeof(view->parties[idx].label) - 1] == 0);
        for (int j = 0; j < n; j++)
            FZ_ASSERT(claimed[j] != idx);
        claimed[n] = idx;
    }
    FZ_ASSERT(n <= (int)view->party_capacity);
    for (int j = 0; j < n; j++)
        ta_party_release(view, claimed[j]);
}

void fz_exercise_view(struct ivshm_segment_view *view, int party)
{
    FZ_ASSERT(view->size <= fz_mapped && view->object_count <= IVSHM_MAX_OBJECTS);
    FZ_ASSERT(view->party_capacity <= IVSHM_MAX_PARTIES);
    FZ_ASSERT(view->data_offset <= view->size);
    struct ivshm_error err;
    struct ivshm_dir_entry e, again;
    /* The header, party table and directory lie below data_offset. */
    fz_dirty(0, view->data_offset);
    /* Lookups scan the directory: the first 8 and last 8 entries are enough
     * (all of them would make a 300-object seed 60 times slower). */
    uint32_t n = view->object_count;
    for (uint32_t i = 0; i < n; i = (i == 7 && n > 16) ? n - 8 : i + 1) {
        FZ_ASSERT(ta_object_get(view, i, &e, &err) == IVSHM_OK);
        FZ_ASSERT(e.offset <= view->size && e.length <= view->size - e.offset);
        FZ_ASSERT(ta_object_lookup(view, e.name, 0, &again, &err) == IVSHM_OK);
        FZ_ASSERT(again.offset == e.offset && again.type == e.type);
        uint32_t other = e.type % 3 + 1;
        FZ_ASSERT(ta_object_lookup(view, e.name, other, &again, &err) == IVSHM_E_NOENT);
        fz_check_message(&err);
        fz_dirty_object(&e);
        if (e.type == IVSHM_OBJ_RING) {
            struct ivshm_ring r;
            FZ_ASSERT(ta_ring_lookup(view, e.name, &r, &err) == IVSHM_OK);
            fz_exercise_ring(&r);
        } else if (e.type == IVSHM_OBJ_MEMPOOL) {
            static struct ivshm_mempool mp;
            FZ_ASSERT(ta_mempool_lookup(view, e.name, party, &mp, &err) == IVSHM_OK);
            fz_exercise_mempool(&mp, party);
        } else {
            void *addr;
            uint64_t len;
            FZ_ASSERT(ta_memzone_lookup(view, e.name, &addr, &len, &err) == IVSHM_OK);
            FZ_ASSERT((uint8_t *)addr >= view->base && len <= view->size &&
                      (uint64_t)((uint8_t *)addr - view->base) <= view->size - len);
        }
    }
    FZ_ASSERT(ta_object_lookup(view, "no-such-object", 0, &e, &err) == IVSHM_E_NOENT);
    fz_check_message(&err);
    fz_exercise_parties(view);
}
