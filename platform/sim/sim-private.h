/*
 * Client side of the sim platform, private: a connection to drvdom-simhv
 * (one per handle) and the request/reply call over it.
 */
#ifndef DRVDOM_SIM_PRIVATE_H
#define DRVDOM_SIM_PRIVATE_H

#include <pthread.h>
#include <stddef.h>

#include "platform/plat-private.h"
#include "platform/sim/proto.h"

struct plat_sim_conn {
    int fd;               /* SOCK_SEQPACKET to the daemon */
    domid_t domid;        /* our domain, from SIMHV_OP_HELLO */
    pthread_mutex_t lock; /* one request in flight */
};

/* A reply: header, payload and received fds (closed by the caller). */
struct plat_sim_reply {
    struct simhv_rep rep;
    void *payload;      /* caller's buffer */
    size_t payload_max; /* its size */
    size_t payload_len; /* bytes received */
    int fds[SIMHV_MAX_FDS];
    unsigned int nfds;
};

/* Opens a private connection: a clone of the inherited socket in a sim
 * domain (DRVDOM_SIM_FD), else <DRVDOM_SIM_RUNDIR>/simhv.sock as dom0. */
int plat_sim_conn_open(struct plat_sim_conn **conn);
void plat_sim_conn_close(struct plat_sim_conn *conn);

/* Sends @req with @payload, waits for the reply. Returns rep.err (0 or
 * -errno); on error no fds are left open. */
int plat_sim_call(struct plat_sim_conn *conn, const struct simhv_req *req,
                  const void *payload, size_t len, struct plat_sim_reply *rep);

void plat_sim_reply_close_fds(struct plat_sim_reply *rep);

/* Domain calls share one lazily opened connection per process. */
int plat_sim_ctrl_call(const struct simhv_req *req, const void *payload,
                       size_t len, struct plat_sim_reply *rep);

int plat_sim_gnttab_open(void **gt);
void plat_sim_gnttab_close(void *gt);
int plat_sim_gnttab_map(void *gt, domid_t domid, uint32_t count,
                        const grant_ref_t *refs, bool writable, void **addr);
int plat_sim_gnttab_unmap(void *gt, void *addr, uint32_t count);
int plat_sim_gnttab_copy(void *gt, uint32_t count,
                         struct plat_gntcopy_seg *segs);

int plat_sim_gntshr_open(void **gs);
void plat_sim_gntshr_close(void *gs);
int plat_sim_gntshr_share(void *gs, domid_t domid, uint32_t count,
                          grant_ref_t *refs, bool writable, void **addr);
int plat_sim_gntshr_unshare(void *gs, void *addr, uint32_t count);

int plat_sim_evtchn_open(void **ec);
void plat_sim_evtchn_close(void *ec);
int plat_sim_evtchn_fd(void *ec);
int plat_sim_evtchn_bind_unbound(void *ec, domid_t remote, evtchn_port_t *port);
int plat_sim_evtchn_bind_interdomain(void *ec, domid_t remote,
                                     evtchn_port_t remote_port,
                                     evtchn_port_t *port);
int plat_sim_evtchn_notify(void *ec, evtchn_port_t port);
int plat_sim_evtchn_pending(void *ec, evtchn_port_t *port);
int plat_sim_evtchn_unmask(void *ec, evtchn_port_t port);
int plat_sim_evtchn_unbind(void *ec, evtchn_port_t port);

#endif /* DRVDOM_SIM_PRIVATE_H */
