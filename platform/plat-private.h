/*
 * platform/ private seam: one ops table per implementation (xen.c, sim/),
 * selected at run time by platform.c. Unit tests may install a fake with
 * plat_set_ops().
 */
#ifndef DRVDOM_PLAT_PRIVATE_H
#define DRVDOM_PLAT_PRIVATE_H

#include "drvdom/platform.h"

/* Each handle is an implementation object behind an opaque pointer. */
struct plat_ops {
    const char *name; /* "xen", "sim" or a fake's name */

    int (*gnttab_open)(void **gt);
    void (*gnttab_close)(void *gt);
    int (*gnttab_map)(void *gt, domid_t domid, uint32_t count,
                      const grant_ref_t *refs, bool writable, void **addr);
    int (*gnttab_unmap)(void *gt, void *addr, uint32_t count);
    int (*gnttab_copy)(void *gt, uint32_t count, struct plat_gntcopy_seg *segs);

    int (*gntshr_open)(void **gs);
    void (*gntshr_close)(void *gs);
    int (*gntshr_share)(void *gs, domid_t domid, uint32_t count,
                        grant_ref_t *refs, bool writable, void **addr);
    int (*gntshr_unshare)(void *gs, void *addr, uint32_t count);

    int (*evtchn_open)(void **ec);
    void (*evtchn_close)(void *ec);
    int (*evtchn_fd)(void *ec);
    int (*evtchn_bind_unbound)(void *ec, domid_t remote, evtchn_port_t *port);
    int (*evtchn_bind_interdomain)(void *ec, domid_t remote,
                                   evtchn_port_t remote_port,
                                   evtchn_port_t *port);
    int (*evtchn_notify)(void *ec, evtchn_port_t port);
    int (*evtchn_pending)(void *ec, evtchn_port_t *port);
    int (*evtchn_unmask)(void *ec, evtchn_port_t port);
    int (*evtchn_unbind)(void *ec, evtchn_port_t port);

    int (*domid_self)(domid_t *domid);
    int (*domain_info)(domid_t domid, struct plat_dominfo *info);
    int (*domain_list)(struct plat_dominfo *info, unsigned int max);
    int (*domain_destroy)(domid_t domid);
};

extern const struct plat_ops plat_xen_ops;
extern const struct plat_ops plat_sim_ops;

/* Installs @ops as the process's platform (tests); NULL forgets it. */
void plat_set_ops(const struct plat_ops *ops);

#endif /* DRVDOM_PLAT_PRIVATE_H */
