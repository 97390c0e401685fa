/*
 * ringbuf front end: produces requests and consumes the responses of a
 * (possibly hostile) back end, following xen/io/ring.h's protocol.
 *
 * Invariants (ours): rsp_cons <= req_pushed <= req_prod_pvt and
 * req_prod_pvt - rsp_cons <= nr_ents, modulo 2^32. The peer's rsp_prod may
 * not run past the requests we published.
 */
#include "config.h"

#include <errno.h>

#include "ringbuf/ringbuf-internal.h"

int ringbuf_front_init(struct ringbuf_front *r, void *sring, unsigned int order,
                       size_t req_size, size_t rsp_size)
{
    struct ringbuf_generic_sring *s = sring;
    uint32_t nr_ents, ent_size;
    int rc;

    rc = ringbuf_geometry(order, req_size, rsp_size, &nr_ents, &ent_size);
    if (rc < 0)
        return rc;
    /* Indexes 0, event indexes 1: the first message each way notifies. */
    SHARED_RING_INIT(s);
    r->sring = sring;
    r->ents = (uint8_t *)sring + RINGBUF_HDR_SIZE;
    r->req_prod_pvt = 0;
    r->req_pushed = 0;
    r->rsp_cons = 0;
    r->nr_ents = nr_ents;
    r->ent_size = ent_size;
    r->req_size = (uint32_t)req_size;
    r->rsp_size = (uint32_t)rsp_size;
    r->broken = false;
    return 0;
}

unsigned int ringbuf_front_free(const struct ringbuf_front *r)
{
    return r->nr_ents - (r->req_prod_pvt - r->rsp_cons);
}

int ringbuf_front_put(struct ringbuf_front *r, const void *req)
{
    if (r->broken)
        return -EPROTO;
    if (ringbuf_front_free(r) == 0)
        return -ENOSPC;
    memcpy(ringbuf_slot(r->ents, r->nr_ents, r->ent_size, r->req_prod_pvt), req,
           r->req_size);
    r->req_prod_pvt++;
    return 0;
}

bool ringbuf_front_push(struct ringbuf_front *r)
{
    struct ringbuf_generic_sring *s = r->sring;
    RING_IDX old = r->req_pushed, new = r->req_prod_pvt, event;

    if (r->broken || old == new)
        return false;
    /* Write barrier: the request slots are written before req_prod
     * publishes them. */
    xen_wmb();
    ringbuf_write_idx(&s->req_prod, new);
    r->req_pushed = new;
    /* Full barrier: req_prod is visible before we read req_event; pairs with
     * the barrier in the back end's final check (write req_event, then read
     * req_prod), so one of us sees the other's write. */
    xen_mb();
    event = ringbuf_read_idx(&s->req_event);
    return (RING_IDX)(new - event) < (RING_IDX)(new - old);
}

/*
 * Responses the peer has published: reads rsp_prod once and checks it. More
 * responses than we have requests outstanding (RING_RESPONSE_PROD_OVERFLOW,
 * tightened to the published requests), or an index behind rsp_cons, means
 * a broken back end.
 */
static int front_pending(struct ringbuf_front *r)
{
    struct ringbuf_generic_sring *s = r->sring;
    RING_IDX prod, avail;

    prod = ringbuf_read_idx(&s->rsp_prod);
    /* Read barrier: rsp_prod is read before the response slots it covers. */
    xen_rmb();
    avail = prod - r->rsp_cons;
    if (avail > r->req_pushed - r->rsp_cons) {
        r->broken = true;
        return -EPROTO;
    }
    return (int)avail;
}

int ringbuf_front_take(struct ringbuf_front *r, void *rsps, unsigned int max)
{
    int avail;
    unsigned int n;

    if (r->broken)
        return -EPROTO;
    avail = front_pending(r);
    if (avail <= 0)
        return avail;
    n = (unsigned int)avail < max ? (unsigned int)avail : max;
    ringbuf_copy_out(rsps, r->ents, r->nr_ents, r->ent_size, r->rsp_cons, n,
                     r->rsp_size);
    r->rsp_cons += n;
    return (int)n;
}

int ringbuf_front_final_check(struct ringbuf_front *r)
{
    struct ringbuf_generic_sring *s = r->sring;
    int avail;

    if (r->broken)
        return -EPROTO;
    avail = front_pending(r);
    if (avail != 0)
        return avail;
    /* Ask to be notified about the very next response. */
    ringbuf_write_idx(&s->rsp_event, r->rsp_cons + 1);
    /* Full barrier: rsp_event is visible before we re-read rsp_prod; pairs
     * with the back end's push (write rsp_prod, then read rsp_event). */
    xen_mb();
    return front_pending(r);
}
