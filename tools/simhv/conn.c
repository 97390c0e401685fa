/*
 * drvdom-simhv connections: one SOCK_SEQPACKET socket per client handle.
 * Reads bounded messages with their fds, checks each request's size and
 * privilege, dispatches it and sends exactly one non-blocking reply. A
 * client that does not read its replies is disconnected.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/simhv/simhv.h"

/* One received or outgoing message with its fds. */
struct simhv_msg {
    union {
        uint8_t buf[SIMHV_MSG_MAX];
        struct simhv_req req;
        struct simhv_rep rep;
    } u;
    size_t len;
    int fds[SIMHV_MAX_FDS];
    unsigned int nfds;
};

static void simhv_conn_read_cb(evutil_socket_t fd, short what, void *arg);

int simhv_conn_new(struct simhv *hv, struct simhv_dom *dom, int fd, bool leader)
{
    unsigned int max = dom->domid ? SIMHV_CONNS_PER_DOM : SIMHV_CONNS_DOM0;
    struct simhv_conn *c;

    if (dom->nconns >= max || dom->dying)
        return -EMFILE;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->hv = hv;
    c->dom = dom;
    c->fd = fd;
    c->leader = leader;
    c->copy_fd = -1;
    c->serial = hv->next_serial++;
    LIST_INIT(&c->maps);
    c->ev =
        event_new(hv->base, fd, EV_READ | EV_PERSIST, simhv_conn_read_cb, c);
    if (!c->ev || event_add(c->ev, NULL)) {
        if (c->ev)
            event_free(c->ev);
        free(c);
        return -ENOMEM;
    }
    LIST_INSERT_HEAD(&hv->conns, c, link);
    hv->nconns++;
    hv->stats.conns++;
    dom->nconns++;
    if (leader)
        dom->leader = c;
    return 0;
}

/* Drops a connection and everything it holds: mappings, ports, shares. */
void simhv_conn_close(struct simhv_conn *c)
{
    struct simhv_dom *d = c->dom;

    event_free(c->ev);
    close(c->fd);
    simhv_unmap_all(c);
    simhv_evt_conn_gone(c);
    simhv_share_conn_gone(c);
    simhv_copybuf_free(c);
    LIST_REMOVE(c, link);
    c->hv->nconns--;
    c->hv->stats.conns--;
    d->nconns--;
    if (d->leader == c)
        d->leader = NULL;
    free(c);
    simhv_dom_try_release(d);
}

static void simhv_msg_close_fds(struct simhv_msg *m)
{
    unsigned int i;

    for (i = 0; i < m->nfds; i++)
        close(m->fds[i]);
    m->nfds = 0;
}

/* Receives one message: its length, 0 on EOF, -EAGAIN when none. */
static ssize_t simhv_recv(int fd, struct simhv_msg *m)
{
    char cbuf[CMSG_SPACE(sizeof(int) * SIMHV_MAX_FDS)];
    struct iovec iov = {m->u.buf, sizeof(m->u.buf)};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = cbuf,
        .msg_controllen = sizeof(cbuf),
    };
    struct cmsghdr *cm;
    ssize_t n;

    m->nfds = 0;
    n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -errno;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k, nf;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        nf = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < nf; k++) {
            int f;

            memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
            if (m->nfds < SIMHV_MAX_FDS)
                m->fds[m->nfds++] = f;
            else
                close(f);
        }
    }
    m->len = (size_t)n;
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        return -EMSGSIZE;
    return n;
}

static int simhv_send(int fd, struct simhv_msg *m)
{
    char cbuf[CMSG_SPACE(sizeof(int) * SIMHV_MAX_FDS)];
    struct iovec iov = {m->u.buf, m->len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (m->nfds) {
        struct cmsghdr *cm;

        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
        memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->nfds);
    }
    if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        return -errno;
    return 0;
}

/* The request's payload must hold exactly count items of @size bytes. */
static int simhv_payload(const struct simhv_msg *m, size_t size, uint32_t max)
{
    if (m->u.req.count > max)
        return -E2BIG;
    if (m->len != sizeof(struct simhv_req) + (size_t)m->u.req.count * size)
        return -EINVAL;
    return 0;
}

static int simhv_do_mem(struct simhv_conn *c, struct simhv_msg *out)
{
    out->fds[0] = c->dom->ram_fd;
    out->fds[1] = c->dom->gt_fd;
    out->nfds = 2;
    out->u.rep.val0 = SIMHV_RAM_PAGES;
    out->u.rep.val1 = SIMHV_GNTTAB_ENTRIES;
    return 0;
}

static int simhv_do_share(struct simhv_conn *c, const struct simhv_msg *in,
                          struct simhv_msg *out)
{
    const struct simhv_req *rq = &in->u.req;
    grant_ref_t *refs = (void *)(out->u.buf + sizeof(struct simhv_rep));
    int ret;

    if (rq->op == SIMHV_OP_SHARE_FREE) {
        ret = simhv_payload(in, sizeof(grant_ref_t), SIMHV_MAP_MAX);
        if (ret)
            return ret;
        return simhv_share_free(c, rq->count,
                                (const void *)(in->u.buf + sizeof(*rq)));
    }
    ret = simhv_payload(in, 0, SIMHV_MAP_MAX);
    if (ret)
        return ret;
    ret = simhv_share_alloc(c, rq->count, refs, &out->u.rep.val0);
    if (ret)
        return ret;
    out->u.rep.count = rq->count;
    out->len += rq->count * sizeof(grant_ref_t);
    return 0;
}

static int simhv_do_map(struct simhv_conn *c, const struct simhv_msg *in,
                        struct simhv_msg *out)
{
    const struct simhv_req *rq = &in->u.req;
    uint32_t *frames = (void *)(out->u.buf + sizeof(struct simhv_rep));
    int ret;

    if (rq->op == SIMHV_OP_UNMAP)
        return simhv_payload(in, 0, 0) ?: simhv_unmap(c, rq->id);
    ret = simhv_payload(in, sizeof(grant_ref_t), SIMHV_MAP_MAX);
    if (ret)
        return ret;
    if (!rq->count || rq->arg0 >= DOMID_FIRST_RESERVED || rq->arg1 > 1)
        return -EINVAL;
    ret = simhv_map(c, (domid_t)rq->arg0, rq->arg1, rq->count,
                    (const void *)(in->u.buf + sizeof(*rq)), frames,
                    &out->u.rep.id, &out->fds[0]);
    if (ret)
        return ret;
    out->nfds = 1;
    out->u.rep.count = rq->count;
    out->len += rq->count * sizeof(uint32_t);
    return 0;
}

static int simhv_do_copy(struct simhv_conn *c, const struct simhv_msg *in,
                         struct simhv_msg *out)
{
    const struct simhv_req *rq = &in->u.req;
    int16_t *status = (void *)(out->u.buf + sizeof(struct simhv_rep));
    int ret;

    if (rq->op == SIMHV_OP_COPYBUF) {
        ret = simhv_payload(in, 0, 0) ?: simhv_copybuf(c, &out->fds[0]);
        if (!ret)
            out->nfds = 1;
        return ret;
    }
    ret = simhv_payload(in, sizeof(struct simhv_copyseg), SIMHV_COPY_MAX);
    if (ret)
        return ret;
    ret = simhv_copy(c, rq->count, (const void *)(in->u.buf + sizeof(*rq)),
                     status);
    if (ret)
        return ret;
    out->u.rep.count = rq->count;
    out->len += rq->count * sizeof(int16_t);
    return 0;
}

static int simhv_do_evt(struct simhv_conn *c, const struct simhv_msg *in,
                        struct simhv_msg *out)
{
    const struct simhv_req *rq = &in->u.req;
    evtchn_port_t port;
    int ret;

    ret = simhv_payload(in, 0, 0);
    if (ret)
        return ret;
    if (rq->op == SIMHV_OP_EVT_UNBIND)
        return simhv_evt_unbind(c, rq->arg0);
    if (rq->arg0 > UINT16_MAX)
        return -EINVAL;
    if (rq->op == SIMHV_OP_EVT_ALLOC)
        ret = simhv_evt_alloc(c, (domid_t)rq->arg0, &port, out->fds);
    else
        ret = simhv_evt_bind(c, (domid_t)rq->arg0, rq->arg1, &port, out->fds);
    if (ret)
        return ret;
    out->nfds = 2;
    out->u.rep.val0 = port;
    return 0;
}

static int simhv_do_dom(struct simhv_conn *c, const struct simhv_msg *in,
                        struct simhv_msg *out)
{
    struct simhv_dominfo *info = (void *)(out->u.buf + sizeof(out->u.rep));
    const struct simhv_req *rq = &in->u.req;
    struct simhv_dom *d;
    uint32_t n = 0;
    int ret;

    ret = simhv_payload(in, 0, 0);
    if (ret)
        return ret;
    if (rq->op == SIMHV_OP_DOM_DESTROY) {
        if (c->dom->domid)
            return -EPERM;
        return rq->arg0 > UINT16_MAX ? -ESRCH
                                     : simhv_dom_destroy(c->hv, rq->arg0);
    }
    if (rq->op == SIMHV_OP_DOM_INFO) {
        d = rq->arg0 > UINT16_MAX ? NULL : simhv_dom_find(c->hv, rq->arg0);
        if (!d)
            return -ESRCH;
        simhv_dom_info(d, info);
        n = 1;
    } else {
        /* The list is unordered: pick the next smallest ids in turn. */
        uint32_t first = rq->arg0;

        while (n < SIMHV_LIST_MAX) {
            struct simhv_dom *best = NULL;

            LIST_FOREACH(d, &c->hv->doms, link)
            {
                if (d->domid >= first && (!best || d->domid < best->domid))
                    best = d;
            }
            if (!best)
                break;
            simhv_dom_info(best, &info[n++]);
            first = best->domid + 1u;
        }
    }
    out->u.rep.count = n;
    out->len += n * sizeof(*info);
    return 0;
}

/* Create: count NUL-terminated strings, the name then argv. */
static int simhv_do_create(struct simhv_conn *c, struct simhv_msg *in,
                           struct simhv_msg *out)
{
    const struct simhv_req *rq = &in->u.req;
    char *argv[SIMHV_ARGV_MAX / 2 + 1];
    size_t off = sizeof(*rq), plen;
    uint32_t i;
    domid_t id;
    char *p;
    int ret;

    if (c->dom->domid)
        return -EPERM;
    plen = in->len - sizeof(*rq);
    if (rq->count < 2 || plen > SIMHV_ARGV_MAX || rq->count > plen)
        return -EINVAL;
    if (in->u.buf[in->len - 1] != '\0')
        return -EINVAL;
    for (i = 0; i < rq->count; i++) {
        if (off >= in->len)
            return -EINVAL;
        p = (char *)in->u.buf + off;
        argv[i] = p;
        off += strlen(p) + 1;
    }
    if (off != in->len || !argv[1][0] || strlen(argv[0]) >= 64)
        return -EINVAL;
    argv[rq->count] = NULL;
    ret = simhv_dom_create(c->hv, argv[0], &argv[1], &id);
    if (ret)
        return ret;
    out->u.rep.val0 = id;
    return 0;
}

static int simhv_dispatch(struct simhv_conn *c, struct simhv_msg *in,
                          struct simhv_msg *out)
{
    switch (in->u.req.op) {
    case SIMHV_OP_HELLO:
        out->u.rep.val0 = c->dom->domid;
        return simhv_payload(in, 0, 0);
    case SIMHV_OP_MEM:
        return simhv_payload(in, 0, 0) ?: simhv_do_mem(c, out);
    case SIMHV_OP_SHARE_ALLOC:
    case SIMHV_OP_SHARE_FREE:
        return simhv_do_share(c, in, out);
    case SIMHV_OP_MAP:
    case SIMHV_OP_UNMAP:
        return simhv_do_map(c, in, out);
    case SIMHV_OP_COPYBUF:
    case SIMHV_OP_COPY:
        return simhv_do_copy(c, in, out);
    case SIMHV_OP_EVT_ALLOC:
    case SIMHV_OP_EVT_BIND:
    case SIMHV_OP_EVT_UNBIND:
        return simhv_do_evt(c, in, out);
    case SIMHV_OP_DOM_INFO:
    case SIMHV_OP_DOM_LIST:
    case SIMHV_OP_DOM_DESTROY:
        return simhv_do_dom(c, in, out);
    case SIMHV_OP_DOM_CREATE:
        return simhv_do_create(c, in, out);
    case SIMHV_OP_STATS:
        if (c->dom->domid)
            return -EPERM;
        memcpy(out->u.buf + sizeof(out->u.rep), &c->hv->stats,
               sizeof(c->hv->stats));
        out->len += sizeof(c->hv->stats);
        return simhv_payload(in, 0, 0);
    default:
        return -ENOSYS;
    }
}

/* The inherited socket only registers new connections of its domain. */
static void simhv_leader_msg(struct simhv_conn *c, struct simhv_msg *in)
{
    int type = 0;
    socklen_t len = sizeof(type);

    if (in->len != sizeof(in->u.req) || in->u.req.op != SIMHV_OP_CLONE ||
        in->nfds != 1 ||
        getsockopt(in->fds[0], SOL_SOCKET, SO_TYPE, &type, &len) ||
        type != SOCK_SEQPACKET) {
        simhv_log("domain %u: bad message on its inherited socket ignored",
                  c->dom->domid);
        simhv_msg_close_fds(in);
        return;
    }
    if (simhv_conn_new(c->hv, c->dom, in->fds[0], false)) {
        simhv_log("domain %u: connection refused (limit %u)", c->dom->domid,
                  SIMHV_CONNS_PER_DOM);
        close(in->fds[0]);
    }
    in->nfds = 0;
}

/* Handles one received message; returns -errno to drop the connection. */
static int simhv_conn_msg(struct simhv_conn *c, struct simhv_msg *in, ssize_t n,
                          struct simhv_msg *out)
{
    memset(&out->u.rep, 0, sizeof(out->u.rep));
    out->len = sizeof(out->u.rep);
    out->nfds = 0;
    if (c->leader) {
        if (n < 0)
            simhv_msg_close_fds(in);
        else
            simhv_leader_msg(c, in);
        return 0;
    }
    if (n >= 0 && (size_t)n < sizeof(in->u.req))
        n = -EINVAL;
    /* Only a clone ever carries fds; anything else gets them closed. */
    simhv_msg_close_fds(in);
    out->u.rep.err = n < 0 ? (int32_t)n : simhv_dispatch(c, in, out);
    if (out->u.rep.err) {
        out->len = sizeof(out->u.rep);
        out->nfds = 0;
    }
    return simhv_send(c->fd, out);
}

static void simhv_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    static struct simhv_msg in, out;
    struct simhv_conn *c = arg;
    unsigned int i;
    ssize_t n;

    (void)what;
    for (i = 0; i < SIMHV_BATCH; i++) {
        n = simhv_recv(fd, &in);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n == 0 || n == -ECONNRESET || n == -ENOTCONN)
            break;
        if (simhv_conn_msg(c, &in, n, &out)) {
            simhv_log("domain %u: connection dropped: it does not read its "
                      "replies",
                      c->dom->domid);
            break;
        }
    }
    if (i == SIMHV_BATCH)
        return;
    simhv_conn_close(c);
}

/* A connection to <run-dir>/simhv.sock is a connection of domain 0. */
void simhv_listen_cb(evutil_socket_t fd, short what, void *arg)
{
    struct simhv *hv = arg;
    struct simhv_dom *dom0 = simhv_dom_find(hv, 0);
    int cfd;

    (void)what;
    cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    if (simhv_conn_new(hv, dom0, cfd, false)) {
        simhv_log("dom0 connection refused (limit %u)", SIMHV_CONNS_DOM0);
        close(cfd);
    }
}
