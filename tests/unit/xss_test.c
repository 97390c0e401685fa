/*
 * xss_test: CUnit tests of the sim xenstore server (tools/simhv/xenstored),
 * one per operation and one per permission and quota rule, each rule
 * broken once. The server runs on a private event loop; clients are raw
 * wire-protocol sockets (socketpairs adopted with xss_conn_add()) and the
 * loop is pumped until the server has nothing more to say.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <event2/event.h>
#include <xen/io/xs_wire.h>

#include "tools/simhv/xenstored/xss.h"

#define XT_MAX_EVENTS  64
#define XT_PUMP_ROUNDS 64

struct xt_event {
    char path[256]; /* event path */
    char token[64]; /* event token */
};

struct xt_cli {
    int fd;                                   /* our end of the socketpair */
    char in[2 * (16 + XENSTORE_PAYLOAD_MAX)]; /* received, unparsed */
    size_t in_len;                            /* bytes in in */
    struct xt_event ev[XT_MAX_EVENTS];        /* watch events not yet taken */
    unsigned int nev;                         /* entries in ev */
    char rep[XENSTORE_PAYLOAD_MAX + 1]; /* last reply payload, nul added */
    uint32_t rlen;                      /* bytes in rep */
};

static struct event_base *xt_base;
static struct xss_server *xt_srv;
static struct xt_cli *xt_clis[8];

static void xt_start(const char *const *quotas)
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

static void xt_stop(void)
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

static void xt_pump(void)
{
    int i;

    for (i = 0; i < 4; i++)
        event_base_loop(xt_base, EVLOOP_NONBLOCK);
}

/* A client speaking for @domid (introduced first unless dom0). */
static struct xt_cli *xt_connect(domid_t domid)
{
    struct xt_cli *c = calloc(1, sizeof(*c));
    int sv[2];
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
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

static void xt_send(struct xt_cli *c, uint32_t type, uint32_t tx,
                    const void *body, uint32_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = 77, .tx_id = tx};

    h.len = len;
    CU_ASSERT_EQUAL_FATAL(write(c->fd, &h, sizeof(h)), (ssize_t)sizeof(h));
    if (len)
        CU_ASSERT_EQUAL_FATAL(write(c->fd, body, len), (ssize_t)len);
}

/* The next message from the server: 0, -EPIPE on EOF, -ETIMEDOUT if the
 * server has nothing queued. */
static int xt_recv(struct xt_cli *c, struct xsd_sockmsg *h)
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

static void xt_stash_event(struct xt_cli *c)
{
    struct xt_event *e = &c->ev[c->nev % XT_MAX_EVENTS];
    const char *tok;

    tok = c->rep + strlen(c->rep) + 1;
    memset(e, 0, sizeof(*e));
    strncpy(e->path, c->rep, sizeof(e->path) - 1);
    strncpy(e->token, tok, sizeof(e->token) - 1);
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
static int xt_req(struct xt_cli *c, uint32_t type, uint32_t tx,
                  const void *body, uint32_t len)
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
static int xt_op(struct xt_cli *c, uint32_t type, uint32_t tx, ...)
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

static int xt_write(struct xt_cli *c, uint32_t tx, const char *path,
                    const char *val)
{
    char body[2 * XENSTORE_PAYLOAD_MAX];
    size_t pl = strlen(path) + 1, vl = strlen(val);

    memcpy(body, path, pl);
    memcpy(body + pl, val, vl);
    return xt_req(c, XS_WRITE, tx, body, (uint32_t)(pl + vl));
}

static int xt_read(struct xt_cli *c, uint32_t tx, const char *path)
{
    return xt_op(c, XS_READ, tx, path, NULL);
}

/* The next watch event, or NULL if the server sends none. */
static struct xt_event *xt_event(struct xt_cli *c)
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

static void xt_expect_event(struct xt_cli *c, const char *path,
                            const char *token)
{
    struct xt_event *e = xt_event(c);

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->path, path);
    CU_ASSERT_STRING_EQUAL(e->token, token);
}

static void xt_set_perms(struct xt_cli *c, const char *path, const char *p0,
                         const char *p1)
{
    CU_ASSERT_EQUAL(xt_op(c, XS_SET_PERMS, 0, path, p0, p1, NULL), 0);
}

/* Children as one comma-separated string. */
static const char *xt_dir(struct xt_cli *c, const char *path)
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

static uint32_t xt_txn(struct xt_cli *c)
{
    CU_ASSERT_EQUAL_FATAL(xt_op(c, XS_TRANSACTION_START, 0, "", NULL), 0);
    return (uint32_t)strtoul(c->rep, NULL, 10);
}

/* ---- operations ------------------------------------------------------ */

static void test_read_write_mkdir(void)
{
    struct xt_cli *d0;

    xt_start(NULL);
    d0 = xt_connect(0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/a/b/c", "hello"), 0);
    CU_ASSERT_STRING_EQUAL(d0->rep, "OK");
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/a/b/c"), 0);
    CU_ASSERT_STRING_EQUAL(d0->rep, "hello");
    CU_ASSERT_EQUAL(d0->rlen, 5);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/a/b"), 0);
    CU_ASSERT_EQUAL(d0->rlen, 0);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/a/x"), -ENOENT);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/a/m/n", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/a/m/n", NULL), 0);
    CU_ASSERT_STRING_EQUAL(xt_dir(d0, "/a"), "b,m");
    /* Relative paths live under the caller's home. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "rel", "1"), 0);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/local/domain/0/rel"), 0);
    /* Values may hold any byte. */
    CU_ASSERT_EQUAL(xt_req(d0, XS_WRITE, 0, "/bin\0a\0b", 8), 0);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/bin"), 0);
    CU_ASSERT_EQUAL(d0->rlen, 3);
    CU_ASSERT_EQUAL(memcmp(d0->rep, "a\0b", 3), 0);
    xt_stop();
}

static void test_paths(void)
{
    static const char *const bad[] = {"/a.b", "/a/", "/a//b",
                                      "/a b", "",    "/a\\b"};
    char longp[2100 + 32];
    struct xt_cli *d0;
    size_t i;

    xt_start(NULL);
    d0 = xt_connect(0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(xt_write(d0, 0, bad[i], "x"), -EINVAL);
    /* 2048 characters counted after /local/domain/<id>/. */
    memset(longp, 'x', sizeof(longp));
    memcpy(longp, "/local/domain/7/", 16);
    longp[16 + 2048] = '\0';
    CU_ASSERT_EQUAL(xt_write(d0, 0, longp, "x"), 0);
    longp[16 + 2048] = 'x';
    longp[16 + 2049] = '\0';
    CU_ASSERT_EQUAL(xt_write(d0, 0, longp, "x"), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "@releaseDomain", NULL),
                    -EINVAL);
    xt_stop();
}

static void test_children_order_and_rm(void)
{
    struct xt_cli *d0;

    xt_start(NULL);
    d0 = xt_connect(0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/d/z", ""), 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/d/a", ""), 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/d/m/deep", ""), 0);
    CU_ASSERT_STRING_EQUAL(xt_dir(d0, "/d"), "z,a,m");
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, 0, "/d/z", NULL), 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/d/z", ""), 0);
    CU_ASSERT_STRING_EQUAL(xt_dir(d0, "/d"), "a,m,z");
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, 0, "/d/m", NULL), 0);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/d/m/deep"), -ENOENT);
    /* Missing node: fine under an existing parent, ENOENT otherwise. */
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, 0, "/d/nothere", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, 0, "/nope/nothere", NULL), -ENOENT);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, 0, "/", NULL), -EINVAL);
    xt_stop();
}

static void test_directory_part(void)
{
    char path[64], name[40];
    struct xt_cli *d0;
    unsigned int i, total = 0, off = 0, got = 0;
    const char *p;
    char gen[32] = "";

    xt_start(NULL);
    d0 = xt_connect(0);
    for (i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "/big/child-with-a-long-name-%03u", i);
        CU_ASSERT_EQUAL_FATAL(xt_write(d0, 0, path, ""), 0);
        total += (unsigned int)strlen(strrchr(path, '/') + 1) + 1;
    }
    CU_ASSERT_EQUAL(xt_op(d0, XS_DIRECTORY, 0, "/big", NULL), -E2BIG);
    for (;;) {
        snprintf(name, sizeof(name), "%u", off);
        CU_ASSERT_EQUAL_FATAL(
            xt_op(d0, XS_DIRECTORY_PART, 0, "/big", name, NULL), 0);
        if (!off)
            strncpy(gen, d0->rep, sizeof(gen) - 1);
        CU_ASSERT_STRING_EQUAL(d0->rep, gen);
        p = d0->rep + strlen(d0->rep) + 1;
        if (!*p)
            break;
        for (; p < d0->rep + d0->rlen && *p; p += strlen(p) + 1) {
            snprintf(name, sizeof(name), "child-with-a-long-name-%03u", got++);
            CU_ASSERT_STRING_EQUAL(p, name);
            off += (unsigned int)strlen(p) + 1;
        }
        if (p < d0->rep + d0->rlen)
            break;
    }
    CU_ASSERT_EQUAL(got, 200);
    CU_ASSERT_EQUAL(off, total);
    xt_stop();
}

/* ---- permissions ----------------------------------------------------- */

static void test_perm_read_rules(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/secret/x", "s"), 0);
    /* Unreadable: the node, a missing child (EACCES, not ENOENT), "/". */
    CU_ASSERT_EQUAL(xt_read(g, 0, "/secret/x"), -EACCES);
    CU_ASSERT_EQUAL(xt_read(g, 0, "/secret/missing"), -EACCES);
    CU_ASSERT_EQUAL(xt_op(g, XS_DIRECTORY, 0, "/", NULL), -EACCES);
    CU_ASSERT_EQUAL(xt_op(g, XS_GET_PERMS, 0, "/secret", NULL), -EACCES);
    /* Readable parent: a missing child is ENOENT. */
    xt_set_perms(d0, "/secret", "n0", "r5");
    CU_ASSERT_EQUAL(xt_read(g, 0, "/secret/missing"), -ENOENT);
    CU_ASSERT_EQUAL(xt_read(g, 0, "/secret"), 0);
    /* "r" does not grant write. */
    CU_ASSERT_EQUAL(xt_write(g, 0, "/secret", "v"), -EACCES);
    CU_ASSERT_EQUAL(xt_write(g, 0, "/secret/new", "v"), -EACCES);
    CU_ASSERT_EQUAL(xt_op(g, XS_RM, 0, "/secret", NULL), -EACCES);
    xt_stop();
}

static void test_perm_create_inherit_owner(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", "r0");
    /* dom0's new nodes inherit the parent's ACL as is. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/local/domain/5/name", "g"), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "/local/domain/5/name", NULL),
                    0);
    CU_ASSERT_EQUAL(memcmp(d0->rep, "n5\0r0\0", 6), 0);
    /* A guest owns what it creates, parents included. */
    CU_ASSERT_EQUAL(xt_write(g, 0, "data/a/b", "1"), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_GET_PERMS, 0, "data/a", NULL), 0);
    CU_ASSERT_EQUAL(memcmp(g->rep, "n5\0r0\0", 6), 0);
    /* Owner may chmod, but not give the node away. */
    xt_set_perms(g, "data/a", "n5", "b0");
    CU_ASSERT_EQUAL(xt_op(g, XS_SET_PERMS, 0, "data/a", "n0", NULL), -EPERM);
    /* Not the owner: no chmod even with write access. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/shared", ""), 0);
    xt_set_perms(d0, "/shared", "n0", "b5");
    CU_ASSERT_EQUAL(xt_write(g, 0, "/shared", "ok"), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_SET_PERMS, 0, "/shared", "b5", NULL), -EACCES);
    /* Malformed ACL strings. */
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_PERMS, 0, "/shared", "x0", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_PERMS, 0, "/shared", "r", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_PERMS, 0, "/shared", NULL), -EINVAL);
    xt_stop();
}

static void test_perm_nonexistent_domains(void)
{
    struct xt_cli *d0;

    xt_start(NULL);
    d0 = xt_connect(0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/n", ""), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_PERMS, 0, "/n", "n9", NULL), -ENOENT);
    xt_set_perms(d0, "/n", "n0", "r9");
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "/n", NULL), 0);
    CU_ASSERT_EQUAL(memcmp(d0->rep, "n0\0r9\0", 6), 0);
    xt_stop();
}

/* XSA-322: a domain that reuses a dead domain's id inherits nothing. */
static void test_perm_domid_reuse(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/tool/x", "t"), 0);
    xt_set_perms(d0, "/tool/x", "n0", "r5");
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", NULL);
    CU_ASSERT_EQUAL(xt_write(g, 0, "mine", "m"), 0);
    CU_ASSERT_EQUAL(xt_read(g, 0, "/tool/x"), 0);
    CU_ASSERT_EQUAL(xss_domain_release(xt_srv, 5), 0);
    /* Its connection is gone, its nodes too; dom0's ACL keeps the id. */
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/local/domain/5/mine"), -ENOENT);
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "/tool/x", NULL), 0);
    CU_ASSERT_EQUAL(memcmp(d0->rep, "n0\0r5\0", 6), 0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_read(g, 0, "/tool/x"), -EACCES);
    /* Rewriting the node does not bring the grant back. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/tool/x", "t2"), 0);
    CU_ASSERT_EQUAL(xt_read(g, 0, "/tool/x"), -EACCES);
    xt_stop();
}

/* ---- quotas ---------------------------------------------------------- */

static void test_quota_nodes(void)
{
    static const char *const q[] = {"nodes=3", NULL};
    struct xt_cli *d0, *g;

    xt_start(q);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", NULL);
    /* The toolstack's node counts for the guest: 2 more fit. */
    CU_ASSERT_EQUAL(xt_write(g, 0, "a", ""), 0);
    CU_ASSERT_EQUAL(xt_write(g, 0, "b/c", ""), -ENOSPC);
    CU_ASSERT_EQUAL(xt_read(g, 0, "b"), -ENOENT);
    CU_ASSERT_EQUAL(xt_write(g, 0, "b", ""), 0);
    CU_ASSERT_EQUAL(xt_write(g, 0, "c", ""), -ENOSPC);
    /* Freed by rm; dom0 is not limited. */
    CU_ASSERT_EQUAL(xt_op(g, XS_RM, 0, "b", NULL), 0);
    CU_ASSERT_EQUAL(xt_write(g, 0, "c", ""), 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/x/y/z/w", ""), 0);
    xt_stop();
}

static void test_quota_node_size(void)
{
    static char val[2100];
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", NULL);
    memset(val, 'v', 2015);
    CU_ASSERT_EQUAL(xt_write(g, 0, "big", val), 0);
    val[2015] = 'v';
    CU_ASSERT_EQUAL(xt_write(g, 0, "big", val), -ENOSPC);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/local/domain/5/big", val), 0);
    xt_stop();
}

static void test_quota_perms(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    xt_connect(6);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/p", ""), 0);
    xt_set_perms(d0, "/p", "n5", NULL);
    CU_ASSERT_EQUAL(
        xt_op(g, XS_SET_PERMS, 0, "/p", "n5", "r6", "r6", "r6", "r6", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_SET_PERMS, 0, "/p", "n5", "r6", "r6", "r6",
                          "r6", "r6", NULL),
                    -ENOSPC);
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_PERMS, 0, "/p", "n5", "r6", "r6", "r6",
                          "r6", "r6", NULL),
                    0);
    xt_stop();
}

static void test_quota_watches(void)
{
    static const char *const q[] = {"watches=2", NULL};
    struct xt_cli *g, *g2;

    xt_start(q);
    g = xt_connect(5);
    g2 = xt_connect(5);
    /* "More than 2" is refused: the third is allowed, per domain. */
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "/a", "t", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "/b", "t", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g2, XS_WATCH, 0, "/c", "t", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g2, XS_WATCH, 0, "/d", "t", NULL), -E2BIG);
    CU_ASSERT_EQUAL(xt_op(g, XS_UNWATCH, 0, "/a", "t", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g2, XS_WATCH, 0, "/d", "t", NULL), 0);
    xt_stop();
}

static void test_quota_transactions(void)
{
    static const char *const q[] = {"transactions=2", NULL};
    struct xt_cli *g, *d0;
    int i;

    xt_start(q);
    g = xt_connect(5);
    d0 = xt_connect(0);
    for (i = 0; i < 3; i++)
        xt_txn(g);
    CU_ASSERT_EQUAL(xt_op(g, XS_TRANSACTION_START, 0, "", NULL), -ENOSPC);
    for (i = 0; i < 10; i++)
        xt_txn(d0);
    xt_stop();
}

static void test_quota_trans_nodes(void)
{
    static const char *const q[] = {"trans_nodes=4", NULL};
    struct xt_cli *d0, *g;
    uint32_t t;

    xt_start(q);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", NULL);
    t = xt_txn(g);
    /* a (missing) and its parent: 2; b and (same parent): 3; c: 4. */
    CU_ASSERT_EQUAL(xt_read(g, t, "a"), -ENOENT);
    CU_ASSERT_EQUAL(xt_write(g, t, "b", ""), 0);
    CU_ASSERT_EQUAL(xt_write(g, t, "c", ""), 0);
    CU_ASSERT_EQUAL(xt_read(g, t, "d"), -ENOSPC);
    CU_ASSERT_EQUAL(xt_op(g, XS_TRANSACTION_END, t, "T", NULL), -ENOMEM);
    CU_ASSERT_EQUAL(xt_read(g, 0, "b"), -ENOENT);
    xt_stop();
}

/* ---- transactions ---------------------------------------------------- */

static void test_txn_isolation_commit_abort(void)
{
    struct xt_cli *d0, *o;
    uint32_t t;

    xt_start(NULL);
    d0 = xt_connect(0);
    o = xt_connect(0);
    CU_ASSERT_EQUAL(xt_op(o, XS_WATCH, 0, "/t", "tok", NULL), 0);
    xt_expect_event(o, "/t", "tok");
    t = xt_txn(d0);
    CU_ASSERT_NOT_EQUAL(t, 0);
    CU_ASSERT_EQUAL(xt_write(d0, t, "/t/a", "1"), 0);
    CU_ASSERT_EQUAL(xt_read(d0, t, "/t/a"), 0);
    CU_ASSERT_EQUAL(xt_read(o, 0, "/t/a"), -ENOENT);
    /* Events fire on commit only. */
    CU_ASSERT_PTR_NULL(xt_event(o));
    CU_ASSERT_EQUAL(xt_op(d0, XS_TRANSACTION_START, t, "", NULL), -EBUSY);
    CU_ASSERT_EQUAL(xt_op(d0, XS_TRANSACTION_END, t, "X", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(d0, XS_TRANSACTION_END, t, "T", NULL), 0);
    xt_expect_event(o, "/t/a", "tok");
    CU_ASSERT_EQUAL(xt_read(o, 0, "/t/a"), 0);
    CU_ASSERT_STRING_EQUAL(o->rep, "1");
    /* Aborted: nothing happens. */
    t = xt_txn(d0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, t, "/t/a", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_TRANSACTION_END, t, "F", NULL), 0);
    CU_ASSERT_EQUAL(xt_read(o, 0, "/t/a"), 0);
    CU_ASSERT_PTR_NULL(xt_event(o));
    /* Ended transactions and made-up ids are unknown. */
    CU_ASSERT_EQUAL(xt_read(d0, t, "/t/a"), -ENOENT);
    CU_ASSERT_EQUAL(xt_read(d0, 12345, "/t/a"), -ENOENT);
    xt_stop();
}

static void test_txn_conflicts(void)
{
    struct xt_cli *a, *b;
    uint32_t ta, tb;

    xt_start(NULL);
    a = xt_connect(0);
    b = xt_connect(0);
    CU_ASSERT_EQUAL(xt_write(a, 0, "/c/x", "0"), 0);
    /* Siblings created in two transactions: the second commit loses. */
    ta = xt_txn(a);
    tb = xt_txn(b);
    CU_ASSERT_EQUAL(xt_write(a, ta, "/c/s1", ""), 0);
    CU_ASSERT_EQUAL(xt_write(b, tb, "/c/s2", ""), 0);
    CU_ASSERT_EQUAL(xt_op(a, XS_TRANSACTION_END, ta, "T", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(b, XS_TRANSACTION_END, tb, "T", NULL), -EAGAIN);
    CU_ASSERT_EQUAL(xt_read(a, 0, "/c/s2"), -ENOENT);
    /* A read node changed outside: EAGAIN; the retry succeeds. */
    ta = xt_txn(a);
    CU_ASSERT_EQUAL(xt_read(a, ta, "/c/x"), 0);
    CU_ASSERT_EQUAL(xt_write(b, 0, "/c/x", "1"), 0);
    CU_ASSERT_EQUAL(xt_write(a, ta, "/c/y", "2"), 0);
    CU_ASSERT_EQUAL(xt_op(a, XS_TRANSACTION_END, ta, "T", NULL), -EAGAIN);
    ta = xt_txn(a);
    CU_ASSERT_EQUAL(xt_read(a, ta, "/c/x"), 0);
    CU_ASSERT_EQUAL(xt_write(a, ta, "/c/y", "2"), 0);
    CU_ASSERT_EQUAL(xt_op(a, XS_TRANSACTION_END, ta, "T", NULL), 0);
    CU_ASSERT_STRING_EQUAL(xt_dir(a, "/c"), "x,s1,y");
    xt_stop();
}

/* ---- watches --------------------------------------------------------- */

static void test_watch_events(void)
{
    struct xt_cli *d0, *w;

    xt_start(NULL);
    d0 = xt_connect(0);
    w = xt_connect(0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/w/a/b", "1"), 0);
    CU_ASSERT_EQUAL(xt_op(w, XS_WATCH, 0, "/w", "top", NULL), 0);
    xt_expect_event(w, "/w", "top");
    CU_ASSERT_EQUAL(xt_op(w, XS_WATCH, 0, "/w/a/b", "leaf", NULL), 0);
    xt_expect_event(w, "/w/a/b", "leaf");
    CU_ASSERT_EQUAL(xt_op(w, XS_WATCH, 0, "/w", "top", NULL), -EEXIST);
    /* Same value again fires; mkdir of an existing node does not. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/w/a/b", "1"), 0);
    xt_expect_event(w, "/w/a/b", "top");
    xt_expect_event(w, "/w/a/b", "leaf");
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/w/a", NULL), 0);
    CU_ASSERT_PTR_NULL(xt_event(w));
    /* rm: exact events for the deleted descendants, then the ancestor. */
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, 0, "/w/a", NULL), 0);
    xt_expect_event(w, "/w/a/b", "leaf");
    xt_expect_event(w, "/w/a", "top");
    CU_ASSERT_PTR_NULL(xt_event(w));
    CU_ASSERT_EQUAL(xt_op(w, XS_UNWATCH, 0, "/w", "top", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(w, XS_UNWATCH, 0, "/w", "top", NULL), -ENOENT);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/w/z", ""), 0);
    CU_ASSERT_PTR_NULL(xt_event(w));
    CU_ASSERT_EQUAL(xt_op(w, XS_WATCH, 0, "/w/a/b", "leaf2", NULL), 0);
    xt_expect_event(w, "/w/a/b", "leaf2");
    CU_ASSERT_EQUAL(xt_op(w, XS_RESET_WATCHES, 0, "", NULL), 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/w/a/b", "2"), 0);
    CU_ASSERT_PTR_NULL(xt_event(w));
    xt_stop();
}

static void test_watch_relative_and_xsa115(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", NULL);
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "dev", "rel", NULL), 0);
    xt_expect_event(g, "dev", "rel");
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/local/domain/5/dev/x", "1"), 0);
    xt_expect_event(g, "dev/x", "rel");
    /* Initial event even for an unreadable node; later ones need read. */
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "/hidden", "h", NULL), 0);
    xt_expect_event(g, "/hidden", "h");
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/hidden/y", "1"), 0);
    CU_ASSERT_PTR_NULL(xt_event(g));
    xt_set_perms(d0, "/hidden", "n0", "r5");
    xt_expect_event(g, "/hidden", "h");
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/hidden/y", "2"), 0);
    xt_expect_event(g, "/hidden/y", "h");
    xt_stop();
}

static void test_watch_special(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(d0, XS_WATCH, 0, "@releaseDomain", "r", NULL), 0);
    xt_expect_event(d0, "@releaseDomain", "r");
    CU_ASSERT_EQUAL(xt_op(d0, XS_WATCH, 0, "@introduceDomain", "i", NULL), 0);
    xt_expect_event(d0, "@introduceDomain", "i");
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "@introduceDomain", "gi", NULL), 0);
    xt_expect_event(g, "@introduceDomain", "gi");
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "@anything", "x", NULL), 0);
    xt_expect_event(g, "@anything", "x");
    CU_ASSERT_EQUAL(xss_domain_introduce(xt_srv, 7), 0);
    xt_expect_event(d0, "@introduceDomain", "i");
    CU_ASSERT_PTR_NULL(xt_event(g));
    /* The ACL dom0 sets decides; guests may not change it. */
    CU_ASSERT_EQUAL(xt_op(g, XS_SET_PERMS, 0, "@introduceDomain", "r5", NULL),
                    -EACCES);
    xt_set_perms(d0, "@introduceDomain", "n0", "r5");
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_PERMS, 0, "@other", "n0", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xss_domain_introduce(xt_srv, 8), 0);
    xt_expect_event(d0, "@introduceDomain", "i");
    xt_expect_event(g, "@introduceDomain", "gi");
    CU_ASSERT_EQUAL(xss_domain_release(xt_srv, 7), 0);
    xt_expect_event(d0, "@releaseDomain", "r");
    CU_ASSERT_PTR_NULL(xt_event(g));
    xt_stop();
}

/* ---- domains --------------------------------------------------------- */

static void test_domain_ops(void)
{
    struct xt_cli *d0, *g;
    struct xsd_sockmsg h;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_op(g, XS_GET_DOMAIN_PATH, 0, "32752", NULL), 0);
    CU_ASSERT_STRING_EQUAL(g->rep, "/local/domain/32752");
    CU_ASSERT_EQUAL(xt_op(g, XS_GET_DOMAIN_PATH, 0, "x", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(g, XS_IS_DOMAIN_INTRODUCED, 0, "32752", NULL), 0);
    CU_ASSERT_STRING_EQUAL(g->rep, "T");
    CU_ASSERT_EQUAL(xt_op(d0, XS_IS_DOMAIN_INTRODUCED, 0, "9", NULL), 0);
    CU_ASSERT_STRING_EQUAL(d0->rep, "F");
    CU_ASSERT_EQUAL(xt_op(g, XS_INTRODUCE, 0, "9", "1", "2", NULL), -EACCES);
    CU_ASSERT_EQUAL(xt_op(d0, XS_INTRODUCE, 0, "9", "1", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(d0, XS_INTRODUCE, 0, "9", "1", "2", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_IS_DOMAIN_INTRODUCED, 0, "9", NULL), 0);
    CU_ASSERT_STRING_EQUAL(d0->rep, "T");
    CU_ASSERT_EQUAL(xt_op(d0, XS_RESUME, 0, "9", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_RELEASE, 0, "9", NULL), -EACCES);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RELEASE, 0, "0", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RELEASE, 0, "9", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RELEASE, 0, "9", NULL), -ENOENT);
    CU_ASSERT_EQUAL(xt_op(d0, XS_SET_TARGET, 0, "9", "1", NULL), -ENOSYS);
    CU_ASSERT_EQUAL(xt_op(g, XS_CONTROL, 0, "help", NULL), -EACCES);
    CU_ASSERT_EQUAL(xt_op(d0, XS_CONTROL, 0, "help", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_CONTROL, 0, "quota", NULL), -EINVAL);
    /* Releasing dom5 over the wire drops its connection. */
    CU_ASSERT_EQUAL(xt_op(d0, XS_RELEASE, 0, "5", NULL), 0);
    CU_ASSERT_EQUAL(xt_recv(g, &h), -EPIPE);
    CU_ASSERT_EQUAL(xss_domain_exists(xt_srv, 5), 0);
    xt_stop();
}

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

static void test_limits_and_dump(void)
{
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
    static const struct {
        const char *name; /* test name */
        CU_TestFunc fn;   /* test */
    } tests[] = {
        {"read/write/mkdir", test_read_write_mkdir},
        {"paths", test_paths},
        {"children order, rm", test_children_order_and_rm},
        {"directory_part", test_directory_part},
        {"perm: read rules", test_perm_read_rules},
        {"perm: create, inherit, owner", test_perm_create_inherit_owner},
        {"perm: nonexistent domains", test_perm_nonexistent_domains},
        {"perm: domid reuse (XSA-322)", test_perm_domid_reuse},
        {"quota: nodes", test_quota_nodes},
        {"quota: node size", test_quota_node_size},
        {"quota: perms", test_quota_perms},
        {"quota: watches", test_quota_watches},
        {"quota: transactions", test_quota_transactions},
        {"quota: transaction nodes", test_quota_trans_nodes},
        {"txn: isolation, commit, abort", test_txn_isolation_commit_abort},
        {"txn: conflicts", test_txn_conflicts},
        {"watch: events", test_watch_events},
        {"watch: relative, XSA-115", test_watch_relative_and_xsa115},
        {"watch: special", test_watch_special},
        {"domain ops", test_domain_ops},
        {"wire: malformed", test_wire_malformed},
        {"wire: flood bounded (XSA-326)", test_wire_flood_bounded},
        {"limits, dump", test_limits_and_dump},
    };
    unsigned int failures;
    CU_pSuite suite;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("xss", NULL, NULL);
    for (i = 0; suite && i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            suite = NULL;
    if (!suite) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)failures;
}
