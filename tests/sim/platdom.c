/*
 * A sim-platform domain for the platform end-to-end test (plat-e2e.sh),
 * spawned by drvdom-simhv:
 *   platdom front BACKDOM INFO STATUS   grants a ring page (and a read-only
 *       page) and an unbound port to BACKDOM, publishes "ring ro port dom" in
 *       INFO, then sends requests over ringbuf for ever, writing the number
 *       of checked responses to STATUS.
 *   platdom back INFO STATUS   maps the ring of the frontend named in INFO,
 *       binds its port and answers requests; at 30000 it closes and re-binds
 *       its event channel (and re-maps the ring, as a restarted backend
 *       does). When its frontend dies it unmaps and waits for the next INFO
 *       (each INFO read is renamed INFO.used).
 *   platdom map3 INFO STATUS   a third domain trying to map the ring.
 * STATUS lines are "key value", rewritten atomically.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drvdom/platform.h"
#include "drvdom/ringbuf.h"

#define PLATDOM_REBIND_AT 30000u

/* The test protocol: the backend answers val * 2 + 1. */
struct platdom_req {
    uint64_t id;  /* request number */
    uint64_t val; /* operand */
};

struct platdom_rsp {
    uint64_t id;  /* request number answered */
    uint64_t val; /* req.val * 2 + 1 */
};

struct platdom_info {
    grant_ref_t ring;   /* ring page, writable */
    grant_ref_t ro;     /* a read-only page */
    evtchn_port_t port; /* frontend's unbound port */
    domid_t dom;        /* frontend domain */
};

static int platdom_status(const char *file, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int platdom_status(const char *file, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    f = fopen(tmp, "w");
    if (!f)
        return -errno;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (fclose(f) || rename(tmp, file))
        return -errno;
    return 0;
}

/* Waits for INFO; fails after a bounded time. */
static int platdom_read_info(const char *file, struct platdom_info *in)
{
    unsigned int ring, ro, port, dom;
    FILE *f = NULL;
    int i, n;

    for (i = 0; i < 30000 && !f; i++) {
        f = fopen(file, "r");
        if (!f)
            usleep(1000);
    }
    if (!f)
        return -ENOENT;
    n = fscanf(f, "%u %u %u %u", &ring, &ro, &port, &dom);
    fclose(f);
    if (n != 4)
        return -EINVAL;
    in->ring = ring;
    in->ro = ro;
    in->port = port;
    in->dom = (domid_t)dom;
    return 0;
}

static int platdom_wait(struct plat_evtchn *ec, int ms)
{
    struct pollfd pfd = {.fd = plat_evtchn_fd(ec), .events = POLLIN};
    evtchn_port_t p;
    int n;

    n = poll(&pfd, 1, ms);
    if (n < 0)
        return -errno;
    while (!plat_evtchn_pending(ec, &p))
        plat_evtchn_unmask(ec, p);
    return n;
}

/* Sends requests and checks every response; @count 0 means for ever. */
static int platdom_front_run(struct ringbuf_front *r, struct plat_evtchn *ec,
                             evtchn_port_t port, const char *status,
                             uint64_t count)
{
    struct platdom_rsp rsps[64];
    uint64_t sent = 0, done = 0;
    int n, i;

    while (!count || done < count) {
        while (ringbuf_front_free(r) && (!count || sent < count)) {
            struct platdom_req req = {.id = sent, .val = sent * 7};

            if (ringbuf_front_put(r, &req))
                return -EPROTO;
            sent++;
        }
        if (ringbuf_front_push(r))
            plat_evtchn_notify(ec, port);
        n = ringbuf_front_take(r, rsps, 64);
        if (n < 0)
            return n;
        for (i = 0; i < n; i++, done++) {
            if (rsps[i].id != done || rsps[i].val != done * 14 + 1) {
                platdom_status(status, "error bad response %llu\n",
                               (unsigned long long)done);
                return -EPROTO;
            }
            if ((done + 1) % 1000 == 0)
                platdom_status(status, "done %llu\n",
                               (unsigned long long)done + 1);
        }
        if (n == 0 && ringbuf_front_final_check(r) == 0)
            platdom_wait(ec, 1000);
    }
    return 0;
}

static int platdom_front(domid_t back, const char *info, const char *status,
                         uint64_t count)
{
    struct plat_gntshr *gs;
    struct plat_evtchn *ec;
    struct ringbuf_front r;
    grant_ref_t ring_ref, ro_ref;
    evtchn_port_t port;
    void *ring, *ro;
    domid_t self;
    int ret;

    if (plat_domid_self(&self) || plat_gntshr_open(&gs) ||
        plat_evtchn_open(&ec))
        return 2;
    if (plat_gntshr_share(gs, back, 1, &ring_ref, true, &ring) ||
        plat_gntshr_share(gs, back, 1, &ro_ref, false, &ro) ||
        plat_evtchn_bind_unbound(ec, back, &port) ||
        ringbuf_front_init(&r, ring, 0, sizeof(struct platdom_req),
                           sizeof(struct platdom_rsp)))
        return 3;
    platdom_status(info, "%u %u %u %u\n", ring_ref, ro_ref, port, self);
    ret = platdom_front_run(&r, ec, port, status, count);
    plat_evtchn_close(ec);
    plat_gntshr_close(gs);
    return ret ? 1 : 0;
}

/* The backend's hold on one frontend. */
struct platdom_back {
    struct platdom_info in;
    struct plat_gnttab *gt;
    struct plat_evtchn *ec;
    evtchn_port_t port;
    void *ring;
    struct ringbuf_back r;
};

/* Maps the ring and binds the port; @attach for a re-connection. */
static int platdom_back_connect(struct platdom_back *b, bool attach)
{
    int ret;

    ret = plat_gnttab_map(b->gt, b->in.dom, 1, &b->in.ring, true, &b->ring);
    if (ret)
        return ret;
    ret = plat_evtchn_open(&b->ec);
    if (ret)
        return ret;
    ret = plat_evtchn_bind_interdomain(b->ec, b->in.dom, b->in.port, &b->port);
    if (ret)
        return ret;
    if (attach)
        return ringbuf_back_attach(&b->r, b->ring, 0,
                                   sizeof(struct platdom_req),
                                   sizeof(struct platdom_rsp));
    return ringbuf_back_init(&b->r, b->ring, 0, sizeof(struct platdom_req),
                             sizeof(struct platdom_rsp));
}

static void platdom_back_disconnect(struct platdom_back *b)
{
    if (b->ring)
        plat_gnttab_unmap(b->gt, b->ring, 1);
    b->ring = NULL;
    plat_evtchn_close(b->ec);
    b->ec = NULL;
}

/* True once the frontend is dying or gone. */
static bool platdom_front_gone(domid_t dom)
{
    struct plat_dominfo info;

    return plat_domain_info(dom, &info) || info.dying;
}

/* Serves one frontend until it dies: 0, or -errno. */
static int platdom_back_serve(struct platdom_back *b, long *served,
                              int *rebound)
{
    struct platdom_req reqs[64];
    int n, i, ret;

    for (;;) {
        n = ringbuf_back_take(&b->r, reqs, 64);
        if (n < 0)
            return n;
        for (i = 0; i < n; i++) {
            struct platdom_rsp rsp = {reqs[i].id, reqs[i].val * 2 + 1};

            ringbuf_back_put(&b->r, &rsp);
        }
        if (ringbuf_back_push(&b->r))
            plat_evtchn_notify(b->ec, b->port);
        *served += n;
        if (!*rebound && *served >= PLATDOM_REBIND_AT) {
            /* Close our end and come back, as a restarted backend. */
            platdom_back_disconnect(b);
            ret = platdom_back_connect(b, true);
            if (ret)
                return ret;
            *rebound = 1;
            plat_evtchn_notify(b->ec, b->port);
        }
        /* Quiet for a while: is the frontend still there? */
        if (n == 0 && ringbuf_back_final_check(&b->r) == 0 &&
            platdom_wait(b->ec, 200) == 0 && platdom_front_gone(b->in.dom))
            return 0;
    }
}

static int platdom_back_main(const char *info, const char *status)
{
    struct platdom_back b = {0};
    int rebound = 0, fronts = 0, ro_err = 1, ret;
    char used[512];
    long served = 0;
    void *ro;

    if (plat_gnttab_open(&b.gt))
        return 2;
    for (;;) {
        ret = platdom_read_info(info, &b.in);
        if (ret)
            break;
        /* Consumed: the next frontend writes a new one. */
        snprintf(used, sizeof(used), "%s.used", info);
        rename(info, used);
        /* A read-only grant mapped for write must fail. */
        ro_err = plat_gnttab_map(b.gt, b.in.dom, 1, &b.in.ro, true, &ro);
        ret = platdom_back_connect(&b, false);
        if (ret)
            break;
        ret = platdom_back_serve(&b, &served, &rebound);
        platdom_back_disconnect(&b);
        if (ret)
            break;
        fronts++;
        platdom_status(status,
                       "served %ld\nrebound %d\nro_write %d\nfronts_gone %d\n",
                       served, rebound, ro_err, fronts);
    }
    plat_gnttab_close(b.gt);
    platdom_status(status, "error %d after %ld\n", ret, served);
    return 1;
}

static int platdom_map3(const char *info, const char *status)
{
    struct platdom_info in;
    struct plat_gnttab *gt;
    struct plat_evtchn *ec;
    evtchn_port_t port;
    int map_ret, bind_ret;
    void *addr;

    if (platdom_read_info(info, &in) || plat_gnttab_open(&gt) ||
        plat_evtchn_open(&ec))
        return 2;
    map_ret = plat_gnttab_map(gt, in.dom, 1, &in.ring, false, &addr);
    bind_ret = plat_evtchn_bind_interdomain(ec, in.dom, in.port, &port);
    plat_evtchn_close(ec);
    plat_gnttab_close(gt);
    return platdom_status(status, "map %d\nbind %d\n", map_ret, bind_ret) ? 1
                                                                          : 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "front"))
        return platdom_front((domid_t)atoi(argv[2]), argv[3], argv[4],
                             strtoull(argv[5], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "back"))
        return platdom_back_main(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "map3"))
        return platdom_map3(argv[2], argv[3]);
    fprintf(stderr, "usage: platdom front BACKDOM INFO STATUS COUNT | "
                    "back INFO STATUS | map3 INFO STATUS\n");
    return 2;
}
