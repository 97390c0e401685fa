/*
 * xsg frontend side: find the backend the toolstack named, wait for its
 * state with a timeout and a clear error, switch our own state.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "drvdom/xsg.h"

#define XSG_FRONT_TOKEN "xsg:front"

int xsg_front_open(struct xsg_front *f, struct xs_handle *xs, const char *type,
                   domid_t self, unsigned int devid)
{
    const char *prop;
    unsigned long id;
    int ret;

    memset(f, 0, sizeof(*f));
    f->xs = xs;
    snprintf(f->name, sizeof(f->name), "%s/%u/%u", type, self, devid);
    snprintf(f->fe_path, sizeof(f->fe_path), "/local/domain/%u/device/%s/%u",
             self, type, devid);
    prop = "backend";
    ret = xsg_read_str(xs, XBT_NULL, f->fe_path, prop, &f->be_path);
    if (ret)
        goto errout;
    prop = "backend-id";
    ret = xsg_read_uint(xs, XBT_NULL, f->fe_path, prop,
                        DOMID_FIRST_RESERVED - 1, &id);
    if (ret)
        goto errout;
    f->be_id = (domid_t)id;
    return 0;

errout:
    xsg_log(LOG_ERR, "%s: %s/%s: %s", f->name, f->fe_path, prop,
            strerror(-ret));
    xsg_front_close(f);
    return ret;
}

void xsg_front_close(struct xsg_front *f)
{
    free(f->be_path);
    f->be_path = NULL;
}

int xsg_front_switch(struct xsg_front *f, enum xenbus_state state)
{
    int ret = xsg_switch_state(f->xs, f->fe_path, state);

    if (ret)
        xsg_log(LOG_ERR, "%s: cannot switch to %s: %s", f->name,
                xsg_state_name(state), strerror(-ret));
    return ret;
}

static long xsg_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The backend refused: log its state and "error" key. */
static int xsg_front_refused(struct xsg_front *f, enum xenbus_state st,
                             enum xenbus_state want)
{
    char *err = NULL;

    xsg_read_str(f->xs, XBT_NULL, f->be_path, "error", &err);
    xsg_log(LOG_ERR, "%s: backend %s went to %s while we waited for %s%s%s",
            f->name, f->be_path, xsg_state_name(st), xsg_state_name(want),
            err ? ": " : "", err ? err : "");
    free(err);
    return -ECONNRESET;
}

/* Waits for xs_fileno to be readable and drops the queued events. */
static int xsg_front_poll(struct xsg_front *f, long left)
{
    struct pollfd pfd = {.fd = xs_fileno(f->xs), .events = POLLIN};
    char **ev;
    int n;

    if (pfd.fd < 0)
        return -EIO;
    n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
    if (n < 0 && errno != EINTR)
        return -errno;
    while ((ev = xs_check_watch(f->xs)))
        free(ev);
    return 0;
}

int xsg_front_wait(struct xsg_front *f, enum xenbus_state want, int timeout_ms)
{
    char path[XSG_PATH_MAX];
    long deadline = xsg_now_ms() + timeout_ms, left;
    enum xenbus_state st;
    int ret;

    snprintf(path, sizeof(path), "%s/state", f->be_path);
    if (!xs_watch(f->xs, path, XSG_FRONT_TOKEN))
        return errno ? -errno : -EIO;
    for (;;) {
        st = xsg_read_state(f->xs, XBT_NULL, f->be_path);
        if (st == want) {
            ret = 0;
            break;
        }
        if (st == XenbusStateClosing ||
            (st == XenbusStateClosed && want == XenbusStateConnected)) {
            ret = xsg_front_refused(f, st, want);
            break;
        }
        left = deadline - xsg_now_ms();
        if (left <= 0) {
            xsg_log(LOG_ERR,
                    "%s: timed out after %d ms waiting for backend %s to "
                    "reach %s (it is %s)",
                    f->name, timeout_ms, f->be_path, xsg_state_name(want),
                    xsg_state_name(st));
            ret = -ETIMEDOUT;
            break;
        }
        ret = xsg_front_poll(f, left);
        if (ret)
            break;
    }
    xs_unwatch(f->xs, path, XSG_FRONT_TOKEN);
    return ret;
}
