/*
 * blkfront-internal.h - private structures of the userspace blkfront.
 *
 *   ring.c  request building, response checking, submit/reap and the
 *           synchronous helpers; no platform and no xenstore, so that the
 *           unit tests drive it against a backend played over ringbuf.
 *   xs.c    connect/close: xenbus negotiation, grant sharing, event
 *           channels (the platform seam).
 */
#ifndef DRVDOM_BLKFRONT_INTERNAL_H
#define DRVDOM_BLKFRONT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/blkif.h>
#include <xenstore.h>

#include "drvdom/blkfront.h"
#include "drvdom/platform.h"
#include "drvdom/ringbuf.h"
#include "drvdom/xsg.h"

/* Granted pages are Xen pages, 4 KiB. */
#define BLKFRONT_PAGE_SIZE 4096u
/* blkif counts 512-byte sectors in every request field. */
#define BLKFRONT_SECTOR_SHIFT 9
/* Segments one indirect page holds (Linux SEGS_PER_INDIRECT_FRAME). */
#define BLKFRONT_SEGS_PER_IND \
    (BLKFRONT_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* Most segments of a request (1 MiB): one indirect page. */
#define BLKFRONT_MAX_SEGS (BLKFRONT_MAX_IO / BLKFRONT_PAGE_SIZE)

/* First spin window when the adaptive poll grows from nothing: 2 us. */
#define BLKFRONT_POLL_START_NS 2000u

/* The adaptive poll's deference to a polling backend (blkfront_may_spin):
 * waits that sleep after a kick found the backend awake, and the probe for
 * a backend that polls only while we sleep: after this many spinning
 * waits, this many sleeping ones. */
#define BLKFRONT_BACKOFF     64u
#define BLKFRONT_PROBE_EVERY 64u
#define BLKFRONT_PROBE_LEN   8u

/* Where a slot is in its life. */
enum blkfront_slot_state {
    BLKFRONT_SLOT_FREE = 0, /* on the id table's free list */
    BLKFRONT_SLOT_HELD,     /* got by the caller, not submitted */
    BLKFRONT_SLOT_RING,     /* on the ring, awaiting its response */
    BLKFRONT_SLOT_LOCAL,    /* completed without the ring (no-op flush) */
    BLKFRONT_SLOT_DONE,     /* reaped, back with the caller */
};

/* One request slot; req comes first so a blkfront_req * is a slot *. */
struct blkfront_slot {
    struct blkfront_req req;           /* the caller's view */
    enum blkfront_slot_state state;    /* life cycle */
    uint8_t op;                        /* BLKIF_OP_* put on the ring */
    uint8_t ind_op;                    /* indirect_op when op is INDIRECT */
    grant_ref_t *refs;                 /* one ref per page of req.buf */
    struct blkif_request_segment *ind; /* granted indirect page, or NULL */
    grant_ref_t ind_ref;               /* its ref */
    void *share;                       /* start of the slot's shared pages */
    unsigned int share_pages;          /* how many were shared */
};

/* One ring and its slots. */
struct blkfront_queue {
    unsigned int index;          /* queue number */
    struct ringbuf_front rf;     /* the ring */
    struct ringbuf_ids ids;      /* slot allocator: id == slot index */
    struct blkfront_slot *slots; /* depth slots */
    unsigned int depth;          /* slots */
    unsigned int inflight;       /* slots in RING or LOCAL state */
    uint32_t *local;             /* ids completed without the ring */
    unsigned int nr_local;       /* entries in local */
    bool dirty;                  /* requests put but not pushed */
    void *sring;                 /* shared ring pages */
    unsigned int order;          /* ring-page-order */
    grant_ref_t ring_refs[XSG_MAX_RING_PAGES]; /* their refs */
    evtchn_port_t port;                        /* our unbound port, 0 if none */
    grant_ref_t *refs_store; /* backing of every slot's refs */
};

struct blkfront {
    struct blkfront_info info; /* agreed geometry and features */
    struct blkfront_queue q[BLKFRONT_MAX_QUEUES]; /* info.queues used */
    int failed;            /* 0, or -EPROTO once the backend broke */
    unsigned int devid;    /* virtual device: the requests' handle */
    bool ignore_ro;        /* opts.ignore_readonly */
    int timeout_ms;        /* for xenbus steps and sync helpers */
    uint64_t poll_max_ns;  /* adaptive poll bound, 0: never spin */
    uint64_t poll_ns;      /* current spin window, <= poll_max_ns */
    unsigned int be_awake; /* waits to sleep: a kick found the backend up */
    unsigned int probe;    /* waits into the probe cycle */
    /* platform seam: xs.c sets these, the unit tests their own */
    void (*notify)(struct blkfront *bf, struct blkfront_queue *q);
    void (*drain)(struct blkfront *bf); /* consume pending events */
    int fd;                             /* pollable for responses, or -1 */
    /* xs.c state */
    struct xs_handle *xs;   /* xenstore connection */
    struct plat_gntshr *gs; /* sharing handle */
    struct plat_evtchn *ec; /* event channels */
    struct xsg_front f;     /* the xenbus device */
    bool f_open;            /* f is open */
    bool be_watched;        /* watching the backend's state */
    bool be_closing;        /* the backend left Connected */
    domid_t self;           /* our domid */
    char name[64];          /* for log lines */
};

/*
 * Allocates queue q's slots and id table (depth slots of max_segs pages,
 * indirect when max_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST) over the ring at
 * sring; the caller then sets every slot's req.buf, refs, ind and ind_ref.
 */
int blkfront_queue_init(struct blkfront_queue *q, unsigned int index,
                        void *sring, unsigned int order, unsigned int depth,
                        unsigned int max_segs);

/* Frees what blkfront_queue_init allocated; idempotent. */
void blkfront_queue_fini(struct blkfront_queue *q);

/* Fails the device: every later call returns -EPROTO. */
void blkfront_fail(struct blkfront *bf, const char *why, uint64_t id);

#endif /* DRVDOM_BLKFRONT_INTERNAL_H */
