/*
 * testdev_back: the drvdomd worker of the testif device type (testif.h).
 *
 *   testdev_back --features
 *   testdev_back --type testif --fe N --devid D --backend-path P
 *                --frontend-path F --status-fd FD [--journal-fd J] [--adopt]
 *
 * Maps the frontend's ring from the refs in xenstore, binds its event
 * channel port, says "connected" on FD and answers every request. With
 * --adopt (a restarted worker) it attaches to the ring in use: every
 * request after the last published response is answered (again), which is
 * safe because an answer depends only on the request. J is the device's
 * request journal (drvdomd's, ringbuf_back_journal): the requests taken
 * before a restart come from there, whatever responses overwrote in the
 * ring. Exit 3 when the
 * frontend's refs, port or ring are unusable; 0 on SIGTERM.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "drvdom/platform.h"
#include "drvdom/ringbuf.h"
#include "drvdom/xsg.h"
#include "backend/worker-args.h"
#include "tests/sim/testif.h"

#define TESTDEV_EXIT_PEER 3
#define TESTDEV_BATCH     64

struct testdev_back {
    const char *name;       /* "testif/fe/devid" */
    const char *fe_path;    /* frontend directory */
    domid_t fe;             /* frontend domain */
    int status_fd;          /* drvdomd's status pipe */
    int journal_fd;         /* request journal file, or -1 */
    void *journal;          /* its mapping, journal_len bytes, or NULL */
    size_t journal_len;     /* bytes mapped */
    bool adopt;             /* attach to a ring in use */
    struct plat_gnttab *gt; /* grant mapping handle */
    struct plat_evtchn *ec; /* event channel handle */
    void *ring;             /* mapped ring pages */
    unsigned int order;     /* ring-page-order */
    evtchn_port_t port;     /* our end of the channel, 0 if unbound */
    struct ringbuf_back rb; /* back ring */
    bool reported;          /* first response reported (adopt) */
};

static void testdev_status(struct testdev_back *t, const char *line)
{
    if (write(t->status_fd, line, strlen(line)) < 0)
        return; /* drvdomd restarted: nobody to tell */
}

/* Reads the refs and the port, maps, binds: everything but the ring init. */
static int testdev_map(struct testdev_back *t, struct xs_handle *xs)
{
    grant_ref_t refs[XSG_MAX_RING_PAGES];
    unsigned long port;
    int ret;

    ret = xsg_read_ring_refs(xs, XBT_NULL, t->fe_path, TESTIF_MAX_RING_ORDER,
                             &t->order, refs);
    if (ret)
        return ret;
    ret = xsg_read_uint(xs, XBT_NULL, t->fe_path, "event-channel", UINT32_MAX,
                        &port);
    if (ret) {
        fprintf(stderr, "%s: event-channel: %s\n", t->name, strerror(-ret));
        return ret;
    }
    ret = plat_gnttab_map(t->gt, t->fe, 1u << t->order, refs, true, &t->ring);
    if (ret) {
        t->ring = NULL;
        fprintf(stderr, "%s: cannot map ring-ref %u: %s\n", t->name, refs[0],
                strerror(-ret));
        return ret;
    }
    ret = plat_evtchn_bind_interdomain(t->ec, t->fe, (evtchn_port_t)port,
                                       &t->port);
    if (ret) {
        t->port = 0;
        fprintf(stderr, "%s: cannot bind event-channel %lu: %s\n", t->name,
                port, strerror(-ret));
    }
    return ret;
}

/* Map the journal file (grown to fit the ring) and journal the ring. */
static int testdev_journal(struct testdev_back *t)
{
    size_t len = ringbuf_journal_size(t->order, sizeof(struct testif_request),
                                      sizeof(struct testif_response));
    int ret;

    ret = worker_journal_map(t->journal_fd, len, &t->journal);
    if (ret < 0)
        return ret;
    t->journal_len = len;
    return ringbuf_back_journal(&t->rb, t->journal, t->adopt);
}

static int testdev_connect(struct testdev_back *t)
{
    struct xs_handle *xs = xs_open(0);
    int ret;

    if (!xs)
        return -EIO;
    ret = testdev_map(t, xs);
    xs_close(xs);
    if (ret)
        return ret;
    if (t->adopt)
        ret = ringbuf_back_attach(&t->rb, t->ring, t->order,
                                  sizeof(struct testif_request),
                                  sizeof(struct testif_response));
    else
        ret = ringbuf_back_init(&t->rb, t->ring, t->order,
                                sizeof(struct testif_request),
                                sizeof(struct testif_response));
    if (ret == 0 && t->journal_fd >= 0)
        ret = testdev_journal(t);
    if (ret < 0)
        fprintf(stderr, "%s: ring unusable: %s\n", t->name, strerror(-ret));
    else if (t->adopt && t->journal)
        fprintf(stderr, "%s: %d request(s) taken before the restart\n", t->name,
                ret);
    /* Responses the dead worker published but never notified (see
     * ringbuf_back_attach): one event now. */
    if (ret >= 0 && t->adopt)
        plat_evtchn_notify(t->ec, t->port);
    return ret < 0 ? ret : 0;
}

static void testdev_first_response(struct testdev_back *t)
{
    struct timespec ts;
    char line[64];

    if (!t->adopt || t->reported)
        return;
    t->reported = true;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(line, sizeof(line), "first-response %llu\n",
             (unsigned long long)ts.tv_sec * 1000000000ull +
                 (unsigned long long)ts.tv_nsec);
    testdev_status(t, line);
}

/* Answers what is pending. 0: nothing left (armed), 1: more, <0 broken. */
static int testdev_serve(struct testdev_back *t)
{
    struct testif_request reqs[TESTDEV_BATCH];
    struct testif_response rsp;
    int n, i;

    n = ringbuf_back_take(&t->rb, reqs, TESTDEV_BATCH);
    if (n < 0)
        return n;
    for (i = 0; i < n; i++) {
        rsp.id = reqs[i].id;
        rsp.seq = reqs[i].seq;
        rsp.result = testif_result(reqs[i].seq, reqs[i].payload);
        if (ringbuf_back_put(&t->rb, &rsp))
            return -EPROTO;
    }
    if (n && ringbuf_back_push(&t->rb))
        plat_evtchn_notify(t->ec, t->port);
    if (n)
        testdev_first_response(t);
    return n ? 1 : ringbuf_back_final_check(&t->rb);
}

static int testdev_loop(struct testdev_back *t, int sfd)
{
    struct pollfd pfd[2] = {
        {.fd = plat_evtchn_fd(t->ec), .events = POLLIN},
        {.fd = sfd, .events = POLLIN},
    };
    evtchn_port_t p;
    int ret;

    for (;;) {
        ret = testdev_serve(t);
        if (ret < 0) {
            fprintf(stderr, "%s: broken ring: %s\n", t->name, strerror(-ret));
            return ret;
        }
        if (ret > 0)
            continue;
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            return -errno;
        if (pfd[1].revents)
            return 0; /* SIGTERM/SIGINT */
        while (plat_evtchn_pending(t->ec, &p) == 0)
            plat_evtchn_unmask(t->ec, p);
    }
}

static void testdev_fini(struct testdev_back *t)
{
    if (t->port)
        plat_evtchn_unbind(t->ec, t->port);
    if (t->ring)
        plat_gnttab_unmap(t->gt, t->ring, 1u << t->order);
    if (t->journal)
        munmap(t->journal, t->journal_len);
    plat_evtchn_close(t->ec);
    plat_gnttab_close(t->gt);
}

static int testdev_parse(struct testdev_back *t, int argc, char **argv)
{
    static char name[64];
    struct worker_args a;

    if (worker_args_parse(&a, argc, argv, "testif", 0) < 0 || a.settings)
        return -EINVAL;
    if (a.features || a.help) {
        printf("feature-testif 1\nmax-ring-page-order %u\n",
               TESTIF_MAX_RING_ORDER);
        exit(0);
    }
    t->fe = a.fe;
    t->fe_path = a.fe_path;
    t->status_fd = a.status_fd;
    t->journal_fd = a.journal_fd;
    t->adopt = a.adopt;
    snprintf(name, sizeof(name), "testif/%u/%u", t->fe, a.devid);
    t->name = name;
    return 0;
}

int main(int argc, char **argv)
{
    struct testdev_back t = {0};
    sigset_t mask;
    int sfd, ret;

    if (testdev_parse(&t, argc, argv)) {
        fprintf(stderr, "usage: testdev_back --features | --fe N --devid D "
                        "--backend-path P --frontend-path F --status-fd FD "
                        "[--journal-fd J] [--adopt]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0 || plat_gnttab_open(&t.gt) || plat_evtchn_open(&t.ec)) {
        fprintf(stderr, "%s: cannot open the platform\n", t.name);
        return 1;
    }
    ret = testdev_connect(&t);
    if (ret) {
        testdev_fini(&t);
        return TESTDEV_EXIT_PEER;
    }
    testdev_status(&t, "connected\n");
    ret = testdev_loop(&t, sfd);
    testdev_fini(&t);
    close(sfd);
    if (ret == -EPROTO)
        return TESTDEV_EXIT_PEER;
    return ret ? 1 : 0;
}
