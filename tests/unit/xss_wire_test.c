/*
 * xss_wire_test: CUnit tests of the sim xenstore server's connection
 * handling: malformed and oversized messages, clients that flood or never
 * read (XSA-326), quota options and the dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/xss_testlib.h"

/* ---- wire ------------------------------------------------------------ */

static void test_wire_malformed(void)
{
    struct xt_cli *d0, *bad, *bad2;
    struct xsd_sockmsg h;
    char big[XENSTORE_PAYLOAD_MAX + 1];

    xt_start(NULL);
    d0 = xt_connect(0);
    bad = xt_connect(5);
    bad2 = xt_connect(6);
    /* Missing terminator: an error, the connection stays. */
    CU_ASSERT_EQUAL(xt_req(bad, XS_READ, 0, "/x", 2), -EINVAL);
    CU_ASSERT_EQUAL(xt_req(bad, XS_WATCH, 0, "/x\0", 3), -EINVAL);
    CU_ASSERT_EQUAL(xt_req(bad, XS_WRITE, 0, "/x", 2), -EINVAL);
    /* Oversized: E2BIG, then the connection is dropped. */
    memset(big, 'a', sizeof(big));
    xt_send(bad, XS_WRITE, 0, big, sizeof(big));
    CU_ASSERT_EQUAL(xt_recv(bad, &h), 0);
    CU_ASSERT_EQUAL(h.type, XS_ERROR);
    CU_ASSERT_STRING_EQUAL(bad->rep, "E2BIG");
    CU_ASSERT_EQUAL(xt_recv(bad, &h), -EPIPE);
    /* Unknown type: EINVAL, dropped. */
    xt_send(bad2, XS_TYPE_COUNT + 3, 0, "", 0);
    CU_ASSERT_EQUAL(xt_recv(bad2, &h), 0);
    CU_ASSERT_EQUAL(h.type, XS_ERROR);
    CU_ASSERT_STRING_EQUAL(bad2->rep, "EINVAL");
    CU_ASSERT_EQUAL(xt_recv(bad2, &h), -EPIPE);
    /* Everyone else is unharmed. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/still", "here"), 0);
    xt_stop();
}

/* XSA-326: a client that never reads stops being read, and one whose
 * queue outgrows its budget is dropped; others carry on. */
static void test_wire_flood_bounded(void)
{
    static const char *const q[] = {"outbuf=65536", NULL};
    struct xt_cli *d0, *lazy, *w;
    struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH, .len = 2};
    char msg[sizeof(h) + 2];
    int i, got = 0;
    ssize_t n;

    xt_start(q);
    d0 = xt_connect(0);
    lazy = xt_connect(5);
    w = xt_connect(6);
    memcpy(msg, &h, sizeof(h));
    memcpy(msg + sizeof(h), "5", 2);
    fcntl(lazy->fd, F_SETFL, 0);
    for (i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(write(lazy->fd, msg, sizeof(msg)),
                        (ssize_t)sizeof(msg));
    fcntl(lazy->fd, F_SETFL, O_NONBLOCK);
    xt_pump();
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/ok", "1"), 0);
    /* It gets every reply once it reads. */
    while (got < 100) {
        if (xt_recv(lazy, &h))
            break;
        got++;
    }
    CU_ASSERT_EQUAL(got, 100);
    /* Watch events nobody reads: dropped past 64 KiB. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/flood", ""), 0);
    xt_set_perms(d0, "/flood", "r0", NULL);
    CU_ASSERT_EQUAL(xt_op(w, XS_WATCH, 0, "/flood", "f", NULL), 0);
    for (i = 0; i < 4000; i++)
        CU_ASSERT_EQUAL_FATAL(xt_write(d0, 0, "/flood", "x"), 0);
    do
        n = read(w->fd, w->in, sizeof(w->in));
    while (n > 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/ok", "2"), 0);
    xt_stop();
}

/* A client that sends without reading, its socket full: the server stops
 * reading it at `outstanding` queued replies, loses nothing, and serves
 * others meanwhile. */
static void test_wire_outstanding(void)
{
    static const char *const q[] = {"outstanding=4", NULL};
    struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH, .len = 2};
    char msg[2000 * (sizeof(h) + 2)];
    struct xt_cli *d0, *lazy;
    uint32_t i;

    xt_start(q);
    d0 = xt_connect(0);
    lazy = xt_connect_sndbuf(5, 1024);
    for (i = 0; i < 2000; i++) {
        h.req_id = i;
        memcpy(msg + i * (sizeof(h) + 2), &h, sizeof(h));
        memcpy(msg + i * (sizeof(h) + 2) + sizeof(h), "5", 2);
    }
    CU_ASSERT_EQUAL(write(lazy->fd, msg, sizeof(msg)), (ssize_t)sizeof(msg));
    xt_pump();
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/served", "1"), 0);
    for (i = 0; i < 2000; i++) {
        CU_ASSERT_EQUAL_FATAL(xt_recv(lazy, &h), 0);
        CU_ASSERT_EQUAL(h.req_id, i);
        CU_ASSERT_EQUAL(h.type, XS_GET_DOMAIN_PATH);
        CU_ASSERT_STRING_EQUAL(lazy->rep, "/local/domain/5");
    }
    xt_stop();
}

static void test_limits_and_dump(void)
{
    char longp[200];
    struct xss_limits lim;
    struct xt_cli *d0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    xss_limits_default(&lim);
    CU_ASSERT_EQUAL(lim.nodes, 1000);
    CU_ASSERT_EQUAL(lim.watches, 128);
    CU_ASSERT_EQUAL(lim.outstanding, 20);
    CU_ASSERT_EQUAL(lim.transactions, 10);
    CU_ASSERT_EQUAL(lim.node_size, 2048);
    CU_ASSERT_EQUAL(lim.perms, 5);
    CU_ASSERT_EQUAL(xss_limits_parse(&lim, "nodes=12"), 0);
    CU_ASSERT_EQUAL(lim.nodes, 12);
    CU_ASSERT_EQUAL(xss_limits_parse(&lim, "nodes"), -EINVAL);
    CU_ASSERT_EQUAL(xss_limits_parse(&lim, "bogus=1"), -EINVAL);
    CU_ASSERT_EQUAL(xss_limits_parse(&lim, "nodes=-1"), -EINVAL);
    xt_start(NULL);
    memset(longp, 'p', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    CU_ASSERT_EQUAL(xss_listen(xt_srv, longp, 1), -EINVAL);
    CU_ASSERT_EQUAL(xss_listen(xt_srv, "/tmp/x", DOMID_FIRST_RESERVED),
                    -EINVAL);
    CU_ASSERT_EQUAL(xss_domain_introduce(xt_srv, 0), -EINVAL);
    CU_ASSERT_EQUAL(xss_domain_release(xt_srv, 3), -ENOENT);
    d0 = xt_connect(0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/dump/me", "v\"1"), 0);
    xt_set_perms(d0, "/dump/me", "n0", "r3");
    f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    xss_dump(xt_srv, f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "/dump/me = \"v\\x221\" (n0,r3)\n"));
    free(buf);
    xt_stop();
}

int main(void)
{
    static const struct cutest tests[] = {
        {"wire: malformed", test_wire_malformed},
        {"wire: flood bounded (XSA-326)", test_wire_flood_bounded},
        {"wire: outstanding replies", test_wire_outstanding},
        {"limits, dump", test_limits_and_dump},
    };

    return cutest_run("xss_wire", tests, sizeof(tests) / sizeof(tests[0]));
}
