/*
 * drvdom-simhv grants: refs and frames allocated for sharing (the role of
 * the guest's gntalloc), mapping with Xen's checks and in-use marking
 * (GTF_reading / GTF_writing, pin counts), and grant copy validated per
 * segment with Xen's GNTST_* codes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tools/simhv/simhv.h"

#define SIMHV_REF_FIRST   8u /* refs below are reserved, as in Linux */
#define SIMHV_GNT_RETRIES 8  /* cmpxchg attempts against a busy granter */

static void simhv_share_release(struct simhv_dom *d, grant_ref_t ref)
{
    uint32_t frame = d->ref_frame[ref];

    __atomic_store_n(simhv_gnt_word(&d->gt[ref]), 0, __ATOMIC_RELEASE);
    /* Give the page back, zeroed, to the next share. */
    fallocate(d->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              (off_t)frame * SIMHV_PAGE_SIZE, SIMHV_PAGE_SIZE);
    d->frame_used[frame] = 0;
    d->ref_owner[ref] = SIMHV_REF_FREE;
    d->hv->stats.shares--;
}

static int simhv_frames_find(const struct simhv_dom *d, uint32_t count,
                             uint32_t *first)
{
    uint32_t f, run = 0;

    for (f = 0; f < SIMHV_RAM_PAGES; f++) {
        run = d->frame_used[f] ? 0 : run + 1;
        if (run == count) {
            *first = f + 1 - count;
            return 0;
        }
    }
    return -ENOMEM;
}

int simhv_share_alloc(struct simhv_conn *c, uint32_t count, grant_ref_t *refs,
                      uint32_t *frame)
{
    struct simhv_dom *d = c->dom;
    grant_ref_t ref;
    uint32_t i = 0;

    if (!count)
        return -EINVAL;
    if (simhv_frames_find(d, count, frame))
        return -ENOMEM;
    for (ref = SIMHV_REF_FIRST; ref < SIMHV_GNTTAB_ENTRIES && i < count;
         ref++) {
        if (d->ref_owner[ref] == SIMHV_REF_FREE && !d->pins[ref].readers &&
            !d->pins[ref].writers)
            refs[i++] = ref;
    }
    if (i < count)
        return -ENOSPC;
    for (i = 0; i < count; i++) {
        d->ref_owner[refs[i]] = c->serial;
        d->ref_frame[refs[i]] = *frame + i;
        d->frame_used[*frame + i] = 1;
    }
    d->hv->stats.shares += count;
    return 0;
}

int simhv_share_free(struct simhv_conn *c, uint32_t count,
                     const grant_ref_t *refs)
{
    struct simhv_dom *d = c->dom;
    uint32_t i;

    for (i = 0; i < count; i++) {
        if (refs[i] >= SIMHV_GNTTAB_ENTRIES ||
            d->ref_owner[refs[i]] != c->serial)
            return -EINVAL;
        if (d->pins[refs[i]].readers || d->pins[refs[i]].writers)
            return -EBUSY;
    }
    for (i = 0; i < count; i++) {
        if (d->ref_owner[refs[i]] == c->serial)
            simhv_share_release(d, refs[i]);
    }
    return 0;
}

/* A closed connection's shares end now, or on their last unmap. */
void simhv_share_conn_gone(struct simhv_conn *c)
{
    struct simhv_dom *d = c->dom;
    grant_ref_t ref;

    for (ref = 0; ref < SIMHV_GNTTAB_ENTRIES; ref++) {
        if (d->ref_owner[ref] != c->serial)
            continue;
        if (d->pins[ref].readers || d->pins[ref].writers)
            d->ref_owner[ref] = SIMHV_REF_ORPHAN;
        else
            simhv_share_release(d, ref);
    }
}

/* Xen's checks on one entry, then GTF_reading (|GTF_writing) set with a
 * cmpxchg on flags+domid, as the granter may write the same word. */
static int simhv_pin(struct simhv_dom *g, domid_t mapper, grant_ref_t ref,
                     bool writable, uint32_t *frame)
{
    uint32_t *word, old, new;
    uint16_t flags, want;
    int tries;

    if (ref >= SIMHV_GNTTAB_ENTRIES)
        return GNTST_bad_gntref;
    word = simhv_gnt_word(&g->gt[ref]);
    for (tries = 0; tries < SIMHV_GNT_RETRIES; tries++) {
        old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        flags = simhv_gnt_flags(old);
        if ((flags & GTF_type_mask) != GTF_permit_access ||
            simhv_gnt_domid(old) != mapper)
            return GNTST_permission_denied;
        if (writable && (flags & GTF_readonly))
            return GNTST_permission_denied;
        want = flags | GTF_reading | (writable ? GTF_writing : 0);
        new = simhv_gnt_pack(want, mapper);
        if (new == old ||
            __atomic_compare_exchange_n(word, &old, new, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
    }
    if (tries == SIMHV_GNT_RETRIES)
        return GNTST_general_error;
    if (writable)
        g->pins[ref].writers++;
    else
        g->pins[ref].readers++;
    g->pinned++;
    g->hv->stats.pins++;
    /* The frame is read once, after the pin, as Xen does. */
    *frame = __atomic_load_n(&g->gt[ref].frame, __ATOMIC_ACQUIRE);
    return GNTST_okay;
}

static void simhv_unpin(struct simhv_dom *g, grant_ref_t ref, bool writable)
{
    struct simhv_pin *p = &g->pins[ref];
    uint16_t clear = 0;

    if (writable)
        p->writers--;
    else
        p->readers--;
    if (!p->writers)
        clear |= GTF_writing;
    if (!p->writers && !p->readers)
        clear |= GTF_reading;
    __atomic_fetch_and(simhv_gnt_word(&g->gt[ref]), ~simhv_gnt_pack(clear, 0),
                       __ATOMIC_ACQ_REL);
    g->pinned--;
    g->hv->stats.pins--;
    if (!p->writers && !p->readers && g->ref_owner[ref] == SIMHV_REF_ORPHAN)
        simhv_share_release(g, ref);
}

int simhv_map(struct simhv_conn *c, domid_t domid, bool writable,
              uint32_t count, const grant_ref_t *refs, uint32_t *frames,
              uint64_t *id, int *fd)
{
    struct simhv_dom *g = simhv_dom_find(c->hv, domid);
    struct simhv_map *m;
    uint32_t i;
    int st = GNTST_okay;

    if (!g || g->dying)
        return -EINVAL; /* GNTST_bad_domain */
    if (c->nmaps >= SIMHV_MAPS_PER_CONN)
        return -ENOSPC;
    m = malloc(sizeof(*m) + count * sizeof(grant_ref_t));
    if (!m)
        return -ENOMEM;
    for (i = 0; i < count; i++) {
        st = simhv_pin(g, c->dom->domid, refs[i], writable, &frames[i]);
        if (st != GNTST_okay)
            break;
        if (frames[i] >= SIMHV_RAM_PAGES) {
            simhv_unpin(g, refs[i], writable);
            st = GNTST_general_error;
            break;
        }
    }
    if (st != GNTST_okay) {
        while (i--)
            simhv_unpin(g, refs[i], writable);
        free(m);
        return -EINVAL;
    }
    m->id = ++c->hv->next_map_id;
    m->granter = g;
    m->writable = writable;
    m->count = count;
    memcpy(m->refs, refs, count * sizeof(grant_ref_t));
    LIST_INSERT_HEAD(&c->maps, m, link);
    c->nmaps++;
    c->hv->stats.maps++;
    *id = m->id;
    *fd = writable ? g->ram_fd : g->ram_ro_fd;
    return 0;
}

static void simhv_map_free(struct simhv_conn *c, struct simhv_map *m)
{
    struct simhv_dom *g = m->granter;
    uint32_t i;

    for (i = 0; i < m->count; i++)
        simhv_unpin(g, m->refs[i], m->writable);
    LIST_REMOVE(m, link);
    c->nmaps--;
    c->hv->stats.maps--;
    free(m);
    simhv_dom_try_release(g);
}

int simhv_unmap(struct simhv_conn *c, uint64_t id)
{
    struct simhv_map *m;

    LIST_FOREACH(m, &c->maps, link)
    {
        if (m->id == id) {
            simhv_map_free(c, m);
            return 0;
        }
    }
    return -ENOENT;
}

void simhv_unmap_all(struct simhv_conn *c)
{
    struct simhv_map *m;

    while ((m = LIST_FIRST(&c->maps)))
        simhv_map_free(c, m);
}

int simhv_copybuf(struct simhv_conn *c, int *fd)
{
    size_t size = (size_t)SIMHV_COPY_MAX * SIMHV_PAGE_SIZE;
    void *map;

    if (c->copy_fd < 0) {
        c->copy_fd =
            memfd_create("drvdom-copybuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (c->copy_fd < 0)
            return -errno;
        if (ftruncate(c->copy_fd, (off_t)size) ||
            fcntl(c->copy_fd, F_ADD_SEALS,
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ||
            (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
                        c->copy_fd, 0)) == MAP_FAILED) {
            int ret = -errno;

            close(c->copy_fd);
            c->copy_fd = -1;
            return ret;
        }
        c->copy_buf = map;
        c->hv->stats.memfds++;
    }
    *fd = c->copy_fd;
    return 0;
}

void simhv_copybuf_free(struct simhv_conn *c)
{
    if (c->copy_fd < 0)
        return;
    munmap(c->copy_buf, (size_t)SIMHV_COPY_MAX * SIMHV_PAGE_SIZE);
    close(c->copy_fd);
    c->copy_fd = -1;
    c->copy_buf = NULL;
    c->hv->stats.memfds--;
}

/* Resolves one side of a copy segment to a daemon pointer, as Xen checks
 * it: a GNTST_* code. */
static int simhv_copy_side(struct simhv_conn *c, const struct simhv_copyside *s,
                           bool gref, bool dest, uint16_t len, uint8_t **ptr)
{
    struct simhv_dom *g;
    uint32_t word, frame;
    uint16_t flags;

    if (!gref) {
        if (!c->copy_buf || s->ref >= SIMHV_COPY_MAX)
            return GNTST_bad_virt_addr;
        *ptr = c->copy_buf + (size_t)s->ref * SIMHV_PAGE_SIZE;
        return GNTST_okay;
    }
    g = simhv_dom_find(c->hv, s->domid);
    if (!g)
        return GNTST_bad_domain;
    if (s->ref >= SIMHV_GNTTAB_ENTRIES)
        return GNTST_bad_gntref;
    word = __atomic_load_n(simhv_gnt_word(&g->gt[s->ref]), __ATOMIC_ACQUIRE);
    flags = simhv_gnt_flags(word);
    if ((flags & GTF_type_mask) != GTF_permit_access ||
        simhv_gnt_domid(word) != c->dom->domid ||
        (dest && (flags & GTF_readonly)))
        return GNTST_permission_denied;
    frame = __atomic_load_n(&g->gt[s->ref].frame, __ATOMIC_ACQUIRE);
    if (frame >= SIMHV_RAM_PAGES || (uint32_t)s->offset + len > SIMHV_PAGE_SIZE)
        return GNTST_general_error;
    *ptr = g->ram + (size_t)frame * SIMHV_PAGE_SIZE + s->offset;
    return GNTST_okay;
}

int simhv_copy(struct simhv_conn *c, uint32_t count,
               const struct simhv_copyseg *segs, int16_t *status)
{
    const uint16_t known = GNTCOPY_source_gref | GNTCOPY_dest_gref;
    uint8_t *src, *dst;
    uint32_t i;
    int st;

    for (i = 0; i < count; i++) {
        const struct simhv_copyseg *s = &segs[i];

        if ((s->flags & ~known) || !(s->flags & known) ||
            s->len > SIMHV_PAGE_SIZE) {
            status[i] = GNTST_bad_copy_arg;
            continue;
        }
        st = simhv_copy_side(c, &s->src, s->flags & GNTCOPY_source_gref, false,
                             s->len, &src);
        if (st == GNTST_okay)
            st = simhv_copy_side(c, &s->dst, s->flags & GNTCOPY_dest_gref, true,
                                 s->len, &dst);
        if (st == GNTST_okay)
            memmove(dst, src, s->len);
        status[i] = (int16_t)st;
    }
    return 0;
}
