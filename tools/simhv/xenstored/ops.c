/*
 * ops.c: one handler per xenstore request type, and the dispatcher.
 *
 * Each handler parses its arguments out of the request body, checks them
 * and the caller's permissions the way Xen 4.17's cxenstored does, and
 * either fills the reply payload (returns 0) or returns -errno, which goes
 * back as XS_ERROR with the errno's name. Node reads and writes go through
 * tree.c, so the same code serves transactions.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/simhv/xenstored/xss-internal.h"

/* One request being handled. */
struct xss_req {
    struct xss_conn *c;             /* requesting connection */
    const struct xsd_sockmsg *hdr;  /* its header */
    char *body;                     /* payload, nul appended */
    uint32_t len;                   /* payload bytes */
    struct xss_ctx ctx;             /* caller for tree operations */
    char rep[XENSTORE_PAYLOAD_MAX]; /* reply payload */
    uint32_t rlen;                  /* bytes in rep */
    struct xss_watch *initial;      /* new watch: event after the reply */
};

const char *xss_errno_name(int err)
{
    size_t i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    return "EIO";
}

static int xss_reply_str(struct xss_req *r, const char *s)
{
    size_t len = strlen(s) + 1;

    if (len > sizeof(r->rep))
        return -E2BIG;
    memcpy(r->rep, s, len);
    r->rlen = (uint32_t)len;
    return 0;
}

/* The body as exactly @n nul-terminated strings. */
static int xss_req_args(struct xss_req *r, const char **argv, unsigned int n)
{
    uint32_t off = 0;
    unsigned int i;

    if (!r->len || r->body[r->len - 1] != '\0')
        return -EINVAL;
    for (i = 0; i < n; i++) {
        if (off >= r->len)
            return -EINVAL;
        argv[i] = r->body + off;
        off += (uint32_t)strlen(argv[i]) + 1;
    }
    return off == r->len ? 0 : -EINVAL;
}

static int xss_req_domid(struct xss_req *r, unsigned int *domid)
{
    const char *arg;
    char *end;
    unsigned long v;
    int rc = xss_req_args(r, &arg, 1);

    if (rc)
        return rc;
    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || v > UINT16_MAX)
        return -EINVAL;
    *domid = (unsigned int)v;
    return 0;
}

static int xss_req_path(struct xss_req *r, const char *in, char *out)
{
    if (in[0] == '@')
        return -EINVAL;
    return xss_path_canon(&r->ctx, in, out, XSS_PATH_MAX);
}

/* A missing node: EACCES if its first existing ancestor is unreadable,
 * else ENOENT (cxenstored's errno_from_parents()). */
static int xss_errno_from_parents(const struct xss_ctx *ctx, const char *path)
{
    char cur[XSS_PATH_MAX];
    struct xss_node *n = NULL;
    int rc;

    snprintf(cur, sizeof(cur), "%s", path);
    while (!n) {
        if (xss_path_parent(cur, cur, sizeof(cur)))
            return -ENOENT;
        rc = xss_tree_get(ctx, cur, &n);
        if (rc)
            return rc;
    }
    return xss_perm_for(ctx, &n->acl) & XSS_PERM_READ ? -ENOENT : -EACCES;
}

/* The node at @path if the caller has every right in @perm. */
static int xss_node_access(const struct xss_ctx *ctx, const char *path,
                           unsigned int perm, struct xss_node **out)
{
    struct xss_node *n;
    int rc = xss_tree_get(ctx, path, &n);

    if (rc)
        return rc;
    if (!n)
        return xss_errno_from_parents(ctx, path);
    if ((xss_perm_for(ctx, &n->acl) & perm) != perm)
        return -EACCES;
    *out = n;
    return 0;
}

/* A new node under @parent's ACL; a guest owns what it creates. */
static struct xss_node *xss_node_construct(const struct xss_ctx *ctx,
                                           const char *path,
                                           const struct xss_node *parent)
{
    struct xss_node *n = xss_node_new(path);

    if (!n || xss_acl_copy(&n->acl, &parent->acl)) {
        xss_node_put(n);
        return NULL;
    }
    if (!xss_ctx_privileged(ctx)) {
        n->acl.p[0].id = ctx->domid;
        n->acl.p[0].ignore = false;
    }
    return n;
}

struct xss_create {
    char **paths;          /* missing nodes, deepest first */
    unsigned int n;        /* entries in paths */
    struct xss_node **new; /* their new nodes */
    struct xss_node *top;  /* changed copy of the existing ancestor */
};

static void xss_create_free(struct xss_create *cr)
{
    unsigned int i;

    for (i = 0; i < cr->n; i++) {
        free(cr->paths[i]);
        if (cr->new)
            xss_node_put(cr->new[i]);
    }
    free(cr->paths);
    free(cr->new);
    xss_node_put(cr->top);
}

/* Find the missing ancestors of @path (it included) and the existing one
 * they go under, which the caller must be allowed to write. */
static int xss_create_plan(const struct xss_ctx *ctx, const char *path,
                           struct xss_create *cr, struct xss_node **topp)
{
    char cur[XSS_PATH_MAX];
    struct xss_node *top = NULL;
    char **p;
    int rc;

    snprintf(cur, sizeof(cur), "%s", path);
    for (;;) {
        p = realloc(cr->paths, (cr->n + 1) * sizeof(*p));
        if (!p)
            return -ENOMEM;
        cr->paths = p;
        cr->paths[cr->n] = strdup(cur);
        if (!cr->paths[cr->n])
            return -ENOMEM;
        cr->n++;
        rc = xss_path_parent(cur, cur, sizeof(cur));
        if (rc)
            return rc;
        rc = xss_tree_get(ctx, cur, &top);
        if (rc)
            return rc;
        if (top)
            break;
    }
    if (!(xss_perm_for(ctx, &top->acl) & XSS_PERM_WRITE))
        return -EACCES;
    *topp = top;
    return 0;
}

/* Build the new nodes top-down, check quotas, then store them all. */
static int xss_create_build(const struct xss_ctx *ctx, struct xss_create *cr,
                            const struct xss_node *top, const char *val,
                            uint32_t vlen)
{
    unsigned int i;
    int rc;

    cr->new = calloc(cr->n, sizeof(*cr->new));
    cr->top = xss_node_dup(top);
    if (!cr->new || !cr->top ||
        xss_node_add_child(cr->top, xss_path_base(cr->paths[cr->n - 1])))
        return -ENOMEM;
    rc = xss_tree_check_quota(ctx, cr->top, 0);
    for (i = cr->n; !rc && i-- > 0;) {
        cr->new[i] = xss_node_construct(ctx, cr->paths[i], top);
        if (!cr->new[i])
            return -ENOMEM;
        if (i > 0)
            rc =
                xss_node_add_child(cr->new[i], xss_path_base(cr->paths[i - 1]));
        else
            rc = xss_node_set_value(cr->new[i], val, vlen);
        if (!rc)
            rc = xss_tree_check_quota(ctx, cr->new[i], i == 0 ? cr->n : 0);
    }
    if (rc)
        return rc;
    for (i = 0; i < cr->n; i++) {
        rc = xss_tree_put(ctx, cr->paths[i], cr->new[i]);
        cr->new[i] = NULL;
        if (rc)
            return rc;
    }
    rc = xss_tree_put(ctx, top->path, cr->top);
    cr->top = NULL;
    return rc;
}

/* Create @path and its missing parents (cxenstored's create_node()). */
static int xss_create(const struct xss_ctx *ctx, const char *path,
                      const char *val, uint32_t vlen)
{
    struct xss_create cr = {0};
    struct xss_node *top;
    int rc;

    rc = xss_create_plan(ctx, path, &cr, &top);
    if (!rc)
        rc = xss_create_build(ctx, &cr, top, val, vlen);
    xss_create_free(&cr);
    if (!rc)
        xss_watch_fire(ctx, path, false, NULL);
    return rc;
}

/* Delete @path's subtree below it, firing exact events on the way. */
static int xss_rm_children(const struct xss_ctx *ctx, struct xss_node *n)
{
    char child[XSS_PATH_MAX];
    struct xss_node *c;
    const char *p;
    int rc;

    for (p = n->children; p && p < n->children + n->clen; p += strlen(p) + 1) {
        snprintf(child, sizeof(child), "%s/%s",
                 strcmp(n->path, "/") ? n->path : "", p);
        rc = xss_tree_get(ctx, child, &c);
        if (rc)
            return rc;
        if (!c)
            continue;
        c = xss_node_hold(c);
        rc = xss_rm_children(ctx, c);
        if (!rc) {
            xss_watch_fire(ctx, child, true, &c->acl);
            rc = xss_tree_put(ctx, child, NULL);
        }
        xss_node_put(c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Remove the existing node @path and its subtree (no permission check). */
int xss_ops_rm(const struct xss_ctx *ctx, const char *path)
{
    char parent[XSS_PATH_MAX];
    struct xss_node *n, *p, *pc;
    int rc;

    rc = xss_path_parent(path, parent, sizeof(parent));
    if (!rc)
        rc = xss_tree_get(ctx, parent, &p);
    if (!rc)
        rc = xss_tree_get(ctx, path, &n);
    if (rc || !n || !p)
        return rc ? rc : -ENOENT;
    n = xss_node_hold(n);
    pc = xss_node_dup(p);
    rc = pc ? xss_rm_children(ctx, n) : -ENOMEM;
    if (!rc)
        rc = xss_tree_put(ctx, path, NULL);
    if (!rc) {
        xss_node_del_child(pc, xss_path_base(path));
        rc = xss_tree_put(ctx, parent, pc);
        pc = NULL;
    }
    if (!rc)
        xss_watch_fire(ctx, path, false, &n->acl);
    xss_node_put(pc);
    xss_node_put(n);
    return rc;
}

static int xss_op_read(struct xss_req *r)
{
    char path[XSS_PATH_MAX];
    const char *arg;
    struct xss_node *n;
    int rc;

    if ((rc = xss_req_args(r, &arg, 1)) || (rc = xss_req_path(r, arg, path)) ||
        (rc = xss_node_access(&r->ctx, path, XSS_PERM_READ, &n)))
        return rc;
    if (n->vlen)
        memcpy(r->rep, n->value, n->vlen);
    r->rlen = n->vlen;
    return 0;
}

/* Replace the value of the existing node @n at @path. */
static int xss_set_value(const struct xss_ctx *ctx, const char *path,
                         const struct xss_node *n, const char *val,
                         uint32_t vlen)
{
    struct xss_node *c = xss_node_dup(n);
    int rc;

    if (!c)
        return -ENOMEM;
    rc = xss_node_set_value(c, val, vlen);
    if (!rc)
        rc = xss_tree_check_quota(ctx, c, 0);
    if (rc) {
        xss_node_put(c);
        return rc;
    }
    rc = xss_tree_put(ctx, path, c);
    if (!rc)
        xss_watch_fire(ctx, path, false, NULL);
    return rc;
}

static int xss_op_write(struct xss_req *r)
{
    char path[XSS_PATH_MAX];
    size_t plen = strnlen(r->body, r->len);
    struct xss_node *n;
    int rc;

    if (plen == r->len)
        return -EINVAL;
    rc = xss_req_path(r, r->body, path);
    if (!rc)
        rc = xss_node_access(&r->ctx, path, XSS_PERM_WRITE, &n);
    if (rc == -ENOENT)
        rc = xss_create(&r->ctx, path, r->body + plen + 1,
                        r->len - (uint32_t)plen - 1);
    else if (!rc)
        rc = xss_set_value(&r->ctx, path, n, r->body + plen + 1,
                           r->len - (uint32_t)plen - 1);
    return rc ? rc : xss_reply_str(r, "OK");
}

static int xss_op_mkdir(struct xss_req *r)
{
    char path[XSS_PATH_MAX];
    const char *arg;
    struct xss_node *n;
    int rc;

    if ((rc = xss_req_args(r, &arg, 1)) || (rc = xss_req_path(r, arg, path)))
        return rc;
    rc = xss_node_access(&r->ctx, path, XSS_PERM_WRITE, &n);
    if (rc == -ENOENT)
        rc = xss_create(&r->ctx, path, NULL, 0);
    return rc ? rc : xss_reply_str(r, "OK");
}

static int xss_op_rm(struct xss_req *r)
{
    char path[XSS_PATH_MAX], parent[XSS_PATH_MAX];
    const char *arg;
    struct xss_node *n;
    int rc;

    if ((rc = xss_req_args(r, &arg, 1)) || (rc = xss_req_path(r, arg, path)))
        return rc;
    if (!strcmp(path, "/"))
        return -EINVAL;
    rc = xss_node_access(&r->ctx, path, XSS_PERM_WRITE, &n);
    if (rc == -ENOENT) {
        /* Removing a missing node is fine if its parent exists. */
        xss_path_parent(path, parent, sizeof(parent));
        rc = xss_tree_get(&r->ctx, parent, &n);
        if (!rc && !n)
            rc = -ENOENT;
    } else if (!rc) {
        rc = xss_ops_rm(&r->ctx, path);
    }
    return rc ? rc : xss_reply_str(r, "OK");
}

static int xss_op_directory(struct xss_req *r)
{
    char path[XSS_PATH_MAX];
    const char *arg;
    struct xss_node *n;
    int rc;

    if ((rc = xss_req_args(r, &arg, 1)) || (rc = xss_req_path(r, arg, path)) ||
        (rc = xss_node_access(&r->ctx, path, XSS_PERM_READ, &n)))
        return rc;
    if (n->clen > sizeof(r->rep))
        return -E2BIG;
    if (n->clen)
        memcpy(r->rep, n->children, n->clen);
    r->rlen = n->clen;
    return 0;
}

/* DIRECTORY_PART: "<generation>\0" then the names from byte @off that fit;
 * an extra "\0" marks the end of the list. */
static int xss_op_directory_part(struct xss_req *r)
{
    char path[XSS_PATH_MAX], *end;
    const char *argv[2], *p;
    struct xss_node *n;
    unsigned long off;
    size_t len;
    int rc;

    if ((rc = xss_req_args(r, argv, 2)) ||
        (rc = xss_req_path(r, argv[0], path)))
        return rc;
    errno = 0;
    off = strtoul(argv[1], &end, 10);
    if (errno || end == argv[1] || *end)
        return -EINVAL;
    rc = xss_node_access(&r->ctx, path, XSS_PERM_READ, &n);
    if (rc)
        return rc;
    r->rlen =
        (uint32_t)snprintf(r->rep, sizeof(r->rep), "%" PRIu64, n->gen) + 1;
    for (p = off < n->clen ? n->children + off : NULL;
         p && p < n->children + n->clen; p += len) {
        len = strlen(p) + 1;
        if (r->rlen + len + 1 > sizeof(r->rep))
            return 0;
        memcpy(r->rep + r->rlen, p, len);
        r->rlen += (uint32_t)len;
    }
    r->rep[r->rlen++] = '\0';
    return 0;
}

static int xss_op_get_perms(struct xss_req *r)
{
    char path[XSS_PATH_MAX];
    const char *arg;
    struct xss_node *n;
    int rc;

    if ((rc = xss_req_args(r, &arg, 1)) || (rc = xss_req_path(r, arg, path)) ||
        (rc = xss_node_access(&r->ctx, path, XSS_PERM_READ, &n)))
        return rc;
    rc = xss_acl_format(&n->acl, r->rep, sizeof(r->rep));
    if (rc < 0)
        return rc;
    r->rlen = (uint32_t)rc;
    return 0;
}

/* SET_PERMS on @introduceDomain / @releaseDomain. */
static int xss_set_perms_special(struct xss_req *r, const char *name,
                                 struct xss_acl *acl)
{
    struct xss_acl *cur = xss_special_acl(r->c->srv, name);
    const unsigned int need = XSS_PERM_WRITE | XSS_PERM_OWNER;

    if (!cur)
        return -EINVAL;
    if ((xss_perm_for(&r->ctx, cur) & need) != need)
        return -EACCES;
    free(cur->p);
    *cur = *acl;
    acl->p = NULL;
    return 0;
}

/* Give the existing node @n at @path the ACL @acl (taken over). */
static int xss_apply_acl(const struct xss_ctx *ctx, const char *path,
                         struct xss_node *n, struct xss_acl *acl)
{
    struct xss_node *c;
    int rc;

    c = xss_node_dup(n);
    if (!c)
        return -ENOMEM;
    free(c->acl.p);
    c->acl = *acl;
    acl->p = NULL;
    rc = xss_tree_check_quota(ctx, c, 0);
    if (rc) {
        xss_node_put(c);
        return rc;
    }
    n = xss_node_hold(n);
    rc = xss_tree_put(ctx, path, c);
    if (!rc)
        xss_watch_fire(ctx, path, false, &n->acl);
    xss_node_put(n);
    return rc;
}

static int xss_set_perms_node(struct xss_req *r, const char *in,
                              struct xss_acl *acl)
{
    const unsigned int need = XSS_PERM_WRITE | XSS_PERM_OWNER;
    char path[XSS_PATH_MAX];
    struct xss_node *n;
    int rc;

    if ((rc = xss_req_path(r, in, path)) ||
        (rc = xss_node_access(&r->ctx, path, need, &n)))
        return rc;
    if (!xss_ctx_privileged(&r->ctx) && acl->p[0].id != n->acl.p[0].id)
        return -EPERM;
    return xss_apply_acl(&r->ctx, path, n, acl);
}

int xss_server_write(struct xss_server *srv, const char *path, const char *val,
                     const char *perms)
{
    const struct xss_ctx ctx = {.srv = srv};
    struct xss_acl acl = {0};
    char strs[XSS_PATH_MAX];
    struct xss_node *n;
    size_t len;
    int rc = 0;

    if (path[0] != '/' || strlen(path) >= XSS_PATH_MAX)
        return -EINVAL;
    if (perms) {
        /* "n0 r5" -> "n0\0r5\0", the wire form; checked before writing. */
        len = strlen(perms) + 1;
        if (len > sizeof(strs))
            return -E2BIG;
        memcpy(strs, perms, len);
        for (char *p = strs; (p = strchr(p, ' ')); p++)
            *p = '\0';
        rc = xss_acl_parse(srv, &acl, strs, len);
    }
    if (!rc)
        rc = xss_tree_get(&ctx, path, &n);
    if (!rc && !n)
        rc = xss_create(&ctx, path, val, (uint32_t)strlen(val));
    else if (!rc)
        rc = xss_set_value(&ctx, path, n, val, (uint32_t)strlen(val));
    if (!rc && perms)
        rc = xss_tree_get(&ctx, path, &n);
    if (!rc && perms)
        rc = n ? xss_apply_acl(&ctx, path, n, &acl) : -ENOENT;
    free(acl.p);
    return rc;
}

static int xss_op_set_perms(struct xss_req *r)
{
    size_t plen = strnlen(r->body, r->len);
    struct xss_acl acl = {0};
    const char *s;
    unsigned int n = 0;
    int rc;

    if (!r->len || r->body[r->len - 1] != '\0' || plen + 1 >= r->len)
        return -EINVAL;
    for (s = r->body + plen + 1; s < r->body + r->len; s += strlen(s) + 1)
        n++;
    if (!xss_ctx_privileged(&r->ctx) && n > r->c->srv->lim.perms)
        return -ENOSPC;
    rc = xss_acl_parse(r->c->srv, &acl, r->body + plen + 1, r->len - plen - 1);
    if (rc)
        return rc;
    if (r->body[0] == '@')
        rc = xss_set_perms_special(r, r->body, &acl);
    else
        rc = xss_set_perms_node(r, r->body, &acl);
    free(acl.p);
    return rc ? rc : xss_reply_str(r, "OK");
}

static int xss_op_watch(struct xss_req *r)
{
    const char *argv[2];
    int rc;

    if ((rc = xss_req_args(r, argv, 2)) ||
        (rc = xss_watch_add(r->c, argv[0], argv[1], &r->initial)))
        return rc;
    return xss_reply_str(r, "OK");
}

static int xss_op_unwatch(struct xss_req *r)
{
    const char *argv[2];
    int rc;

    if ((rc = xss_req_args(r, argv, 2)) ||
        (rc = xss_watch_del(r->c, argv[0], argv[1])))
        return rc;
    return xss_reply_str(r, "OK");
}

static int xss_op_txn_start(struct xss_req *r)
{
    uint32_t id;
    int rc;

    if (r->ctx.txn)
        return -EBUSY;
    rc = xss_txn_start(r->c, &id);
    if (rc)
        return rc;
    r->rlen = (uint32_t)snprintf(r->rep, sizeof(r->rep), "%u", id) + 1;
    return 0;
}

static int xss_op_txn_end(struct xss_req *r)
{
    const char *arg;
    struct xss_txn *t = r->ctx.txn;
    int rc;

    if (!t)
        return -ENOENT;
    rc = xss_req_args(r, &arg, 1);
    if (rc || (strcmp(arg, "T") && strcmp(arg, "F")))
        return -EINVAL;
    r->ctx.txn = NULL;
    rc = xss_txn_end(r->c, t, arg[0] == 'T');
    return rc ? rc : xss_reply_str(r, "OK");
}

/* INTRODUCE domid mfn port: the sim platform has no ring page or event
 * channel to map, so the domain simply becomes introduced. */
static int xss_op_introduce(struct xss_req *r)
{
    const char *argv[3];
    char *end;
    unsigned long domid;
    int rc;

    if (!xss_ctx_privileged(&r->ctx))
        return -EACCES;
    rc = xss_req_args(r, argv, 3);
    if (rc)
        return rc;
    errno = 0;
    domid = strtoul(argv[0], &end, 10);
    if (errno || end == argv[0] || *end || domid == 0 || domid >= XSS_DOMID_MAX)
        return -EINVAL;
    rc = xss_domain_introduce(r->c->srv, (domid_t)domid);
    return rc ? rc : xss_reply_str(r, "OK");
}

static int xss_op_release(struct xss_req *r)
{
    unsigned int domid;
    int rc;

    if (!xss_ctx_privileged(&r->ctx))
        return -EACCES;
    rc = xss_req_domid(r, &domid);
    if (rc)
        return rc;
    if (domid == 0 || domid >= XSS_DOMID_MAX)
        return -EINVAL;
    rc = xss_domain_release(r->c->srv, (domid_t)domid);
    return rc ? rc : xss_reply_str(r, "OK");
}

static int xss_op_resume(struct xss_req *r)
{
    unsigned int domid;
    int rc;

    if (!xss_ctx_privileged(&r->ctx))
        return -EACCES;
    rc = xss_req_domid(r, &domid);
    if (rc)
        return rc;
    if (!xss_domid_exists(r->c->srv, domid))
        return -ENOENT;
    return xss_reply_str(r, "OK");
}

static int xss_op_get_domain_path(struct xss_req *r)
{
    unsigned int domid;
    int rc = xss_req_domid(r, &domid);

    if (rc)
        return rc;
    r->rlen =
        (uint32_t)snprintf(r->rep, sizeof(r->rep), "/local/domain/%u", domid) +
        1;
    return 0;
}

static int xss_op_is_domain_introduced(struct xss_req *r)
{
    unsigned int domid;
    int rc = xss_req_domid(r, &domid);

    if (rc)
        return rc;
    return xss_reply_str(
        r,
        domid == DOMID_SELF || xss_domid_exists(r->c->srv, domid) ? "T" : "F");
}

/* SET_TARGET (device-model stub domains) has no meaning here. */
static int xss_op_set_target(struct xss_req *r)
{
    return xss_ctx_privileged(&r->ctx) ? -ENOSYS : -EACCES;
}

static int xss_op_reset_watches(struct xss_req *r)
{
    r->ctx.txn = NULL;
    xss_watch_free_all(r->c);
    while (!LIST_EMPTY(&r->c->txns))
        xss_txn_free(LIST_FIRST(&r->c->txns));
    return xss_reply_str(r, "OK");
}

/* CONTROL: dom0 only; "help" lists the (only) command. */
static int xss_op_control(struct xss_req *r)
{
    if (!xss_ctx_privileged(&r->ctx))
        return -EACCES;
    if (!r->len || strcmp(r->body, "help"))
        return -EINVAL;
    return xss_reply_str(r, "help\n");
}

typedef int (*xss_op_fn)(struct xss_req *r);

static const xss_op_fn xss_ops[XS_TYPE_COUNT] = {
    [XS_CONTROL] = xss_op_control,
    [XS_DIRECTORY] = xss_op_directory,
    [XS_READ] = xss_op_read,
    [XS_GET_PERMS] = xss_op_get_perms,
    [XS_WATCH] = xss_op_watch,
    [XS_UNWATCH] = xss_op_unwatch,
    [XS_TRANSACTION_START] = xss_op_txn_start,
    [XS_TRANSACTION_END] = xss_op_txn_end,
    [XS_INTRODUCE] = xss_op_introduce,
    [XS_RELEASE] = xss_op_release,
    [XS_GET_DOMAIN_PATH] = xss_op_get_domain_path,
    [XS_WRITE] = xss_op_write,
    [XS_MKDIR] = xss_op_mkdir,
    [XS_RM] = xss_op_rm,
    [XS_SET_PERMS] = xss_op_set_perms,
    [XS_IS_DOMAIN_INTRODUCED] = xss_op_is_domain_introduced,
    [XS_RESUME] = xss_op_resume,
    [XS_SET_TARGET] = xss_op_set_target,
    [XS_RESET_WATCHES] = xss_op_reset_watches,
    [XS_DIRECTORY_PART] = xss_op_directory_part,
};

/* Handle one request; wire.c has checked the type and length. */
void xss_ops_handle(struct xss_conn *c, const struct xsd_sockmsg *hdr,
                    char *body)
{
    struct xss_req *r = malloc(sizeof(*r));
    struct xsd_sockmsg rep = *hdr;
    const char *name;
    int rc = -ENOMEM;

    if (r) {
        r->c = c;
        r->hdr = hdr;
        r->body = body;
        r->len = hdr->len;
        r->ctx =
            (struct xss_ctx){.srv = c->srv, .conn = c, .domid = c->dom->id};
        r->rlen = 0;
        r->initial = NULL;
        rc = xss_ops[hdr->type] ? 0 : -ENOSYS;
    }
    if (!rc && hdr->tx_id) {
        r->ctx.txn = xss_txn_find(c, hdr->tx_id);
        if (!r->ctx.txn)
            rc = -ENOENT;
    }
    if (!rc)
        rc = xss_ops[hdr->type](r);
    if (rc) {
        name = xss_errno_name(-rc);
        rep.type = XS_ERROR;
        xss_conn_queue(c, &rep, name, strlen(name) + 1, true);
    } else {
        xss_conn_queue(c, &rep, r->rep, r->rlen, true);
        if (r->initial)
            xss_watch_send(r->initial, r->initial->abspath);
    }
    free(r);
}
