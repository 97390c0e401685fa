/*
 * Sim platform client connections. A sim domain's processes share the
 * socket they inherited (DRVDOM_SIM_FD); each handle sends one end of a
 * fresh socketpair over it (SIMHV_OP_CLONE, never answered, so concurrent
 * processes cannot steal each other's replies) and talks on the other end.
 * Domain 0 processes connect to <run-dir>/simhv.sock instead.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "drvdom/plat-sim.h"
#include "platform/sim/sim-private.h"

const char *plat_sim_rundir(void)
{
    const char *dir = getenv("DRVDOM_SIM_RUNDIR");

    return dir && dir[0] ? dir : PLAT_SIM_RUNDIR_DEFAULT;
}

static int plat_sim_send(int fd, const struct simhv_req *req,
                         const void *payload, size_t len, int sendfd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov[2] = {
        {(void *)req, sizeof(*req)},
        {(void *)payload, len},
    };
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    struct cmsghdr *cm;

    if (sendfd >= 0) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
    }
    while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

void plat_sim_reply_close_fds(struct plat_sim_reply *rep)
{
    unsigned int i;

    for (i = 0; i < rep->nfds; i++)
        close(rep->fds[i]);
    rep->nfds = 0;
}

static void plat_sim_take_fds(struct msghdr *mh, struct plat_sim_reply *rep)
{
    struct cmsghdr *cm;
    size_t k, n;
    int f;

    for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < n; k++) {
            memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
            if (rep->nfds < SIMHV_MAX_FDS)
                rep->fds[rep->nfds++] = f;
            else
                close(f);
        }
    }
}

static int plat_sim_recv(int fd, struct plat_sim_reply *rep)
{
    char cbuf[CMSG_SPACE(sizeof(int) * SIMHV_MAX_FDS)];
    struct iovec iov[2] = {
        {&rep->rep, sizeof(rep->rep)},
        {rep->payload, rep->payload_max},
    };
    struct msghdr mh = {
        .msg_iov = iov,
        .msg_iovlen = 2,
        .msg_control = cbuf,
        .msg_controllen = sizeof(cbuf),
    };
    ssize_t n;

    rep->nfds = 0;
    do {
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    plat_sim_take_fds(&mh, rep);
    if (n == 0)
        return -ECONNRESET; /* the daemon dropped us (or is gone) */
    if ((size_t)n < sizeof(rep->rep) || (mh.msg_flags & MSG_TRUNC)) {
        plat_sim_reply_close_fds(rep);
        return -EPROTO;
    }
    rep->payload_len = (size_t)n - sizeof(rep->rep);
    return 0;
}

int plat_sim_call(struct plat_sim_conn *conn, const struct simhv_req *req,
                  const void *payload, size_t len, struct plat_sim_reply *rep)
{
    int ret;

    if (sizeof(*req) + len > SIMHV_MSG_MAX)
        return -E2BIG;
    pthread_mutex_lock(&conn->lock);
    ret = plat_sim_send(conn->fd, req, payload, len, -1);
    if (!ret)
        ret = plat_sim_recv(conn->fd, rep);
    pthread_mutex_unlock(&conn->lock);
    if (ret)
        return ret;
    if (rep->rep.err) {
        plat_sim_reply_close_fds(rep);
        return rep->rep.err < 0 ? rep->rep.err : -EPROTO;
    }
    return 0;
}

static int plat_sim_connect(int *fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *env = getenv("DRVDOM_SIM_FD");
    struct simhv_req req = {.op = SIMHV_OP_CLONE};
    int sv[2], ret;
    char *end;
    long inh;

    if (env) {
        inh = strtol(env, &end, 10);
        if (!env[0] || *end || inh < 0 || inh > INT32_MAX)
            return -EBADF;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
            return -errno;
        ret = plat_sim_send((int)inh, &req, NULL, 0, sv[1]);
        close(sv[1]);
        if (ret) {
            close(sv[0]);
            return ret;
        }
        *fd = sv[0];
        return 0;
    }
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s",
                         plat_sim_rundir(),
                         SIMHV_SOCK_NAME) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    *fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (*fd < 0)
        return -errno;
    if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa))) {
        ret = -errno;
        close(*fd);
        return ret;
    }
    return 0;
}

int plat_sim_conn_open(struct plat_sim_conn **out)
{
    struct simhv_req req = {.op = SIMHV_OP_HELLO};
    struct plat_sim_reply rep = {0};
    struct plat_sim_conn *conn;
    int ret;

    conn = calloc(1, sizeof(*conn));
    if (!conn)
        return -ENOMEM;
    pthread_mutex_init(&conn->lock, NULL);
    ret = plat_sim_connect(&conn->fd);
    if (ret)
        goto err_free;
    ret = plat_sim_call(conn, &req, NULL, 0, &rep);
    if (ret)
        goto err_close;
    plat_sim_reply_close_fds(&rep);
    conn->domid = (domid_t)rep.rep.val0;
    *out = conn;
    return 0;

err_close:
    close(conn->fd);
err_free:
    pthread_mutex_destroy(&conn->lock);
    free(conn);
    return ret;
}

void plat_sim_conn_close(struct plat_sim_conn *conn)
{
    if (!conn)
        return;
    close(conn->fd);
    pthread_mutex_destroy(&conn->lock);
    free(conn);
}
