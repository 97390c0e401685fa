/*
 * watch.c: watches and watch events.
 *
 * Watches are indexed by absolute path, so a change at /a/b/c looks up the
 * lists for "/", "/a", "/a/b" and "/a/b/c" only. An event reaches a watcher
 * only if its domain may read the node or its parent (XSA-115); events on
 * @introduceDomain/@releaseDomain follow the ACL dom0 set on them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/simhv/xenstored/xss-internal.h"

/* The watches registered on one absolute path. */
struct xss_wlist {
    LIST_HEAD(, xss_watch) head; /* struct xss_watch.path_link */
};

struct xss_acl *xss_special_acl(struct xss_server *srv, const char *path)
{
    if (!strcmp(path, "@introduceDomain"))
        return &srv->intro_acl;
    if (!strcmp(path, "@releaseDomain"))
        return &srv->release_acl;
    return NULL;
}

static int xss_watch_canon(struct xss_conn *c, const char *path, char *out,
                           size_t outsz)
{
    struct xss_ctx ctx = {.srv = c->srv, .conn = c, .domid = c->dom->id};

    if (path[0] == '@') {
        if (strlen(path) > XENSTORE_REL_PATH_MAX || strlen(path) >= outsz)
            return -EINVAL;
        strcpy(out, path);
        return 0;
    }
    return xss_path_canon(&ctx, path, out, outsz);
}

static struct xss_watch *xss_watch_find(struct xss_conn *c, const char *abspath,
                                        const char *token)
{
    struct xss_watch *w;

    LIST_FOREACH(w, &c->watches, conn_link)
    if (!strcmp(w->abspath, abspath) && !strcmp(w->token, token))
        return w;
    return NULL;
}

static void xss_watch_free(struct xss_watch *w)
{
    free(w->path);
    free(w->abspath);
    free(w->token);
    free(w);
}

static int xss_watch_index(struct xss_server *srv, struct xss_watch *w)
{
    struct xss_wlist *l = xss_hmap_get(&srv->watches, w->abspath);
    int rc;

    if (!l) {
        l = malloc(sizeof(*l));
        if (!l)
            return -ENOMEM;
        LIST_INIT(&l->head);
        rc = xss_hmap_put(&srv->watches, w->abspath, l);
        if (rc) {
            free(l);
            return rc;
        }
    }
    LIST_INSERT_HEAD(&l->head, w, path_link);
    return 0;
}

/* WATCH: register; the caller sends the reply, then the initial event. */
int xss_watch_add(struct xss_conn *c, const char *path, const char *token,
                  struct xss_watch **out)
{
    char abspath[XSS_PATH_MAX];
    struct xss_watch *w;
    int rc;

    rc = xss_watch_canon(c, path, abspath, sizeof(abspath));
    if (rc)
        return rc;
    if (xss_watch_find(c, abspath, token))
        return -EEXIST;
    if (c->dom->id != 0 && c->dom->watches > c->srv->lim.watches)
        return -E2BIG;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->conn = c;
    w->relative = path[0] != '/' && path[0] != '@';
    w->path = strdup(path);
    w->abspath = strdup(abspath);
    w->token = strdup(token);
    if (!w->path || !w->abspath || !w->token) {
        rc = -ENOMEM;
        goto err_free;
    }
    rc = xss_watch_index(c->srv, w);
    if (rc)
        goto err_free;
    LIST_INSERT_HEAD(&c->watches, w, conn_link);
    c->dom->watches++;
    *out = w;
    return 0;

err_free:
    xss_watch_free(w);
    return rc;
}

static void xss_watch_remove(struct xss_watch *w)
{
    struct xss_server *srv = w->conn->srv;
    struct xss_wlist *l;

    LIST_REMOVE(w, conn_link);
    LIST_REMOVE(w, path_link);
    l = xss_hmap_get(&srv->watches, w->abspath);
    if (l && LIST_EMPTY(&l->head))
        free(xss_hmap_del(&srv->watches, w->abspath));
    w->conn->dom->watches--;
    xss_watch_free(w);
}

/* UNWATCH. */
int xss_watch_del(struct xss_conn *c, const char *path, const char *token)
{
    char abspath[XSS_PATH_MAX];
    struct xss_watch *w;
    int rc;

    rc = xss_watch_canon(c, path, abspath, sizeof(abspath));
    if (rc)
        return rc;
    w = xss_watch_find(c, abspath, token);
    if (!w)
        return -ENOENT;
    xss_watch_remove(w);
    return 0;
}

void xss_watch_free_all(struct xss_conn *c)
{
    while (!LIST_EMPTY(&c->watches))
        xss_watch_remove(LIST_FIRST(&c->watches));
}

/* Queue one WATCH_EVENT "path\0token\0" for @w about @abspath. */
void xss_watch_send(struct xss_watch *w, const char *abspath)
{
    struct xsd_sockmsg hdr = {.type = XS_WATCH_EVENT};
    char body[XSS_PATH_MAX + XENSTORE_PAYLOAD_MAX];
    char home[32];
    const char *p = abspath;
    size_t plen, tlen, hlen;

    if (w->relative) {
        hlen = (size_t)snprintf(home, sizeof(home), "/local/domain/%u",
                                w->conn->dom->id);
        if (!strncmp(p, home, hlen) && p[hlen] == '/')
            p += hlen + 1;
    }
    plen = strlen(p) + 1;
    tlen = strlen(w->token) + 1;
    if (plen + tlen > sizeof(body))
        return;
    memcpy(body, p, plen);
    memcpy(body + plen, w->token, tlen);
    xss_conn_queue(w->conn, &hdr, body, plen + tlen, false);
}

/* May @c learn that @path changed? (cxenstored's watch_permitted()) */
static bool xss_watch_permitted(struct xss_conn *c, const char *path,
                                const struct xss_acl *acl)
{
    struct xss_ctx ctx = {.srv = c->srv, .conn = c, .domid = c->dom->id};
    char parent[XSS_PATH_MAX];
    struct xss_node *n;

    if (xss_ctx_privileged(&ctx))
        return true;
    if (acl && (xss_perm_for(&ctx, acl) & XSS_PERM_READ))
        return true;
    n = xss_hmap_get(&c->srv->tree, path);
    if (!n)
        return false;
    if (xss_perm_for(&ctx, &n->acl) & XSS_PERM_READ)
        return true;
    if (xss_path_parent(path, parent, sizeof(parent)))
        return false;
    n = xss_hmap_get(&c->srv->tree, parent);
    return n && (xss_perm_for(&ctx, &n->acl) & XSS_PERM_READ);
}

static void xss_watch_fire_list(struct xss_server *srv, const char *key,
                                const char *path, const struct xss_acl *acl)
{
    struct xss_wlist *l = xss_hmap_get(&srv->watches, key);
    struct xss_acl *special = xss_special_acl(srv, path);
    struct xss_watch *w;
    struct xss_ctx ctx = {.srv = srv};
    bool ok;

    if (!l)
        return;
    LIST_FOREACH(w, &l->head, path_link)
    {
        if (w->conn->dead)
            continue;
        if (path[0] == '@') {
            ctx.domid = w->conn->dom->id;
            ok = special && (xss_perm_for(&ctx, special) & XSS_PERM_READ);
        } else {
            ok = xss_watch_permitted(w->conn, path, acl);
        }
        if (ok)
            xss_watch_send(w, path);
    }
}

/* @path changed in the live tree: fire the watches on it and, unless
 * @exact, on its ancestors. @acl: the ACL it had if it is gone. */
void xss_watch_fire_now(struct xss_server *srv, const char *path, bool exact,
                        const struct xss_acl *acl)
{
    char prefix[XSS_PATH_MAX];
    size_t i, len = strlen(path);

    if (exact || path[0] == '@' || len >= sizeof(prefix)) {
        xss_watch_fire_list(srv, path, path, acl);
        return;
    }
    if (len > 1)
        xss_watch_fire_list(srv, "/", path, acl);
    memcpy(prefix, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        prefix[i] = '\0';
        xss_watch_fire_list(srv, prefix, path, acl);
        prefix[i] = path[i];
    }
}

/* A change by @ctx: fire now, or on commit inside a transaction. */
void xss_watch_fire(const struct xss_ctx *ctx, const char *path, bool exact,
                    const struct xss_acl *acl)
{
    if (ctx->txn)
        xss_txn_queue_event(ctx->txn, path, exact, acl);
    else
        xss_watch_fire_now(ctx->srv, path, exact, acl);
}

static void xss_wlist_free(void *v)
{
    free(v);
}

void xss_watches_fini(struct xss_server *srv)
{
    xss_hmap_fini(&srv->watches, xss_wlist_free);
}
