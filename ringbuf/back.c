/*
 * ringbuf back end: consumes requests a (possibly hostile) front end
 * produces and publishes responses, following xen/io/ring.h's protocol.
 *
 * Invariants (ours, not the peer's): rsp_pushed <= rsp_prod_pvt <= req_cons
 * and req_cons - rsp_prod_pvt <= nr_ents, all modulo 2^32. The peer's
 * req_prod is checked against them on every read. With a journal, also
 * req_cons <= jnl_cons <= req_prod and jnl_cons - rsp_pushed <= nr_ents.
 *
 * The journal's crash consistency: a back end can be killed at any
 * instruction. A take first copies ring slots [jnl_cons, end) into the
 * journal, then (write barrier) advances the journal's req_cons to end, then
 * hands out copies from the journal. Killed before the advance, the journal
 * still says jnl_cons: those requests are taken from the ring again, whose
 * slots no response can have touched (a response is only put for a request
 * already taken). Killed after it, the copies are complete. A journal entry
 * is overwritten only by the request nr_ents later, which is taken only once
 * rsp_prod (published) has passed the entry's request: so every entry in
 * [rsp_prod, req_cons) of the journal is intact at any instant.
 */
#include "config.h"

#include <errno.h>

#include "ringbuf/ringbuf-internal.h"

static int back_setup(struct ringbuf_back *r, void *sring, unsigned int order,
                      size_t req_size, size_t rsp_size, RING_IDX start)
{
    uint32_t nr_ents, ent_size;
    int rc;

    rc = ringbuf_geometry(order, req_size, rsp_size, &nr_ents, &ent_size);
    if (rc < 0)
        return rc;
    r->sring = sring;
    r->ents = (uint8_t *)sring + RINGBUF_HDR_SIZE;
    r->req_cons = start;
    r->rsp_prod_pvt = start;
    r->rsp_pushed = start;
    r->nr_ents = nr_ents;
    r->ent_size = ent_size;
    r->req_size = (uint32_t)req_size;
    r->rsp_size = (uint32_t)rsp_size;
    r->broken = false;
    r->jnl = NULL;
    r->jnl_cons = start;
    return 0;
}

int ringbuf_back_init(struct ringbuf_back *r, void *sring, unsigned int order,
                      size_t req_size, size_t rsp_size)
{
    return back_setup(r, sring, order, req_size, rsp_size, 0);
}

int ringbuf_back_attach(struct ringbuf_back *r, void *sring, unsigned int order,
                        size_t req_size, size_t rsp_size)
{
    struct ringbuf_generic_sring *s = sring;
    RING_IDX rsp_prod, req_prod;
    int rc;

    /* Our own last published response index: every request before it has
     * been answered, so that is where consumption resumes. */
    rsp_prod = ringbuf_read_idx(&s->rsp_prod);
    req_prod = ringbuf_read_idx(&s->req_prod);
    rc = back_setup(r, sring, order, req_size, rsp_size, rsp_prod);
    if (rc < 0)
        return rc;
    if (req_prod - rsp_prod > r->nr_ents) {
        r->broken = true;
        return -EPROTO;
    }
    return 0;
}

/*
 * Requests the peer has published and we may take: reads req_prod once and
 * checks it. A producer index more than RING_SIZE past our last response
 * (RING_REQUEST_PROD_OVERFLOW), or behind what we already consumed, cannot
 * come from a correct front end: the ring is broken.
 */
static int back_pending(struct ringbuf_back *r)
{
    struct ringbuf_generic_sring *s = r->sring;
    RING_IDX prod, total, in_flight;

    prod = ringbuf_read_idx(&s->req_prod);
    /* Read barrier: req_prod is read before the request slots it covers. */
    xen_rmb();
    total = prod - r->rsp_prod_pvt;
    in_flight = r->req_cons - r->rsp_prod_pvt;
    /* With a journal, requests up to jnl_cons were published before. */
    if (total > r->nr_ents || total < in_flight ||
        (r->jnl && total < r->jnl_cons - r->rsp_prod_pvt)) {
        r->broken = true;
        return -EPROTO;
    }
    return (int)(total - in_flight);
}

/* The journal's header. */
static struct ringbuf_journal *back_jhdr(const struct ringbuf_back *r)
{
    return r->jnl;
}

/* The journal's first entry (entry i mod nr_ents holds request i). */
static uint8_t *back_jents(const struct ringbuf_back *r)
{
    return (uint8_t *)r->jnl + sizeof(struct ringbuf_journal);
}

size_t ringbuf_journal_size(unsigned int order, size_t req_size,
                            size_t rsp_size)
{
    uint32_t nr_ents, ent_size;

    if (ringbuf_geometry(order, req_size, rsp_size, &nr_ents, &ent_size) < 0)
        return 0;
    return sizeof(struct ringbuf_journal) + (size_t)nr_ents * req_size;
}

/* An empty journal starting at the ring's req_cons. */
static void back_journal_reset(struct ringbuf_back *r)
{
    struct ringbuf_journal *j = back_jhdr(r);

    /* magic is cleared first and set last (write barriers between): a
     * back end killed half-way leaves a journal its successor ignores. */
    ringbuf_write_idx(&j->magic, 0);
    xen_wmb();
    j->nr_ents = r->nr_ents;
    j->req_size = r->req_size;
    ringbuf_write_idx(&j->req_cons, r->req_cons);
    xen_wmb();
    ringbuf_write_idx(&j->magic, RINGBUF_JOURNAL_MAGIC);
    r->jnl_cons = r->req_cons;
}

int ringbuf_back_journal(struct ringbuf_back *r, void *journal, bool adopt)
{
    struct ringbuf_generic_sring *s = r->sring;
    struct ringbuf_journal *j = journal;
    RING_IDX cons, prod;

    if (r->broken)
        return -EPROTO;
    r->jnl = journal;
    cons = ringbuf_read_idx(&j->req_cons);
    prod = ringbuf_read_idx(&s->req_prod);
    /* Valid for this ring: same geometry, and an index between our
     * published responses and the requests the peer published. */
    if (!adopt || ringbuf_read_idx(&j->magic) != RINGBUF_JOURNAL_MAGIC ||
        j->nr_ents != r->nr_ents || j->req_size != r->req_size ||
        cons - r->req_cons > prod - r->req_cons) {
        back_journal_reset(r);
        return 0;
    }
    r->jnl_cons = cons;
    return (int)(cons - r->req_cons);
}

/*
 * Take n requests through the journal: ring slots not yet journalled are
 * copied in, the journal's req_cons advances, then the n copies go out of
 * the journal to reqs (see the file comment for why in this order).
 */
static void back_take_journal(struct ringbuf_back *r, uint8_t *reqs,
                              unsigned int n)
{
    struct ringbuf_journal *j = back_jhdr(r);
    RING_IDX end = r->req_cons + n, i;

    for (i = r->jnl_cons; end - i - 1 < n; i++)
        memcpy(ringbuf_slot(back_jents(r), r->nr_ents, r->req_size, i),
               ringbuf_slot(r->ents, r->nr_ents, r->ent_size, i), r->req_size);
    if (r->jnl_cons - r->req_cons < n) {
        /* Write barrier: the copies are in the journal before its req_cons
         * says so (orders the stores for whoever reads the journal after
         * us; within this thread it is also a compiler barrier). */
        xen_wmb();
        ringbuf_write_idx(&j->req_cons, end);
        r->jnl_cons = end;
    }
    ringbuf_copy_out(reqs, back_jents(r), r->nr_ents, r->req_size, r->req_cons,
                     n, r->req_size);
}

int ringbuf_back_take(struct ringbuf_back *r, void *reqs, unsigned int max)
{
    unsigned int n, room;
    int avail;

    if (r->broken)
        return -EPROTO;
    avail = back_pending(r);
    if (avail <= 0)
        return avail;
    n = (unsigned int)avail < max ? (unsigned int)avail : max;
    if (r->jnl) {
        /* A journal entry is reused only once its request's response is
         * published (not merely put). */
        room = r->nr_ents - (r->req_cons - r->rsp_pushed);
        n = n < room ? n : room;
        if (n == 0)
            return 0;
        back_take_journal(r, reqs, n);
    } else {
        ringbuf_copy_out(reqs, r->ents, r->nr_ents, r->ent_size, r->req_cons, n,
                         r->req_size);
    }
    r->req_cons += n;
    return (int)n;
}

int ringbuf_back_put(struct ringbuf_back *r, const void *rsp)
{
    if (r->broken)
        return -EPROTO;
    if (r->rsp_prod_pvt == r->req_cons)
        return -ENOSPC;
    memcpy(ringbuf_slot(r->ents, r->nr_ents, r->ent_size, r->rsp_prod_pvt), rsp,
           r->rsp_size);
    r->rsp_prod_pvt++;
    return 0;
}

bool ringbuf_back_push(struct ringbuf_back *r)
{
    struct ringbuf_generic_sring *s = r->sring;
    RING_IDX old = r->rsp_pushed, new = r->rsp_prod_pvt, event;

    if (r->broken || old == new)
        return false;
    /* Write barrier: the response slots are written before rsp_prod
     * publishes them. */
    xen_wmb();
    ringbuf_write_idx(&s->rsp_prod, new);
    r->rsp_pushed = new;
    /* Full barrier: rsp_prod is visible before we read rsp_event; pairs with
     * the barrier in the front end's final check (write rsp_event, then
     * read rsp_prod), so one of us sees the other's write. */
    xen_mb();
    event = ringbuf_read_idx(&s->rsp_event);
    return (RING_IDX)(new - event) < (RING_IDX)(new - old);
}

int ringbuf_back_final_check(struct ringbuf_back *r)
{
    struct ringbuf_generic_sring *s = r->sring;
    int avail;

    if (r->broken)
        return -EPROTO;
    avail = back_pending(r);
    if (avail != 0)
        return avail;
    /* Ask to be notified about the very next request. */
    ringbuf_write_idx(&s->req_event, r->req_cons + 1);
    /* Full barrier: req_event is visible before we re-read req_prod; pairs
     * with the front end's push (write req_prod, then read req_event), so a
     * request published meanwhile is either seen here or notified. */
    xen_mb();
    return back_pending(r);
}
