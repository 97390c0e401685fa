/*
 * blkback-internal.h - private interfaces of the userspace blkback worker.
 *
 * Three parts, each usable on its own so that the worker is glue
 * (ring -> validate -> map -> io -> respond):
 *
 *   ring.c    parse and validate a private copy of a blkif request against
 *             the device geometry; build responses. No I/O, no allocation.
 *   io.c      the storage engine: a raw file or block device served through
 *             io_uring, with request slots preallocated to the queue depth.
 *   pgrant.c  the persistent-grant cache: gref -> mapped page, bounded, LRU.
 *   queue.c   one queue's data path: take a batch of requests off the ring,
 *             validate, map their grants, queue them to io.c, respond.
 *   copy.c    the other data mode of queue.c (--data copy): no data page
 *             is mapped; data moves by batched grant copies between the
 *             guest's pages and a bounded pool of the queue's own buffers.
 *   xs.c      xenstore: the toolstack's and the frontend's keys in, the
 *             device's features out.
 *   worker.c  the drvdomd worker program: one thread per queue.
 *
 * Units: blkif counts sectors in 512-byte units in every request field
 * (sector_number, first_sect/last_sect, nr_sectors), whatever the logical
 * sector size, as Linux xen-blkfront/xen-blkback do ("feature-large-sector-
 * size" is not supported). The logical sector size only adds alignment
 * rules. struct blkback_geom.nr_sectors is in 512-byte units too, which is
 * also what Linux blkback writes to the "sectors" key.
 *
 * Only the native (x86_64/arm64) request layout is handled; the 32-bit x86
 * ABI ("protocol" = "x86_32-abi") is not.
 */
#ifndef DRVDOM_BLKBACK_INTERNAL_H
#define DRVDOM_BLKBACK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/uio.h>
#include <liburing.h>
#include <xenstore.h>
#include <xen/xen.h>
#include <xen/io/blkif.h>

#include "drvdom/platform.h"
#include "drvdom/ringbuf.h"

/* The blkif sector: every sector quantity on the ring counts these. */
#define BLKBACK_SECTOR_SHIFT 9
#define BLKBACK_SECTOR_SIZE  (1u << BLKBACK_SECTOR_SHIFT)
/* Granted pages are Xen pages, 4 KiB whatever the backend's page size. */
#define BLKBACK_PAGE_SIZE 4096u
/* 512-byte sectors in one granted page: first_sect/last_sect are below. */
#define BLKBACK_SECTORS_PER_PAGE (BLKBACK_PAGE_SIZE >> BLKBACK_SECTOR_SHIFT)
/* Segments one indirect page holds (Linux SEGS_PER_INDIRECT_FRAME). */
#define BLKBACK_SEGS_PER_INDIRECT_PAGE \
    (BLKBACK_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* Most segments we accept in an indirect request (Linux's limit too). */
#define BLKBACK_MAX_INDIRECT_SEGS 256u
/* Most segments of any request: the size of a caller's segment array. */
#define BLKBACK_MAX_SEGS BLKBACK_MAX_INDIRECT_SEGS

/* Indirect pages needed to hold nr_segs segments. */
static inline unsigned blkback_indirect_pages(unsigned nr_segs)
{
    return (nr_segs + BLKBACK_SEGS_PER_INDIRECT_PAGE - 1) /
           BLKBACK_SEGS_PER_INDIRECT_PAGE;
}

/* ------------------------------------------------------------------ ring.c */

/* What the device offers; requests are validated against it. */
struct blkback_geom {
    uint64_t nr_sectors;   /* disk size in 512-byte sectors */
    uint32_t sector_size;  /* logical sector size: 512 or 4096 */
    bool readonly;         /* mode=r: only READ is accepted */
    bool flush;            /* feature-flush-cache advertised */
    bool barrier;          /* feature-barrier advertised */
    bool discard;          /* feature-discard advertised */
    bool discard_secure;   /* discard-secure advertised */
    uint32_t max_indirect; /* feature-max-indirect-segments, 0 = none */
};

/* Why a request was refused; BLKBACK_OK (0) means accepted. */
enum blkback_bad {
    BLKBACK_OK = 0,
    BLKBACK_BAD_OP,         /* unknown or reserved operation */
    BLKBACK_BAD_NSEG_ZERO,  /* read/write without segments */
    BLKBACK_BAD_NSEG_MAX,   /* more segments than the request type allows */
    BLKBACK_BAD_LAST_SECT,  /* last_sect beyond the page */
    BLKBACK_BAD_SECT_ORDER, /* last_sect < first_sect */
    BLKBACK_BAD_SEG_ALIGN,  /* segment not a whole number of logical sectors */
    BLKBACK_BAD_ALIGN,      /* start sector not on a logical sector */
    BLKBACK_BAD_LEN_ALIGN,  /* discard length not whole logical sectors */
    BLKBACK_BAD_WRAP,       /* start + length wraps 64 bits */
    BLKBACK_BAD_RANGE,      /* end beyond the disk */
    BLKBACK_BAD_READONLY,   /* write, discard or flush on a read-only disk */
    BLKBACK_BAD_NO_FLUSH,   /* flush not advertised */
    BLKBACK_BAD_NO_BARRIER, /* barrier not advertised */
    BLKBACK_BAD_NO_DISCARD, /* discard not advertised */
    BLKBACK_BAD_NO_SECURE,  /* secure discard not advertised */
    BLKBACK_BAD_DISCARD_OVERFLOW, /* nr_sectors * 512 overflows 64 bits */
    BLKBACK_BAD_NO_INDIRECT,      /* indirect not advertised */
    BLKBACK_BAD_INDIRECT_OP,      /* indirect_op neither READ nor WRITE */
    BLKBACK_BAD_NR,               /* number of reasons, not a reason */
};

/* One data segment of a parsed request. */
struct blkback_seg {
    grant_ref_t gref; /* guest page holding the data */
    uint32_t offset;  /* byte offset of the data in that page */
    uint32_t len;     /* bytes, a whole number of logical sectors */
};

/* A validated request, independent of its ring layout. */
struct blkback_req {
    uint64_t id;          /* frontend's id, echoed in the response */
    uint8_t op;           /* BLKIF_OP_*, an indirect request's indirect_op */
    uint8_t rsp_op;       /* operation to echo (indirect: indirect_op) */
    bool indirect;        /* segments still to come from indirect pages */
    bool secure;          /* DISCARD with BLKIF_DISCARD_SECURE */
    uint16_t nr_segs;     /* segments in the caller's array */
    uint16_t nr_indirect; /* indirect pages to map (indirect only) */
    uint64_t sector;      /* first 512-byte sector */
    uint64_t nr_sectors;  /* length in 512-byte sectors */
    uint64_t offset;      /* first byte on the disk: sector * 512 */
    uint64_t bytes;       /* length in bytes: nr_sectors * 512 */
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    /* indirect pages, nr_indirect of them */
};

enum blkback_bad blkback_ring_parse(const blkif_request_t *copy,
                                    const struct blkback_geom *geom,
                                    struct blkback_req *req,
                                    struct blkback_seg *segs);
enum blkback_bad blkback_ring_parse_indirect(
    struct blkback_req *req, const struct blkback_geom *geom,
    const struct blkif_request_segment *raw, struct blkback_seg *segs);
uint8_t blkback_ring_rsp_op(const blkif_request_t *copy);
const char *blkback_bad_str(enum blkback_bad bad);
int16_t blkback_bad_status(enum blkback_bad bad);
int16_t blkback_errno_status(int err);
void blkback_ring_response(blkif_response_t *rsp, uint64_t id, uint8_t op,
                           int16_t status);

/* -------------------------------------------------------------------- io.c */

/* How to open the backing store. */
struct blkback_io_opts {
    uint32_t sector_size; /* 512 or 4096; 0 = the device's, 512 for files */
    uint32_t physical_sector_size; /* files only; 0 = sector_size */
    uint32_t queue_depth;          /* request slots, 1..4096 */
    uint32_t max_segs;             /* iovecs per slot, 1..BLKBACK_MAX_SEGS */
    bool readonly;                 /* open read-only */
    bool allow_buffered; /* accept the page cache if O_DIRECT is refused */
    bool secure_discard; /* block device: the admin says it can
                            BLKSECDISCARD (used where the kernel cannot
                            say: before Linux 5.19) */
};

/* What the engine found out about the backing store. */
struct blkback_disk {
    bool blockdev;                 /* a block device, else a regular file */
    bool direct;                   /* O_DIRECT in use */
    bool volatile_cache;           /* writes need a flush to be durable */
    bool readonly;                 /* opened read-only */
    bool discard;                  /* discard is possible */
    bool discard_secure;           /* secure discard is possible */
    uint64_t nr_sectors;           /* size in 512-byte sectors */
    uint32_t sector_size;          /* logical sector size */
    uint32_t physical_sector_size; /* physical sector size */
    uint32_t discard_granularity;  /* bytes, discard-granularity */
    uint32_t discard_alignment;    /* bytes, discard-alignment */
};

/* A request slot: one per request in flight, preallocated. */
struct blkback_io_slot {
    uint64_t tag;       /* caller's tag, given back on completion */
    uint8_t op;         /* BLKIF_OP_* */
    uint8_t phase;      /* BLKBACK_PH_* step in flight */
    bool secure;        /* secure discard */
    bool in_use;        /* slot holds a request */
    int err;            /* first error, 0 or -errno */
    unsigned retries;   /* EAGAIN/EINTR resubmissions so far */
    uint64_t offset;    /* disk offset of the remaining data */
    uint64_t remaining; /* data bytes still to transfer */
    struct iovec *iov;  /* remaining data (advanced on short I/O) */
    unsigned niov;      /* entries left in iov */
    uint32_t next;      /* next held slot, or BLKBACK_IO_NONE */
};

/* File descriptors an engine can watch (blkback_io_watch): keys. */
enum {
    BLKBACK_WATCH_EVTCHN, /* the queue's event channel */
    BLKBACK_WATCH_STOP,   /* the worker's stop_fd */
    BLKBACK_IO_WATCHES
};

/* The engine of one queue: not thread-safe, one per worker thread. */
struct blkback_io {
    int fd;                   /* the backing store */
    struct blkback_disk disk; /* what open() found */
    struct io_uring ring;     /* submission and completion queues */
    bool ring_ready;          /* ring initialised */
    bool owned; /* ring created disabled, for one thread (BLKBACK_IO_RING_FLAGS)
                 */
    bool enabled; /* ... and enabled by the thread that owns it now */
    struct blkback_io_slot *slots; /* queue_depth slots */
    struct iovec *iovs;            /* max_segs iovecs per slot */
    uint32_t *free;                /* stack of free slot indexes */
    uint32_t nr_free;              /* entries on the free stack */
    uint32_t depth;                /* number of slots */
    uint32_t max_segs;             /* iovecs per slot */
    uint8_t *fixed_base;           /* the registered buffer, or NULL */
    size_t fixed_len;              /* its length */
    unsigned long nr_fixed;        /* data I/Os done on it */
    uint32_t barrier;              /* slot of the flush/barrier in progress */
    bool draining;                 /* ... whose fsync waits for started == 0 */
    uint32_t started;              /* slots started and not finished */
    uint32_t held_head, held_tail; /* slots held behind that barrier */
    unsigned unsubmitted;          /* SQEs prepared, not yet submitted */
    int watch_fd[BLKBACK_IO_WATCHES];     /* fds polled with the I/O, or -1 */
    bool watch_armed[BLKBACK_IO_WATCHES]; /* its poll is in the ring */
    unsigned fired; /* watches that fired, not yet taken (bit per key) */
    int watch_err;  /* a watch's poll failed: -errno for the next reap */
    char msg[256];  /* last error or notice, for humans */
};

#define BLKBACK_IO_NONE UINT32_MAX
/* io_uring setup: one owning thread that runs its own completions. */
#define BLKBACK_IO_RING_FLAGS                               \
    (IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER | \
     IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG)

/* A finished request. */
struct blkback_io_done {
    uint64_t tag; /* the tag given to blkback_io_queue() */
    int err;      /* 0, or -errno of the first failure */
};

int blkback_io_open(struct blkback_io *io, const char *path,
                    const struct blkback_io_opts *opts);
int blkback_io_clone(struct blkback_io *io, const struct blkback_io *from,
                     uint32_t queue_depth, uint32_t max_segs);
void blkback_io_close(struct blkback_io *io);
void blkback_io_geom(const struct blkback_io *io, struct blkback_geom *geom,
                     uint32_t max_indirect);
int blkback_io_queue(struct blkback_io *io, uint64_t tag,
                     const struct blkback_req *req, const struct iovec *iov,
                     unsigned niov);
int blkback_io_fixed(struct blkback_io *io, void *base, size_t len);
int blkback_io_submit(struct blkback_io *io);
int blkback_io_reap(struct blkback_io *io, struct blkback_io_done *done,
                    unsigned max, bool wait);
int blkback_io_watch(struct blkback_io *io, unsigned key, int fd);
unsigned blkback_io_fired(struct blkback_io *io, unsigned mask);
int blkback_io_wait(struct blkback_io *io);

/* ---------------------------------------------------------------- pgrant.c */

/*
 * Unmap of evicted grants: n entries, grefs[i] was mapped at addrs[i].
 * Called with up to BLKBACK_PGRANT_BATCH entries at a time.
 */
typedef void blkback_pgrant_unmap_fn(void *opaque, const grant_ref_t *grefs,
                                     void *const *addrs, unsigned n);

/* Most grants unmapped by one call of the unmap callback. */
#define BLKBACK_PGRANT_BATCH 32u
/* Share of the bound purged when the cache overflowed (Linux: 5%). */
#define BLKBACK_PGRANT_PURGE_PERCENT 5u

/* One cached grant. */
struct blkback_pgrant {
    grant_ref_t gref;    /* the frontend's grant */
    void *addr;          /* where it is mapped */
    uint32_t users;      /* requests using it now; never evicted if > 0 */
    uint32_t hnext;      /* next entry in the hash chain */
    uint32_t prev, next; /* LRU list of unused entries, or free list */
    uint64_t last_used;  /* caller's clock at the last release */
};

/* The persistent grants of one ring: not thread-safe. */
struct blkback_pgrant_cache {
    struct blkback_pgrant *ents;    /* max entries */
    uint32_t *buckets;              /* hash heads, nbuckets of them */
    uint32_t nbuckets;              /* a power of two >= 2 * max */
    uint32_t max;                   /* bound: max persistent grants */
    uint32_t count;                 /* entries mapped */
    uint32_t free_head;             /* free entries */
    uint32_t lru_head, lru_tail;    /* unused entries, oldest first */
    bool overflow;                  /* an add() was refused since last purge */
    blkback_pgrant_unmap_fn *unmap; /* unmap callback */
    void *opaque;                   /* its argument */
};

#define BLKBACK_PGRANT_NONE UINT32_MAX

int blkback_pgrant_init(struct blkback_pgrant_cache *c, uint32_t max,
                        blkback_pgrant_unmap_fn *unmap, void *opaque);
void blkback_pgrant_destroy(struct blkback_pgrant_cache *c);
void *blkback_pgrant_get(struct blkback_pgrant_cache *c, grant_ref_t gref);
int blkback_pgrant_add(struct blkback_pgrant_cache *c, grant_ref_t gref,
                       void *addr);
int blkback_pgrant_put(struct blkback_pgrant_cache *c, grant_ref_t gref,
                       uint64_t now);
unsigned blkback_pgrant_purge(struct blkback_pgrant_cache *c, uint64_t now,
                              uint64_t idle);

/* ----------------------------------------------------------------- queue.c */

/* Queues a device offers at most (multi-queue-max-queues). */
#define BLKBACK_MAX_QUEUES 4u
/* Persistent grants kept per queue (Linux xen_blkif_max_pgrants). */
#define BLKBACK_MAX_PGRANTS 1056u
/* Unused persistent grants are unmapped after this long (Linux: 60 s). */
#define BLKBACK_PGRANT_IDLE_MS 60000u
/* Most grants mapped by one plat_gnttab_map call (the sim's limit). */
#define BLKBACK_MAP_BATCH 1024u
/*
 * Default busy-poll window of a queue after activity (--poll-us): on the
 * sim platform, and on Xen, where a sleep and a wake-up of a process in a
 * PV domain cost far more and the window pays up to ~1 ms (docs/blkback.md
 * "Wake-up latency").
 */
#define BLKBACK_POLL_US     50u
#define BLKBACK_POLL_US_XEN 1000u
/* A busy-poll reads the clock once in this many looks at the ring. */
#define BLKBACK_SPIN_STRIDE 8u
/* Busy-poll only after this many pushes in a row notified the frontend. */
#define BLKBACK_SPIN_AFTER 4u
/* Smallest busy-poll window the adaptive one grows from again. */
#define BLKBACK_SPIN_MIN_NS 1000u
/* While the window is shut, one sleep in this many is timed (queue.c). */
#define BLKBACK_SPIN_PROBE 16u
/* Largest --poll-us accepted. */
#define BLKBACK_POLL_US_MAX 10000u
/* Bad requests logged per queue; the rest are only counted. */
#define BLKBACK_LOG_BAD 16u

#define BLKBACK_NONE UINT32_MAX

/*
 * Bytes of the request journal of one queue (ringbuf_back_journal): room
 * for the largest ring, so queue i's journal is at i * this in the
 * device's journal file whatever the ring orders.
 */
#define BLKBACK_JOURNAL_SLOT 69632u
_Static_assert(BLKBACK_JOURNAL_SLOT >=
                   sizeof(struct ringbuf_journal) +
                       (RINGBUF_PAGE_SIZE << RINGBUF_MAX_ORDER) /
                           sizeof(blkif_request_t) * sizeof(blkif_request_t),
               "journal slot too small for the largest ring");

/* What every queue of a device shares; read-only while the queues run. */
struct blkback_dev {
    char name[48];                 /* "vbd/<fe>/<devid>", for log lines */
    domid_t fe;                    /* frontend domain */
    struct blkback_geom geom;      /* what requests are validated against */
    bool persistent;               /* feature-persistent on both ends */
    uint32_t max_pgrants;          /* bound of each queue's grant cache */
    const struct blkback_io *disk; /* the opened store queues clone */
    int status_fd;                 /* drvdomd's status pipe, or -1 */
    bool report_first;             /* say "first-response" (adopted) */
    atomic_flag first_done;        /* "first-response" said */
    uint8_t *journal; /* BLKBACK_JOURNAL_SLOT bytes per queue, or NULL */
    uint32_t poll_us; /* busy-poll window after activity (0: sleep at once) */
    bool copy; /* data by grant copy through own buffers (copy.c), else the
                  guest's pages are mapped and I/O is done on them */
};

/* One queue's frontend keys. */
struct blkback_queue_cfg {
    unsigned order;                            /* ring-page-order */
    grant_ref_t refs[1u << RINGBUF_MAX_ORDER]; /* ring-ref, ring-refN */
    evtchn_port_t port;                        /* event-channel */
};

/* How a segment's page is mapped (struct blkback_pending.kinds). */
enum {
    BLKBACK_PG_RANGE,   /* in the request's batch range */
    BLKBACK_PG_PERSIST, /* in the persistent-grant cache */
    BLKBACK_PG_SINGLE,  /* alone, unmapped after use (indirect, cache full) */
};

/* A request taken off the ring, until its response is put. */
struct blkback_pending {
    struct blkback_req req;   /* the validated request */
    struct blkback_seg *segs; /* its segments (max_segs slots) */
    void **pages;             /* mapped page of each segment */
    uint8_t *kinds;           /* BLKBACK_PG_* of each segment */
    uint16_t nr_mapped;       /* segments whose kinds[] is set */
    uint32_t range;           /* batch range of its pages, or NONE */
    uint32_t range_first;     /* index of its first page in that range */
    bool complete;            /* finished: its response may be put */
    int16_t status;           /* BLKIF_RSP_* of that response */
    uint32_t copy_first;      /* copy mode: its first entry in the batch of
                                 grant-copy segments being built */
};

/* Grants of several requests mapped by one plat_gnttab_map call. */
struct blkback_range {
    void *addr;     /* the mapping, NULL until mapped */
    uint32_t count; /* pages */
    uint32_t users; /* requests using it: unmapped when it drops to 0 */
    bool writable;  /* READ requests' pages: guest memory is written */
    bool failed;    /* the map was refused: each request maps its own */
};

/* Counters of one queue. */
struct blkback_queue_stats {
    uint64_t requests;   /* requests taken off the ring */
    uint64_t bad;        /* refused by validation or mapping */
    uint64_t io_errors;  /* failed in the storage engine */
    uint64_t map_calls;  /* plat_gnttab_map calls */
    uint64_t pg_hits;    /* segments found in the persistent cache */
    uint64_t passes;     /* ring passes that took requests */
    uint64_t copy_calls; /* plat_gnttab_copy calls (copy mode) */
    uint64_t copy_waits; /* times a request waited for pool buffers */
};

/* One ring and its thread's state: not thread-safe, one thread each. */
struct blkback_queue {
    char name[64];                     /* "vbd/<fe>/<devid>[ qN]" */
    struct blkback_dev *dev;           /* the device (shared) */
    struct plat_gnttab *gt;            /* this queue's grant handle */
    struct plat_evtchn *ec;            /* this queue's event channel handle */
    evtchn_port_t port;                /* our end of the channel, 0: unbound */
    void *sring;                       /* mapped ring pages, or NULL */
    unsigned order;                    /* ring-page-order */
    struct ringbuf_back rb;            /* the back ring */
    struct blkback_io io;              /* storage engine */
    bool io_ready;                     /* io opened */
    struct blkback_pgrant_cache pg;    /* persistent grants (persistent) */
    bool peer_fault;                   /* open failed on the frontend's data */
    uint32_t nr_ents;                  /* RING_SIZE: most requests in flight */
    uint32_t max_segs;                 /* segments a request may have */
    uint32_t inflight;                 /* requests in the engine */
    blkif_request_t *reqs;             /* copies taken in one pass */
    struct blkback_pending *pend;      /* context of ring position i: i % n */
    struct blkback_seg *segs;          /* nr_ents * max_segs segments */
    void **pages;                      /* nr_ents * max_segs mapped pages */
    uint8_t *kinds;                    /* nr_ents * max_segs mapping kinds */
    struct blkback_range *ranges;      /* nr_ents + 2 batch ranges */
    uint32_t *range_free;              /* stack of free ranges */
    uint32_t nr_range_free;            /* entries on it */
    uint32_t open[2];                  /* range being filled: [writable] */
    grant_ref_t *batch[2];             /* its refs, BLKBACK_MAP_BATCH each */
    uint32_t *pass;                    /* contexts dispatched in this pass */
    uint32_t npass;                    /* entries in pass */
    struct iovec *iov;                 /* max_segs scratch iovecs */
    struct blkif_request_segment *ind; /* copy of indirect segments */
    struct blkback_io_done *done;      /* nr_ents completions */
    uint64_t now_ms;                   /* clock of this pass (grant LRU) */
    struct blkback_queue_stats st;     /* counters */
    unsigned peer_sleeps;    /* last pushes that notified, in a row (capped) */
    uint64_t spin_ns;        /* busy-poll window now (adaptive, <= poll_us) */
    unsigned spins;          /* busy-poll looks, to time one in a stride */
    unsigned sleeps;         /* sleeps while the window was shut */
    struct blkback_copy *cp; /* copy mode's state (copy.c), else NULL */
};

int blkback_queue_open(struct blkback_queue *q, struct blkback_dev *dev,
                       unsigned index, unsigned nr_queues,
                       const struct blkback_queue_cfg *cfg, bool adopt);
void blkback_queue_close(struct blkback_queue *q);
int blkback_queue_pass(struct blkback_queue *q, bool wait);
int blkback_queue_run(struct blkback_queue *q, int stop_fd);
void blkback_queue_drain(struct blkback_queue *q);
/* For copy.c: decide a request's response; refuse one (logged). */
void blkback_queue_complete(struct blkback_pending *p, int16_t status);
void blkback_queue_refuse(struct blkback_queue *q, struct blkback_pending *p,
                          int16_t status, const char *why);
/* For copy.c too: a persistent grant's page, and its release. */
void *blkback_queue_pg_get(struct blkback_queue *q, grant_ref_t gref,
                           uint8_t *kind);
void blkback_queue_pg_put(struct blkback_queue *q, grant_ref_t gref, void *addr,
                          uint8_t kind);

/* ------------------------------------------------------------------ copy.c */

/* Pool pages per ring slot: a direct request's most segments. */
#define BLKBACK_COPY_PAGES_PER_ENT BLKIF_MAX_SEGMENTS_PER_REQUEST
/* Most pages in one queue's pool (16 MiB): bounds a large ring's memory. */
#define BLKBACK_COPY_POOL_MAX 4096u

/* Page-aligned buffers of one queue, allocated once: not thread-safe. */
struct blkback_copy_pool {
    uint8_t *base;    /* npages pages, mapped and populated at init */
    uint32_t npages;  /* pages in the pool */
    uint64_t *used;   /* bitmap: page i handed out */
    uint32_t nr_free; /* pages not handed out */
    uint32_t hint;    /* where the next search for a run starts */
};

uint32_t blkback_copy_pool_size(uint32_t nr_ents, uint32_t max_segs);
int blkback_copy_pool_init(struct blkback_copy_pool *pool, uint32_t npages);
void blkback_copy_pool_destroy(struct blkback_copy_pool *pool);
bool blkback_copy_pool_get(struct blkback_copy_pool *pool, void **pages,
                           unsigned n);
void blkback_copy_pool_put(struct blkback_copy_pool *pool, void *const *pages,
                           unsigned n);

/* Copy mode's state of one queue (blkback_queue.cp). */
struct blkback_copy {
    struct blkback_copy_pool pool;     /* the data buffers */
    struct plat_gntcopy_seg *segs;     /* a batch: max_batch segments */
    uint32_t max_batch;                /* pool pages, or indirect pages */
    uint32_t *wait;                    /* FIFO of contexts, nr_ents slots */
    uint32_t wait_head, wait_tail;     /* free-running FIFO indexes */
    struct blkif_request_segment *raw; /* indirect segments fetched:
                                          max_segs per context */
    struct iovec *iov;                 /* max_segs scratch iovecs */
    struct plat_gntcopy_seg *rest;     /* the batch's segments left to
                                          grant copy (persistent grants) */
    uint32_t *rest_of;                 /* their indexes in segs */
};

int blkback_copy_open(struct blkback_queue *q);
void blkback_copy_close(struct blkback_queue *q);
void blkback_copy_dispatch(struct blkback_queue *q, unsigned n, uint32_t first);
void blkback_copy_start(struct blkback_queue *q);
int blkback_copy_reap(struct blkback_queue *q, bool wait);

/* -------------------------------------------------------------------- xs.c */

/* The toolstack's keys in the backend directory. */
struct blkback_be_cfg {
    char *params;         /* file or block device (malloc'd) */
    bool readonly;        /* mode = r */
    bool cdrom;           /* device-type = cdrom */
    bool discard;         /* discard-enable (absent: 1) */
    bool buffered;        /* drvdom-buffered-io: page cache allowed */
    bool secure_discard;  /* drvdom-secure-discard: BLKSECDISCARD works */
    uint32_t sector_size; /* drvdom-sector-size, 0: the store's */
    uint32_t physical_sector_size; /* drvdom-physical-sector-size, 0 */
    bool persistent; /* feature-persistent as offered (absent: 1) */
};

/* The frontend's keys. */
struct blkback_fe_cfg {
    unsigned nr_queues; /* multi-queue-num-queues (absent: 1) */
    bool persistent;    /* feature-persistent */
    struct blkback_queue_cfg queues[BLKBACK_MAX_QUEUES]; /* per queue */
};

unsigned blkback_xs_max_queues(void);
void blkback_xs_print_features(FILE *out);
int blkback_xs_read_backend(struct xs_handle *xs, const char *dir,
                            struct blkback_be_cfg *cfg, char *msg, size_t len);
void blkback_xs_backend_free(struct blkback_be_cfg *cfg);
int blkback_xs_read_frontend(struct xs_handle *xs, const char *dir,
                             struct blkback_fe_cfg *cfg, char *msg, size_t len);
int blkback_xs_write_device(struct xs_handle *xs, const char *dir,
                            const struct blkback_dev *dev,
                            const struct blkback_io *io, bool cdrom);

#endif /* DRVDOM_BLKBACK_INTERNAL_H */
