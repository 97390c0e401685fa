/*
 * xss_testlib.c: helpers shared by the xenstore server's unit tests: the
 * server runs on a private event loop; clients are raw wire-protocol
 * sockets (socketpairs adopted with xss_conn_add()) and the loop is pumped
 * until the server has nothing more to say.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "tests/unit/xss_testlib.h"

struct event_base *xt_base;
struct xss_server *xt_srv;
static struct xt_cli *xt_clis[8];

void xt_start(const char *const *quotas)
{
    struct xss_limits lim;

    xss_limits_default(&lim);
    for (; quotas && *quotas; quotas++)
        CU_ASSERT_EQUAL_FATAL(xss_limits_parse(&lim, *quotas), 0);
    xt_base = event_base_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(xt_base);
    xt_srv = xss_server_new(xt_base, &lim);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xt_srv);
}

void xt_stop(void)
{
    size_t i;

    for (i = 0; i < sizeof(xt_clis) / sizeof(xt_clis[0]); i++) {
        if (xt_clis[i]) {
            close(xt_clis[i]->fd);
            free(xt_clis[i]);
            xt_clis[i] = NULL;
        }
    }
    xss_server_free(xt_srv);
    event_base_free(xt_base);
    xt_srv = NULL;
    xt_base = NULL;
}

void xt_pump(void)
{
    int i;

    for (i = 0; i < 4; i++)
        event_base_loop(xt_base, EVLOOP_NONBLOCK);
}

/* A client speaking for @domid (introduced first unless dom0). */
struct xt_cli *xt_connect(domid_t domid)
{
    return xt_connect_sndbuf(domid, 0);
}

/* A client whose server-side socket send buffer is @sndbuf bytes (0: the
 * default), to make the server queue its replies. */
struct xt_cli *xt_connect_sndbuf(domid_t domid, int sndbuf)
{
    struct xt_cli *c = calloc(1, sizeof(*c));
    int sv[2];
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    if (sndbuf)
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (domid)
        xss_domain_introduce(xt_srv, domid);
    CU_ASSERT_EQUAL_FATAL(xss_conn_add(xt_srv, sv[1], domid), 0);
    c->fd = sv[0];
    for (i = 0; i < sizeof(xt_clis) / sizeof(xt_clis[0]); i++) {
        if (!xt_clis[i]) {
            xt_clis[i] = c;
            return c;
        }
    }
    CU_FAIL_FATAL("too many clients");
    return NULL;
}

void xt_send(struct xt_cli *c, uint32_t type, uint32_t tx, const void *body,
             uint32_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = 77, .tx_id = tx};

    h.len = len;
    CU_ASSERT_EQUAL_FATAL(write(c->fd, &h, sizeof(h)), (ssize_t)sizeof(h));
    if (len)
        CU_ASSERT_EQUAL_FATAL(write(c->fd, body, len), (ssize_t)len);
}

/* The next message from the server: 0, -EPIPE on EOF, -ETIMEDOUT if the
 * server has nothing queued. */
int xt_recv(struct xt_cli *c, struct xsd_sockmsg *h)
{
    int round;
    ssize_t n;

    for (round = 0; round < XT_PUMP_ROUNDS; round++) {
        if (c->in_len >= sizeof(*h)) {
            memcpy(h, c->in, sizeof(*h));
            if (c->in_len >= sizeof(*h) + h->len) {
                memcpy(c->rep, c->in + sizeof(*h), h->len);
                c->rep[h->len] = '\0';
                c->rlen = h->len;
                c->in_len -= sizeof(*h) + h->len;
                memmove(c->in, c->in + sizeof(*h) + h->len, c->in_len);
                return 0;
            }
        }
        xt_pump();
        n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        if (n == 0)
            return -EPIPE;
        if (n > 0)
            c->in_len += (size_t)n;
    }
    return -ETIMEDOUT;
}

/* Copy src into dst[size], cut to fit and nul-terminated. */
static void xt_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void xt_stash_event(struct xt_cli *c)
{
    struct xt_event *e = &c->ev[c->nev % XT_MAX_EVENTS];
    const char *tok;

    tok = c->rep + strlen(c->rep) + 1;
    memset(e, 0, sizeof(*e));
    xt_copy(e->path, sizeof(e->path), c->rep);
    xt_copy(e->token, sizeof(e->token), tok);
    c->nev++;
}

static int xt_errno(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (!strcmp(xsd_errors[i].errstring, name))
            return xsd_errors[i].errnum;
    return 9999;
}

/* Send a request, return 0 (reply in c->rep) or -errno from XS_ERROR. */
int xt_req(struct xt_cli *c, uint32_t type, uint32_t tx, const void *body,
           uint32_t len)
{
    struct xsd_sockmsg h;
    int rc;

    xt_send(c, type, tx, body, len);
    for (;;) {
        rc = xt_recv(c, &h);
        if (rc)
            return rc;
        if (h.type == XS_WATCH_EVENT) {
            xt_stash_event(c);
            continue;
        }
        CU_ASSERT_EQUAL(h.req_id, 77);
        CU_ASSERT_EQUAL(h.tx_id, tx);
        if (h.type == XS_ERROR)
            return -xt_errno(c->rep);
        CU_ASSERT_EQUAL(h.type, type);
        return 0;
    }
}

/* A request whose arguments are nul-terminated strings (NULL ends). */
int xt_op(struct xt_cli *c, uint32_t type, uint32_t tx, ...)
{
    char body[XENSTORE_PAYLOAD_MAX + 64];
    size_t len = 0, l;
    const char *s;
    va_list ap;

    va_start(ap, tx);
    while ((s = va_arg(ap, const char *))) {
        l = strlen(s) + 1;
        CU_ASSERT_FATAL(len + l <= sizeof(body));
        memcpy(body + len, s, l);
        len += l;
    }
    va_end(ap);
    return xt_req(c, type, tx, body, (uint32_t)len);
}

int xt_write(struct xt_cli *c, uint32_t tx, const char *path, const char *val)
{
    char body[2 * XENSTORE_PAYLOAD_MAX];
    size_t pl = strlen(path) + 1, vl = strlen(val);

    memcpy(body, path, pl);
    memcpy(body + pl, val, vl);
    return xt_req(c, XS_WRITE, tx, body, (uint32_t)(pl + vl));
}

int xt_read(struct xt_cli *c, uint32_t tx, const char *path)
{
    return xt_op(c, XS_READ, tx, path, NULL);
}

/* The next watch event, or NULL if the server sends none. */
struct xt_event *xt_event(struct xt_cli *c)
{
    static struct xt_event taken;
    struct xsd_sockmsg h;
    unsigned int i;

    while (!c->nev) {
        if (xt_recv(c, &h))
            return NULL;
        if (h.type == XS_WATCH_EVENT)
            xt_stash_event(c);
    }
    taken = c->ev[0];
    for (i = 1; i < c->nev && i < XT_MAX_EVENTS; i++)
        c->ev[i - 1] = c->ev[i];
    c->nev--;
    return &taken;
}

void xt_expect_event(struct xt_cli *c, const char *path, const char *token)
{
    struct xt_event *e = xt_event(c);

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->path, path);
    CU_ASSERT_STRING_EQUAL(e->token, token);
}

void xt_set_perms(struct xt_cli *c, const char *path, const char *p0,
                  const char *p1)
{
    CU_ASSERT_EQUAL(xt_op(c, XS_SET_PERMS, 0, path, p0, p1, NULL), 0);
}

void xt_set_perms_tx(struct xt_cli *c, uint32_t tx, const char *path,
                     const char *p0)
{
    CU_ASSERT_EQUAL(xt_op(c, XS_SET_PERMS, tx, path, p0, NULL), 0);
}

/* Children as one comma-separated string. */
const char *xt_dir(struct xt_cli *c, const char *path)
{
    static char out[XENSTORE_PAYLOAD_MAX];
    uint32_t i;

    if (xt_op(c, XS_DIRECTORY, 0, path, NULL))
        return "ERR";
    for (i = 0; i < c->rlen; i++)
        out[i] = c->rep[i] ? c->rep[i] : ',';
    out[c->rlen ? c->rlen - 1 : 0] = '\0';
    return out;
}

uint32_t xt_txn(struct xt_cli *c)
{
    CU_ASSERT_EQUAL_FATAL(xt_op(c, XS_TRANSACTION_START, 0, "", NULL), 0);
    return (uint32_t)strtoul(c->rep, NULL, 10);
}

/* Register @tests as one suite, run it, return the failure count. */
