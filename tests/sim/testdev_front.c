/*
 * testdev_front: the frontend of the testif device type (testif.h), run as
 * a sim domain by the tests/sim xsg e2e tests and attachbench.
 *
 *   testdev_front --devid D --status FILE [--count N] [--order O]
 *                 [--bad-ref | --bad-evtchn] [--flip N] [--serve N]
 *
 * Waits for its device, connects (xsg frontend side), then keeps the ring
 * full of requests and checks that every seq gets exactly one correct
 * response, across backend worker restarts. --count 0 runs until SIGTERM;
 * then (or after N responses) it drains and closes the device. The status
 * FILE holds "key value" lines (state, done, errors, refused, ...).
 * --bad-ref / --bad-evtchn publish garbage and expect a refusal. --flip N
 * flips our state Connected <-> Initialised N times once connected.
 * --serve N connects devids D..D+N-1 in turn, one request each, closing
 * each when the toolstack detaches it (for attachbench).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drvdom/platform.h"
#include "drvdom/ringbuf.h"
#include "drvdom/xsg.h"
#include "tests/sim/testif.h"
#include <xen/io/protocols.h>

#define TF_TIMEOUT_MS 20000
#define TF_BATCH      64

struct tf_opts {
    unsigned int devid;  /* first device id */
    const char *status;  /* status file */
    unsigned long count; /* responses wanted, 0: until SIGTERM */
    unsigned int order;  /* ring-page-order asked for */
    bool bad_ref;        /* publish a garbage ring-ref */
    bool bad_evtchn;     /* publish a garbage event-channel */
    unsigned long flip;  /* state flips once connected */
    unsigned int serve;  /* --serve N */
};

struct tf {
    struct tf_opts o;        /* options */
    struct xs_handle *xs;    /* xenstore */
    domid_t self;            /* our domid */
    struct xsg_front f;      /* device */
    struct plat_gntshr *gs;  /* sharing handle */
    struct plat_evtchn *ec;  /* event channels */
    void *ring;              /* shared ring pages */
    unsigned int order;      /* their order */
    evtchn_port_t port;      /* our unbound port */
    struct ringbuf_front rf; /* front ring */
    struct ringbuf_ids ids;  /* request ids */
    uint64_t *id_seq;        /* seq outstanding per id */
    uint64_t seq;            /* next seq */
    unsigned long done;      /* correct responses */
    unsigned long errors;    /* wrong, duplicate or unknown responses */
    const char *state;       /* for the status file */
    bool be_closing;         /* backend went Closing/Closed */
};

static volatile sig_atomic_t tf_stop;

static void tf_on_signal(int sig)
{
    (void)sig;
    tf_stop = 1;
}

static void tf_status(struct tf *t)
{
    char tmp[512];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", t->o.status);
    f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "state %s\ndone %lu\nerrors %lu\nsent %llu\n", t->state, t->done,
            t->errors, (unsigned long long)t->seq);
    if (fclose(f) == 0)
        rename(tmp, t->o.status);
}

/* Waits (watch) until the toolstack wrote our device's backend key. */
static int tf_wait_device(struct tf *t, unsigned int devid)
{
    char path[XSG_PATH_MAX];
    struct pollfd pfd;
    int i, ret = -ETIMEDOUT;
    char **ev;

    snprintf(path, sizeof(path), "/local/domain/%u/device/%s/%u/backend",
             t->self, TESTIF_TYPE, devid);
    if (!xs_watch(t->xs, path, "tf:dev"))
        return -errno;
    for (i = 0; i < TF_TIMEOUT_MS / 100 && !tf_stop; i++) {
        ret = xsg_front_open(&t->f, t->xs, TESTIF_TYPE, t->self, devid);
        if (ret != -ENOENT && ret != -EACCES)
            break; /* EACCES: the toolstack has not made it ours yet */
        pfd.fd = xs_fileno(t->xs);
        pfd.events = POLLIN;
        poll(&pfd, 1, 100);
        while ((ev = xs_check_watch(t->xs)))
            free(ev);
    }
    xs_unwatch(t->xs, path, "tf:dev");
    return ret;
}

struct tf_pub {
    struct tf *t;      /* frontend */
    grant_ref_t *refs; /* ring refs */
};

static int tf_publish_txn(struct xs_handle *xs, xs_transaction_t tx, void *arg)
{
    struct tf_pub *p = arg;
    struct tf *t = p->t;
    int ret;

    ret = xsg_write_ring_refs(xs, tx, t->f.fe_path, t->order, p->refs);
    if (!ret)
        ret = xsg_write_fmt(xs, tx, t->f.fe_path, "event-channel", "%u",
                            t->o.bad_evtchn ? 4000u : t->port);
    if (!ret)
        ret = xsg_write_fmt(xs, tx, t->f.fe_path, "protocol", "%s",
                            XEN_IO_PROTO_ABI_NATIVE);
    if (!ret)
        ret = xsg_write_fmt(xs, tx, t->f.fe_path, "state", "%d",
                            XenbusStateInitialised);
    return ret;
}

/* Shares the ring, binds a port, publishes both: Initialised. */
static int tf_publish(struct tf *t)
{
    grant_ref_t refs[XSG_MAX_RING_PAGES];
    struct tf_pub p = {t, refs};
    unsigned long max;
    int ret;

    if (xsg_read_feature(t->xs, XBT_NULL, t->f.be_path, "max-ring-page-order",
                         XSG_MAX_RING_ORDER, &max))
        max = 0;
    t->order = t->o.order < max ? t->o.order : (unsigned int)max;
    ret = plat_gntshr_share(t->gs, t->f.be_id, 1u << t->order, refs, true,
                            &t->ring);
    if (ret) {
        t->ring = NULL;
        return ret;
    }
    ret = ringbuf_front_init(&t->rf, t->ring, t->order,
                             sizeof(struct testif_request),
                             sizeof(struct testif_response));
    if (!ret)
        ret = plat_evtchn_bind_unbound(t->ec, t->f.be_id, &t->port);
    if (ret)
        return ret;
    if (t->o.bad_ref)
        refs[0] += 100000;
    return xsg_txn(t->xs, tf_publish_txn, &p);
}

static void tf_unpublish(struct tf *t)
{
    if (t->port)
        plat_evtchn_unbind(t->ec, t->port);
    t->port = 0;
    if (t->ring && plat_gntshr_unshare(t->gs, t->ring, 1u << t->order))
        fprintf(stderr, "%s: ring still mapped by the backend\n", t->f.name);
    t->ring = NULL;
}

static void tf_complete(struct tf *t, const struct testif_response *r)
{
    if (ringbuf_ids_put(&t->ids, r->id) || t->id_seq[r->id] != r->seq ||
        r->result != testif_result(r->seq, r->seq ^ 0x5a5a)) {
        fprintf(stderr, "%s: bad response id %llu seq %llu\n", t->f.name,
                (unsigned long long)r->id, (unsigned long long)r->seq);
        t->errors++;
        return;
    }
    t->done++;
}

/* Queues requests while ids are free; notifies when the backend wants. */
static void tf_fill(struct tf *t, bool more)
{
    struct testif_request rq;
    int id;

    while (more && ringbuf_front_free(&t->rf)) {
        if (t->o.count && t->seq >= t->o.count)
            break;
        id = ringbuf_ids_get(&t->ids);
        if (id < 0)
            break;
        rq.id = (uint64_t)id;
        rq.seq = t->seq++;
        rq.payload = rq.seq ^ 0x5a5a;
        t->id_seq[id] = rq.seq;
        ringbuf_front_put(&t->rf, &rq);
    }
    if (ringbuf_front_push(&t->rf))
        plat_evtchn_notify(t->ec, t->port);
}

/* Takes responses; 0 when none left (armed), <0 when the ring broke. */
static int tf_take(struct tf *t)
{
    struct testif_response rsp[TF_BATCH];
    int n, i;

    n = ringbuf_front_take(&t->rf, rsp, TF_BATCH);
    if (n < 0)
        return n;
    for (i = 0; i < n; i++)
        tf_complete(t, &rsp[i]);
    return n ? n : ringbuf_front_final_check(&t->rf);
}

/* Waits for an event or a backend state change (100 ms at most). */
static void tf_wait(struct tf *t)
{
    struct pollfd pfd[2] = {
        {.fd = plat_evtchn_fd(t->ec), .events = POLLIN},
        {.fd = xs_fileno(t->xs), .events = POLLIN},
    };
    enum xenbus_state st;
    evtchn_port_t p;
    char **ev;

    poll(pfd, 2, 100);
    while (plat_evtchn_pending(t->ec, &p) == 0)
        plat_evtchn_unmask(t->ec, p);
    if (pfd[1].revents) {
        while ((ev = xs_check_watch(t->xs)))
            free(ev);
    }
    st = xsg_read_state(t->xs, XBT_NULL, t->f.be_path);
    if (st != XenbusStateConnected)
        t->be_closing = true;
}

static void tf_flip(struct tf *t)
{
    unsigned long i;

    for (i = 0; i < t->o.flip; i++)
        xsg_write_fmt(t->xs, XBT_NULL, t->f.fe_path, "state", "%d",
                      i % 2 ? XenbusStateConnected : XenbusStateInitialised);
    xsg_write_fmt(t->xs, XBT_NULL, t->f.fe_path, "state", "%d",
                  XenbusStateConnected);
}

/* The traffic: until count, SIGTERM or the backend closing; drains. */
static int tf_run(struct tf *t)
{
    unsigned long last = 0;
    bool more = true;
    int ret;

    for (;;) {
        more =
            !tf_stop && !t->be_closing && (!t->o.count || t->seq < t->o.count);
        if (!more && t->done + t->errors == t->seq)
            break;
        tf_fill(t, more);
        ret = tf_take(t);
        if (ret < 0) {
            fprintf(stderr, "%s: ring broken by the backend\n", t->f.name);
            return ret;
        }
        if (t->done - last >= 1000 || ret == 0) {
            last = t->done;
            tf_status(t);
        }
        if (ret == 0) {
            if (t->be_closing && !more)
                break; /* outstanding requests die with the device */
            tf_wait(t);
        }
    }
    return 0;
}

/* Waits until the backend left Connected (it unmapped our ring). */
static enum xenbus_state tf_wait_be_down(struct tf *t)
{
    enum xenbus_state st = XenbusStateUnknown;
    char path[XSG_PATH_MAX + 8];
    int i;

    snprintf(path, sizeof(path), "%s/state", t->f.be_path);
    xs_watch(t->xs, path, "tf:be");
    for (i = 0; i < TF_TIMEOUT_MS / 100; i++) {
        st = xsg_read_state(t->xs, XBT_NULL, t->f.be_path);
        if (st == XenbusStateClosing || st == XenbusStateClosed ||
            st == XenbusStateUnknown)
            break;
        tf_wait(t);
    }
    xs_unwatch(t->xs, path, "tf:be");
    return st;
}

/* Closes our side: Closing, backend down, unshare, Closed. */
static void tf_close(struct tf *t)
{
    enum xenbus_state st;

    xsg_front_switch(&t->f, XenbusStateClosing);
    st = tf_wait_be_down(t);
    tf_unpublish(t);
    xsg_front_switch(&t->f, XenbusStateClosed);
    fprintf(stderr, "%s: closed (backend %s)\n", t->f.name, xsg_state_name(st));
}

/* Connects one device: InitWait, publish, Connected. */
static int tf_connect(struct tf *t, unsigned int devid)
{
    char path[XSG_PATH_MAX + 8];
    int ret;

    ret = tf_wait_device(t, devid);
    if (ret)
        return ret;
    ret = xsg_front_wait(&t->f, XenbusStateInitWait, TF_TIMEOUT_MS);
    if (!ret)
        ret = tf_publish(t);
    if (!ret)
        ret = xsg_front_wait(&t->f, XenbusStateConnected, TF_TIMEOUT_MS);
    if (ret)
        return ret;
    xsg_front_switch(&t->f, XenbusStateConnected);
    snprintf(path, sizeof(path), "%s/state", t->f.be_path);
    xs_watch(t->xs, path, "tf:be");
    t->be_closing = false;
    t->state = "connected";
    tf_status(t);
    return 0;
}

static int tf_parse(struct tf_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"devid", required_argument, NULL, 'd'},
        {"status", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'c'},
        {"order", required_argument, NULL, 'o'},
        {"bad-ref", no_argument, NULL, 'R'},
        {"bad-evtchn", no_argument, NULL, 'E'},
        {"flip", required_argument, NULL, 'f'},
        {"serve", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->count = 100000;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->devid = (unsigned int)strtoul(optarg, NULL, 10);
            break;
        case 's':
            o->status = optarg;
            break;
        case 'c':
            o->count = strtoul(optarg, NULL, 10);
            break;
        case 'o':
            o->order = (unsigned int)strtoul(optarg, NULL, 10);
            break;
        case 'R':
            o->bad_ref = true;
            break;
        case 'E':
            o->bad_evtchn = true;
            break;
        case 'f':
            o->flip = strtoul(optarg, NULL, 10);
            break;
        case 'S':
            o->serve = (unsigned int)strtoul(optarg, NULL, 10);
            break;
        default:
            return -EINVAL;
        }
    }
    return o->status ? 0 : -EINVAL;
}

static int tf_init(struct tf *t)
{
    unsigned int n;
    int ret;

    t->state = "starting";
    ret = plat_domid_self(&t->self);
    if (!ret)
        ret = plat_gntshr_open(&t->gs);
    if (!ret)
        ret = plat_evtchn_open(&t->ec);
    if (ret)
        return ret;
    t->xs = xs_open(0);
    if (!t->xs)
        return -EIO;
    n = (unsigned int)ringbuf_ring_size(TESTIF_MAX_RING_ORDER,
                                        sizeof(struct testif_request),
                                        sizeof(struct testif_response));
    t->id_seq = calloc(n, sizeof(*t->id_seq));
    if (!t->id_seq)
        return -ENOMEM;
    return ringbuf_ids_init(&t->ids, n);
}

/* One device through its whole life; returns the exit status. */
static int tf_device(struct tf *t, unsigned int devid)
{
    int ret = tf_connect(t, devid);

    if (ret == -ECONNRESET && (t->o.bad_ref || t->o.bad_evtchn)) {
        t->state = "refused";
        tf_status(t);
        tf_close(t);
        xsg_front_close(&t->f);
        return 0;
    }
    if (ret) {
        t->state = "failed";
        tf_status(t);
        tf_unpublish(t);
        xsg_front_close(&t->f);
        return 1;
    }
    if (t->o.flip)
        tf_flip(t);
    ret = tf_run(t);
    t->state = t->be_closing ? "closed-by-backend" : "done";
    tf_status(t);
    tf_close(t);
    xsg_front_close(&t->f);
    return ret || t->errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct tf t = {0};
    unsigned int i;
    int ret = 0;

    if (tf_parse(&t.o, argc, argv)) {
        fprintf(stderr, "usage: testdev_front --devid D --status FILE "
                        "[--count N] [--order O] [--bad-ref|--bad-evtchn] "
                        "[--flip N] [--serve N]\n");
        return 2;
    }
    signal(SIGTERM, tf_on_signal);
    signal(SIGINT, tf_on_signal);
    if (tf_init(&t)) {
        fprintf(stderr, "testdev_front: cannot open the platform\n");
        return 1;
    }
    if (t.o.serve) {
        t.o.count = 1;
        for (i = 0; i < t.o.serve && !ret; i++) {
            t.seq = t.done = 0;
            t.o.count = 1;
            ret = tf_connect(&t, t.o.devid + i);
            if (!ret)
                ret = tf_run(&t);
            while (!ret && !t.be_closing && !tf_stop)
                tf_wait(&t); /* until the toolstack detaches us */
            tf_close(&t);
            xsg_front_close(&t.f);
        }
    } else {
        ret = tf_device(&t, t.o.devid);
    }
    ringbuf_ids_fini(&t.ids);
    free(t.id_seq);
    xs_close(t.xs);
    plat_evtchn_close(t.ec);
    plat_gntshr_close(t.gs);
    return ret ? 1 : 0;
}
