/*
 * copy.c - the copy data mode of a queue (--data copy): the disk I/O is
 * done on buffers of the queue's own, never on a guest's page, so no disk
 * I/O is ever in flight on a grant mapping (on Linux 6.1 a process that
 * dies with O_DIRECT I/O on gntdev-mapped pages corrupts dom0's page
 * state, see docs/testbed.md). The data moves between the guest's pages
 * and the buffers
 *   - with persistent grants (both ends offered feature-persistent), by the
 *     CPU through the grant's mapping, kept in the queue's persistent-grant
 *     cache (pgrant.c) as Linux blkback keeps it: once a grant is cached no
 *     call is made at all, where a grant copy costs a hypercall and pins
 *     the buffer's page in gntdev for every segment;
 *   - otherwise, and for a grant the cache has no room for or that cannot
 *     be mapped writable, by batched grant copies (QEMU qdisk's way), no
 *     page of the guest mapped.
 *
 * Each queue owns a pool of page-aligned buffers, allocated and populated
 * once (blkback_copy_pool_*): BLKBACK_COPY_PAGES_PER_ENT pages per ring slot
 * (room for a full ring of direct requests), at least one largest request,
 * at most BLKBACK_COPY_POOL_MAX. A segment gets a page of its own and keeps
 * the guest's offset in it, so a buffer is as aligned as the guest's page
 * was (O_DIRECT) and no copy crosses a page on either side.
 *
 *   dispatch  parse every request taken; an indirect request's descriptor
 *             pages are fetched (one copy batch for the pass), then
 *             validated;
 *   start     requests take their buffers in ring order (a FIFO): the one
 *             at the head waits, and every one after it, until buffers
 *             free up (bounded, never dropped, never reordered, so a
 *             barrier cannot overtake); the data of every WRITE started
 *             is copied guest -> buffer in one batch, then the I/O queued;
 *   reap      every READ completed is copied buffer -> guest in one batch
 *             before its response; the buffers go back to the pool.
 * A segment whose copy fails (GNTST_*: a bad or revoked grant, a read into
 * a read-only one) fails its request only, with BLKIF_RSP_ERROR.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/blk/blkback-internal.h"

/* ------------------------------------------------------------------ pool */

/* Pages for a ring of nr_ents slots whose requests have up to max_segs. */
uint32_t blkback_copy_pool_size(uint32_t nr_ents, uint32_t max_segs)
{
    uint64_t n = (uint64_t)nr_ents * BLKBACK_COPY_PAGES_PER_ENT;

    if (n > BLKBACK_COPY_POOL_MAX)
        n = BLKBACK_COPY_POOL_MAX;
    if (n < max_segs)
        n = max_segs;
    return (uint32_t)n;
}

#define BLKBACK_POOL_WORD 64u

/* npages buffers, populated now (no fault on the per-request path). */
int blkback_copy_pool_init(struct blkback_copy_pool *pool, uint32_t npages)
{
    size_t len = (size_t)npages * BLKBACK_PAGE_SIZE;

    memset(pool, 0, sizeof(*pool));
    if (npages == 0)
        return -EINVAL;
    pool->used = calloc((npages + BLKBACK_POOL_WORD - 1) / BLKBACK_POOL_WORD,
                        sizeof(*pool->used));
    if (pool->used == NULL)
        return -ENOMEM;
    pool->base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (pool->base == MAP_FAILED) {
        pool->base = NULL;
        free(pool->used);
        pool->used = NULL;
        return -ENOMEM;
    }
    pool->npages = npages;
    pool->nr_free = npages;
    return 0;
}

/* Idempotent. */
void blkback_copy_pool_destroy(struct blkback_copy_pool *pool)
{
    if (pool->base != NULL)
        munmap(pool->base, (size_t)pool->npages * BLKBACK_PAGE_SIZE);
    free(pool->used);
    memset(pool, 0, sizeof(*pool));
}

static bool blkback_pool_used(const struct blkback_copy_pool *pool, uint32_t i)
{
    return (pool->used[i / BLKBACK_POOL_WORD] >> (i % BLKBACK_POOL_WORD)) & 1u;
}

static void blkback_pool_mark(struct blkback_copy_pool *pool, uint32_t i,
                              bool used)
{
    uint64_t bit = 1ull << (i % BLKBACK_POOL_WORD);

    if (used)
        pool->used[i / BLKBACK_POOL_WORD] |= bit;
    else
        pool->used[i / BLKBACK_POOL_WORD] &= ~bit;
}

/*
 * The first run of n free pages at or after the hint (wrapping around), or
 * UINT32_MAX. Whole free or used words are skipped at once.
 */
static uint32_t blkback_pool_find_run(const struct blkback_copy_pool *pool,
                                      unsigned n)
{
    uint32_t i = pool->hint, start = 0, run = 0, seen = 0, w;
    uint64_t word;

    while (seen < pool->npages) {
        if (i == pool->npages) {
            i = 0;
            run = 0; /* a run does not wrap */
        }
        word = pool->used[i / BLKBACK_POOL_WORD];
        w = 1;
        if (i % BLKBACK_POOL_WORD == 0 &&
            i + BLKBACK_POOL_WORD <= pool->npages &&
            (word == 0 || word == UINT64_MAX))
            w = BLKBACK_POOL_WORD;
        if (w > 1 ? word != 0 : blkback_pool_used(pool, i)) {
            run = 0;
        } else {
            if (run == 0)
                start = i;
            run += w;
            if (run >= n)
                return start;
        }
        i += w;
        seen += w;
    }
    return UINT32_MAX;
}

/*
 * n pages into pages[], all or none: false when fewer are free. The pages
 * are consecutive when the pool has such a run (the I/O on them is then
 * one piece of the engine's fixed buffer), else any free ones.
 */
bool blkback_copy_pool_get(struct blkback_copy_pool *pool, void **pages,
                           unsigned n)
{
    uint32_t start, i, k;

    if (n > pool->nr_free)
        return false;
    if (n == 0)
        return true;
    start = blkback_pool_find_run(pool, n);
    if (start != UINT32_MAX) {
        for (k = 0; k < n; k++) {
            blkback_pool_mark(pool, start + k, true);
            pages[k] = pool->base + (size_t)(start + k) * BLKBACK_PAGE_SIZE;
        }
        pool->hint = start + n;
    } else {
        for (i = 0, k = 0; k < n; i++)
            if (!blkback_pool_used(pool, i)) {
                blkback_pool_mark(pool, i, true);
                pages[k++] = pool->base + (size_t)i * BLKBACK_PAGE_SIZE;
            }
    }
    pool->nr_free -= n;
    return true;
}

/* Give back n pages that blkback_copy_pool_get handed out. */
void blkback_copy_pool_put(struct blkback_copy_pool *pool, void *const *pages,
                           unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        blkback_pool_mark(
            pool,
            (uint32_t)(((uint8_t *)pages[i] - pool->base) / BLKBACK_PAGE_SIZE),
            false);
    pool->nr_free += n;
}

/* ------------------------------------------------------------ open/close */

/* Pool, batch, FIFO and indirect areas of q (q->nr_ents, q->max_segs set). */
int blkback_copy_open(struct blkback_queue *q)
{
    uint32_t npages = blkback_copy_pool_size(q->nr_ents, q->max_segs);
    uint32_t ind = q->nr_ents * blkback_indirect_pages(q->max_segs);
    struct blkback_copy *c;
    int ret;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    q->cp = c;
    ret = blkback_copy_pool_init(&c->pool, npages);
    if (ret < 0)
        return ret;
    c->max_batch = npages > ind ? npages : ind;
    c->segs = calloc(c->max_batch, sizeof(*c->segs));
    c->wait = calloc(q->nr_ents, sizeof(*c->wait));
    c->raw = calloc((size_t)q->nr_ents * q->max_segs, sizeof(*c->raw));
    c->iov = calloc(q->max_segs, sizeof(*c->iov));
    c->rest = calloc(c->max_batch, sizeof(*c->rest));
    c->rest_of = calloc(c->max_batch, sizeof(*c->rest_of));
    if (c->segs == NULL || c->wait == NULL || c->raw == NULL ||
        c->iov == NULL || c->rest == NULL || c->rest_of == NULL)
        return -ENOMEM;
    /* The kernel pins the pool once, not the pages of every I/O. */
    ret = blkback_io_fixed(&q->io, c->pool.base,
                           (size_t)npages * BLKBACK_PAGE_SIZE);
    if (ret < 0)
        fprintf(stderr,
                "%s: no fixed buffer for the I/O (%s): pages pinned per "
                "request\n",
                q->name, strerror(-ret));
    return 0;
}

/* Idempotent; nothing may be in flight. */
void blkback_copy_close(struct blkback_queue *q)
{
    struct blkback_copy *c = q->cp;

    if (c == NULL)
        return;
    blkback_copy_pool_destroy(&c->pool);
    free(c->segs);
    free(c->wait);
    free(c->raw);
    free(c->iov);
    free(c->rest);
    free(c->rest_of);
    free(c);
    q->cp = NULL;
}

/* ---------------------------------------------------------------- batch */

/* Append a copy between the guest's page gref (at off) and buf to c->segs. */
static void blkback_copy_add(struct blkback_queue *q, uint32_t *nb,
                             grant_ref_t gref, uint32_t off, void *buf,
                             uint32_t len, bool to_guest)
{
    struct plat_gntcopy_seg *s = &q->cp->segs[(*nb)++];
    union plat_gntcopy_ptr guest = {
        .foreign = {.ref = gref, .offset = (uint16_t)off, .domid = q->dev->fe},
    };

    s->len = (uint16_t)len;
    s->status = GNTST_general_error;
    if (to_guest) {
        s->source.virt = buf;
        s->dest = guest;
        s->flags = GNTCOPY_dest_gref;
    } else {
        s->source = guest;
        s->dest.virt = buf;
        s->flags = GNTCOPY_source_gref;
    }
}

/*
 * Move segment s through its grant's persistent mapping; false when the
 * grant has none (s is then left for the grant copy).
 */
static bool blkback_copy_pg_move(struct blkback_queue *q,
                                 struct plat_gntcopy_seg *s)
{
    bool to_guest = (s->flags & GNTCOPY_dest_gref) != 0;
    const union plat_gntcopy_ptr *g = to_guest ? &s->dest : &s->source;
    uint8_t *page, kind;

    /* Segments are validated to stay in their page; never trust that here. */
    if ((uint32_t)g->foreign.offset + s->len > BLKBACK_PAGE_SIZE)
        return false;
    /* Cached, or mapped and cached now; not a map for one use when the
     * cache is full (the next purge makes room). */
    kind = BLKBACK_PG_PERSIST;
    page = blkback_pgrant_get(&q->pg, g->foreign.ref);
    if (page != NULL)
        q->st.pg_hits++;
    else if (q->pg.count < q->pg.max)
        page = blkback_queue_pg_get(q, g->foreign.ref, &kind);
    else
        q->pg.overflow = true;
    if (page == NULL)
        return false; /* full, or not mappable writable: grant copy */
    if (to_guest)
        memcpy(page + g->foreign.offset, s->source.virt, s->len);
    else
        memcpy(s->dest.virt, page + g->foreign.offset, s->len);
    blkback_queue_pg_put(q, g->foreign.ref, page, kind);
    s->status = GNTST_okay;
    return true;
}

/*
 * Move the batch's nb segments. With persistent grants a segment whose
 * grant is (or now gets) a persistent mapping is copied through it, by the
 * CPU, with no call into the hypervisor; every other segment goes to one
 * grant-copy call. A failed call fails each of its segments.
 */
static void blkback_copy_run(struct blkback_queue *q, uint32_t nb)
{
    struct blkback_copy *c = q->cp;
    struct plat_gntcopy_seg *segs = c->segs;
    uint32_t i, nr = 0;

    if (nb == 0)
        return;
    if (q->dev->persistent) {
        for (i = 0; i < nb; i++)
            if (!blkback_copy_pg_move(q, &c->segs[i])) {
                c->rest[nr] = c->segs[i];
                c->rest_of[nr++] = i;
            }
        if (nr == 0)
            return;
        segs = c->rest;
        nb = nr;
    }
    q->st.copy_calls++;
    if (plat_gnttab_copy(q->gt, nb, segs) < 0)
        for (i = 0; i < nb; i++)
            segs[i].status = GNTST_general_error;
    for (i = 0; i < nr; i++)
        c->segs[c->rest_of[i]].status = c->rest[i].status;
}

/* Every one of the n segments from first copied. */
static bool blkback_copy_ok(const struct blkback_queue *q, uint32_t first,
                            unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (q->cp->segs[first + i].status != GNTST_okay)
            return false;
    return true;
}

/* ------------------------------------------------------------- dispatch */

/* Queue the fetch of p's indirect pages (idx: its context) in the batch. */
static void blkback_copy_add_indirect(struct blkback_queue *q,
                                      struct blkback_pending *p, uint32_t idx,
                                      uint32_t *nb)
{
    unsigned per = BLKBACK_SEGS_PER_INDIRECT_PAGE, n = p->req.nr_segs, i;
    struct blkif_request_segment *raw = &q->cp->raw[(size_t)idx * q->max_segs];
    unsigned cnt;

    p->copy_first = *nb;
    for (i = 0; i < p->req.nr_indirect; i++) {
        cnt = n - i * per < per ? n - i * per : per;
        blkback_copy_add(q, nb, p->req.indirect_grefs[i], 0, &raw[i * per],
                         cnt * (uint32_t)sizeof(*raw), false);
    }
}

/* An indirect request's fetched segments: validated, or p refused. */
static bool blkback_copy_indirect_done(struct blkback_queue *q,
                                       struct blkback_pending *p, uint32_t idx)
{
    enum blkback_bad bad;

    if (!blkback_copy_ok(q, p->copy_first, p->req.nr_indirect)) {
        blkback_queue_refuse(q, p, BLKIF_RSP_ERROR,
                             "indirect page grant unusable");
        return false;
    }
    bad = blkback_ring_parse_indirect(&p->req, &q->dev->geom,
                                      &q->cp->raw[(size_t)idx * q->max_segs],
                                      p->segs);
    if (bad != BLKBACK_OK) {
        blkback_queue_refuse(q, p, blkback_bad_status(bad),
                             blkback_bad_str(bad));
        return false;
    }
    return true;
}

static void blkback_copy_wait_push(struct blkback_queue *q, uint32_t idx)
{
    struct blkback_copy *c = q->cp;

    c->wait[c->wait_tail++ & (q->nr_ents - 1)] = idx;
}

/*
 * Validate the n requests taken this pass (ring positions first..), fetch
 * the indirect ones' segments (one copy call for the pass) and put the
 * accepted ones at the tail of the FIFO, in ring order.
 */
void blkback_copy_dispatch(struct blkback_queue *q, unsigned n, uint32_t first)
{
    struct blkback_pending *p;
    enum blkback_bad bad;
    uint32_t nb = 0, idx, i, npass = 0;

    for (i = 0; i < n; i++) {
        idx = (first + i) & (q->nr_ents - 1);
        p = &q->pend[idx];
        bad = blkback_ring_parse(&q->reqs[i], &q->dev->geom, &p->req, p->segs);
        p->range = BLKBACK_NONE;
        p->nr_mapped = 0;
        if (bad != BLKBACK_OK) {
            blkback_queue_refuse(q, p, blkback_bad_status(bad),
                                 blkback_bad_str(bad));
            continue;
        }
        if (p->req.indirect)
            blkback_copy_add_indirect(q, p, idx, &nb);
        q->pass[npass++] = idx;
    }
    blkback_copy_run(q, nb);
    for (i = 0; i < npass; i++) {
        p = &q->pend[q->pass[i]];
        if (p->req.indirect && !blkback_copy_indirect_done(q, p, q->pass[i]))
            continue;
        if (p->req.op == BLKIF_OP_DISCARD)
            p->req.nr_segs = 0;
        blkback_copy_wait_push(q, q->pass[i]);
    }
}

/* ---------------------------------------------------------------- start */

/* Data goes from the guest to the disk (WRITE, WRITE_BARRIER). */
static bool blkback_copy_in(const struct blkback_pending *p)
{
    return p->req.op != BLKIF_OP_READ && p->req.nr_segs > 0;
}

/*
 * Take buffers for the head of the FIFO and what follows while the pool
 * has them; batch the WRITE data copies. The started contexts go to
 * q->pass; returns their count.
 */
static uint32_t blkback_copy_take(struct blkback_queue *q, uint32_t *nb)
{
    struct blkback_copy *c = q->cp;
    struct blkback_pending *p;
    uint32_t idx, npass = 0;
    unsigned i;

    while (c->wait_head != c->wait_tail) {
        idx = c->wait[c->wait_head & (q->nr_ents - 1)];
        p = &q->pend[idx];
        if (!blkback_copy_pool_get(&c->pool, p->pages, p->req.nr_segs)) {
            q->st.copy_waits++;
            break;
        }
        c->wait_head++;
        p->nr_mapped = p->req.nr_segs; /* pages[] holds pool buffers */
        p->copy_first = *nb;
        if (blkback_copy_in(p))
            for (i = 0; i < p->req.nr_segs; i++)
                blkback_copy_add(q, nb, p->segs[i].gref, p->segs[i].offset,
                                 (uint8_t *)p->pages[i] + p->segs[i].offset,
                                 p->segs[i].len, false);
        q->pass[npass++] = idx;
    }
    return npass;
}

/* Give p's buffers back to the pool. */
static void blkback_copy_release(struct blkback_queue *q,
                                 struct blkback_pending *p)
{
    blkback_copy_pool_put(&q->cp->pool, p->pages, p->nr_mapped);
    p->nr_mapped = 0;
}

/*
 * Hand p to the engine on its buffers, segments that meet in memory as one
 * iovec (consecutive pages, full but for the ends: one piece, which the
 * engine does on its fixed buffer). 0 or the engine's -errno.
 */
static int blkback_copy_queue_io(struct blkback_queue *q, uint32_t idx)
{
    struct blkback_pending *p = &q->pend[idx];
    struct iovec *iov = q->cp->iov;
    unsigned i, n = 0;
    uint8_t *at;

    for (i = 0; i < p->req.nr_segs; i++) {
        at = (uint8_t *)p->pages[i] + p->segs[i].offset;
        if (n > 0 &&
            (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == at) {
            iov[n - 1].iov_len += p->segs[i].len;
            continue;
        }
        iov[n].iov_base = at;
        iov[n++].iov_len = p->segs[i].len;
    }
    return blkback_io_queue(&q->io, idx, &p->req, iov, n);
}

/*
 * Start what the pool has buffers for, in ring order: one copy call for
 * the data of every WRITE among them, then each to the engine (submitted
 * by the caller).
 */
void blkback_copy_start(struct blkback_queue *q)
{
    struct blkback_pending *p;
    uint32_t nb = 0, npass, i;

    npass = blkback_copy_take(q, &nb);
    blkback_copy_run(q, nb);
    for (i = 0; i < npass; i++) {
        p = &q->pend[q->pass[i]];
        if (blkback_copy_in(p) &&
            !blkback_copy_ok(q, p->copy_first, p->req.nr_segs)) {
            blkback_copy_release(q, p);
            blkback_queue_refuse(q, p, BLKIF_RSP_ERROR, "grant copy failed");
            continue;
        }
        if (blkback_copy_queue_io(q, q->pass[i]) < 0) {
            blkback_copy_release(q, p);
            blkback_queue_refuse(q, p, BLKIF_RSP_ERROR,
                                 "storage engine refused it");
            continue;
        }
        q->inflight++;
    }
}

/* ----------------------------------------------------------------- reap */

/* Log an I/O error (the first BLKBACK_LOG_BAD of them). */
static void blkback_copy_io_error(struct blkback_queue *q,
                                  const struct blkback_pending *p, int err)
{
    if (q->st.io_errors++ < BLKBACK_LOG_BAD)
        fprintf(stderr, "%s: request id %llu op %u: %s\n", q->name,
                (unsigned long long)p->req.id, p->req.rsp_op, strerror(-err));
}

/*
 * Answer what the engine finished: a successful READ's data is copied to
 * the guest first, all of them in one call; buffers go back to the pool.
 * Returns the count, or -errno.
 */
int blkback_copy_reap(struct blkback_queue *q, bool wait)
{
    struct blkback_pending *p;
    uint32_t nb = 0;
    unsigned k;
    int n, i;

    n = blkback_io_reap(&q->io, q->done, q->nr_ents, wait);
    for (i = 0; i < n; i++) {
        p = &q->pend[q->done[i].tag];
        p->copy_first = nb;
        if (q->done[i].err == 0 && p->req.op == BLKIF_OP_READ)
            for (k = 0; k < p->req.nr_segs; k++)
                blkback_copy_add(q, &nb, p->segs[k].gref, p->segs[k].offset,
                                 (uint8_t *)p->pages[k] + p->segs[k].offset,
                                 p->segs[k].len, true);
    }
    blkback_copy_run(q, nb);
    for (i = 0; i < n; i++) {
        p = &q->pend[q->done[i].tag];
        blkback_copy_release(q, p);
        q->inflight--;
        if (q->done[i].err < 0) {
            blkback_copy_io_error(q, p, q->done[i].err);
            blkback_queue_complete(p, blkback_errno_status(q->done[i].err));
        } else if (p->req.op == BLKIF_OP_READ &&
                   !blkback_copy_ok(q, p->copy_first, p->req.nr_segs)) {
            blkback_queue_refuse(q, p, BLKIF_RSP_ERROR,
                                 "grant copy to the guest failed");
        } else {
            blkback_queue_complete(p, BLKIF_RSP_OKAY);
        }
    }
    return n;
}
