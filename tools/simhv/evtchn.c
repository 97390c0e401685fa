/*
 * drvdom-simhv event channels. Each port owns two eventfds: the one it
 * receives on and the one its remote end receives on. Binding hands both to
 * the client, so notify is one write(2) with no daemon in the path. When an
 * end closes, its peer becomes unbound (awaiting the same remote domain) and
 * keeps its eventfds: a later bind by that domain gets the very same ones,
 * so the surviving side never needs to learn anything.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tools/simhv/simhv.h"

static int simhv_port_alloc(struct simhv_conn *c, struct simhv_port **out)
{
    struct simhv_dom *d = c->dom;
    struct simhv_port *p;
    evtchn_port_t port;

    /* Port 0 is never valid, as on Xen. */
    for (port = 1; port < SIMHV_MAX_PORTS; port++) {
        if (!d->ports[port])
            break;
    }
    if (port == SIMHV_MAX_PORTS)
        return -ENOSPC;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->port = port;
    p->owner = c;
    p->in_fd = p->out_fd = -1;
    d->ports[port] = p;
    c->hv->stats.ports++;
    *out = p;
    return 0;
}

static void simhv_port_free(struct simhv_dom *d, struct simhv_port *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    if (p->out_fd >= 0)
        close(p->out_fd);
    d->ports[p->port] = NULL;
    d->hv->stats.ports--;
    free(p);
}

static int simhv_port_fds(struct simhv_port *p, int fds[2])
{
    fds[0] = p->in_fd;
    fds[1] = p->out_fd;
    return 0;
}

int simhv_evt_alloc(struct simhv_conn *c, domid_t remote, evtchn_port_t *port,
                    int fds[2])
{
    struct simhv_port *p;
    int ret;

    if (remote == DOMID_SELF)
        remote = c->dom->domid;
    if (remote >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    ret = simhv_port_alloc(c, &p);
    if (ret)
        return ret;
    p->remote = remote;
    p->in_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->out_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->in_fd < 0 || p->out_fd < 0) {
        ret = -errno;
        simhv_port_free(c->dom, p);
        return ret;
    }
    *port = p->port;
    return simhv_port_fds(p, fds);
}

int simhv_evt_bind(struct simhv_conn *c, domid_t remote, evtchn_port_t rport,
                   evtchn_port_t *port, int fds[2])
{
    struct simhv_port *p, *rp;
    struct simhv_dom *rd;
    int ret;

    if (remote == DOMID_SELF)
        remote = c->dom->domid;
    rd = simhv_dom_find(c->hv, remote);
    if (!rd || rd->dying)
        return -ESRCH;
    if (rport == 0 || rport >= SIMHV_MAX_PORTS || !rd->ports[rport])
        return -EINVAL;
    rp = rd->ports[rport];
    if (rp->bound || rp->remote != c->dom->domid)
        return -EINVAL;
    ret = simhv_port_alloc(c, &p);
    if (ret)
        return ret;
    p->in_fd = dup(rp->out_fd);
    p->out_fd = dup(rp->in_fd);
    if (p->in_fd < 0 || p->out_fd < 0) {
        ret = -errno;
        simhv_port_free(c->dom, p);
        return ret;
    }
    p->bound = true;
    p->remote = remote;
    p->rport = rport;
    rp->bound = true;
    rp->rport = p->port;
    *port = p->port;
    return simhv_port_fds(p, fds);
}

/* Closes one end: its peer becomes unbound and is woken to notice. */
static void simhv_port_close(struct simhv_dom *d, struct simhv_port *p)
{
    struct simhv_dom *rd;
    struct simhv_port *rp;
    static const uint64_t one = 1;

    if (p->bound) {
        rd = simhv_dom_find(d->hv, p->remote);
        rp = rd ? rd->ports[p->rport] : NULL;
        if (rp && rp->bound && rp->remote == d->domid && rp->rport == p->port) {
            rp->bound = false;
            rp->rport = 0;
            /* A failed write means a saturated, hence readable, eventfd. */
            (void)!write(rp->in_fd, &one, sizeof(one));
        }
    }
    simhv_port_free(d, p);
}

int simhv_evt_unbind(struct simhv_conn *c, evtchn_port_t port)
{
    struct simhv_port *p;

    if (port == 0 || port >= SIMHV_MAX_PORTS)
        return -EINVAL;
    p = c->dom->ports[port];
    if (!p || p->owner != c)
        return -EINVAL;
    simhv_port_close(c->dom, p);
    return 0;
}

/* A handle closed: unbind every port it bound, as the evtchn driver does. */
void simhv_evt_conn_gone(struct simhv_conn *c)
{
    struct simhv_dom *d = c->dom;
    evtchn_port_t port;

    for (port = 1; port < SIMHV_MAX_PORTS; port++) {
        if (d->ports[port] && d->ports[port]->owner == c)
            simhv_port_close(d, d->ports[port]);
    }
}

void simhv_evt_dom_free(struct simhv_dom *d)
{
    evtchn_port_t port;

    if (!d->ports)
        return;
    for (port = 1; port < SIMHV_MAX_PORTS; port++) {
        if (d->ports[port])
            simhv_port_close(d, d->ports[port]);
    }
    free(d->ports);
    d->ports = NULL;
}
