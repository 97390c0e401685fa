/*
 * xss_test: CUnit tests of the sim xenstore server (tools/simhv/xenstored):
 * one per operation and one per permission and quota rule, each rule broken
 * once, over raw wire-protocol clients (tests/unit/xss_testlib.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/xss_testlib.h"

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
        if (!off) {
            /* The generation count: a short string, kept to compare. */
            size_t n = strnlen(d0->rep, sizeof(gen) - 1);

            memcpy(gen, d0->rep, n);
            gen[n] = '\0';
        }
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

/* Commit re-checks what other commits may have changed: the guest's node
 * quota, and owners that died meanwhile. */
static void test_txn_commit_rechecks(void)
{
    static const char *const q[] = {"nodes=5", NULL};
    struct xt_cli *d0, *g;
    uint32_t t1, t2;

    xt_start(q);
    d0 = xt_connect(0);
    g = xt_connect(5);
    xt_connect(6);
    CU_ASSERT_EQUAL(xt_op(d0, XS_MKDIR, 0, "/local/domain/5", NULL), 0);
    xt_set_perms(d0, "/local/domain/5", "n5", NULL);
    CU_ASSERT_EQUAL(xt_write(g, 0, "p1", ""), 0);
    CU_ASSERT_EQUAL(xt_write(g, 0, "p2", ""), 0);
    /* Disjoint transactions, each within quota alone (3 owned + 2). */
    t1 = xt_txn(g);
    t2 = xt_txn(g);
    CU_ASSERT_EQUAL(xt_write(g, t1, "p1/a", ""), 0);
    CU_ASSERT_EQUAL(xt_write(g, t1, "p1/b", ""), 0);
    CU_ASSERT_EQUAL(xt_write(g, t2, "p2/c", ""), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_TRANSACTION_END, t1, "T", NULL), 0);
    CU_ASSERT_EQUAL(xt_op(g, XS_TRANSACTION_END, t2, "T", NULL), -ENOSPC);
    /* dom0 gives a node to dom6 in a transaction; dom6 dies first. */
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/gift", ""), 0);
    t1 = xt_txn(d0);
    xt_set_perms_tx(d0, t1, "/gift", "n6");
    CU_ASSERT_EQUAL(xss_domain_release(xt_srv, 6), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_TRANSACTION_END, t1, "T", NULL), -EAGAIN);
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "/gift", NULL), 0);
    CU_ASSERT_STRING_EQUAL(d0->rep, "n0");
    xt_stop();
}

/* rm inside a transaction: the events fire on commit, with the removed
 * nodes' ACLs deciding who sees them. */
static void test_txn_rm_events(void)
{
    struct xt_cli *d0, *g;
    uint32_t t;

    xt_start(NULL);
    d0 = xt_connect(0);
    g = xt_connect(5);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/r/open/x", ""), 0);
    xt_set_perms(d0, "/r/open/x", "n0", "r5");
    CU_ASSERT_EQUAL(xt_op(g, XS_WATCH, 0, "/r/open/x", "w", NULL), 0);
    xt_expect_event(g, "/r/open/x", "w");
    t = xt_txn(d0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_RM, t, "/r/open", NULL), 0);
    CU_ASSERT_PTR_NULL(xt_event(g));
    CU_ASSERT_EQUAL(xt_op(d0, XS_TRANSACTION_END, t, "T", NULL), 0);
    xt_expect_event(g, "/r/open/x", "w");
    CU_ASSERT_PTR_NULL(xt_event(g));
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

/* The toolstack's layout for a new domain: ACLs as libxl writes them, a
 * stale directory of an earlier domain with that id removed first. */
static void test_domain_make(void)
{
    struct xt_cli *d0, *g;

    xt_start(NULL);
    d0 = xt_connect(0);
    CU_ASSERT_EQUAL(xss_domain_make(xt_srv, 7, "g7"), -EINVAL);
    CU_ASSERT_EQUAL(xss_domain_make(xt_srv, 0, "dom0"), -EINVAL);
    CU_ASSERT_EQUAL(xss_domain_introduce(xt_srv, 7), 0);
    CU_ASSERT_EQUAL(xt_write(d0, 0, "/local/domain/7/stale", "old"), 0);
    CU_ASSERT_EQUAL(xss_domain_make(xt_srv, 7, "g7"), 0);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/local/domain/7/stale"), -ENOENT);
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "/local/domain/7", NULL), 0);
    CU_ASSERT_EQUAL(memcmp(d0->rep, "n0\0r7\0", 6), 0);
    CU_ASSERT_EQUAL(xt_op(d0, XS_GET_PERMS, 0, "/local/domain/7/data", NULL),
                    0);
    CU_ASSERT_EQUAL(memcmp(d0->rep, "n7\0", 3), 0);
    g = xt_connect(7);
    CU_ASSERT_EQUAL(xt_read(g, 0, "name"), 0);
    CU_ASSERT_STRING_EQUAL(g->rep, "g7");
    CU_ASSERT_EQUAL(xt_read(g, 0, "domid"), 0);
    CU_ASSERT_STRING_EQUAL(g->rep, "7");
    /* The guest may not rename itself nor fill device/, but owns data/. */
    CU_ASSERT_EQUAL(xt_write(g, 0, "name", "evil"), -EACCES);
    CU_ASSERT_EQUAL(xt_write(g, 0, "device/vbd", ""), -EACCES);
    CU_ASSERT_EQUAL(xt_write(g, 0, "data/x", "1"), 0);
    CU_ASSERT_EQUAL(xt_write(g, 0, "control/shutdown", "poweroff"), 0);
    /* A server write with a bad ACL is refused and names why. */
    CU_ASSERT_EQUAL(xss_server_write(xt_srv, "rel/path", "", NULL), -EINVAL);
    CU_ASSERT_EQUAL(xss_server_write(xt_srv, "/t", "v", "n99"), -ENOENT);
    CU_ASSERT_EQUAL(xt_read(d0, 0, "/t"), -ENOENT);
    xt_stop();
}

int main(void)
{
    static const struct cutest tests[] = {
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
        {"txn: commit rechecks", test_txn_commit_rechecks},
        {"txn: rm events", test_txn_rm_events},
        {"watch: events", test_watch_events},
        {"watch: relative, XSA-115", test_watch_relative_and_xsa115},
        {"watch: special", test_watch_special},
        {"domain ops", test_domain_ops},
        {"domain make", test_domain_make},
    };

    return cutest_run("xss", tests, sizeof(tests) / sizeof(tests[0]));
}
