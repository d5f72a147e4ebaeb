/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment metadata: checksum, validation, lookup.
 * Freestanding: compiled for the Linux host and for the bare-metal guest.
 */
#include <stdatomic.h>

#include "common/object.h"

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

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool ivshm_name_valid(const char *name)
{
    size_t n = 0;
    while (n < IVSHM_NAME_SIZE && name[n]) {
        if (!name_char_ok(name[n]))
            return false;
        n++;
    }
    return n >= 1 && n <= IVSHM_NAME_MAX;
}

/* A bad name is described, not echoed: it may come from a segment a peer
 * wrote, or from a command line, and hold a newline or a terminal escape
 * sequence. It is quoted only when every byte read is printable ASCII, and
 * at most IVSHM_NAME_SIZE bytes of it are ever read. */
int ivshm_name_check(const char *kind, const char *name, int code, struct ivshm_error *err)
{
    if (name && ivshm_name_valid(name))
        return IVSHM_OK;
    static const char rule[] = "must be 1 to 31 characters of [A-Za-z0-9_-]";
    if (!name || !name[0])
        return ivshm_fail(err, code, "%s name is empty; %s", kind, rule);
    size_t n = 0;
    bool printable = true;
    size_t bad = IVSHM_NAME_SIZE; /* first byte outside the set */
    while (n < IVSHM_NAME_SIZE && name[n]) {
        uint8_t c = (uint8_t)name[n];
        if (c < 0x20 || c > 0x7e)
            printable = false;
        if (bad == IVSHM_NAME_SIZE && !name_char_ok(name[n]))
            bad = n;
        n++;
    }
    /* At most the 32 bytes read are quoted: a longer name is shown cut. */
    if (bad == IVSHM_NAME_SIZE) /* every byte allowed: too long */
        return ivshm_fail(err, code, "%s name '%.*s': longer than %u characters; %s", kind, (int)n,
                          name, IVSHM_NAME_MAX, rule);
    if (printable)
        return ivshm_fail(err, code, "%s name '%.*s': byte 0x%02x at offset %u; %s", kind, (int)n,
                          name, (unsigned)(uint8_t)name[bad], (unsigned)bad, rule);
    return ivshm_fail(err, code, "%s name: byte 0x%02x at offset %u; %s", kind,
                      (unsigned)(uint8_t)name[bad], (unsigned)bad, rule);
}

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

/* Copies from shared memory once, so every later check sees the same bytes. */
static void copy_in(void *dst, const volatile void *src, size_t n)
{
    uint8_t *d = dst;
    const volatile uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

int ivshm_entry_check(const struct ivshm_dir_entry *e, uint64_t data_offset, uint64_t segment_size,
                      struct ivshm_error *err)
{
    size_t name_len = bounded_len(e->name, IVSHM_NAME_SIZE);
    if (name_len == IVSHM_NAME_SIZE)
        return ivshm_fail(err, IVSHM_E_BADSEG, "object name is not terminated");
    int rc = ivshm_name_check("object", e->name, IVSHM_E_BADSEG, err);
    if (rc)
        return rc;
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

    const struct ivshm_object_class *t = ivshm_object_class_find(e->type);
    if (!t)
        return ivshm_fail(err, IVSHM_E_BADSEG, "object '%s': unknown type %u", n, e->type);
    return t->check_entry(e, err);
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
    if (bounded_len(h.name, IVSHM_NAME_SIZE) == IVSHM_NAME_SIZE)
        return ivshm_fail(err, IVSHM_E_BADSEG, "segment name is not terminated");
    int rc = ivshm_name_check("segment", h.name, IVSHM_E_BADSEG, err);
    if (rc)
        return rc;
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
                if (ivshm_name_equal(other.name, e.name))
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
    view->party = -1;
    return IVSHM_OK;
}

int ivshm_object_lookup(const struct ivshm_segment_view *view, const char *name, uint32_t type,
                        struct ivshm_dir_entry *entry, struct ivshm_error *err)
{
    for (uint32_t i = 0; i < view->object_count; i++) {
        struct ivshm_dir_entry e;
        copy_in(&e, &view->dir[i], sizeof(e));
        if (!ivshm_name_equal(e.name, name) || (type && e.type != type))
            continue;
        struct ivshm_error sub;
        if (ivshm_entry_check(&e, view->data_offset, view->size, &sub) != IVSHM_OK)
            return ivshm_fail(err, IVSHM_E_BADSEG, "%s/%s: %s", view->name, name, sub.msg);
        *entry = e;
        return IVSHM_OK;
    }
    return ivshm_fail(err, IVSHM_E_NOENT, "%s/%s: no %s of that name", view->name, name,
                      type ? ivshm_object_type_name(type) : "object");
}

int ivshm_object_get(const struct ivshm_segment_view *view, uint32_t index,
                     struct ivshm_dir_entry *entry, struct ivshm_error *err)
{
    if (index >= view->object_count)
        return ivshm_fail(err, IVSHM_E_INVAL, "%s: object %u of %u", view->name, index,
                          view->object_count);
    struct ivshm_dir_entry e;
    copy_in(&e, &view->dir[index], sizeof(e));
    struct ivshm_error sub;
    if (ivshm_entry_check(&e, view->data_offset, view->size, &sub) != IVSHM_OK)
        return ivshm_fail(err, IVSHM_E_BADSEG, "%s: object %u: %s", view->name, index, sub.msg);
    *entry = e;
    return IVSHM_OK;
}

int ivshm_memzone_lookup(const struct ivshm_segment_view *view, const char *name, void **addr,
                         uint64_t *length, struct ivshm_error *err)
{
    struct ivshm_dir_entry e;
    int rc = ivshm_object_lookup(view, name, IVSHM_OBJ_MEMZONE, &e, err);
    if (rc)
        return rc;
    *addr = view->base + e.offset;
    if (length)
        *length = e.length;
    return IVSHM_OK;
}
