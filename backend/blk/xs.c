/*
 * xs.c - the blkback worker's xenstore keys (Linux xen-blkback/xenbus.c
 * and libxl are the de facto specification).
 *
 *   in, backend dir (toolstack):  params, mode, device-type, discard-enable,
 *                                 drvdom-sector-size, drvdom-physical-
 *                                 sector-size, drvdom-buffered-io,
 *                                 drvdom-secure-discard, feature-persistent
 *                                 (what drvdomd wrote at probe)
 *   in, frontend dir:             protocol, feature-persistent,
 *                                 multi-queue-num-queues, ring-page-order,
 *                                 [queue-N/]ring-ref[N], event-channel
 *   out, backend dir (at probe):  the static features (--features)
 *   out, backend dir (connect):   sectors, info, sector-size, physical-
 *                                 sector-size, feature-flush-cache,
 *                                 feature-barrier, feature-discard,
 *                                 discard-granularity, discard-alignment,
 *                                 discard-secure
 * Readers fill a message naming the key at fault.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/io/protocols.h>

#include "backend/blk/blkback-internal.h"
#include "drvdom/xsg.h"

static int blkback_xs_err(char *msg, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int blkback_xs_err(char *msg, size_t len, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return err;
}

/* Queues offered: one per CPU, at most BLKBACK_MAX_QUEUES. */
unsigned blkback_xs_max_queues(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > (long)BLKBACK_MAX_QUEUES ? BLKBACK_MAX_QUEUES : (unsigned)n;
}

/*
 * The static features drvdomd writes at probe ("key value" lines), the
 * same in both data modes: with persistent grants the copy mode moves
 * data by the CPU through mappings no disk I/O is ever done on (copy.c).
 */
void blkback_xs_print_features(FILE *out)
{
    fprintf(out,
            "max-ring-page-order %u\n"
            "multi-queue-max-queues %u\n"
            "feature-max-indirect-segments %u\n"
            "feature-persistent 1\n",
            RINGBUF_MAX_ORDER, blkback_xs_max_queues(),
            BLKBACK_MAX_INDIRECT_SEGS);
}

/*
 * params is a path, possibly behind a "<format>:" prefix as libxl writes
 * for some backends ("aio:/path"): the prefix is dropped.
 */
static char *blkback_xs_params_path(char *params)
{
    char *colon = strchr(params, ':');

    if (colon != NULL && params[0] != '/' && colon[1] == '/')
        memmove(params, colon + 1, strlen(colon + 1) + 1);
    return params;
}

/* A sector size override: absent (0), 512 or 4096. */
static int blkback_xs_sector_key(struct xs_handle *xs, const char *dir,
                                 const char *key, uint32_t *val, char *msg,
                                 size_t len)
{
    unsigned long v;
    int ret = xsg_read_feature(xs, XBT_NULL, dir, key, 4096, &v);

    if (ret < 0 || (v != 0 && v != 512 && v != 4096))
        return blkback_xs_err(msg, len, -EINVAL, "%s/%s: not 512 or 4096", dir,
                              key);
    *val = (uint32_t)v;
    return 0;
}

/* Boolean keys: absent is dflt, else "0" or "1". */
static int blkback_xs_bool(struct xs_handle *xs, const char *dir,
                           const char *key, bool dflt, bool *val, char *msg,
                           size_t len)
{
    unsigned long v;
    int ret = xsg_read_uint(xs, XBT_NULL, dir, key, 1, &v);

    if (ret == -ENOENT) {
        *val = dflt;
        return 0;
    }
    if (ret < 0)
        return blkback_xs_err(msg, len, ret, "%s/%s: not 0 or 1", dir, key);
    *val = v != 0;
    return 0;
}

/*
 * The toolstack's keys. Returns 0 or -errno with msg naming the key;
 * blkback_xs_backend_free() is the cleanup either way.
 */
int blkback_xs_read_backend(struct xs_handle *xs, const char *dir,
                            struct blkback_be_cfg *cfg, char *msg, size_t len)
{
    const char *prop;
    char *val = NULL;
    int ret;

    memset(cfg, 0, sizeof(*cfg));
    prop = "params";
    ret = xsg_read_str(xs, XBT_NULL, dir, prop, &cfg->params);
    if (ret < 0 || cfg->params[0] == '\0')
        goto errout;
    blkback_xs_params_path(cfg->params);
    prop = "mode";
    ret = xsg_read_str(xs, XBT_NULL, dir, prop, &val);
    if (ret < 0 || (strcmp(val, "r") != 0 && strcmp(val, "w") != 0))
        goto errout;
    cfg->readonly = val[0] == 'r';
    free(val);
    val = NULL;
    if (xsg_read_str(xs, XBT_NULL, dir, "device-type", &val) == 0)
        cfg->cdrom = strcmp(val, "cdrom") == 0;
    free(val);
    val = NULL;
    ret = blkback_xs_bool(xs, dir, "discard-enable", true, &cfg->discard, msg,
                          len);
    if (ret == 0)
        ret = blkback_xs_bool(xs, dir, "drvdom-buffered-io", false,
                              &cfg->buffered, msg, len);
    if (ret == 0)
        ret = blkback_xs_bool(xs, dir, "drvdom-secure-discard", false,
                              &cfg->secure_discard, msg, len);
    if (ret == 0)
        ret = blkback_xs_sector_key(xs, dir, "drvdom-sector-size",
                                    &cfg->sector_size, msg, len);
    if (ret == 0)
        ret = blkback_xs_sector_key(xs, dir, "drvdom-physical-sector-size",
                                    &cfg->physical_sector_size, msg, len);
    if (ret == 0)
        ret = blkback_xs_bool(xs, dir, "feature-persistent", true,
                              &cfg->persistent, msg, len);
    return ret;

errout:
    free(val);
    return blkback_xs_err(msg, len, ret < 0 ? ret : -EINVAL, "%s/%s: %s", dir,
                          prop,
                          ret == -ENOENT ? "missing"
                          : ret < 0      ? strerror(-ret)
                                         : "invalid value");
}

void blkback_xs_backend_free(struct blkback_be_cfg *cfg)
{
    free(cfg->params);
    cfg->params = NULL;
}

/* Only the native request layout is served. */
static int blkback_xs_protocol(struct xs_handle *xs, const char *dir, char *msg,
                               size_t len)
{
    char *proto = NULL;
    int ret = xsg_read_str(xs, XBT_NULL, dir, "protocol", &proto);

    if (ret == -ENOENT)
        return 0;
    if (ret < 0)
        return blkback_xs_err(msg, len, ret, "%s/protocol: %s", dir,
                              strerror(-ret));
    if (strcmp(proto, XEN_IO_PROTO_ABI_NATIVE) == 0)
        ret = 0;
    else if (strcmp(proto, XEN_IO_PROTO_ABI_X86_32) == 0)
        ret = blkback_xs_err(msg, len, -EPROTONOSUPPORT,
                             "%s/protocol: 32-bit x86 frontends (%s) are "
                             "not supported, only %s",
                             dir, proto, XEN_IO_PROTO_ABI_NATIVE);
    else
        ret = blkback_xs_err(msg, len, -EPROTONOSUPPORT,
                             "%s/protocol: unknown ABI \"%s\", only %s", dir,
                             proto, XEN_IO_PROTO_ABI_NATIVE);
    free(proto);
    return ret;
}

/* dir/ring-page-order: absent is 0, above what we offer is refused. */
static int blkback_xs_order(struct xs_handle *xs, const char *dir,
                            unsigned long *order, char *msg, size_t len)
{
    int ret = xsg_read_feature(xs, XBT_NULL, dir, "ring-page-order",
                               RINGBUF_MAX_ORDER, order);

    if (ret < 0)
        return blkback_xs_err(msg, len, ret,
                              "%s/ring-page-order: above the %u offered", dir,
                              RINGBUF_MAX_ORDER);
    return 0;
}

/*
 * One queue's ring refs and port. Linux blkfront writes ring-page-order in
 * the frontend directory and the refs in queue-N/; an order in queue-N/
 * is accepted too.
 */
static int blkback_xs_queue(struct xs_handle *xs, const char *qdir,
                            unsigned long order, struct blkback_queue_cfg *q,
                            char *msg, size_t len)
{
    char key[32];
    unsigned long v;
    unsigned i;
    int ret;

    ret = blkback_xs_order(xs, qdir, &v, msg, len);
    if (ret < 0)
        return ret;
    q->order = (unsigned)(v ? v : order);
    for (i = 0; i < 1u << q->order; i++) {
        if (q->order == 0)
            snprintf(key, sizeof(key), "ring-ref");
        else
            snprintf(key, sizeof(key), "ring-ref%u", i);
        ret = xsg_read_uint(xs, XBT_NULL, qdir, key, UINT32_MAX, &v);
        if (ret < 0)
            return blkback_xs_err(msg, len, ret, "%s/%s: %s", qdir, key,
                                  ret == -ENOENT ? "missing" : "not a ref");
        q->refs[i] = (grant_ref_t)v;
    }
    ret = xsg_read_uint(xs, XBT_NULL, qdir, "event-channel", UINT32_MAX, &v);
    if (ret < 0)
        return blkback_xs_err(msg, len, ret, "%s/event-channel: %s", qdir,
                              ret == -ENOENT ? "missing" : "not a port");
    q->port = (evtchn_port_t)v;
    return 0;
}

/*
 * The frontend's keys, checked against what we offer. Returns 0 or
 * -errno with msg naming the key: every failure is the frontend's.
 */
int blkback_xs_read_frontend(struct xs_handle *xs, const char *dir,
                             struct blkback_fe_cfg *cfg, char *msg, size_t len)
{
    char qdir[XSG_PATH_MAX];
    unsigned long order, v;
    unsigned q;
    int ret;

    memset(cfg, 0, sizeof(*cfg));
    ret = blkback_xs_protocol(xs, dir, msg, len);
    if (ret < 0)
        return ret;
    ret = xsg_read_num_queues(xs, XBT_NULL, dir, blkback_xs_max_queues(),
                              &cfg->nr_queues);
    if (ret < 0)
        return blkback_xs_err(msg, len, ret,
                              "%s/multi-queue-num-queues: 0 or above the "
                              "%u offered",
                              dir, blkback_xs_max_queues());
    ret = xsg_read_feature(xs, XBT_NULL, dir, "feature-persistent", 1, &v);
    if (ret < 0)
        return blkback_xs_err(msg, len, ret, "%s/feature-persistent: not 0/1",
                              dir);
    cfg->persistent = v != 0;
    ret = blkback_xs_order(xs, dir, &order, msg, len);
    if (ret < 0)
        return ret;
    for (q = 0; q < cfg->nr_queues; q++) {
        ret = xsg_queue_dir(qdir, sizeof(qdir), dir, q, cfg->nr_queues);
        if (ret == 0)
            ret = blkback_xs_queue(xs, qdir, order, &cfg->queues[q], msg, len);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The per-device keys of blkback_xs_write_device, in one transaction. */
struct blkback_xs_dev {
    const char *dir;                 /* backend directory */
    const struct blkback_dev *dev;   /* geometry and features */
    const struct blkback_disk *disk; /* what the store is */
    unsigned info;                   /* VDISK_* flags */
};

static int blkback_xs_write_txn(struct xs_handle *xs, xs_transaction_t t,
                                void *arg)
{
    const struct blkback_xs_dev *d = arg;
    const struct blkback_geom *g = &d->dev->geom;
    int ret;

    ret = xsg_write_fmt(xs, t, d->dir, "sectors", "%llu",
                        (unsigned long long)g->nr_sectors);
    ret = ret ?: xsg_write_fmt(xs, t, d->dir, "info", "%u", d->info);
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "sector-size", "%u",
                               g->sector_size);
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "physical-sector-size", "%u",
                               d->disk->physical_sector_size);
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "feature-flush-cache", "%d",
                               g->flush);
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "feature-barrier", "%d",
                               g->barrier);
    if (ret || !g->discard)
        return ret;
    ret = xsg_write_fmt(xs, t, d->dir, "feature-discard", "1");
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "discard-granularity", "%u",
                               d->disk->discard_granularity);
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "discard-alignment", "%u",
                               d->disk->discard_alignment);
    ret = ret
              ?: xsg_write_fmt(xs, t, d->dir, "discard-secure", "%d",
                               g->discard_secure);
    return ret;
}

/*
 * Write what blkfront reads when the backend goes Connected. Flush is
 * offered only with a volatile cache (geom.flush), discard only when the
 * store can and the toolstack did not disable it (geom.discard).
 */
int blkback_xs_write_device(struct xs_handle *xs, const char *dir,
                            const struct blkback_dev *dev,
                            const struct blkback_io *io, bool cdrom)
{
    struct blkback_xs_dev d = {.dir = dir, .dev = dev, .disk = &io->disk};

    if (dev->geom.readonly)
        d.info |= VDISK_READONLY;
    if (cdrom)
        d.info |= VDISK_CDROM | VDISK_REMOVABLE;
    return xsg_txn(xs, blkback_xs_write_txn, &d);
}
