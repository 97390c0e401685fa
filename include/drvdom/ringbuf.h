/*
 * ringbuf: the shared-ring layer every drvdom backend and frontend uses.
 *
 * A generic implementation of the xen/io/ring.h protocol. Every ring made by
 * DEFINE_RING_TYPES (blkif, netif tx/rx, ...) has the same 64-byte shared
 * header (req_prod, req_event, rsp_prod, rsp_event, pvt, __pad) followed by
 * entries of max(sizeof req, sizeof rsp) bytes; RING_SIZE is the number of
 * entries that fit, rounded down to a power of two. A ring here is described
 * by (shared ring address, order, request size, response size), so one
 * implementation serves every protocol and interoperates with peers driven by
 * ring.h's own macros (Linux xen-blkfront, xen-netback, ...).
 *
 * The peer is untrusted. Both ends read the peer's producer index once, check
 * it against what the protocol allows and copy each entry out of shared
 * memory before the caller sees it; a violation makes the ring "broken": every
 * later call returns -EPROTO without touching a slot, and the caller
 * disconnects that one device.
 *
 * Notifications follow ring.h's event indexes: push returns true only when
 * the peer asked to be woken, and final_check re-arms our own event index and
 * closes the lost-wake-up window. The caller sends/receives the actual event
 * (event channel, eventfd). Nothing here allocates or blocks except
 * ringbuf_ids_init().
 *
 * Typical back end loop:
 *
 *     for (;;) {
 *         n = ringbuf_back_take(&r, reqs, ARRAY_SIZE(reqs));
 *         if (n < 0)
 *             disconnect();          // broken frontend
 *         for (i = 0; i < n; i++)
 *             ringbuf_back_put(&r, handle(&reqs[i]));   // or later
 *         if (ringbuf_back_push(&r))
 *             notify();
 *         if (n == 0 && ringbuf_back_final_check(&r) == 0)
 *             wait_for_event();
 *     }
 */
#ifndef DRVDOM_RINGBUF_H
#define DRVDOM_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ring pages are always 4 KiB, whatever the OS page size (XEN_PAGE_SIZE). */
#define RINGBUF_PAGE_SIZE 4096u
/* Largest ring-page-order accepted: 2^4 = 16 pages. */
#define RINGBUF_MAX_ORDER 4u
/* Bytes of shared header before the first entry (offsetof(sring, ring)). */
#define RINGBUF_HDR_SIZE 64u

/*
 * Back end (consumes requests, produces responses). Private state: nothing
 * here lives in shared memory except what sring/ents point to. Indexes are
 * RING_IDX values (free-running unsigned 32-bit counters).
 */
struct ringbuf_back {
    void *sring;           /* shared ring header (peer-writable memory) */
    uint8_t *ents;         /* first shared entry, RINGBUF_HDR_SIZE past sring */
    uint32_t req_cons;     /* next request to copy out (RING_IDX) */
    uint32_t rsp_prod_pvt; /* next response slot to fill (RING_IDX) */
    uint32_t rsp_pushed;   /* rsp_prod value we last published */
    uint32_t nr_ents;      /* RING_SIZE: entries, a power of two */
    uint32_t ent_size;     /* bytes per entry: max(req_size, rsp_size) */
    uint32_t req_size;     /* bytes of one request */
    uint32_t rsp_size;     /* bytes of one response */
    bool broken;           /* peer broke the protocol: ring unusable */
    void *jnl;             /* journal (ringbuf_back_journal) or NULL */
    uint32_t jnl_cons;     /* requests before this are in the journal */
};

/*
 * A back end's request journal: memory that outlives the back end process
 * (a file on tmpfs, a memfd), private to the back end (never shared with the
 * peer). It holds the copies of the requests taken but not yet answered by
 * a published response, in ring order, so that a restarted back end finds
 * them even after responses overwrote their ring slots (blkif and netif let
 * a response reuse the slot of a request still in flight, and a response is
 * written into its slot before rsp_prod publishes it). Layout: this header,
 * then nr_ents request copies of req_size bytes, the copy of request i at
 * i mod nr_ents.
 */
struct ringbuf_journal {
    uint32_t magic;    /* RINGBUF_JOURNAL_MAGIC once the rest is valid */
    uint32_t nr_ents;  /* RING_SIZE of the journalled ring */
    uint32_t req_size; /* bytes of one request copy */
    uint32_t req_cons; /* copies of every request before this are written */
    uint8_t pad[48];   /* the copies start 64 bytes in */
};

/* "RBJ1": a journal header that has been initialised. */
#define RINGBUF_JOURNAL_MAGIC 0x314a4252u

/* Front end (produces requests, consumes responses): the mirror image. */
struct ringbuf_front {
    void *sring;           /* shared ring header (peer-writable memory) */
    uint8_t *ents;         /* first shared entry, RINGBUF_HDR_SIZE past sring */
    uint32_t req_prod_pvt; /* next request slot to fill (RING_IDX) */
    uint32_t req_pushed;   /* req_prod value we last published */
    uint32_t rsp_cons;     /* next response to copy out (RING_IDX) */
    uint32_t nr_ents;      /* RING_SIZE: entries, a power of two */
    uint32_t ent_size;     /* bytes per entry: max(req_size, rsp_size) */
    uint32_t req_size;     /* bytes of one request */
    uint32_t rsp_size;     /* bytes of one response */
    bool broken;           /* peer broke the protocol: ring unusable */
};

/*
 * Request-id table for a front end: hands out ids 0..n-1 and checks that each
 * response id a (possibly hostile) back end returns is in range and pending,
 * exactly once. The caller keeps its per-request context in its own array
 * indexed by id.
 */
struct ringbuf_ids {
    uint32_t n;       /* ids 0..n-1 */
    uint32_t nr_free; /* entries used in free[] */
    uint32_t *free;   /* stack of free ids */
    uint8_t *pending; /* pending[id] != 0 while id is outstanding */
};

/* Pages in a ring of this ring-page-order (1..16), or -EINVAL if > 4. */
int ringbuf_order_pages(unsigned int order);

/*
 * RING_SIZE of a ring of this order and entry sizes, or -EINVAL for a bad
 * order or sizes that leave no room for an entry.
 */
int ringbuf_ring_size(unsigned int order, size_t req_size, size_t rsp_size);

/*
 * Back end over a fresh ring: indexes start at 0 (BACK_RING_INIT). sring is
 * the contiguous mapping of 2^order pages. 0 or -EINVAL.
 */
int ringbuf_back_init(struct ringbuf_back *r, void *sring, unsigned int order,
                      size_t req_size, size_t rsp_size);

/*
 * Back end adopting a ring already in use (a restarted backend): resumes at
 * req_cons = rsp_prod_pvt = sring->rsp_prod (BACK_RING_ATTACH). 0, -EINVAL,
 * or -EPROTO when the shared indexes are already inconsistent. The caller
 * then notifies the peer once: the previous back end may have published
 * responses and died before it notified, and a frontend waiting for that
 * event would wait for ever.
 */
int ringbuf_back_attach(struct ringbuf_back *r, void *sring, unsigned int order,
                        size_t req_size, size_t rsp_size);

/*
 * Bytes of a journal for a ring of this order and entry sizes, or 0 for a
 * bad geometry.
 */
size_t ringbuf_journal_size(unsigned int order, size_t req_size,
                            size_t rsp_size);

/*
 * Give a back end set up by ringbuf_back_init/attach a journal of at least
 * ringbuf_journal_size() bytes (zeroed memory, or a previous back end's
 * journal of this ring). From then on ringbuf_back_take() writes every
 * request into the journal before it hands the copy out and advances the
 * journal's req_cons only after the copies are written, and never takes a
 * request whose journal entry still holds an unpublished one.
 *
 * With adopt (after ringbuf_back_attach) a valid journal of the same
 * geometry supplies requests [rsp_prod, journal req_cons): the next takes
 * return them from the journal, not from their (possibly overwritten) ring
 * slots. Without adopt, or when the journal is not valid for this ring (new,
 * another geometry, an index the ring does not hold), it is reset and the
 * ring supplies everything. Returns the number of requests the journal
 * supplies (0 without adopt) or -EPROTO for a broken ring.
 */
int ringbuf_back_journal(struct ringbuf_back *r, void *journal, bool adopt);

/*
 * Copy up to max pending requests (req_size bytes each, contiguous) into reqs
 * and consume them. Takes no more requests than there are free response
 * slots. Returns the number copied (0: none pending) or -EPROTO for a broken
 * peer (producer index beyond RING_SIZE, wrapped back or behind).
 */
int ringbuf_back_take(struct ringbuf_back *r, void *reqs, unsigned int max);

/*
 * Queue one response (rsp_size bytes) in the next slot; not visible to the
 * peer until ringbuf_back_push(). 0, -ENOSPC if every consumed request already
 * has a response, -EPROTO if the ring is broken.
 */
int ringbuf_back_put(struct ringbuf_back *r, const void *rsp);

/*
 * Publish queued responses (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY). Returns
 * true when the peer asked to be notified about them.
 */
bool ringbuf_back_push(struct ringbuf_back *r);

/*
 * Before sleeping (RING_FINAL_CHECK_FOR_REQUESTS): >0 if requests are
 * pending (do not sleep), 0 if none (req_event re-armed: the next request
 * notifies us), -EPROTO if the ring is broken.
 */
int ringbuf_back_final_check(struct ringbuf_back *r);

/* Front end over a fresh ring: initialises the shared header. 0 or -EINVAL. */
int ringbuf_front_init(struct ringbuf_front *r, void *sring, unsigned int order,
                       size_t req_size, size_t rsp_size);

/* Free request slots (RING_FREE_REQUESTS). */
unsigned int ringbuf_front_free(const struct ringbuf_front *r);

/*
 * Queue one request (req_size bytes, copied in); not visible to the peer
 * until ringbuf_front_push(). 0, -ENOSPC if the ring is full, -EPROTO if
 * broken.
 */
int ringbuf_front_put(struct ringbuf_front *r, const void *req);

/*
 * Publish queued requests (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY). Returns true
 * when the peer asked to be notified about them.
 */
bool ringbuf_front_push(struct ringbuf_front *r);

/*
 * Copy up to max responses (rsp_size bytes each) into rsps and consume them.
 * Returns the number copied or -EPROTO when the back end produced more
 * responses than requests are outstanding.
 */
int ringbuf_front_take(struct ringbuf_front *r, void *rsps, unsigned int max);

/*
 * Before sleeping (RING_FINAL_CHECK_FOR_RESPONSES): >0 responses pending, 0
 * none (rsp_event re-armed), -EPROTO if broken.
 */
int ringbuf_front_final_check(struct ringbuf_front *r);

/* Table of ids 0..n-1, all free (1 <= n <= 65536). 0, -EINVAL, -ENOMEM. */
int ringbuf_ids_init(struct ringbuf_ids *ids, unsigned int n);

/* Release the table; idempotent. */
void ringbuf_ids_fini(struct ringbuf_ids *ids);

/* A free id, now pending, or -ENOSPC when all are outstanding. */
int ringbuf_ids_get(struct ringbuf_ids *ids);

/*
 * Complete an id a peer returned: 0, or -EPROTO if it is out of range or not
 * pending (never issued, or already completed).
 */
int ringbuf_ids_put(struct ringbuf_ids *ids, uint64_t id);

#endif /* DRVDOM_RINGBUF_H */
