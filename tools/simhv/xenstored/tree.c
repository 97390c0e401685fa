/*
 * tree.c: paths, ACLs, nodes and the node store with its quotas.
 *
 * The store maps absolute paths to immutable nodes (see struct xss_node);
 * each node lists its children by name. A request reads nodes through
 * xss_tree_get() and stores changed copies through xss_tree_put(), both in
 * the live tree or in the caller's transaction, so every operation works the
 * same way inside and outside a transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/simhv/xenstored/xss-internal.h"

bool xss_ctx_privileged(const struct xss_ctx *ctx)
{
    return ctx->domid == 0;
}

static bool xss_path_chars_ok(const char *p)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz"
                             "0123456789-/_@";

    return strspn(p, ok) == strlen(p);
}

/* Make @in absolute (relative paths live under /local/domain/<id>/) and
 * check it as cxenstored's is_valid_nodename() does. */
int xss_path_canon(const struct xss_ctx *ctx, const char *in, char *out,
                   size_t outsz)
{
    unsigned int domid;
    int n, local_off = 0;
    size_t len;

    if (in[0] == '/')
        n = snprintf(out, outsz, "%s", in);
    else
        n = snprintf(out, outsz, "/local/domain/%u/%s", ctx->domid, in);
    if (n < 0 || (size_t)n >= outsz)
        return -EINVAL;
    len = (size_t)n;
    if (len > 1 && out[len - 1] == '/')
        return -EINVAL;
    if (strstr(out, "//") || !xss_path_chars_ok(out))
        return -EINVAL;
    if (sscanf(out, "/local/domain/%5u/%n", &domid, &local_off) != 1)
        local_off = 0;
    if (len - (size_t)local_off > ctx->srv->lim.path_len)
        return -EINVAL;
    return 0;
}

/* The parent of an absolute path; -EINVAL for "/". */
int xss_path_parent(const char *path, char *out, size_t outsz)
{
    const char *slash = strrchr(path, '/');
    size_t len;

    if (!slash || !strcmp(path, "/"))
        return -EINVAL;
    len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= outsz)
        return -EINVAL;
    memcpy(out, path, len);
    out[len] = '\0';
    return 0;
}

const char *xss_path_base(const char *path)
{
    return strrchr(path, '/') + 1;
}

/* Whether @path is @ancestor or below it. */
bool xss_path_is_under(const char *path, const char *ancestor)
{
    size_t alen = strlen(ancestor);

    if (!strcmp(ancestor, "/"))
        return path[0] == '/';
    return !strncmp(path, ancestor, alen) &&
           (path[alen] == '\0' || path[alen] == '/');
}

/* cxenstored's perm_for_conn(): what @ctx's domain may do under @acl. */
unsigned int xss_perm_for(const struct xss_ctx *ctx, const struct xss_acl *acl)
{
    uint32_t i;

    if (xss_ctx_privileged(ctx))
        return XSS_PERM_ALL;
    if (!acl->p[0].ignore && acl->p[0].id == ctx->domid)
        return XSS_PERM_ALL;
    for (i = 1; i < acl->n; i++)
        if (!acl->p[i].ignore && acl->p[i].id == ctx->domid)
            return acl->p[i].perm;
    return acl->p[0].perm;
}

static int xss_perm_parse(const char *s, struct xss_perm *p)
{
    char *end;
    unsigned long id;

    switch (s[0]) {
    case 'n':
        p->perm = XSS_PERM_NONE;
        break;
    case 'r':
        p->perm = XSS_PERM_READ;
        break;
    case 'w':
        p->perm = XSS_PERM_WRITE;
        break;
    case 'b':
        p->perm = XSS_PERM_READ | XSS_PERM_WRITE;
        break;
    default:
        return -EINVAL;
    }
    if (s[1] < '0' || s[1] > '9')
        return -EINVAL;
    errno = 0;
    id = strtoul(s + 1, &end, 10);
    if (errno || *end || id > UINT16_MAX)
        return -EINVAL;
    p->id = (domid_t)id;
    return 0;
}

/* Parse the nul-separated ACL strings of SET_PERMS. The owner must exist
 * (-ENOENT); other entries naming no live domain are kept but ignored. */
int xss_acl_parse(struct xss_server *srv, struct xss_acl *acl, const char *strs,
                  size_t len)
{
    const char *s, *end = strs + len;
    uint32_t n = 0, i;
    int rc;

    for (s = strs; s < end; s += strlen(s) + 1)
        n++;
    if (!n)
        return -EINVAL;
    acl->p = calloc(n, sizeof(*acl->p));
    if (!acl->p)
        return -ENOMEM;
    acl->n = n;
    for (s = strs, i = 0; i < n; s += strlen(s) + 1, i++) {
        rc = xss_perm_parse(s, &acl->p[i]);
        if (rc)
            goto err_free;
        acl->p[i].ignore = !xss_domid_exists(srv, acl->p[i].id);
    }
    if (acl->p[0].ignore) {
        rc = -ENOENT;
        goto err_free;
    }
    return 0;

err_free:
    free(acl->p);
    acl->p = NULL;
    acl->n = 0;
    return rc;
}

/* The ACL as GET_PERMS strings; returns the length or -E2BIG. */
int xss_acl_format(const struct xss_acl *acl, char *buf, size_t bufsz)
{
    static const char letter[] = {'n', 'r', 'w', 'b'};
    size_t off = 0;
    uint32_t i;
    int n;

    for (i = 0; i < acl->n; i++) {
        n = snprintf(buf + off, bufsz - off, "%c%u", letter[acl->p[i].perm & 3],
                     acl->p[i].id);
        if (n < 0 || (size_t)n + 1 > bufsz - off)
            return -E2BIG;
        off += (size_t)n + 1;
    }
    return (int)off;
}

int xss_acl_copy(struct xss_acl *dst, const struct xss_acl *src)
{
    dst->p = malloc(src->n * sizeof(*dst->p));
    if (!dst->p)
        return -ENOMEM;
    memcpy(dst->p, src->p, src->n * sizeof(*dst->p));
    dst->n = src->n;
    return 0;
}

/* @domid died: its entries stay visible but grant nothing to a successor
 * that reuses the id. */
void xss_acl_revoke(struct xss_acl *acl, domid_t domid)
{
    uint32_t i;

    for (i = 0; i < acl->n; i++)
        if (acl->p[i].id == domid)
            acl->p[i].ignore = true;
}

struct xss_node *xss_node_new(const char *path)
{
    struct xss_node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->ref = 1;
    n->path = strdup(path);
    if (!n->path) {
        free(n);
        return NULL;
    }
    return n;
}

static void xss_node_free(struct xss_node *n)
{
    free(n->path);
    free(n->value);
    free(n->acl.p);
    free(n->children);
    free(n);
}

static int xss_mem_dup(char **dst, const char *src, uint32_t len)
{
    *dst = NULL;
    if (!len)
        return 0;
    *dst = malloc(len);
    if (!*dst)
        return -ENOMEM;
    memcpy(*dst, src, len);
    return 0;
}

/* A private, changeable copy (ref 1). */
struct xss_node *xss_node_dup(const struct xss_node *n)
{
    struct xss_node *c = xss_node_new(n->path);

    if (!c)
        return NULL;
    c->gen = n->gen;
    c->vlen = n->vlen;
    c->clen = n->clen;
    if (xss_mem_dup(&c->value, n->value, n->vlen) ||
        xss_mem_dup(&c->children, n->children, n->clen) ||
        xss_acl_copy(&c->acl, &n->acl)) {
        xss_node_free(c);
        return NULL;
    }
    return c;
}

struct xss_node *xss_node_hold(struct xss_node *n)
{
    if (n)
        n->ref++;
    return n;
}

void xss_node_put(struct xss_node *n)
{
    if (n && --n->ref == 0)
        xss_node_free(n);
}

int xss_node_set_value(struct xss_node *n, const char *val, uint32_t len)
{
    char *v = NULL;

    if (xss_mem_dup(&v, val, len))
        return -ENOMEM;
    free(n->value);
    n->value = v;
    n->vlen = len;
    return 0;
}

int xss_node_add_child(struct xss_node *n, const char *name)
{
    size_t len = strlen(name) + 1;
    char *c = realloc(n->children, n->clen + len);

    if (!c)
        return -ENOMEM;
    memcpy(c + n->clen, name, len);
    n->children = c;
    n->clen += (uint32_t)len;
    return 0;
}

void xss_node_del_child(struct xss_node *n, const char *name)
{
    size_t len = strlen(name) + 1;
    char *p = n->children, *end;

    if (!p)
        return;
    for (end = p + n->clen; p < end; p += strlen(p) + 1) {
        if (!strcmp(p, name)) {
            memmove(p, p + len, (size_t)(end - p) - len);
            n->clen -= (uint32_t)len;
            return;
        }
    }
}

/* The size cxenstored charges against the node size quota. */
size_t xss_node_size(const struct xss_node *n)
{
    return XSS_NODE_HDR_SIZE + n->acl.n * XSS_PERM_SIZE + n->vlen + n->clen;
}

static struct xss_tnode *xss_tree_touch(const struct xss_ctx *ctx,
                                        const char *path, int *rc)
{
    struct xss_txn *t = ctx->txn;
    struct xss_tnode *tn = xss_hmap_get(&t->nodes, path);
    struct xss_node *live;

    *rc = 0;
    if (tn)
        return tn;
    if (!xss_ctx_privileged(ctx) && t->touched >= ctx->srv->lim.trans_nodes) {
        t->failed = true;
        *rc = -ENOSPC;
        return NULL;
    }
    tn = calloc(1, sizeof(*tn));
    if (!tn) {
        *rc = -ENOMEM;
        return NULL;
    }
    live = xss_hmap_get(&ctx->srv->tree, path);
    tn->node = xss_node_hold(live);
    tn->base_gen = live ? live->gen : 0;
    *rc = xss_hmap_put(&t->nodes, path, tn);
    if (*rc) {
        xss_node_put(tn->node);
        free(tn);
        return NULL;
    }
    t->touched++;
    return tn;
}

/* The node at @path as @ctx sees it (NULL: absent); borrowed until the next
 * xss_tree_put() of that path. Fails only in a transaction (its quota). */
int xss_tree_get(const struct xss_ctx *ctx, const char *path,
                 struct xss_node **out)
{
    struct xss_tnode *tn;
    int rc;

    if (!ctx->txn) {
        *out = xss_hmap_get(&ctx->srv->tree, path);
        return 0;
    }
    tn = xss_tree_touch(ctx, path, &rc);
    *out = tn ? tn->node : NULL;
    return rc;
}

/* Nodes change owner: move them between the domains' counts. */
void xss_tree_account(struct xss_server *srv, const struct xss_node *old,
                      const struct xss_node *n)
{
    struct xss_domain *d;

    if (old && (d = xss_domain_get(srv, old->acl.p[0].id)) && d->nodes)
        d->nodes--;
    if (n && (d = xss_domain_get(srv, n->acl.p[0].id)))
        d->nodes++;
}

/* Store @n (taking its reference) at @path, or remove the node if @n is
 * NULL. Quotas are checked beforehand with xss_tree_check_quota(). */
int xss_tree_put(const struct xss_ctx *ctx, const char *path,
                 struct xss_node *n)
{
    struct xss_server *srv = ctx->srv;
    struct xss_node *old;
    struct xss_tnode *tn;
    int rc;

    if (!ctx->txn) {
        old =
            n ? xss_hmap_get(&srv->tree, path) : xss_hmap_del(&srv->tree, path);
        if (n) {
            rc = xss_hmap_put(&srv->tree, path, n);
            if (rc) {
                xss_node_put(n);
                return rc;
            }
            n->gen = ++srv->gen;
        }
        xss_tree_account(srv, old, n);
        xss_node_put(old);
        return 0;
    }
    tn = xss_tree_touch(ctx, path, &rc);
    if (!tn) {
        xss_node_put(n);
        return rc;
    }
    if (tn->node && tn->node->acl.p[0].id == ctx->domid)
        ctx->txn->own_delta--;
    if (n && n->acl.p[0].id == ctx->domid)
        ctx->txn->own_delta++;
    xss_node_put(tn->node);
    tn->node = n;
    tn->dirty = true;
    return 0;
}

/* A guest may store @n, creating @new_nodes nodes it owns? */
int xss_tree_check_quota(const struct xss_ctx *ctx, const struct xss_node *n,
                         unsigned int new_nodes)
{
    const struct xss_limits *lim = &ctx->srv->lim;
    struct xss_domain *d;
    long owned;

    if (xss_ctx_privileged(ctx))
        return 0;
    if (xss_node_size(n) >= lim->node_size)
        return -ENOSPC;
    if (!new_nodes)
        return 0;
    d = xss_domain_get(ctx->srv, ctx->domid);
    if (!d)
        return -ENOMEM;
    owned = (long)d->nodes + (ctx->txn ? ctx->txn->own_delta : 0);
    if (owned + (long)new_nodes > (long)lim->nodes)
        return -ENOSPC;
    return 0;
}
