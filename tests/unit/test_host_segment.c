/* SPDX-License-Identifier: BSD-3-Clause */
/* libivshm: segment files (create, attach from another process, lookup,
 * parties and liveness, non-segments refused, directory fallback), size
 * parsing and QEMU arguments. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_run.h"
#include "host/fwd_host.h"
#include "host/hugepages.h"
#include "host/internal.h"
#include "ivshm/builder.h"
#include "ivshm/party.h"
#include "ivshm/qemu.h"

static char dir[PATH_MAX];

static void setup(void)
{
    const char *base = getenv("TEST_TMP");
    snprintf(dir, sizeof(dir), "%s/host_segment.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv(IVSHM_ENV_DIR);
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[PATH_MAX + 300];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Number of entries in dir besides . and .. */
static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static const struct ivshm_object_spec acceptance[] = {
    {.type = IVSHM_OBJ_RING, .name = "rx", .slots = 1024, .mode = IVSHM_RING_SPSC},
    {.type = IVSHM_OBJ_RING, .name = "tx", .slots = 1024, .mode = IVSHM_RING_MPMC},
    {.type = IVSHM_OBJ_MEMPOOL, .name = "pkts", .count = 4096, .obj_size = 2048},
    {.type = IVSHM_OBJ_MEMZONE, .name = "ctrl", .size = 4096},
};

static void create_t1(const char *where)
{
    struct ivshm_create_opts o = {
        .name = "t1",
        .dir = where,
        .size = 16u << 20,
        .numa_node = -1,
        .objects = acceptance,
        .object_count = 4,
    };
    struct ivshm_create_result res;
    struct ivshm_error err = {0};
    int rc = ivshm_segment_create(&o, &res, &err);
    ck_assert_msg(rc == IVSHM_OK, "create: %s", err.msg);
    ck_assert_uint_eq(res.size, 16u << 20);
}

START_TEST(test_create_attach_lookup)
{
    create_t1(dir);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/ivshm-t1", dir);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_size, 16u << 20);
    ck_assert_int_eq(dir_entries(dir), 1); /* no temporary file left */

    struct ivshm_segment seg;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", 0, NULL, &seg, &err), IVSHM_OK);
    ck_assert_str_eq(seg.view.name, "t1");
    ck_assert_uint_eq(seg.view.object_count, 4);
    ck_assert_uint_eq(seg.view.party_capacity, IVSHM_DEFAULT_PARTIES);
    ck_assert_int_eq(seg.view.party, -1);
    struct ivshm_dir_entry e;
    ck_assert_int_eq(ivshm_object_lookup(&seg.view, "pkts", IVSHM_OBJ_MEMPOOL, &e, &err), IVSHM_OK);
    ck_assert_uint_eq(e.param0, 4096);
    ck_assert_uint_eq(e.param1, 2048);
    ck_assert_int_eq(ivshm_object_lookup(&seg.view, "pkts", IVSHM_OBJ_RING, &e, &err),
                     IVSHM_E_NOENT);
    ck_assert_int_eq(ivshm_object_lookup(&seg.view, "nope", 0, &e, &err), IVSHM_E_NOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    void *zone;
    uint64_t len;
    ck_assert_int_eq(ivshm_memzone_lookup(&seg.view, "ctrl", &zone, &len, &err), IVSHM_OK);
    ck_assert_uint_eq(len, 4096);
    ck_assert_uint_eq(((uintptr_t)zone - (uintptr_t)seg.base) % 64, 0);
    /* a mempool needs a party */
    struct ivshm_mempool mp;
    ck_assert_int_eq(ivshm_mempool_lookup(&seg.view, "pkts", &mp, &err), IVSHM_E_INVAL);
    ivshm_segment_detach(&seg);
}
END_TEST

/* The child attaches as a party, allocates from the mempool, writes into the
 * objects and passes their handles through ring rx; the parent, attached
 * separately, checks the data and frees the objects the child allocated. */
START_TEST(test_two_processes)
{
    create_t1(dir);
    enum { N = 100 };
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ivshm_segment seg;
        struct ivshm_error err;
        struct ivshm_ring rx;
        struct ivshm_mempool mp;
        if (ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "child", &seg, &err) ||
            ivshm_ring_lookup(&seg.view, "rx", &rx, &err) ||
            ivshm_mempool_lookup(&seg.view, "pkts", &mp, &err))
            _exit(10);
        for (uint64_t i = 0; i < N; i++) {
            uint64_t h;
            if (ivshm_mempool_get(&mp, NULL, &h) != IVSHM_OK)
                _exit(11);
            memset(ivshm_mempool_ptr(&mp, h), (int)(i & 0xff), 2048);
            if (ivshm_ring_enqueue(&rx, h) != IVSHM_OK)
                _exit(12);
        }
        ivshm_segment_detach(&seg);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);

    struct ivshm_segment seg;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "parent", &seg, &err),
                     IVSHM_OK);
    ck_assert_int_ge(seg.view.party, 0);
    struct ivshm_ring rx;
    struct ivshm_mempool mp;
    ck_assert_int_eq(ivshm_ring_lookup(&seg.view, "rx", &rx, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_mempool_lookup(&seg.view, "pkts", &mp, &err), IVSHM_OK);
    ck_assert_uint_eq(ivshm_ring_count(&rx), N);
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), 4096 - N);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t h;
        ck_assert_int_eq(ivshm_ring_dequeue(&rx, &h), IVSHM_OK);
        const uint8_t *p = ivshm_mempool_ptr(&mp, h);
        ck_assert_uint_eq(p[0], i & 0xff);
        ck_assert_uint_eq(p[2047], i & 0xff);
        ck_assert_int_eq(ivshm_mempool_put(&mp, NULL, h), IVSHM_OK);
    }
    ck_assert_uint_eq(ivshm_mempool_free_count(&mp), 4096);
    /* The child detached, so its slot (0) was GONE and the parent reused it. */
    ck_assert_int_eq(seg.view.party, 0);
    ck_assert_uint_eq(seg.view.parties[0].attach_count, 2);
    ck_assert_uint_eq(seg.view.parties[0].pid, (uint64_t)getpid());
    ivshm_segment_detach(&seg);
}
END_TEST

START_TEST(test_party_liveness)
{
    create_t1(dir);
    int ready[2], go[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ivshm_segment seg;
        struct ivshm_error err;
        char c = 'x';
        if (ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "sleeper", &seg, &err))
            _exit(10);
        c = (char)seg.view.party;
        if (write(ready[1], &c, 1) != 1)
            _exit(11);
        /* Wait, then die without detaching. */
        if (read(go[0], &c, 1) < 0)
            _exit(12);
        _exit(0);
    }
    char slot;
    ck_assert_int_eq(read(ready[0], &slot, 1), 1);

    struct ivshm_segment seg;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "me", &seg, &err),
                     IVSHM_OK);
    ck_assert_int_ne(seg.view.party, slot);
    struct ivshm_party *child = &seg.view.parties[(int)slot];
    struct ivshm_party *me = &seg.view.parties[seg.view.party];
    ck_assert_uint_eq(child->pid, (uint64_t)pid);
    ck_assert_str_eq(child->label, "sleeper");
    ck_assert(ivshm_party_alive(child));
    ck_assert(ivshm_party_alive(me));
    uint64_t start;
    ck_assert_int_eq(ivshm_process_start_time(0, &start, NULL), 0);
    ck_assert_uint_eq(me->start_time, start);
    ck_assert_int_eq(ivshm_process_start_time(pid, &start, NULL), 0);
    ck_assert_uint_eq(child->start_time, start);

    /* A live pid with another start time is a reused pid: not alive. */
    child->start_time++;
    ck_assert(!ivshm_party_alive(child));
    child->start_time--;

    /* destroy refuses while a host party lives, unless forced */
    ck_assert_int_eq(ivshm_segment_destroy(dir, "t1", 0, &err), IVSHM_E_EXIST);

    ck_assert_int_eq(write(go[1], "g", 1), 1);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(!ivshm_party_alive(child)); /* still ALIVE in the table, but dead */
    ck_assert_uint_eq(atomic_load(&child->state), IVSHM_PARTY_ALIVE);

    int my_slot = seg.view.party;
    ivshm_segment_detach(&seg);
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_READONLY, NULL, &seg, &err),
                     IVSHM_OK);
    ck_assert_uint_eq(atomic_load(&seg.view.parties[my_slot].state), IVSHM_PARTY_GONE);
    ck_assert(!ivshm_party_alive(&seg.view.parties[my_slot]));
    ivshm_segment_detach(&seg);
    /* no live party left (the child is dead): destroy works */
    ck_assert_int_eq(ivshm_segment_destroy(dir, "t1", 0, &err), IVSHM_OK);
    ck_assert_int_eq(dir_entries(dir), 0);
}
END_TEST

START_TEST(test_party_table_full)
{
    struct ivshm_object_spec z = {.type = IVSHM_OBJ_MEMZONE, .name = "z", .size = 64};
    struct ivshm_create_opts o = {.name = "few",
                                  .dir = dir,
                                  .size = 65536,
                                  .numa_node = -1,
                                  .party_capacity = 2,
                                  .dir_capacity = 8,
                                  .objects = &z,
                                  .object_count = 1};
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_create(&o, NULL, &err), IVSHM_OK);
    struct ivshm_segment a, b, c;
    ck_assert_int_eq(ivshm_segment_attach(dir, "few", IVSHM_ATTACH_CLAIM, "a", &a, &err), 0);
    ck_assert_int_eq(ivshm_segment_attach(dir, "few", IVSHM_ATTACH_CLAIM, "b", &b, &err), 0);
    ck_assert_uint_eq(a.view.hdr->dir_capacity, 8);
    ck_assert_int_eq(ivshm_segment_attach(dir, "few", IVSHM_ATTACH_CLAIM, "c", &c, &err),
                     IVSHM_E_PARTIES);
    ivshm_segment_detach(&b);
    ck_assert_int_eq(ivshm_segment_attach(dir, "few", IVSHM_ATTACH_CLAIM, "c", &c, &err), 0);
    ck_assert_int_eq(c.view.party, 1); /* b's slot, reused */
    ck_assert_uint_eq(c.view.parties[1].attach_count, 2);
    ivshm_segment_detach(&c);
    ivshm_segment_detach(&a);
    /* read-only attach cannot claim */
    ck_assert_int_eq(ivshm_segment_attach(dir, "few", IVSHM_ATTACH_CLAIM | IVSHM_ATTACH_READONLY,
                                          NULL, &a, &err),
                     IVSHM_E_INVAL);
}
END_TEST

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

START_TEST(test_not_a_segment_refused)
{
    char path[PATH_MAX + 32];
    static uint8_t junk[1 << 16];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    snprintf(path, sizeof(path), "%s/ivshm-junk", dir);
    write_file(path, junk, sizeof(junk));
    snprintf(path, sizeof(path), "%s/ivshm-tiny", dir);
    write_file(path, "IVSHMSEG", 8); /* the magic, but no header */

    struct ivshm_segment seg;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_attach(dir, "junk", 0, NULL, &seg, &err), IVSHM_E_NOTSEG);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an ivshm segment"));
    ck_assert_int_eq(ivshm_segment_attach(dir, "tiny", 0, NULL, &seg, &err), IVSHM_E_NOTSEG);
    ck_assert_int_eq(ivshm_segment_destroy(dir, "junk", IVSHM_DESTROY_FORCE, &err), IVSHM_E_NOTSEG);
    ck_assert_int_eq(ivshm_segment_destroy(dir, "tiny", IVSHM_DESTROY_FORCE, &err), IVSHM_E_NOTSEG);
    ck_assert_int_eq(dir_entries(dir), 2); /* both still there */
    snprintf(path, sizeof(path), "%s/ivshm-junk", dir);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_size, sizeof(junk));

    /* A real segment with a damaged checksum is refused by attach but is
     * still ours to destroy. */
    create_t1(dir);
    snprintf(path, sizeof(path), "%s/ivshm-t1", dir);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "\xff", 1, 52), 1); /* object_count */
    close(fd);
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", 0, NULL, &seg, &err), IVSHM_E_BADSEG);
    ck_assert_int_eq(ivshm_segment_destroy(dir, "t1", 0, &err), IVSHM_OK);
    ck_assert_int_eq(stat(path, &st), -1);
    /* A missing segment */
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", 0, NULL, &seg, &err), IVSHM_E_NOENT);
    ck_assert_int_eq(ivshm_segment_destroy(dir, "t1", 0, &err), IVSHM_E_NOENT);
}
END_TEST

START_TEST(test_create_errors_leave_nothing)
{
    struct ivshm_create_result res;
    struct ivshm_error err = {0};
    struct ivshm_create_opts o = {.name = "t1",
                                  .dir = dir,
                                  .size = 16u << 20,
                                  .numa_node = -1,
                                  .objects = acceptance,
                                  .object_count = 4};

    o.size = 1u << 20;                                        /* the mempool needs 8 MiB */
    ck_assert_int_eq(ivshm_create_check(&o, &err), IVSHM_OK); /* the arguments are fine */
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_TOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "pkts"));
    ck_assert_int_eq(dir_entries(dir), 0);

    struct ivshm_object_spec dup[2] = {acceptance[0], acceptance[0]};
    o.size = 16u << 20;
    o.objects = dup;
    o.object_count = 2;
    ck_assert_int_eq(ivshm_create_check(&o, &err), IVSHM_E_EXIST);
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_EXIST);

    struct ivshm_object_spec bad = acceptance[0];
    bad.slots = 1000;
    o.objects = &bad;
    o.object_count = 1;
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "slots=1000"));
    bad = acceptance[2];
    bad.cache = IVSHM_MEMPOOL_CACHE_MAX + 1;
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_INVAL);
    bad.cache = IVSHM_MEMPOOL_CACHE_MAX;
    bad.name = "name.with.dots";
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_INVAL);

    o.objects = acceptance;
    o.object_count = 4;
    o.numa_node = 4000;
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_NOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "NUMA node 4000"));
    ck_assert_ptr_null(strstr(err.msg, "--")); /* the library names no CLI flag */
    o.numa_node = -1;

    char missing[PATH_MAX + 8];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    o.dir = missing;
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_NOENT);
    o.dir = dir;
    ck_assert_int_eq(dir_entries(dir), 0);

    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_E_EXIST);
    ck_assert_int_eq(dir_entries(dir), 1);
}
END_TEST

/* SIGTERM while the temporary file exists: the process dies of it, and what
 * is left is either nothing or the complete, valid segment (if the signal
 * came after the last check), never a temporary or half-built file. */
/* The traffic source of a queue (docs/abi.md 4.1): one live party claims
 * it; another is refused, named; a claim of a gone party, or of a slot
 * claimed again since, is taken over; release gives it back. */
START_TEST(test_queue_sources)
{
    create_t1(dir);
    struct ivshm_segment a, b;
    struct ivshm_error err = {0};
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "gen-a", &a, &err),
                     IVSHM_OK);
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "gen-b", &b, &err),
                     IVSHM_OK);
    void *zone;
    /* (through b's mapping: a detaches below) */
    ck_assert_int_eq(ivshm_memzone_lookup(&b.view, "ctrl", &zone, NULL, &err), IVSHM_OK);
    struct ivshm_fwd_ctrl *ctrl = zone;
    memset(ctrl, 0, sizeof(*ctrl));

    ck_assert_int_eq(ivshm_fwd_host_claim_source(&a.view, ctrl, 0, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_fwd_host_claim_source(&a.view, ctrl, 0, &err),
                     IVSHM_OK); /* again: ours */
    uint64_t word = atomic_load(&ctrl->q[0].source);
    ck_assert_uint_eq((uint32_t)word, (uint32_t)a.view.party + 1);
    ck_assert_uint_eq(word >> 32, 1); /* a's slot, first attach */
    ck_assert_uint_eq(atomic_load(&ctrl->q[1].source), 0);

    ck_assert_int_eq(ivshm_fwd_host_claim_source(&b.view, ctrl, 0, &err), IVSHM_E_EXIST);
    char want[128];
    snprintf(want, sizeof(want), "t1: queue 0 is driven by gen-a (pid %d, party %d)", (int)getpid(),
             a.view.party);
    ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
    ck_assert_int_eq(ivshm_fwd_host_check_source(&b.view, ctrl, 0, &err), IVSHM_E_EXIST);
    ck_assert_int_eq(ivshm_fwd_host_check_source(&a.view, ctrl, 0, &err), IVSHM_OK); /* ours */
    ck_assert_int_eq(ivshm_fwd_host_claim_source(&b.view, ctrl, 1, &err), IVSHM_OK);

    /* b cannot release a's claim; a can. */
    ivshm_fwd_host_release_source(&b.view, ctrl, 0);
    ck_assert_uint_eq(atomic_load(&ctrl->q[0].source), word);
    ivshm_fwd_host_release_source(&a.view, ctrl, 0);
    ck_assert_uint_eq(atomic_load(&ctrl->q[0].source), 0);

    /* Stale: a's slot released, then claimed again (its attach count moves
     * on): the old word names nobody alive. */
    atomic_store(&ctrl->q[0].source, word);
    int slot = a.view.party;
    ivshm_segment_detach(&a);
    ck_assert_int_eq(ivshm_fwd_host_check_source(&b.view, ctrl, 0, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_CLAIM, "gen-a2", &a, &err),
                     IVSHM_OK);
    ck_assert_int_eq(a.view.party, slot);
    ck_assert_int_eq(ivshm_fwd_host_check_source(&b.view, ctrl, 0, &err), IVSHM_OK);
    ck_assert_int_eq(ivshm_fwd_host_claim_source(&b.view, ctrl, 0, &err), IVSHM_OK);
    /* Garbage from a peer (a party index past the table) is stale too. */
    atomic_store(&ctrl->q[2].source, 0xffffffff00000063ull);
    ck_assert_int_eq(ivshm_fwd_host_claim_source(&a.view, ctrl, 2, &err), IVSHM_OK);
    /* No party, or a queue out of range: nothing to claim with. */
    struct ivshm_segment ro;
    ck_assert_int_eq(ivshm_segment_attach(dir, "t1", IVSHM_ATTACH_READONLY, NULL, &ro, &err),
                     IVSHM_OK);
    ck_assert_int_eq(ivshm_fwd_host_claim_source(&ro.view, ctrl, 3, &err), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_fwd_host_claim_source(&a.view, ctrl, IVSHM_FWD_MAX_QUEUES, &err),
                     IVSHM_E_INVAL);
    ivshm_segment_detach(&ro);
    ivshm_segment_detach(&a);
    ivshm_segment_detach(&b);
}
END_TEST

/* Whether process pid has a file of directory d open: the new file of a
 * create, named or not (an O_TMPFILE file reads as "D/#123 (deleted)"). */
static bool holds_file_in(pid_t pid, const char *d)
{
    char fds[64], link[PATH_MAX + 64], target[PATH_MAX + 64];
    snprintf(fds, sizeof(fds), "/proc/%d/fd", (int)pid);
    DIR *dp = opendir(fds);
    struct dirent *e;
    bool found = false;
    size_t dlen = strlen(d);
    while (dp && !found && (e = readdir(dp)) != NULL) {
        snprintf(link, sizeof(link), "%s/%s", fds, e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = 0;
            found = strncmp(target, d, dlen) == 0 && target[dlen] == '/';
        }
    }
    if (dp)
        closedir(dp);
    return found;
}

START_TEST(test_signal_during_create)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Check's own SIGTERM handler (inherited) would kill the whole
         * process group: this process must just die of the signal. */
        signal(SIGTERM, SIG_DFL);
        /* 256 MiB to zero: long enough for the parent to see the temp file */
        struct ivshm_object_spec z = {.type = IVSHM_OBJ_MEMZONE, .name = "z", .size = 255u << 20};
        struct ivshm_create_opts o = {.name = "sig",
                                      .dir = dir,
                                      .size = 256u << 20,
                                      .numa_node = -1,
                                      .objects = &z,
                                      .object_count = 1};
        struct ivshm_error err;
        int rc = ivshm_segment_create(&o, NULL, &err);
        _exit(rc == IVSHM_OK ? 0 : 3);
    }
    bool seen_tmp = false;
    for (int i = 0; i < 20000 && !seen_tmp; i++) {
        seen_tmp = holds_file_in(pid, dir);
        if (!seen_tmp)
            usleep(100);
    }
    if (seen_tmp)
        kill(pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (!seen_tmp) {
        /* creation finished before we looked: nothing to check but success */
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return;
    }
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x", status);
    int n = dir_entries(dir);
    if (n == 1) {
        struct ivshm_segment seg;
        struct ivshm_error err;
        ck_assert_int_eq(ivshm_segment_attach(dir, "sig", IVSHM_ATTACH_READONLY, NULL, &seg, &err),
                         IVSHM_OK);
        ivshm_segment_detach(&seg);
    } else {
        ck_assert_int_eq(n, 0);
    }
}
END_TEST

/* Runs fn in a child with stderr into a pipe; returns the wait status and
 * what the child wrote to stderr. */
static int in_child(void (*fn)(void), char *out, size_t size)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n < size - 1 && (got = read(fds[0], out + n, size - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = 0;
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* Attaches t1, truncates its file to 4096 bytes, touches 1 MiB in. */
static void touch_truncated_segment(void)
{
    struct ivshm_segment seg;
    struct ivshm_error err;
    if (ivshm_segment_attach(dir, "t1", 0, NULL, &seg, &err) != IVSHM_OK ||
        ivshm_sigbus_catch("unit") != IVSHM_OK || truncate(seg.path, 4096) != 0)
        _exit(3);
    ((volatile uint8_t *)seg.base)[1 << 20] = 1;
    _exit(4); /* not reached */
}

/* A file of our own (not a segment), truncated under its mapping. */
static void touch_truncated_other_file(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/other", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 1 << 20) != 0 || ivshm_sigbus_catch("unit") != IVSHM_OK)
        _exit(3);
    volatile uint8_t *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || ftruncate(fd, 4096) != 0)
        _exit(3);
    p[1 << 19] = 1;
    _exit(4);
}

static void raise_sigbus(void)
{
    if (ivshm_sigbus_catch("unit") != IVSHM_OK)
        _exit(3);
    raise(SIGBUS);
    _exit(4);
}

/* A SIGBUS in a segment's mapping ends the process with one line naming
 * the segment and status 1 (issue 13 F8); any other SIGBUS is passed on
 * (killed by it, or, under ASan, reported by ASan): never our line. */
START_TEST(test_sigbus_names_truncated_segment)
{
    create_t1(dir);
    char out[512];
    int status = in_child(touch_truncated_segment, out, sizeof(out));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x: %s", status, out);
    ck_assert_str_eq(
        out, "unit: segment file t1 was truncated under us (4096 of 16777216 bytes left)\n");

    void (*others[])(void) = {touch_truncated_other_file, raise_sigbus};
    for (unsigned i = 0; i < 2; i++) {
        status = in_child(others[i], out, sizeof(out));
        ck_assert_msg(
            !(WIFEXITED(status) && (WEXITSTATUS(status) == 3 || WEXITSTATUS(status) == 4)),
            "case %u: status 0x%x", i, status);
        ck_assert_msg(!strstr(out, "truncated under us"), "case %u: %s", i, out);
        if (!strstr(out, "AddressSanitizer"))
            ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS, "case %u: 0x%x", i,
                          status);
    }
}
END_TEST

/* The directory is found from --dir, then IVSHM_DIR, then the first
 * hugetlbfs mount, then /dev/shm with the fallback flag. */
START_TEST(test_dir_resolution)
{
    char mounts[PATH_MAX + 16], out[PATH_MAX];
    bool fb = true;
    struct ivshm_error err;
    snprintf(mounts, sizeof(mounts), "%s/mounts", dir);
    const char *no_huge = "proc /proc proc rw 0 0\n"
                          "tmpfs /dev/shm tmpfs rw 0 0\n";
    write_file(mounts, no_huge, strlen(no_huge));
    ck_assert_int_eq(ivshm_dir_resolve_from(NULL, mounts, out, sizeof(out), &fb, &err), 0);
    ck_assert_str_eq(out, "/dev/shm");
    ck_assert(fb);

    const char *with_huge = "proc /proc proc rw 0 0\n"
                            "none /mnt/huge\\040pages hugetlbfs rw,pagesize=2M 0 0\n"
                            "none /dev/hugepages1G hugetlbfs rw,pagesize=1G 0 0\n";
    write_file(mounts, with_huge, strlen(with_huge));
    ck_assert_int_eq(ivshm_dir_resolve_from(NULL, mounts, out, sizeof(out), &fb, &err), 0);
    ck_assert_str_eq(out, "/mnt/huge pages");
    ck_assert(!fb);

    setenv(IVSHM_ENV_DIR, "/from/env", 1);
    ck_assert_int_eq(ivshm_dir_resolve_from(NULL, mounts, out, sizeof(out), &fb, &err), 0);
    ck_assert_str_eq(out, "/from/env");
    ck_assert_int_eq(ivshm_dir_resolve_from("/explicit", mounts, out, sizeof(out), &fb, &err), 0);
    ck_assert_str_eq(out, "/explicit");
    unsetenv(IVSHM_ENV_DIR);
}
END_TEST

/* Creating in /dev/shm (the fallback directory) gives 4 KiB pages. */
START_TEST(test_dev_shm_segment)
{
    struct ivshm_dir_info info;
    struct ivshm_error err = {0};
    if (ivshm_dir_info(IVSHM_SHM_DIR, &info, &err) != IVSHM_OK)
        return; /* no /dev/shm here: nothing to check */
    ck_assert(!info.hugetlbfs);
    char name[32];
    snprintf(name, sizeof(name), "unit-%d", (int)getpid());
    struct ivshm_object_spec z = {.type = IVSHM_OBJ_MEMZONE, .name = "z", .size = 100};
    struct ivshm_create_opts o = {.name = name,
                                  .dir = IVSHM_SHM_DIR,
                                  .size = 5000,
                                  .numa_node = -1,
                                  .objects = &z,
                                  .object_count = 1};
    struct ivshm_create_result res;
    ck_assert_int_eq(ivshm_segment_create(&o, &res, &err), IVSHM_OK);
    ck_assert_uint_eq(res.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
    ck_assert_uint_eq(res.size, 8192);
    ck_assert(!res.shm_fallback); /* asked for explicitly */
    struct ivshm_segment seg;
    ck_assert_int_eq(ivshm_segment_attach(IVSHM_SHM_DIR, name, 0, NULL, &seg, &err), IVSHM_OK);
    ck_assert_uint_eq(seg.view.hdr->page_size, res.page_size);
    ivshm_segment_detach(&seg);
    ck_assert_int_eq(ivshm_segment_destroy(IVSHM_SHM_DIR, name, 0, &err), IVSHM_OK);
}
END_TEST

struct list_seen {
    int n;
    char names[4][32];
    bool valid[4];
};

static int list_cb(const char *name, const char *p, const struct ivshm_segment *seg,
                   const struct ivshm_error *why, void *ctx)
{
    struct list_seen *seen = ctx;
    (void)p;
    ck_assert(seg != NULL || (why != NULL && why->code == IVSHM_E_NOTSEG));
    if (seen->n < 4) {
        snprintf(seen->names[seen->n], 32, "%s", name);
        seen->valid[seen->n] = seg != NULL;
    }
    seen->n++;
    return 0;
}

START_TEST(test_list)
{
    create_t1(dir);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/ivshm-junk", dir);
    char text[300];
    memset(text, '.', sizeof(text)); /* longer than a header, no magic */
    write_file(path, text, sizeof(text));
    snprintf(path, sizeof(path), "%s/unrelated", dir);
    write_file(path, "x", 1);
    struct ivshm_error err;
    struct list_seen seen = {0};
    ck_assert_int_eq(ivshm_segment_list(dir, list_cb, &seen, &err), IVSHM_OK);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_str_eq(seen.names[0], "junk");
    ck_assert(!seen.valid[0]);
    ck_assert_str_eq(seen.names[1], "t1");
    ck_assert(seen.valid[1]);
}
END_TEST

START_TEST(test_round_segment_size)
{
    ck_assert_uint_eq(ivshm_round_segment_size(5000, 4096), 8192);
    ck_assert_uint_eq(ivshm_round_segment_size(1, 2u << 20), 2u << 20);
    ck_assert_uint_eq(ivshm_round_segment_size((16u << 20) + 1, 2u << 20), 32u << 20);
}
END_TEST

START_TEST(test_qemu_args)
{
    static struct ivshm_qemu_segment segs[32];
    static char names[32][8];
    for (int i = 0; i < 32; i++) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        segs[i] = (struct ivshm_qemu_segment){
            .name = names[i], .path = "/dev/hugepages/ivshm-x", .size = 2u << 20, .numa_node = -1};
    }
    segs[5].numa_node = 1;
    static char out[65536];
    struct ivshm_error err;
    ck_assert_int_eq(ivshm_qemu_args(segs, 32, NULL, out, sizeof(out), &err), IVSHM_OK);
    ck_assert_ptr_nonnull(strstr(out, "addr=0x10.0x0,multifunction=on"));
    ck_assert_ptr_nonnull(strstr(out, "addr=0x13.0x7,"));
    ck_assert_ptr_null(strstr(out, "addr=0x14"));
    ck_assert_ptr_nonnull(strstr(out, "size=2097152,share=on,host-nodes=1,policy=bind"));
    ck_assert_ptr_nonnull(strstr(out, "-device ivshmem-plain,id=ivshm-s31,memdev=ivshm-mem-s31,"
                                      "bus=ivshm-port-s31"));
    /* one line per segment */
    int lines = 1;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 32);

    struct ivshm_qemu_opts pc = {.machine = IVSHM_QEMU_PC};
    ck_assert_int_eq(ivshm_qemu_args(segs, 1, &pc, out, sizeof(out), &err), IVSHM_OK);
    ck_assert_ptr_null(strstr(out, "pcie-root-port"));
    ck_assert_ptr_null(strstr(out, "bus="));

    segs[0].path = "/tmp/a,b";
    ck_assert_int_eq(ivshm_qemu_args(segs, 1, NULL, out, sizeof(out), &err), IVSHM_OK);
    ck_assert_ptr_nonnull(strstr(out, "mem-path=/tmp/a,,b,size="));
    segs[0].path = "/tmp/a b";
    ck_assert_int_eq(ivshm_qemu_args(segs, 1, NULL, out, sizeof(out), &err), IVSHM_E_INVAL);
    segs[0].path = "/tmp/ok";
    struct ivshm_qemu_opts late = {.machine = IVSHM_QEMU_Q35, .first_slot = 0x1c};
    ck_assert_int_eq(ivshm_qemu_args(segs, 32, &late, out, sizeof(out), &err), IVSHM_E_INVAL);
    ck_assert_int_eq(ivshm_qemu_args(segs, 32, NULL, out, 100, &err), IVSHM_E_NOSPC);

    /* Doorbell: a chardev on each segment's socket, the device at the same
     * place, no memory backend (the server passes the segment file). */
    struct ivshm_qemu_opts bell = {.doorbell = true};
    ck_assert_int_eq(ivshm_qemu_args(segs, 2, &bell, out, sizeof(out), &err), IVSHM_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no doorbell socket"));
    for (int i = 0; i < 32; i++)
        segs[i].socket = "/tmp/s,ock";
    ck_assert_int_eq(ivshm_qemu_args(segs, 32, &bell, out, sizeof(out), &err), IVSHM_OK);
    ck_assert_ptr_nonnull(strstr(out, "-chardev socket,id=ivshm-sock-s31,path=/tmp/s,,ock "
                                      "-device ivshmem-doorbell,id=ivshm-s31,"
                                      "chardev=ivshm-sock-s31,vectors=4,bus=ivshm-port-s31"));
    ck_assert_ptr_nonnull(strstr(out, "addr=0x13.0x7,"));
    ck_assert_ptr_null(strstr(out, "memory-backend-file"));
    bell.vectors = 65;
    ck_assert_int_eq(ivshm_qemu_args(segs, 1, &bell, out, sizeof(out), &err), IVSHM_E_INVAL);
    bell.vectors = 1;
    segs[0].socket = "/tmp/a b";
    ck_assert_int_eq(ivshm_qemu_args(segs, 1, &bell, out, sizeof(out), &err), IVSHM_E_INVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host_segment");
    TCase *tc = tcase_create("segment_file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_create_attach_lookup);
    tcase_add_test(tc, test_two_processes);
    tcase_add_test(tc, test_party_liveness);
    tcase_add_test(tc, test_party_table_full);
    tcase_add_test(tc, test_not_a_segment_refused);
    tcase_add_test(tc, test_create_errors_leave_nothing);
    tcase_add_test(tc, test_signal_during_create);
    tcase_add_test(tc, test_sigbus_names_truncated_segment);
    tcase_add_test(tc, test_queue_sources);
    tcase_add_test(tc, test_dir_resolution);
    tcase_add_test(tc, test_dev_shm_segment);
    tcase_add_test(tc, test_list);
    suite_add_tcase(s, tc);
    TCase *tc2 = tcase_create("parsing");
    tcase_add_test(tc2, test_round_segment_size);
    tcase_add_test(tc2, test_qemu_args);
    suite_add_tcase(s, tc2);
    return test_run(s);
}
