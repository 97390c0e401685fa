/*
 * ringbuf_fuzz.c - libFuzzer target: a hostile peer on each side of the
 * ring layer (ringbuf/). The input is a script that interleaves our back
 * end's and our front end's calls with what a hostile frontend and a
 * hostile backend may do to the shared pages: set any producer or event
 * index, write any byte of the page, return any response id. Beyond
 * memory errors (ASan, UBSan) it checks what the rest of drvdom relies
 * on: a take never returns more than asked nor more than the peer could
 * have produced; a back end never has more requests unanswered than the
 * ring holds; responses only for requests taken; a response id is
 * accepted once and only when it is pending; a broken ring stays broken
 * and touches nothing. A broken rule aborts.
 *
 * Script: records of [op:1][arg:4 LE], see fz_step().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/blkif.h>

#include "drvdom/ringbuf.h"

#define FZ_PAGE 4096u
#define FZ_REQ  sizeof(blkif_request_t)
#define FZ_RSP  sizeof(blkif_response_t)
#define FZ_MAX  64u

struct fz {
    uint8_t bpage[FZ_PAGE] __attribute__((aligned(4096))); /* back's ring */
    uint8_t fpage[FZ_PAGE] __attribute__((aligned(4096))); /* front's ring */
    uint8_t jnl[8 * FZ_PAGE];                              /* back's journal */
    struct ringbuf_back b;
    struct ringbuf_front f;
    struct ringbuf_ids ids;
    bool pending[FZ_PAGE / FZ_REQ]; /* our own record of the ids given out */
    uint8_t buf[FZ_MAX * FZ_REQ] __attribute__((aligned(8))); /* copies */
};

static void fz_check(bool ok)
{
    if (!ok)
        abort();
}

/* The shared header's four indexes, as ring.h lays them out. */
static uint32_t *fz_idx(uint8_t *page, unsigned which)
{
    return (uint32_t *)(void *)(page + 4 * which);
}

enum { FZ_REQ_PROD, FZ_REQ_EVENT, FZ_RSP_PROD, FZ_RSP_EVENT };

static void fz_back_take(struct fz *z, unsigned max)
{
    uint32_t before = z->b.req_cons, answered = z->b.rsp_prod_pvt;
    uint32_t prod = *fz_idx(z->bpage, FZ_REQ_PROD);
    bool broken = z->b.broken;
    int n = ringbuf_back_take(&z->b, z->buf, max);

    if (broken)
        fz_check(n == -EPROTO);
    if (n < 0)
        return;
    fz_check((unsigned)n <= max);
    fz_check(z->b.req_cons - before == (uint32_t)n);
    /* never more unanswered requests than the ring holds */
    fz_check(z->b.req_cons - z->b.rsp_prod_pvt <= z->b.nr_ents);
    /* requests taken were published: the frontend's index was a legal one
     * (at most a ring ahead of the responses) and not behind what we took */
    if (n > 0) {
        fz_check(prod - answered <= z->b.nr_ents);
        fz_check(prod - answered >= z->b.req_cons - answered);
    }
}

static void fz_back_put(struct fz *z, unsigned k)
{
    blkif_response_t rsp = {.id = 1, .operation = 0, .status = 0};
    unsigned i;
    int ret;

    for (i = 0; i < k; i++) {
        uint32_t unanswered = z->b.req_cons - z->b.rsp_prod_pvt;

        ret = ringbuf_back_put(&z->b, &rsp);
        if (z->b.broken)
            fz_check(ret == -EPROTO);
        else if (unanswered == 0)
            fz_check(ret == -ENOSPC);
        else
            fz_check(ret == 0);
    }
    ringbuf_back_push(&z->b);
    /* published: every response put (the peer may scribble on rsp_prod) */
    if (!z->b.broken)
        fz_check(z->b.rsp_pushed == z->b.rsp_prod_pvt);
}

static void fz_front_put(struct fz *z, unsigned k)
{
    blkif_request_t req;
    unsigned i;
    int id;

    memset(&req, 0, sizeof(req));
    for (i = 0; i < k; i++) {
        if (ringbuf_front_free(&z->f) == 0)
            break;
        id = ringbuf_ids_get(&z->ids);
        if (id < 0)
            break;
        /* a free id, in range */
        fz_check((unsigned)id < z->f.nr_ents && !z->pending[id]);
        z->pending[id] = true;
        req.id = (uint64_t)id;
        if (ringbuf_front_put(&z->f, &req) != 0) {
            fz_check(ringbuf_ids_put(&z->ids, (uint64_t)id) == 0);
            z->pending[id] = false;
            break;
        }
    }
    ringbuf_front_push(&z->f);
}

static void fz_front_take(struct fz *z, unsigned max)
{
    blkif_response_t *rsps = (blkif_response_t *)(void *)z->buf;
    uint32_t before = z->f.rsp_cons;
    bool broken = z->f.broken;
    int n = ringbuf_front_take(&z->f, rsps, max);
    uint64_t id;
    bool pend;
    int i;

    if (broken)
        fz_check(n == -EPROTO);
    if (n < 0)
        return;
    fz_check((unsigned)n <= max);
    fz_check(z->f.rsp_cons - before == (uint32_t)n);
    /* no more responses than requests published */
    fz_check(z->f.req_pushed - z->f.rsp_cons <= z->f.nr_ents);
    /* hostile ids: accepted exactly when pending, then no longer */
    for (i = 0; i < n; i++) {
        id = rsps[i].id;
        pend = id < z->f.nr_ents && z->pending[id];
        fz_check((ringbuf_ids_put(&z->ids, id) == 0) == pend);
        if (pend)
            z->pending[id] = false;
    }
}

/* One record. */
static void fz_step(struct fz *z, uint8_t op, uint32_t arg)
{
    uint8_t *page = op & 0x80 ? z->fpage : z->bpage;
    int ret;

    switch (op & 0x7f) {
    case 0: /* hostile: any index */
        *fz_idx(page, arg & 3) = arg >> 2;
        break;
    case 1: /* hostile: a producer a little ahead (a plausible peer) */
        *fz_idx(page, op & 0x80 ? FZ_RSP_PROD : FZ_REQ_PROD) += arg % 40;
        break;
    case 2: /* hostile: any byte of the page, entries included */
        page[arg % FZ_PAGE] = (uint8_t)(arg >> 16);
        break;
    case 3:
        fz_back_take(z, arg % (FZ_MAX + 1));
        break;
    case 4:
        fz_back_put(z, arg % 40);
        break;
    case 5: /* it may find the ring broken itself */
        ret = ringbuf_back_final_check(&z->b);
        fz_check(ret >= 0 || (ret == -EPROTO && z->b.broken));
        break;
    case 6: /* our back end restarts and adopts the ring and its journal */
        if (ringbuf_back_attach(&z->b, z->bpage, 0, FZ_REQ, FZ_RSP) == 0)
            ringbuf_back_journal(&z->b, z->jnl, true);
        break;
    case 7:
        fz_front_put(z, arg % 40);
        break;
    case 8:
        fz_front_take(z, arg % (FZ_MAX + 1));
        break;
    case 9:
        ret = ringbuf_front_final_check(&z->f);
        fz_check(ret >= 0 || (ret == -EPROTO && z->f.broken));
        break;
    case 10: /* hostile: return a response with any id in the next slot */
        memcpy(z->fpage + 64 +
                   (z->f.rsp_cons + (arg & 7)) % z->f.nr_ents * z->f.ent_size,
               &(uint64_t){arg >> 3}, sizeof(uint64_t));
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz z;
    size_t pos;
    uint32_t arg;

    memset(&z, 0, sizeof(z));
    /* The peers' side of init: a zeroed page is a fresh ring. */
    if (ringbuf_back_init(&z.b, z.bpage, 0, FZ_REQ, FZ_RSP) != 0 ||
        ringbuf_back_journal(&z.b, z.jnl, false) < 0 ||
        ringbuf_front_init(&z.f, z.fpage, 0, FZ_REQ, FZ_RSP) != 0 ||
        ringbuf_ids_init(&z.ids, z.f.nr_ents) != 0)
        abort();
    for (pos = 0; pos + 5 <= size; pos += 5) {
        memcpy(&arg, data + pos + 1, sizeof(arg));
        fz_step(&z, data[pos], arg);
    }
    ringbuf_ids_fini(&z.ids);
    return 0;
}
