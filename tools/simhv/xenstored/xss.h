/*
 * xss: the sim platform's xenstore server.
 *
 * An in-memory xenstore that speaks the real wire protocol
 * (xen/io/xs_wire.h) on unix stream sockets, one domain per socket, so that
 * libxenstore and the stock xenstore-utils work against it unchanged. It
 * follows Xen 4.17's C xenstored: permissions, quotas, optimistic
 * transactions, watches and the special @introduceDomain/@releaseDomain
 * watches. See docs/xenstore.md.
 *
 * Everything runs on the caller's libevent base and never blocks; the
 * library is not thread-safe (one event loop owns it).
 */
#ifndef DRVDOM_XSS_H
#define DRVDOM_XSS_H

#include <stdint.h>
#include <stdio.h>

#include <xen/xen.h>

struct event_base;
struct xss_server;

/* Per-domain quotas; dom0 is exempt from all but the wire payload limit. */
struct xss_limits {
    unsigned int nodes;       /* nodes a guest domain may own (1000) */
    unsigned int watches;     /* a guest's watches, "more than" check (128) */
    unsigned int outstanding; /* unanswered replies before reading stops (20) */
    unsigned int transactions; /* a guest connection's open transactions,
                                  "more than" check (10) */
    unsigned int node_size;    /* a guest node's bytes: header, ACL, value,
                                  child names (2048) */
    unsigned int perms;        /* ACL entries a guest may set on a node (5) */
    unsigned int trans_nodes; /* nodes one guest transaction may touch (1024) */
    unsigned int path_len;    /* path length after /local/domain/<id>/ (2048) */
    unsigned int outbuf;      /* bytes queued to a connection before it is
                                 dropped (2.5 MiB, cxenstored's hard memory
                                 quota) */
};

/* cxenstored's defaults. */
void xss_limits_default(struct xss_limits *lim);

/* Parse one "key=value" (keys as the struct members above) into @lim. */
int xss_limits_parse(struct xss_limits *lim, const char *opt);

/* A server on @base; @lim NULL means the defaults. NULL on failure. */
struct xss_server *xss_server_new(struct event_base *base,
                                  const struct xss_limits *lim);

/* Listen on a unix stream socket at @socket_path (replaced if it exists);
 * every connection on it speaks for @domid. */
int xss_listen(struct xss_server *srv, const char *socket_path, domid_t domid);

/* Adopt a connected stream socket speaking for @domid; the server owns the fd
 * from then on, also on failure. */
int xss_conn_add(struct xss_server *srv, int fd, domid_t domid);

/* @domid exists now (as XS_INTRODUCE); fires @introduceDomain. */
int xss_domain_introduce(struct xss_server *srv, domid_t domid);

/* @domid died: drop its connections, watches, transactions and listening
 * sockets, delete the nodes it owns, revoke its ACL entries elsewhere;
 * fires @releaseDomain. -ENOENT if it was not introduced. */
int xss_domain_release(struct xss_server *srv, domid_t domid);

/*
 * Write @path = @val as the server itself (privileged, like a dom0 toolstack
 * write), creating missing parents, then, if @perms is not NULL, set its ACL
 * from a space-separated list such as "n0 r5" (owner first). Fires watches.
 */
int xss_server_write(struct xss_server *srv, const char *path, const char *val,
                     const char *perms);

/*
 * What the toolstack writes for a new domain (libxl's domain_make):
 * /local/domain/<id> (owner dom0, readable by the domain) with name, domid,
 * device and control, and the domain's own control/shutdown, data, drivers,
 * feature, attr and error directories. A stale directory from an earlier
 * domain with this id is removed first, as libxl does.
 */
int xss_domain_make(struct xss_server *srv, domid_t domid, const char *name);

/* Whether @domid is introduced (dom0 always is). */
int xss_domain_exists(struct xss_server *srv, domid_t domid);

/* Print the tree with values and ACLs, one node a line. */
void xss_dump(struct xss_server *srv, FILE *out);

/* Close every connection and socket and free the server. NULL is a no-op. */
void xss_server_free(struct xss_server *srv);

#endif /* DRVDOM_XSS_H */
