/*
 * drvdom platform interface: grant mapping, grant sharing, event channels
 * and domain control, shaped like Xen's libxengnttab / libxengntshr /
 * libxenevtchn / libxenctrl so that the xen implementation is a thin
 * pass-through and the sim implementation (drvdom-simhv) a faithful model.
 *
 * Every call returns 0 (or a non-negative value where documented) or -errno.
 * Xenstore is not wrapped: use libxenstore on both platforms (the sim
 * platform sets XENSTORED_PATH for its domains).
 */
#ifndef DRVDOM_PLATFORM_H
#define DRVDOM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/sched.h>

/* The platform in use, chosen once per process. */
enum plat_kind {
    PLAT_AUTO = 0, /* xen when Xen is detected, else sim */
    PLAT_XEN,      /* libxengnttab, libxenevtchn, libxenctrl */
    PLAT_SIM,      /* drvdom-simhv */
};

/* Parses "xen", "sim" or "auto"; -EINVAL for anything else. */
int plat_kind_parse(const char *name, enum plat_kind *kind);

/*
 * Selects the platform for this process. PLAT_AUTO picks sim when
 * DRVDOM_SIM_FD is set (a sim domain), else DRVDOM_PLATFORM if set, else xen
 * when /proc/xen/capabilities or /dev/xen/privcmd exists, else sim.
 * -EBUSY if a different platform was already selected. An explicit choice
 * is exported as DRVDOM_PLATFORM, so the programs this process runs make the
 * same one. Calls below select PLAT_AUTO implicitly when nothing was
 * selected.
 */
int plat_select(enum plat_kind kind);

/* Convenience for --platform=ARG: plat_kind_parse then plat_select. */
int plat_select_name(const char *name);

/* The selected platform (selects PLAT_AUTO first if needed). */
enum plat_kind plat_current(void);
const char *plat_kind_name(enum plat_kind kind);

/* ---- grant mapping (libxengnttab) ---- */

struct plat_gnttab;

/* Xen pages are 4 KiB on every architecture drvdom runs on. */
#define PLAT_PAGE_SIZE 4096u

/* One grant-copy segment: exactly libxengnttab's layout and semantics
 * (flags GNTCOPY_source_gref / GNTCOPY_dest_gref, status GNTST_*). */
struct plat_gntcopy_seg {
    union plat_gntcopy_ptr {
        void *virt; /* local buffer (side without its _gref flag) */
        struct {
            grant_ref_t ref; /* grant reference of the foreign page */
            uint16_t offset; /* byte offset in that page */
            domid_t domid;   /* granting domain */
        } foreign;
    } source, dest;
    uint16_t len;   /* bytes; offset + len <= PLAT_PAGE_SIZE on gref sides */
    uint16_t flags; /* GNTCOPY_source_gref | GNTCOPY_dest_gref */
    int16_t status; /* out: GNTST_okay or a GNTST_* error */
};

int plat_gnttab_open(struct plat_gnttab **gt);
void plat_gnttab_close(struct plat_gnttab *gt);

/*
 * Maps @count refs granted by @domid at a contiguous address (*addr), PROT_READ
 * or PROT_READ|PROT_WRITE when @writable. All or nothing: -EINVAL when any
 * entry is not a valid grant to us (or read-only and @writable), as on Xen.
 */
int plat_gnttab_map(struct plat_gnttab *gt, domid_t domid, uint32_t count,
                    const grant_ref_t *refs, bool writable, void **addr);

/* Unmaps exactly a range returned by plat_gnttab_map. */
int plat_gnttab_unmap(struct plat_gnttab *gt, void *addr, uint32_t count);

/* Batched grant copy; each segment gets its own status. Returns 0 when the
 * batch was processed (look at the statuses), -errno when it was not. */
int plat_gnttab_copy(struct plat_gnttab *gt, uint32_t count,
                     struct plat_gntcopy_seg *segs);

/* ---- grant sharing (libxengntshr) ---- */

struct plat_gntshr;

int plat_gntshr_open(struct plat_gntshr **gs);
void plat_gntshr_close(struct plat_gntshr *gs);

/* Allocates @count zeroed pages, grants them to @domid (refs out) and maps
 * them at *addr. */
int plat_gntshr_share(struct plat_gntshr *gs, domid_t domid, uint32_t count,
                      grant_ref_t *refs, bool writable, void **addr);

/* Ends access and frees the pages; -EBUSY (nothing changed) while any of them
 * is still mapped by the grantee. */
int plat_gntshr_unshare(struct plat_gntshr *gs, void *addr, uint32_t count);

/* ---- event channels (libxenevtchn) ---- */

struct plat_evtchn;

int plat_evtchn_open(struct plat_evtchn **ec);
void plat_evtchn_close(struct plat_evtchn *ec);

/* A file descriptor that polls readable when a port is pending. */
int plat_evtchn_fd(struct plat_evtchn *ec);

int plat_evtchn_bind_unbound(struct plat_evtchn *ec, domid_t remote,
                             evtchn_port_t *port);
int plat_evtchn_bind_interdomain(struct plat_evtchn *ec, domid_t remote,
                                 evtchn_port_t remote_port,
                                 evtchn_port_t *port);
int plat_evtchn_notify(struct plat_evtchn *ec, evtchn_port_t port);

/* Next pending port, masked until plat_evtchn_unmask; -EAGAIN if none. */
int plat_evtchn_pending(struct plat_evtchn *ec, evtchn_port_t *port);
int plat_evtchn_unmask(struct plat_evtchn *ec, evtchn_port_t port);
int plat_evtchn_unbind(struct plat_evtchn *ec, evtchn_port_t port);

/* ---- domains (libxenctrl) ---- */

enum plat_domstate {
    PLAT_DOM_RUNNING = 0, /* running (or blocked/paused) */
    PLAT_DOM_SHUTDOWN,    /* shut down; reason in shutdown_reason */
    PLAT_DOM_CRASHED,     /* crashed (SHUTDOWN_crash) */
};

#define PLAT_DOMNAME_MAX 64

struct plat_dominfo {
    domid_t domid;                /* domain id */
    enum plat_domstate state;     /* running / shutdown / crashed */
    unsigned int shutdown_reason; /* SHUTDOWN_* when not running */
    bool dying;                   /* destroyed, not yet released */
    char name[PLAT_DOMNAME_MAX];  /* name, "" if unknown */
};

/* Our own domain id. */
int plat_domid_self(domid_t *domid);

/* Info on one domain; -ESRCH when it does not exist (or was released). */
int plat_domain_info(domid_t domid, struct plat_dominfo *info);

/* Fills up to @max entries in domid order; returns the number filled. */
int plat_domain_list(struct plat_dominfo *info, unsigned int max);

/* Destroys a domain (privileged). */
int plat_domain_destroy(domid_t domid);

#endif /* DRVDOM_PLATFORM_H */
