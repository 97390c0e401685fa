/*
 * blkback_io_test.c - tests of the io_uring storage engine (io.c) on real
 * files: one in $TMPDIR (or /tmp) and one on /dev/shm (tmpfs). Requests are
 * built as a frontend would and validated with ring.c, so the engine sees
 * what the worker will give it. Everything is created in fresh directories
 * and removed by the suite cleanup, also when a test fails.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#include "backend/blk/blkback-internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE          4096u
#define FILE_BYTES    (8u << 20)
#define BATCH         32u
#define PAGES_PER_REQ 4u

static char tmp_dir[PATH_MAX], shm_dir[PATH_MAX];
static char tmp_path[PATH_MAX + 16], shm_path[PATH_MAX + 16];
static unsigned char *guest; /* stands in for mapped guest pages */

static int make_dir(char *dir, const char *base)
{
    snprintf(dir, PATH_MAX, "%s/blkback_io.XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        dir[0] = '\0';
        return -errno;
    }
    return 0;
}

/* A fresh file of size bytes at path, data or hole. */
static int make_file(const char *path, off_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = 0;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, size) < 0)
        err = -errno;
    close(fd);
    return err;
}

static int suite_init(void)
{
    const char *t = getenv("TMPDIR");

    guest = aligned_alloc(PAGE, (size_t)BATCH * PAGES_PER_REQ * PAGE);
    if (guest == NULL || make_dir(tmp_dir, t && *t ? t : "/tmp") < 0)
        return -1;
    snprintf(tmp_path, sizeof(tmp_path), "%s/disk", tmp_dir);
    if (make_dir(shm_dir, "/dev/shm") == 0)
        snprintf(shm_path, sizeof(shm_path), "%s/disk", shm_dir);
    return 0;
}

static int suite_cleanup(void)
{
    if (tmp_dir[0]) {
        unlink(tmp_path);
        rmdir(tmp_dir);
    }
    if (shm_dir[0]) {
        unlink(shm_path);
        rmdir(shm_dir);
    }
    free(guest);
    return 0;
}

static const struct blkback_io_opts base_opts = {
    .queue_depth = 64,
    .max_segs = BLKBACK_MAX_SEGS,
};

/*
 * Open path; where O_DIRECT is refused, say so and retry with the page
 * cache explicitly allowed (what an admin would do).
 */
static int open_engine(struct blkback_io *io, const char *path,
                       uint32_t sector_size)
{
    struct blkback_io_opts o = base_opts;
    int err;

    o.sector_size = sector_size;
    err = blkback_io_open(io, path, &o);
    if (err != -EINVAL || strstr(io->msg, "O_DIRECT") == NULL)
        return err;
    fprintf(stderr, "\n  note: %s\n", io->msg);
    blkback_io_close(io);
    o.allow_buffered = true;
    return blkback_io_open(io, path, &o);
}

/*
 * Parse a direct READ/WRITE/FLUSH/BARRIER of npages whole pages at sector,
 * on guest pages starting at page gpage, and queue it with tag.
 */
static int queue_rw(struct blkback_io *io, uint8_t op, uint64_t sector,
                    unsigned npages, unsigned gpage, uint64_t tag)
{
    static struct blkback_seg segs[BLKBACK_MAX_SEGS];
    struct iovec iov[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    struct blkback_geom geom;
    struct blkback_req req;
    blkif_request_t r;
    unsigned i;

    memset(&r, 0, sizeof(r));
    r.operation = op;
    r.nr_segments = (uint8_t)npages;
    r.id = tag;
    r.sector_number = sector;
    for (i = 0; i < npages; i++) {
        r.seg[i].gref = gpage + i;
        r.seg[i].last_sect = 7;
    }
    blkback_io_geom(io, &geom, 0);
    if (blkback_ring_parse(&r, &geom, &req, segs) != BLKBACK_OK)
        return -EPROTO;
    for (i = 0; i < req.nr_segs; i++) {
        iov[i].iov_base = guest + (size_t)segs[i].gref * PAGE + segs[i].offset;
        iov[i].iov_len = segs[i].len;
    }
    return blkback_io_queue(io, tag, &req, iov, req.nr_segs);
}

static int queue_discard(struct blkback_io *io, uint64_t sector, uint64_t nr,
                         uint64_t tag)
{
    struct blkback_geom geom;
    struct blkback_req req;
    blkif_request_discard_t d;
    blkif_request_t r;

    memset(&r, 0, sizeof(r));
    memset(&d, 0, sizeof(d));
    d.operation = BLKIF_OP_DISCARD;
    d.id = tag;
    d.sector_number = sector;
    d.nr_sectors = nr;
    memcpy(&r, &d, sizeof(d));
    blkback_io_geom(io, &geom, 0);
    if (blkback_ring_parse(&r, &geom, &req, NULL) != BLKBACK_OK)
        return -EPROTO;
    return blkback_io_queue(io, tag, &req, NULL, 0);
}

/* Reap until n requests finished (or nothing is in flight any more). */
static unsigned reap_all(struct blkback_io *io, struct blkback_io_done *done,
                         unsigned n)
{
    unsigned got = 0;
    int ret;

    while (got < n) {
        ret = blkback_io_reap(io, done + got, n - got, true);
        CU_ASSERT(ret >= 0);
        if (ret <= 0)
            break;
        got += (unsigned)ret;
    }
    return got;
}

static void fill_pattern(unsigned char *p, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
}

/* 32 writes of 4 pages in one batch, then 32 reads, on path. */
static void write_read_batch(const char *path, uint32_t sector_size)
{
    static unsigned char want[BATCH * PAGES_PER_REQ * PAGE];
    size_t bytes = sizeof(want);
    struct blkback_io_done done[BATCH];
    bool seen[BATCH] = {false};
    struct blkback_io io;
    unsigned i;
    int fd;

    CU_ASSERT_EQUAL_FATAL(make_file(path, FILE_BYTES), 0);
    CU_ASSERT_EQUAL_FATAL(open_engine(&io, path, sector_size), 0);
    CU_ASSERT_EQUAL(io.disk.sector_size, sector_size);
    CU_ASSERT_EQUAL(io.disk.nr_sectors, FILE_BYTES / 512);
    CU_ASSERT_TRUE(io.disk.volatile_cache);
    fill_pattern(want, bytes, sector_size);
    memcpy(guest, want, bytes);
    for (i = 0; i < BATCH; i++)
        CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_WRITE,
                                 /* every other 16 KiB: not one extent */
                                 (uint64_t)i * 2 * PAGES_PER_REQ * 8,
                                 PAGES_PER_REQ, i * PAGES_PER_REQ, i),
                        0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL(reap_all(&io, done, BATCH), BATCH);
    for (i = 0; i < BATCH; i++) {
        CU_ASSERT_EQUAL(done[i].err, 0);
        CU_ASSERT_FATAL(done[i].tag < BATCH);
        CU_ASSERT_FALSE(seen[done[i].tag]);
        seen[done[i].tag] = true;
    }
    /* On the disk, through another descriptor. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, guest, PAGES_PER_REQ * PAGE,
                          (off_t)5 * 2 * PAGES_PER_REQ * PAGE),
                    (ssize_t)(PAGES_PER_REQ * PAGE));
    CU_ASSERT_EQUAL(
        memcmp(guest, want + 5 * PAGES_PER_REQ * PAGE, PAGES_PER_REQ * PAGE),
        0);
    close(fd);
    /* And back through the engine, into zeroed pages. */
    memset(guest, 0, bytes);
    for (i = 0; i < BATCH; i++)
        CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ,
                                 (uint64_t)i * 2 * PAGES_PER_REQ * 8,
                                 PAGES_PER_REQ, i * PAGES_PER_REQ, i),
                        0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL(reap_all(&io, done, BATCH), BATCH);
    for (i = 0; i < BATCH; i++)
        CU_ASSERT_EQUAL(done[i].err, 0);
    CU_ASSERT_EQUAL(memcmp(guest, want, bytes), 0);
    blkback_io_close(&io);
    blkback_io_close(&io); /* idempotent */
}

static void test_file_512(void)
{
    write_read_batch(tmp_path, 512);
}

static void test_file_4096(void)
{
    write_read_batch(tmp_path, 4096);
}

/*
 * tmpfs: kernels before 6.6 refuse O_DIRECT there; newer ones accept it
 * (tmpfs is memory: there is no durability to lose). Either way the engine
 * must say what it does, and never fall back without being allowed to.
 */
static void test_shm(void)
{
    struct blkback_io_opts o = base_opts;
    struct blkback_geom geom;
    struct blkback_io io;
    int err;

    if (shm_path[0] == '\0') {
        fprintf(stderr, "\n  note: no /dev/shm, skipped\n");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(make_file(shm_path, FILE_BYTES), 0);
    err = blkback_io_open(&io, shm_path, &o);
    if (err == 0) {
        CU_ASSERT_TRUE(io.disk.direct);
        fprintf(stderr, "\n  note: this kernel's tmpfs accepts O_DIRECT\n");
    } else {
        CU_ASSERT_EQUAL(err, -EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "O_DIRECT refused"));
        CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, shm_path));
        blkback_io_close(&io);
        o.allow_buffered = true;
        CU_ASSERT_EQUAL_FATAL(blkback_io_open(&io, shm_path, &o), 0);
        CU_ASSERT_FALSE(io.disk.direct);
        CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "page cache"));
    }
    /* Page cache or not, flush is offered and honoured. */
    CU_ASSERT_TRUE(io.disk.volatile_cache);
    blkback_io_geom(&io, &geom, 64);
    CU_ASSERT_TRUE(geom.flush);
    CU_ASSERT_EQUAL(geom.max_indirect, 64);
    blkback_io_close(&io);
    write_read_batch(shm_path, 512);
}

/*
 * A filesystem that refuses O_DIRECT on every kernel: sysfs. Without
 * allow_buffered the open fails and says why; with it, the engine serves
 * through the page cache and offers flush.
 */
static void test_direct_refused(void)
{
    static const char path[] = "/sys/devices/system/cpu/online";
    struct blkback_io_opts o = base_opts;
    struct blkback_geom geom;
    struct blkback_io io;
    struct stat st;

    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 512) {
        fprintf(stderr, "\n  note: no sysfs file to test with, skipped\n");
        return;
    }
    o.readonly = true;
    CU_ASSERT_EQUAL(blkback_io_open(&io, path, &o), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "O_DIRECT refused"));
    CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, path));
    blkback_io_close(&io);
    CU_ASSERT_EQUAL(io.fd, -1);
    o.allow_buffered = true;
    CU_ASSERT_EQUAL_FATAL(blkback_io_open(&io, path, &o), 0);
    CU_ASSERT_FALSE(io.disk.direct);
    CU_ASSERT_TRUE(io.disk.volatile_cache);
    CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "page cache"));
    blkback_io_geom(&io, &geom, 0);
    CU_ASSERT_TRUE(geom.readonly);
    blkback_io_close(&io);
}

/* Position of tag in the completion order, or -1. */
static int position(const struct blkback_io_done *done, unsigned n,
                    uint64_t tag)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (done[i].tag == tag)
            return (int)i;
    return -1;
}

/*
 * A flush completes after every write queued before it and before every
 * write queued after it: 16 writes, a flush and 4 writes in one
 * submission, with a watch armed.
 */
static void test_flush_order(void)
{
    struct blkback_io_done done[21];
    struct blkback_io io;
    unsigned i;
    int efd;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, FILE_BYTES), 0);
    CU_ASSERT_EQUAL_FATAL(open_engine(&io, tmp_path, 512), 0);
    /* A watch that never fires must not hold the flush back (a hang here
     * ends in SIGALRM). */
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CU_ASSERT_FATAL(efd >= 0);
    CU_ASSERT_EQUAL(blkback_io_watch(&io, BLKBACK_WATCH_STOP, efd), 0);
    alarm(30);
    fill_pattern(guest, 16 * PAGE, 3);
    for (i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_WRITE, i * 64, 1, i, i), 0);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 100), 0);
    /* Queued after the flush: started after it completed. */
    for (i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(
            queue_rw(&io, BLKIF_OP_WRITE, 2048 + i * 64, 1, i, 200 + i), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 21), 21);
    CU_ASSERT_EQUAL(position(done, 21, 100), 16);
    CU_ASSERT_EQUAL(done[16].err, 0);
    for (i = 0; i < 4; i++)
        CU_ASSERT(position(done, 21, 200 + i) > 16);
    /* A flush with data: flush first, then the write lands. */
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_FLUSH_DISKCACHE, 8, 2, 0, 101), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 1), 1);
    CU_ASSERT_EQUAL(done[0].tag, 101);
    CU_ASSERT_EQUAL(done[0].err, 0);
    alarm(0);
    blkback_io_close(&io);
    close(efd);
}

/*
 * A barrier: the 8 writes before it complete before it, the 8 after it
 * start only after it completed (held back by the engine).
 */
static void test_barrier_order(void)
{
    struct blkback_io_done done[17];
    struct blkback_io io;
    unsigned i;
    int b;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, FILE_BYTES), 0);
    CU_ASSERT_EQUAL_FATAL(open_engine(&io, tmp_path, 512), 0);
    for (i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_WRITE, i * 64, 1, i, i), 0);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_WRITE_BARRIER, 1024, 2, 8, 100), 0);
    for (i = 10; i < 18; i++)
        CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_WRITE, i * 64, 1, i, i), 0);
    CU_ASSERT_NOT_EQUAL(io.held_head, BLKBACK_IO_NONE);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 17), 17);
    b = position(done, 17, 100);
    CU_ASSERT_EQUAL(b, 8);
    for (i = 0; i < 17; i++) {
        CU_ASSERT_EQUAL(done[i].err, 0);
        if (done[i].tag < 8)
            CU_ASSERT((int)i < b);
        if (done[i].tag >= 10 && done[i].tag < 100)
            CU_ASSERT((int)i > b);
    }
    CU_ASSERT_EQUAL(io.held_head, BLKBACK_IO_NONE);
    CU_ASSERT_EQUAL(io.barrier, BLKBACK_IO_NONE);
    blkback_io_close(&io);
}

/* Discard punches a hole: SEEK_HOLE finds it, st_blocks drop, zeros read. */
static void test_discard(void)
{
    static const unsigned char zero[PAGE];
    const uint64_t hole_off = 1u << 20, hole_len = 1u << 20;
    struct blkback_io_done done[2];
    struct stat before, after;
    struct blkback_io io;
    unsigned i;
    int fd;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, 0), 0);
    fd = open(tmp_path, O_RDWR | O_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0);
    fill_pattern(guest, PAGE, 9);
    for (i = 0; i < (4u << 20) / PAGE; i++)
        CU_ASSERT_EQUAL(pwrite(fd, guest, PAGE, (off_t)i * PAGE), PAGE);
    CU_ASSERT_EQUAL(fsync(fd), 0);
    CU_ASSERT_EQUAL(fstat(fd, &before), 0);
    CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_HOLE), (off_t)(4u << 20));

    CU_ASSERT_EQUAL_FATAL(open_engine(&io, tmp_path, 512), 0);
    CU_ASSERT_TRUE(io.disk.discard);
    CU_ASSERT_EQUAL(queue_discard(&io, hole_off / 512, hole_len / 512, 7), 0);
    CU_ASSERT_EQUAL(queue_discard(&io, 0, 0, 8), 0); /* nothing: a NOP */
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 2), 2);
    CU_ASSERT_EQUAL(done[0].err, 0);
    CU_ASSERT_EQUAL(done[1].err, 0);
    CU_ASSERT_EQUAL(fstat(fd, &after), 0);
    CU_ASSERT(after.st_size == before.st_size);
    CU_ASSERT(before.st_blocks - after.st_blocks >= (blkcnt_t)(hole_len / 512));
    CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_HOLE), (off_t)hole_off);
    CU_ASSERT_EQUAL(lseek(fd, (off_t)hole_off, SEEK_DATA),
                    (off_t)(hole_off + hole_len));
    memset(guest, 0xff, PAGE);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, hole_off / 512, 1, 0, 9), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 1), 1);
    CU_ASSERT_EQUAL(done[0].err, 0);
    CU_ASSERT_EQUAL(memcmp(guest, zero, PAGE), 0);
    close(fd);
    blkback_io_close(&io);
}

/*
 * Short transfers: the file shrinks under the engine, so a read of the last
 * page gets half of it, the remainder is resubmitted and finds the end of
 * the file: the request fails with -EIO after the first half landed.
 */
static void test_short_read(void)
{
    const off_t last = FILE_BYTES - PAGE;
    struct blkback_io_done done[1];
    unsigned char want[PAGE / 2];
    struct blkback_io io;
    int fd;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, FILE_BYTES), 0);
    fd = open(tmp_path, O_RDWR | O_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0);
    fill_pattern(want, sizeof(want), 5);
    CU_ASSERT_EQUAL(pwrite(fd, want, sizeof(want), last), sizeof(want));
    CU_ASSERT_EQUAL_FATAL(open_engine(&io, tmp_path, 512), 0);
    CU_ASSERT_EQUAL(ftruncate(fd, last + PAGE / 2), 0);
    memset(guest, 0, PAGE);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, (uint64_t)last / 512, 1, 0, 1),
                    0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 1), 1);
    CU_ASSERT_EQUAL(done[0].err, -EIO);
    CU_ASSERT_EQUAL(memcmp(guest, want, sizeof(want)), 0);
    /* The rest of the disk still works. */
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, 0, 1, 0, 2), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL_FATAL(reap_all(&io, done, 1), 1);
    CU_ASSERT_EQUAL(done[0].err, 0);
    close(fd);
    blkback_io_close(&io);
}

/*
 * Slots run out cleanly, bad arguments are refused, the engine's wait ends
 * on a completion and on a watched fd, and a watch that fired is not armed
 * again before it was taken.
 */
static void test_slots_and_watches(void)
{
    struct blkback_io_opts o = base_opts;
    struct blkback_io_done done[4];
    struct blkback_req req;
    struct blkback_io io;
    struct iovec iov;
    uint64_t v = 1;
    unsigned i;
    int efd, got;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, FILE_BYTES), 0);
    o.queue_depth = 4;
    o.allow_buffered = true;
    CU_ASSERT_EQUAL_FATAL(blkback_io_open(&io, tmp_path, &o), 0);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CU_ASSERT_FATAL(efd >= 0);
    CU_ASSERT_EQUAL(blkback_io_watch(&io, BLKBACK_IO_WATCHES, efd), -EINVAL);
    CU_ASSERT_EQUAL(blkback_io_watch(&io, BLKBACK_WATCH_STOP, -1), -EINVAL);
    CU_ASSERT_EQUAL(blkback_io_watch(&io, BLKBACK_WATCH_STOP, efd), 0);
    for (i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, i * 8, 1, i, i), 0);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, 64, 1, 4, 4), -EBUSY);
    /* Completions end the wait (the watch stays quiet). */
    for (got = 0; got < 4;) {
        CU_ASSERT_EQUAL_FATAL(blkback_io_wait(&io), 0);
        i = (unsigned)blkback_io_reap(&io, done + got, 4u - (unsigned)got,
                                      false);
        CU_ASSERT_FATAL((int)i >= 0);
        got += (int)i;
    }
    CU_ASSERT_EQUAL(blkback_io_fired(&io, ~0u), 0);
    /* Input on the watched fd ends it, once, until taken. */
    CU_ASSERT_EQUAL(write(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
    do {
        CU_ASSERT_EQUAL_FATAL(blkback_io_wait(&io), 0);
        CU_ASSERT_EQUAL(blkback_io_reap(&io, done, 4, false), 0);
    } while (io.fired == 0);
    CU_ASSERT_EQUAL(io.fired, 1u << BLKBACK_WATCH_STOP);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT(!io.watch_armed[BLKBACK_WATCH_STOP]);
    CU_ASSERT_EQUAL(blkback_io_fired(&io, 1u << BLKBACK_WATCH_EVTCHN), 0);
    CU_ASSERT_EQUAL(blkback_io_fired(&io, ~0u), 1u << BLKBACK_WATCH_STOP);
    CU_ASSERT_EQUAL(blkback_io_fired(&io, ~0u), 0);
    /* Taken, it is armed again; still readable, it fires at once. */
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT(io.watch_armed[BLKBACK_WATCH_STOP]);
    CU_ASSERT_EQUAL_FATAL(blkback_io_wait(&io), 0);
    CU_ASSERT_EQUAL(blkback_io_reap(&io, done, 4, false), 0);
    CU_ASSERT_EQUAL(blkback_io_fired(&io, ~0u), 1u << BLKBACK_WATCH_STOP);
    CU_ASSERT_EQUAL(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, 64, 1, 4, 4), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    CU_ASSERT_EQUAL(reap_all(&io, done, 1), 1);
    /* Nothing in flight: reap does not block (the watch is armed). */
    CU_ASSERT_EQUAL(blkback_io_reap(&io, done, 4, true), 0);
    /* iovecs that disagree with the request. */
    memset(&req, 0, sizeof(req));
    req.op = BLKIF_OP_READ;
    req.bytes = 8192;
    iov = (struct iovec){.iov_base = guest, .iov_len = 4096};
    CU_ASSERT_EQUAL(blkback_io_queue(&io, 9, &req, &iov, 1), -EINVAL);
    req.op = BLKIF_OP_INDIRECT; /* the worker resolves indirect_op first */
    CU_ASSERT_EQUAL(blkback_io_queue(&io, 9, &req, &iov, 1), -EINVAL);
    blkback_io_close(&io);
    close(efd);
}

/*
 * The kernel holds what completes from elsewhere (here a watched fd's
 * poll, written by another thread) as task work of the ring's thread
 * (DEFER_TASKRUN) and flags it (TASKRUN_FLAG): a reap that does not wait,
 * as a busy-polling queue does, must still collect it without sleeping
 * first (liburing's peek enters the kernel for it when flagged).
 */
/* Another thread makes the eventfd *arg readable. */
static void *io_poke(void *arg)
{
    uint64_t v = 1;

    if (write(*(int *)arg, &v, sizeof(v)) != (ssize_t)sizeof(v))
        abort();
    return NULL;
}

static void test_reap_deferred(void)
{
    struct blkback_io_opts o = base_opts;
    struct blkback_io_done done[1];
    struct blkback_io io;
    pthread_t t;
    int efd, i;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, FILE_BYTES), 0);
    o.allow_buffered = true;
    CU_ASSERT_EQUAL_FATAL(blkback_io_open(&io, tmp_path, &o), 0);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CU_ASSERT_FATAL(efd >= 0);
    CU_ASSERT_EQUAL(blkback_io_watch(&io, BLKBACK_WATCH_STOP, efd), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0); /* armed */
    CU_ASSERT_EQUAL(blkback_io_reap(&io, done, 1, false), 0);
    CU_ASSERT_EQUAL(io.fired, 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, io_poke, &efd), 0);
    pthread_join(t, NULL);
    for (i = 0; i < 1000 && io.fired == 0; i++) {
        CU_ASSERT_EQUAL(blkback_io_reap(&io, done, 1, false), 0);
        if (io.fired == 0)
            usleep(1000);
    }
    CU_ASSERT_EQUAL(io.fired, 1u << BLKBACK_WATCH_STOP);
    blkback_io_close(&io);
    close(efd);
}

static void test_readonly(void)
{
    struct blkback_io_opts o = base_opts;
    struct blkback_geom geom;
    struct blkback_io io;

    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, FILE_BYTES), 0);
    o.readonly = true;
    o.allow_buffered = true;
    CU_ASSERT_EQUAL_FATAL(blkback_io_open(&io, tmp_path, &o), 0);
    blkback_io_geom(&io, &geom, 256);
    CU_ASSERT_TRUE(geom.readonly);
    CU_ASSERT_FALSE(geom.flush);
    CU_ASSERT_FALSE(geom.barrier);
    CU_ASSERT_FALSE(geom.discard);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_WRITE, 0, 1, 0, 1), -EPROTO);
    CU_ASSERT_EQUAL(queue_rw(&io, BLKIF_OP_READ, 0, 1, 0, 1), 0);
    CU_ASSERT_EQUAL(blkback_io_submit(&io), 0);
    blkback_io_close(&io);
}

static void test_open_errors(void)
{
    struct blkback_io_opts o = base_opts;
    struct blkback_io io;
    char path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/missing", tmp_dir);
    CU_ASSERT_EQUAL(blkback_io_open(&io, path, &o), -ENOENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "missing"));
    blkback_io_close(&io);
    CU_ASSERT_EQUAL(blkback_io_open(&io, tmp_dir, &o), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "not a regular file"));
    blkback_io_close(&io);
    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, 1000), 0);
    o.allow_buffered = true;
    o.sector_size = 4096;
    CU_ASSERT_EQUAL(blkback_io_open(&io, tmp_path, &o), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(io.msg, "smaller than"));
    blkback_io_close(&io);
    o.sector_size = 1024;
    CU_ASSERT_EQUAL(blkback_io_open(&io, tmp_path, &o), -EINVAL);
    blkback_io_close(&io);
    /* Sizes round down to whole physical sectors. */
    CU_ASSERT_EQUAL_FATAL(make_file(tmp_path, (1 << 20) + 5000), 0);
    o.sector_size = 512;
    o.physical_sector_size = 4096;
    CU_ASSERT_EQUAL_FATAL(blkback_io_open(&io, tmp_path, &o), 0);
    CU_ASSERT_EQUAL(io.disk.nr_sectors, ((1 << 20) + 4096) / 512);
    CU_ASSERT_EQUAL(io.disk.physical_sector_size, 4096);
    blkback_io_close(&io);
    o.physical_sector_size = 1536;
    CU_ASSERT_EQUAL(blkback_io_open(&io, tmp_path, &o), -EINVAL);
    blkback_io_close(&io);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"file: 32 writes, 32 reads, 512", test_file_512},
        {"file: 32 writes, 32 reads, 4096", test_file_4096},
        {"tmpfs: O_DIRECT refused or used, said", test_shm},
        {"O_DIRECT refused: said, or buffered if allowed", test_direct_refused},
        {"flush after earlier writes", test_flush_order},
        {"barrier orders both ways", test_barrier_order},
        {"discard punches a hole", test_discard},
        {"short read", test_short_read},
        {"slots, arguments, watches", test_slots_and_watches},
        {"a busy-polling reap collects deferred completions",
         test_reap_deferred},
        {"read-only", test_readonly},
        {"open errors and geometry", test_open_errors},
    };
    int failures;

    if (suite_init() != 0) {
        suite_cleanup();
        return 1;
    }
    failures = cutest_run("blkback_io", tests, ARRAY_SIZE(tests));
    suite_cleanup();
    return failures;
}
