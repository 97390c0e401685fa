/*
 * blkio_bench.c - the blkback storage engine (io.c) against bare liburing
 * doing the same I/O: 4 KiB random reads and writes at queue depth 32 on one
 * file in $TMPDIR (or /tmp), O_DIRECT where the filesystem allows it. The
 * baseline is the least an io_uring backend can do; the difference is the
 * engine's bookkeeping (slots, phases, iovec copies).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/blk/blkback-internal.h"

#define PAGE       4096u
#define FILE_BYTES (64u << 20)
#define DEPTH      32u
#define OPS        40000u

static unsigned char *pages;
static uint64_t offsets[OPS];

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* OPS random 4 KiB operations through the engine, DEPTH in flight. */
static int run_engine(struct blkback_io *io, uint8_t op, double *secs)
{
    struct blkback_io_done done[DEPTH];
    unsigned issued = 0, completed = 0;
    double t0 = now_sec();
    int n, err;

    while (completed < OPS) {
        while (issued < OPS && issued - completed < DEPTH) {
            struct blkback_req req = {
                .op = op, .offset = offsets[issued], .bytes = PAGE};
            struct iovec iov = {pages + (issued % DEPTH) * PAGE, PAGE};

            err = blkback_io_queue(io, issued, &req, &iov, 1);
            if (err < 0)
                return err;
            issued++;
        }
        err = blkback_io_submit(io);
        if (err < 0)
            return err;
        n = blkback_io_reap(io, done, DEPTH, true);
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++)
            if (done[i].err < 0)
                return done[i].err;
        completed += (unsigned)n;
    }
    *secs = now_sec() - t0;
    return 0;
}

/* The same with bare liburing: one readv/writev SQE per operation. */
static int run_raw(int fd, uint8_t op, double *secs)
{
    static struct iovec iov[DEPTH];
    struct io_uring ring;
    struct io_uring_cqe *cqe;
    unsigned issued = 0, completed = 0;
    double t0 = now_sec();
    int err;

    err = io_uring_queue_init(DEPTH, &ring, 0);
    if (err < 0)
        return err;
    while (completed < OPS) {
        while (issued < OPS && issued - completed < DEPTH) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            struct iovec *v = &iov[issued % DEPTH];

            v->iov_base = pages + (issued % DEPTH) * PAGE;
            v->iov_len = PAGE;
            if (op == BLKIF_OP_READ)
                io_uring_prep_readv(sqe, fd, v, 1, offsets[issued]);
            else
                io_uring_prep_writev(sqe, fd, v, 1, offsets[issued]);
            issued++;
        }
        io_uring_submit(&ring);
        err = io_uring_wait_cqe(&ring, &cqe);
        while (err == 0 && completed < issued &&
               io_uring_peek_cqe(&ring, &cqe) == 0) {
            err = cqe->res < 0 ? cqe->res : 0;
            io_uring_cqe_seen(&ring, cqe);
            completed++;
        }
        if (err < 0)
            break;
    }
    io_uring_queue_exit(&ring);
    *secs = now_sec() - t0;
    return err;
}

static void report(const char *what, double engine, double raw)
{
    printf("  %-6s engine %8.0f IOPS   bare liburing %8.0f IOPS   "
           "engine/bare %.2f\n",
           what, OPS / engine, OPS / raw, raw / engine);
}

int main(void)
{
    struct blkback_io_opts opts = {
        .queue_depth = DEPTH, .max_segs = 1, .allow_buffered = true};
    const char *t = getenv("TMPDIR");
    char path[PATH_MAX];
    double e_w, e_r, r_w, r_r;
    struct blkback_io io;
    int fd, err = 1;
    unsigned i;

    snprintf(path, sizeof(path), "%s/blkio_bench.XXXXXX", t && *t ? t : "/tmp");
    fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, FILE_BYTES) < 0) {
        perror("blkio_bench: scratch file");
        return 1;
    }
    close(fd);
    srand(42);
    for (i = 0; i < OPS; i++)
        offsets[i] = ((uint64_t)rand() % (FILE_BYTES / PAGE)) * PAGE;
    pages = aligned_alloc(PAGE, DEPTH * PAGE);
    if (pages == NULL)
        goto out;
    if (blkback_io_open(&io, path, &opts) < 0) {
        fprintf(stderr, "blkio_bench: %s\n", io.msg);
        goto close_io;
    }
    fd = open(path, O_RDWR | O_CLOEXEC | (io.disk.direct ? O_DIRECT : 0));
    memset(pages, 0x5a, DEPTH * PAGE);
    printf("blkio_bench: %u x 4 KiB random, depth %u, %s, %s\n", OPS, DEPTH,
           path, io.disk.direct ? "O_DIRECT" : "page cache");
    if (fd < 0 || run_engine(&io, BLKIF_OP_WRITE, &e_w) < 0 ||
        run_raw(fd, BLKIF_OP_WRITE, &r_w) < 0 ||
        run_engine(&io, BLKIF_OP_READ, &e_r) < 0 ||
        run_raw(fd, BLKIF_OP_READ, &r_r) < 0) {
        fprintf(stderr, "blkio_bench: I/O failed\n");
    } else {
        report("write", e_w, r_w);
        report("read", e_r, r_r);
        err = 0;
    }
    if (fd >= 0)
        close(fd);
close_io:
    blkback_io_close(&io);
out:
    free(pages);
    unlink(path);
    return err;
}
