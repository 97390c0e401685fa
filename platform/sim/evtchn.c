/*
 * Sim platform event channels. Binding a port gets two eventfds from the
 * daemon: the one we receive on and the one the remote end receives on, so
 * notify is a single write(2). The handle's fd is an epoll set over the
 * receive eventfds; pending() takes one ready port and masks it (removes
 * its interest) until unmask, as the Linux evtchn driver does.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "platform/sim/sim-private.h"

/* One bound port of this handle. */
struct plat_sim_port {
    int in_fd;   /* eventfd we receive on, -1 when not bound here */
    int out_fd;  /* eventfd the remote end receives on */
    bool masked; /* returned by pending(), not unmasked yet */
};

struct plat_sim_evtchn {
    struct plat_sim_conn *conn;
    int epfd;                    /* the pollable fd */
    pthread_mutex_t lock;        /* ports[] */
    struct plat_sim_port *ports; /* SIMHV_MAX_PORTS, by port number */
};

int plat_sim_evtchn_open(void **out)
{
    struct plat_sim_evtchn *ec;
    evtchn_port_t p;
    int ret;

    ec = calloc(1, sizeof(*ec));
    if (!ec)
        return -ENOMEM;
    ec->ports = calloc(SIMHV_MAX_PORTS, sizeof(*ec->ports));
    if (!ec->ports) {
        ret = -ENOMEM;
        goto err_free;
    }
    for (p = 0; p < SIMHV_MAX_PORTS; p++)
        ec->ports[p].in_fd = ec->ports[p].out_fd = -1;
    ec->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ec->epfd < 0) {
        ret = -errno;
        goto err_free;
    }
    ret = plat_sim_conn_open(&ec->conn);
    if (ret)
        goto err_epoll;
    pthread_mutex_init(&ec->lock, NULL);
    *out = ec;
    return 0;

err_epoll:
    close(ec->epfd);
err_free:
    free(ec->ports);
    free(ec);
    return ret;
}

static void plat_sim_port_drop(struct plat_sim_evtchn *ec, evtchn_port_t p)
{
    struct plat_sim_port *sp = &ec->ports[p];

    if (sp->in_fd < 0)
        return;
    epoll_ctl(ec->epfd, EPOLL_CTL_DEL, sp->in_fd, NULL);
    close(sp->in_fd);
    close(sp->out_fd);
    sp->in_fd = sp->out_fd = -1;
    sp->masked = false;
}

/* Closing the connection unbinds every port in the daemon. */
void plat_sim_evtchn_close(void *h)
{
    struct plat_sim_evtchn *ec = h;
    evtchn_port_t p;

    for (p = 0; p < SIMHV_MAX_PORTS; p++)
        plat_sim_port_drop(ec, p);
    plat_sim_conn_close(ec->conn);
    close(ec->epfd);
    pthread_mutex_destroy(&ec->lock);
    free(ec->ports);
    free(ec);
}

int plat_sim_evtchn_fd(void *h)
{
    struct plat_sim_evtchn *ec = h;

    return ec->epfd;
}

/* Takes the port and its two eventfds from a bind reply. */
static int plat_sim_port_add(struct plat_sim_evtchn *ec,
                             struct plat_sim_reply *rep, evtchn_port_t *port)
{
    struct epoll_event ev = {.events = EPOLLIN};
    evtchn_port_t p = rep->rep.val0;
    struct plat_sim_port *sp;
    int ret = 0;

    if (rep->nfds != 2 || p == 0 || p >= SIMHV_MAX_PORTS) {
        plat_sim_reply_close_fds(rep);
        return -EPROTO;
    }
    pthread_mutex_lock(&ec->lock);
    sp = &ec->ports[p];
    plat_sim_port_drop(ec, p);
    sp->in_fd = rep->fds[0];
    sp->out_fd = rep->fds[1];
    rep->nfds = 0;
    ev.data.u32 = p;
    if (epoll_ctl(ec->epfd, EPOLL_CTL_ADD, sp->in_fd, &ev)) {
        ret = -errno;
        close(sp->in_fd);
        close(sp->out_fd);
        sp->in_fd = sp->out_fd = -1;
    }
    pthread_mutex_unlock(&ec->lock);
    if (!ret)
        *port = p;
    return ret;
}

int plat_sim_evtchn_bind_unbound(void *h, domid_t remote, evtchn_port_t *port)
{
    struct plat_sim_evtchn *ec = h;
    struct simhv_req req = {.op = SIMHV_OP_EVT_ALLOC, .arg0 = remote};
    struct plat_sim_reply rep = {0};
    int ret;

    ret = plat_sim_call(ec->conn, &req, NULL, 0, &rep);
    return ret ? ret : plat_sim_port_add(ec, &rep, port);
}

int plat_sim_evtchn_bind_interdomain(void *h, domid_t remote,
                                     evtchn_port_t remote_port,
                                     evtchn_port_t *port)
{
    struct plat_sim_evtchn *ec = h;
    struct simhv_req req = {
        .op = SIMHV_OP_EVT_BIND, .arg0 = remote, .arg1 = remote_port};
    struct plat_sim_reply rep = {0};
    int ret;

    ret = plat_sim_call(ec->conn, &req, NULL, 0, &rep);
    return ret ? ret : plat_sim_port_add(ec, &rep, port);
}

int plat_sim_evtchn_notify(void *h, evtchn_port_t port)
{
    struct plat_sim_evtchn *ec = h;
    static const uint64_t one = 1;
    int fd;

    if (port == 0 || port >= SIMHV_MAX_PORTS)
        return -EINVAL;
    /* A plain load: the fd only changes under bind/unbind of this port,
     * which the caller does not race with its own notify. */
    fd = ec->ports[port].out_fd;
    if (fd < 0)
        return -EINVAL;
    /* A saturated counter (EAGAIN) is pending already. */
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

int plat_sim_evtchn_pending(void *h, evtchn_port_t *port)
{
    struct plat_sim_evtchn *ec = h;
    struct epoll_event ev, off = {.events = 0};
    uint64_t val;
    int n;

    pthread_mutex_lock(&ec->lock);
    n = epoll_wait(ec->epfd, &ev, 1, 0);
    if (n <= 0) {
        pthread_mutex_unlock(&ec->lock);
        return n < 0 ? -errno : -EAGAIN;
    }
    *port = ev.data.u32;
    /* Consume the events and mask: no more wake-ups until unmask. */
    (void)!read(ec->ports[*port].in_fd, &val, sizeof(val));
    off.data.u32 = *port;
    epoll_ctl(ec->epfd, EPOLL_CTL_MOD, ec->ports[*port].in_fd, &off);
    ec->ports[*port].masked = true;
    pthread_mutex_unlock(&ec->lock);
    return 0;
}

int plat_sim_evtchn_unmask(void *h, evtchn_port_t port)
{
    struct plat_sim_evtchn *ec = h;
    struct epoll_event ev = {.events = EPOLLIN};
    int ret = 0;

    if (port == 0 || port >= SIMHV_MAX_PORTS)
        return -EINVAL;
    pthread_mutex_lock(&ec->lock);
    if (ec->ports[port].in_fd < 0) {
        ret = -EINVAL;
    } else if (ec->ports[port].masked) {
        ev.data.u32 = port;
        if (epoll_ctl(ec->epfd, EPOLL_CTL_MOD, ec->ports[port].in_fd, &ev))
            ret = -errno;
        else
            ec->ports[port].masked = false;
    }
    pthread_mutex_unlock(&ec->lock);
    return ret;
}

int plat_sim_evtchn_unbind(void *h, evtchn_port_t port)
{
    struct plat_sim_evtchn *ec = h;
    struct simhv_req req = {.op = SIMHV_OP_EVT_UNBIND, .arg0 = port};
    struct plat_sim_reply rep = {0};
    int ret;

    if (port == 0 || port >= SIMHV_MAX_PORTS || ec->ports[port].in_fd < 0)
        return -EINVAL;
    ret = plat_sim_call(ec->conn, &req, NULL, 0, &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    pthread_mutex_lock(&ec->lock);
    plat_sim_port_drop(ec, port);
    pthread_mutex_unlock(&ec->lock);
    return 0;
}
