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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <liburing.h>
#include <xen/xen.h>
#include <xen/io/blkif.h>

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
                            BLKSECDISCARD (not discoverable) */
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

/* The engine of one queue: not thread-safe, one per worker thread. */
struct blkback_io {
    int fd;                        /* the backing store */
    struct blkback_disk disk;      /* what open() found */
    struct io_uring ring;          /* submission and completion queues */
    bool ring_ready;               /* ring initialised */
    struct blkback_io_slot *slots; /* queue_depth slots */
    struct iovec *iovs;            /* max_segs iovecs per slot */
    uint32_t *free;                /* stack of free slot indexes */
    uint32_t nr_free;              /* entries on the free stack */
    uint32_t depth;                /* number of slots */
    uint32_t max_segs;             /* iovecs per slot */
    uint32_t barrier;              /* slot of the barrier in progress */
    uint32_t held_head, held_tail; /* slots held behind that barrier */
    unsigned unsubmitted;          /* SQEs prepared, not yet submitted */
    int efd;                       /* completion eventfd, or -1 */
    char msg[256];                 /* last error or notice, for humans */
};

#define BLKBACK_IO_NONE UINT32_MAX

/* A finished request. */
struct blkback_io_done {
    uint64_t tag; /* the tag given to blkback_io_queue() */
    int err;      /* 0, or -errno of the first failure */
};

int blkback_io_open(struct blkback_io *io, const char *path,
                    const struct blkback_io_opts *opts);
void blkback_io_close(struct blkback_io *io);
void blkback_io_geom(const struct blkback_io *io, struct blkback_geom *geom,
                     uint32_t max_indirect);
int blkback_io_queue(struct blkback_io *io, uint64_t tag,
                     const struct blkback_req *req, const struct iovec *iov,
                     unsigned niov);
int blkback_io_submit(struct blkback_io *io);
int blkback_io_reap(struct blkback_io *io, struct blkback_io_done *done,
                    unsigned max, bool wait);
int blkback_io_eventfd(struct blkback_io *io);

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

#endif /* DRVDOM_BLKBACK_INTERNAL_H */
