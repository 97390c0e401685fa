/*
 * blkfront ring.c: the data path of the userspace blkfront. Builds blkif
 * requests (direct, indirect, flush, discard) in the slots' granted pages,
 * puts them on the queue's ring, and checks every response the backend
 * returns (id in range and on the ring, answered once, operation echoed).
 * No platform calls except through bf->notify/bf->drain, no xenstore, no
 * allocation after blkfront_queue_init().
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/blk/blkfront-internal.h"

/* Responses copied out of a ring per ringbuf_front_take call. */
#define BLKFRONT_TAKE_BATCH 64u
/* Largest discard per request (len is 32-bit): 1 GiB. */
#define BLKFRONT_MAX_DISCARD (1u << 30)

int blkfront_queue_init(struct blkfront_queue *q, unsigned int index,
                        void *sring, unsigned int order, unsigned int depth,
                        unsigned int max_segs)
{
    unsigned int i;
    int ret, size;

    size = ringbuf_ring_size(order, sizeof(blkif_request_t),
                             sizeof(blkif_response_t));
    if (size < 0)
        return size;
    if (!depth || depth > (unsigned int)size || !max_segs ||
        max_segs > BLKFRONT_MAX_SEGS)
        return -EINVAL;
    q->index = index;
    q->sring = sring;
    q->order = order;
    q->depth = depth;
    ret = ringbuf_front_init(&q->rf, sring, order, sizeof(blkif_request_t),
                             sizeof(blkif_response_t));
    if (ret)
        return ret;
    q->slots = calloc(depth, sizeof(*q->slots));
    q->local = calloc(depth, sizeof(*q->local));
    q->refs_store = calloc((size_t)depth * max_segs, sizeof(grant_ref_t));
    if (!q->slots || !q->local || !q->refs_store)
        goto err_free;
    ret = ringbuf_ids_init(&q->ids, depth);
    if (ret)
        goto err_free;
    for (i = 0; i < depth; i++) {
        q->slots[i].refs = q->refs_store + (size_t)i * max_segs;
        q->slots[i].req.queue = index;
    }
    return 0;

err_free:
    blkfront_queue_fini(q);
    return ret ? ret : -ENOMEM;
}

void blkfront_queue_fini(struct blkfront_queue *q)
{
    ringbuf_ids_fini(&q->ids);
    free(q->slots);
    q->slots = NULL;
    free(q->local);
    q->local = NULL;
    free(q->refs_store);
    q->refs_store = NULL;
}

void blkfront_fail(struct blkfront *bf, const char *why, uint64_t id)
{
    if (!bf->failed)
        fprintf(stderr, "%s: backend broke the protocol: %s (id %llu)\n",
                bf->name, why, (unsigned long long)id);
    bf->failed = -EPROTO;
}

const struct blkfront_info *blkfront_info(const struct blkfront *bf)
{
    return &bf->info;
}

const char *blkfront_name(const struct blkfront *bf)
{
    return bf->name;
}

int blkfront_fd(const struct blkfront *bf)
{
    return bf->fd;
}

struct blkfront_req *blkfront_req_get(struct blkfront *bf, unsigned int q)
{
    struct blkfront_slot *s;
    int id;

    if (q >= bf->info.queues)
        return NULL;
    id = ringbuf_ids_get(&bf->q[q].ids);
    if (id < 0)
        return NULL;
    s = &bf->q[q].slots[id];
    s->state = BLKFRONT_SLOT_HELD;
    s->req.status = 0;
    return &s->req;
}

void blkfront_req_put(struct blkfront *bf, struct blkfront_req *r)
{
    struct blkfront_queue *q = &bf->q[r->queue];
    struct blkfront_slot *s = (struct blkfront_slot *)r;

    /* A slot still on the ring (the device failed) stays owned by it. */
    if (s->state != BLKFRONT_SLOT_HELD && s->state != BLKFRONT_SLOT_DONE)
        return;
    s->state = BLKFRONT_SLOT_FREE;
    ringbuf_ids_put(&q->ids, (uint64_t)(s - q->slots));
}

/* Checks a request against the disk: 0, -EINVAL, -EROFS, -EOPNOTSUPP. */
static int blkfront_check(const struct blkfront *bf,
                          const struct blkfront_req *r)
{
    const struct blkfront_info *in = &bf->info;
    bool ro = in->readonly && !bf->ignore_ro;

    switch (r->op) {
    case BLKFRONT_OP_READ:
    case BLKFRONT_OP_WRITE:
        if (r->len > in->max_io)
            return -EINVAL;
        if (r->op == BLKFRONT_OP_WRITE && ro)
            return -EROFS;
        break;
    case BLKFRONT_OP_FLUSH:
        return ro ? -EROFS : 0;
    case BLKFRONT_OP_DISCARD:
        if (!in->discard)
            return -EOPNOTSUPP;
        if (ro)
            return -EROFS;
        break;
    default:
        return -EINVAL;
    }
    if (!r->len || r->len % in->sector_size || r->offset % in->sector_size)
        return -EINVAL;
    if (r->len > in->size || r->offset > in->size - r->len)
        return -EINVAL;
    return 0;
}

/* Fills the segments of a read/write: whole pages, a partial last one. */
static unsigned int blkfront_segs(const struct blkfront_slot *s,
                                  struct blkif_request_segment *seg)
{
    unsigned int n = 0;
    uint32_t left = s->req.len, bytes;

    while (left) {
        bytes = left < BLKFRONT_PAGE_SIZE ? left : BLKFRONT_PAGE_SIZE;
        seg[n].gref = s->refs[n];
        seg[n].first_sect = 0;
        seg[n].last_sect = (uint8_t)((bytes >> BLKFRONT_SECTOR_SHIFT) - 1);
        left -= bytes;
        n++;
    }
    return n;
}

/* The ring entry of a read or write, direct or indirect. */
static void blkfront_build_rw(struct blkfront *bf, struct blkfront_slot *s,
                              uint64_t id, blkif_request_t *rq)
{
    struct blkif_request_indirect *ir = (struct blkif_request_indirect *)rq;
    uint8_t op = s->req.op == BLKFRONT_OP_READ ? BLKIF_OP_READ : BLKIF_OP_WRITE;
    uint32_t pages = (s->req.len + BLKFRONT_PAGE_SIZE - 1) / BLKFRONT_PAGE_SIZE;

    if (pages <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        rq->operation = op;
        rq->nr_segments = (uint8_t)blkfront_segs(s, rq->seg);
        rq->handle = (blkif_vdev_t)bf->devid;
        rq->id = id;
        rq->sector_number = s->req.offset >> BLKFRONT_SECTOR_SHIFT;
        s->op = op;
        return;
    }
    /* The segment list goes to the granted indirect page. */
    ir->operation = BLKIF_OP_INDIRECT;
    ir->indirect_op = op;
    ir->nr_segments = (uint16_t)blkfront_segs(s, s->ind);
    ir->id = id;
    ir->sector_number = s->req.offset >> BLKFRONT_SECTOR_SHIFT;
    ir->handle = (blkif_vdev_t)bf->devid;
    ir->indirect_grefs[0] = s->ind_ref;
    s->op = BLKIF_OP_INDIRECT;
    s->ind_op = op;
}

int blkfront_submit(struct blkfront *bf, struct blkfront_req *r)
{
    struct blkfront_queue *q = &bf->q[r->queue];
    struct blkfront_slot *s = (struct blkfront_slot *)r;
    uint64_t id = (uint64_t)(s - q->slots);
    union {
        blkif_request_t rw;
        struct blkif_request_discard d;
    } rq;
    int ret;

    if (bf->failed)
        return bf->failed;
    if (s->state != BLKFRONT_SLOT_HELD)
        return -EINVAL;
    ret = blkfront_check(bf, r);
    if (ret)
        return ret;
    memset(&rq, 0, sizeof(rq));
    if (r->op == BLKFRONT_OP_FLUSH && !bf->info.flush) {
        /* No volatile cache: completed writes are already durable. */
        s->state = BLKFRONT_SLOT_LOCAL;
        q->local[q->nr_local++] = (uint32_t)id;
        q->inflight++;
        return 0;
    }
    if (r->op == BLKFRONT_OP_FLUSH) {
        rq.rw.operation = BLKIF_OP_FLUSH_DISKCACHE;
        rq.rw.handle = (blkif_vdev_t)bf->devid;
        rq.rw.id = id;
        s->op = BLKIF_OP_FLUSH_DISKCACHE;
    } else if (r->op == BLKFRONT_OP_DISCARD) {
        rq.d.operation = BLKIF_OP_DISCARD;
        rq.d.handle = (blkif_vdev_t)bf->devid;
        rq.d.id = id;
        rq.d.sector_number = r->offset >> BLKFRONT_SECTOR_SHIFT;
        rq.d.nr_sectors = r->len >> BLKFRONT_SECTOR_SHIFT;
        s->op = BLKIF_OP_DISCARD;
    } else {
        blkfront_build_rw(bf, s, id, &rq.rw);
    }
    ret = ringbuf_front_put(&q->rf, &rq);
    if (ret) /* cannot happen: depth <= RING_SIZE; a broken ring is -EPROTO */
        return ret == -EPROTO ? (bf->failed = -EPROTO) : ret;
    s->state = BLKFRONT_SLOT_RING;
    q->inflight++;
    q->dirty = true;
    return 0;
}

void blkfront_kick(struct blkfront *bf)
{
    bool pushed = false, notified = false;
    unsigned int i;

    for (i = 0; i < bf->info.queues; i++) {
        if (!bf->q[i].dirty)
            continue;
        bf->q[i].dirty = false;
        pushed = true;
        if (ringbuf_front_push(&bf->q[i].rf) && bf->notify) {
            bf->notify(bf, &bf->q[i]);
            notified = true;
        }
    }
    if (pushed && !notified)
        bf->be_awake = BLKFRONT_BACKOFF;
}

unsigned int blkfront_inflight(const struct blkfront *bf)
{
    unsigned int i, n = 0;

    for (i = 0; i < bf->info.queues; i++)
        n += bf->q[i].inflight;
    return n;
}

/* Checks one response and completes its slot; -EPROTO for a bad one. */
static int blkfront_complete(struct blkfront *bf, struct blkfront_queue *q,
                             const blkif_response_t *rsp,
                             struct blkfront_req **done)
{
    struct blkfront_slot *s;

    if (rsp->id >= q->depth) {
        blkfront_fail(bf, "response id out of range", rsp->id);
        return -EPROTO;
    }
    s = &q->slots[rsp->id];
    if (s->state != BLKFRONT_SLOT_RING) {
        blkfront_fail(bf, "response to no outstanding request", rsp->id);
        return -EPROTO;
    }
    if (rsp->operation != s->op &&
        !(s->op == BLKIF_OP_INDIRECT && rsp->operation == s->ind_op)) {
        char why[64];

        snprintf(why, sizeof(why), "response operation %u, request's %u",
                 rsp->operation,
                 s->op == BLKIF_OP_INDIRECT ? s->ind_op : s->op);
        blkfront_fail(bf, why, rsp->id);
        return -EPROTO;
    }
    if (rsp->status == BLKIF_RSP_OKAY)
        s->req.status = 0;
    else if (rsp->status == BLKIF_RSP_EOPNOTSUPP)
        s->req.status = -EOPNOTSUPP;
    else
        s->req.status = -EIO;
    s->state = BLKFRONT_SLOT_DONE;
    q->inflight--;
    *done = &s->req;
    return 0;
}

/*
 * Collects up to max completions of one queue; count or -EPROTO. With arm,
 * an empty ring re-arms rsp_event so that the next response notifies us;
 * without (while polling), the backend is not asked to notify.
 */
static int blkfront_reap_queue(struct blkfront *bf, struct blkfront_queue *q,
                               struct blkfront_req **done, unsigned int max,
                               bool arm)
{
    blkif_response_t rsp[BLKFRONT_TAKE_BATCH];
    unsigned int got = 0, want;
    int n, i;

    while (q->nr_local && got < max) {
        struct blkfront_slot *s = &q->slots[q->local[--q->nr_local]];

        s->state = BLKFRONT_SLOT_DONE;
        q->inflight--;
        done[got++] = &s->req;
    }
    while (got < max) {
        want =
            max - got < BLKFRONT_TAKE_BATCH ? max - got : BLKFRONT_TAKE_BATCH;
        n = ringbuf_front_take(&q->rf, rsp, want);
        if (n == 0 && !arm)
            break;
        if (n == 0) {
            /* Re-arm rsp_event; > 0: more arrived meanwhile, take them. */
            n = ringbuf_front_final_check(&q->rf);
            if (n == 0)
                break;
            if (n > 0)
                continue;
        }
        if (n < 0) {
            blkfront_fail(bf, "ring indexes", 0);
            return -EPROTO;
        }
        for (i = 0; i < n; i++)
            if (blkfront_complete(bf, q, &rsp[i], &done[got++]))
                return -EPROTO;
    }
    return (int)got;
}

/* Collects from every queue (see blkfront_reap_queue); count or -EPROTO. */
static int blkfront_collect(struct blkfront *bf, struct blkfront_req **done,
                            unsigned int max, bool arm)
{
    unsigned int i, got = 0;
    int n;

    for (i = 0; i < bf->info.queues && got < max; i++) {
        n = blkfront_reap_queue(bf, &bf->q[i], done + got, max - got, arm);
        if (n < 0)
            return n;
        got += (unsigned int)n;
    }
    return (int)got;
}

int blkfront_reap(struct blkfront *bf, struct blkfront_req **done,
                  unsigned int max)
{
    if (bf->failed)
        return bf->failed;
    blkfront_kick(bf);
    if (bf->drain)
        bf->drain(bf);
    return blkfront_collect(bf, done, max, true);
}

static uint64_t blkfront_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Whether this wait may spin. Two pollers on a small host take the CPU the
 * I/O itself needs, and a polling backend saves two wake-ups per request
 * (its own and its completion's) where our poll saves one: so once a kick
 * needed no notification (the backend is awake: polling or busy) we sleep
 * and leave the polling to it until BLKFRONT_BACKOFF waits in a row found
 * it asleep. A backend that polls only while its frontend sleeps
 * (drvdom-blkback) never starts while we spin: after every
 * BLKFRONT_PROBE_EVERY spinning waits, BLKFRONT_PROBE_LEN waits sleep to
 * give it the chance.
 */
static bool blkfront_may_spin(struct blkfront *bf)
{
    if (bf->be_awake) {
        bf->be_awake--;
        return false;
    }
    bf->probe = (bf->probe + 1) % (BLKFRONT_PROBE_EVERY + BLKFRONT_PROBE_LEN);
    return bf->probe < BLKFRONT_PROBE_EVERY;
}

/*
 * The adaptive poll: while requests are outstanding, spin on the response
 * rings for up to poll_ns before sleeping (no notification asked of the
 * backend). Count or -EPROTO; 0 when nothing came.
 */
static int blkfront_spin(struct blkfront *bf, struct blkfront_req **done,
                         unsigned int max)
{
    uint64_t end;
    int n;

    n = blkfront_collect(bf, done, max, false);
    if (n != 0 || !bf->poll_ns || !blkfront_inflight(bf) ||
        !blkfront_may_spin(bf))
        return n;
    end = blkfront_now_ns() + bf->poll_ns;
    do {
        /* Polite: a backend or I/O worker waiting for this CPU runs first
         * (on a small or overcommitted host, spinning against them would
         * delay the very response we wait for). */
        sched_yield();
        n = blkfront_collect(bf, done, max, false);
    } while (n == 0 && blkfront_now_ns() < end);
    return n;
}

/*
 * After sleeping slept_ns for a response (KVM's halt-polling rule): a wake-up
 * within the bound means a longer spin would have caught it (double the
 * window, up to the bound); a longer sleep means spinning is wasted on this
 * device (halve it). An idle device never spins: only outstanding requests
 * are waited for.
 */
static void blkfront_adapt(struct blkfront *bf, uint64_t slept_ns)
{
    if (!bf->poll_max_ns)
        return;
    if (slept_ns > bf->poll_max_ns)
        bf->poll_ns /= 2;
    else if (bf->poll_ns < BLKFRONT_POLL_START_NS)
        bf->poll_ns = BLKFRONT_POLL_START_NS;
    else
        bf->poll_ns *= 2;
    if (bf->poll_ns > bf->poll_max_ns)
        bf->poll_ns = bf->poll_max_ns;
}

int blkfront_wait(struct blkfront *bf, struct blkfront_req **done,
                  unsigned int max, int timeout_ms)
{
    struct pollfd pfd = {.fd = bf->fd, .events = POLLIN};
    uint64_t t0;
    int n;

    if (bf->failed)
        return bf->failed;
    blkfront_kick(bf);
    n = blkfront_spin(bf, done, max);
    if (n != 0)
        return n;
    for (;;) {
        /* Re-armed before sleeping: a later response notifies. */
        n = blkfront_collect(bf, done, max, true);
        if (n != 0 || !blkfront_inflight(bf))
            return n;
        t0 = blkfront_now_ns();
        n = poll(&pfd, 1, timeout_ms);
        blkfront_adapt(bf, blkfront_now_ns() - t0);
        if (n == 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
        /* Consumed only once they fired: no system call when none did. */
        if (n > 0 && bf->drain)
            bf->drain(bf);
    }
}

/* Chunk of a synchronous operation starting pos bytes in. */
static uint32_t blkfront_chunk(const struct blkfront *bf, enum blkfront_op op,
                               uint64_t left)
{
    uint64_t max =
        op == BLKFRONT_OP_DISCARD ? BLKFRONT_MAX_DISCARD : bf->info.max_io;

    return (uint32_t)(left < max ? left : max);
}

/* Submits chunks of [offset, offset+len) while slots are free. */
static int blkfront_sync_fill(struct blkfront *bf, enum blkfront_op op,
                              const uint8_t *src, uint64_t len, uint64_t offset,
                              uint64_t *pos)
{
    struct blkfront_req *r;
    int ret;

    while (*pos < len || (op == BLKFRONT_OP_FLUSH && *pos == 0)) {
        r = blkfront_req_get(bf, 0);
        if (!r)
            return 0;
        r->op = op;
        r->offset = offset + *pos;
        r->len = blkfront_chunk(bf, op, len - *pos);
        r->arg = (void *)(uintptr_t)*pos;
        if (op == BLKFRONT_OP_WRITE)
            memcpy(r->buf, src + *pos, r->len);
        ret = blkfront_submit(bf, r);
        if (ret) {
            blkfront_req_put(bf, r);
            return ret;
        }
        *pos += op == BLKFRONT_OP_FLUSH ? 1 : r->len;
    }
    return 0;
}

/* Runs one synchronous operation on queue 0. */
static int blkfront_sync(struct blkfront *bf, enum blkfront_op op, void *dst,
                         const void *src, uint64_t len, uint64_t offset)
{
    struct blkfront_req *done[BLKFRONT_TAKE_BATCH];
    uint64_t pos = 0;
    int err = 0, n, i;

    if (bf->failed)
        return bf->failed;
    if (blkfront_inflight(bf))
        return -EBUSY;
    if (op == BLKFRONT_OP_FLUSH)
        len = 1;
    do {
        if (!err)
            err = blkfront_sync_fill(bf, op, src, len, offset, &pos);
        if (err && !blkfront_inflight(bf))
            break;
        n = blkfront_wait(bf, done, BLKFRONT_TAKE_BATCH, bf->timeout_ms);
        if (n < 0)
            return n;
        if (n == 0 && blkfront_inflight(bf))
            return -ETIMEDOUT; /* the slots stay with the ring */
        for (i = 0; i < n; i++) {
            if (!done[i]->status && op == BLKFRONT_OP_READ)
                memcpy((uint8_t *)dst + (uintptr_t)done[i]->arg, done[i]->buf,
                       done[i]->len);
            if (done[i]->status && !err)
                err = done[i]->status;
            blkfront_req_put(bf, done[i]);
        }
    } while ((pos < len && !err) || blkfront_inflight(bf));
    return err;
}

int blkfront_pread(struct blkfront *bf, void *buf, uint64_t len,
                   uint64_t offset)
{
    return blkfront_sync(bf, BLKFRONT_OP_READ, buf, NULL, len, offset);
}

int blkfront_pwrite(struct blkfront *bf, const void *buf, uint64_t len,
                    uint64_t offset)
{
    return blkfront_sync(bf, BLKFRONT_OP_WRITE, NULL, buf, len, offset);
}

int blkfront_flush(struct blkfront *bf)
{
    return blkfront_sync(bf, BLKFRONT_OP_FLUSH, NULL, NULL, 0, 0);
}

int blkfront_discard(struct blkfront *bf, uint64_t len, uint64_t offset)
{
    return blkfront_sync(bf, BLKFRONT_OP_DISCARD, NULL, NULL, len, offset);
}
