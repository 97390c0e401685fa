/*
 * ringbuf geometry: ring-page-order validation and RING_SIZE for any pair of
 * request/response sizes, computed exactly as ring.h's __RING_SIZE does.
 */
#include "config.h"

#include <errno.h>

#include "ringbuf/ringbuf-internal.h"

int ringbuf_order_pages(unsigned int order)
{
    if (order > RINGBUF_MAX_ORDER)
        return -EINVAL;
    return 1 << order;
}

int ringbuf_geometry(unsigned int order, size_t req_size, size_t rsp_size,
                     uint32_t *nr_ents, uint32_t *ent_size)
{
    size_t bytes, ent = req_size > rsp_size ? req_size : rsp_size;
    uint32_t slots;

    if (order > RINGBUF_MAX_ORDER || req_size == 0 || rsp_size == 0)
        return -EINVAL;
    bytes = (size_t)RINGBUF_PAGE_SIZE << order;
    if (ent > bytes - RINGBUF_HDR_SIZE)
        return -EINVAL;
    slots = (uint32_t)((bytes - RINGBUF_HDR_SIZE) / ent);
    *nr_ents = __RD32(slots);
    *ent_size = (uint32_t)ent;
    return 0;
}

int ringbuf_ring_size(unsigned int order, size_t req_size, size_t rsp_size)
{
    uint32_t nr_ents, ent_size;
    int rc;

    rc = ringbuf_geometry(order, req_size, rsp_size, &nr_ents, &ent_size);
    if (rc < 0)
        return rc;
    return (int)nr_ents;
}
