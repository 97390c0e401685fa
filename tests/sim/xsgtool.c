/*
 * xsgtool: the toolstack side of a device for the tests (until drvdomctl
 * exists), run in dom0. It writes and removes exactly what libxl writes
 * (libxl__device_generic_add, libxl__initiate_device_generic_remove):
 *
 *   xsgtool add TYPE BE FE DEVID [KEY=VALUE ...]  (extra backend keys)
 *   xsgtool del TYPE BE FE DEVID   online=0, state=Closing, wait Closed,
 *                                  remove frontend and /libxl paths, wait
 *                                  for the driver domain to remove its own
 *   xsgtool wait PATH VALUE [MS]   until PATH reads VALUE (@gone: absent)
 *   xsgtool read PATH | write PATH VALUE
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drvdom/xsg.h"

#define XSGTOOL_TIMEOUT_MS 20000

struct xsgtool_dev {
    char fe[XSG_PATH_MAX]; /* /local/domain/<fe>/device/<type>/<devid> */
    char be[XSG_PATH_MAX]; /* /local/domain/<be>/backend/<type>/<fe>/<id> */
    char lx[XSG_PATH_MAX]; /* /libxl/<fe>/device/<type>/<devid> */
    unsigned int be_id;    /* backend domain */
    unsigned int fe_id;    /* frontend domain */
    char **extra;          /* KEY=VALUE backend keys */
    int nextra;            /* entries in extra */
};

static int xsgtool_dev(struct xsgtool_dev *d, char **argv)
{
    d->be_id = (unsigned int)strtoul(argv[1], NULL, 10);
    d->fe_id = (unsigned int)strtoul(argv[2], NULL, 10);
    snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/%s/%s", d->fe_id,
             argv[0], argv[3]);
    snprintf(d->be, sizeof(d->be), "/local/domain/%u/backend/%s/%u/%s",
             d->be_id, argv[0], d->fe_id, argv[3]);
    snprintf(d->lx, sizeof(d->lx), "/libxl/%u/device/%s/%s", d->fe_id, argv[0],
             argv[3]);
    return 0;
}

/* Writes dir/key with perms (libxl__xs_writev_perms) or inherited. */
static int xsgtool_put(struct xs_handle *xs, xs_transaction_t t,
                       const char *dir, const char *key, const char *val,
                       struct xs_permissions *perms, unsigned int n)
{
    char path[XSG_PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    if (!xs_write(xs, t, path, val, (unsigned int)strlen(val)))
        return -errno;
    if (perms && !xs_set_permissions(xs, t, path, perms, n))
        return -errno;
    return 0;
}

static int xsgtool_add_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct xsgtool_dev *d = arg;
    struct xs_permissions fe_perms[2] = {{d->fe_id, XS_PERM_NONE},
                                         {d->be_id, XS_PERM_READ}};
    struct xs_permissions be_perms[2] = {{d->be_id, XS_PERM_NONE},
                                         {d->fe_id, XS_PERM_READ}};
    char buf[16], *eq;
    int i, ret;

    snprintf(buf, sizeof(buf), "%u", d->be_id);
    xs_rm(xs, t, d->lx);
    ret = xsgtool_put(xs, t, d->lx, "frontend", d->fe, NULL, 0)
              ?: xsgtool_put(xs, t, d->lx, "backend", d->be, NULL, 0);
    xs_rm(xs, t, d->fe);
    if (ret || !xs_mkdir(xs, t, d->fe) ||
        !xs_set_permissions(xs, t, d->fe, fe_perms, 2))
        return ret ? ret : -errno;
    ret = xsgtool_put(xs, t, d->fe, "backend", d->be, NULL, 0) ?:
          xsgtool_put(xs, t, d->fe, "state", "1", fe_perms, 2) ?:
          xsgtool_put(xs, t, d->fe, "backend-id", buf, be_perms, 2);
    xs_rm(xs, t, d->be);
    if (ret || !xs_mkdir(xs, t, d->be) ||
        !xs_set_permissions(xs, t, d->be, be_perms, 2))
        return ret ? ret : -errno;
    snprintf(buf, sizeof(buf), "%u", d->fe_id);
    ret = xsgtool_put(xs, t, d->be, "frontend", d->fe, NULL, 0) ?:
          xsgtool_put(xs, t, d->be, "frontend-id", buf, NULL, 0) ?:
          xsgtool_put(xs, t, d->be, "online", "1", NULL, 0) ?:
          xsgtool_put(xs, t, d->be, "state", "1", NULL, 0);
    for (i = 0; !ret && i < d->nextra; i++) {
        eq = strchr(d->extra[i], '=');
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        ret = xsgtool_put(xs, t, d->be, d->extra[i], eq + 1, NULL, 0);
        *eq = '=';
    }
    return ret;
}

static long xsgtool_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until path reads want ("@gone": absent). 0 or -ETIMEDOUT. */
static int xsgtool_wait(struct xs_handle *xs, const char *path,
                        const char *want, long ms)
{
    long end = xsgtool_ms() + ms;
    struct pollfd pfd;
    unsigned int len;
    char *v, **ev;
    bool ok;

    if (!xs_watch(xs, path, "xsgtool"))
        return -errno;
    for (;;) {
        v = xs_read(xs, XBT_NULL, path, &len);
        ok = !strcmp(want, "@gone") ? !v : v && !strcmp(v, want);
        free(v);
        if (ok || xsgtool_ms() >= end)
            break;
        pfd.fd = xs_fileno(xs);
        pfd.events = POLLIN;
        poll(&pfd, 1, 100);
        while ((ev = xs_check_watch(xs)))
            free(ev);
    }
    xs_unwatch(xs, path, "xsgtool");
    return ok ? 0 : -ETIMEDOUT;
}

static int xsgtool_del_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct xsgtool_dev *d = arg;
    char *st;
    int ret;

    ret = xsg_read_str(xs, t, d->be, "state", &st);
    if (ret)
        return ret == -ENOENT ? 0 : ret;
    ret = xsgtool_put(xs, t, d->be, "online", "0", NULL, 0);
    if (!ret && strcmp(st, "6"))
        ret = xsgtool_put(xs, t, d->be, "state", "5", NULL, 0);
    free(st);
    return ret;
}

static int xsgtool_del(struct xs_handle *xs, struct xsgtool_dev *d)
{
    char path[XSG_PATH_MAX + 8];
    int ret;

    ret = xsg_txn(xs, xsgtool_del_txn, d);
    if (ret)
        return ret;
    snprintf(path, sizeof(path), "%s/state", d->be);
    ret = xsgtool_wait(xs, path, "6", XSGTOOL_TIMEOUT_MS);
    if (ret && xsgtool_wait(xs, d->be, "@gone", 0))
        fprintf(stderr, "xsgtool: %s never reached Closed\n", d->be);
    xs_rm(xs, XBT_NULL, d->fe);
    xs_rm(xs, XBT_NULL, d->lx);
    if (xsgtool_wait(xs, d->be, "@gone", XSGTOOL_TIMEOUT_MS)) {
        fprintf(stderr, "xsgtool: the driver domain left %s\n", d->be);
        xs_rm(xs, XBT_NULL, d->be);
        return -EBUSY;
    }
    return 0;
}

static int xsgtool_cmd(struct xs_handle *xs, int argc, char **argv)
{
    struct xsgtool_dev d = {0};
    unsigned int len;
    char *v;

    if (argc >= 6 && !strcmp(argv[1], "add")) {
        xsgtool_dev(&d, argv + 2);
        d.extra = argv + 6;
        d.nextra = argc - 6;
        return xsg_txn(xs, xsgtool_add_txn, &d);
    }
    if (argc == 6 && !strcmp(argv[1], "del")) {
        xsgtool_dev(&d, argv + 2);
        return xsgtool_del(xs, &d);
    }
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "wait"))
        return xsgtool_wait(xs, argv[2], argv[3],
                            argc == 5 ? atol(argv[4]) : XSGTOOL_TIMEOUT_MS);
    if (argc == 3 && !strcmp(argv[1], "read")) {
        v = xs_read(xs, XBT_NULL, argv[2], &len);
        if (!v)
            return -errno;
        printf("%s\n", v);
        free(v);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "write"))
        return xs_write(xs, XBT_NULL, argv[2], argv[3],
                        (unsigned int)strlen(argv[3]))
                   ? 0
                   : -errno;
    return -EINVAL;
}

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    int ret;

    xs = xs_open(0);
    if (!xs) {
        perror("xsgtool: xs_open");
        return 1;
    }
    ret = xsgtool_cmd(xs, argc, argv);
    xs_close(xs);
    if (ret == -EINVAL)
        fprintf(stderr, "usage: see the comment at the top of xsgtool.c\n");
    else if (ret)
        fprintf(stderr, "xsgtool %s: %s\n", argc > 1 ? argv[1] : "",
                strerror(-ret));
    return ret ? 1 : 0;
}
