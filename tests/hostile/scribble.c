/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * scribble: a hostile peer. Maps a live segment file and writes random
 * bytes, random words and small nudges of indices (+-1..N) into one chosen
 * region, at a chosen rate, for a chosen time. The same seed gives the same
 * sequence of writes.
 *
 *   scribble [--dir DIR] NAME --region REGION [--object OBJ] [--rate WRITES_PER_S]
 *            [--duration S] [--seed N] [--kinds bytes,words,nudges] [--nudge N]
 *            [--log FILE]
 *   scribble [--dir DIR] NAME --flip OFFSET HEXBYTES [--hold US] [--duration S]
 *
 * Regions: ring-ctrl, ring-slots (the rings' control blocks and slots, not
 * the pool's), free-ctrl, free-slots (the mempools' free rings), state (the
 * mempools' state bytes), ctrl (memzones named ctrl*), header, dir, party,
 * data (the mempools' objects: packet headers and frames). --object limits
 * a region to one object. --flip alternates the bytes at OFFSET between
 * what they were and HEXBYTES (a peer rewriting metadata while a reader
 * copies it), each state held for US microseconds (default 0: as fast as it
 * can; then a reader rarely sees one consistent state), and puts the
 * original back at the end.
 *
 * It reads the layout itself (include/ivshm/layout.h, docs/abi.md) and calls
 * no library function: it is the other side, not a user of libivshm. It
 * prints one summary line; exit 0, or 2 for a usage error, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ivshm/layout.h"

enum field { F_BYTE, F_U32, F_U64 };

/* A place to write: a range, and the word size that nudges and word writes
 * use there; `index_at` lists the offsets of index words (ring heads and
 * tails) when the range is a ring control block. */
struct target {
    uint64_t off, len;
    enum field word;
    uint64_t nudge_unit; /* a nudge adds +-k * unit */
    bool ring_ctrl;
};

#define MAX_TARGETS 4096
static struct target targets[MAX_TARGETS];
static unsigned ntargets;
static volatile sig_atomic_t stop;
static uint64_t rng_state;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t rnd(void)
{
    /* xorshift64*: small, and the same sequence everywhere for a seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(const char *msg)
{
    fprintf(stderr,
            "scribble: %s (usage: scribble [--dir DIR] NAME --region REGION [--object OBJ] "
            "[--rate N] [--duration S] [--seed N] [--kinds bytes,words,nudges] [--nudge N] "
            "[--log FILE] | NAME --flip OFFSET HEX)\n",
            msg);
    return 2;
}

static void add_target(uint64_t off, uint64_t len, enum field word, uint64_t unit, bool ring_ctrl)
{
    if (len == 0 || ntargets == MAX_TARGETS)
        return;
    targets[ntargets++] = (struct target){off, len, word, unit, ring_ctrl};
}

static uint64_t next_pow2(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

/* Mempool layout, docs/abi.md 3.2. */
struct pool_layout {
    uint64_t ring_slots, stride, state_off, objs_off;
};

static struct pool_layout pool_layout(const struct ivshm_dir_entry *e)
{
    struct pool_layout l;
    l.ring_slots = next_pow2(e->param0);
    l.stride = (e->param1 + 63ull) & ~63ull;
    l.state_off = 256 + 8 * l.ring_slots;
    l.objs_off = (l.state_off + e->param0 + 63) & ~63ull;
    return l;
}

/* Fills targets[] for the region; returns false for an unknown region. */
static bool find_targets(const uint8_t *base, uint64_t size, const char *region, const char *object)
{
    const struct ivshm_segment_header *h = (const void *)base;
    uint64_t unit = 64; /* nudge unit for ring slots: the pool's stride if any */
    if (strcmp(region, "header") == 0) {
        add_target(0, sizeof(*h), F_U32, 1, false);
        return true;
    }
    if (strcmp(region, "party") == 0) {
        add_target(h->party_offset, (uint64_t)h->party_capacity * sizeof(struct ivshm_party), F_U32,
                   1, false);
        return true;
    }
    if (strcmp(region, "dir") == 0) {
        add_target(h->dir_offset, (uint64_t)h->object_count * sizeof(struct ivshm_dir_entry), F_U64,
                   64, false);
        return true;
    }
    const struct ivshm_dir_entry *dir = (const void *)(base + h->dir_offset);
    for (uint32_t i = 0; i < h->object_count; i++)
        if (dir[i].type == IVSHM_OBJ_MEMPOOL)
            unit = pool_layout(&dir[i]).stride;
    for (uint32_t i = 0; i < h->object_count; i++) {
        const struct ivshm_dir_entry *e = &dir[i];
        if (object && strncmp(e->name, object, sizeof(e->name)) != 0)
            continue;
        if (e->offset > size || e->length > size - e->offset)
            continue;
        bool ring = e->type == IVSHM_OBJ_RING, pool = e->type == IVSHM_OBJ_MEMPOOL;
        if (strcmp(region, "ring-ctrl") == 0 && ring) {
            add_target(e->offset, sizeof(struct ivshm_ring_shared), F_U32, 1, true);
        } else if (strcmp(region, "ring-slots") == 0 && ring) {
            add_target(e->offset + 256, 8ull * e->param0, F_U64, unit, false);
        } else if (strcmp(region, "free-ctrl") == 0 && pool) {
            add_target(e->offset, sizeof(struct ivshm_ring_shared), F_U32, 1, true);
        } else if (strcmp(region, "free-slots") == 0 && pool) {
            struct pool_layout l = pool_layout(e);
            add_target(e->offset + 256, 8 * l.ring_slots, F_U64, l.stride, false);
        } else if (strcmp(region, "state") == 0 && pool) {
            struct pool_layout l = pool_layout(e);
            add_target(e->offset + l.state_off, e->param0, F_BYTE, 1, false);
        } else if (strcmp(region, "data") == 0 && pool) {
            struct pool_layout l = pool_layout(e);
            add_target(e->offset + l.objs_off, (uint64_t)e->param0 * l.stride, F_U32, 1, false);
        } else if (strcmp(region, "ctrl") == 0 && e->type == IVSHM_OBJ_MEMZONE &&
                   strncmp(e->name, "ctrl", 4) == 0) {
            add_target(e->offset, e->length, F_U32, 1, false);
        }
    }
    static const char *const regions[] = {"ring-ctrl", "ring-slots", "free-ctrl", "free-slots",
                                          "state",     "data",       "ctrl"};
    for (unsigned i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
        if (strcmp(region, regions[i]) == 0)
            return true;
    return false;
}

static unsigned word_size(enum field f)
{
    return f == F_U64 ? 8 : f == F_U32 ? 4 : 1;
}

static uint64_t load(const uint8_t *p, unsigned n)
{
    if (n == 8)
        return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
    if (n == 4)
        return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void store(uint8_t *p, unsigned n, uint64_t v)
{
    if (n == 8)
        __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
    else if (n == 4)
        __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED);
    else
        __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED);
}

/* Offsets of the index words in a ring control block (prod and cons head,
 * tail), where words and nudges of ring-ctrl and free-ctrl go. */
static const uint64_t ring_index_words[] = {0, 4, 128, 132};

enum kind { K_BYTES, K_WORDS, K_NUDGES, K_COUNT };
static const char *const kind_names[K_COUNT] = {"bytes", "words", "nudges"};

/* One write of `kind` somewhere in target t. */
static void scribble_one(uint8_t *base, const struct target *t, enum kind kind, uint32_t nudge,
                         FILE *log)
{
    unsigned n = kind == K_BYTES ? 1 : word_size(t->word);
    uint64_t off;
    if (t->ring_ctrl && kind != K_BYTES)
        off = t->off + ring_index_words[rnd() % 4];
    else
        off = t->off + (rnd() % t->len & ~(uint64_t)(n - 1));
    if (off + n > t->off + t->len)
        return;
    uint64_t old = load(base + off, n), v;
    if (kind == K_BYTES) {
        v = rnd() & 0xff;
    } else if (kind == K_WORDS) {
        v = rnd();
    } else {
        uint64_t k = 1 + rnd() % nudge;
        v = rnd() & 1 ? old + k * t->nudge_unit : old - k * t->nudge_unit;
    }
    store(base + off, n, v);
    if (log)
        fprintf(log, "0x%llx %s %u 0x%llx -> 0x%llx\n", (unsigned long long)off, kind_names[kind],
                n, (unsigned long long)old,
                (unsigned long long)(n == 8 ? v : v & ((1ull << (8 * n)) - 1)));
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-')
        return false;
    *out = v;
    return true;
}

static int flip(uint8_t *base, uint64_t size, const char *off_s, const char *hex, double duration,
                uint64_t hold_us)
{
    uint64_t off;
    uint8_t bytes[256], orig[256];
    size_t n = strlen(hex) / 2;
    if (!parse_u64(off_s, &off) || strlen(hex) % 2 || n == 0 || n > sizeof(bytes))
        return usage("--flip OFFSET HEXBYTES: bad offset or bytes");
    for (size_t i = 0; i < n; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], 0};
        char *end;
        bytes[i] = (uint8_t)strtoul(pair, &end, 16);
        if (*end)
            return usage("--flip: HEXBYTES is not hexadecimal");
    }
    if (off > size || n > size - off)
        return usage("--flip: OFFSET + bytes past the segment");
    volatile uint8_t *p = base + off;
    for (size_t i = 0; i < n; i++)
        orig[i] = p[i];
    unsigned long long flips = 0;
    double end = now() + duration;
    while (!stop && (flips & 1023 || now() < end)) {
        const uint8_t *src = flips & 1 ? orig : bytes;
        for (size_t i = 0; i < n; i++)
            p[i] = src[i];
        flips++;
        if (hold_us) {
            struct timespec ts = {(time_t)(hold_us / 1000000), (long)(hold_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
    }
    for (size_t i = 0; i < n; i++)
        p[i] = orig[i];
    printf("scribble: flipped %zu bytes at 0x%llx %llu times\n", n, (unsigned long long)off, flips);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("IVSHM_DIR"), *name = NULL, *region = NULL, *object = NULL;
    const char *log_path = NULL, *flip_off = NULL, *flip_hex = NULL;
    uint64_t rate = 1000, seed = 1, nudge = 4, hold_us = 0;
    double duration = 5;
    bool kinds[K_COUNT] = {true, true, true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t num;
        if (strcmp(a, "--dir") == 0 && v) {
            dir = argv[++i];
        } else if (strcmp(a, "--region") == 0 && v) {
            region = argv[++i];
        } else if (strcmp(a, "--object") == 0 && v) {
            object = argv[++i];
        } else if (strcmp(a, "--log") == 0 && v) {
            log_path = argv[++i];
        } else if (strcmp(a, "--rate") == 0 && v && parse_u64(v, &num) && num > 0) {
            rate = num;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &num)) {
            seed = num;
            i++;
        } else if (strcmp(a, "--hold") == 0 && v && parse_u64(v, &num)) {
            hold_us = num;
            i++;
        } else if (strcmp(a, "--nudge") == 0 && v && parse_u64(v, &num) && num > 0) {
            nudge = num;
            i++;
        } else if (strcmp(a, "--duration") == 0 && v) {
            char *end;
            duration = strtod(v, &end);
            if (*end || !(duration > 0))
                return usage("--duration: not a number of seconds > 0");
            i++;
        } else if (strcmp(a, "--kinds") == 0 && v) {
            for (int k = 0; k < K_COUNT; k++)
                kinds[k] = strstr(v, kind_names[k]) != NULL;
            if (!kinds[0] && !kinds[1] && !kinds[2])
                return usage("--kinds: none of bytes, words, nudges");
            i++;
        } else if (strcmp(a, "--flip") == 0 && i + 2 < argc) {
            flip_off = argv[++i];
            flip_hex = argv[++i];
        } else if (a[0] == '-') {
            return usage("unknown option or bad value");
        } else if (!name) {
            name = a;
        } else {
            return usage("unexpected argument");
        }
    }
    if (!name || (!region && !flip_off))
        return usage("missing NAME or --region");
    char path[4096];
    snprintf(path, sizeof(path), "%s/ivshm-%s", dir ? dir : "/dev/hugepages", name);
    int fd = open(path, O_RDWR | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < sizeof(struct ivshm_segment_header)) {
        fprintf(stderr, "scribble: %s: cannot use: %s\n", path, fd < 0 ? strerror(errno) : "");
        return 1;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        fprintf(stderr, "scribble: %s: mmap: %s\n", path, strerror(errno));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (flip_off)
        return flip(base, size, flip_off, flip_hex, duration, hold_us);

    /* The layout is read once, before any write. */
    const struct ivshm_segment_header *h = (const void *)base;
    if (memcmp(h->magic, IVSHM_MAGIC, IVSHM_MAGIC_LEN) != 0 || h->dir_offset > size ||
        (uint64_t)h->object_count * sizeof(struct ivshm_dir_entry) > size - h->dir_offset) {
        fprintf(stderr, "scribble: %s: not a segment it can read\n", path);
        return 1;
    }
    if (!find_targets(base, size, region, object))
        return usage("unknown region (ring-ctrl ring-slots free-ctrl free-slots state ctrl "
                     "header dir party data)");
    if (ntargets == 0) {
        fprintf(stderr, "scribble: %s: no %s%s%s in this segment\n", name, region,
                object ? " of object " : "", object ? object : "");
        return 1;
    }
    FILE *log = log_path ? fopen(log_path, "w") : NULL;
    if (log_path && !log) {
        fprintf(stderr, "scribble: %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    unsigned long long done[K_COUNT] = {0};
    double start = now(), end = start + duration, owed = 0, last = start;
    while (!stop) {
        double t = now();
        if (t >= end)
            break;
        owed += (t - last) * (double)rate;
        last = t;
        for (; owed >= 1; owed--) {
            enum kind k;
            do
                k = (enum kind)(rnd() % K_COUNT);
            while (!kinds[k]);
            scribble_one(base, &targets[rnd() % ntargets], k, (uint32_t)nudge, log);
            done[k]++;
        }
        struct timespec ts = {0, 1000000}; /* 1 ms between batches */
        nanosleep(&ts, NULL);
    }
    printf("scribble: %s region %s: %llu writes (%llu bytes, %llu words, %llu nudges) in %.1f s, "
           "seed %llu, %u targets\n",
           name, region, done[0] + done[1] + done[2], done[0], done[1], done[2], now() - start,
           (unsigned long long)seed, ntargets);
    if (log)
        fclose(log);
    return 0;
}
