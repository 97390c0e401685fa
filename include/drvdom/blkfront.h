/*
 * blkfront: drvdom's userspace block frontend (xen/io/blkif.h), the library
 * under the drvdom-blkfront tool.
 *
 * blkfront_open() connects virtual block device DEVID of the calling domain
 * the way Linux xen-blkfront does: it reads what the backend offers
 * (max-ring-page-order, multi-queue-max-queues,
 * feature-max-indirect-segments, feature-persistent), shares one ring per
 * queue plus a pool of data pages per request slot, publishes ring refs,
 * event channels, protocol and features, goes Initialised, waits for the
 * backend's Connected and reads the disk's geometry and features.
 *
 * Data lives in pages granted once at connect time: every request slot owns
 * max_io bytes of them (req->buf), so the same grant refs are reused by every
 * request (with feature-persistent, the backend maps them once). Writes are
 * filled and reads consumed in place, without a copy. Requests of more than
 * BLKIF_MAX_SEGMENTS_PER_REQUEST pages use indirect segments.
 *
 * Asynchronous use, one thread, nothing allocated per request:
 *
 *     r = blkfront_req_get(bf, q);        // NULL: queue q is full
 *     r->op = BLKFRONT_OP_WRITE; r->offset = off; r->len = n;
 *     memcpy(r->buf, data, n);
 *     blkfront_submit(bf, r);             // visible after blkfront_kick()
 *     ...
 *     poll(blkfront_fd(bf)) ...
 *     n = blkfront_reap(bf, done, max);   // kicks, then collects
 *     ... done[i]->status ...; blkfront_req_put(bf, done[i]);
 *
 * Every response is checked like ringbuf's front end checks indexes: its id
 * must be in range, outstanding and answered once, its operation the one
 * sent. A backend that breaks the protocol fails the device: every later
 * call returns -EPROTO (never a crash).
 *
 * Sizes and offsets are bytes and must be multiples of the logical sector
 * size. Every call returns 0 (or a documented count) or -errno.
 */
#ifndef DRVDOM_BLKFRONT_H
#define DRVDOM_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>

/* Most queues (rings) a device may use. */
#define BLKFRONT_MAX_QUEUES 16u
/* Default requests in flight per queue. */
#define BLKFRONT_DEFAULT_DEPTH 32u
/* Default largest request with and without indirect segments. */
#define BLKFRONT_DEFAULT_MAX_IO (128u * 1024u)
/* Largest request: 256 segments of 4 KiB (Linux's indirect limit). */
#define BLKFRONT_MAX_IO (1024u * 1024u)

/* What the caller asks for at connect time; zeroes mean the defaults. */
struct blkfront_opts {
    unsigned int queues;      /* rings (0: 1), capped by the backend's max */
    unsigned int ring_order;  /* ring-page-order, capped by the backend's */
    unsigned int queue_depth; /* requests in flight per queue (0: 32) */
    unsigned int max_io;      /* largest request in bytes, 4 KiB multiple */
    bool no_persistent;       /* do not ask for persistent grants */
    bool no_indirect;         /* never use indirect segments */
    bool ignore_readonly;     /* send writes to a read-only disk (tests) */
    int timeout_ms;           /* for each xenbus step (0: 20 s) */
    int poll_us; /* adaptive poll bound in us (<= 0: never, the default) */
};

/* The connected device: what the backend offered and what was agreed. */
struct blkfront_info {
    uint64_t size;                 /* bytes ("sectors" x 512) */
    uint32_t sector_size;          /* logical sector size */
    uint32_t physical_sector_size; /* physical sector size */
    bool readonly;                 /* VDISK_READONLY in "info" */
    bool flush;                    /* feature-flush-cache */
    bool discard;                  /* feature-discard */
    bool discard_secure;           /* discard-secure */
    uint32_t discard_granularity;  /* bytes, 0 if not given */
    unsigned int queues;           /* rings in use */
    unsigned int ring_order;       /* ring-page-order in use */
    unsigned int depth;            /* requests in flight per queue */
    unsigned int max_io;           /* largest request in bytes */
    unsigned int max_indirect;     /* segments per indirect request, 0: none */
    bool persistent;               /* both sides do persistent grants */
};

enum blkfront_op {
    BLKFRONT_OP_READ = 0, /* read len bytes at offset into buf */
    BLKFRONT_OP_WRITE,    /* write len bytes of buf at offset */
    BLKFRONT_OP_FLUSH,    /* make every completed write durable */
    BLKFRONT_OP_DISCARD,  /* discard len bytes at offset */
};

/*
 * One request slot of a queue. The caller sets op, offset, len and may use
 * arg; buf is the slot's granted memory (max_io bytes) and status the
 * result: 0, -EIO (BLKIF_RSP_ERROR), -EOPNOTSUPP, or -EPROTO when the
 * device failed with the request outstanding.
 */
struct blkfront_req {
    enum blkfront_op op; /* operation */
    uint64_t offset;     /* first byte on the disk */
    uint32_t len;        /* bytes (READ/WRITE: at most max_io) */
    void *arg;           /* the caller's */
    void *buf;           /* granted data pages (read-only for the caller) */
    int status;          /* result once reaped */
    unsigned int queue;  /* queue this slot belongs to (read-only) */
};

struct blkfront;

/*
 * Connects device devid (e.g. 51712 for xvda) of this domain; waits for the
 * toolstack to create it. -ETIMEDOUT, -ECONNRESET (the backend refused:
 * Closing/Closed), -ENOMEM, or a platform/xenstore error.
 */
int blkfront_open(struct blkfront **out, unsigned int devid,
                  const struct blkfront_opts *opts);

/*
 * Closes like Linux: Closing, waits for the backend to unmap, ends sharing,
 * Closed. Outstanding requests are abandoned. NULL is a no-op.
 */
void blkfront_close(struct blkfront *bf);

const struct blkfront_info *blkfront_info(const struct blkfront *bf);

/* "vbd/<self>/<devid>", for log lines. */
const char *blkfront_name(const struct blkfront *bf);

/* A free slot of queue q, or NULL when all are in flight or q is invalid. */
struct blkfront_req *blkfront_req_get(struct blkfront *bf, unsigned int q);

/* Returns a slot got but not submitted, or reaped. */
void blkfront_req_put(struct blkfront *bf, struct blkfront_req *r);

/*
 * Puts the request on its queue's ring (published by the next
 * blkfront_kick/reap/wait). -EINVAL (bad length or alignment, beyond the
 * disk), -EROFS, -EOPNOTSUPP (discard not offered), -EPROTO (device
 * failed). A FLUSH on a disk without a volatile cache completes at the next
 * reap with status 0.
 */
int blkfront_submit(struct blkfront *bf, struct blkfront_req *r);

/* Publishes submitted requests, notifying the backend if it asked. */
void blkfront_kick(struct blkfront *bf);

/* Pollable (POLLIN) when a response may be waiting. */
int blkfront_fd(const struct blkfront *bf);

/*
 * Kicks, then collects up to max completed requests of every queue into
 * done. Returns how many (0: none yet) or -EPROTO once the device failed.
 */
int blkfront_reap(struct blkfront *bf, struct blkfront_req **done,
                  unsigned int max);

/*
 * Like reap, but waits up to timeout_ms (-1: forever) for at least one.
 * By default it sleeps on the event channel, as Linux xen-blkfront does: a
 * polling backend (drvdom-blkback) serves a sleeping frontend best. With
 * opts.poll_us, an adaptive poll: while requests are outstanding it first spins
 * on the response rings (no system call; the backend is not asked to notify)
 * for a window of at most opts.poll_us, then sleeps on the event channel. The
 * window doubles when a sleep ended within the bound and halves when it
 * lasted longer, so a slow device is soon waited for without spinning; an
 * idle device (nothing outstanding) never spins. A backend that is awake
 * when we kick it (it asked for no notification: it polls) is left to poll
 * alone: the next waits sleep.
 */
int blkfront_wait(struct blkfront *bf, struct blkfront_req **done,
                  unsigned int max, int timeout_ms);

/*
 * Pollable (POLLIN) when the backend's xenbus state may have changed; -1 when
 * the device is not watched (unit tests).
 */
int blkfront_xs_fd(const struct blkfront *bf);

/*
 * Whether the backend left Connected (Closing, Closed, its directory
 * removed: the toolstack is detaching the disk). Never blocks; once true,
 * stays true. The caller stops submitting, completes or fails what is in
 * flight and calls blkfront_close(), which finishes the xenbus close.
 */
bool blkfront_backend_closing(struct blkfront *bf);

/* Requests submitted and not yet reaped, all queues. */
unsigned int blkfront_inflight(const struct blkfront *bf);

/*
 * Synchronous helpers on queue 0: split into max_io requests kept in flight
 * together, copy through the granted pages, wait for all. 0 or the first
 * error; -EBUSY while asynchronous requests are outstanding.
 */
int blkfront_pread(struct blkfront *bf, void *buf, uint64_t len,
                   uint64_t offset);
int blkfront_pwrite(struct blkfront *bf, const void *buf, uint64_t len,
                    uint64_t offset);
int blkfront_flush(struct blkfront *bf);
int blkfront_discard(struct blkfront *bf, uint64_t len, uint64_t offset);

#endif /* DRVDOM_BLKFRONT_H */
