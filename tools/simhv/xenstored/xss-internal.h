/*
 * xss-internal.h: the xenstore server's private types, shared by its files:
 * hmap.c (string-keyed hash map), tree.c (paths, ACLs, nodes, quotas),
 * txn.c (transactions), watch.c (watches and events), wire.c (sockets,
 * connections, domains), ops.c (one handler per request type).
 */
#ifndef DRVDOM_XSS_INTERNAL_H
#define DRVDOM_XSS_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <xen/io/xs_wire.h>

#include "tools/simhv/xenstored/xss.h"

#define XSS_PERM_NONE  0u
#define XSS_PERM_READ  1u
#define XSS_PERM_WRITE 2u
#define XSS_PERM_OWNER 4u
#define XSS_PERM_ALL   (XSS_PERM_READ | XSS_PERM_WRITE | XSS_PERM_OWNER)

/* Domain ids a connection may speak for: below DOMID_FIRST_RESERVED. */
#define XSS_DOMID_MAX DOMID_FIRST_RESERVED

/* cxenstored's node record header (generation, three counts), padded: part
 * of the node size quota. */
#define XSS_NODE_HDR_SIZE 24u
/* One ACL entry as cxenstored stores it (perm enum, domid). */
#define XSS_PERM_SIZE 8u
/* A connection's input buffer: several whole messages. */
#define XSS_INBUF_SIZE (4 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX))
/* Longest absolute path the server builds (relative ones are prefixed). */
#define XSS_PATH_MAX (XENSTORE_ABS_PATH_MAX + 32)

/* ---- hmap.c: string-keyed chained hash map ---------------------------- */

struct xss_hent {
    char *key;             /* owned copy of the key */
    uint32_t hash;         /* hash of key */
    void *val;             /* caller's value */
    struct xss_hent *next; /* chain in the bucket */
};

struct xss_hmap {
    struct xss_hent **bucket; /* nbuckets chains */
    size_t nbuckets;          /* power of two */
    size_t count;             /* entries */
};

int xss_hmap_init(struct xss_hmap *m);
void xss_hmap_fini(struct xss_hmap *m, void (*free_val)(void *));
void *xss_hmap_get(const struct xss_hmap *m, const char *key);
int xss_hmap_put(struct xss_hmap *m, const char *key, void *val);
void *xss_hmap_del(struct xss_hmap *m, const char *key);
/* Calls fn for every entry; fn must not change the map. */
void xss_hmap_foreach(const struct xss_hmap *m,
                      void (*fn)(const char *key, void *val, void *arg),
                      void *arg);

/* ---- tree.c: ACLs and nodes ------------------------------------------- */

struct xss_perm {
    domid_t id;   /* domain the entry is for (entry 0: the owner) */
    uint8_t perm; /* XSS_PERM_READ/WRITE bits ('n' 'r' 'w' 'b') */
    bool ignore;  /* names a domain that died or did not exist when set:
                     shown, never granted (XSA-322) */
};

struct xss_acl {
    struct xss_perm *p; /* entries; p[0] is the owner and others' default */
    uint32_t n;         /* at least 1 */
};

/* A node is immutable once stored: writers copy it, change the copy and
 * store that (copy-on-write), so transactions may share nodes. */
struct xss_node {
    unsigned int ref;   /* holders: the tree, transactions, requests */
    char *path;         /* absolute path */
    uint64_t gen;       /* server generation of its last change */
    char *value;        /* value bytes (not nul-terminated on the wire) */
    uint32_t vlen;      /* bytes in value */
    struct xss_acl acl; /* permissions */
    char *children;     /* child names, each nul-terminated, in creation
                           order */
    uint32_t clen;      /* bytes in children */
};

struct xss_server;
struct xss_conn;
struct xss_txn;

/* The caller of a tree operation. */
struct xss_ctx {
    struct xss_server *srv; /* the server */
    struct xss_conn *conn;  /* requesting connection; NULL for the server */
    domid_t domid;          /* requesting domain (0 for the server) */
    struct xss_txn *txn;    /* transaction, or NULL for the live tree */
};

bool xss_ctx_privileged(const struct xss_ctx *ctx);
int xss_path_canon(const struct xss_ctx *ctx, const char *in, char *out,
                   size_t outsz);
int xss_path_parent(const char *path, char *out, size_t outsz);
const char *xss_path_base(const char *path);
bool xss_path_is_under(const char *path, const char *ancestor);

unsigned int xss_perm_for(const struct xss_ctx *ctx, const struct xss_acl *acl);
int xss_acl_parse(struct xss_server *srv, struct xss_acl *acl, const char *strs,
                  size_t len);
int xss_acl_format(const struct xss_acl *acl, char *buf, size_t bufsz);
int xss_acl_copy(struct xss_acl *dst, const struct xss_acl *src);
void xss_acl_revoke(struct xss_acl *acl, domid_t domid);

struct xss_node *xss_node_new(const char *path);
struct xss_node *xss_node_dup(const struct xss_node *n);
struct xss_node *xss_node_hold(struct xss_node *n);
void xss_node_put(struct xss_node *n);
int xss_node_set_value(struct xss_node *n, const char *val, uint32_t len);
int xss_node_add_child(struct xss_node *n, const char *name);
void xss_node_del_child(struct xss_node *n, const char *name);
size_t xss_node_size(const struct xss_node *n);

int xss_tree_get(const struct xss_ctx *ctx, const char *path,
                 struct xss_node **out);
int xss_tree_put(const struct xss_ctx *ctx, const char *path,
                 struct xss_node *n);
int xss_tree_check_quota(const struct xss_ctx *ctx, const struct xss_node *n,
                         unsigned int new_nodes);
void xss_tree_account(struct xss_server *srv, const struct xss_node *old,
                      const struct xss_node *n);

/* ---- txn.c: transactions ---------------------------------------------- */

/* A node a transaction has touched, keyed by path in txn->nodes. */
struct xss_tnode {
    struct xss_node *node; /* its view in the transaction; NULL: absent */
    uint64_t base_gen;     /* live generation when first touched; 0: absent */
    bool dirty;            /* changed by the transaction */
};

/* A watch event a transaction will fire when it commits. */
struct xss_tevent {
    char *path;                   /* absolute path that changed */
    bool exact;                   /* only watches on exactly path */
    struct xss_acl acl;           /* the node's ACL when removed (n=0:
                                     none) */
    TAILQ_ENTRY(xss_tevent) link; /* in txn->events */
};

struct xss_txn {
    uint32_t id;                     /* wire tx_id */
    struct xss_conn *conn;           /* owner */
    struct xss_hmap nodes;           /* path -> struct xss_tnode */
    unsigned int touched;            /* distinct nodes touched */
    bool failed;                     /* ran out of trans_nodes: commit
                                        answers ENOMEM */
    int own_delta;                   /* change in nodes owned by conn */
    TAILQ_HEAD(, xss_tevent) events; /* events to fire on commit */
    LIST_ENTRY(xss_txn) link;        /* in conn->txns */
};

int xss_txn_start(struct xss_conn *c, uint32_t *id);
struct xss_txn *xss_txn_find(struct xss_conn *c, uint32_t id);
int xss_txn_end(struct xss_conn *c, struct xss_txn *t, bool commit);
void xss_txn_free(struct xss_txn *t);
int xss_txn_queue_event(struct xss_txn *t, const char *path, bool exact,
                        const struct xss_acl *acl);
void xss_txn_revoke(struct xss_txn *t, domid_t domid);

/* ---- watch.c: watches and events -------------------------------------- */

struct xss_watch {
    struct xss_conn *conn;           /* owner */
    char *path;                      /* as registered */
    char *abspath;                   /* absolute (or @special) */
    char *token;                     /* client's token */
    bool relative;                   /* report paths relative to home */
    LIST_ENTRY(xss_watch) conn_link; /* in conn->watches */
    LIST_ENTRY(xss_watch) path_link; /* in the server's list for abspath */
};

int xss_watch_add(struct xss_conn *c, const char *path, const char *token,
                  struct xss_watch **out);
int xss_watch_del(struct xss_conn *c, const char *path, const char *token);
void xss_watch_free_all(struct xss_conn *c);
void xss_watch_send(struct xss_watch *w, const char *abspath);
void xss_watch_fire(const struct xss_ctx *ctx, const char *path, bool exact,
                    const struct xss_acl *acl);
void xss_watch_fire_now(struct xss_server *srv, const char *path, bool exact,
                        const struct xss_acl *acl);
struct xss_acl *xss_special_acl(struct xss_server *srv, const char *path);
void xss_watches_fini(struct xss_server *srv);

/* ---- wire.c: connections, domains ------------------------------------- */

struct xss_msg {
    TAILQ_ENTRY(xss_msg) link; /* in conn->out */
    bool reply;                /* a reply (counts as outstanding) */
    size_t len;                /* bytes in data */
    size_t off;                /* bytes already written */
    char data[];               /* header then payload */
};

struct xss_domain;

struct xss_conn {
    struct xss_server *srv;         /* server */
    struct xss_domain *dom;         /* the domain it speaks for */
    int fd;                         /* stream socket */
    struct event *ev_read;          /* readable */
    struct event *ev_write;         /* writable while output is queued */
    struct event *ev_free;          /* deferred teardown of a dead conn */
    bool dead;                      /* dropped; freed on the next loop turn */
    bool read_paused;               /* too many unanswered replies */
    char in[XSS_INBUF_SIZE];        /* received bytes not yet handled */
    size_t in_len;                  /* bytes in in */
    TAILQ_HEAD(, xss_msg) out;      /* messages to send */
    size_t out_bytes;               /* unsent bytes in out */
    unsigned int out_replies;       /* replies in out */
    LIST_HEAD(, xss_watch) watches; /* its watches */
    LIST_HEAD(, xss_txn) txns;      /* its open transactions */
    unsigned int ntxns;             /* entries in txns */
    uint32_t next_txid;             /* next transaction id to try */
    LIST_ENTRY(xss_conn) dom_link;  /* in dom->conns */
};

struct xss_listener {
    struct xss_server *srv;        /* server */
    struct evconnlistener *lev;    /* libevent listener */
    char *path;                    /* socket path, unlinked on close */
    struct xss_domain *dom;        /* domain its connections speak for */
    LIST_ENTRY(xss_listener) link; /* in dom->listeners */
};

struct xss_domain {
    domid_t id;                          /* domain id */
    bool introduced;                     /* exists (dom0 always) */
    unsigned int nodes;                  /* nodes it owns */
    unsigned int watches;                /* watches of its connections */
    LIST_HEAD(, xss_conn) conns;         /* its connections */
    LIST_HEAD(, xss_listener) listeners; /* its sockets */
};

struct xss_server {
    struct event_base *base;                /* caller's loop */
    struct xss_limits lim;                  /* quotas */
    struct xss_hmap tree;                   /* path -> struct xss_node */
    uint64_t gen;                           /* last generation handed out */
    struct xss_hmap watches;                /* abspath -> watch list */
    struct xss_acl intro_acl;               /* ACL of @introduceDomain */
    struct xss_acl release_acl;             /* ACL of @releaseDomain */
    struct xss_domain *doms[XSS_DOMID_MAX]; /* by domid; NULL: never seen */
};

struct xss_domain *xss_domain_get(struct xss_server *srv, domid_t domid);
bool xss_domid_exists(struct xss_server *srv, unsigned int domid);
void xss_domain_disconnect(struct xss_domain *d);
int xss_conn_queue(struct xss_conn *c, const struct xsd_sockmsg *hdr,
                   const void *body, size_t len, bool reply);
void xss_conn_kill(struct xss_conn *c);

/* ---- ops.c: request handling ------------------------------------------ */

void xss_ops_handle(struct xss_conn *c, const struct xsd_sockmsg *hdr,
                    char *body);
const char *xss_errno_name(int err);
int xss_ops_rm(const struct xss_ctx *ctx, const char *path);

#endif /* DRVDOM_XSS_INTERNAL_H */
