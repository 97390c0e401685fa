/*
 * xenstore_client: test-only clients for the xenstore interop test
 * (tests/sim/xenstore_interop.sh). Each command connects through stock
 * libxenstore (XENSTORED_PATH) or, for the raw ones, a bare unix socket,
 * checks one behaviour and exits 0 on success, 1 with a message otherwise.
 *
 *   txn-conflict          two transactions creating siblings: the second
 *                         commit gets EAGAIN, its retry succeeds
 *   watch PATH TOKEN      watch fires (initial event, then a write below)
 *                         with the right path and token
 *   errno OP PATH ERRNAME read|write|rm|ls PATH fails with errno ERRNAME
 *   raw-oversized SOCKET  a message longer than XENSTORE_PAYLOAD_MAX gets
 *                         E2BIG and the connection is dropped
 *   raw-badtype SOCKET    an unknown message type gets EINVAL, dropped
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

/* Generous bound on waiting for an event that must come. */
#define XSC_WAIT_MS 20000

static int xsc_fail(const char *what)
{
    fprintf(stderr, "xenstore_client: %s (errno %d: %s)\n", what, errno,
            strerror(errno));
    return 1;
}

static int xsc_txn_conflict(void)
{
    struct xs_handle *a = xs_open(0), *b = xs_open(0);
    xs_transaction_t ta, tb;
    int rc = 1, tries;

    if (!a || !b)
        goto out;
    ta = xs_transaction_start(a);
    tb = xs_transaction_start(b);
    if (ta == XBT_NULL || tb == XBT_NULL ||
        !xs_write(a, ta, "/txn/s1", "1", 1) ||
        !xs_write(b, tb, "/txn/s2", "2", 1))
        goto out;
    if (!xs_transaction_end(a, ta, false)) {
        xsc_fail("first commit");
        goto out;
    }
    if (xs_transaction_end(b, tb, false) || errno != EAGAIN) {
        xsc_fail("second commit did not fail with EAGAIN");
        goto out;
    }
    /* The usual retry loop. */
    for (tries = 0; tries < 5; tries++) {
        tb = xs_transaction_start(b);
        if (tb == XBT_NULL || !xs_write(b, tb, "/txn/s2", "2", 1))
            goto out;
        if (xs_transaction_end(b, tb, false))
            break;
        if (errno != EAGAIN)
            goto out;
    }
    rc = tries < 5 ? 0 : 1;
out:
    if (rc)
        xsc_fail("txn-conflict");
    xs_close(a);
    xs_close(b);
    return rc;
}

static int xsc_expect_watch(struct xs_handle *h, const char *path,
                            const char *token)
{
    struct pollfd pfd = {.fd = xs_fileno(h), .events = POLLIN};
    unsigned int n;
    char **vec;
    int ok;

    if (poll(&pfd, 1, XSC_WAIT_MS) != 1)
        return xsc_fail("no watch event");
    vec = xs_read_watch(h, &n);
    if (!vec)
        return xsc_fail("xs_read_watch");
    ok = n >= 2 && !strcmp(vec[XS_WATCH_PATH], path) &&
         !strcmp(vec[XS_WATCH_TOKEN], token);
    if (!ok)
        fprintf(stderr, "event %s/%s, expected %s/%s\n", vec[XS_WATCH_PATH],
                vec[XS_WATCH_TOKEN], path, token);
    free(vec);
    return ok ? 0 : 1;
}

static int xsc_watch(const char *path, const char *token)
{
    struct xs_handle *w = xs_open(0), *x = xs_open(0);
    char child[256];
    int rc = 1;

    snprintf(child, sizeof(child), "%s/child", path);
    if (!w || !x || !xs_watch(w, path, token))
        goto out;
    if (xsc_expect_watch(w, path, token))
        goto out;
    if (!xs_write(x, XBT_NULL, child, "v", 1))
        goto out;
    if (xsc_expect_watch(w, child, token))
        goto out;
    if (!xs_unwatch(w, path, token))
        goto out;
    rc = 0;
out:
    if (rc)
        xsc_fail("watch");
    xs_close(w);
    xs_close(x);
    return rc;
}

/* The errno xenstore's error string @name stands for. */
static int xsc_errnum(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (!strcmp(xsd_errors[i].errstring, name))
            return xsd_errors[i].errnum;
    return -1;
}

static int xsc_errno(const char *op, const char *path, const char *name)
{
    struct xs_handle *h = xs_open(0);
    unsigned int n;
    void *p = NULL;
    bool ok = false;

    if (!h)
        return xsc_fail("xs_open");
    errno = 0;
    if (!strcmp(op, "read"))
        p = xs_read(h, XBT_NULL, path, &n);
    else if (!strcmp(op, "ls"))
        p = xs_directory(h, XBT_NULL, path, &n);
    else if (!strcmp(op, "write"))
        ok = xs_write(h, XBT_NULL, path, "x", 1);
    else if (!strcmp(op, "rm"))
        ok = xs_rm(h, XBT_NULL, path);
    free(p);
    xs_close(h);
    if (p || ok || errno != xsc_errnum(name)) {
        fprintf(stderr, "%s %s: errno %d, expected %s\n", op, path, errno,
                name);
        return 1;
    }
    return 0;
}

static int xsc_raw_connect(const char *sock)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Send @hdr (and @len filler bytes); expect XS_ERROR @err, then EOF (or
 * ECONNRESET: the server hung up with our bytes unread). */
static int xsc_raw(const char *sock, uint32_t type, uint32_t len,
                   const char *err)
{
    struct xsd_sockmsg h = {.type = type, .req_id = 9, .len = len};
    static char buf[2 * XENSTORE_PAYLOAD_MAX];
    struct pollfd pfd = {.events = POLLIN};
    size_t got = 0;
    ssize_t n;
    int rc = 1;

    pfd.fd = xsc_raw_connect(sock);
    if (pfd.fd < 0)
        return xsc_fail("connect");
    memset(buf, 'a', sizeof(buf));
    /* The server may hang up before it takes the body: that is fine. */
    if (write(pfd.fd, &h, sizeof(h)) != sizeof(h) ||
        (len && write(pfd.fd, buf, len) < 0 && errno != EPIPE))
        goto out;
    for (;;) {
        if (poll(&pfd, 1, XSC_WAIT_MS) != 1)
            goto out;
        n = read(pfd.fd, buf + got, sizeof(buf) - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    memcpy(&h, buf, sizeof(h));
    rc = !(got == sizeof(h) + strlen(err) + 1 && h.type == XS_ERROR &&
           h.req_id == 9 && !strcmp(buf + sizeof(h), err) &&
           (n == 0 || errno == ECONNRESET));
out:
    close(pfd.fd);
    if (rc)
        fprintf(stderr, "raw type %u len %u: no %s then EOF\n", type, len, err);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && !strcmp(argv[1], "txn-conflict"))
        return xsc_txn_conflict();
    if (argc == 4 && !strcmp(argv[1], "watch"))
        return xsc_watch(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "errno"))
        return xsc_errno(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "raw-oversized"))
        return xsc_raw(argv[2], XS_WRITE, XENSTORE_PAYLOAD_MAX + 1, "E2BIG");
    if (argc == 3 && !strcmp(argv[1], "raw-badtype"))
        return xsc_raw(argv[2], 999, 0, "EINVAL");
    fprintf(stderr, "usage: see the top of tests/sim/xenstore_client.c\n");
    return 2;
}
