/*
 * domain.c: the server object, domains (introduce / release), quotas from
 * the command line and the debugging dump.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tools/simhv/xenstored/xss-internal.h"

void xss_limits_default(struct xss_limits *lim)
{
    lim->nodes = 1000;
    lim->watches = 128;
    lim->outstanding = 20;
    lim->transactions = 10;
    lim->node_size = 2048;
    lim->perms = 5;
    lim->trans_nodes = 1024;
    lim->path_len = XENSTORE_REL_PATH_MAX;
    lim->outbuf = 2 * 1024 * 1024 + 512 * 1024;
}

int xss_limits_parse(struct xss_limits *lim, const char *opt)
{
    static const struct {
        const char *key; /* option name */
        size_t off;      /* member of struct xss_limits */
    } keys[] = {
        {"nodes", offsetof(struct xss_limits, nodes)},
        {"watches", offsetof(struct xss_limits, watches)},
        {"outstanding", offsetof(struct xss_limits, outstanding)},
        {"transactions", offsetof(struct xss_limits, transactions)},
        {"node_size", offsetof(struct xss_limits, node_size)},
        {"perms", offsetof(struct xss_limits, perms)},
        {"trans_nodes", offsetof(struct xss_limits, trans_nodes)},
        {"path_len", offsetof(struct xss_limits, path_len)},
        {"outbuf", offsetof(struct xss_limits, outbuf)},
    };
    const char *eq = strchr(opt, '=');
    unsigned long v;
    char *end;
    size_t i;

    if (!eq || !isdigit((unsigned char)eq[1]))
        return -EINVAL;
    errno = 0;
    v = strtoul(eq + 1, &end, 10);
    if (errno || *end || v == 0 || v > UINT32_MAX / 2)
        return -EINVAL;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].key) == (size_t)(eq - opt) &&
            !strncmp(opt, keys[i].key, (size_t)(eq - opt))) {
            *(unsigned int *)((char *)lim + keys[i].off) = (unsigned int)v;
            return 0;
        }
    }
    return -EINVAL;
}

/* The record of @domid, created on first use; NULL for reserved ids. */
struct xss_domain *xss_domain_get(struct xss_server *srv, domid_t domid)
{
    struct xss_domain *d;

    if (domid >= XSS_DOMID_MAX)
        return NULL;
    d = srv->doms[domid];
    if (d)
        return d;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->id = domid;
    d->introduced = domid == 0;
    LIST_INIT(&d->conns);
    LIST_INIT(&d->listeners);
    srv->doms[domid] = d;
    return d;
}

bool xss_domid_exists(struct xss_server *srv, unsigned int domid)
{
    if (domid == 0)
        return true;
    return domid < XSS_DOMID_MAX && srv->doms[domid] &&
           srv->doms[domid]->introduced;
}

int xss_domain_exists(struct xss_server *srv, domid_t domid)
{
    return xss_domid_exists(srv, domid);
}

int xss_domain_introduce(struct xss_server *srv, domid_t domid)
{
    struct xss_domain *d;

    if (domid == 0 || domid >= XSS_DOMID_MAX)
        return -EINVAL;
    d = xss_domain_get(srv, domid);
    if (!d)
        return -ENOMEM;
    if (d->introduced)
        return 0;
    d->introduced = true;
    xss_watch_fire_now(srv, "@introduceDomain", true, NULL);
    return 0;
}

int xss_domain_make(struct xss_server *srv, domid_t domid, const char *name)
{
    const struct xss_ctx ctx = {.srv = srv};
    char dom[32], path[XSS_PATH_MAX], ro[32], rw[16], id[8];
    /* Under /local/domain/<id>: name, domid, device and control inherit
     * the read-only ACL; the rest are the domain's own. */
    const struct {
        const char *key;   /* node below the domain's directory */
        const char *val;   /* its value */
        const char *perms; /* its ACL, NULL: inherited */
    } nodes[] = {
        {"name", name, NULL},
        {"domid", id, NULL},
        {"device", "", NULL},
        {"control", "", NULL},
        {"control/shutdown", "", rw},
        {"data", "", rw},
        {"drivers", "", rw},
        {"feature", "", rw},
        {"attr", "", rw},
        {"error", "", rw},
    };
    struct xss_node *n;
    size_t i;
    int rc;

    if (domid == 0 || !xss_domid_exists(srv, domid))
        return -EINVAL;
    snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
    snprintf(ro, sizeof(ro), "n0 r%u", domid);
    snprintf(rw, sizeof(rw), "n%u", domid);
    snprintf(id, sizeof(id), "%u", domid);
    rc = xss_tree_get(&ctx, dom, &n);
    if (!rc && n)
        rc = xss_ops_rm(&ctx, dom);
    if (!rc)
        rc = xss_server_write(srv, dom, "", ro);
    for (i = 0; !rc && i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dom, nodes[i].key);
        rc = xss_server_write(srv, path, nodes[i].val, nodes[i].perms);
    }
    return rc;
}

struct xss_owned {
    domid_t domid; /* the dead domain */
    char **paths;  /* nodes it owns */
    size_t n;      /* entries in paths */
    size_t cap;    /* room in paths */
    int rc;        /* -ENOMEM if the list is short */
};

static void xss_owned_collect(const char *path, void *val, void *arg)
{
    struct xss_owned *o = arg;
    struct xss_node *n = val;
    char **p;

    xss_acl_revoke(&n->acl, o->domid);
    if (n->acl.p[0].id != o->domid)
        return;
    if (o->n == o->cap) {
        p = realloc(o->paths, (o->cap * 2 + 16) * sizeof(*p));
        if (!p) {
            o->rc = -ENOMEM;
            return;
        }
        o->paths = p;
        o->cap = o->cap * 2 + 16;
    }
    o->paths[o->n] = strdup(path);
    if (o->paths[o->n])
        o->n++;
}

/* Delete what @domid owns and revoke its ACL entries everywhere. */
static void xss_domain_purge(struct xss_server *srv, domid_t domid)
{
    struct xss_ctx ctx = {.srv = srv};
    struct xss_owned o = {.domid = domid};
    struct xss_conn *c;
    struct xss_txn *t;
    size_t i;
    unsigned int id;

    xss_hmap_foreach(&srv->tree, xss_owned_collect, &o);
    for (i = 0; i < o.n; i++) {
        if (xss_hmap_get(&srv->tree, o.paths[i]))
            xss_ops_rm(&ctx, o.paths[i]);
        free(o.paths[i]);
    }
    free(o.paths);
    xss_acl_revoke(&srv->intro_acl, domid);
    xss_acl_revoke(&srv->release_acl, domid);
    for (id = 0; id < XSS_DOMID_MAX; id++) {
        if (!srv->doms[id])
            continue;
        LIST_FOREACH(c, &srv->doms[id]->conns, dom_link)
        LIST_FOREACH(t, &c->txns, link)
        xss_txn_revoke(t, domid);
    }
}

int xss_domain_release(struct xss_server *srv, domid_t domid)
{
    struct xss_domain *d;

    if (domid == 0 || domid >= XSS_DOMID_MAX)
        return -EINVAL;
    d = srv->doms[domid];
    if (!d || !d->introduced)
        return -ENOENT;
    xss_domain_disconnect(d);
    xss_domain_purge(srv, domid);
    srv->doms[domid] = NULL;
    free(d);
    xss_watch_fire_now(srv, "@releaseDomain", true, NULL);
    return 0;
}

static int xss_acl_init_dom0(struct xss_acl *acl)
{
    acl->p = calloc(1, sizeof(*acl->p));
    if (!acl->p)
        return -ENOMEM;
    acl->n = 1;
    return 0;
}

struct xss_server *xss_server_new(struct event_base *base,
                                  const struct xss_limits *lim)
{
    struct xss_server *srv = calloc(1, sizeof(*srv));
    struct xss_node *root;

    if (!srv)
        return NULL;
    srv->base = base;
    if (lim)
        srv->lim = *lim;
    else
        xss_limits_default(&srv->lim);
    if (xss_hmap_init(&srv->tree) || xss_hmap_init(&srv->watches) ||
        xss_acl_init_dom0(&srv->intro_acl) ||
        xss_acl_init_dom0(&srv->release_acl) || !xss_domain_get(srv, 0))
        goto err_free;
    root = xss_node_new("/");
    if (!root || xss_acl_init_dom0(&root->acl)) {
        xss_node_put(root);
        goto err_free;
    }
    if (xss_tree_put(&(struct xss_ctx){.srv = srv}, "/", root))
        goto err_free;
    return srv;

err_free:
    xss_server_free(srv);
    return NULL;
}

static void xss_node_release(void *v)
{
    xss_node_put(v);
}

void xss_server_free(struct xss_server *srv)
{
    unsigned int id;

    if (!srv)
        return;
    for (id = 0; id < XSS_DOMID_MAX; id++) {
        if (!srv->doms[id])
            continue;
        xss_domain_disconnect(srv->doms[id]);
        free(srv->doms[id]);
    }
    xss_hmap_fini(&srv->tree, xss_node_release);
    xss_watches_fini(srv);
    free(srv->intro_acl.p);
    free(srv->release_acl.p);
    free(srv);
}

static void xss_dump_node(struct xss_server *srv, const char *path, FILE *out)
{
    struct xss_node *n = xss_hmap_get(&srv->tree, path);
    char acl[XENSTORE_PAYLOAD_MAX], child[XSS_PATH_MAX];
    const char *p;
    uint32_t i;
    int len;

    if (!n)
        return;
    fprintf(out, "%s = \"", path);
    for (i = 0; i < n->vlen; i++) {
        unsigned char ch = (unsigned char)n->value[i];

        if (isprint(ch) && ch != '"' && ch != '\\')
            fputc(ch, out);
        else
            fprintf(out, "\\x%02x", ch);
    }
    fputs("\" (", out);
    len = xss_acl_format(&n->acl, acl, sizeof(acl));
    for (i = 0; len > 0 && i < (uint32_t)len; i += strlen(acl + i) + 1)
        fprintf(out, "%s%s", i ? "," : "", acl + i);
    fputs(")\n", out);
    for (p = n->children; p && p < n->children + n->clen; p += strlen(p) + 1) {
        snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "",
                 p);
        xss_dump_node(srv, child, out);
    }
}

void xss_dump(struct xss_server *srv, FILE *out)
{
    xss_dump_node(srv, "/", out);
    fflush(out);
}
