/*
 * The xen platform: a thin pass-through to libxengnttab, libxengntshr,
 * libxenevtchn and libxenctrl (plus libxenstore for our own domid and the
 * domain names). Errors come back as -errno.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "platform/plat-private.h"

/* plat_gntcopy_seg is libxengnttab's segment, member for member. */
_Static_assert(sizeof(struct plat_gntcopy_seg) ==
                   sizeof(xengnttab_grant_copy_segment_t),
               "grant copy segment layout");
_Static_assert(offsetof(struct plat_gntcopy_seg, status) ==
                   offsetof(xengnttab_grant_copy_segment_t, status),
               "grant copy segment layout");

static int plat_xen_err(void)
{
    return errno ? -errno : -EIO;
}

static int plat_xen_gnttab_open(void **gt)
{
    *gt = xengnttab_open(NULL, 0);
    return *gt ? 0 : plat_xen_err();
}

static void plat_xen_gnttab_close(void *gt)
{
    xengnttab_close(gt);
}

static int plat_xen_gnttab_map(void *gt, domid_t domid, uint32_t count,
                               const grant_ref_t *refs, bool writable,
                               void **addr)
{
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);

    errno = 0;
    *addr = xengnttab_map_domain_grant_refs(gt, count, domid, (uint32_t *)refs,
                                            prot);
    return *addr ? 0 : plat_xen_err();
}

static int plat_xen_gnttab_unmap(void *gt, void *addr, uint32_t count)
{
    return xengnttab_unmap(gt, addr, count) ? plat_xen_err() : 0;
}

static int plat_xen_gnttab_copy(void *gt, uint32_t count,
                                struct plat_gntcopy_seg *segs)
{
    xengnttab_grant_copy_segment_t *xsegs = (void *)segs;

    return xengnttab_grant_copy(gt, count, xsegs) ? plat_xen_err() : 0;
}

static int plat_xen_gntshr_open(void **gs)
{
    *gs = xengntshr_open(NULL, 0);
    return *gs ? 0 : plat_xen_err();
}

static void plat_xen_gntshr_close(void *gs)
{
    xengntshr_close(gs);
}

static int plat_xen_gntshr_share(void *gs, domid_t domid, uint32_t count,
                                 grant_ref_t *refs, bool writable, void **addr)
{
    errno = 0;
    *addr = xengntshr_share_pages(gs, domid, (int)count, refs, writable);
    return *addr ? 0 : plat_xen_err();
}

/* gntalloc defers the end of access of a still-mapped page to its unmap. */
static int plat_xen_gntshr_unshare(void *gs, void *addr, uint32_t count)
{
    return xengntshr_unshare(gs, addr, count) ? plat_xen_err() : 0;
}

static int plat_xen_evtchn_open(void **ec)
{
    int fd, flags;

    *ec = xenevtchn_open(NULL, 0);
    if (!*ec)
        return plat_xen_err();
    /* pending() must not block: the caller polls plat_evtchn_fd(). */
    fd = xenevtchn_fd(*ec);
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int ret = plat_xen_err();

        xenevtchn_close(*ec);
        *ec = NULL;
        return ret;
    }
    return 0;
}

static void plat_xen_evtchn_close(void *ec)
{
    xenevtchn_close(ec);
}

static int plat_xen_evtchn_fd(void *ec)
{
    return xenevtchn_fd(ec);
}

static int plat_xen_evtchn_bind_unbound(void *ec, domid_t remote,
                                        evtchn_port_t *port)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(ec, remote);

    if (p < 0)
        return plat_xen_err();
    *port = (evtchn_port_t)p;
    return 0;
}

static int plat_xen_evtchn_bind_interdomain(void *ec, domid_t remote,
                                            evtchn_port_t remote_port,
                                            evtchn_port_t *port)
{
    xenevtchn_port_or_error_t p;

    p = xenevtchn_bind_interdomain(ec, remote, remote_port);
    if (p < 0)
        return plat_xen_err();
    *port = (evtchn_port_t)p;
    return 0;
}

static int plat_xen_evtchn_notify(void *ec, evtchn_port_t port)
{
    return xenevtchn_notify(ec, port) ? plat_xen_err() : 0;
}

static int plat_xen_evtchn_pending(void *ec, evtchn_port_t *port)
{
    xenevtchn_port_or_error_t p = xenevtchn_pending(ec);

    if (p < 0)
        return plat_xen_err();
    *port = (evtchn_port_t)p;
    return 0;
}

static int plat_xen_evtchn_unmask(void *ec, evtchn_port_t port)
{
    return xenevtchn_unmask(ec, port) ? plat_xen_err() : 0;
}

static int plat_xen_evtchn_unbind(void *ec, evtchn_port_t port)
{
    return xenevtchn_unbind(ec, port) ? plat_xen_err() : 0;
}

/* Reads a xenstore key of our own domain (relative path). */
static int plat_xen_xs_read(const char *path, char *buf, size_t size)
{
    struct xs_handle *xs;
    unsigned int len;
    char *val;
    int ret = 0;

    xs = xs_open(XS_OPEN_READONLY);
    if (!xs)
        return plat_xen_err();
    val = xs_read(xs, XBT_NULL, path, &len);
    if (!val)
        ret = plat_xen_err();
    else
        snprintf(buf, size, "%s", val);
    free(val);
    xs_close(xs);
    return ret;
}

static int plat_xen_domid_self(domid_t *domid)
{
    char buf[16], *end;
    unsigned long v;
    int ret;

    ret = plat_xen_xs_read("domid", buf, sizeof(buf));
    if (ret)
        return ret;
    errno = 0;
    v = strtoul(buf, &end, 10);
    if (errno || *end || end == buf || v >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    *domid = (domid_t)v;
    return 0;
}

static void plat_xen_fill(const xc_domaininfo_t *xi, struct plat_dominfo *info)
{
    char path[64];

    memset(info, 0, sizeof(*info));
    info->domid = (domid_t)xi->domain;
    info->dying = xi->flags & XEN_DOMINF_dying;
    info->state = PLAT_DOM_RUNNING;
    if (xi->flags & XEN_DOMINF_shutdown) {
        info->shutdown_reason =
            (xi->flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
        info->state = info->shutdown_reason == SHUTDOWN_crash
                          ? PLAT_DOM_CRASHED
                          : PLAT_DOM_SHUTDOWN;
    }
    snprintf(path, sizeof(path), "/local/domain/%u/name", info->domid);
    if (plat_xen_xs_read(path, info->name, sizeof(info->name)))
        info->name[0] = '\0';
}

static int plat_xen_getinfo(domid_t first, xc_domaininfo_t *xi,
                            unsigned int max)
{
    xc_interface *xch;
    int n;

    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch)
        return plat_xen_err();
    n = xc_domain_getinfolist(xch, first, max, xi);
    if (n < 0)
        n = plat_xen_err();
    xc_interface_close(xch);
    return n;
}

static int plat_xen_domain_info(domid_t domid, struct plat_dominfo *info)
{
    xc_domaininfo_t xi;
    int n;

    n = plat_xen_getinfo(domid, &xi, 1);
    if (n < 0)
        return n;
    if (n == 0 || xi.domain != domid)
        return -ESRCH;
    plat_xen_fill(&xi, info);
    return 0;
}

static int plat_xen_domain_list(struct plat_dominfo *info, unsigned int max)
{
    xc_domaininfo_t *xi;
    int n, i;

    if (!max)
        return 0;
    xi = calloc(max, sizeof(*xi));
    if (!xi)
        return -ENOMEM;
    n = plat_xen_getinfo(0, xi, max);
    for (i = 0; i < n; i++)
        plat_xen_fill(&xi[i], &info[i]);
    free(xi);
    return n;
}

static int plat_xen_domain_destroy(domid_t domid)
{
    xc_interface *xch;
    int ret = 0;

    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch)
        return plat_xen_err();
    if (xc_domain_destroy(xch, domid))
        ret = plat_xen_err();
    xc_interface_close(xch);
    return ret;
}

const struct plat_ops plat_xen_ops = {
    .name = "xen",
    .gnttab_open = plat_xen_gnttab_open,
    .gnttab_close = plat_xen_gnttab_close,
    .gnttab_map = plat_xen_gnttab_map,
    .gnttab_unmap = plat_xen_gnttab_unmap,
    .gnttab_copy = plat_xen_gnttab_copy,
    .gntshr_open = plat_xen_gntshr_open,
    .gntshr_close = plat_xen_gntshr_close,
    .gntshr_share = plat_xen_gntshr_share,
    .gntshr_unshare = plat_xen_gntshr_unshare,
    .evtchn_open = plat_xen_evtchn_open,
    .evtchn_close = plat_xen_evtchn_close,
    .evtchn_fd = plat_xen_evtchn_fd,
    .evtchn_bind_unbound = plat_xen_evtchn_bind_unbound,
    .evtchn_bind_interdomain = plat_xen_evtchn_bind_interdomain,
    .evtchn_notify = plat_xen_evtchn_notify,
    .evtchn_pending = plat_xen_evtchn_pending,
    .evtchn_unmask = plat_xen_evtchn_unmask,
    .evtchn_unbind = plat_xen_evtchn_unbind,
    .domid_self = plat_xen_domid_self,
    .domain_info = plat_xen_domain_info,
    .domain_list = plat_xen_domain_list,
    .domain_destroy = plat_xen_domain_destroy,
};
