/*
 * xsg backend device model: one struct xsg_back per device type watches
 * /local/domain/<self>/backend/<type>, keeps one struct xsg_dev per
 * <fe>/<devid> directory, follows the frontend's state and drives ours.
 *
 * Watch events only queue the device they concern (a device is queued at
 * most once, so a frontend flipping its state costs one pending entry);
 * xsg_back_process() then reads the current keys once per queued device and
 * runs the one frontend_changed switch. The data path is the caller's,
 * through struct xsg_back_ops.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <syslog.h>

#include "drvdom/platform.h"
#include "drvdom/xsg.h"

struct xsg_dev {
    TAILQ_ENTRY(xsg_dev) link;       /* in back->devs */
    TAILQ_ENTRY(xsg_dev) plink;      /* in back->pending while queued */
    struct xsg_back *back;           /* owner */
    domid_t fe;                      /* frontend domain */
    unsigned int devid;              /* device id (the directory name) */
    char name[48];                   /* "type/fe/devid" */
    char be_path[XSG_PATH_MAX];      /* our directory */
    char fe_path[XSG_PATH_MAX];      /* the frontend's, from "frontend" */
    char fe_state[XSG_PATH_MAX + 8]; /* fe_path/state (watched) */
    enum xenbus_state state;         /* backend state last written */
    bool queued;                     /* in back->pending */
    bool watched;                    /* fe_state is watched */
    bool probed;                     /* first sight handled */
    bool up;                         /* data path started, not yet stopped */
    bool connecting;                 /* connect/adopt returned XSG_PENDING */
    bool check_dom;                  /* look whether the frontend domain died */
    bool fe_dead;                    /* it did: tear down, never re-arm */
    void *priv;                      /* caller's data */
};

TAILQ_HEAD(xsg_dev_list, xsg_dev);

struct xsg_back {
    struct xs_handle *xs;           /* shared connection */
    const struct xsg_back_ops *ops; /* data path */
    void *arg;                      /* for ops */
    char type[16];                  /* device type */
    domid_t self;                   /* our domain */
    char root[96];                  /* /local/domain/<self>/backend/<type> */
    char tok_root[32];              /* watch token of root */
    char tok_fe[32];                /* watch token of frontend states */
    char tok_rel[32];               /* watch token of @releaseDomain */
    struct xsg_dev_list devs;       /* every known device */
    struct xsg_dev_list pending;    /* devices with an unhandled event */
    unsigned int ndevs;             /* entries in devs */
};

static void xsg_dev_queue(struct xsg_dev *dev)
{
    if (dev->queued)
        return;
    dev->queued = true;
    TAILQ_INSERT_TAIL(&dev->back->pending, dev, plink);
}

static struct xsg_dev *xsg_dev_find(struct xsg_back *b, domid_t fe,
                                    unsigned int devid)
{
    struct xsg_dev *dev;

    TAILQ_FOREACH(dev, &b->devs, link)
    {
        if (dev->fe == fe && dev->devid == devid)
            return dev;
    }
    return NULL;
}

static struct xsg_dev *xsg_dev_get(struct xsg_back *b, domid_t fe,
                                   unsigned int devid)
{
    struct xsg_dev *dev = xsg_dev_find(b, fe, devid);

    if (dev)
        return dev;
    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    dev->back = b;
    dev->fe = fe;
    dev->devid = devid;
    dev->state = XenbusStateUnknown;
    dev->check_dom = true;
    snprintf(dev->name, sizeof(dev->name), "%s/%u/%u", b->type, fe, devid);
    snprintf(dev->be_path, sizeof(dev->be_path), "%s/%u/%u", b->root, fe,
             devid);
    TAILQ_INSERT_TAIL(&b->devs, dev, link);
    b->ndevs++;
    return dev;
}

/* Parses a decimal path component ending at '/' or NUL. */
static int xsg_parse_id(const char **p, unsigned long max, unsigned long *v)
{
    char *end;

    if (**p < '0' || **p > '9')
        return -EINVAL;
    errno = 0;
    *v = strtoul(*p, &end, 10);
    if (errno || *v > max || (*end && *end != '/'))
        return -EINVAL;
    *p = end;
    return 0;
}

static void xsg_back_scan(struct xsg_back *b)
{
    char **fes, **ids, path[XSG_PATH_MAX];
    unsigned int nfe, nid, i, j;
    unsigned long fe, id;
    struct xsg_dev *dev;
    const char *p;

    fes = xs_directory(b->xs, XBT_NULL, b->root, &nfe);
    for (i = 0; fes && i < nfe; i++) {
        p = fes[i];
        if (xsg_parse_id(&p, DOMID_FIRST_RESERVED - 1, &fe) || *p)
            continue;
        snprintf(path, sizeof(path), "%s/%s", b->root, fes[i]);
        ids = xs_directory(b->xs, XBT_NULL, path, &nid);
        for (j = 0; ids && j < nid; j++) {
            p = ids[j];
            if (xsg_parse_id(&p, UINT32_MAX, &id) || *p)
                continue;
            dev = xsg_dev_get(b, (domid_t)fe, (unsigned int)id);
            if (dev)
                xsg_dev_queue(dev);
        }
        free(ids);
    }
    free(fes);
}

static bool xsg_root_event(struct xsg_back *b, const char *path)
{
    size_t n = strlen(b->root);
    unsigned long fe, id;
    struct xsg_dev *dev;
    const char *p;

    if (strncmp(path, b->root, n) || (path[n] && path[n] != '/'))
        return true;
    p = path + n;
    if (!*p) {
        xsg_back_scan(b);
        return true;
    }
    p++;
    if (xsg_parse_id(&p, DOMID_FIRST_RESERVED - 1, &fe) || *p != '/')
        return true;
    p++;
    if (xsg_parse_id(&p, UINT32_MAX, &id))
        return true;
    dev = xsg_dev_get(b, (domid_t)fe, (unsigned int)id);
    if (dev)
        xsg_dev_queue(dev);
    else
        xsg_log(LOG_ERR, "%s/%lu/%lu: out of memory", b->type, fe, id);
    return true;
}

bool xsg_back_watch_event(struct xsg_back *b, const char *path,
                          const char *token)
{
    struct xsg_dev *dev;

    if (!strcmp(token, b->tok_root))
        return xsg_root_event(b, path);
    if (!strcmp(token, b->tok_fe)) {
        TAILQ_FOREACH(dev, &b->devs, link)
        {
            if (dev->watched && !strcmp(path, dev->fe_state))
                xsg_dev_queue(dev);
        }
        return true;
    }
    if (!strcmp(token, b->tok_rel)) {
        TAILQ_FOREACH(dev, &b->devs, link)
        {
            dev->check_dom = true;
            xsg_dev_queue(dev);
        }
        return true;
    }
    return false;
}

/* Writes our state; logs every transition with the device's name. */
static void xsg_dev_switch(struct xsg_dev *dev, enum xenbus_state st)
{
    int ret;

    if (dev->state == st)
        return;
    ret = xsg_switch_state(dev->back->xs, dev->be_path, st);
    if (ret) {
        xsg_log(LOG_WARNING, "%s: cannot switch to %s: %s", dev->name,
                xsg_state_name(st), strerror(-ret));
        return;
    }
    xsg_log(LOG_INFO, "%s: %s -> %s", dev->name, xsg_state_name(dev->state),
            xsg_state_name(st));
    dev->state = st;
}

static void xsg_dev_down(struct xsg_dev *dev)
{
    if (!dev->up)
        return;
    dev->up = false;
    dev->connecting = false;
    dev->back->ops->disconnect(dev, dev->back->arg);
}

/* connect/adopt returned ret: record the outcome. */
static void xsg_dev_started(struct xsg_dev *dev, int ret, const char *what)
{
    if (ret < 0) {
        xsg_dev_fail(dev, ret, "%s failed", what);
        return;
    }
    dev->up = true;
    dev->connecting = ret == XSG_PENDING;
    if (!dev->connecting)
        xsg_dev_switch(dev, XenbusStateConnected);
}

void xsg_dev_connected(struct xsg_dev *dev)
{
    if (!dev->connecting)
        return;
    dev->connecting = false;
    xsg_dev_switch(dev, XenbusStateConnected);
}

void xsg_dev_fail(struct xsg_dev *dev, int err, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    xsg_log(LOG_ERR, "%s: %s: %s", dev->name, msg, strerror(-err));
    xsg_write_fmt(dev->back->xs, XBT_NULL, dev->be_path, "error", "%d %s", -err,
                  msg);
    xsg_dev_down(dev);
    xsg_dev_switch(dev, XenbusStateClosing);
}

/* The one switch on the frontend's state (STYLE.md item 10). */
static void xsg_frontend_changed(struct xsg_dev *dev, enum xenbus_state fe,
                                 bool online)
{
    const struct xsg_back_ops *ops = dev->back->ops;

    switch (fe) {
    case XenbusStateInitialising:
        if (dev->state == XenbusStateClosed && online)
            xsg_dev_switch(dev, XenbusStateInitWait);
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (dev->state == XenbusStateInitWait && online && !dev->up)
            xsg_dev_started(dev, ops->connect(dev, dev->back->arg), "connect");
        break;
    case XenbusStateClosing:
        xsg_dev_down(dev);
        if (dev->state != XenbusStateClosed)
            xsg_dev_switch(dev, XenbusStateClosing);
        break;
    case XenbusStateUnknown: /* the node vanished: as Closed */
    case XenbusStateClosed:
        if (dev->state == XenbusStateInitWait && !dev->up)
            break; /* already re-armed */
        xsg_dev_down(dev);
        xsg_dev_switch(dev, XenbusStateClosed);
        if (online)
            xsg_dev_switch(dev, XenbusStateInitWait);
        break;
    case XenbusStateInitWait:      /* a backend state, not a frontend's */
    case XenbusStateReconfiguring: /* not supported: ignored */
    case XenbusStateReconfigured:
        break;
    }
}

/* First sight: adopt a device found Connected, else probe and InitWait. */
static void xsg_dev_first(struct xsg_dev *dev, bool online,
                          enum xenbus_state fe)
{
    struct xsg_back *b = dev->back;
    int ret;

    dev->probed = true;
    dev->state = xsg_read_state(b->xs, XBT_NULL, dev->be_path);
    if (!online)
        return;
    if (dev->state == XenbusStateConnected && b->ops->adopt &&
        (fe == XenbusStateInitialised || fe == XenbusStateConnected)) {
        xsg_log(LOG_INFO, "%s: found Connected: adopting", dev->name);
        xsg_dev_started(dev, b->ops->adopt(dev, b->arg), "adopt");
        return;
    }
    ret = b->ops->probe(dev, b->arg);
    if (ret) {
        xsg_dev_fail(dev, ret, "probe failed");
        return;
    }
    if (dev->state != XenbusStateClosing && dev->state != XenbusStateClosed)
        xsg_dev_switch(dev, XenbusStateInitWait);
}

static void xsg_dev_forget(struct xsg_dev *dev)
{
    struct xsg_back *b = dev->back;

    xsg_dev_down(dev);
    if (dev->watched)
        xs_unwatch(b->xs, dev->fe_state, b->tok_fe);
    if (dev->queued)
        TAILQ_REMOVE(&b->pending, dev, plink);
    TAILQ_REMOVE(&b->devs, dev, link);
    b->ndevs--;
    if (dev->probed) {
        xsg_log(LOG_INFO, "%s: removed", dev->name);
        if (b->ops->remove)
            b->ops->remove(dev, b->arg);
    }
    free(dev);
}

/* Reads "frontend" once and watches the frontend's state. */
static int xsg_dev_find_frontend(struct xsg_dev *dev)
{
    struct xsg_back *b = dev->back;
    char *fe;
    int ret;

    ret = xsg_read_str(b->xs, XBT_NULL, dev->be_path, "frontend", &fe);
    if (ret)
        return ret;
    if (!fe[0] || strlen(fe) >= sizeof(dev->fe_path)) {
        free(fe);
        return -EINVAL;
    }
    strcpy(dev->fe_path, fe);
    free(fe);
    snprintf(dev->fe_state, sizeof(dev->fe_state), "%s/state", dev->fe_path);
    if (!xs_watch(b->xs, dev->fe_state, b->tok_fe))
        return errno ? -errno : -EIO;
    dev->watched = true;
    return 0;
}

static bool xsg_fe_dead(domid_t fe)
{
    struct plat_dominfo info;
    int ret = plat_domain_info(fe, &info);

    if (ret == -ESRCH)
        return true;
    return !ret && (info.dying || info.state != PLAT_DOM_RUNNING);
}

/* Tears down a device whose frontend domain died; never re-armed. */
static void xsg_dev_fe_died(struct xsg_dev *dev)
{
    xsg_log(LOG_INFO, "%s: frontend domain %u is gone", dev->name, dev->fe);
    xsg_dev_down(dev);
    if (dev->state != XenbusStateClosed && dev->state != XenbusStateUnknown)
        xsg_dev_switch(dev, XenbusStateClosed);
}

/*
 * Detached (online=0) and Closed: libxl, having read Closed, removes the
 * directories of a backend in its own domain (after running the hotplug
 * script, which reads this directory), but waits for a driver domain to
 * remove its own backend directory (libxl__device_destroy, device_hotplug).
 * So: in the toolstack's domain (0) keep it, the device is forgotten when
 * the toolstack removes it; in a driver domain remove it now.
 */
static void xsg_dev_detached(struct xsg_dev *dev)
{
    xsg_dev_switch(dev, XenbusStateClosed);
    if (dev->back->self == 0)
        return;
    xs_rm(dev->back->xs, XBT_NULL, dev->be_path);
    xsg_dev_forget(dev);
}

/*
 * The toolstack writes the backend's state too (libxl's detach sets
 * Closing along with online=0): take what xenstore says as our state, so
 * that the next switch is really written.
 */
static void xsg_dev_sync_state(struct xsg_dev *dev)
{
    enum xenbus_state st;

    if (!dev->probed)
        return;
    st = xsg_read_state(dev->back->xs, XBT_NULL, dev->be_path);
    if (st == dev->state || st == XenbusStateUnknown)
        return;
    xsg_log(LOG_INFO, "%s: state set to %s by the toolstack", dev->name,
            xsg_state_name(st));
    dev->state = st;
}

/* Handles one queued device: read the keys once, act on them. */
static void xsg_dev_refresh(struct xsg_dev *dev)
{
    struct xsg_back *b = dev->back;
    enum xenbus_state fe;
    unsigned long online;
    unsigned int len;
    char *dir;

    dir = xs_read(b->xs, XBT_NULL, dev->be_path, &len);
    if (!dir) {
        xsg_dev_forget(dev); /* the toolstack removed it */
        return;
    }
    free(dir);
    if (!dev->watched && xsg_dev_find_frontend(dev))
        return; /* not complete yet: the next event retries */
    if (xsg_read_feature(b->xs, XBT_NULL, dev->be_path, "online", 1, &online))
        online = 0;
    xsg_dev_sync_state(dev);
    if (dev->check_dom && !dev->fe_dead)
        dev->fe_dead = xsg_fe_dead(dev->fe);
    dev->check_dom = false;
    fe = dev->fe_dead ? XenbusStateUnknown
                      : xsg_read_state(b->xs, XBT_NULL, dev->fe_path);
    if (!dev->fe_dead && fe == XenbusStateUnknown && xsg_fe_dead(dev->fe))
        dev->fe_dead = true; /* its nodes went with it */
    if (dev->fe_dead) {
        dev->probed = true;
        xsg_dev_fe_died(dev);
        if (!online)
            xsg_dev_detached(dev);
        return;
    }
    if (!dev->probed) {
        xsg_dev_first(dev, online, fe);
        return;
    }
    if (!online && dev->state == XenbusStateClosing)
        xsg_dev_down(dev); /* the toolstack asked: stop the data path */
    if (!online && (dev->state == XenbusStateInitWait ||
                    dev->state == XenbusStateConnected)) {
        xsg_dev_down(dev);
        xsg_dev_switch(dev, fe == XenbusStateConnected ||
                                    fe == XenbusStateInitialised
                                ? XenbusStateClosing
                                : XenbusStateClosed);
    }
    xsg_frontend_changed(dev, fe, online);
    if (!online && dev->state == XenbusStateClosed)
        xsg_dev_detached(dev);
}

int xsg_back_process(struct xsg_back *b)
{
    struct xsg_dev *dev;
    int n = 0;

    while ((dev = TAILQ_FIRST(&b->pending))) {
        TAILQ_REMOVE(&b->pending, dev, plink);
        dev->queued = false;
        xsg_dev_refresh(dev);
        n++;
    }
    return n;
}

int xsg_back_open(struct xsg_back **out, const struct xsg_back_cfg *cfg)
{
    struct xsg_back *b;
    int ret;

    if (!cfg->ops || !cfg->ops->probe || !cfg->ops->connect ||
        !cfg->ops->disconnect || strlen(cfg->type) >= sizeof(b->type))
        return -EINVAL;
    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->xs = cfg->xs;
    b->ops = cfg->ops;
    b->arg = cfg->arg;
    strcpy(b->type, cfg->type);
    b->self = cfg->self;
    snprintf(b->root, sizeof(b->root), "/local/domain/%u/backend/%s", cfg->self,
             cfg->type);
    snprintf(b->tok_root, sizeof(b->tok_root), "xsg:b:%s", b->type);
    snprintf(b->tok_fe, sizeof(b->tok_fe), "xsg:f:%s", b->type);
    snprintf(b->tok_rel, sizeof(b->tok_rel), "xsg:r:%s", b->type);
    TAILQ_INIT(&b->devs);
    TAILQ_INIT(&b->pending);
    if (!xs_watch(b->xs, b->root, b->tok_root))
        goto err_errno;
    if (!xs_watch(b->xs, "@releaseDomain", b->tok_rel))
        goto err_root;
    xsg_back_scan(b);
    *out = b;
    return 0;

err_root:
    ret = errno ? -errno : -EIO;
    xs_unwatch(b->xs, b->root, b->tok_root);
    free(b);
    return ret;
err_errno:
    ret = errno ? -errno : -EIO;
    free(b);
    return ret;
}

void xsg_back_close(struct xsg_back *b)
{
    struct xsg_dev *dev;

    if (!b)
        return;
    while ((dev = TAILQ_FIRST(&b->devs))) {
        if (dev->up || dev->state == XenbusStateConnected ||
            dev->state == XenbusStateInitWait) {
            xsg_dev_switch(dev, XenbusStateClosing);
            xsg_dev_down(dev);
            xsg_dev_switch(dev, XenbusStateClosed);
        }
        xsg_dev_forget(dev);
    }
    xs_unwatch(b->xs, "@releaseDomain", b->tok_rel);
    xs_unwatch(b->xs, b->root, b->tok_root);
    free(b);
}

unsigned int xsg_back_count(const struct xsg_back *b)
{
    return b->ndevs;
}

const char *xsg_dev_name(const struct xsg_dev *dev)
{
    return dev->name;
}

const char *xsg_dev_type(const struct xsg_dev *dev)
{
    return dev->back->type;
}

domid_t xsg_dev_fe(const struct xsg_dev *dev)
{
    return dev->fe;
}

unsigned int xsg_dev_devid(const struct xsg_dev *dev)
{
    return dev->devid;
}

const char *xsg_dev_be_path(const struct xsg_dev *dev)
{
    return dev->be_path;
}

const char *xsg_dev_fe_path(const struct xsg_dev *dev)
{
    return dev->fe_path;
}

enum xenbus_state xsg_dev_state(const struct xsg_dev *dev)
{
    return dev->state;
}

void xsg_dev_set_priv(struct xsg_dev *dev, void *priv)
{
    dev->priv = priv;
}

void *xsg_dev_priv(const struct xsg_dev *dev)
{
    return dev->priv;
}
