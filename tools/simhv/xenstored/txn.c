/*
 * txn.c: optimistic transactions, as cxenstored does them.
 *
 * A transaction keeps its own view of every node it touches (read, written,
 * found absent, or consulted as a parent) together with the live generation
 * of that node at first touch. Commit fails with EAGAIN if any touched node
 * changed in the live tree meanwhile; otherwise the changed nodes replace the
 * live ones and the queued watch events fire.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/simhv/xenstored/xss-internal.h"

static void xss_tnode_free(void *v)
{
    struct xss_tnode *tn = v;

    xss_node_put(tn->node);
    free(tn);
}

int xss_txn_start(struct xss_conn *c, uint32_t *id)
{
    struct xss_txn *t;
    int rc;

    if (c->dom->id != 0 && c->ntxns > c->srv->lim.transactions)
        return -ENOSPC;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    rc = xss_hmap_init(&t->nodes);
    if (rc) {
        free(t);
        return rc;
    }
    do {
        t->id = c->next_txid++;
    } while (t->id == 0 || xss_txn_find(c, t->id));
    t->conn = c;
    TAILQ_INIT(&t->events);
    LIST_INSERT_HEAD(&c->txns, t, link);
    c->ntxns++;
    *id = t->id;
    return 0;
}

struct xss_txn *xss_txn_find(struct xss_conn *c, uint32_t id)
{
    struct xss_txn *t;

    LIST_FOREACH(t, &c->txns, link)
    if (t->id == id)
        return t;
    return NULL;
}

void xss_txn_free(struct xss_txn *t)
{
    struct xss_tevent *e;

    if (!t)
        return;
    LIST_REMOVE(t, link);
    t->conn->ntxns--;
    xss_hmap_fini(&t->nodes, xss_tnode_free);
    while ((e = TAILQ_FIRST(&t->events))) {
        TAILQ_REMOVE(&t->events, e, link);
        free(e->path);
        free(e->acl.p);
        free(e);
    }
    free(t);
}

int xss_txn_queue_event(struct xss_txn *t, const char *path, bool exact,
                        const struct xss_acl *acl)
{
    struct xss_tevent *e = calloc(1, sizeof(*e));

    if (!e)
        return -ENOMEM;
    e->path = strdup(path);
    if (!e->path || (acl && xss_acl_copy(&e->acl, acl))) {
        free(e->path);
        free(e);
        return -ENOMEM;
    }
    e->exact = exact;
    TAILQ_INSERT_TAIL(&t->events, e, link);
    return 0;
}

struct xss_txn_check {
    struct xss_server *srv; /* live tree */
    bool conflict;          /* a touched node changed */
};

static void xss_txn_check_one(const char *path, void *val, void *arg)
{
    struct xss_txn_check *chk = arg;
    struct xss_tnode *tn = val;
    struct xss_node *live = xss_hmap_get(&chk->srv->tree, path);

    if ((live ? live->gen : 0) != tn->base_gen)
        chk->conflict = true;
    /* A node given to a domain that died meanwhile (XSA-322). */
    if (tn->dirty && tn->node &&
        !xss_domid_exists(chk->srv, tn->node->acl.p[0].id))
        chk->conflict = true;
}

static void xss_txn_apply_one(const char *path, void *val, void *arg)
{
    const struct xss_ctx *live = arg;
    struct xss_tnode *tn = val;

    if (tn->dirty)
        xss_tree_put(live, path, xss_node_hold(tn->node));
}

/* TRANSACTION_END: commit (or abort) and free @t. */
int xss_txn_end(struct xss_conn *c, struct xss_txn *t, bool commit)
{
    struct xss_ctx live = {.srv = c->srv, .conn = c, .domid = c->dom->id};
    struct xss_txn_check chk = {.srv = c->srv};
    struct xss_tevent *e;

    if (!commit) {
        xss_txn_free(t);
        return 0;
    }
    if (t->failed) {
        xss_txn_free(t);
        return -ENOMEM;
    }
    xss_hmap_foreach(&t->nodes, xss_txn_check_one, &chk);
    if (chk.conflict) {
        xss_txn_free(t);
        return -EAGAIN;
    }
    /* Other transactions of the guest may have committed nodes meanwhile. */
    if (c->dom->id != 0 && t->own_delta > 0 &&
        c->dom->nodes + (unsigned int)t->own_delta > c->srv->lim.nodes) {
        xss_txn_free(t);
        return -ENOSPC;
    }
    xss_hmap_foreach(&t->nodes, xss_txn_apply_one, &live);
    TAILQ_FOREACH(e, &t->events, link)
    xss_watch_fire_now(c->srv, e->path, e->exact, e->acl.n ? &e->acl : NULL);
    xss_txn_free(t);
    return 0;
}

static void xss_txn_revoke_one(const char *path, void *val, void *arg)
{
    struct xss_tnode *tn = val;

    (void)path;
    if (tn->node)
        xss_acl_revoke(&tn->node->acl, *(const domid_t *)arg);
}

/* @domid died: revoke it in the nodes @t holds too. */
void xss_txn_revoke(struct xss_txn *t, domid_t domid)
{
    xss_hmap_foreach(&t->nodes, xss_txn_revoke_one, &domid);
}
