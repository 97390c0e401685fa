/*
 * ringbuf private helpers: the generic shared-ring layout, index access,
 * barriers and slot copies shared by back.c and front.c.
 */
#ifndef DRVDOM_RINGBUF_INTERNAL_H
#define DRVDOM_RINGBUF_INTERNAL_H

#include <stddef.h>
#include <string.h>

/*
 * xenctrl.h gives user space Xen's barriers (xen_mb/xen_rmb/xen_wmb, on x86
 * a locked add and two compiler barriers) and declares us a tools build, so
 * ring.h does not define its own. Only its macros are used: nothing links
 * libxenctrl.
 */
#include <xenctrl.h>
#include <xen/io/ring.h>

#include "drvdom/ringbuf.h"

/*
 * The layout every DEFINE_RING_TYPES ring shares, with byte-sized entries:
 * only the header (req_prod, req_event, rsp_prod, rsp_event, pvt, __pad) is
 * used through this type; entries are addressed by ringbuf_slot().
 */
DEFINE_RING_TYPES(ringbuf_generic, uint8_t, uint8_t);

_Static_assert(offsetof(struct ringbuf_generic_sring, ring) == RINGBUF_HDR_SIZE,
               "ring.h header is not 64 bytes");
_Static_assert(sizeof(RING_IDX) == sizeof(uint32_t), "RING_IDX is 32-bit");

/*
 * Read a shared index exactly once (the peer may change it under us); the
 * ordering around it comes from the explicit barriers at each call site.
 */
static inline RING_IDX ringbuf_read_idx(const RING_IDX *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Write a shared index exactly once, untorn. */
static inline void ringbuf_write_idx(RING_IDX *p, RING_IDX v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Address of the entry for index idx (nr_ents is a power of two). */
static inline uint8_t *ringbuf_slot(uint8_t *ents, uint32_t nr_ents,
                                    uint32_t ent_size, RING_IDX idx)
{
    return ents + (size_t)(idx & (nr_ents - 1)) * ent_size;
}

/*
 * Copy n entries starting at index first out of the shared ring into dst,
 * size bytes each, packed. When entries are packed in the ring too (size ==
 * ent_size) the copy is at most two runs around the wrap.
 */
static inline void ringbuf_copy_out(uint8_t *dst, uint8_t *ents,
                                    uint32_t nr_ents, uint32_t ent_size,
                                    RING_IDX first, unsigned int n,
                                    uint32_t size)
{
    uint32_t off = first & (nr_ents - 1);
    unsigned int run, i;

    if (size == ent_size) {
        run = nr_ents - off < n ? nr_ents - off : n;
        memcpy(dst, ents + (size_t)off * ent_size, (size_t)run * size);
        memcpy(dst + (size_t)run * size, ents, (size_t)(n - run) * size);
    } else {
        for (i = 0; i < n; i++)
            memcpy(dst + (size_t)i * size,
                   ringbuf_slot(ents, nr_ents, ent_size, first + i), size);
    }
    /*
     * Compiler barrier: the copies above are complete and the compiler may
     * not later re-read a shared slot in place of the private copy (the
     * same guarantee RING_COPY_REQUEST gets from its volatile read).
     */
    xen_barrier();
}

/*
 * Geometry of a ring: checks the order and sizes and returns RING_SIZE in
 * *nr_ents and max(req, rsp) in *ent_size. 0 or -EINVAL.
 */
int ringbuf_geometry(unsigned int order, size_t req_size, size_t rsp_size,
                     uint32_t *nr_ents, uint32_t *ent_size);

#endif /* DRVDOM_RINGBUF_INTERNAL_H */
