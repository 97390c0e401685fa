/*
 * Sim platform domain calls (info, list, destroy, create, stats) over one
 * per-process control connection, and the sim ops table.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drvdom/plat-sim.h"
#include "platform/sim/sim-private.h"

static pthread_mutex_t plat_sim_ctrl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plat_sim_conn *plat_sim_ctrl;
static pid_t plat_sim_ctrl_pid;

/* The control connection; a forked child opens its own. */
int plat_sim_ctrl_call(const struct simhv_req *req, const void *payload,
                       size_t len, struct plat_sim_reply *rep)
{
    int ret = 0;

    pthread_mutex_lock(&plat_sim_ctrl_lock);
    if (plat_sim_ctrl && plat_sim_ctrl_pid != getpid()) {
        plat_sim_conn_close(plat_sim_ctrl);
        plat_sim_ctrl = NULL;
    }
    if (!plat_sim_ctrl) {
        ret = plat_sim_conn_open(&plat_sim_ctrl);
        plat_sim_ctrl_pid = getpid();
    }
    if (!ret) {
        ret = plat_sim_call(plat_sim_ctrl, req, payload, len, rep);
        /* A dead daemon is not coming back on this socket. */
        if (ret == -ECONNRESET || ret == -EPIPE) {
            plat_sim_conn_close(plat_sim_ctrl);
            plat_sim_ctrl = NULL;
        }
    }
    pthread_mutex_unlock(&plat_sim_ctrl_lock);
    return ret;
}

static int plat_sim_domid_self(domid_t *domid)
{
    struct simhv_req req = {.op = SIMHV_OP_HELLO};
    struct plat_sim_reply rep = {0};
    int ret;

    ret = plat_sim_ctrl_call(&req, NULL, 0, &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    *domid = (domid_t)rep.rep.val0;
    return 0;
}

static void plat_sim_fill(const struct simhv_dominfo *w,
                          struct plat_dominfo *info)
{
    memset(info, 0, sizeof(*info));
    info->domid = w->domid;
    info->state = w->state == SIMHV_DOM_CRASHED    ? PLAT_DOM_CRASHED
                  : w->state == SIMHV_DOM_SHUTDOWN ? PLAT_DOM_SHUTDOWN
                                                   : PLAT_DOM_RUNNING;
    info->shutdown_reason = w->reason;
    info->dying = w->dying;
    memcpy(info->name, w->name, sizeof(w->name) - 1);
}

static int plat_sim_info_raw(domid_t domid, struct simhv_dominfo *w)
{
    struct simhv_req req = {.op = SIMHV_OP_DOM_INFO, .arg0 = domid};
    struct plat_sim_reply rep = {.payload = w, .payload_max = sizeof(*w)};
    int ret;

    ret = plat_sim_ctrl_call(&req, NULL, 0, &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    return rep.payload_len == sizeof(*w) ? 0 : -EPROTO;
}

static int plat_sim_domain_info(domid_t domid, struct plat_dominfo *info)
{
    struct simhv_dominfo w;
    int ret;

    ret = plat_sim_info_raw(domid, &w);
    if (!ret)
        plat_sim_fill(&w, info);
    return ret;
}

int plat_sim_domain_pid(domid_t domid, pid_t *pid)
{
    struct simhv_dominfo w;
    int ret;

    ret = plat_sim_info_raw(domid, &w);
    if (!ret)
        *pid = w.pid;
    return ret;
}

static int plat_sim_domain_list(struct plat_dominfo *info, unsigned int max)
{
    struct simhv_dominfo w[SIMHV_LIST_MAX];
    struct simhv_req req = {.op = SIMHV_OP_DOM_LIST};
    struct plat_sim_reply rep = {.payload = w, .payload_max = sizeof(w)};
    unsigned int n = 0, i, got;
    int ret;

    while (n < max) {
        ret = plat_sim_ctrl_call(&req, NULL, 0, &rep);
        if (ret)
            return ret;
        plat_sim_reply_close_fds(&rep);
        got = (unsigned int)(rep.payload_len / sizeof(w[0]));
        for (i = 0; i < got && n < max; i++)
            plat_sim_fill(&w[i], &info[n++]);
        if (got < SIMHV_LIST_MAX)
            break;
        req.arg0 = w[got - 1].domid + 1u;
    }
    return (int)n;
}

static int plat_sim_domain_destroy(domid_t domid)
{
    struct simhv_req req = {.op = SIMHV_OP_DOM_DESTROY, .arg0 = domid};
    struct plat_sim_reply rep = {0};
    int ret;

    ret = plat_sim_ctrl_call(&req, NULL, 0, &rep);
    if (!ret)
        plat_sim_reply_close_fds(&rep);
    return ret;
}

int plat_sim_domain_create(const char *name, char *const argv[], domid_t *domid)
{
    struct simhv_req req = {.op = SIMHV_OP_DOM_CREATE};
    struct plat_sim_reply rep = {0};
    char buf[SIMHV_ARGV_MAX];
    size_t len = 0, l;
    int ret;

    if (!name || !argv || !argv[0] || !argv[0][0] ||
        strlen(name) >= PLAT_DOMNAME_MAX)
        return -EINVAL;
    for (req.count = 0; req.count == 0 || argv[req.count - 1]; req.count++) {
        const char *s = req.count ? argv[req.count - 1] : name;

        l = strlen(s) + 1;
        if (len + l > sizeof(buf) || req.count >= SIMHV_ARGV_MAX / 2)
            return -E2BIG;
        memcpy(buf + len, s, l);
        len += l;
    }
    ret = plat_sim_ctrl_call(&req, buf, len, &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    *domid = (domid_t)rep.rep.val0;
    return 0;
}

int plat_sim_stats(struct plat_sim_stats *st)
{
    struct simhv_req req = {.op = SIMHV_OP_STATS};
    struct simhv_stats w;
    struct plat_sim_reply rep = {.payload = &w, .payload_max = sizeof(w)};
    int ret;

    _Static_assert(sizeof(w) == sizeof(*st), "stats layout");
    ret = plat_sim_ctrl_call(&req, NULL, 0, &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    if (rep.payload_len != sizeof(w))
        return -EPROTO;
    memcpy(st, &w, sizeof(w));
    return 0;
}

const struct plat_ops plat_sim_ops = {
    .name = "sim",
    .gnttab_open = plat_sim_gnttab_open,
    .gnttab_close = plat_sim_gnttab_close,
    .gnttab_map = plat_sim_gnttab_map,
    .gnttab_unmap = plat_sim_gnttab_unmap,
    .gnttab_copy = plat_sim_gnttab_copy,
    .gntshr_open = plat_sim_gntshr_open,
    .gntshr_close = plat_sim_gntshr_close,
    .gntshr_share = plat_sim_gntshr_share,
    .gntshr_unshare = plat_sim_gntshr_unshare,
    .evtchn_open = plat_sim_evtchn_open,
    .evtchn_close = plat_sim_evtchn_close,
    .evtchn_fd = plat_sim_evtchn_fd,
    .evtchn_bind_unbound = plat_sim_evtchn_bind_unbound,
    .evtchn_bind_interdomain = plat_sim_evtchn_bind_interdomain,
    .evtchn_notify = plat_sim_evtchn_notify,
    .evtchn_pending = plat_sim_evtchn_pending,
    .evtchn_unmask = plat_sim_evtchn_unmask,
    .evtchn_unbind = plat_sim_evtchn_unbind,
    .domid_self = plat_sim_domid_self,
    .domain_info = plat_sim_domain_info,
    .domain_list = plat_sim_domain_list,
    .domain_destroy = plat_sim_domain_destroy,
};
