/*
 * wire.c: the server, its listening sockets and its connections.
 *
 * Each connection reads whole xsd_sockmsg messages into a fixed buffer and
 * hands them to ops.c; replies and watch events go to a per-connection
 * queue written without blocking. Bounds (XSA-326): a connection with
 * `outstanding` unsent replies is not read until they drain, and one whose
 * queue would exceed `outbuf` bytes is dropped. A message longer than
 * XENSTORE_PAYLOAD_MAX or of an unknown type is answered with an error and
 * the connection dropped. Nothing here touches another connection's state.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "tools/simhv/xenstored/xss-internal.h"

/* Messages written with one sendmsg(). */
#define XSS_WRITE_BATCH 64

static void xss_conn_free(struct xss_conn *c)
{
    struct xss_msg *m;

    if (!c)
        return;
    xss_watch_free_all(c);
    while (!LIST_EMPTY(&c->txns))
        xss_txn_free(LIST_FIRST(&c->txns));
    while ((m = TAILQ_FIRST(&c->out))) {
        TAILQ_REMOVE(&c->out, m, link);
        free(m);
    }
    if (c->ev_free)
        event_free(c->ev_free);
    if (c->ev_write)
        event_free(c->ev_write);
    if (c->ev_read)
        event_free(c->ev_read);
    if (c->fd >= 0)
        close(c->fd);
    LIST_REMOVE(c, dom_link);
    free(c);
}

static void xss_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    xss_conn_free(arg);
}

/* Drop @c: no more I/O now, its state goes on the next loop turn (callers
 * may still be iterating over its watches). */
void xss_conn_kill(struct xss_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    event_del(c->ev_read);
    event_del(c->ev_write);
    close(c->fd);
    c->fd = -1;
    event_active(c->ev_free, 0, 0);
}

static void xss_conn_sent(struct xss_conn *c, size_t n)
{
    struct xss_msg *m;
    size_t step;

    c->out_bytes -= n;
    while (n && (m = TAILQ_FIRST(&c->out))) {
        step = m->len - m->off < n ? m->len - m->off : n;
        m->off += step;
        n -= step;
        if (m->off < m->len)
            break;
        TAILQ_REMOVE(&c->out, m, link);
        if (m->reply)
            c->out_replies--;
        free(m);
    }
}

/* Write what the socket takes; keep EV_WRITE armed while output remains. */
static void xss_conn_flush(struct xss_conn *c)
{
    struct iovec iov[XSS_WRITE_BATCH];
    struct msghdr mh = {.msg_iov = iov};
    struct xss_msg *m;
    ssize_t n;

    while (!c->dead && !TAILQ_EMPTY(&c->out)) {
        mh.msg_iovlen = 0;
        TAILQ_FOREACH(m, &c->out, link)
        {
            if (mh.msg_iovlen == XSS_WRITE_BATCH)
                break;
            iov[mh.msg_iovlen].iov_base = m->data + m->off;
            iov[mh.msg_iovlen++].iov_len = m->len - m->off;
        }
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            xss_conn_kill(c);
            return;
        }
        xss_conn_sent(c, (size_t)n);
    }
    if (TAILQ_EMPTY(&c->out))
        event_del(c->ev_write);
    else
        event_add(c->ev_write, NULL);
    if (c->read_paused && c->out_replies < c->srv->lim.outstanding)
        event_active(c->ev_read, EV_READ, 0);
}

/* Queue a message; a client that lets its queue pass `outbuf` is dropped. */
int xss_conn_queue(struct xss_conn *c, const struct xsd_sockmsg *hdr,
                   const void *body, size_t len, bool reply)
{
    size_t total = sizeof(*hdr) + len;
    struct xss_msg *m;
    struct xsd_sockmsg h = *hdr;

    if (c->dead)
        return -EPIPE;
    if (c->out_bytes + total > c->srv->lim.outbuf) {
        xss_conn_kill(c);
        return -ENOBUFS;
    }
    m = malloc(sizeof(*m) + total);
    if (!m) {
        xss_conn_kill(c);
        return -ENOMEM;
    }
    h.len = (uint32_t)len;
    m->reply = reply;
    m->len = total;
    m->off = 0;
    memcpy(m->data, &h, sizeof(h));
    if (len)
        memcpy(m->data + sizeof(h), body, len);
    TAILQ_INSERT_TAIL(&c->out, m, link);
    c->out_bytes += total;
    if (reply)
        c->out_replies++;
    if (TAILQ_FIRST(&c->out) == m)
        xss_conn_flush(c);
    return 0;
}

/* A message we will not parse: answer it, then drop the connection. */
static void xss_conn_reject(struct xss_conn *c, const struct xsd_sockmsg *in,
                            int err)
{
    struct xsd_sockmsg hdr = *in;
    const char *name = xss_errno_name(err);

    hdr.type = XS_ERROR;
    xss_conn_queue(c, &hdr, name, strlen(name) + 1, true);
    xss_conn_kill(c);
}

/* Handle every whole message in the input buffer, unless too many replies
 * are waiting for the client to read them. */
static void xss_conn_process(struct xss_conn *c)
{
    char body[XENSTORE_PAYLOAD_MAX + 1];
    struct xsd_sockmsg hdr;
    size_t off = 0;

    while (!c->dead) {
        if (c->out_replies >= c->srv->lim.outstanding) {
            event_del(c->ev_read);
            c->read_paused = true;
            break;
        }
        if (c->in_len - off < sizeof(hdr))
            break;
        memcpy(&hdr, c->in + off, sizeof(hdr));
        if (hdr.len > XENSTORE_PAYLOAD_MAX) {
            xss_conn_reject(c, &hdr, E2BIG);
            return;
        }
        if (hdr.type >= XS_TYPE_COUNT || hdr.type == XS_WATCH_EVENT ||
            hdr.type == XS_ERROR) {
            xss_conn_reject(c, &hdr, EINVAL);
            return;
        }
        if (c->in_len - off < sizeof(hdr) + hdr.len)
            break;
        memcpy(body, c->in + off + sizeof(hdr), hdr.len);
        body[hdr.len] = '\0';
        off += sizeof(hdr) + hdr.len;
        xss_ops_handle(c, &hdr, body);
    }
    if (c->dead)
        return;
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

static void xss_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct xss_conn *c = arg;
    ssize_t n;

    (void)what;
    if (c->dead)
        return;
    if (c->read_paused) {
        if (c->out_replies >= c->srv->lim.outstanding)
            return;
        c->read_paused = false;
        event_add(c->ev_read, NULL);
    }
    /* A full buffer holds whole messages left by a pause: handle them. */
    if (c->in_len < sizeof(c->in)) {
        n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR)) {
            xss_conn_kill(c);
            return;
        }
        if (n > 0)
            c->in_len += (size_t)n;
    }
    xss_conn_process(c);
}

static void xss_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    xss_conn_flush(arg);
}

int xss_conn_add(struct xss_server *srv, int fd, domid_t domid)
{
    struct xss_domain *d = xss_domain_get(srv, domid);
    struct xss_conn *c;
    int flags = fcntl(fd, F_GETFL);

    if (!d || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        goto err_close;
    c = calloc(1, sizeof(*c));
    if (!c)
        goto err_close;
    c->srv = srv;
    c->dom = d;
    c->fd = fd;
    c->next_txid = 1;
    TAILQ_INIT(&c->out);
    LIST_INIT(&c->watches);
    LIST_INIT(&c->txns);
    LIST_INSERT_HEAD(&d->conns, c, dom_link);
    c->ev_read =
        event_new(srv->base, fd, EV_READ | EV_PERSIST, xss_conn_read_cb, c);
    c->ev_write =
        event_new(srv->base, fd, EV_WRITE | EV_PERSIST, xss_conn_write_cb, c);
    c->ev_free = event_new(srv->base, -1, 0, xss_conn_free_cb, c);
    if (!c->ev_read || !c->ev_write || !c->ev_free ||
        event_add(c->ev_read, NULL)) {
        xss_conn_free(c);
        return -ENOMEM;
    }
    return 0;

err_close:
    close(fd);
    return d ? -ENOMEM : -EINVAL;
}

static void xss_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
                          struct sockaddr *sa, int salen, void *arg)
{
    struct xss_listener *l = arg;

    (void)lev;
    (void)sa;
    (void)salen;
    xss_conn_add(l->srv, fd, l->dom->id);
}

static void xss_listener_free(struct xss_listener *l)
{
    if (!l)
        return;
    LIST_REMOVE(l, link);
    evconnlistener_free(l->lev);
    unlink(l->path);
    free(l->path);
    free(l);
}

int xss_listen(struct xss_server *srv, const char *socket_path, domid_t domid)
{
    struct xss_domain *d = xss_domain_get(srv, domid);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct xss_listener *l;

    if (!d || strlen(socket_path) >= sizeof(sun.sun_path))
        return -EINVAL;
    strcpy(sun.sun_path, socket_path);
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->path = strdup(socket_path);
    if (!l->path)
        goto err_free;
    unlink(socket_path);
    l->srv = srv;
    l->dom = d;
    l->lev =
        evconnlistener_new_bind(srv->base, xss_accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                64, (struct sockaddr *)&sun, sizeof(sun));
    if (!l->lev)
        goto err_free;
    LIST_INSERT_HEAD(&d->listeners, l, link);
    return 0;

err_free:
    free(l->path);
    free(l);
    return errno ? -errno : -ENOMEM;
}

/* Drop every connection and socket of @d, now. */
void xss_domain_disconnect(struct xss_domain *d)
{
    while (!LIST_EMPTY(&d->conns))
        xss_conn_free(LIST_FIRST(&d->conns));
    while (!LIST_EMPTY(&d->listeners))
        xss_listener_free(LIST_FIRST(&d->listeners));
}
