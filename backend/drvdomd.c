/*
 * drvdomd: the driver-domain daemon. Watches the backend directories of the
 * device types it serves (xenstore-glue's device model owns the xenbus
 * state machine) and runs one worker process per connected device; see
 * drvdomd(8) and docs/xenbus.md.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "backend/drvdomd.h"
#include "drvdom/platform.h"

static const char drvdomd_usage[] =
    "Usage: drvdomd --worker TYPE=PROGRAM [--worker ...] [--run-dir DIR]\n"
    "               [--platform xen|sim|auto] [--max-restarts N]\n"
    "\n"
    "Serves the backend devices of each TYPE of this domain with one\n"
    "PROGRAM process per device. Stays in the foreground, logs to stderr.\n"
    "\n"
    "  -w, --worker TYPE=PROGRAM  device type and its worker program\n"
    "  -r, --run-dir DIR          worker pid files (default /run/drvdomd)\n"
    "  -P, --platform NAME        xen, sim or auto (default auto)\n"
    "  -m, --max-restarts N       worker restarts per 10 s (default 5)\n"
    "  -h, --help                 this help\n";

void drvdomd_log(int level, const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    (void)level;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    fprintf(stderr, "drvdomd[%d] %s.%03ld: ", (int)getpid(), ts,
            now.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void drvdomd_xsg_log(int level, const char *msg)
{
    drvdomd_log(level, "%s", msg);
}

uint64_t drvdomd_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Drains the watch events, hands each to the type it belongs to, then
 * handles every queued device once. */
static void drvdomd_xs_cb(evutil_socket_t fd, short what, void *arg)
{
    struct drvdomd *d = arg;
    unsigned int i;
    char **ev;

    (void)fd;
    (void)what;
    while ((ev = xs_check_watch(d->xs))) {
        for (i = 0; i < d->ntypes; i++) {
            if (xsg_back_watch_event(d->types[i].back, ev[XS_WATCH_PATH],
                                     ev[XS_WATCH_TOKEN]))
                break;
        }
        free(ev);
    }
    for (i = 0; i < d->ntypes; i++)
        xsg_back_process(d->types[i].back);
}

static void drvdomd_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct drvdomd *d = arg;

    (void)what;
    drvdomd_log(LOG_INFO, "signal %d: closing every device", (int)sig);
    event_base_loopbreak(d->base);
}

static int drvdomd_add_type(struct drvdomd *d, const char *spec)
{
    const char *eq = strchr(spec, '=');
    struct drvdomd_type *t;
    size_t n;

    if (!eq || eq == spec || !eq[1] || d->ntypes == DRVDOMD_MAX_TYPES)
        return -EINVAL;
    n = (size_t)(eq - spec);
    t = &d->types[d->ntypes];
    if (n >= sizeof(t->name))
        return -EINVAL;
    memcpy(t->name, spec, n);
    t->name[n] = '\0';
    t->worker = strdup(eq + 1);
    if (!t->worker)
        return -ENOMEM;
    t->d = d;
    d->ntypes++;
    return 0;
}

static int drvdomd_parse(struct drvdomd *d, int argc, char **argv)
{
    static const struct option opts[] = {
        {"worker", required_argument, NULL, 'w'},
        {"run-dir", required_argument, NULL, 'r'},
        {"platform", required_argument, NULL, 'P'},
        {"max-restarts", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, ret;

    d->run_dir = "/run/drvdomd";
    d->max_restarts = 5;
    while ((c = getopt_long(argc, argv, "w:r:P:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            ret = drvdomd_add_type(d, optarg);
            if (ret)
                return ret;
            break;
        case 'r':
            d->run_dir = optarg;
            break;
        case 'P':
            ret = plat_select_name(optarg);
            if (ret)
                return ret;
            break;
        case 'm':
            d->max_restarts = (unsigned int)strtoul(optarg, NULL, 10);
            break;
        default:
            return -EINVAL;
        }
    }
    return optind == argc && d->ntypes ? 0 : -EINVAL;
}

/* Opens every type's device model (which queues the devices already
 * there: a restarted drvdomd re-adopts the connected ones). */
static int drvdomd_open_types(struct drvdomd *d)
{
    struct xsg_back_cfg cfg = {
        .xs = d->xs, .self = d->self, .ops = &drvdomd_ops};
    struct drvdomd_type *t;
    unsigned int i;
    int ret;

    for (i = 0; i < d->ntypes; i++) {
        t = &d->types[i];
        ret = drvdomd_type_features(t);
        if (ret) {
            drvdomd_log(LOG_ERR, "%s: %s --features: %s", t->name, t->worker,
                        strerror(-ret));
            return ret;
        }
        cfg.type = t->name;
        cfg.arg = t;
        ret = xsg_back_open(&t->back, &cfg);
        if (ret) {
            drvdomd_log(LOG_ERR, "%s: cannot watch backend/%s: %s", t->name,
                        t->name, strerror(-ret));
            return ret;
        }
        drvdomd_log(LOG_INFO, "serving %s with %s", t->name, t->worker);
    }
    return 0;
}

static void drvdomd_close(struct drvdomd *d)
{
    unsigned int i, j;

    for (i = 0; i < d->ntypes; i++) {
        xsg_back_close(d->types[i].back);
        d->types[i].back = NULL;
        for (j = 0; j < d->types[i].nfeats; j++) {
            free(d->types[i].feats[j].key);
            free(d->types[i].feats[j].val);
        }
        free(d->types[i].worker);
    }
    if (d->xs_ev)
        event_free(d->xs_ev);
    if (d->xs)
        xs_close(d->xs);
    if (d->base)
        event_base_free(d->base);
}

static int drvdomd_setup(struct drvdomd *d)
{
    int ret;

    ret = plat_domid_self(&d->self);
    if (ret) {
        drvdomd_log(LOG_ERR, "cannot find our domain id: %s", strerror(-ret));
        return ret;
    }
    if (mkdir(d->run_dir, 0700) && errno != EEXIST) {
        ret = -errno;
        drvdomd_log(LOG_ERR, "%s: %s", d->run_dir, strerror(errno));
        return ret;
    }
    d->base = event_base_new();
    d->xs = xs_open(0);
    if (!d->base || !d->xs) {
        drvdomd_log(LOG_ERR, "cannot open xenstore: %s", strerror(errno));
        return -EIO;
    }
    d->xs_ev = event_new(d->base, xs_fileno(d->xs), EV_READ | EV_PERSIST,
                         drvdomd_xs_cb, d);
    if (!d->xs_ev || event_add(d->xs_ev, NULL))
        return -ENOMEM;
    ret = drvdomd_open_types(d);
    if (ret)
        return ret;
    /* Handle what the scan queued without waiting for an event. */
    drvdomd_xs_cb(-1, 0, d);
    return 0;
}

int main(int argc, char **argv)
{
    struct drvdomd d = {0};
    struct event *sigs[2] = {NULL, NULL};
    int ret;

    ret = drvdomd_parse(&d, argc, argv);
    if (ret) {
        fputs(drvdomd_usage, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    xsg_set_log(drvdomd_xsg_log);
    ret = drvdomd_setup(&d);
    if (ret)
        goto out;
    sigs[0] = evsignal_new(d.base, SIGTERM, drvdomd_signal_cb, &d);
    sigs[1] = evsignal_new(d.base, SIGINT, drvdomd_signal_cb, &d);
    if (!sigs[0] || !sigs[1] || evsignal_add(sigs[0], NULL) ||
        evsignal_add(sigs[1], NULL)) {
        ret = -ENOMEM;
        goto out;
    }
    drvdomd_log(LOG_INFO, "domain %u: running", d.self);
    event_base_dispatch(d.base);
out:
    if (sigs[0])
        event_free(sigs[0]);
    if (sigs[1])
        event_free(sigs[1]);
    drvdomd_close(&d);
    drvdomd_log(LOG_INFO, "exiting");
    return ret ? 1 : 0;
}
