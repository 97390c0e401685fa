/*
 * pgrant.c - the persistent-grant cache of one blkif ring.
 *
 * With feature-persistent the frontend reuses a fixed set of grants, so the
 * backend keeps them mapped: a bounded map gref -> mapped page. Everything
 * is allocated by blkback_pgrant_init(); lookups, inserts and releases are
 * O(1) (a chained hash on preallocated entries, an intrusive LRU list) and
 * never allocate.
 *
 * Policy, after Linux xen-blkback (purge_persistent_gnt):
 *  - at most `max` grants are kept; when full, add() refuses (-ENOSPC) and
 *    marks the cache as overflowing: the worker maps that grant for this
 *    request only, as Linux does;
 *  - grants in use by a request are never evicted; unused ones sit on an
 *    LRU list in the order they were last released;
 *  - purge(), which the worker calls once per ring pass, unmaps the unused
 *    grants idle for longer than `idle`, then, if the cache overflowed, at
 *    least BLKBACK_PGRANT_PURGE_PERCENT of the bound more, oldest first,
 *    handing them to the caller's unmap callback in batches.
 * Linux approximates LRU by scanning a tree; this is an exact LRU list.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "backend/blk/blkback-internal.h"

static uint32_t blkback_pgrant_hash(const struct blkback_pgrant_cache *c,
                                    grant_ref_t gref)
{
    /* Fibonacci hashing: grefs are small consecutive integers. */
    return (uint32_t)(gref * 2654435761u) & (c->nbuckets - 1);
}

/* Index of gref's entry, or BLKBACK_PGRANT_NONE. */
static uint32_t blkback_pgrant_find(const struct blkback_pgrant_cache *c,
                                    grant_ref_t gref)
{
    uint32_t i = c->buckets[blkback_pgrant_hash(c, gref)];

    while (i != BLKBACK_PGRANT_NONE && c->ents[i].gref != gref)
        i = c->ents[i].hnext;
    return i;
}

static void blkback_pgrant_lru_unlink(struct blkback_pgrant_cache *c,
                                      uint32_t i)
{
    struct blkback_pgrant *e = &c->ents[i];

    if (e->prev != BLKBACK_PGRANT_NONE)
        c->ents[e->prev].next = e->next;
    else
        c->lru_head = e->next;
    if (e->next != BLKBACK_PGRANT_NONE)
        c->ents[e->next].prev = e->prev;
    else
        c->lru_tail = e->prev;
    e->prev = e->next = BLKBACK_PGRANT_NONE;
}

static void blkback_pgrant_lru_append(struct blkback_pgrant_cache *c,
                                      uint32_t i)
{
    struct blkback_pgrant *e = &c->ents[i];

    e->prev = c->lru_tail;
    e->next = BLKBACK_PGRANT_NONE;
    if (c->lru_tail != BLKBACK_PGRANT_NONE)
        c->ents[c->lru_tail].next = i;
    else
        c->lru_head = i;
    c->lru_tail = i;
}

/* Take entry i out of the hash and put it on the free list. */
static void blkback_pgrant_release(struct blkback_pgrant_cache *c, uint32_t i)
{
    uint32_t *link = &c->buckets[blkback_pgrant_hash(c, c->ents[i].gref)];

    while (*link != i)
        link = &c->ents[*link].hnext;
    *link = c->ents[i].hnext;
    c->ents[i].addr = NULL;
    c->ents[i].next = c->free_head;
    c->free_head = i;
    c->count--;
}

/*
 * Set up an empty cache for at most max grants. unmap is called for every
 * grant the cache lets go of. Returns 0 or -errno.
 */
int blkback_pgrant_init(struct blkback_pgrant_cache *c, uint32_t max,
                        blkback_pgrant_unmap_fn *unmap, void *opaque)
{
    uint32_t i;

    *c = (struct blkback_pgrant_cache){.free_head = BLKBACK_PGRANT_NONE,
                                       .lru_head = BLKBACK_PGRANT_NONE,
                                       .lru_tail = BLKBACK_PGRANT_NONE};
    if (max == 0 || max > (1u << 24) || unmap == NULL)
        return -EINVAL;
    c->nbuckets = 1;
    while (c->nbuckets < 2 * max)
        c->nbuckets <<= 1;
    c->ents = calloc(max, sizeof(*c->ents));
    if (c->ents == NULL)
        return -ENOMEM;
    c->buckets = malloc(c->nbuckets * sizeof(*c->buckets));
    if (c->buckets == NULL)
        goto free_ents;
    for (i = 0; i < c->nbuckets; i++)
        c->buckets[i] = BLKBACK_PGRANT_NONE;
    for (i = max; i-- > 0;) {
        c->ents[i].next = c->free_head;
        c->free_head = i;
    }
    c->max = max;
    c->unmap = unmap;
    c->opaque = opaque;
    return 0;

free_ents:
    free(c->ents);
    c->ents = NULL;
    return -ENOMEM;
}

/*
 * The mapped address of gref, now marked in use (release it with put()),
 * or NULL if gref is not cached.
 */
void *blkback_pgrant_get(struct blkback_pgrant_cache *c, grant_ref_t gref)
{
    uint32_t i = blkback_pgrant_find(c, gref);

    if (i == BLKBACK_PGRANT_NONE)
        return NULL;
    if (c->ents[i].users++ == 0)
        blkback_pgrant_lru_unlink(c, i);
    return c->ents[i].addr;
}

/*
 * Cache gref, just mapped at addr, in use by the caller (release it with
 * put()). Returns 0, -EEXIST if gref is cached already, or -ENOSPC if the
 * cache is full: the caller then unmaps the grant after the request, and
 * the next purge() makes room.
 */
int blkback_pgrant_add(struct blkback_pgrant_cache *c, grant_ref_t gref,
                       void *addr)
{
    struct blkback_pgrant *e;
    uint32_t i, h;

    if (blkback_pgrant_find(c, gref) != BLKBACK_PGRANT_NONE)
        return -EEXIST;
    if (c->count == c->max) {
        c->overflow = true;
        return -ENOSPC;
    }
    i = c->free_head;
    e = &c->ents[i];
    c->free_head = e->next;
    h = blkback_pgrant_hash(c, gref);
    *e = (struct blkback_pgrant){.gref = gref,
                                 .addr = addr,
                                 .users = 1,
                                 .hnext = c->buckets[h],
                                 .prev = BLKBACK_PGRANT_NONE,
                                 .next = BLKBACK_PGRANT_NONE};
    c->buckets[h] = i;
    c->count++;
    return 0;
}

/*
 * A request is done with gref; now is the caller's clock (any monotonic
 * unit, the same as purge()'s). Returns 0, -ENOENT if gref is not cached,
 * -EINVAL if it was not in use.
 */
int blkback_pgrant_put(struct blkback_pgrant_cache *c, grant_ref_t gref,
                       uint64_t now)
{
    uint32_t i = blkback_pgrant_find(c, gref);

    if (i == BLKBACK_PGRANT_NONE)
        return -ENOENT;
    if (c->ents[i].users == 0)
        return -EINVAL;
    if (--c->ents[i].users == 0) {
        c->ents[i].last_used = now;
        blkback_pgrant_lru_append(c, i);
    }
    return 0;
}

/* Evict up to n unused grants from the LRU head, stopping at the first one
 * used after `before` unless `all`. Returns the number evicted. */
static unsigned blkback_pgrant_evict(struct blkback_pgrant_cache *c, unsigned n,
                                     bool all, uint64_t before)
{
    grant_ref_t grefs[BLKBACK_PGRANT_BATCH];
    void *addrs[BLKBACK_PGRANT_BATCH];
    unsigned done = 0, nb = 0;
    uint32_t i;

    while (done < n && (i = c->lru_head) != BLKBACK_PGRANT_NONE) {
        if (!all && c->ents[i].last_used >= before)
            break;
        blkback_pgrant_lru_unlink(c, i);
        grefs[nb] = c->ents[i].gref;
        addrs[nb] = c->ents[i].addr;
        blkback_pgrant_release(c, i);
        done++;
        if (++nb == BLKBACK_PGRANT_BATCH) {
            c->unmap(c->opaque, grefs, addrs, nb);
            nb = 0;
        }
    }
    if (nb > 0)
        c->unmap(c->opaque, grefs, addrs, nb);
    return done;
}

/*
 * Unmap the unused grants idle for more than `idle` (0: no idle expiry) at
 * time now, and, if an add() was refused since the last purge, at least
 * BLKBACK_PGRANT_PURGE_PERCENT of the bound (one at least), least recently
 * used first. Grants in use stay. Returns the number of grants unmapped.
 */
unsigned blkback_pgrant_purge(struct blkback_pgrant_cache *c, uint64_t now,
                              uint64_t idle)
{
    unsigned done = 0, want = 0;

    if (idle != 0 && now > idle)
        done = blkback_pgrant_evict(c, c->max, false, now - idle);
    if (c->overflow) {
        want = c->max / 100 * BLKBACK_PGRANT_PURGE_PERCENT;
        if (want == 0)
            want = 1;
        c->overflow = false;
    }
    if (done < want)
        done += blkback_pgrant_evict(c, want - done, true, 0);
    return done;
}

/*
 * Unmap every grant and free the cache. The worker calls it once no
 * request is in flight. Safe to call twice, and after a failed init().
 */
void blkback_pgrant_destroy(struct blkback_pgrant_cache *c)
{
    uint32_t i;

    if (c->ents == NULL)
        return;
    for (i = 0; i < c->max; i++) {
        if (c->ents[i].users > 0) {
            c->ents[i].users = 0;
            blkback_pgrant_lru_append(c, i);
        }
    }
    blkback_pgrant_evict(c, c->max, true, 0);
    free(c->buckets);
    free(c->ents);
    c->buckets = NULL;
    c->ents = NULL;
    c->count = 0;
}
