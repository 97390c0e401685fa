/*
 * hmap.c: a string-keyed chained hash map (FNV-1a, power-of-two buckets,
 * doubling at load factor 1). Holds the node tree, transaction overlays and
 * the watch index.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/simhv/xenstored/xss-internal.h"

#define XSS_HMAP_MIN_BUCKETS 16u

static uint32_t xss_hmap_hash(const char *key)
{
    uint32_t h = 2166136261u;

    for (; *key; key++) {
        h ^= (unsigned char)*key;
        h *= 16777619u;
    }
    return h;
}

int xss_hmap_init(struct xss_hmap *m)
{
    m->bucket = calloc(XSS_HMAP_MIN_BUCKETS, sizeof(*m->bucket));
    if (!m->bucket)
        return -ENOMEM;
    m->nbuckets = XSS_HMAP_MIN_BUCKETS;
    m->count = 0;
    return 0;
}

void xss_hmap_fini(struct xss_hmap *m, void (*free_val)(void *))
{
    size_t i;
    struct xss_hent *e, *next;

    if (!m->bucket)
        return;
    for (i = 0; i < m->nbuckets; i++) {
        for (e = m->bucket[i]; e; e = next) {
            next = e->next;
            if (free_val)
                free_val(e->val);
            free(e->key);
            free(e);
        }
    }
    free(m->bucket);
    m->bucket = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

static struct xss_hent **xss_hmap_slot(const struct xss_hmap *m,
                                       const char *key, uint32_t hash)
{
    struct xss_hent **pe = &m->bucket[hash & (m->nbuckets - 1)];

    for (; *pe; pe = &(*pe)->next)
        if ((*pe)->hash == hash && !strcmp((*pe)->key, key))
            break;
    return pe;
}

void *xss_hmap_get(const struct xss_hmap *m, const char *key)
{
    struct xss_hent *e = *xss_hmap_slot(m, key, xss_hmap_hash(key));

    return e ? e->val : NULL;
}

static void xss_hmap_grow(struct xss_hmap *m)
{
    size_t i, nb = m->nbuckets * 2;
    struct xss_hent **b = calloc(nb, sizeof(*b));
    struct xss_hent *e, *next;

    if (!b)
        return; /* keep the longer chains */
    for (i = 0; i < m->nbuckets; i++) {
        for (e = m->bucket[i]; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(m->bucket);
    m->bucket = b;
    m->nbuckets = nb;
}

/* Insert or replace; the old value of a replaced key is the caller's. */
int xss_hmap_put(struct xss_hmap *m, const char *key, void *val)
{
    uint32_t hash = xss_hmap_hash(key);
    struct xss_hent **pe = xss_hmap_slot(m, key, hash);
    struct xss_hent *e;

    if (*pe) {
        (*pe)->val = val;
        return 0;
    }
    e = malloc(sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return -ENOMEM;
    }
    e->hash = hash;
    e->val = val;
    e->next = NULL;
    *pe = e;
    if (++m->count > m->nbuckets)
        xss_hmap_grow(m);
    return 0;
}

/* Remove @key; returns its value (NULL if absent). */
void *xss_hmap_del(struct xss_hmap *m, const char *key)
{
    struct xss_hent **pe = xss_hmap_slot(m, key, xss_hmap_hash(key));
    struct xss_hent *e = *pe;
    void *val;

    if (!e)
        return NULL;
    *pe = e->next;
    val = e->val;
    free(e->key);
    free(e);
    m->count--;
    return val;
}

void xss_hmap_foreach(const struct xss_hmap *m,
                      void (*fn)(const char *key, void *val, void *arg),
                      void *arg)
{
    size_t i;
    struct xss_hent *e;

    for (i = 0; i < m->nbuckets; i++)
        for (e = m->bucket[i]; e; e = e->next)
            fn(e->key, e->val, arg);
}
