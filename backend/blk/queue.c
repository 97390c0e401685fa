/*
 * queue.c - the data path of one blkif ring (one queue, one thread).
 *
 * A pass (blkback_queue_pass) is:
 *   take     copy every pending request off the ring (ringbuf_back_take);
 *   validate parse each private copy (ring.c); an indirect request's
 *            segments are copied out of its indirect pages and validated
 *            in turn; a refused request is answered at once;
 *   map      with persistent grants, a grant in the cache (pgrant.c) is
 *            used as it is and, while the cache has room, a new one is
 *            mapped and cached; every other grant of the pass goes to a
 *            batch range, one plat_gnttab_map call per range (writable
 *            for READ: the data goes into guest memory, read-only for
 *            everything else, as Linux's GNTMAP_readonly), unmapped when
 *            its last request completes; a range the platform refuses is
 *            retried request by request so that only the bad request
 *            fails;
 *   queue    hand every request to the engine (io.c), one submit per pass;
 *   reap     unmap (or release to the cache) what completed;
 *   answer   put the responses in ring order (see blkback_queue_answer);
 *   push     publish the responses and notify once.
 * In copy mode (dev->copy) no data page is mapped: validate, buffers and
 * grant copies are copy.c's, and reap hands over to it.
 * Everything is allocated by blkback_queue_open(), sized by the ring: the
 * ring never holds more requests than it has response slots, so the
 * request at ring position i has context i mod nr_ents, and the
 * per-request path never allocates.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/blk/blkback-internal.h"

static uint64_t blkback_queue_clock(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The clock of the busy-poll window. Read only where needed: in a PV
 * domain whose hypervisor does not offer a stable TSC the vDSO cannot
 * read it, and each read is a system call.
 */
static uint64_t blkback_queue_clock_ns(void)
{
    return blkback_queue_clock(CLOCK_MONOTONIC);
}

/* The unmap callback of the persistent-grant cache. */
static void blkback_queue_pg_unmap(void *opaque, const grant_ref_t *grefs,
                                   void *const *addrs, unsigned n)
{
    struct blkback_queue *q = opaque;
    unsigned i;

    (void)grefs;
    for (i = 0; i < n; i++)
        plat_gnttab_unmap(q->gt, addrs[i], 1);
}

/* ------------------------------------------------------------ responses */

/* The request at ring position p's response slot is decided. */
void blkback_queue_complete(struct blkback_pending *p, int16_t status)
{
    p->status = status;
    p->complete = true;
}

/* Say "first-response" once, for an adopted ring (drvdomd's figure). */
static void blkback_queue_first(struct blkback_queue *q)
{
    char line[64];

    if (!q->dev->report_first || atomic_flag_test_and_set(&q->dev->first_done))
        return;
    snprintf(line, sizeof(line), "first-response %llu\n",
             (unsigned long long)blkback_queue_clock_ns());
    if (write(q->dev->status_fd, line, strlen(line)) < 0)
        return; /* drvdomd restarted: nobody to tell */
}

/*
 * Put the responses of the completed requests in ring order, stopping at
 * the first one still in flight: the response slot of request i is then
 * only ever overwritten by response i, so a worker restarted on this ring
 * (ringbuf_back_attach at rsp_prod) finds every unanswered request intact
 * in its slot, and nothing it answers twice was answered before.
 */
static void blkback_queue_answer(struct blkback_queue *q)
{
    struct blkback_pending *p;
    blkif_response_t rsp;
    bool any = false;

    while (q->rb.rsp_prod_pvt != q->rb.req_cons) {
        p = &q->pend[q->rb.rsp_prod_pvt & (q->nr_ents - 1)];
        if (!p->complete)
            break;
        p->complete = false;
        blkback_ring_response(&rsp, p->req.id, p->req.rsp_op, p->status);
        if (ringbuf_back_put(&q->rb, &rsp) < 0)
            return; /* broken ring: nobody to answer */
        any = true;
    }
    if (any)
        blkback_queue_first(q);
}

/* p refused: logged (the first BLKBACK_LOG_BAD), answered with status. */
void blkback_queue_refuse(struct blkback_queue *q, struct blkback_pending *p,
                          int16_t status, const char *why)
{
    if (q->st.bad++ < BLKBACK_LOG_BAD)
        fprintf(stderr, "%s: request id %llu op %u refused: %s%s\n", q->name,
                (unsigned long long)p->req.id, p->req.rsp_op, why,
                q->st.bad == BLKBACK_LOG_BAD ? " (no more logged)" : "");
    blkback_queue_complete(p, status);
}

/* ---------------------------------------------------------- grant ranges */

static void blkback_queue_range_put(struct blkback_queue *q, uint32_t r)
{
    struct blkback_range *g = &q->ranges[r];

    if (--g->users > 0)
        return;
    if (g->addr != NULL)
        plat_gnttab_unmap(q->gt, g->addr, g->count);
    g->addr = NULL;
    q->range_free[q->nr_range_free++] = r;
}

static uint32_t blkback_queue_range_new(struct blkback_queue *q, bool writable)
{
    uint32_t r = q->range_free[--q->nr_range_free];

    q->ranges[r] = (struct blkback_range){.writable = writable};
    return r;
}

/* Map the range being filled for this writability and close it. */
static void blkback_queue_range_map(struct blkback_queue *q, unsigned w)
{
    struct blkback_range *g;
    uint32_t r = q->open[w];

    if (r == BLKBACK_NONE)
        return;
    q->open[w] = BLKBACK_NONE;
    g = &q->ranges[r];
    q->st.map_calls++;
    if (plat_gnttab_map(q->gt, q->dev->fe, g->count, q->batch[w], w != 0,
                        &g->addr) < 0) {
        g->addr = NULL;
        g->failed = true;
    }
}

/* Copy the refs of p's BLKBACK_PG_RANGE segments to refs; their count. */
static unsigned blkback_queue_range_refs(const struct blkback_pending *p,
                                         grant_ref_t *refs)
{
    unsigned i, n = 0;

    for (i = 0; i < p->req.nr_segs; i++)
        if (p->kinds[i] == BLKBACK_PG_RANGE)
            refs[n++] = p->segs[i].gref;
    return n;
}

/* Put p's n BLKBACK_PG_RANGE grants in the open range of its direction. */
static void blkback_queue_range_add(struct blkback_queue *q,
                                    struct blkback_pending *p, unsigned n)
{
    unsigned w = p->req.op == BLKIF_OP_READ;
    struct blkback_range *g;

    if (q->open[w] != BLKBACK_NONE &&
        q->ranges[q->open[w]].count + n > BLKBACK_MAP_BATCH)
        blkback_queue_range_map(q, w);
    if (q->open[w] == BLKBACK_NONE)
        q->open[w] = blkback_queue_range_new(q, w != 0);
    g = &q->ranges[q->open[w]];
    blkback_queue_range_refs(p, &q->batch[w][g->count]);
    p->range = q->open[w];
    p->range_first = g->count;
    g->count += n;
    g->users++;
}

/*
 * p's batch range was refused: map p's grants on their own, so that only
 * a request with a bad grant fails. 0 or -EFAULT.
 */
static int blkback_queue_range_retry(struct blkback_queue *q,
                                     struct blkback_pending *p)
{
    unsigned w = p->req.op == BLKIF_OP_READ;
    struct blkback_range *g;

    blkback_queue_range_put(q, p->range);
    p->range = blkback_queue_range_new(q, w != 0);
    p->range_first = 0;
    g = &q->ranges[p->range];
    g->count = blkback_queue_range_refs(p, q->batch[w]);
    g->users = 1;
    q->st.map_calls++;
    if (plat_gnttab_map(q->gt, q->dev->fe, g->count, q->batch[w], w != 0,
                        &g->addr) < 0) {
        g->addr = NULL;
        blkback_queue_range_put(q, p->range);
        p->range = BLKBACK_NONE;
        return -EFAULT;
    }
    return 0;
}

/* ----------------------------------------------------- persistent grants */

/*
 * A persistent grant's page: from the cache, or mapped now (writable, as
 * Linux does: the frontend reuses the page for reads and writes) and
 * cached; when the cache is full, mapped for this request only.
 */
void *blkback_queue_pg_get(struct blkback_queue *q, grant_ref_t gref,
                           uint8_t *kind)
{
    void *addr = blkback_pgrant_get(&q->pg, gref);

    if (addr != NULL) {
        q->st.pg_hits++;
        *kind = BLKBACK_PG_PERSIST;
        return addr;
    }
    q->st.map_calls++;
    if (plat_gnttab_map(q->gt, q->dev->fe, 1, &gref, true, &addr) < 0)
        return NULL;
    *kind = blkback_pgrant_add(&q->pg, gref, addr) == 0 ? BLKBACK_PG_PERSIST
                                                        : BLKBACK_PG_SINGLE;
    return addr;
}

void blkback_queue_pg_put(struct blkback_queue *q, grant_ref_t gref, void *addr,
                          uint8_t kind)
{
    if (kind == BLKBACK_PG_PERSIST)
        blkback_pgrant_put(&q->pg, gref, q->now_ms);
    else
        plat_gnttab_unmap(q->gt, addr, 1);
}

/* Release whatever p holds mapped. */
static void blkback_queue_unmap(struct blkback_queue *q,
                                struct blkback_pending *p)
{
    unsigned i;

    if (p->range != BLKBACK_NONE)
        blkback_queue_range_put(q, p->range);
    p->range = BLKBACK_NONE;
    for (i = 0; i < p->nr_mapped; i++)
        if (p->kinds[i] != BLKBACK_PG_RANGE)
            blkback_queue_pg_put(q, p->segs[i].gref, p->pages[i], p->kinds[i]);
    p->nr_mapped = 0;
}

/*
 * Sort p's data grants: with persistent grants, those in the cache are
 * used as they are and, while the cache has room, new ones are mapped and
 * cached; every other grant goes to a batch range. 0, or -EINVAL when a
 * grant cannot be mapped (everything released).
 */
static int blkback_queue_map_segs(struct blkback_queue *q,
                                  struct blkback_pending *p)
{
    struct blkback_pgrant_cache *c = &q->pg;
    unsigned i, nr_range = 0;
    grant_ref_t gref;

    for (i = 0; i < p->req.nr_segs; i++) {
        gref = p->segs[i].gref;
        p->kinds[i] = BLKBACK_PG_PERSIST;
        p->pages[i] = q->dev->persistent ? blkback_pgrant_get(c, gref) : NULL;
        if (p->pages[i] != NULL) {
            q->st.pg_hits++;
        } else if (q->dev->persistent && c->count < c->max) {
            p->pages[i] = blkback_queue_pg_get(q, gref, &p->kinds[i]);
            if (p->pages[i] == NULL) {
                blkback_queue_unmap(q, p);
                return -EINVAL;
            }
        } else {
            /* Persistent but full: the next purge makes room. */
            c->overflow = q->dev->persistent;
            p->kinds[i] = BLKBACK_PG_RANGE;
            nr_range++;
        }
        p->nr_mapped = (uint16_t)(i + 1);
    }
    if (nr_range > 0)
        blkback_queue_range_add(q, p, nr_range);
    return 0;
}

/* ------------------------------------------------------------- indirect */

/* Copy n segments out of the indirect page at addr into q->ind + first. */
static void blkback_queue_ind_copy(struct blkback_queue *q, const void *addr,
                                   unsigned first, unsigned n)
{
    memcpy(&q->ind[first], addr, n * sizeof(q->ind[0]));
}

/*
 * Second step of an INDIRECT request: map its indirect pages (read-only,
 * or through the cache), copy the segments out, release the pages, then
 * validate the copy. Returns 0 with *bad set, or -EINVAL if a page could
 * not be mapped.
 */
static int blkback_queue_indirect(struct blkback_queue *q,
                                  struct blkback_pending *p,
                                  enum blkback_bad *bad)
{
    unsigned per = BLKBACK_SEGS_PER_INDIRECT_PAGE, n = p->req.nr_segs;
    unsigned i, cnt;
    uint8_t kind;
    void *addr;

    if (!q->dev->persistent) {
        q->st.map_calls++;
        if (plat_gnttab_map(q->gt, q->dev->fe, p->req.nr_indirect,
                            p->req.indirect_grefs, false, &addr) < 0)
            return -EINVAL;
        blkback_queue_ind_copy(q, addr, 0, n);
        plat_gnttab_unmap(q->gt, addr, p->req.nr_indirect);
    } else {
        for (i = 0; i < p->req.nr_indirect; i++) {
            addr = blkback_queue_pg_get(q, p->req.indirect_grefs[i], &kind);
            if (addr == NULL)
                return -EINVAL;
            cnt = n - i * per < per ? n - i * per : per;
            blkback_queue_ind_copy(q, addr, i * per, cnt);
            blkback_queue_pg_put(q, p->req.indirect_grefs[i], addr, kind);
        }
    }
    *bad = blkback_ring_parse_indirect(&p->req, &q->dev->geom, q->ind, p->segs);
    return 0;
}

/* ------------------------------------------------------------- dispatch */

/* Validate one private copy; map it or put it in a batch range. */
static void blkback_queue_dispatch(struct blkback_queue *q,
                                   const blkif_request_t *copy, uint32_t idx)
{
    struct blkback_pending *p = &q->pend[idx];
    enum blkback_bad bad;

    bad = blkback_ring_parse(copy, &q->dev->geom, &p->req, p->segs);
    p->range = BLKBACK_NONE;
    p->nr_mapped = 0;
    if (bad == BLKBACK_OK && p->req.indirect &&
        blkback_queue_indirect(q, p, &bad) < 0) {
        blkback_queue_refuse(q, p, BLKIF_RSP_ERROR,
                             "indirect page grant unusable");
        return;
    }
    if (bad != BLKBACK_OK) {
        blkback_queue_refuse(q, p, blkback_bad_status(bad),
                             blkback_bad_str(bad));
        return;
    }
    if (p->req.op == BLKIF_OP_DISCARD)
        p->req.nr_segs = 0;
    if (blkback_queue_map_segs(q, p) < 0) {
        blkback_queue_refuse(q, p, BLKIF_RSP_ERROR, "grant unusable");
        return;
    }
    q->pass[q->npass++] = idx;
}

/* Hand a request to the engine, its range mapped first if need be. 0,
 * -EFAULT for an unusable grant or the engine's -errno (nothing queued). */
static int blkback_queue_start(struct blkback_queue *q, uint32_t idx)
{
    struct blkback_pending *p = &q->pend[idx];
    struct blkback_range *g;
    unsigned i, k;

    if (p->range != BLKBACK_NONE) {
        if (q->ranges[p->range].failed && blkback_queue_range_retry(q, p) < 0)
            return -EFAULT;
        g = &q->ranges[p->range];
        for (i = 0, k = p->range_first; i < p->req.nr_segs; i++)
            if (p->kinds[i] == BLKBACK_PG_RANGE)
                p->pages[i] = (char *)g->addr + (size_t)k++ * BLKBACK_PAGE_SIZE;
    }
    for (i = 0; i < p->req.nr_segs; i++) {
        q->iov[i].iov_base = (char *)p->pages[i] + p->segs[i].offset;
        q->iov[i].iov_len = p->segs[i].len;
    }
    return blkback_io_queue(&q->io, idx, &p->req, q->iov, p->req.nr_segs);
}

/* Map the pass's ranges and queue every request of the pass. */
static void blkback_queue_start_pass(struct blkback_queue *q)
{
    struct blkback_pending *p;
    uint32_t i, idx;
    int err;

    blkback_queue_range_map(q, 0);
    blkback_queue_range_map(q, 1);
    for (i = 0; i < q->npass; i++) {
        idx = q->pass[i];
        p = &q->pend[idx];
        err = blkback_queue_start(q, idx);
        if (err == 0) {
            q->inflight++;
            continue;
        }
        blkback_queue_unmap(q, p);
        blkback_queue_refuse(q, p, BLKIF_RSP_ERROR,
                             err == -EFAULT ? "grant unusable"
                                            : "storage engine refused it");
    }
    q->npass = 0;
}

/* Answer what the engine finished. Returns the count or -errno. */
static int blkback_queue_reap(struct blkback_queue *q, bool wait)
{
    struct blkback_pending *p;
    int n, i;

    if (q->cp != NULL)
        return blkback_copy_reap(q, wait);
    n = blkback_io_reap(&q->io, q->done, q->nr_ents, wait);
    for (i = 0; i < n; i++) {
        p = &q->pend[q->done[i].tag];
        blkback_queue_unmap(q, p);
        if (q->done[i].err < 0 && q->st.io_errors++ < BLKBACK_LOG_BAD)
            fprintf(stderr, "%s: request id %llu op %u: %s\n", q->name,
                    (unsigned long long)p->req.id, p->req.rsp_op,
                    strerror(-q->done[i].err));
        blkback_queue_complete(p, blkback_errno_status(q->done[i].err));
        q->inflight--;
    }
    return n;
}

/* Publish the responses; notify if asked (and note whether it was). */
static void blkback_queue_push(struct blkback_queue *q)
{
    uint32_t old = q->rb.rsp_pushed;
    bool notify = ringbuf_back_push(&q->rb);

    if (q->rb.rsp_pushed != old)
        q->peer_sleeps = !notify ? 0
                         : q->peer_sleeps < BLKBACK_SPIN_AFTER
                             ? q->peer_sleeps + 1
                             : BLKBACK_SPIN_AFTER;
    if (notify)
        plat_evtchn_notify(q->ec, q->port);
}

/*
 * Acknowledge the event channel if its watch fired (the port is masked
 * until then; one port per handle: one pending() is enough). Every system
 * call here is on the per-request path.
 */
static void blkback_queue_events(struct blkback_queue *q)
{
    evtchn_port_t p;

    if (blkback_io_fired(&q->io, 1u << BLKBACK_WATCH_EVTCHN) &&
        plat_evtchn_pending(q->ec, &p) == 0)
        plat_evtchn_unmask(q->ec, p);
}

/*
 * Answer what the engine finished and take note of the event channel.
 * Returns the count or -errno.
 */
static int blkback_queue_collect(struct blkback_queue *q, bool wait)
{
    int done = blkback_queue_reap(q, wait);

    blkback_queue_events(q);
    return done;
}

/*
 * One pass over the ring: collect, take, validate, map, queue, submit,
 * collect, push. With wait, block for a completion when nothing new was
 * taken but I/O is in flight. Returns the number of requests taken plus
 * those completed (0: nothing happened), or -EPROTO when the frontend
 * broke the ring, or the engine's -errno.
 */
int blkback_queue_pass(struct blkback_queue *q, bool wait)
{
    uint32_t first;
    int n, i, done, more, err;

    /* Coarse is enough for the grant LRU, and the vDSO always has it. */
    if (q->dev->persistent)
        q->now_ms = blkback_queue_clock(CLOCK_MONOTONIC_COARSE) / 1000000u;
    done = blkback_queue_collect(q, false);
    if (done < 0)
        return done;
    first = q->rb.req_cons;
    n = ringbuf_back_take(&q->rb, q->reqs, q->nr_ents);
    if (n < 0)
        return n;
    /* Never more in flight than the ring has slots: position = context. */
    if (q->cp != NULL)
        blkback_copy_dispatch(q, (unsigned)n, first);
    for (i = 0; q->cp == NULL && i < n; i++)
        blkback_queue_dispatch(q, &q->reqs[i],
                               (first + (uint32_t)i) & (q->nr_ents - 1));
    if (n > 0) {
        q->st.requests += (unsigned)n;
        q->st.passes++;
    }
    if (q->cp != NULL)
        blkback_copy_start(q); /* also what waited for buffers */
    else if (n > 0)
        blkback_queue_start_pass(q);
    err = blkback_io_submit(&q->io);
    if (err < 0)
        return err;
    more = blkback_queue_collect(q, wait && n == 0 && done == 0 &&
                                        q->inflight > 0);
    if (more < 0)
        return more;
    if (q->dev->persistent)
        blkback_pgrant_purge(&q->pg, q->now_ms, BLKBACK_PGRANT_IDLE_MS);
    blkback_queue_answer(q);
    blkback_queue_push(q);
    return n + done + more;
}

/* Wait for every request in flight and answer it (if the ring allows). */
void blkback_queue_drain(struct blkback_queue *q)
{
    while (q->inflight > 0 && blkback_queue_reap(q, true) >= 0)
        ;
    blkback_queue_answer(q);
    blkback_queue_push(q);
}

/*
 * Busy-poll instead of sleeping while the queue was busy less than
 * q->spin_ns ago: true to run another pass now. The ring's req_event is
 * not re-armed meanwhile, so the frontend does not notify (no event
 * channel send, no wake-up on either side) for the requests this picks up;
 * io_uring completions are peeked the same way. Once a whole window passes
 * with nothing taken or completed the thread sleeps: an idle queue costs no
 * CPU. Only while the frontend sleeps between responses (it asked to be
 * notified of each of the last BLKBACK_SPIN_AFTER pushes, as Linux
 * blkfront always does): a frontend that polls its ring itself leaves
 * rsp_event alone, and two spinners on the same CPUs only take turns
 * preempting each other. Polite: each look yields the CPU to whatever else
 * is runnable on it (the frontend, the kernel's io_uring worker doing our
 * reads), which on a small host is what the response waits for; with
 * nothing else to run sched_yield() returns at once. (blkbench random
 * 4 KiB QD32 against a sleeping frontend, one run on 2 CPUs: pause-only
 * spin 0.73x fio, yielding spin 1.02x.) The clock is read once in
 * BLKBACK_SPIN_STRIDE looks: in a PV domain each read is a system call,
 * which halved the rate of looks (bench-xen 64 KiB, one A/B run: +20%).
 */
static bool blkback_queue_spin(struct blkback_queue *q, uint64_t busy_ns)
{
    if (q->spin_ns == 0 || q->peer_sleeps < BLKBACK_SPIN_AFTER ||
        (++q->spins % BLKBACK_SPIN_STRIDE == 0 &&
         blkback_queue_clock_ns() - busy_ns >= q->spin_ns))
        return false;
    sched_yield();
    return true;
}

/*
 * The window after a sleep of slept_ns (KVM's halt-polling rule): woken
 * within dev->poll_us, a longer spin would have caught it: double the
 * window (from BLKBACK_SPIN_MIN_NS, up to poll_us). Slept longer, spinning
 * is wasted on this queue (I/O slower than the window, which would only
 * take the CPU from the kernel's io_uring workers doing it; a quiet
 * frontend): halve it.
 */
static void blkback_queue_adapt(struct blkback_queue *q, uint64_t slept_ns)
{
    uint64_t max = q->dev->poll_us * 1000ull;

    if (slept_ns > max)
        q->spin_ns /= 2;
    else if (q->spin_ns < BLKBACK_SPIN_MIN_NS)
        q->spin_ns = BLKBACK_SPIN_MIN_NS;
    else
        q->spin_ns *= 2;
    if (q->spin_ns > max)
        q->spin_ns = max;
}

/*
 * Sleep in the engine until a completion, the event channel or stop_fd
 * wakes the thread (they are the engine's watches). The sleep is timed
 * for the busy-poll window's rule, but while the window is shut only one
 * sleep in BLKBACK_SPIN_PROBE is (two clock reads a sleep are a cost
 * where the clock is a system call). 0 or -errno.
 */
static int blkback_queue_sleep(struct blkback_queue *q)
{
    bool timed = q->dev->poll_us != 0 &&
                 (q->spin_ns != 0 || ++q->sleeps % BLKBACK_SPIN_PROBE == 0);
    uint64_t t0 = timed ? blkback_queue_clock_ns() : 0;
    int ret = blkback_io_wait(&q->io);

    if (ret < 0)
        return ret;
    if (timed)
        blkback_queue_adapt(q, blkback_queue_clock_ns() - t0);
    return 0;
}

/*
 * The queue's thread: passes until the ring is idle (and, for poll_us,
 * busy-polls after activity), then sleeps on the event channel, the
 * engine's completions and stop_fd (readable: stop). In-flight requests
 * are answered before it returns 0, -EPROTO for a broken ring, or another
 * -errno.
 */
int blkback_queue_run(struct blkback_queue *q, int stop_fd)
{
    uint64_t busy_ns = 0;
    int ret;

    ret = blkback_io_watch(&q->io, BLKBACK_WATCH_EVTCHN, plat_evtchn_fd(q->ec));
    if (ret == 0)
        ret = blkback_io_watch(&q->io, BLKBACK_WATCH_STOP, stop_fd);
    if (ret < 0)
        return ret;
    q->spin_ns = q->dev->poll_us * 1000ull;
    for (;;) {
        ret = blkback_queue_pass(q, false);
        if (ret < 0)
            break;
        if (blkback_io_fired(&q->io, 1u << BLKBACK_WATCH_STOP)) {
            ret = 0;
            break;
        }
        if (ret > 0) {
            if (q->spin_ns != 0)
                busy_ns = blkback_queue_clock_ns();
            continue;
        }
        if (blkback_queue_spin(q, busy_ns))
            continue;
        ret = ringbuf_back_final_check(&q->rb);
        if (ret < 0)
            break;
        if (ret > 0)
            continue;
        ret = blkback_queue_sleep(q);
        if (ret < 0)
            break;
    }
    if (ret == -EPROTO)
        fprintf(stderr, "%s: frontend broke the ring: disconnecting\n",
                q->name);
    else if (ret < 0)
        fprintf(stderr, "%s: storage engine: %s: disconnecting\n", q->name,
                strerror(-ret));
    blkback_queue_drain(q);
    return ret;
}

/* ------------------------------------------------------- open and close */

/* The per-request arrays, sized by the ring. 0 or -ENOMEM. */
static int blkback_queue_alloc(struct blkback_queue *q)
{
    size_t nsegs = (size_t)q->nr_ents * q->max_segs;
    uint32_t i, nr_ranges = q->nr_ents + 2;

    q->reqs = calloc(q->nr_ents, sizeof(*q->reqs));
    q->pend = calloc(q->nr_ents, sizeof(*q->pend));
    q->segs = calloc(nsegs, sizeof(*q->segs));
    q->pages = calloc(nsegs, sizeof(*q->pages));
    q->kinds = calloc(nsegs, sizeof(*q->kinds));
    q->ranges = calloc(nr_ranges, sizeof(*q->ranges));
    q->range_free = calloc(nr_ranges, sizeof(*q->range_free));
    q->batch[0] = calloc(BLKBACK_MAP_BATCH, sizeof(grant_ref_t));
    q->batch[1] = calloc(BLKBACK_MAP_BATCH, sizeof(grant_ref_t));
    q->pass = calloc(q->nr_ents, sizeof(*q->pass));
    q->iov = calloc(q->max_segs, sizeof(*q->iov));
    q->ind = calloc(BLKBACK_MAX_SEGS, sizeof(*q->ind));
    q->done = calloc(q->nr_ents, sizeof(*q->done));
    if (!q->reqs || !q->pend || !q->segs || !q->pages || !q->kinds ||
        !q->ranges || !q->range_free || !q->batch[0] || !q->batch[1] ||
        !q->pass || !q->iov || !q->ind || !q->done)
        return -ENOMEM;
    for (i = 0; i < q->nr_ents; i++) {
        q->pend[i].segs = &q->segs[(size_t)i * q->max_segs];
        q->pend[i].pages = &q->pages[(size_t)i * q->max_segs];
        q->pend[i].kinds = &q->kinds[(size_t)i * q->max_segs];
    }
    for (i = 0; i < nr_ranges; i++)
        q->range_free[i] = nr_ranges - 1 - i;
    q->nr_range_free = nr_ranges;
    q->open[0] = q->open[1] = BLKBACK_NONE;
    return 0;
}

/*
 * Map the ring, bind the port, attach; with the device's journal, queue
 * index's part of it journals the ring (on adopt it supplies the requests
 * the dead worker took). Failures are the frontend's.
 */
static int blkback_queue_connect(struct blkback_queue *q, unsigned index,
                                 const struct blkback_queue_cfg *cfg,
                                 bool adopt)
{
    int ret;

    q->peer_fault = true;
    ret = plat_gnttab_map(q->gt, q->dev->fe, 1u << cfg->order, cfg->refs, true,
                          &q->sring);
    if (ret < 0) {
        q->sring = NULL;
        fprintf(stderr, "%s: cannot map ring-ref %u (order %u): %s\n", q->name,
                cfg->refs[0], cfg->order, strerror(-ret));
        return ret;
    }
    q->order = cfg->order;
    ret = plat_evtchn_bind_interdomain(q->ec, q->dev->fe, cfg->port, &q->port);
    if (ret < 0) {
        q->port = 0;
        fprintf(stderr, "%s: cannot bind event-channel %u: %s\n", q->name,
                cfg->port, strerror(-ret));
        return ret;
    }
    if (adopt)
        ret = ringbuf_back_attach(&q->rb, q->sring, q->order,
                                  sizeof(blkif_request_t),
                                  sizeof(blkif_response_t));
    else
        ret = ringbuf_back_init(&q->rb, q->sring, q->order,
                                sizeof(blkif_request_t),
                                sizeof(blkif_response_t));
    if (ret >= 0 && q->dev->journal != NULL)
        ret = ringbuf_back_journal(
            &q->rb, q->dev->journal + (size_t)index * BLKBACK_JOURNAL_SLOT,
            adopt);
    if (ret < 0) {
        fprintf(stderr, "%s: ring unusable: %s\n", q->name, strerror(-ret));
        return ret;
    }
    if (adopt && q->dev->journal != NULL)
        fprintf(stderr, "%s: %d request(s) taken before the restart\n", q->name,
                ret);
    /* The dead worker may have published responses and been killed before
     * it notified: the frontend would wait for that event for ever. One
     * event now (a spurious one is harmless: the frontend checks its
     * ring). */
    if (adopt)
        plat_evtchn_notify(q->ec, q->port);
    q->peer_fault = false;
    return 0;
}

/*
 * Set up queue index (of nr_queues) of dev on the frontend's ring cfg:
 * platform handles, ring mapped and attached (adopt: a ring in use),
 * engine and every per-request array. Returns 0 or -errno, with
 * q->peer_fault set when the frontend's refs, port or ring are at fault.
 * blkback_queue_close() is the cleanup either way.
 */
int blkback_queue_open(struct blkback_queue *q, struct blkback_dev *dev,
                       unsigned index, unsigned nr_queues,
                       const struct blkback_queue_cfg *cfg, bool adopt)
{
    int ret;

    memset(q, 0, sizeof(*q));
    q->dev = dev;
    if (nr_queues > 1)
        snprintf(q->name, sizeof(q->name), "%s q%u", dev->name, index);
    else
        snprintf(q->name, sizeof(q->name), "%s", dev->name);
    ret = plat_gnttab_open(&q->gt);
    if (ret == 0)
        ret = plat_evtchn_open(&q->ec);
    if (ret < 0) {
        fprintf(stderr, "%s: platform: %s\n", q->name, strerror(-ret));
        return ret;
    }
    ret = blkback_queue_connect(q, index, cfg, adopt);
    if (ret < 0)
        return ret;
    q->nr_ents = q->rb.nr_ents;
    q->max_segs = dev->geom.max_indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST
                      ? dev->geom.max_indirect
                      : BLKIF_MAX_SEGMENTS_PER_REQUEST;
    ret = blkback_io_clone(&q->io, dev->disk, q->nr_ents, q->max_segs);
    q->io_ready = true;
    if (ret < 0) {
        fprintf(stderr, "%s: %s\n", q->name, q->io.msg);
        return ret;
    }
    if (dev->persistent) {
        ret = blkback_pgrant_init(&q->pg, dev->max_pgrants,
                                  blkback_queue_pg_unmap, q);
        if (ret < 0)
            return ret;
    }
    ret = blkback_queue_alloc(q);
    if (ret == 0 && dev->copy)
        ret = blkback_copy_open(q);
    if (ret < 0)
        fprintf(stderr, "%s: out of memory for %u requests\n", q->name,
                q->nr_ents);
    return ret;
}

static void blkback_queue_free_arrays(struct blkback_queue *q)
{
    void **arrays[] = {
        (void **)&q->reqs,       (void **)&q->pend,     (void **)&q->segs,
        (void **)&q->pages,      (void **)&q->kinds,    (void **)&q->ranges,
        (void **)&q->range_free, (void **)&q->batch[0], (void **)&q->batch[1],
        (void **)&q->pass,       (void **)&q->iov,      (void **)&q->ind,
        (void **)&q->done,
    };
    size_t i;

    for (i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
        free(*arrays[i]);
        *arrays[i] = NULL;
    }
}

/* Release everything; nothing may be in flight (see drain). Idempotent. */
void blkback_queue_close(struct blkback_queue *q)
{
    if (q->io_ready)
        blkback_io_close(&q->io);
    q->io_ready = false;
    blkback_copy_close(q);
    blkback_pgrant_destroy(&q->pg);
    if (q->port)
        plat_evtchn_unbind(q->ec, q->port);
    q->port = 0;
    if (q->sring)
        plat_gnttab_unmap(q->gt, q->sring, 1u << q->order);
    q->sring = NULL;
    if (q->ec)
        plat_evtchn_close(q->ec);
    if (q->gt)
        plat_gnttab_close(q->gt);
    q->ec = NULL;
    q->gt = NULL;
    blkback_queue_free_arrays(q);
}
