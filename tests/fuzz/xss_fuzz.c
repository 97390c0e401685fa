/*
 * xss_fuzz.c - libFuzzer target: hostile clients of the sim platform's
 * xenstore server (tools/simhv/xenstored). Each input is a script of wire
 * messages sent by three clients (dom0, and guests 5 and 6, which a script
 * may relate with SET_TARGET) to one fresh server on a private event loop;
 * replies and watch events are read and dropped. What is checked is that
 * no message sequence makes the server misbehave in memory (ASan, UBSan)
 * or leak; a client the server drops for breaking the protocol is
 * reconnected.
 *
 * Script record: [client:1][type:1][tx:1][len:2 LE][body:len]
 *   client % 3 picks the client; type is used as is (unknown types too);
 *   tx 0 is no transaction, else the last transaction id the server gave
 *   that client plus (tx - 1) (so stale and foreign ids are tried);
 *   len is cut to what is left of the input (the header says it, not
 *   the body's real size, when the record is the last one: a short body).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <xen/io/xs_wire.h>

#include "tools/simhv/xenstored/xss.h"

#define XF_CLIENTS 3

struct xf_cli {
    int fd;           /* our end, -1 when the server dropped it */
    domid_t domid;    /* who it speaks for */
    uint32_t last_tx; /* last transaction id the server gave it */
    uint8_t in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    size_t in_len; /* bytes of in[] not yet parsed */
};

static void xf_pump(struct event_base *base)
{
    int i;

    for (i = 0; i < 3; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

static void xf_connect(struct xss_server *srv, struct xf_cli *c)
{
    int sv[2];

    c->fd = -1;
    c->in_len = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    if (xss_conn_add(srv, sv[1], c->domid) < 0) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    c->fd = sv[0];
}

/* Read what the server sent; remember a TRANSACTION_START's id. */
static void xf_drain(struct xss_server *srv, struct xf_cli *c)
{
    struct xsd_sockmsg h;
    ssize_t n;

    if (c->fd < 0)
        return;
    for (;;) {
        n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        if (n == 0) { /* dropped: a fresh connection for the rest */
            close(c->fd);
            xf_connect(srv, c);
            return;
        }
        if (n < 0)
            break;
        c->in_len += (size_t)n;
        while (c->in_len >= sizeof(h)) {
            memcpy(&h, c->in, sizeof(h));
            if (h.len > XENSTORE_PAYLOAD_MAX)
                abort(); /* the server broke the protocol */
            if (c->in_len < sizeof(h) + h.len)
                break;
            if (h.type == XS_TRANSACTION_START && h.len > 0)
                c->last_tx = (uint32_t)strtoul((const char *)c->in + sizeof(h),
                                               NULL, 10);
            c->in_len -= sizeof(h) + h.len;
            memmove(c->in, c->in + sizeof(h) + h.len, c->in_len);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const domid_t domids[XF_CLIENTS] = {0, 5, 6};
    struct xf_cli cli[XF_CLIENTS];
    struct event_base *base = event_base_new();
    struct xss_limits lim;
    struct xss_server *srv;
    struct xsd_sockmsg h;
    size_t pos = 0, len;
    unsigned i;
    struct xf_cli *c;

    xss_limits_default(&lim);
    srv = xss_server_new(base, &lim);
    if (srv == NULL)
        abort();
    xss_domain_make(srv, 5, "guest5");
    xss_domain_make(srv, 6, "guest6");
    for (i = 0; i < XF_CLIENTS; i++) {
        memset(&cli[i], 0, sizeof(cli[i]));
        cli[i].domid = domids[i];
        xf_connect(srv, &cli[i]);
    }
    while (size - pos >= 5) {
        c = &cli[data[pos] % XF_CLIENTS];
        memset(&h, 0, sizeof(h));
        h.type = data[pos + 1];
        h.tx_id = data[pos + 2] ? c->last_tx + data[pos + 2] - 1u : 0;
        h.req_id = (uint32_t)pos;
        h.len = (uint32_t)data[pos + 3] | (uint32_t)data[pos + 4] << 8;
        pos += 5;
        len = size - pos < h.len ? size - pos : h.len;
        if (c->fd >= 0 && (write(c->fd, &h, sizeof(h)) < 0 ||
                           (len > 0 && write(c->fd, data + pos, len) < 0))) {
            close(c->fd);
            xf_connect(srv, c);
        }
        pos += len;
        xf_pump(base);
        for (i = 0; i < XF_CLIENTS; i++)
            xf_drain(srv, &cli[i]);
    }
    for (i = 0; i < XF_CLIENTS; i++)
        if (cli[i].fd >= 0)
            close(cli[i].fd);
    xf_pump(base);
    xss_server_free(srv);
    event_base_free(base);
    return 0;
}
