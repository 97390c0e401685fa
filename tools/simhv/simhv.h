/*
 * drvdom-simhv internals: the sim platform's hypervisor. One libevent loop
 * owns every domain (process, RAM memfd, grant table, ports) and every client
 * connection; see docs/sim-platform.md for the model and the protocol.
 */
#ifndef DRVDOM_SIMHV_H
#define DRVDOM_SIMHV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <event2/event.h>

#include "platform/sim/proto.h"

#define SIMHV_MAX_DOMAINS   64u   /* live domains, dom0 included */
#define SIMHV_CONNS_PER_DOM 64u   /* connections per domU */
#define SIMHV_CONNS_DOM0    256u  /* connections of dom0 */
#define SIMHV_MAPS_PER_CONN 4096u /* mapping records per connection */
#define SIMHV_BATCH         16u   /* messages handled per readable event */
#define SIMHV_REF_FREE      0u    /* simhv_dom.ref_owner: not allocated */
#define SIMHV_REF_ORPHAN    1u    /* owner gone, freed on last unmap */

struct simhv;
struct simhv_conn;

/* Pin counts of one grant entry (Xen's active grant entry). */
struct simhv_pin {
    uint32_t readers; /* read-only mappings */
    uint32_t writers; /* writable mappings */
};

/* One end of an event channel, owned by the connection that bound it. */
struct simhv_port {
    evtchn_port_t port;       /* number in the owner domain */
    struct simhv_conn *owner; /* connection that bound it */
    bool bound;               /* interdomain, else unbound */
    domid_t remote;           /* remote domain (allowed binder if unbound) */
    evtchn_port_t rport;      /* remote port when bound */
    int in_fd;                /* eventfd this end receives on */
    int out_fd;               /* eventfd the remote end receives on */
};

struct simhv_dom {
    LIST_ENTRY(simhv_dom) link;
    struct simhv *hv;
    domid_t domid;
    char name[64];
    pid_t pid;                 /* program, 0 for dom0 */
    int status;                /* wait status once exited */
    enum simhv_domstate state; /* running / shutdown / crashed */
    bool dying;                /* exited, waiting for release */
    char rundir[256];          /* <run-dir>/dom<N> */
    int ram_fd;                /* RAM memfd, read-write */
    int ram_ro_fd;             /* same file opened read-only */
    uint8_t *ram;              /* daemon mapping of RAM */
    int gt_fd;                 /* grant table memfd */
    grant_entry_v1_t *gt;      /* daemon mapping of the grant table */
    struct simhv_pin *pins;    /* per ref */
    uint32_t *ref_owner;       /* per ref: SIMHV_REF_* or a conn serial */
    uint32_t *ref_frame;       /* per ref: frame allocated with it */
    uint8_t *frame_used;       /* per RAM page: allocated for sharing */
    unsigned long pinned;      /* pages of ours mapped by anyone */
    unsigned int nconns;       /* open connections */
    struct simhv_conn *leader; /* inherited socket (SIMHV_OP_CLONE only) */
    struct simhv_port **ports; /* SIMHV_MAX_PORTS */
};

/* A grant mapping made by a connection. */
struct simhv_map {
    LIST_ENTRY(simhv_map) link;
    uint64_t id;               /* handle given to the client */
    struct simhv_dom *granter; /* kept until unpinned */
    bool writable;
    uint32_t count;
    grant_ref_t refs[];
};

struct simhv_conn {
    LIST_ENTRY(simhv_conn) link;
    struct simhv *hv;
    struct simhv_dom *dom; /* the domain this connection is */
    uint32_t serial;       /* >= 2, unique */
    int fd;
    struct event *ev;
    bool leader;        /* a domain's inherited socket */
    unsigned int nmaps; /* mapping records */
    LIST_HEAD(, simhv_map) maps;
    int copy_fd;       /* bounce buffer memfd, -1 until asked */
    uint8_t *copy_buf; /* SIMHV_COPY_MAX pages */
};

struct simhv {
    struct event_base *base;
    char rundir[200];
    int listen_fd;
    struct event *listen_ev;
    struct event *sigchld_ev;
    struct event *sigterm_ev;
    struct event *sigint_ev;
    LIST_HEAD(, simhv_dom) doms;
    LIST_HEAD(, simhv_conn) conns;
    unsigned int ndoms;
    unsigned int nconns;
    domid_t next_domid;
    uint32_t next_serial;
    uint64_t next_map_id;
    struct simhv_stats stats; /* ports, maps, pins, shares, memfds... */
    struct xss_server *xs;    /* the domains' xenstore (xs.c) */
    struct event *sigusr1_ev; /* SIGUSR1: dump the xenstore tree */
};

/* xs.c: the xenstore server on the daemon's loop */
struct xss_limits;
int simhv_xs_init(struct simhv *hv, const struct xss_limits *lim);
void simhv_xs_fini(struct simhv *hv);
int simhv_xs_path(const struct simhv_dom *d, char *buf, size_t len);
int simhv_xs_domain_new(struct simhv_dom *d);
void simhv_xs_domain_dead(struct simhv_dom *d);
void simhv_xs_dump(struct simhv *hv);

/* main.c */
void simhv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dom.c */
int simhv_dom_new(struct simhv *hv, domid_t domid, const char *name,
                  struct simhv_dom **out);
struct simhv_dom *simhv_dom_find(struct simhv *hv, domid_t domid);
int simhv_dom_create(struct simhv *hv, const char *name, char *const argv[],
                     domid_t *domid);
int simhv_dom_destroy(struct simhv *hv, domid_t domid);
void simhv_dom_reap(struct simhv *hv);
void simhv_dom_try_release(struct simhv_dom *d);
void simhv_dom_free_all(struct simhv *hv);
void simhv_dom_info(const struct simhv_dom *d, struct simhv_dominfo *info);

/* conn.c */
int simhv_conn_new(struct simhv *hv, struct simhv_dom *dom, int fd,
                   bool leader);
void simhv_conn_close(struct simhv_conn *c);
void simhv_listen_cb(evutil_socket_t fd, short what, void *arg);

/* grant.c */
int simhv_share_alloc(struct simhv_conn *c, uint32_t count, grant_ref_t *refs,
                      uint32_t *frame);
int simhv_share_free(struct simhv_conn *c, uint32_t count,
                     const grant_ref_t *refs);
void simhv_share_conn_gone(struct simhv_conn *c);
int simhv_map(struct simhv_conn *c, domid_t domid, bool writable,
              uint32_t count, const grant_ref_t *refs, uint32_t *frames,
              uint64_t *id, int *fd);
int simhv_unmap(struct simhv_conn *c, uint64_t id);
void simhv_unmap_all(struct simhv_conn *c);
int simhv_copybuf(struct simhv_conn *c, int *fd);
int simhv_copy(struct simhv_conn *c, uint32_t count,
               const struct simhv_copyseg *segs, int16_t *status);
void simhv_copybuf_free(struct simhv_conn *c);

/* evtchn.c */
int simhv_evt_alloc(struct simhv_conn *c, domid_t remote, evtchn_port_t *port,
                    int fds[2]);
int simhv_evt_bind(struct simhv_conn *c, domid_t remote, evtchn_port_t rport,
                   evtchn_port_t *port, int fds[2]);
int simhv_evt_unbind(struct simhv_conn *c, evtchn_port_t port);
void simhv_evt_conn_gone(struct simhv_conn *c);
void simhv_evt_dom_free(struct simhv_dom *d);

#endif /* DRVDOM_SIMHV_H */
