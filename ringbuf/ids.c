/*
 * ringbuf request-id table: a front end's ids 0..n-1 and the check that a
 * response id from the back end is in range and pending, exactly once.
 * Allocation happens only in ringbuf_ids_init(); get/put are O(1).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "ringbuf/ringbuf-internal.h"

/* Largest table: netif ids are 16-bit. */
#define RINGBUF_IDS_MAX 65536u

int ringbuf_ids_init(struct ringbuf_ids *ids, unsigned int n)
{
    unsigned int i;

    ids->free = NULL;
    ids->pending = NULL;
    ids->n = 0;
    ids->nr_free = 0;
    if (n == 0 || n > RINGBUF_IDS_MAX)
        return -EINVAL;
    ids->free = calloc(n, sizeof(*ids->free));
    if (!ids->free)
        return -ENOMEM;
    ids->pending = calloc(n, sizeof(*ids->pending));
    if (!ids->pending)
        goto err_free_list;
    /* Stack top is the end: ids come out 0, 1, 2, ... */
    for (i = 0; i < n; i++)
        ids->free[i] = n - 1 - i;
    ids->n = n;
    ids->nr_free = n;
    return 0;

err_free_list:
    free(ids->free);
    ids->free = NULL;
    return -ENOMEM;
}

void ringbuf_ids_fini(struct ringbuf_ids *ids)
{
    free(ids->free);
    ids->free = NULL;
    free(ids->pending);
    ids->pending = NULL;
    ids->n = 0;
    ids->nr_free = 0;
}

int ringbuf_ids_get(struct ringbuf_ids *ids)
{
    uint32_t id;

    if (ids->nr_free == 0)
        return -ENOSPC;
    id = ids->free[--ids->nr_free];
    ids->pending[id] = 1;
    return (int)id;
}

int ringbuf_ids_put(struct ringbuf_ids *ids, uint64_t id)
{
    if (id >= ids->n || !ids->pending[id])
        return -EPROTO;
    ids->pending[id] = 0;
    ids->free[ids->nr_free++] = (uint32_t)id;
    return 0;
}
