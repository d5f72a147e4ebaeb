/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment metadata: checksum, validation, lookup, builder, party table.
 * Freestanding: compiled for the Linux host and for the bare-metal guest.
 */
#include <stdatomic.h>

#include "ivshm/segment.h"

/* CRC-32C, reflected polynomial 0x82F63B78, four bits at a time: a 64-byte
 * table that needs no initialisation and is fast enough for metadata. */
static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t ivshm_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
    }
    return ~crc;
}

uint32_t ivshm_segment_checksum(const struct ivshm_segment_header *hdr,
                                const struct ivshm_dir_entry *dir, uint32_t object_count)
{
    const uint8_t *h = (const uint8_t *)hdr;
    const size_t at = offsetof(struct ivshm_segment_header, checksum);
    static const uint8_t zero[4];
    uint32_t crc = ivshm_crc32c(0, h, at);
    crc = ivshm_crc32c(crc, zero, sizeof(zero));
    crc = ivshm_crc32c(crc, h + at + 4, sizeof(*hdr) - at - 4);
    return ivshm_crc32c(crc, dir, (size_t)object_count * sizeof(*dir));
}

uint64_t ivshm_next_pow2(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

int ivshm_mempool_layout(uint32_t count, uint32_t obj_size, struct ivshm_mempool_layout *out)
{
    if (count == 0 || count > IVSHM_MEMPOOL_MAX_OBJ || obj_size == 0 || obj_size > (1u << 30))
        return IVSHM_E_INVAL;
    out->ring_slots = (uint32_t)ivshm_next_pow2(count);
    out->stride = (uint32_t)ivshm_align_up(obj_size, IVSHM_CACHE_LINE);
    out->state_off = ivshm_ring_bytes(out->ring_slots);
    out->objs_off = ivshm_align_up(out->state_off + count, IVSHM_CACHE_LINE);
    out->length = out->objs_off + (uint64_t)count * out->stride;
    return IVSHM_OK;
}

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool ivshm_name_valid(const char *name, size_t max)
{
    size_t n = 0;
    while (n < max && name[n]) {
        if (!name_char_ok(name[n]))
            return false;
        n++;
    }
    if (n == max) /* not terminated within max bytes */
        return false;
    return n >= 1 && n <= IVSHM_NAME_MAX;
}

const char *ivshm_type_name(uint32_t type)
{
    switch (type) {
    case IVSHM_OBJ_RING:
        return "ring";
    case IVSHM_OBJ_MEMPOOL:
        return "mempool";
    case IVSHM_OBJ_MEMZONE:
        return "memzone";
    }
    return "unknown";
}

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

static bool names_equal(const char *a, const char *b)
{
    for (size_t i = 0; i < IVSHM_NAME_SIZE; i++) {
        if (a[i] != b[i])
            return false;
        if (!a[i])
            return true;
    }
    return true;
}

/* Copies from shared memory once, so every later check sees the same bytes. */
static void copy_in(void *dst, const volatile void *src, size_t n)
{
    uint8_t *d = dst;
    const volatile uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

/* Checks a name read from a segment. The message quotes none of its bytes:
 * they may be a newline or a terminal escape sequence written by a peer. */
static int check_name(const char *name, const char *what, struct ivshm_error *err)
{
    size_t n = bounded_len(name, IVSHM_NAME_SIZE);
    if (n == IVSHM_NAME_SIZE)
        return ivshm_fail(err, IVSHM_E_BADSEG, "%s is not terminated", what);
    if (n == 0)
        return ivshm_fail(err, IVSHM_E_BADSEG, "%s is empty", what);
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(name[i]))
            return ivshm_fail(err, IVSHM_E_BADSEG,
                              "%s has byte 0x%02x at offset %u, outside [A-Za-z0-9_-]", what,
                              (unsigned)(uint8_t)name[i], (unsigned)i);
    return IVSHM_OK;
}

int ivshm_entry_check(const struct ivshm_dir_entry *e, uint64_t data_offset, uint64_t segment_size,
                      struct ivshm_error *err)
{
    if (check_name(e->name, "object name", err) != IVSHM_OK)
        return IVSHM_E_BADSEG;
    const char *n = e->name;
    if (e->flags)
        return ivshm_fail(err, IVSHM_E_BADSEG, "object '%s': unknown flags 0x%x", n, e->flags);
    if (e->offset % IVSHM_CACHE_LINE)
        return ivshm_fail(err, IVSHM_E_BADSEG, "object '%s': offset 0x%llx is not 64-byte aligned",
                          n, (unsigned long long)e->offset);
    if (e->offset < data_offset)
        return ivshm_fail(
            err, IVSHM_E_BADSEG,
            "object '%s': offset 0x%llx lies inside the metadata (data starts at 0x%llx)", n,
            (unsigned long long)e->offset, (unsigned long long)data_offset);
    if (e->offset > segment_size || e->length > segment_size - e->offset)
        return ivshm_fail(
            err, IVSHM_E_BADSEG,
            "object '%s': offset 0x%llx + length 0x%llx ends past the segment end 0x%llx", n,
            (unsigned long long)e->offset, (unsigned long long)e->length,
            (unsigned long long)segment_size);
    if (e->length == 0)
        return ivshm_fail(err, IVSHM_E_BADSEG, "object '%s': length is 0", n);

    switch (e->type) {
    case IVSHM_OBJ_RING: {
        uint32_t slots = e->param0, mode = e->param1;
        if (!ivshm_is_pow2(slots) || slots > IVSHM_RING_MAX_SLOTS)
            return ivshm_fail(err, IVSHM_E_BADSEG,
                              "ring '%s': %u slots is not a power of two <= %u", n, slots,
                              IVSHM_RING_MAX_SLOTS);
        if (mode & ~(uint32_t)IVSHM_RING_MPMC)
            return ivshm_fail(err, IVSHM_E_BADSEG, "ring '%s': unknown mode 0x%x", n, mode);
        if (e->length != ivshm_ring_bytes(slots))
            return ivshm_fail(err, IVSHM_E_BADSEG, "ring '%s': length %llu does not match %u slots",
                              n, (unsigned long long)e->length, slots);
        break;
    }
    case IVSHM_OBJ_MEMPOOL: {
        struct ivshm_mempool_layout lay;
        if (ivshm_mempool_layout(e->param0, e->param1, &lay) != IVSHM_OK)
            return ivshm_fail(err, IVSHM_E_BADSEG,
                              "mempool '%s': count %u or object size %u out of range", n, e->param0,
                              e->param1);
        if (e->length != lay.length)
            return ivshm_fail(err, IVSHM_E_BADSEG,
                              "mempool '%s': length %llu does not match count %u x size %u", n,
                              (unsigned long long)e->length, e->param0, e->param1);
        break;
    }
    case IVSHM_OBJ_MEMZONE:
        if (!ivshm_is_pow2(e->param0) || e->param0 < IVSHM_CACHE_LINE || e->param1)
            return ivshm_fail(err, IVSHM_E_BADSEG,
                              "memzone '%s': alignment %u is not a power of two >= 64", n,
                              e->param0);
        if (e->offset % e->param0)
            return ivshm_fail(err, IVSHM_E_BADSEG, "memzone '%s': offset 0x%llx is not %u-aligned",
                              n, (unsigned long long)e->offset, e->param0);
        break;
    default:
        return ivshm_fail(err, IVSHM_E_BADSEG, "object '%s': unknown type %u", n, e->type);
    }
    return IVSHM_OK;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < IVSHM_NAME_SIZE && s[i]; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int ivshm_segment_validate(void *base, uint64_t mapped_size, struct ivshm_segment_view *view,
                           struct ivshm_error *err)
{
    struct ivshm_segment_header h;
    if (mapped_size < sizeof(h))
        return ivshm_fail(err, IVSHM_E_NOTSEG,
                          "not an ivshm segment: %llu bytes, less than a header",
                          (unsigned long long)mapped_size);
    copy_in(&h, base, sizeof(h));

    for (unsigned i = 0; i < IVSHM_MAGIC_LEN; i++)
        if (h.magic[i] != IVSHM_MAGIC[i])
            return ivshm_fail(err, IVSHM_E_NOTSEG, "not an ivshm segment (bad magic)");
    if (h.abi_version != IVSHM_ABI_VERSION)
        return ivshm_fail(err, IVSHM_E_VERSION, "ABI version %u, this build reads version %u",
                          h.abi_version, IVSHM_ABI_VERSION);
    if (h.header_size != sizeof(h))
        return ivshm_fail(err, IVSHM_E_BADSEG, "header size %u, expected %u", h.header_size,
                          (unsigned)sizeof(h));
    if (!ivshm_is_pow2(h.segment_size) || h.segment_size > mapped_size)
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "segment size %llu is not a power of two within the %llu bytes mapped",
                          (unsigned long long)h.segment_size, (unsigned long long)mapped_size);
    uint64_t size = h.segment_size;
    /* Messages name the segment: its name must be printable as it is. */
    if (check_name(h.name, "segment name", err) != IVSHM_OK)
        return IVSHM_E_BADSEG;
    if (h.party_capacity > IVSHM_MAX_PARTIES || h.party_offset != sizeof(h))
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "party table: %u entries at 0x%llx (at most %u at 0x100)",
                          h.party_capacity, (unsigned long long)h.party_offset, IVSHM_MAX_PARTIES);
    uint64_t party_end = h.party_offset + (uint64_t)h.party_capacity * sizeof(struct ivshm_party);
    if (h.dir_capacity > IVSHM_MAX_OBJECTS)
        return ivshm_fail(err, IVSHM_E_BADSEG, "directory capacity %u exceeds %u", h.dir_capacity,
                          IVSHM_MAX_OBJECTS);
    if (h.object_count > h.dir_capacity)
        return ivshm_fail(err, IVSHM_E_BADSEG, "object count %u exceeds directory capacity %u",
                          h.object_count, h.dir_capacity);
    if (h.dir_offset % IVSHM_CACHE_LINE || h.dir_offset < party_end)
        return ivshm_fail(err, IVSHM_E_BADSEG,
                          "directory offset 0x%llx is misaligned or overlaps the party table",
                          (unsigned long long)h.dir_offset);
    uint64_t dir_end = h.dir_offset + (uint64_t)h.dir_capacity * sizeof(struct ivshm_dir_entry);
    /* dir_offset first: near 2^64 the sum above wraps around to a small value. */
    if (h.dir_offset > size || dir_end > size || h.data_offset < dir_end || h.data_offset > size)
        return ivshm_fail(
            err, IVSHM_E_BADSEG,
            "directory 0x%llx..0x%llx or data offset 0x%llx outside the %llu-byte segment",
            (unsigned long long)h.dir_offset, (unsigned long long)dir_end,
            (unsigned long long)h.data_offset, (unsigned long long)size);

    uint8_t *b = base;
    struct ivshm_dir_entry *dir = (struct ivshm_dir_entry *)(b + h.dir_offset);
    uint32_t sum = ivshm_segment_checksum(&h, dir, h.object_count);
    if (sum != h.checksum)
        return ivshm_fail(err, IVSHM_E_BADSEG, "checksum mismatch: stored 0x%x, computed 0x%x",
                          h.checksum, sum);

    /* Duplicate names: a bitmap of name hashes finds candidates in one pass;
     * only a hash collision costs a scan of the earlier entries. */
    uint64_t seen[128] = {0}; /* 8192 bits */
    uint64_t prev_end = h.data_offset;
    for (uint32_t i = 0; i < h.object_count; i++) {
        struct ivshm_dir_entry e;
        copy_in(&e, &dir[i], sizeof(e));
        struct ivshm_error sub;
        if (ivshm_entry_check(&e, h.data_offset, size, &sub) != IVSHM_OK)
            return ivshm_fail(err, IVSHM_E_BADSEG, "object %u: %s", i, sub.msg);
        if (e.offset < prev_end)
            return ivshm_fail(
                err, IVSHM_E_BADSEG,
                "object %u '%s' at 0x%llx overlaps the previous object (ends at 0x%llx)", i, e.name,
                (unsigned long long)e.offset, (unsigned long long)prev_end);
        prev_end = e.offset + e.length;
        uint32_t bit = name_hash(e.name) % 8192u;
        if (seen[bit / 64] & (1ull << (bit % 64))) {
            for (uint32_t j = 0; j < i; j++) {
                struct ivshm_dir_entry other;
                copy_in(&other, &dir[j], sizeof(other));
                if (names_equal(other.name, e.name))
                    return ivshm_fail(err, IVSHM_E_BADSEG, "objects %u and %u are both named '%s'",
                                      j, i, e.name);
            }
        }
        seen[bit / 64] |= 1ull << (bit % 64);
    }

    view->base = b;
    view->size = size;
    view->hdr = (struct ivshm_segment_header *)b;
    view->dir = dir;
    view->parties = (struct ivshm_party *)(b + h.party_offset);
    view->object_count = h.object_count;
    view->party_capacity = h.party_capacity;
    view->data_offset = h.data_offset;
    view->generation = h.generation;
    for (unsigned i = 0; i < IVSHM_NAME_SIZE; i++)
        view->name[i] = h.name[i];
    return IVSHM_OK;
}

int ivshm_segment_find(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                       struct ivshm_dir_entry *out, struct ivshm_error *err)
{
    for (uint32_t i = 0; i < view->object_count; i++) {
        struct ivshm_dir_entry e;
        copy_in(&e, &view->dir[i], sizeof(e));
        if (!names_equal(e.name, name) || (type && e.type != type))
            continue;
        struct ivshm_error sub;
        if (ivshm_entry_check(&e, view->data_offset, view->size, &sub) != IVSHM_OK)
            return ivshm_fail(err, IVSHM_E_BADSEG, "%s/%s: %s", view->name, name, sub.msg);
        *out = e;
        return IVSHM_OK;
    }
    return ivshm_fail(err, IVSHM_E_NOENT, "%s/%s: no %s of that name", view->name, name,
                      type ? ivshm_type_name(type) : "object");
}

/* ---- builder ---- */

uint64_t ivshm_metadata_bytes(uint32_t dir_capacity, uint32_t party_capacity)
{
    uint64_t dir_off = ivshm_align_up(sizeof(struct ivshm_segment_header) +
                                          (uint64_t)party_capacity * sizeof(struct ivshm_party),
                                      IVSHM_CACHE_LINE);
    return dir_off + (uint64_t)dir_capacity * sizeof(struct ivshm_dir_entry);
}

static void zero_bytes(void *p, uint64_t n)
{
    uint8_t *d = p;
    while (n--)
        *d++ = 0;
}

int ivshm_builder_init(struct ivshm_builder *b, void *base, uint64_t size, uint64_t page_size,
                       int32_t numa_node, const char *name, uint32_t dir_capacity,
                       uint32_t party_capacity, struct ivshm_error *err)
{
    if (!ivshm_name_valid(name, IVSHM_NAME_SIZE + 1))
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "segment name '%s': must be 1 to 31 characters of [A-Za-z0-9_-]", name);
    if (!ivshm_is_pow2(size))
        return ivshm_fail(err, IVSHM_E_INVAL, "segment size %llu is not a power of two",
                          (unsigned long long)size);
    if (dir_capacity > IVSHM_MAX_OBJECTS || party_capacity > IVSHM_MAX_PARTIES)
        return ivshm_fail(err, IVSHM_E_INVAL, "at most %u objects and %u parties",
                          IVSHM_MAX_OBJECTS, IVSHM_MAX_PARTIES);
    uint64_t meta = ivshm_metadata_bytes(dir_capacity, party_capacity);
    if (meta > size)
        return ivshm_fail(err, IVSHM_E_NOSPC,
                          "segment '%s': %llu bytes of metadata do not fit in %llu bytes", name,
                          (unsigned long long)meta, (unsigned long long)size);
    zero_bytes(base, meta);
    struct ivshm_segment_header *h = base;
    h->abi_version = IVSHM_ABI_VERSION;
    h->header_size = sizeof(*h);
    h->segment_size = size;
    h->page_size = page_size;
    h->numa_node = numa_node;
    h->party_capacity = party_capacity;
    h->party_offset = sizeof(*h);
    h->dir_capacity = dir_capacity;
    h->dir_offset = meta - (uint64_t)dir_capacity * sizeof(struct ivshm_dir_entry);
    h->data_offset = ivshm_align_up(meta, IVSHM_CACHE_LINE);
    h->data_end = h->data_offset;
    for (unsigned i = 0; name[i]; i++)
        h->name[i] = name[i];
    b->base = base;
    b->size = size;
    b->hdr = h;
    b->dir = (struct ivshm_dir_entry *)((uint8_t *)base + h->dir_offset);
    b->dir_capacity = dir_capacity;
    return IVSHM_OK;
}

uint64_t ivshm_builder_free_bytes(const struct ivshm_builder *b)
{
    return b->size - b->hdr->data_end;
}

/* Reserves a directory entry and `length` bytes aligned to `align`. */
static int builder_reserve(struct ivshm_builder *b, const char *kind, const char *name,
                           uint64_t length, uint64_t align, struct ivshm_dir_entry **entry,
                           struct ivshm_error *err)
{
    struct ivshm_segment_header *h = b->hdr;
    if (!ivshm_name_valid(name, IVSHM_NAME_SIZE + 1))
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "%s name '%s': must be 1 to 31 characters of [A-Za-z0-9_-]", kind, name);
    for (uint32_t i = 0; i < h->object_count; i++)
        if (names_equal(b->dir[i].name, name))
            return ivshm_fail(err, IVSHM_E_EXIST, "%s '%s': an object of that name exists already",
                              kind, name);
    if (h->object_count >= b->dir_capacity)
        return ivshm_fail(err, IVSHM_E_NOSPC, "%s '%s': the directory is full (%u entries)", kind,
                          name, b->dir_capacity);
    uint64_t offset = ivshm_align_up(h->data_end, align);
    if (offset > b->size || length > b->size - offset)
        return ivshm_fail(err, IVSHM_E_NOSPC,
                          "%s '%s': needs %llu bytes, only %llu left in the %llu-byte segment",
                          kind, name, (unsigned long long)length,
                          (unsigned long long)(offset < b->size ? b->size - offset : 0),
                          (unsigned long long)b->size);
    struct ivshm_dir_entry *e = &b->dir[h->object_count];
    zero_bytes(e, sizeof(*e));
    for (unsigned i = 0; name[i]; i++)
        e->name[i] = name[i];
    e->offset = offset;
    e->length = length;
    h->data_end = offset + length;
    *entry = e;
    return IVSHM_OK;
}

int ivshm_builder_add_ring(struct ivshm_builder *b, const char *name, uint32_t slots, uint32_t mode,
                           struct ivshm_error *err)
{
    if (!ivshm_is_pow2(slots) || slots > IVSHM_RING_MAX_SLOTS)
        return ivshm_fail(err, IVSHM_E_INVAL, "ring '%s': slots=%u is not a power of two in 1..%u",
                          name, slots, IVSHM_RING_MAX_SLOTS);
    if (mode & ~(uint32_t)IVSHM_RING_MPMC)
        return ivshm_fail(err, IVSHM_E_INVAL, "ring '%s': unknown mode 0x%x", name, mode);
    struct ivshm_dir_entry *e;
    int rc = builder_reserve(b, "ring", name, ivshm_ring_bytes(slots), IVSHM_CACHE_LINE, &e, err);
    if (rc)
        return rc;
    e->type = IVSHM_OBJ_RING;
    e->param0 = slots;
    e->param1 = mode;
    zero_bytes(b->base + e->offset, sizeof(struct ivshm_ring_shared));
    b->hdr->object_count++;
    return IVSHM_OK;
}

int ivshm_builder_add_mempool(struct ivshm_builder *b, const char *name, uint32_t count,
                              uint32_t obj_size, struct ivshm_error *err)
{
    struct ivshm_mempool_layout lay;
    if (ivshm_mempool_layout(count, obj_size, &lay) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_INVAL,
                          "mempool '%s': count=%u and size=%u must be in 1..%u and 1..%u", name,
                          count, obj_size, IVSHM_MEMPOOL_MAX_OBJ, 1u << 30);
    struct ivshm_dir_entry *e;
    int rc = builder_reserve(b, "mempool", name, lay.length, IVSHM_CACHE_LINE, &e, err);
    if (rc)
        return rc;
    e->type = IVSHM_OBJ_MEMPOOL;
    e->param0 = count;
    e->param1 = obj_size;
    /* Every object starts free: its handle sits in the free ring. */
    uint8_t *obj = b->base + e->offset;
    struct ivshm_ring_shared *ring = (struct ivshm_ring_shared *)obj;
    zero_bytes(ring, sizeof(*ring));
    uint64_t *slots = (uint64_t *)(ring + 1);
    for (uint32_t i = 0; i < count; i++)
        slots[i] = e->offset + lay.objs_off + (uint64_t)i * lay.stride;
    atomic_store_explicit(&ring->prod.head, count, memory_order_relaxed);
    atomic_store_explicit(&ring->prod.tail, count, memory_order_relaxed);
    zero_bytes(obj + lay.state_off, count);
    b->hdr->object_count++;
    return IVSHM_OK;
}

int ivshm_builder_add_memzone(struct ivshm_builder *b, const char *name, uint64_t size,
                              uint32_t align, struct ivshm_error *err)
{
    if (align == 0)
        align = IVSHM_CACHE_LINE;
    if (!ivshm_is_pow2(align) || align > (1u << 30))
        return ivshm_fail(err, IVSHM_E_INVAL, "memzone '%s': align=%u is not a power of two", name,
                          align);
    if (align < IVSHM_CACHE_LINE)
        align = IVSHM_CACHE_LINE;
    if (size == 0)
        return ivshm_fail(err, IVSHM_E_INVAL, "memzone '%s': size must be at least 1 byte", name);
    struct ivshm_dir_entry *e;
    int rc = builder_reserve(b, "memzone", name, size, align, &e, err);
    if (rc)
        return rc;
    e->type = IVSHM_OBJ_MEMZONE;
    e->param0 = align;
    zero_bytes(b->base + e->offset, size);
    b->hdr->object_count++;
    return IVSHM_OK;
}

void ivshm_builder_finalize(struct ivshm_builder *b)
{
    struct ivshm_segment_header *h = b->hdr;
    h->generation++;
    h->flags |= IVSHM_SEG_FINALIZED;
    for (unsigned i = 0; i < IVSHM_MAGIC_LEN; i++)
        h->magic[i] = IVSHM_MAGIC[i];
    h->checksum = 0;
    h->checksum = ivshm_segment_checksum(h, b->dir, h->object_count);
    /* Readers in other processes may map the file at any time: make the
     * metadata visible before anything else the caller publishes. */
    atomic_thread_fence(memory_order_release);
}

/* ---- party table ---- */

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
