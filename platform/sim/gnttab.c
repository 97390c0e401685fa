/*
 * Sim platform grant mapping: the daemon validates and pins the entries and
 * hands back the granter's RAM memfd (read-only unless @writable) with the
 * frame of each ref; we map those pages side by side. Grant copy goes
 * through a bounce buffer shared with the daemon, which validates each
 * segment and copies through its own mappings.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform/sim/sim-private.h"

/* One mapping made through this handle. */
struct plat_sim_map {
    void *addr;     /* start of the range */
    uint32_t count; /* pages */
    uint64_t id;    /* daemon's mapping id */
};

struct plat_sim_gnttab {
    struct plat_sim_conn *conn;
    pthread_mutex_t lock;      /* maps[], copy buffer */
    struct plat_sim_map *maps; /* live mappings */
    size_t nmaps;
    size_t maxmaps;
    uint8_t *copy_buf; /* SIMHV_COPY_MAX pages shared with the daemon */
};

int plat_sim_gnttab_open(void **out)
{
    struct plat_sim_gnttab *gt;
    int ret;

    gt = calloc(1, sizeof(*gt));
    if (!gt)
        return -ENOMEM;
    ret = plat_sim_conn_open(&gt->conn);
    if (ret) {
        free(gt);
        return ret;
    }
    pthread_mutex_init(&gt->lock, NULL);
    *out = gt;
    return 0;
}

void plat_sim_gnttab_close(void *h)
{
    struct plat_sim_gnttab *gt = h;
    size_t i;

    for (i = 0; i < gt->nmaps; i++)
        munmap(gt->maps[i].addr, (size_t)gt->maps[i].count * PLAT_PAGE_SIZE);
    if (gt->copy_buf)
        munmap(gt->copy_buf, (size_t)SIMHV_COPY_MAX * SIMHV_PAGE_SIZE);
    /* Closing the connection makes the daemon drop every mapping. */
    plat_sim_conn_close(gt->conn);
    pthread_mutex_destroy(&gt->lock);
    free(gt->maps);
    free(gt);
}

/* Maps the pages: runs of consecutive frames with one mmap each. */
static int plat_sim_map_frames(int fd, const uint32_t *frames, uint32_t count,
                               bool writable, void **addr)
{
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    size_t size = (size_t)count * PLAT_PAGE_SIZE;
    uint32_t i, run;
    uint8_t *base;
    int ret;

    base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return -errno;
    for (i = 0; i < count; i += run) {
        for (run = 1; i + run < count && frames[i + run] == frames[i] + run;
             run++)
            ;
        if (mmap(base + (size_t)i * PLAT_PAGE_SIZE,
                 (size_t)run * PLAT_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, fd,
                 (off_t)frames[i] * PLAT_PAGE_SIZE) == MAP_FAILED) {
            ret = -errno;
            munmap(base, size);
            return ret;
        }
    }
    *addr = base;
    return 0;
}

static int plat_sim_map_record(struct plat_sim_gnttab *gt, void *addr,
                               uint32_t count, uint64_t id)
{
    struct plat_sim_map *maps;
    size_t max;

    pthread_mutex_lock(&gt->lock);
    if (gt->nmaps == gt->maxmaps) {
        max = gt->maxmaps ? gt->maxmaps * 2 : 16;
        maps = realloc(gt->maps, max * sizeof(*maps));
        if (!maps) {
            pthread_mutex_unlock(&gt->lock);
            return -ENOMEM;
        }
        gt->maps = maps;
        gt->maxmaps = max;
    }
    gt->maps[gt->nmaps++] = (struct plat_sim_map){addr, count, id};
    pthread_mutex_unlock(&gt->lock);
    return 0;
}

static void plat_sim_unmap_id(struct plat_sim_gnttab *gt, uint64_t id)
{
    struct simhv_req req = {.op = SIMHV_OP_UNMAP, .id = id};
    struct plat_sim_reply rep = {0};

    if (!plat_sim_call(gt->conn, &req, NULL, 0, &rep))
        plat_sim_reply_close_fds(&rep);
}

int plat_sim_gnttab_map(void *h, domid_t domid, uint32_t count,
                        const grant_ref_t *refs, bool writable, void **addr)
{
    struct plat_sim_gnttab *gt = h;
    struct simhv_req req = {
        .op = SIMHV_OP_MAP, .count = count, .arg0 = domid, .arg1 = writable};
    uint32_t frames[SIMHV_MAP_MAX];
    struct plat_sim_reply rep = {.payload = frames,
                                 .payload_max = sizeof(frames)};
    int ret;

    if (count > SIMHV_MAP_MAX)
        return -E2BIG;
    ret = plat_sim_call(gt->conn, &req, refs, count * sizeof(*refs), &rep);
    if (ret)
        return ret;
    if (rep.nfds != 1 || rep.rep.count != count ||
        rep.payload_len != count * sizeof(uint32_t)) {
        ret = -EPROTO;
        goto err_unmap;
    }
    ret = plat_sim_map_frames(rep.fds[0], frames, count, writable, addr);
    if (ret)
        goto err_unmap;
    ret = plat_sim_map_record(gt, *addr, count, rep.rep.id);
    if (ret) {
        munmap(*addr, (size_t)count * PLAT_PAGE_SIZE);
        goto err_unmap;
    }
    plat_sim_reply_close_fds(&rep);
    return 0;

err_unmap:
    plat_sim_reply_close_fds(&rep);
    plat_sim_unmap_id(gt, rep.rep.id);
    return ret;
}

int plat_sim_gnttab_unmap(void *h, void *addr, uint32_t count)
{
    struct plat_sim_gnttab *gt = h;
    uint64_t id = 0;
    size_t i;

    pthread_mutex_lock(&gt->lock);
    for (i = 0; i < gt->nmaps; i++) {
        if (gt->maps[i].addr == addr && gt->maps[i].count == count) {
            id = gt->maps[i].id;
            gt->maps[i] = gt->maps[--gt->nmaps];
            break;
        }
    }
    pthread_mutex_unlock(&gt->lock);
    if (!id)
        return -EINVAL;
    munmap(addr, (size_t)count * PLAT_PAGE_SIZE);
    plat_sim_unmap_id(gt, id);
    return 0;
}

static int plat_sim_copybuf(struct plat_sim_gnttab *gt)
{
    struct simhv_req req = {.op = SIMHV_OP_COPYBUF};
    struct plat_sim_reply rep = {0};
    void *buf;
    int ret;

    if (gt->copy_buf)
        return 0;
    ret = plat_sim_call(gt->conn, &req, NULL, 0, &rep);
    if (ret)
        return ret;
    if (rep.nfds != 1) {
        plat_sim_reply_close_fds(&rep);
        return -EPROTO;
    }
    buf = mmap(NULL, (size_t)SIMHV_COPY_MAX * SIMHV_PAGE_SIZE,
               PROT_READ | PROT_WRITE, MAP_SHARED, rep.fds[0], 0);
    ret = buf == MAP_FAILED ? -errno : 0;
    plat_sim_reply_close_fds(&rep);
    if (!ret)
        gt->copy_buf = buf;
    return ret;
}

/* gntdev's checks: a gref side stays in its page, one side at least. */
static int plat_sim_copy_check(const struct plat_gntcopy_seg *s)
{
    if (!(s->flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)))
        return -EINVAL;
    if ((s->flags & GNTCOPY_source_gref) &&
        s->source.foreign.offset + s->len > PLAT_PAGE_SIZE)
        return -EINVAL;
    if ((s->flags & GNTCOPY_dest_gref) &&
        s->dest.foreign.offset + s->len > PLAT_PAGE_SIZE)
        return -EINVAL;
    return 0;
}

static void plat_sim_copy_side(const union plat_gntcopy_ptr *p, bool gref,
                               uint32_t slot, struct simhv_copyside *w)
{
    if (gref) {
        w->ref = p->foreign.ref;
        w->offset = p->foreign.offset;
        w->domid = p->foreign.domid;
    } else {
        w->ref = slot;
        w->offset = 0;
        w->domid = 0;
    }
}

/* One batch of at most SIMHV_COPY_MAX segments. */
static int plat_sim_copy_batch(struct plat_sim_gnttab *gt, uint32_t count,
                               struct plat_gntcopy_seg *segs)
{
    struct simhv_copyseg wire[SIMHV_COPY_MAX];
    int16_t status[SIMHV_COPY_MAX];
    struct simhv_req req = {.op = SIMHV_OP_COPY, .count = count};
    struct plat_sim_reply rep = {.payload = status,
                                 .payload_max = sizeof(status)};
    uint32_t i;
    int ret;

    for (i = 0; i < count; i++) {
        struct plat_gntcopy_seg *s = &segs[i];
        bool sg = s->flags & GNTCOPY_source_gref;

        plat_sim_copy_side(&s->source, sg, i, &wire[i].src);
        plat_sim_copy_side(&s->dest, s->flags & GNTCOPY_dest_gref, i,
                           &wire[i].dst);
        wire[i].len = s->len;
        wire[i].flags = s->flags;
        wire[i].pad = 0;
        if (!sg)
            memcpy(gt->copy_buf + (size_t)i * SIMHV_PAGE_SIZE, s->source.virt,
                   s->len);
    }
    ret = plat_sim_call(gt->conn, &req, wire, count * sizeof(wire[0]), &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    if (rep.payload_len != count * sizeof(int16_t))
        return -EPROTO;
    for (i = 0; i < count; i++) {
        segs[i].status = status[i];
        if (status[i] == GNTST_okay && !(segs[i].flags & GNTCOPY_dest_gref))
            memcpy(segs[i].dest.virt,
                   gt->copy_buf + (size_t)i * SIMHV_PAGE_SIZE, segs[i].len);
    }
    return 0;
}

int plat_sim_gnttab_copy(void *h, uint32_t count, struct plat_gntcopy_seg *segs)
{
    struct plat_sim_gnttab *gt = h;
    uint32_t i, n;
    int ret = 0;

    for (i = 0; i < count; i++) {
        ret = plat_sim_copy_check(&segs[i]);
        if (ret)
            return ret;
    }
    pthread_mutex_lock(&gt->lock);
    ret = plat_sim_copybuf(gt);
    for (i = 0; !ret && i < count; i += n) {
        n = count - i < SIMHV_COPY_MAX ? count - i : SIMHV_COPY_MAX;
        ret = plat_sim_copy_batch(gt, n, &segs[i]);
    }
    pthread_mutex_unlock(&gt->lock);
    return ret;
}
