/*
 * Platform selection and dispatch: picks the xen or sim implementation once
 * per process and forwards each plat_* call to its ops table.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/plat-private.h"

struct plat_gnttab {
    const struct plat_ops *ops; /* implementation that opened it */
    void *impl;                 /* its handle */
};

struct plat_gntshr {
    const struct plat_ops *ops; /* implementation that opened it */
    void *impl;                 /* its handle */
};

struct plat_evtchn {
    const struct plat_ops *ops; /* implementation that opened it */
    void *impl;                 /* its handle */
};

static pthread_mutex_t plat_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct plat_ops *plat_ops_cur;

int plat_kind_parse(const char *name, enum plat_kind *kind)
{
    if (!name)
        return -EINVAL;
    if (!strcmp(name, "auto"))
        *kind = PLAT_AUTO;
    else if (!strcmp(name, "xen"))
        *kind = PLAT_XEN;
    else if (!strcmp(name, "sim"))
        *kind = PLAT_SIM;
    else
        return -EINVAL;
    return 0;
}

const char *plat_kind_name(enum plat_kind kind)
{
    switch (kind) {
    case PLAT_AUTO:
        return "auto";
    case PLAT_XEN:
        return "xen";
    case PLAT_SIM:
        return "sim";
    }
    return "?";
}

static enum plat_kind plat_detect(void)
{
    const char *env;
    enum plat_kind kind;

    if (getenv("DRVDOM_SIM_FD"))
        return PLAT_SIM;
    env = getenv("DRVDOM_PLATFORM");
    if (env && !plat_kind_parse(env, &kind) && kind != PLAT_AUTO)
        return kind;
    if (!access("/proc/xen/capabilities", F_OK) ||
        !access("/dev/xen/privcmd", F_OK))
        return PLAT_XEN;
    return PLAT_SIM;
}

static const struct plat_ops *plat_kind_ops(enum plat_kind kind)
{
    return kind == PLAT_XEN ? &plat_xen_ops : &plat_sim_ops;
}

int plat_select(enum plat_kind kind)
{
    const struct plat_ops *ops;
    bool explicit;
    int ret = 0;

    if (kind != PLAT_AUTO && kind != PLAT_XEN && kind != PLAT_SIM)
        return -EINVAL;
    explicit = kind != PLAT_AUTO;
    if (kind == PLAT_AUTO)
        kind = plat_detect();
    ops = plat_kind_ops(kind);
    pthread_mutex_lock(&plat_lock);
    if (!plat_ops_cur)
        plat_ops_cur = ops;
    else if (plat_ops_cur != ops)
        ret = -EBUSY;
    pthread_mutex_unlock(&plat_lock);
    /* An explicit choice (--platform) holds for the programs this one runs
     * too (drvdomd's workers), through plat_detect()'s DRVDOM_PLATFORM. */
    if (!ret && explicit && setenv("DRVDOM_PLATFORM", plat_kind_name(kind), 1))
        ret = -errno;
    return ret;
}

int plat_select_name(const char *name)
{
    enum plat_kind kind;
    int ret;

    ret = plat_kind_parse(name, &kind);
    if (ret)
        return ret;
    return plat_select(kind);
}

void plat_set_ops(const struct plat_ops *ops)
{
    pthread_mutex_lock(&plat_lock);
    plat_ops_cur = ops;
    pthread_mutex_unlock(&plat_lock);
}

static const struct plat_ops *plat_get(void)
{
    const struct plat_ops *ops;

    pthread_mutex_lock(&plat_lock);
    ops = plat_ops_cur;
    pthread_mutex_unlock(&plat_lock);
    if (ops)
        return ops;
    (void)plat_select(PLAT_AUTO);
    pthread_mutex_lock(&plat_lock);
    ops = plat_ops_cur;
    pthread_mutex_unlock(&plat_lock);
    return ops;
}

enum plat_kind plat_current(void)
{
    const struct plat_ops *ops = plat_get();

    if (ops == &plat_xen_ops)
        return PLAT_XEN;
    if (ops == &plat_sim_ops)
        return PLAT_SIM;
    return PLAT_AUTO;
}

int plat_gnttab_open(struct plat_gnttab **gt)
{
    const struct plat_ops *ops = plat_get();
    struct plat_gnttab *h;
    int ret;

    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->ops = ops;
    ret = ops->gnttab_open(&h->impl);
    if (ret) {
        free(h);
        return ret;
    }
    *gt = h;
    return 0;
}

void plat_gnttab_close(struct plat_gnttab *gt)
{
    if (!gt)
        return;
    gt->ops->gnttab_close(gt->impl);
    free(gt);
}

int plat_gnttab_map(struct plat_gnttab *gt, domid_t domid, uint32_t count,
                    const grant_ref_t *refs, bool writable, void **addr)
{
    if (!count || !refs || !addr)
        return -EINVAL;
    return gt->ops->gnttab_map(gt->impl, domid, count, refs, writable, addr);
}

int plat_gnttab_unmap(struct plat_gnttab *gt, void *addr, uint32_t count)
{
    if (!addr || !count)
        return -EINVAL;
    return gt->ops->gnttab_unmap(gt->impl, addr, count);
}

int plat_gnttab_copy(struct plat_gnttab *gt, uint32_t count,
                     struct plat_gntcopy_seg *segs)
{
    if (count && !segs)
        return -EINVAL;
    return gt->ops->gnttab_copy(gt->impl, count, segs);
}

int plat_gntshr_open(struct plat_gntshr **gs)
{
    const struct plat_ops *ops = plat_get();
    struct plat_gntshr *h;
    int ret;

    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->ops = ops;
    ret = ops->gntshr_open(&h->impl);
    if (ret) {
        free(h);
        return ret;
    }
    *gs = h;
    return 0;
}

void plat_gntshr_close(struct plat_gntshr *gs)
{
    if (!gs)
        return;
    gs->ops->gntshr_close(gs->impl);
    free(gs);
}

int plat_gntshr_share(struct plat_gntshr *gs, domid_t domid, uint32_t count,
                      grant_ref_t *refs, bool writable, void **addr)
{
    if (!count || !refs || !addr)
        return -EINVAL;
    return gs->ops->gntshr_share(gs->impl, domid, count, refs, writable, addr);
}

int plat_gntshr_unshare(struct plat_gntshr *gs, void *addr, uint32_t count)
{
    if (!addr || !count)
        return -EINVAL;
    return gs->ops->gntshr_unshare(gs->impl, addr, count);
}

int plat_evtchn_open(struct plat_evtchn **ec)
{
    const struct plat_ops *ops = plat_get();
    struct plat_evtchn *h;
    int ret;

    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->ops = ops;
    ret = ops->evtchn_open(&h->impl);
    if (ret) {
        free(h);
        return ret;
    }
    *ec = h;
    return 0;
}

void plat_evtchn_close(struct plat_evtchn *ec)
{
    if (!ec)
        return;
    ec->ops->evtchn_close(ec->impl);
    free(ec);
}

int plat_evtchn_fd(struct plat_evtchn *ec)
{
    return ec->ops->evtchn_fd(ec->impl);
}

int plat_evtchn_bind_unbound(struct plat_evtchn *ec, domid_t remote,
                             evtchn_port_t *port)
{
    return ec->ops->evtchn_bind_unbound(ec->impl, remote, port);
}

int plat_evtchn_bind_interdomain(struct plat_evtchn *ec, domid_t remote,
                                 evtchn_port_t remote_port, evtchn_port_t *port)
{
    return ec->ops->evtchn_bind_interdomain(ec->impl, remote, remote_port,
                                            port);
}

int plat_evtchn_notify(struct plat_evtchn *ec, evtchn_port_t port)
{
    return ec->ops->evtchn_notify(ec->impl, port);
}

int plat_evtchn_pending(struct plat_evtchn *ec, evtchn_port_t *port)
{
    return ec->ops->evtchn_pending(ec->impl, port);
}

int plat_evtchn_unmask(struct plat_evtchn *ec, evtchn_port_t port)
{
    return ec->ops->evtchn_unmask(ec->impl, port);
}

int plat_evtchn_unbind(struct plat_evtchn *ec, evtchn_port_t port)
{
    return ec->ops->evtchn_unbind(ec->impl, port);
}

int plat_domid_self(domid_t *domid)
{
    return plat_get()->domid_self(domid);
}

int plat_domain_info(domid_t domid, struct plat_dominfo *info)
{
    return plat_get()->domain_info(domid, info);
}

int plat_domain_list(struct plat_dominfo *info, unsigned int max)
{
    return plat_get()->domain_list(info, max);
}

int plat_domain_destroy(domid_t domid)
{
    return plat_get()->domain_destroy(domid);
}
