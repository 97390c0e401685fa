/*
 * xsgts: the toolstack side of a device for tests and benchmarks (until
 * drvdomctl exists): exactly what libxl writes and removes
 * (libxl__device_generic_add, libxl__initiate_device_generic_remove,
 * libxl__device_destroy).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/sim/xsgts.h"

int xsgts_dev(struct xsgts_dev *d, char **argv)
{
    d->be_id = (unsigned int)strtoul(argv[1], NULL, 10);
    d->fe_id = (unsigned int)strtoul(argv[2], NULL, 10);
    d->devid = (unsigned int)strtoul(argv[3], NULL, 10);
    d->vbd = !strcmp(argv[0], "vbd");
    snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/%s/%s", d->fe_id,
             argv[0], argv[3]);
    snprintf(d->be, sizeof(d->be), "/local/domain/%u/backend/%s/%u/%s",
             d->be_id, argv[0], d->fe_id, argv[3]);
    snprintf(d->lx, sizeof(d->lx), "/libxl/%u/device/%s/%s", d->fe_id, argv[0],
             argv[3]);
    return 0;
}

/* Writes dir/key with perms (libxl__xs_writev_perms) or inherited. */
static int xsgts_put(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                     const char *key, const char *val,
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

static int xsgts_add_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct xsgts_dev *d = arg;
    struct xs_permissions fe_perms[2] = {{d->fe_id, XS_PERM_NONE},
                                         {d->be_id, XS_PERM_READ}};
    struct xs_permissions be_perms[2] = {{d->be_id, XS_PERM_NONE},
                                         {d->fe_id, XS_PERM_READ}};
    char buf[16], *eq;
    int i, ret;

    snprintf(buf, sizeof(buf), "%u", d->be_id);
    xs_rm(xs, t, d->lx);
    ret = xsgts_put(xs, t, d->lx, "frontend", d->fe, NULL, 0)
              ?: xsgts_put(xs, t, d->lx, "backend", d->be, NULL, 0);
    xs_rm(xs, t, d->fe);
    if (ret || !xs_mkdir(xs, t, d->fe) ||
        !xs_set_permissions(xs, t, d->fe, fe_perms, 2))
        return ret ? ret : -errno;
    ret = xsgts_put(xs, t, d->fe, "backend", d->be, NULL, 0) ?:
          xsgts_put(xs, t, d->fe, "state", "1", fe_perms, 2) ?:
          xsgts_put(xs, t, d->fe, "backend-id", buf, be_perms, 2);
    if (!ret && d->vbd) { /* libxl__device_disk_add's frontend keys */
        snprintf(buf, sizeof(buf), "%u", d->devid);
        ret = xsgts_put(xs, t, d->fe, "virtual-device", buf, NULL, 0)
                  ?: xsgts_put(xs, t, d->fe, "device-type", "disk", NULL, 0);
    }
    xs_rm(xs, t, d->be);
    if (ret || !xs_mkdir(xs, t, d->be) ||
        !xs_set_permissions(xs, t, d->be, be_perms, 2))
        return ret ? ret : -errno;
    snprintf(buf, sizeof(buf), "%u", d->fe_id);
    ret = xsgts_put(xs, t, d->be, "frontend", d->fe, NULL, 0) ?:
          xsgts_put(xs, t, d->be, "frontend-id", buf, NULL, 0) ?:
          xsgts_put(xs, t, d->be, "online", "1", NULL, 0) ?:
          xsgts_put(xs, t, d->be, "state", "1", NULL, 0);
    for (i = 0; !ret && i < d->nextra; i++) {
        eq = strchr(d->extra[i], '=');
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        ret = xsgts_put(xs, t, d->be, d->extra[i], eq + 1, NULL, 0);
        *eq = '=';
    }
    return ret;
}

long xsgts_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Whether value v (NULL: absent) is one of want's "|"-separated values,
 * "@gone" standing for absent. */
static bool xsgts_match(const char *v, const char *want)
{
    size_t n;

    for (;;) {
        n = strcspn(want, "|");
        if (n == 5 && !strncmp(want, "@gone", 5)
                ? !v
                : v && strlen(v) == n && !strncmp(v, want, n))
            return true;
        if (!want[n])
            return false;
        want += n + 1;
    }
}

/* Waits until path reads one of want's values ("6|@gone"). 0, -ETIMEDOUT,
 * or the connection's error (only ENOENT reads as absent). */
int xsgts_wait(struct xs_handle *xs, const char *path, const char *want,
               long ms)
{
    long end = xsgts_ms() + ms;
    struct pollfd pfd;
    unsigned int len;
    char *v, **ev;
    bool ok = false;
    int ret = 0;

    if (!xs_watch(xs, path, "xsgts"))
        return errno ? -errno : -EIO;
    for (;;) {
        v = xs_read(xs, XBT_NULL, path, &len);
        if (!v && errno != ENOENT) {
            ret = errno ? -errno : -EIO;
            break;
        }
        ok = xsgts_match(v, want);
        free(v);
        if (ok || xsgts_ms() >= end)
            break;
        pfd.fd = xs_fileno(xs);
        pfd.events = POLLIN;
        poll(&pfd, 1, 100);
        while ((ev = xs_check_watch(xs)))
            free(ev);
    }
    xs_unwatch(xs, path, "xsgts");
    return ret ? ret : ok ? 0 : -ETIMEDOUT;
}

static int xsgts_del_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct xsgts_dev *d = arg;
    char *st;
    int ret;

    ret = xsg_read_str(xs, t, d->be, "state", &st);
    if (ret)
        return ret == -ENOENT ? 0 : ret;
    ret = xsgts_put(xs, t, d->be, "online", "0", NULL, 0);
    if (!ret && strcmp(st, "6"))
        ret = xsgts_put(xs, t, d->be, "state", "5", NULL, 0);
    free(st);
    return ret;
}

/* Removes path's empty ancestors as libxl__xs_path_cleanup does after a
 * device directory (up to the first with a value or a child), so that no
 * /local/domain/<be>/backend/<type>/<fe> outlives the frontend's devices. */
static void xsgts_rm_empty_parents(struct xs_handle *xs, const char *path)
{
    char p[XSG_PATH_MAX], *slash, *val, **dir;
    unsigned int len, n = 1;

    snprintf(p, sizeof(p), "%s", path);
    while ((slash = strrchr(p, '/')) && slash != p) {
        *slash = '\0';
        val = xs_read(xs, XBT_NULL, p, &len);
        dir = val && !len ? xs_directory(xs, XBT_NULL, p, &n) : NULL;
        free(val);
        free(dir);
        if (!dir || n || !xs_rm(xs, XBT_NULL, p))
            break;
    }
}

int xsgts_del(struct xs_handle *xs, struct xsgts_dev *d)
{
    char path[XSG_PATH_MAX + 8];
    int ret;

    ret = xsg_txn(xs, xsgts_del_txn, d);
    if (ret)
        return ret;
    /* Closed, or already removed by the driver domain (it removes its own
     * directory once Closed): either way the backend is done. */
    snprintf(path, sizeof(path), "%s/state", d->be);
    ret = xsgts_wait(xs, path, "6|@gone", XSGTS_TIMEOUT_MS);
    if (ret == -ETIMEDOUT && xsgts_wait(xs, d->be, "@gone", 0))
        fprintf(stderr, "xsgts: %s never reached Closed\n", d->be);
    else if (ret && ret != -ETIMEDOUT)
        return ret; /* the connection, not the backend */
    xs_rm(xs, XBT_NULL, d->fe);
    xs_rm(xs, XBT_NULL, d->lx);
    /* A backend in our own domain leaves its directory to us (libxl's
     * libxl__device_destroy); a driver domain removes its own. */
    if (d->be_id == 0)
        xs_rm(xs, XBT_NULL, d->be);
    xsgts_rm_empty_parents(xs, d->fe);
    xsgts_rm_empty_parents(xs, d->lx);
    ret = xsgts_wait(xs, d->be, "@gone", XSGTS_TIMEOUT_MS);
    if (ret == -ETIMEDOUT) {
        fprintf(stderr, "xsgts: the driver domain left %s\n", d->be);
        xs_rm(xs, XBT_NULL, d->be);
        ret = -EBUSY;
    } else if (ret) {
        return ret;
    }
    xsgts_rm_empty_parents(xs, d->be);
    return ret;
}

int xsgts_add(struct xs_handle *xs, struct xsgts_dev *d)
{
    return xsg_txn(xs, xsgts_add_txn, d);
}
