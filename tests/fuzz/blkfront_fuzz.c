/*
 * blkfront_fuzz.c - libFuzzer target: a hostile backend against the
 * userspace blkfront's data path (frontend/blk/ring.c). One queue over
 * plain memory; the input is a script in which the frontend submits and
 * reaps requests of every kind while the backend answers them honestly,
 * answers with any id, operation and status, moves its producer index
 * anywhere or writes any byte of the ring page. Beyond memory errors
 * (ASan, UBSan) it checks that a reap hands back only requests that were
 * submitted and not yet handed back, each once, never more than asked;
 * and that once the device failed every reap says so.
 *
 * Script: records of [op:1][arg:4 LE], see fz_step().
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/blk/blkfront-internal.h"

#define FZ_DISK  (4u * 1024u * 1024u)
#define FZ_DEPTH 8u
#define FZ_SEGS  32u /* 128 KiB requests: indirect above 11 pages */
#define FZ_ORDER 0u
#define FZ_SLOT  ((FZ_SEGS + 1u) * BLKFRONT_PAGE_SIZE)

struct fz {
    struct blkfront bf;
    struct ringbuf_back rb; /* the backend's honest view of the ring */
    uint8_t *ring;          /* the shared page */
    uint8_t *pool;          /* slot pages */
    bool out[FZ_DEPTH];     /* slot submitted and not yet reaped */
};

static struct fz z;

static void fz_check(bool ok)
{
    if (!ok)
        abort();
}

static void fz_notify(struct blkfront *bf, struct blkfront_queue *q)
{
    (void)bf;
    (void)q;
}

static void fz_drain(struct blkfront *bf)
{
    (void)bf;
}

static int fz_setup(void)
{
    struct blkfront_slot *s;
    unsigned int i, k;

    memset(&z.bf, 0, sizeof(z.bf));
    memset(z.out, 0, sizeof(z.out));
    z.bf.fd = -1;
    z.bf.timeout_ms = 0;
    z.bf.notify = fz_notify;
    z.bf.drain = fz_drain;
    strcpy(z.bf.name, "vbd/fuzz");
    z.bf.info = (struct blkfront_info){.size = FZ_DISK,
                                       .sector_size = 512,
                                       .physical_sector_size = 512,
                                       .flush = true,
                                       .discard = true,
                                       .queues = 1,
                                       .ring_order = FZ_ORDER,
                                       .depth = FZ_DEPTH,
                                       .max_io = FZ_SEGS * BLKFRONT_PAGE_SIZE,
                                       .max_indirect = FZ_SEGS};
    memset(z.ring, 0, BLKFRONT_PAGE_SIZE);
    if (blkfront_queue_init(&z.bf.q[0], 0, z.ring, FZ_ORDER, FZ_DEPTH,
                            FZ_SEGS) != 0 ||
        ringbuf_back_init(&z.rb, z.ring, FZ_ORDER, sizeof(blkif_request_t),
                          sizeof(blkif_response_t)) != 0)
        return -1;
    for (i = 0; i < FZ_DEPTH; i++) {
        s = &z.bf.q[0].slots[i];
        s->req.buf = z.pool + (size_t)FZ_SLOT * i;
        for (k = 0; k < FZ_SEGS; k++)
            s->refs[k] = 100u * i + k;
        s->ind = (void *)(z.pool + (size_t)FZ_SLOT * i +
                          (size_t)FZ_SEGS * BLKFRONT_PAGE_SIZE);
        s->ind_ref = 100u * i + FZ_SEGS;
    }
    return 0;
}

/* The slot a request handed back is, or -1 if it is none of ours. */
static int fz_slot(const struct blkfront_req *r)
{
    unsigned int i;

    for (i = 0; i < FZ_DEPTH; i++)
        if (r == &z.bf.q[0].slots[i].req)
            return (int)i;
    return -1;
}

static void fz_submit(uint32_t arg)
{
    struct blkfront_req *r = blkfront_req_get(&z.bf, 0);
    int slot, ret;

    if (r == NULL)
        return;
    slot = fz_slot(r);
    fz_check(slot >= 0 && !z.out[slot]);
    r->op = (enum blkfront_op)(arg % 4);
    r->offset = (uint64_t)(arg >> 2 & 0x3fff) * 512;
    r->len = ((arg >> 16 & 0xff) + 1) * 512;
    ret = blkfront_submit(&z.bf, r);
    if (ret == 0)
        z.out[slot] = true;
    else
        blkfront_req_put(&z.bf, r);
    if (arg >> 24 & 1)
        blkfront_kick(&z.bf);
}

/* The backend answers what it takes, with the right id and operation. */
static void fz_serve(uint32_t arg)
{
    blkif_request_t rq[FZ_DEPTH];
    blkif_response_t rsp;
    int n, i;

    n = ringbuf_back_take(&z.rb, rq, FZ_DEPTH);
    for (i = 0; i < n; i++) {
        memset(&rsp, 0, sizeof(rsp));
        rsp.id = rq[i].id;
        rsp.operation = rq[i].operation == BLKIF_OP_INDIRECT
                            ? ((blkif_request_indirect_t *)&rq[i])->indirect_op
                            : rq[i].operation;
        rsp.status = (int16_t)(arg & 3) - 2; /* every status there is */
        ringbuf_back_put(&z.rb, &rsp);
    }
    ringbuf_back_push(&z.rb);
}

/* Any response in the next slot, published. */
static void fz_forge(uint32_t arg)
{
    blkif_response_t rsp = {.id = arg & 0xffff,
                            .operation = (uint8_t)(arg >> 16),
                            .status = (int16_t)(int8_t)(arg >> 24)};
    uint32_t *rsp_prod = (uint32_t *)(void *)(z.ring + 8);
    uint32_t ent = (uint32_t)z.bf.q[0].rf.ent_size;

    memcpy(z.ring + 64 + (*rsp_prod % z.bf.q[0].rf.nr_ents) * ent, &rsp,
           sizeof(rsp));
    (*rsp_prod)++;
}

static void fz_reap(uint32_t arg)
{
    struct blkfront_req *done[2 * FZ_DEPTH];
    unsigned int max = arg % (2 * FZ_DEPTH) + 1;
    int failed = z.bf.failed, n, i, slot;

    n = blkfront_reap(&z.bf, done, max);
    if (failed)
        fz_check(n == -EPROTO);
    if (n < 0) {
        fz_check(z.bf.failed == -EPROTO);
        return;
    }
    fz_check((unsigned int)n <= max);
    for (i = 0; i < n; i++) {
        slot = fz_slot(done[i]);
        fz_check(slot >= 0 && z.out[slot]);
        z.out[slot] = false;
        blkfront_req_put(&z.bf, done[i]);
    }
}

static void fz_step(uint8_t op, uint32_t arg)
{
    switch (op % 6) {
    case 0:
        fz_submit(arg);
        break;
    case 1:
        fz_serve(arg);
        break;
    case 2:
        fz_forge(arg);
        break;
    case 3: /* any index of the shared header */
        memcpy(z.ring + 4 * (arg & 3), &(uint32_t){arg >> 2}, 4);
        break;
    case 4: /* any byte of the page */
        z.ring[arg % BLKFRONT_PAGE_SIZE] = (uint8_t)(arg >> 16);
        break;
    default:
        fz_reap(arg);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t arg;
    size_t pos;

    if (z.ring == NULL) {
        z.ring = aligned_alloc(BLKFRONT_PAGE_SIZE, BLKFRONT_PAGE_SIZE);
        z.pool = aligned_alloc(BLKFRONT_PAGE_SIZE, (size_t)FZ_SLOT * FZ_DEPTH);
        if (z.ring == NULL || z.pool == NULL)
            abort();
    }
    if (fz_setup() != 0)
        abort();
    for (pos = 0; pos + 5 <= size; pos += 5) {
        memcpy(&arg, data + pos + 1, sizeof(arg));
        fz_step(data[pos], arg);
    }
    blkfront_queue_fini(&z.bf.q[0]);
    return 0;
}
