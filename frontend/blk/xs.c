/*
 * blkfront xs.c: connecting and closing a vbd like Linux xen-blkfront
 * (talk_to_blkback, blkfront_connect, blkfront_closing). Reads what the
 * backend offers, shares one ring and one pool of data pages per queue,
 * binds one event channel per queue, publishes them with protocol and
 * features in one transaction, goes Initialised, waits for Connected and
 * reads the disk's geometry. The only file that touches the platform.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>

#include "frontend/blk/blkfront-internal.h"

#define BLKFRONT_TIMEOUT_MS 20000
/* "info" bit of a read-only disk (Linux VDISK_READONLY). */
#define BLKFRONT_VDISK_READONLY 0x4u

static void blkfront_notify(struct blkfront *bf, struct blkfront_queue *q)
{
    plat_evtchn_notify(bf->ec, q->port);
}

static void blkfront_drain(struct blkfront *bf)
{
    evtchn_port_t p;

    while (plat_evtchn_pending(bf->ec, &p) == 0)
        plat_evtchn_unmask(bf->ec, p);
}

/* Sleeps until a watch fires (at most 100 ms) and drops its events. */
static void blkfront_xs_nap(struct blkfront *bf)
{
    struct pollfd pfd = {.fd = xs_fileno(bf->xs), .events = POLLIN};
    char **ev;

    poll(&pfd, 1, 100);
    while ((ev = xs_check_watch(bf->xs)))
        free(ev);
}

/* Waits (watch) until the toolstack created the device and made it ours. */
static int blkfront_wait_device(struct blkfront *bf, unsigned int devid)
{
    char path[XSG_PATH_MAX];
    int i, ret = -ETIMEDOUT;

    snprintf(path, sizeof(path), "/local/domain/%u/device/vbd/%u/backend",
             bf->self, devid);
    if (!xs_watch(bf->xs, path, "blkfront:dev"))
        return -errno;
    for (i = 0; i < bf->timeout_ms / 100; i++) {
        ret = xsg_front_open(&bf->f, bf->xs, "vbd", bf->self, devid);
        if (ret != -ENOENT && ret != -EACCES)
            break;
        blkfront_xs_nap(bf);
    }
    xs_unwatch(bf->xs, path, "blkfront:dev");
    if (!ret)
        bf->f_open = true;
    return ret;
}

/* What the backend offers, capped by what the caller asked for. */
static int blkfront_negotiate(struct blkfront *bf,
                              const struct blkfront_opts *o)
{
    struct blkfront_info *in = &bf->info;
    unsigned long order, queues, ind, pers;
    const char *prop;
    int ret;

    prop = "max-ring-page-order";
    ret = xsg_read_feature(bf->xs, XBT_NULL, bf->f.be_path, prop,
                           XSG_MAX_RING_ORDER, &order);
    if (!ret) {
        prop = "multi-queue-max-queues";
        ret = xsg_read_feature(bf->xs, XBT_NULL, bf->f.be_path, prop, 65536,
                               &queues);
    }
    if (!ret) {
        prop = "feature-max-indirect-segments";
        ret = xsg_read_feature(bf->xs, XBT_NULL, bf->f.be_path, prop, 1u << 30,
                               &ind);
    }
    if (!ret) {
        prop = "feature-persistent";
        ret = xsg_read_feature(bf->xs, XBT_NULL, bf->f.be_path, prop, 1, &pers);
    }
    if (ret) {
        fprintf(stderr, "%s: reading %s: %s\n", bf->name, prop, strerror(-ret));
        return ret;
    }
    in->ring_order = o->ring_order < order ? o->ring_order : (unsigned)order;
    in->queues = o->queues ? o->queues : 1;
    if (in->queues > (queues ? queues : 1))
        in->queues = queues ? (unsigned int)queues : 1;
    if (in->queues > BLKFRONT_MAX_QUEUES)
        in->queues = BLKFRONT_MAX_QUEUES;
    in->persistent = pers && !o->no_persistent;
    in->max_io = o->max_io ? o->max_io : BLKFRONT_DEFAULT_MAX_IO;
    in->max_io =
        (in->max_io + BLKFRONT_PAGE_SIZE - 1) & ~(BLKFRONT_PAGE_SIZE - 1);
    if (in->max_io > BLKFRONT_MAX_IO)
        in->max_io = BLKFRONT_MAX_IO;
    if (o->no_indirect || ind < BLKIF_MAX_SEGMENTS_PER_REQUEST)
        ind = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (in->max_io / BLKFRONT_PAGE_SIZE > ind)
        in->max_io = (unsigned int)ind * BLKFRONT_PAGE_SIZE;
    in->max_indirect =
        in->max_io / BLKFRONT_PAGE_SIZE > BLKIF_MAX_SEGMENTS_PER_REQUEST
            ? in->max_io / BLKFRONT_PAGE_SIZE
            : 0;
    return 0;
}

/* Shares every slot's data pages (and indirect page) once. */
static int blkfront_share_slots(struct blkfront *bf, struct blkfront_queue *q)
{
    unsigned int segs = bf->info.max_io / BLKFRONT_PAGE_SIZE;
    unsigned int pages = segs + (bf->info.max_indirect ? 1 : 0);
    grant_ref_t refs[BLKFRONT_MAX_SEGS + 1];
    struct blkfront_slot *s;
    unsigned int i;
    int ret;

    for (i = 0; i < q->depth; i++) {
        s = &q->slots[i];
        ret = plat_gntshr_share(bf->gs, bf->f.be_id, pages, refs, true,
                                &s->share);
        if (ret) {
            s->share = NULL;
            return ret;
        }
        s->share_pages = pages;
        s->req.buf = s->share;
        memcpy(s->refs, refs, segs * sizeof(*refs));
        if (bf->info.max_indirect) {
            s->ind = (void *)((uint8_t *)s->share +
                              (size_t)segs * BLKFRONT_PAGE_SIZE);
            s->ind_ref = refs[segs];
        }
    }
    return 0;
}

/* One queue: ring, slots, pool, port. */
static int blkfront_queue_setup(struct blkfront *bf, unsigned int i)
{
    struct blkfront_queue *q = &bf->q[i];
    unsigned int order = bf->info.ring_order;
    void *sring;
    int size, ret;

    ret = plat_gntshr_share(bf->gs, bf->f.be_id, 1u << order, q->ring_refs,
                            true, &sring);
    if (ret)
        return ret;
    q->sring = sring;
    q->order = order;
    size = ringbuf_ring_size(order, sizeof(blkif_request_t),
                             sizeof(blkif_response_t));
    if ((unsigned int)size < bf->info.depth)
        bf->info.depth = (unsigned int)size;
    ret = blkfront_queue_init(q, i, sring, order, bf->info.depth,
                              bf->info.max_io / BLKFRONT_PAGE_SIZE);
    if (!ret)
        ret = blkfront_share_slots(bf, q);
    if (!ret)
        ret = plat_evtchn_bind_unbound(bf->ec, bf->f.be_id, &q->port);
    return ret;
}

/* Ends sharing of a queue's pages; idempotent. */
static void blkfront_queue_teardown(struct blkfront *bf,
                                    struct blkfront_queue *q)
{
    unsigned int i;

    if (q->port)
        plat_evtchn_unbind(bf->ec, q->port);
    q->port = 0;
    for (i = 0; q->slots && i < q->depth; i++) {
        if (q->slots[i].share && plat_gntshr_unshare(bf->gs, q->slots[i].share,
                                                     q->slots[i].share_pages))
            fprintf(stderr, "%s: pages still mapped by the backend\n",
                    bf->name);
        q->slots[i].share = NULL;
    }
    if (q->sring && plat_gntshr_unshare(bf->gs, q->sring, 1u << q->order))
        fprintf(stderr, "%s: ring still mapped by the backend\n", bf->name);
    q->sring = NULL;
    blkfront_queue_fini(q);
}

static int blkfront_publish_txn(struct xs_handle *xs, xs_transaction_t t,
                                void *arg)
{
    struct blkfront *bf = arg;
    const char *fe = bf->f.fe_path;
    char dir[XSG_PATH_MAX];
    unsigned int i, n = bf->info.queues;
    int ret = 0;

    if (n > 1)
        ret = xsg_write_fmt(xs, t, fe, "multi-queue-num-queues", "%u", n);
    for (i = 0; !ret && i < n; i++) {
        ret = xsg_queue_dir(dir, sizeof(dir), fe, i, n);
        if (!ret)
            ret = xsg_write_ring_refs(xs, t, dir, bf->q[i].order,
                                      bf->q[i].ring_refs);
        if (!ret)
            ret =
                xsg_write_fmt(xs, t, dir, "event-channel", "%u", bf->q[i].port);
    }
    if (!ret)
        ret =
            xsg_write_fmt(xs, t, fe, "protocol", "%s", XEN_IO_PROTO_ABI_NATIVE);
    if (!ret)
        ret = xsg_write_fmt(xs, t, fe, "feature-persistent", "%u",
                            bf->info.persistent ? 1u : 0u);
    if (!ret)
        ret = xsg_write_fmt(xs, t, fe, "state", "%d", XenbusStateInitialised);
    return ret;
}

/* The disk, as the Connected backend describes it. */
static int blkfront_read_disk(struct blkfront *bf)
{
    struct blkfront_info *in = &bf->info;
    const char *be = bf->f.be_path, *prop;
    unsigned long sectors, ss, pss = 0, info = 0, fl, dc, sec = 0, gran = 0;
    int ret;

    prop = "sectors";
    ret = xsg_read_uint(bf->xs, XBT_NULL, be, prop, UINT64_MAX >> 9, &sectors);
    if (!ret) {
        prop = "sector-size";
        ret = xsg_read_uint(bf->xs, XBT_NULL, be, prop, 1u << 16, &ss);
    }
    if (!ret && (ss < 512 || ss & (ss - 1)))
        ret = -EINVAL;
    if (!ret && (prop = "physical-sector-size"))
        ret = xsg_read_feature(bf->xs, XBT_NULL, be, prop, 1u << 20, &pss);
    if (!ret && (prop = "info"))
        ret = xsg_read_feature(bf->xs, XBT_NULL, be, prop, UINT32_MAX, &info);
    if (!ret && (prop = "feature-flush-cache"))
        ret = xsg_read_feature(bf->xs, XBT_NULL, be, prop, 1, &fl);
    if (!ret && (prop = "feature-discard"))
        ret = xsg_read_feature(bf->xs, XBT_NULL, be, prop, 1, &dc);
    if (!ret && dc && (prop = "discard-secure"))
        ret = xsg_read_feature(bf->xs, XBT_NULL, be, prop, 1, &sec);
    if (!ret && dc && (prop = "discard-granularity"))
        ret = xsg_read_feature(bf->xs, XBT_NULL, be, prop, UINT32_MAX, &gran);
    if (ret) {
        fprintf(stderr, "%s: reading %s: %s\n", bf->name, prop, strerror(-ret));
        return ret;
    }
    in->size = (uint64_t)sectors << BLKFRONT_SECTOR_SHIFT;
    in->sector_size = (uint32_t)ss;
    in->physical_sector_size = pss ? (uint32_t)pss : (uint32_t)ss;
    in->readonly = info & BLKFRONT_VDISK_READONLY;
    in->flush = fl;
    in->discard = dc;
    in->discard_secure = sec;
    in->discard_granularity = (uint32_t)gran;
    return in->max_io % ss ? -EINVAL : 0;
}

/* InitWait -> publish -> Initialised -> Connected. */
/* From now on, follow the backend's state (blkfront_backend_closing). */
static int blkfront_watch_be(struct blkfront *bf)
{
    char path[XSG_PATH_MAX + 8];

    snprintf(path, sizeof(path), "%s/state", bf->f.be_path);
    if (!xs_watch(bf->xs, path, "blkfront:state"))
        return errno ? -errno : -EIO;
    bf->be_watched = true;
    return 0;
}

static int blkfront_connect(struct blkfront *bf, unsigned int devid,
                            const struct blkfront_opts *o)
{
    unsigned int i;
    int ret;

    ret = blkfront_wait_device(bf, devid);
    if (!ret)
        ret = xsg_front_wait(&bf->f, XenbusStateInitWait, bf->timeout_ms);
    if (!ret)
        ret = blkfront_negotiate(bf, o);
    bf->info.depth = o->queue_depth ? o->queue_depth : BLKFRONT_DEFAULT_DEPTH;
    for (i = 0; !ret && i < bf->info.queues; i++)
        ret = blkfront_queue_setup(bf, i);
    if (!ret)
        ret = xsg_txn(bf->xs, blkfront_publish_txn, bf);
    if (!ret)
        ret = xsg_front_wait(&bf->f, XenbusStateConnected, bf->timeout_ms);
    if (!ret)
        ret = blkfront_read_disk(bf);
    if (!ret)
        ret = xsg_front_switch(&bf->f, XenbusStateConnected);
    if (!ret)
        ret = blkfront_watch_be(bf);
    return ret;
}

int blkfront_xs_fd(const struct blkfront *bf)
{
    return bf->be_watched ? xs_fileno(bf->xs) : -1;
}

bool blkfront_backend_closing(struct blkfront *bf)
{
    enum xenbus_state st;
    bool changed = false;
    char **ev;

    if (!bf->be_watched || bf->be_closing)
        return bf->be_closing;
    while ((ev = xs_check_watch(bf->xs))) {
        changed = true;
        free(ev);
    }
    if (!changed)
        return false;
    st = xsg_read_state(bf->xs, XBT_NULL, bf->f.be_path);
    if (st != XenbusStateConnected) {
        fprintf(stderr, "%s: backend went %s: closing\n", bf->name,
                xsg_state_name(st));
        bf->be_closing = true;
    }
    return bf->be_closing;
}

int blkfront_open(struct blkfront **out, unsigned int devid,
                  const struct blkfront_opts *opts)
{
    static const struct blkfront_opts none;
    const struct blkfront_opts *o = opts ? opts : &none;
    struct blkfront *bf;
    int ret;

    bf = calloc(1, sizeof(*bf));
    if (!bf)
        return -ENOMEM;
    bf->fd = -1;
    bf->devid = devid;
    bf->ignore_ro = o->ignore_readonly;
    bf->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : BLKFRONT_TIMEOUT_MS;
    bf->notify = blkfront_notify;
    bf->drain = blkfront_drain;
    if (o->poll_us > 0)
        bf->poll_max_ns = 1000ull * (unsigned int)o->poll_us;
    bf->poll_ns = bf->poll_max_ns;
    ret = plat_domid_self(&bf->self);
    snprintf(bf->name, sizeof(bf->name), "vbd/%u/%u", bf->self, devid);
    if (!ret)
        ret = plat_gntshr_open(&bf->gs);
    if (!ret)
        ret = plat_evtchn_open(&bf->ec);
    if (!ret && !(bf->xs = xs_open(0)))
        ret = errno ? -errno : -EIO;
    if (!ret) {
        bf->fd = plat_evtchn_fd(bf->ec);
        ret = blkfront_connect(bf, devid, o);
    }
    if (ret) {
        fprintf(stderr, "%s: connect: %s\n", bf->name, strerror(-ret));
        blkfront_close(bf);
        return ret;
    }
    *out = bf;
    return 0;
}

/* Waits until the backend left Connected (it unmapped our pages). */
static void blkfront_wait_be_down(struct blkfront *bf)
{
    enum xenbus_state st;
    char path[XSG_PATH_MAX + 8];
    int i;

    snprintf(path, sizeof(path), "%s/state", bf->f.be_path);
    xs_watch(bf->xs, path, "blkfront:be");
    for (i = 0; i < bf->timeout_ms / 100; i++) {
        st = xsg_read_state(bf->xs, XBT_NULL, bf->f.be_path);
        if (st == XenbusStateClosing || st == XenbusStateClosed ||
            st == XenbusStateUnknown || st == XenbusStateInitWait)
            break;
        blkfront_xs_nap(bf);
    }
    xs_unwatch(bf->xs, path, "blkfront:be");
}

void blkfront_close(struct blkfront *bf)
{
    unsigned int i;

    if (!bf)
        return;
    if (bf->f_open) {
        xsg_front_switch(&bf->f, XenbusStateClosing);
        blkfront_wait_be_down(bf);
    }
    for (i = 0; i < BLKFRONT_MAX_QUEUES; i++)
        blkfront_queue_teardown(bf, &bf->q[i]);
    if (bf->f_open) {
        xsg_front_switch(&bf->f, XenbusStateClosed);
        xsg_front_close(&bf->f);
    }
    if (bf->xs)
        xs_close(bf->xs);
    plat_evtchn_close(bf->ec);
    plat_gntshr_close(bf->gs);
    free(bf);
}
