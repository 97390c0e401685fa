/*
 * xsg keys: reading and writing xenstore keys the way blkif.h/netif.h use
 * them (optional numeric features, xenbus states, multi-page rings,
 * multi-queue), transactions with retry, and the glue's log sink.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "drvdom/xsg.h"

static xsg_log_fn xsg_log_sink;

void xsg_set_log(xsg_log_fn fn)
{
    xsg_log_sink = fn;
}

void xsg_log(int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (xsg_log_sink)
        xsg_log_sink(level, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

const char *xsg_state_name(int state)
{
    static const char *const names[] = {
        [XenbusStateUnknown] = "Unknown",
        [XenbusStateInitialising] = "Initialising",
        [XenbusStateInitWait] = "InitWait",
        [XenbusStateInitialised] = "Initialised",
        [XenbusStateConnected] = "Connected",
        [XenbusStateClosing] = "Closing",
        [XenbusStateClosed] = "Closed",
        [XenbusStateReconfiguring] = "Reconfiguring",
        [XenbusStateReconfigured] = "Reconfigured",
    };

    if (state < 0 || (size_t)state >= sizeof(names) / sizeof(names[0]))
        return "Invalid";
    return names[state];
}

static int xsg_path(char *buf, size_t size, const char *dir, const char *key)
{
    int n = snprintf(buf, size, "%s/%s", dir, key);

    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xsg_read_str(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                 const char *key, char **val)
{
    char path[XSG_PATH_MAX];
    unsigned int len;
    int ret;

    ret = xsg_path(path, sizeof(path), dir, key);
    if (ret)
        return ret;
    *val = xs_read(xs, t, path, &len);
    if (!*val)
        return errno ? -errno : -EIO;
    return 0;
}

int xsg_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                  const char *key, unsigned long max, unsigned long *val)
{
    unsigned long v;
    char *s, *end;
    int ret;

    ret = xsg_read_str(xs, t, dir, key, &s);
    if (ret)
        return ret;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (!s[0] || *end || s[0] == '-' || errno || v > max)
        ret = -EINVAL;
    else
        *val = v;
    free(s);
    return ret;
}

int xsg_read_feature(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                     const char *key, unsigned long max, unsigned long *val)
{
    int ret = xsg_read_uint(xs, t, dir, key, max, val);

    if (ret == -ENOENT) {
        *val = 0;
        return 0;
    }
    return ret;
}

int xsg_write_fmt(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                  const char *key, const char *fmt, ...)
{
    char path[XSG_PATH_MAX], val[256];
    va_list ap;
    int n, ret;

    ret = xsg_path(path, sizeof(path), dir, key);
    if (ret)
        return ret;
    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return -E2BIG;
    if (!xs_write(xs, t, path, val, (unsigned int)n))
        return errno ? -errno : -EIO;
    return 0;
}

enum xenbus_state xsg_read_state(struct xs_handle *xs, xs_transaction_t t,
                                 const char *dir)
{
    unsigned long v;

    if (xsg_read_uint(xs, t, dir, "state", XenbusStateReconfigured, &v))
        return XenbusStateUnknown;
    return (enum xenbus_state)v;
}

struct xsg_switch_arg {
    const char *dir;         /* device directory */
    enum xenbus_state state; /* state to write */
};

static int xsg_switch_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct xsg_switch_arg *a = arg;
    char *old;
    int ret;

    ret = xsg_read_str(xs, t, a->dir, "state", &old);
    if (ret)
        return ret;
    free(old);
    return xsg_write_fmt(xs, t, a->dir, "state", "%d", (int)a->state);
}

int xsg_switch_state(struct xs_handle *xs, const char *dir,
                     enum xenbus_state state)
{
    struct xsg_switch_arg a = {dir, state};

    return xsg_txn(xs, xsg_switch_txn, &a);
}

int xsg_txn(struct xs_handle *xs, xsg_txn_fn fn, void *arg)
{
    xs_transaction_t t;
    int ret, i;

    for (i = 0; i < XSG_TXN_RETRIES; i++) {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            return errno ? -errno : -EIO;
        ret = fn(xs, t, arg);
        if (ret) {
            xs_transaction_end(xs, t, true);
            return ret;
        }
        if (xs_transaction_end(xs, t, false))
            return 0;
        if (errno != EAGAIN)
            return errno ? -errno : -EIO;
    }
    return -EAGAIN;
}

int xsg_write_ring_refs(struct xs_handle *xs, xs_transaction_t t,
                        const char *dir, unsigned int order,
                        const grant_ref_t *refs)
{
    char key[32];
    unsigned int i;
    int ret;

    if (order > XSG_MAX_RING_ORDER)
        return -EINVAL;
    if (order == 0)
        return xsg_write_fmt(xs, t, dir, "ring-ref", "%u", refs[0]);
    ret = xsg_write_fmt(xs, t, dir, "ring-page-order", "%u", order);
    for (i = 0; !ret && i < (1u << order); i++) {
        snprintf(key, sizeof(key), "ring-ref%u", i);
        ret = xsg_write_fmt(xs, t, dir, key, "%u", refs[i]);
    }
    return ret;
}

int xsg_read_ring_refs(struct xs_handle *xs, xs_transaction_t t,
                       const char *dir, unsigned int max_order,
                       unsigned int *order, grant_ref_t *refs)
{
    const char *prop;
    unsigned long v;
    char key[32];
    unsigned int i;
    int ret;

    prop = "ring-page-order";
    ret = xsg_read_feature(xs, t, dir, prop, max_order, &v);
    if (ret)
        goto errout;
    *order = (unsigned int)v;
    if (*order == 0) {
        prop = "ring-ref";
        ret = xsg_read_uint(xs, t, dir, prop, UINT32_MAX, &v);
        if (ret)
            goto errout;
        refs[0] = (grant_ref_t)v;
        return 0;
    }
    for (i = 0; i < (1u << *order); i++) {
        snprintf(key, sizeof(key), "ring-ref%u", i);
        prop = key;
        ret = xsg_read_uint(xs, t, dir, prop, UINT32_MAX, &v);
        if (ret)
            goto errout;
        refs[i] = (grant_ref_t)v;
    }
    return 0;

errout:
    xsg_log(LOG_ERR, "%s/%s: %s", dir, prop, strerror(-ret));
    return ret;
}

int xsg_read_num_queues(struct xs_handle *xs, xs_transaction_t t,
                        const char *fe_dir, unsigned int max, unsigned int *nr)
{
    const char *prop = "multi-queue-num-queues";
    unsigned long v;
    int ret;

    ret = xsg_read_uint(xs, t, fe_dir, prop, max, &v);
    if (ret == -ENOENT) {
        *nr = 1;
        return 0;
    }
    if (!ret && v == 0)
        ret = -EINVAL;
    if (ret) {
        xsg_log(LOG_ERR, "%s/%s: %s (max %u)", fe_dir, prop, strerror(-ret),
                max);
        return ret;
    }
    *nr = (unsigned int)v;
    return 0;
}

int xsg_queue_dir(char *buf, size_t size, const char *dir, unsigned int q,
                  unsigned int nr)
{
    int n;

    if (nr <= 1)
        n = snprintf(buf, size, "%s", dir);
    else
        n = snprintf(buf, size, "%s/queue-%u", dir, q);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
