/*
 * xsbench: load on the sim xenstore server (tools/simhv/xenstored).
 *
 * A child process runs the server with one socket per domain (dom0 and 100
 * guests). The parent talks to it through stock libxenstore, one handle
 * per domain, one request at a time (libxenstore serialises requests):
 *   - populate: each guest writes 100 nodes under its home (10,000 nodes);
 *   - read, directory, and transactions of one write each;
 *   - watches: every guest watches each of its 100 nodes (10,000 watches);
 *     dom0 rewrites the nodes one at a time and the owner waits for its
 *     event (latency from the write request to the event at the watcher),
 *     then all 10,000 back to back (event throughput).
 * Baseline, measured in the same run: a round trip of a request-sized
 * message over a unix socket to an echo process (the transport floor); and
 * the server's cheapest request sent raw, without libxenstore.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <xenstore.h>

#include "tools/simhv/xenstored/xss.h"

#define XB_DOMS  100
#define XB_NODES 100
#define XB_TOTAL (XB_DOMS * XB_NODES)
#define XB_ECHO  20000

static double xb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void xb_die(const char *what)
{
    fprintf(stderr, "xsbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void xb_srv_stop(evutil_socket_t sig, short what, void *base)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(base);
}

/* The server process: listens, says so on @ready_fd, serves until SIGTERM. */
static void xb_server(const char *dir, int ready_fd)
{
    struct event_base *base = event_base_new();
    struct xss_server *srv = base ? xss_server_new(base, NULL) : NULL;
    struct event *ev;
    char path[256];
    unsigned int d;

    if (!srv)
        _exit(1);
    for (d = 0; d <= XB_DOMS; d++) {
        snprintf(path, sizeof(path), "%s/dom%u", dir, d);
        if (xss_listen(srv, path, (domid_t)d) ||
            (d && xss_domain_introduce(srv, (domid_t)d)))
            _exit(1);
    }
    ev = evsignal_new(base, SIGTERM, xb_srv_stop, base);
    if (!ev || evsignal_add(ev, NULL) || write(ready_fd, "r", 1) != 1)
        _exit(1);
    event_base_dispatch(base);
    event_free(ev);
    xss_server_free(srv);
    event_base_free(base);
    _exit(0);
}

/* Baseline: round trips of a 16+32-byte message to an echo process. */
static double xb_echo_baseline(void)
{
    char buf[48] = {0};
    int sv[2], i;
    pid_t pid;
    double t0, t1;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        xb_die("socketpair");
    pid = fork();
    if (pid < 0)
        xb_die("fork");
    if (pid == 0) {
        close(sv[0]);
        while (read(sv[1], buf, sizeof(buf)) == sizeof(buf))
            if (write(sv[1], buf, sizeof(buf)) != sizeof(buf))
                break;
        _exit(0);
    }
    close(sv[1]);
    t0 = xb_now();
    for (i = 0; i < XB_ECHO; i++)
        if (write(sv[0], buf, sizeof(buf)) != sizeof(buf) ||
            read(sv[0], buf, sizeof(buf)) != sizeof(buf))
            xb_die("echo");
    t1 = xb_now();
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return XB_ECHO / (t1 - t0);
}

/* The server without libxenstore: raw GET_DOMAIN_PATH round trips. */
static double xb_raw_wire(const char *dir)
{
    struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH, .len = 2};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char msg[sizeof(h) + 2], rep[sizeof(h) + 32];
    ssize_t want = (ssize_t)(sizeof(h) + sizeof("/local/domain/5"));
    double t0, t1;
    int fd, i;

    memcpy(msg, &h, sizeof(h));
    memcpy(msg + sizeof(h), "5", 2);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dom0", dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
        xb_die("connect");
    t0 = xb_now();
    for (i = 0; i < XB_ECHO; i++)
        if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg) ||
            read(fd, rep, sizeof(rep)) != want)
            xb_die("raw wire");
    t1 = xb_now();
    close(fd);
    return XB_ECHO / (t1 - t0);
}

static struct xs_handle *xb_open(const char *dir, unsigned int d)
{
    char path[256];
    struct xs_handle *h;

    snprintf(path, sizeof(path), "%s/dom%u", dir, d);
    setenv("XENSTORED_PATH", path, 1);
    h = xs_open(0);
    if (!h)
        xb_die("xs_open");
    return h;
}

static void xb_report(const char *name, double ops, double base)
{
    printf("  %-34s %10.0f ops/s   %5.2f x baseline\n", name, ops, ops / base);
}

static int xb_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Take one watch event on @h; it must be for @path. */
static void xb_take_event(struct xs_handle *h, const char *path)
{
    unsigned int n;
    char **v = xs_read_watch(h, &n);

    if (!v)
        xb_die("xs_read_watch");
    if (strcmp(v[XS_WATCH_PATH], path)) {
        fprintf(stderr, "xsbench: event %s, expected %s\n", v[XS_WATCH_PATH],
                path);
        exit(1);
    }
    free(v);
}

static void xb_node(char *buf, size_t len, unsigned int d, unsigned int i)
{
    snprintf(buf, len, "/local/domain/%u/bench/n%03u", d, i);
}

/* Each guest writes its 100 nodes; then reads, directories, transactions. */
static void xb_ops(struct xs_handle **h, double base)
{
    char path[128], val[32];
    unsigned int d, i, n;
    xs_transaction_t t;
    double t0;
    void *p;

    t0 = xb_now();
    for (d = 1; d <= XB_DOMS; d++) {
        for (i = 0; i < XB_NODES; i++) {
            xb_node(path, sizeof(path), d, i);
            snprintf(val, sizeof(val), "value-%u-%u", d, i);
            if (!xs_write(h[d], XBT_NULL, path, val, (unsigned)strlen(val)))
                xb_die("xs_write");
        }
    }
    xb_report("write (new node)", XB_TOTAL / (xb_now() - t0), base);
    t0 = xb_now();
    for (d = 1; d <= XB_DOMS; d++) {
        for (i = 0; i < XB_NODES; i++) {
            xb_node(path, sizeof(path), d, i);
            p = xs_read(h[d], XBT_NULL, path, NULL);
            if (!p)
                xb_die("xs_read");
            free(p);
        }
    }
    xb_report("read", XB_TOTAL / (xb_now() - t0), base);
    t0 = xb_now();
    for (i = 0; i < 10; i++) {
        for (d = 1; d <= XB_DOMS; d++) {
            snprintf(path, sizeof(path), "/local/domain/%u/bench", d);
            p = xs_directory(h[d], XBT_NULL, path, &n);
            if (!p || n != XB_NODES)
                xb_die("xs_directory");
            free(p);
        }
    }
    xb_report("directory (100 children)", XB_DOMS * 10 / (xb_now() - t0), base);
    t0 = xb_now();
    for (d = 1; d <= XB_DOMS; d++) {
        for (i = 0; i < 10; i++) {
            xb_node(path, sizeof(path), d, i);
            t = xs_transaction_start(h[d]);
            if (t == XBT_NULL || !xs_write(h[d], t, path, "t", 1) ||
                !xs_transaction_end(h[d], t, false))
                xb_die("transaction");
        }
    }
    xb_report("transaction (start, write, commit)",
              XB_DOMS * 10 / (xb_now() - t0), base);
}

/* 10,000 watches: per-event latency, then back-to-back throughput. */
static void xb_watches(struct xs_handle **h, double base)
{
    static double lat[XB_TOTAL];
    char path[128];
    unsigned int d, i, k;
    double t0;

    for (d = 1; d <= XB_DOMS; d++) {
        for (i = 0; i < XB_NODES; i++) {
            xb_node(path, sizeof(path), d, i);
            if (!xs_watch(h[d], path, "bench"))
                xb_die("xs_watch");
            xb_take_event(h[d], path);
        }
    }
    for (k = 0; k < XB_TOTAL; k++) {
        d = 1 + k % XB_DOMS;
        i = k / XB_DOMS;
        xb_node(path, sizeof(path), d, i);
        t0 = xb_now();
        if (!xs_write(h[0], XBT_NULL, path, "w", 1))
            xb_die("xs_write dom0");
        xb_take_event(h[d], path);
        lat[k] = xb_now() - t0;
    }
    qsort(lat, XB_TOTAL, sizeof(lat[0]), xb_cmp);
    printf("  %-34s p50 %6.1f us   p99 %6.1f us   (baseline round trip "
           "%.1f us)\n",
           "watch event latency (write->event)", lat[XB_TOTAL / 2] * 1e6,
           lat[XB_TOTAL * 99 / 100] * 1e6, 1e6 / base);
    t0 = xb_now();
    for (k = 0; k < XB_TOTAL; k++) {
        xb_node(path, sizeof(path), 1 + k % XB_DOMS, k / XB_DOMS);
        if (!xs_write(h[0], XBT_NULL, path, "x", 1))
            xb_die("xs_write dom0");
    }
    for (k = 0; k < XB_TOTAL; k++) {
        xb_node(path, sizeof(path), 1 + k % XB_DOMS, k / XB_DOMS);
        xb_take_event(h[1 + k % XB_DOMS], path);
    }
    xb_report("watch events fired+delivered", XB_TOTAL / (xb_now() - t0), base);
}

int main(void)
{
    char dir[] = "/tmp/xsbench.XXXXXX", path[128];
    struct xs_handle *h[XB_DOMS + 1];
    int ready[2], status;
    unsigned int d;
    struct xs_permissions perm = {.perms = XS_PERM_NONE};
    double base;
    pid_t pid;
    char c;

    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir) || pipe(ready))
        xb_die("setup");
    pid = fork();
    if (pid < 0)
        xb_die("fork");
    if (pid == 0) {
        close(ready[0]);
        xb_server(dir, ready[1]);
    }
    close(ready[1]);
    if (read(ready[0], &c, 1) != 1)
        xb_die("server did not start");
    base = xb_echo_baseline();
    printf("xsbench: %u domains x %u nodes, %u watches, one request at a "
           "time\n",
           XB_DOMS, XB_NODES, XB_TOTAL);
    printf("  %-34s %10.0f ops/s\n", "baseline: unix socket echo (48 B)", base);
    xb_report("raw wire GET_DOMAIN_PATH", xb_raw_wire(dir), base);
    for (d = 0; d <= XB_DOMS; d++)
        h[d] = xb_open(dir, d);
    for (d = 1; d <= XB_DOMS; d++) {
        snprintf(path, sizeof(path), "/local/domain/%u", d);
        perm.id = d;
        if (!xs_mkdir(h[0], XBT_NULL, path) ||
            !xs_set_permissions(h[0], XBT_NULL, path, &perm, 1))
            xb_die("home");
    }
    xb_ops(h, base);
    xb_watches(h, base);
    for (d = 0; d <= XB_DOMS; d++)
        xs_close(h[d]);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    for (d = 0; d <= XB_DOMS; d++) {
        snprintf(path, sizeof(path), "%s/dom%u", dir, d);
        unlink(path);
    }
    rmdir(dir);
    return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}
