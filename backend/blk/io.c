/*
 * io.c - the blkback storage engine: a raw file or block device on io_uring.
 *
 * One engine per queue (worker thread). blkback_io_open() opens the backing
 * store, finds its geometry and capabilities, and preallocates one request
 * slot per request the queue can have in flight, with its iovecs, so that
 * nothing is allocated per request. The worker queues validated requests
 * with iovecs on the mapped guest pages (blkback_io_queue), submits them
 * once per ring pass (blkback_io_submit) and reaps (tag, status) pairs
 * (blkback_io_reap). Further queues of the same device share the store
 * through blkback_io_clone(). The ring belongs to the thread that first
 * submits or reaps on it (SINGLE_ISSUER + DEFER_TASKRUN, where the kernel
 * has them): completions are run by that thread when it reaps, not pushed
 * at it by io-wq workers with an interrupt each.
 *
 * The ring also polls the fds the thread waits for (blkback_io_watch: the
 * event channel, the stop fd), so that the thread sleeps in, and is woken
 * from, the same io_uring_enter that submits its I/O and collects the
 * completions (blkback_io_wait): no poll(2), no completion eventfd to read.
 * Every system call counts where the worker runs in a PV domain, in which
 * each one is a trip through the hypervisor.
 *
 * Each slot has at most one SQE in flight and walks through phases:
 *   READ / WRITE      data
 *   FLUSH_DISKCACHE   preflush [data]           the fsync waits for every
 *   WRITE_BARRIER     preflush [data postflush] request started before it,
 *                                               later requests are held
 *                                               back until it completes
 *   DISCARD           punch (file) or ioctl (block device) then a NOP
 * so short transfers are resubmitted for the remainder and EINTR/EAGAIN
 * retried without having to unpick linked chains.
 *
 * Durability. A write is reported only when its CQE came. A flush is an
 * IORING_OP_FSYNC (datasync) that the engine starts only once every
 * request started before it has completed, so every write acknowledged
 * before the flush arrived is covered (and requests queued after it wait
 * for it: flushes are rare, and this keeps their meaning simple). The
 * engine drains by itself rather than with IOSQE_IO_DRAIN, which would
 * also wait for the watches' polls (which only complete on input). O_DIRECT is
 * used wherever the store accepts it; where it is refused, open fails with a
 * message unless the caller explicitly allowed the page cache, and then the
 * cache is reported volatile so that flush (= fdatasync) is advertised and
 * honoured.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "backend/blk/blkback-internal.h"

/* Phases of a slot (struct blkback_io_slot.phase). */
enum {
    BLKBACK_PH_IDLE,      /* not started: held behind a barrier */
    BLKBACK_PH_PREFLUSH,  /* fsync before the data (flush, barrier) */
    BLKBACK_PH_DATA,      /* readv / writev of the remaining data */
    BLKBACK_PH_POSTFLUSH, /* fsync after a barrier's data */
    BLKBACK_PH_DISCARD,   /* fallocate(PUNCH_HOLE) on a file */
    BLKBACK_PH_NOP,       /* carries a status decided synchronously */
};

/* EINTR/EAGAIN resubmissions of one phase before giving up with -EIO. */
#define BLKBACK_IO_RETRIES   16u
#define BLKBACK_IO_MAX_DEPTH 4096u
/* user_data of a watch's poll: this bit plus the watch's key. */
#define BLKBACK_IO_WATCH_TAG (1ull << 63)

static void blkback_io_msg(struct blkback_io *io, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void blkback_io_msg(struct blkback_io *io, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(io->msg, sizeof(io->msg), fmt, ap);
    va_end(ap);
}

/* Read a sysfs attribute of the block device rdev (or of the disk holding
 * the partition rdev) into buf. Returns 0 or -errno. */
static int blkback_io_sysfs(dev_t rdev, const char *attr, char *buf, size_t len)
{
    char path[128];
    unsigned up;

    for (up = 0; up < 2; up++) {
        FILE *f;
        bool ok;

        snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s%s", major(rdev),
                 minor(rdev), up ? "../" : "", attr);
        f = fopen(path, "re");
        if (f == NULL)
            continue;
        ok = fgets(buf, (int)len, f) != NULL;
        fclose(f);
        if (ok)
            return 0;
    }
    return -ENOENT;
}

static uint64_t blkback_io_sysfs_u64(dev_t rdev, const char *attr)
{
    char buf[64];

    if (blkback_io_sysfs(rdev, attr, buf, sizeof(buf)) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

/*
 * Whether the block device does BLKSECDISCARD, asked without erasing
 * anything, or -1 where the kernel cannot say. Since Linux 5.19 the ioctl
 * refuses a device without secure erase (EOPNOTSUPP) before it reads the
 * range, and an unaligned start (EINVAL) before it touches the device;
 * older kernels check the range first, so EINVAL says nothing there.
 */
static int blkback_io_secure_probe(int fd)
{
    uint64_t range[2] = {1, 0}; /* start not sector-aligned: refused */
    struct utsname u;
    unsigned major = 0, minor = 0;

    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2 ||
        major < 5 || (major == 5 && minor < 19))
        return -1;
    if (ioctl(fd, BLKSECDISCARD, range) == 0)
        return -1; /* cannot be: treat as unknown */
    return errno == EINVAL ? 1 : errno == EOPNOTSUPP ? 0 : -1;
}

/*
 * Block device geometry and capabilities. The write cache is volatile
 * unless sysfs says "write through" (unknown counts as volatile: a flush
 * we did not need costs little, a missing one loses data).
 */
static int blkback_io_probe_blockdev(struct blkback_io *io, const char *path,
                                     const struct stat *st,
                                     const struct blkback_io_opts *opts)
{
    struct blkback_disk *d = &io->disk;
    uint64_t bytes;
    int lss = 0, pss = 0, secure;
    char wc[32];

    if (ioctl(io->fd, BLKGETSIZE64, &bytes) < 0 ||
        ioctl(io->fd, BLKSSZGET, &lss) < 0 ||
        ioctl(io->fd, BLKPBSZGET, &pss) < 0) {
        blkback_io_msg(io, "%s: block device geometry: %s", path,
                       strerror(errno));
        return -errno;
    }
    d->sector_size = opts->sector_size ? opts->sector_size : (uint32_t)lss;
    if (d->sector_size < (uint32_t)lss ||
        (d->sector_size != 512 && d->sector_size != 4096)) {
        blkback_io_msg(io,
                       "%s: %u-byte sectors cannot be served from a "
                       "device with %d-byte logical sectors",
                       path, d->sector_size, lss);
        return -EINVAL;
    }
    d->physical_sector_size =
        (uint32_t)pss > d->sector_size ? (uint32_t)pss : d->sector_size;
    d->nr_sectors =
        (bytes / d->sector_size) * (d->sector_size >> BLKBACK_SECTOR_SHIFT);
    d->volatile_cache = true;
    if (d->direct &&
        blkback_io_sysfs(st->st_rdev, "queue/write_cache", wc, sizeof(wc)) ==
            0 &&
        strncmp(wc, "write through", 13) == 0)
        d->volatile_cache = false;
    d->discard =
        !d->readonly &&
        blkback_io_sysfs_u64(st->st_rdev, "queue/discard_max_bytes") > 0;
    /* Secure discard: what the kernel says, else the admin's key. */
    secure = d->discard ? blkback_io_secure_probe(io->fd) : 0;
    d->discard_secure = secure >= 0 ? secure == 1 : opts->secure_discard;
    d->discard_granularity = (uint32_t)blkback_io_sysfs_u64(
        st->st_rdev, "queue/discard_granularity");
    if (d->discard_granularity < d->sector_size)
        d->discard_granularity = d->sector_size;
    d->discard_alignment =
        (uint32_t)blkback_io_sysfs_u64(st->st_rdev, "discard_alignment");
    return 0;
}

/*
 * Regular file geometry: the sector sizes come from the options. The cache
 * is always volatile: even with O_DIRECT, block allocation in a sparse file
 * and the disk's own cache are durable only after fdatasync. Discard is a
 * hole punch; a filesystem without it answers EOPNOTSUPP per request, which
 * blkfront takes as "discard off". Secure discard is never offered.
 */
static int blkback_io_probe_file(struct blkback_io *io, const char *path,
                                 const struct stat *st,
                                 const struct blkback_io_opts *opts)
{
    struct blkback_disk *d = &io->disk;
    uint32_t pss;

    d->sector_size = opts->sector_size ? opts->sector_size : 512;
    pss = opts->physical_sector_size ? opts->physical_sector_size
                                     : d->sector_size;
    if (pss < d->sector_size || pss % d->sector_size != 0 ||
        (pss & (pss - 1)) != 0) {
        blkback_io_msg(io,
                       "%s: physical sector size %u is not a power-of-"
                       "two multiple of the %u-byte sector",
                       path, pss, d->sector_size);
        return -EINVAL;
    }
    d->physical_sector_size = pss;
    d->nr_sectors =
        ((uint64_t)st->st_size / pss) * (pss >> BLKBACK_SECTOR_SHIFT);
    if (d->nr_sectors == 0) {
        blkback_io_msg(io, "%s: smaller than one %u-byte physical sector", path,
                       pss);
        return -EINVAL;
    }
    d->volatile_cache = true;
    d->discard = !d->readonly;
    d->discard_granularity = (uint32_t)st->st_blksize > d->sector_size
                                 ? (uint32_t)st->st_blksize
                                 : d->sector_size;
    return 0;
}

/*
 * Does O_DIRECT work here, at our sector size? Some filesystems accept the
 * flag at open and refuse the I/O (EINVAL), or need a larger alignment.
 * Read one logical sector at a buffer offset of one sector, as a segment
 * starting at sector 1 of a guest page would be.
 */
static int blkback_io_direct_works(struct blkback_io *io)
{
    uint32_t ss = io->disk.sector_size;
    uint32_t boff = ss < BLKBACK_PAGE_SIZE ? ss : 0;
    ssize_t n;
    void *buf;
    int err;

    buf = aligned_alloc(BLKBACK_PAGE_SIZE, 2 * BLKBACK_PAGE_SIZE);
    if (buf == NULL)
        return -ENOMEM;
    do {
        n = pread(io->fd, (char *)buf + boff, ss, 0);
    } while (n < 0 && errno == EINTR);
    err = n < 0 ? -errno : 0;
    free(buf);
    return err;
}

/*
 * O_DIRECT was refused (why: at open, or on the probe read). Without the
 * caller's explicit allow_buffered that is the end of it: serving through
 * the page cache silently would change what an acknowledged write means.
 */
static int blkback_io_refuse_direct(struct blkback_io *io, const char *path,
                                    int flags,
                                    const struct blkback_io_opts *opts,
                                    const char *why)
{
    if (!opts->allow_buffered) {
        blkback_io_msg(io,
                       "%s: O_DIRECT refused (%s) at %u-byte sectors; "
                       "allow buffered I/O explicitly to serve it through "
                       "the page cache (writes then durable only after a "
                       "flush)",
                       path, why, io->disk.sector_size);
        return -EINVAL;
    }
    if (io->fd >= 0)
        close(io->fd);
    io->fd = open(path, flags);
    if (io->fd < 0) {
        blkback_io_msg(io, "%s: open: %s", path, strerror(errno));
        return -errno;
    }
    io->disk.direct = false;
    io->disk.volatile_cache = true;
    blkback_io_msg(io,
                   "%s: O_DIRECT refused (%s): serving through the page "
                   "cache as allowed; flush = fdatasync",
                   path, why);
    return 0;
}

/* Open the store, O_DIRECT if it allows it, and learn its geometry. */
static int blkback_io_open_store(struct blkback_io *io, const char *path,
                                 const struct blkback_io_opts *opts)
{
    int flags = (opts->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    struct stat st;
    int err;

    if (stat(path, &st) < 0) {
        blkback_io_msg(io, "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
        blkback_io_msg(io, "%s: not a regular file or block device", path);
        return -EINVAL;
    }
    /* A writable block device is ours alone, as with Linux blkback. */
    if (S_ISBLK(st.st_mode) && !opts->readonly)
        flags |= O_EXCL;
    io->disk.blockdev = S_ISBLK(st.st_mode);
    io->disk.readonly = opts->readonly;
    io->fd = open(path, flags | O_DIRECT);
    if (io->fd < 0 && errno != EINVAL) {
        blkback_io_msg(io, "%s: open: %s", path, strerror(errno));
        return -errno;
    }
    io->disk.direct = io->fd >= 0;
    if (!io->disk.direct)
        io->fd = open(path, flags);
    if (io->fd < 0) {
        blkback_io_msg(io, "%s: open: %s", path, strerror(errno));
        return -errno;
    }
    if (io->disk.blockdev)
        err = blkback_io_probe_blockdev(io, path, &st, opts);
    else
        err = blkback_io_probe_file(io, path, &st, opts);
    if (err < 0)
        return err;
    if (!io->disk.direct)
        return blkback_io_refuse_direct(io, path, flags, opts,
                                        "open: filesystem without direct I/O");
    err = blkback_io_direct_works(io);
    if (err == -EINVAL)
        return blkback_io_refuse_direct(io, path, flags, opts,
                                        "direct read: alignment refused");
    if (err < 0)
        blkback_io_msg(io, "%s: read: %s", path, strerror(-err));
    return err;
}

/* Slots, their iovecs and the free stack. */
static int blkback_io_alloc_slots(struct blkback_io *io)
{
    uint32_t i;

    io->slots = calloc(io->depth, sizeof(*io->slots));
    io->iovs = calloc((size_t)io->depth * io->max_segs, sizeof(*io->iovs));
    io->free = calloc(io->depth, sizeof(*io->free));
    if (io->slots == NULL || io->iovs == NULL || io->free == NULL) {
        blkback_io_msg(io, "out of memory for %u request slots", io->depth);
        return -ENOMEM;
    }
    for (i = 0; i < io->depth; i++)
        io->free[i] = io->depth - 1 - i;
    io->nr_free = io->depth;
    return 0;
}

/* Slots and the io_uring of an engine whose store is open. */
static int blkback_io_setup(struct blkback_io *io)
{
    int err;

    err = blkback_io_alloc_slots(io);
    if (err < 0)
        return err;
    /*
     * Completions are run by the worker's own thread when it reaps them
     * (DEFER_TASKRUN), not pushed at it by the kernel's io-wq threads with
     * an inter-processor interrupt each: the ring is that thread's alone
     * (SINGLE_ISSUER), created disabled because a queue's engine is set up
     * by the worker's main thread and run by the queue's; the first thread
     * to use it (blkback_io_enable) becomes its owner. Kernels before 6.1
     * refuse the flags: the ring then works the classic way.
     */
    err = io_uring_queue_init(io->depth + BLKBACK_IO_WATCHES, &io->ring,
                              BLKBACK_IO_RING_FLAGS);
    if (err == -EINVAL)
        err = io_uring_queue_init(io->depth + BLKBACK_IO_WATCHES, &io->ring, 0);
    else if (err == 0)
        io->owned = true;
    if (err < 0) {
        blkback_io_msg(io, "io_uring_queue_init(%u): %s", io->depth,
                       strerror(-err));
        return err;
    }
    io->ring_ready = true;
    return 0;
}

/* An engine with nothing open yet. */
static void blkback_io_init(struct blkback_io *io)
{
    unsigned k;

    memset(io, 0, sizeof(*io));
    io->fd = -1;
    io->barrier = BLKBACK_IO_NONE;
    io->held_head = io->held_tail = BLKBACK_IO_NONE;
    for (k = 0; k < BLKBACK_IO_WATCHES; k++)
        io->watch_fd[k] = -1;
}

/*
 * Open the backing store at path and set up the engine. On failure io->msg
 * says why (also on success it may hold a notice). Returns 0 or -errno;
 * blkback_io_close() is the cleanup either way.
 */
int blkback_io_open(struct blkback_io *io, const char *path,
                    const struct blkback_io_opts *opts)
{
    int err;

    blkback_io_init(io);
    if ((opts->sector_size != 0 && opts->sector_size != 512 &&
         opts->sector_size != 4096) ||
        opts->queue_depth == 0 || opts->queue_depth > BLKBACK_IO_MAX_DEPTH ||
        opts->max_segs == 0 || opts->max_segs > BLKBACK_MAX_SEGS) {
        blkback_io_msg(io, "invalid engine options");
        return -EINVAL;
    }
    io->depth = opts->queue_depth;
    io->max_segs = opts->max_segs;
    err = blkback_io_open_store(io, path, opts);
    if (err < 0)
        return err;
    return blkback_io_setup(io);
}

/*
 * A second engine on the store `from` opened, for another queue: the same
 * file (a duplicate descriptor: a writable block device is opened O_EXCL
 * once), its own ring and slots. Returns 0 or -errno; blkback_io_close()
 * is the cleanup either way.
 */
int blkback_io_clone(struct blkback_io *io, const struct blkback_io *from,
                     uint32_t queue_depth, uint32_t max_segs)
{
    blkback_io_init(io);
    io->fd = fcntl(from->fd, F_DUPFD_CLOEXEC, 0);
    if (io->fd < 0) {
        blkback_io_msg(io, "dup: %s", strerror(errno));
        return -errno;
    }
    if (queue_depth == 0 || queue_depth > BLKBACK_IO_MAX_DEPTH ||
        max_segs == 0 || max_segs > BLKBACK_MAX_SEGS) {
        blkback_io_msg(io, "invalid engine options");
        return -EINVAL;
    }
    io->disk = from->disk;
    io->depth = queue_depth;
    io->max_segs = max_segs;
    return blkback_io_setup(io);
}

/* Release everything; safe after a failed open and when called twice. */
void blkback_io_close(struct blkback_io *io)
{
    if (io->ring_ready)
        io_uring_queue_exit(&io->ring);
    io->ring_ready = false;
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
    free(io->slots);
    free(io->iovs);
    free(io->free);
    io->slots = NULL;
    io->iovs = NULL;
    io->free = NULL;
}

/*
 * The geometry requests are validated against. Flush is offered when the
 * cache is volatile; a barrier (drain + flush) always on a writable disk.
 */
void blkback_io_geom(const struct blkback_io *io, struct blkback_geom *geom,
                     uint32_t max_indirect)
{
    const struct blkback_disk *d = &io->disk;

    if (max_indirect > io->max_segs)
        max_indirect = io->max_segs;
    *geom = (struct blkback_geom){
        .nr_sectors = d->nr_sectors,
        .sector_size = d->sector_size,
        .readonly = d->readonly,
        .flush = d->volatile_cache && !d->readonly,
        .barrier = !d->readonly,
        .discard = d->discard && !d->readonly,
        .discard_secure = d->discard_secure && d->discard && !d->readonly,
        .max_indirect = max_indirect,
    };
}

/*
 * Watch fd (the caller's, which it keeps open) for input under key (<
 * BLKBACK_IO_WATCHES). Level-triggered and one-shot: the poll is armed at
 * the next submit or wait; once it fired, reap notes it for
 * blkback_io_fired() and it is armed again only after the caller took it,
 * so the caller consumes the input in between. 0 or -EINVAL.
 */
int blkback_io_watch(struct blkback_io *io, unsigned key, int fd)
{
    if (key >= BLKBACK_IO_WATCHES || fd < 0)
        return -EINVAL;
    io->watch_fd[key] = fd;
    io->fired &= ~(1u << key);
    return 0;
}

/* The watches of mask that fired since last asked (bits by key). */
unsigned blkback_io_fired(struct blkback_io *io, unsigned mask)
{
    unsigned f = io->fired & mask;

    io->fired &= ~f;
    return f;
}

/* Queue a poll for each watch that is neither armed nor fired untaken. */
static void blkback_io_arm(struct blkback_io *io)
{
    struct io_uring_sqe *sqe;
    unsigned k;

    for (k = 0; k < BLKBACK_IO_WATCHES; k++) {
        if (io->watch_fd[k] < 0 || io->watch_armed[k] ||
            (io->fired & (1u << k)))
            continue;
        /* The ring has room for every slot and every watch. */
        sqe = io_uring_get_sqe(&io->ring);
        assert(sqe != NULL);
        io_uring_prep_poll_add(sqe, io->watch_fd[k], POLLIN);
        io_uring_sqe_set_data64(sqe, BLKBACK_IO_WATCH_TAG | k);
        io->watch_armed[k] = true;
        io->unsubmitted++;
    }
}

/* A watch's poll completed with res (its revents, or -errno). */
static void blkback_io_watched(struct blkback_io *io, uint64_t data, int res)
{
    unsigned k = (unsigned)(data & ~BLKBACK_IO_WATCH_TAG);

    assert(k < BLKBACK_IO_WATCHES);
    io->watch_armed[k] = false;
    if (res < 0)
        io->watch_err = res;
    else
        io->fired |= 1u << k;
}

/*
 * Register [base, base + len) as the engine's fixed buffer: data inside it
 * in one piece then goes as READ_FIXED/WRITE_FIXED, on pages the kernel
 * pinned once, here, instead of at every I/O. 0 or -errno (a memlock
 * limit, an old kernel): the engine then works as before.
 */
int blkback_io_fixed(struct blkback_io *io, void *base, size_t len)
{
    struct iovec v = {.iov_base = base, .iov_len = len};
    int ret;

    ret = io_uring_register_buffers(&io->ring, &v, 1);
    if (ret < 0)
        return ret;
    io->fixed_base = base;
    io->fixed_len = len;
    return 0;
}

/* Slot s's data is one piece of the fixed buffer. */
static bool blkback_io_is_fixed(const struct blkback_io *io,
                                const struct blkback_io_slot *s)
{
    const uint8_t *a = s->iov[0].iov_base;

    return io->fixed_base != NULL && s->niov == 1 && a >= io->fixed_base &&
           s->iov[0].iov_len <= io->fixed_len &&
           (size_t)(a - io->fixed_base) <= io->fixed_len - s->iov[0].iov_len;
}

/* Prepare the SQE of slot idx's current phase. */
static void blkback_io_prep(struct blkback_io *io, uint32_t idx)
{
    struct blkback_io_slot *s = &io->slots[idx];
    struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

    /* Never NULL: the SQ has >= depth entries and a slot uses one at most. */
    assert(sqe != NULL);
    switch (s->phase) {
    case BLKBACK_PH_PREFLUSH:
    case BLKBACK_PH_POSTFLUSH:
        io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
        break;
    case BLKBACK_PH_DATA:
        if (blkback_io_is_fixed(io, s)) {
            io->nr_fixed++;
            if (s->op == BLKIF_OP_READ)
                io_uring_prep_read_fixed(sqe, io->fd, s->iov[0].iov_base,
                                         (unsigned)s->iov[0].iov_len, s->offset,
                                         0);
            else
                io_uring_prep_write_fixed(sqe, io->fd, s->iov[0].iov_base,
                                          (unsigned)s->iov[0].iov_len,
                                          s->offset, 0);
        } else if (s->op == BLKIF_OP_READ) {
            io_uring_prep_readv(sqe, io->fd, s->iov, s->niov, s->offset);
        } else {
            io_uring_prep_writev(sqe, io->fd, s->iov, s->niov, s->offset);
        }
        break;
    case BLKBACK_PH_DISCARD:
        io_uring_prep_fallocate(sqe, io->fd,
                                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                s->offset, s->remaining);
        break;
    default:
        io_uring_prep_nop(sqe);
        break;
    }
    io_uring_sqe_set_data64(sqe, idx);
    io->unsubmitted++;
}

/*
 * Discard on a block device: BLKDISCARD/BLKSECDISCARD have no io_uring
 * opcode on the kernels we support, so the ioctl runs here and a NOP
 * carries its status through the completion queue.
 */
static int blkback_io_blk_discard(struct blkback_io *io,
                                  const struct blkback_io_slot *s)
{
    uint64_t range[2] = {s->offset, s->remaining};

    if (ioctl(io->fd, s->secure ? BLKSECDISCARD : BLKDISCARD, range) < 0)
        return errno == ENOTTY ? -EOPNOTSUPP : -errno;
    return 0;
}

/*
 * Start slot idx: pick its first phase and prepare its SQE. A flush or
 * barrier holds back what is queued after it, and its own fsync waits
 * until every request started before it finished (blkback_io_finish).
 */
static void blkback_io_start(struct blkback_io *io, uint32_t idx)
{
    struct blkback_io_slot *s = &io->slots[idx];

    switch (s->op) {
    case BLKIF_OP_FLUSH_DISKCACHE:
    case BLKIF_OP_WRITE_BARRIER:
        s->phase = BLKBACK_PH_PREFLUSH;
        io->barrier = idx;
        if (io->started > 0) {
            io->draining = true;
            return;
        }
        break;
    case BLKIF_OP_DISCARD:
        s->phase = BLKBACK_PH_NOP;
        if (s->remaining > 0 && !io->disk.blockdev)
            s->phase = BLKBACK_PH_DISCARD;
        else if (s->remaining > 0)
            s->err = blkback_io_blk_discard(io, s);
        break;
    default:
        s->phase = BLKBACK_PH_DATA;
        break;
    }
    io->started++;
    blkback_io_prep(io, idx);
}

static bool blkback_io_op_ok(const struct blkback_io *io, uint8_t op)
{
    switch (op) {
    case BLKIF_OP_READ:
        return true;
    case BLKIF_OP_WRITE:
    case BLKIF_OP_FLUSH_DISKCACHE:
    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_DISCARD:
        return !io->disk.readonly;
    default:
        return false;
    }
}

/*
 * Queue a validated request (blkback_ring_parse) whose data is described by
 * iov (copied: it may live on the caller's stack). The request starts at
 * the next blkback_io_submit(), or after the barrier in progress. Returns 0,
 * -EBUSY if every slot is in use, -EINVAL if req and iov disagree.
 */
int blkback_io_queue(struct blkback_io *io, uint64_t tag,
                     const struct blkback_req *req, const struct iovec *iov,
                     unsigned niov)
{
    struct blkback_io_slot *s;
    uint64_t total = 0;
    uint32_t idx;
    unsigned i;

    if (!blkback_io_op_ok(io, req->op) || niov > io->max_segs)
        return -EINVAL;
    if (req->op != BLKIF_OP_DISCARD) {
        for (i = 0; i < niov; i++)
            total += iov[i].iov_len;
        if (total != req->bytes)
            return -EINVAL;
    }
    if (io->nr_free == 0)
        return -EBUSY;
    idx = io->free[--io->nr_free];
    s = &io->slots[idx];
    *s = (struct blkback_io_slot){
        .tag = tag,
        .op = req->op,
        .phase = BLKBACK_PH_IDLE,
        .secure = req->secure,
        .in_use = true,
        .offset = req->offset,
        .remaining = req->bytes,
        .iov = &io->iovs[(size_t)idx * io->max_segs],
        .niov = req->op == BLKIF_OP_DISCARD ? 0 : niov,
        .next = BLKBACK_IO_NONE,
    };
    if (s->niov > 0)
        memcpy(s->iov, iov, s->niov * sizeof(*iov));
    if (io->barrier == BLKBACK_IO_NONE) {
        blkback_io_start(io, idx);
        return 0;
    }
    /* Behind a barrier: wait for it to complete. */
    if (io->held_tail == BLKBACK_IO_NONE)
        io->held_head = idx;
    else
        io->slots[io->held_tail].next = idx;
    io->held_tail = idx;
    return 0;
}

/*
 * Make the calling thread the owner of a ring created disabled: from now
 * on only it submits and reaps. 0 or -errno.
 */
static int blkback_io_enable(struct blkback_io *io)
{
    int ret;

    if (!io->owned || io->enabled)
        return 0;
    /* io_uring_enable_rings(), which Debian 12's liburing 2.3 declares
     * but does not export. */
    ret = (int)syscall(__NR_io_uring_register, io->ring.ring_fd,
                       IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (ret < 0) {
        ret = -errno;
        blkback_io_msg(io, "enabling the io_uring: %s", strerror(-ret));
        return ret;
    }
    io->enabled = true;
    return 0;
}

/* The kernel took n of the SQEs prepared (never count below zero). */
static void blkback_io_submitted(struct blkback_io *io, int n)
{
    io->unsubmitted -=
        (unsigned)n < io->unsubmitted ? (unsigned)n : io->unsubmitted;
}

/*
 * Submit everything queued since the last call: one io_uring_enter per
 * ring pass. Returns 0 or -errno.
 */
int blkback_io_submit(struct blkback_io *io)
{
    int ret = blkback_io_enable(io);

    if (ret < 0)
        return ret;
    blkback_io_arm(io);
    while (io->unsubmitted > 0) {
        /* An owned ring runs its completions only when asked: the same
         * system call that submits collects what finished meanwhile, so
         * the reap that follows rarely needs one of its own. */
        ret = io->owned ? io_uring_submit_and_get_events(&io->ring)
                        : io_uring_submit(&io->ring);
        if (ret == -EINTR || ret == -EAGAIN)
            continue;
        if (ret < 0)
            return ret;
        blkback_io_submitted(io, ret);
    }
    return 0;
}

/* Drop n transferred bytes from the front of slot s's data. */
static void blkback_io_advance(struct blkback_io_slot *s, uint64_t n)
{
    s->offset += n;
    s->remaining -= n;
    while (n > 0 && s->niov > 0) {
        if (n >= s->iov[0].iov_len) {
            n -= s->iov[0].iov_len;
            s->iov++;
            s->niov--;
        } else {
            s->iov[0].iov_base = (char *)s->iov[0].iov_base + n;
            s->iov[0].iov_len -= n;
            n = 0;
        }
    }
}

/* The step after a successful phase: true if the request is complete. */
static bool blkback_io_next_phase(struct blkback_io *io, uint32_t idx, int res)
{
    struct blkback_io_slot *s = &io->slots[idx];

    switch (s->phase) {
    case BLKBACK_PH_PREFLUSH:
        if (s->remaining == 0)
            return true;
        s->phase = BLKBACK_PH_DATA;
        break;
    case BLKBACK_PH_DATA:
        /* A transfer of nothing, or of more than asked, is an I/O error. */
        if (res == 0 || (uint64_t)res > s->remaining) {
            s->err = -EIO;
            return true;
        }
        blkback_io_advance(s, (uint64_t)res);
        if (s->remaining > 0)
            break; /* short transfer: the rest goes again */
        if (s->op != BLKIF_OP_WRITE_BARRIER)
            return true;
        s->phase = BLKBACK_PH_POSTFLUSH;
        break;
    default:
        return true;
    }
    s->retries = 0;
    blkback_io_prep(io, idx);
    return false;
}

/* A CQE for slot idx: true if the request is complete. */
static bool blkback_io_complete(struct blkback_io *io, uint32_t idx, int res)
{
    struct blkback_io_slot *s = &io->slots[idx];

    if (res == -EINTR || res == -EAGAIN) {
        if (++s->retries <= BLKBACK_IO_RETRIES) {
            blkback_io_prep(io, idx);
            return false;
        }
        res = -EIO;
    }
    if (res < 0) {
        s->err = res;
        return true;
    }
    if (s->err < 0) /* status decided before the NOP */
        return true;
    return blkback_io_next_phase(io, idx, res);
}

/*
 * Free slot idx. The last one to finish before a draining flush starts
 * it; a finished flush or barrier starts what was held behind it.
 */
static void blkback_io_finish(struct blkback_io *io, uint32_t idx)
{
    uint32_t h;

    io->slots[idx].in_use = false;
    io->free[io->nr_free++] = idx;
    io->started--;
    if (io->draining && io->started == 0) {
        io->draining = false;
        io->started++;
        blkback_io_prep(io, io->barrier);
    }
    if (idx != io->barrier)
        return;
    io->barrier = BLKBACK_IO_NONE;
    while (io->barrier == BLKBACK_IO_NONE &&
           (h = io->held_head) != BLKBACK_IO_NONE) {
        io->held_head = io->slots[h].next;
        if (io->held_head == BLKBACK_IO_NONE)
            io->held_tail = BLKBACK_IO_NONE;
        blkback_io_start(io, h);
    }
}

/*
 * Collect up to max finished requests into done[], in completion order;
 * follow-up steps (next phase, short-transfer remainder, requests held
 * behind a barrier) are submitted before returning. With wait, block until
 * at least one request finishes, unless none is in flight. Returns the
 * number of entries filled, or -errno.
 */
int blkback_io_reap(struct blkback_io *io, struct blkback_io_done *done,
                    unsigned max, bool wait)
{
    struct io_uring_cqe *cqe;
    unsigned n = 0;
    int ret = blkback_io_enable(io);

    if (ret < 0)
        return ret;
    for (;;) {
        while (n < max && io_uring_peek_cqe(&io->ring, &cqe) == 0) {
            uint64_t idx = io_uring_cqe_get_data64(cqe);
            int res = cqe->res;

            io_uring_cqe_seen(&io->ring, cqe);
            if (idx & BLKBACK_IO_WATCH_TAG) {
                blkback_io_watched(io, idx, res);
                continue;
            }
            assert(idx < io->depth && io->slots[idx].in_use);
            if (!blkback_io_complete(io, (uint32_t)idx, res))
                continue;
            done[n].tag = io->slots[idx].tag;
            done[n].err = io->slots[idx].err;
            n++;
            blkback_io_finish(io, (uint32_t)idx);
        }
        if (io->watch_err < 0 && n == 0 && !wait) {
            ret = io->watch_err;
            io->watch_err = 0;
            blkback_io_msg(io, "polling a watched fd: %s", strerror(-ret));
            return ret;
        }
        ret = blkback_io_submit(io);
        if (ret < 0)
            return ret;
        if (n > 0 || !wait || max == 0 || io->nr_free == io->depth)
            return (int)n;
        ret = io_uring_wait_cqe(&io->ring, &cqe);
        if (ret < 0 && ret != -EINTR)
            return ret;
    }
}

/*
 * Submit what is queued and sleep until a completion or a watched fd's
 * input comes (without collecting it: reap does). 0 or -errno; a signal
 * ends the sleep early with 0.
 */
int blkback_io_wait(struct blkback_io *io)
{
    int ret = blkback_io_enable(io);

    if (ret < 0)
        return ret;
    blkback_io_arm(io);
    ret = io_uring_submit_and_wait(&io->ring, 1);
    if (ret == -EINTR || ret == -EAGAIN)
        return 0;
    if (ret < 0)
        return ret;
    blkback_io_submitted(io, ret);
    return 0;
}
