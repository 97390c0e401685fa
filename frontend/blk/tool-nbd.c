/*
 * drvdom-blkfront nbd: serves the device as an NBD export on a unix socket
 * (newstyle fixed handshake: NBD_OPT_GO/INFO/EXPORT_NAME/LIST/ABORT; simple
 * replies; READ, WRITE with FUA, FLUSH, TRIM, DISC), so that qemu-img,
 * nbdcopy, nbdinfo and nbdfuse work on it. One client at a time, one
 * request at a time; a request is split into max_io requests on the ring
 * kept in flight together (blkfront_pread/pwrite). Unaligned requests are
 * read-modify-written through a bounce buffer.
 *
 * Why not an nbdkit plugin: a plugin is a position-independent shared
 * object loaded into nbdkit, while drvdom's libraries are static archives
 * built with the sanitizers; the tests would need nbdkit run under
 * LD_PRELOAD=libasan and a second, -fPIC build of the platform, xsg and
 * ringbuf code. The protocol subset a block export needs is small.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frontend/blk/tool.h"

#define NBD_MAGIC           0x4e42444d41474943ull /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC      0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_REP_MAGIC       0x3e889045565a9ull
#define NBD_REQUEST_MAGIC   0x25609513u
#define NBD_SIMPLE_REPLY    0x67446698u
#define NBD_FLAG_FIXED      1u
#define NBD_FLAG_NO_ZEROES  2u
#define NBD_OPT_EXPORT_NAME 1u
#define NBD_OPT_ABORT       2u
#define NBD_OPT_LIST        3u
#define NBD_OPT_INFO        6u
#define NBD_OPT_GO          7u
#define NBD_REP_ACK         1u
#define NBD_REP_SERVER      2u
#define NBD_REP_INFO        3u
#define NBD_REP_ERR_UNSUP   0x80000001u
#define NBD_REP_ERR_INVALID 0x80000003u
#define NBD_INFO_EXPORT     0u
#define NBD_INFO_BLOCK_SIZE 3u
#define NBD_TF_HAS_FLAGS    0x1u
#define NBD_TF_READ_ONLY    0x2u
#define NBD_TF_SEND_FLUSH   0x4u
#define NBD_TF_SEND_FUA     0x8u
#define NBD_TF_SEND_TRIM    0x20u
#define NBD_CMD_READ        0u
#define NBD_CMD_WRITE       1u
#define NBD_CMD_DISC        2u
#define NBD_CMD_FLUSH       3u
#define NBD_CMD_TRIM        4u
#define NBD_CMD_FLAG_FUA    1u
/* Largest request accepted (what we advertise as the maximum block). */
#define NBD_MAX_REQ (32u * 1024u * 1024u)
/* Longest option payload read. */
#define NBD_MAX_OPT 4096u

/* One client connection. */
struct bft_nbd {
    struct blkfront *bf; /* device */
    int fd;              /* client socket */
    uint8_t *buf;        /* request data, NBD_MAX_REQ bytes */
    uint16_t tflags;     /* transmission flags */
    bool no_zeroes;      /* client set NBD_FLAG_C_NO_ZEROES */
};

static int bft_nbd_io(int fd, void *p, size_t n, bool wr)
{
    uint8_t *b = p;
    ssize_t r;

    while (n) {
        r = wr ? write(fd, b, n) : read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -ECONNRESET;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* An option reply: magic, option, type, length, data. */
static int bft_nbd_rep(struct bft_nbd *c, uint32_t opt, uint32_t type,
                       const void *data, uint32_t len)
{
    struct __attribute__((packed)) {
        uint64_t magic;
        uint32_t opt, type, len;
    } h = {htobe64(NBD_REP_MAGIC), htobe32(opt), htobe32(type), htobe32(len)};
    int ret = bft_nbd_io(c->fd, &h, sizeof(h), true);

    return ret || !len ? ret : bft_nbd_io(c->fd, (void *)data, len, true);
}

/* NBD_OPT_INFO/GO: the export's size, flags and block sizes, then ACK. */
static int bft_nbd_info(struct bft_nbd *c, uint32_t opt)
{
    const struct blkfront_info *in = blkfront_info(c->bf);
    struct __attribute__((packed)) {
        uint16_t type;
        uint64_t size;
        uint16_t flags;
    } ex = {htobe16(NBD_INFO_EXPORT), htobe64(in->size), htobe16(c->tflags)};
    struct __attribute__((packed)) {
        uint16_t type;
        uint32_t min, pref, max;
    } bs = {htobe16(NBD_INFO_BLOCK_SIZE), htobe32(1), htobe32(4096),
            htobe32(NBD_MAX_REQ)};
    int ret;

    ret = bft_nbd_rep(c, opt, NBD_REP_INFO, &ex, sizeof(ex));
    if (!ret)
        ret = bft_nbd_rep(c, opt, NBD_REP_INFO, &bs, sizeof(bs));
    if (!ret)
        ret = bft_nbd_rep(c, opt, NBD_REP_ACK, NULL, 0);
    return ret;
}

/* NBD_OPT_EXPORT_NAME: size and flags, no reply header. */
static int bft_nbd_export_name(struct bft_nbd *c)
{
    struct __attribute__((packed)) {
        uint64_t size;
        uint16_t flags;
        uint8_t zero[124];
    } r = {htobe64(blkfront_info(c->bf)->size), htobe16(c->tflags), {0}};

    return bft_nbd_io(c->fd, &r, c->no_zeroes ? 10 : sizeof(r), true);
}

/* The option haggling; 1 when transmission starts, 0/-errno to hang up. */
static int bft_nbd_option(struct bft_nbd *c)
{
    struct __attribute__((packed)) {
        uint64_t magic;
        uint32_t opt, len;
    } h;
    uint8_t data[NBD_MAX_OPT];
    static const uint8_t name[4] = {0, 0, 0, 0};
    uint32_t opt, len;
    int ret;

    ret = bft_nbd_io(c->fd, &h, sizeof(h), false);
    if (ret)
        return ret;
    opt = be32toh(h.opt);
    len = be32toh(h.len);
    if (be64toh(h.magic) != NBD_OPTS_MAGIC || len > NBD_MAX_OPT)
        return -EPROTO;
    ret = bft_nbd_io(c->fd, data, len, false);
    if (ret)
        return ret;
    switch (opt) {
    case NBD_OPT_EXPORT_NAME:
        ret = bft_nbd_export_name(c);
        return ret ? ret : 1;
    case NBD_OPT_ABORT:
        bft_nbd_rep(c, opt, NBD_REP_ACK, NULL, 0);
        return 0;
    case NBD_OPT_LIST: /* one export, named "" */
        ret = bft_nbd_rep(c, opt, NBD_REP_SERVER, name, sizeof(name));
        return ret ? ret : bft_nbd_rep(c, opt, NBD_REP_ACK, NULL, 0);
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
        if (len < 6)
            return bft_nbd_rep(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
        ret = bft_nbd_info(c, opt);
        return ret ? ret : opt == NBD_OPT_GO;
    default:
        return bft_nbd_rep(c, opt, NBD_REP_ERR_UNSUP, NULL, 0);
    }
}

/* Newstyle fixed greeting, client flags, options. 1: transmission. */
static int bft_nbd_handshake(struct bft_nbd *c)
{
    struct __attribute__((packed)) {
        uint64_t magic, opts;
        uint16_t flags;
    } g = {htobe64(NBD_MAGIC), htobe64(NBD_OPTS_MAGIC),
           htobe16(NBD_FLAG_FIXED | NBD_FLAG_NO_ZEROES)};
    uint32_t cflags;
    int ret;

    ret = bft_nbd_io(c->fd, &g, sizeof(g), true);
    if (!ret)
        ret = bft_nbd_io(c->fd, &cflags, sizeof(cflags), false);
    if (ret)
        return ret;
    c->no_zeroes = be32toh(cflags) & NBD_FLAG_NO_ZEROES;
    do
        ret = bft_nbd_option(c);
    while (ret == 0 && !bft_stop);
    return ret;
}

/* Reads or writes [off, off+len), unaligned ends through the bounce. */
static int bft_nbd_rw(struct bft_nbd *c, bool wr, uint8_t *data, uint64_t off,
                      uint32_t len)
{
    uint32_t ss = blkfront_info(c->bf)->sector_size;
    uint64_t a = off / ss * ss, end = (off + len + ss - 1) / ss * ss;
    uint8_t *bounce;
    int ret;

    if (a == off && end == off + len)
        return wr ? blkfront_pwrite(c->bf, data, len, off)
                  : blkfront_pread(c->bf, data, len, off);
    /* Unaligned (rare: clients honour the preferred block size). */
    bounce = malloc(end - a);
    if (!bounce)
        return -ENOMEM;
    ret = blkfront_pread(c->bf, bounce, end - a, a);
    if (!ret && wr) {
        memcpy(bounce + (off - a), data, len);
        ret = blkfront_pwrite(c->bf, bounce, end - a, a);
    } else if (!ret) {
        memcpy(data, bounce + (off - a), len);
    }
    free(bounce);
    return ret;
}

/* errno to NBD error (EPERM, EIO, ENOMEM, EINVAL, ENOSPC, ENOTSUP). */
static uint32_t bft_nbd_err(int ret)
{
    switch (-ret) {
    case 0:
        return 0;
    case EROFS:
    case EPERM:
        return EPERM;
    case ENOMEM:
        return ENOMEM;
    case EINVAL:
        return EINVAL;
    case EOPNOTSUPP:
        return 95; /* NBD_ENOTSUP */
    default:
        return EIO;
    }
}

/* Runs one command; its reply has been sent when this returns 0. */
static int bft_nbd_cmd(struct bft_nbd *c, uint16_t flags, uint16_t type,
                       uint64_t cookie, uint64_t off, uint32_t len)
{
    struct __attribute__((packed)) {
        uint32_t magic, error;
        uint64_t cookie;
    } rep = {htobe32(NBD_SIMPLE_REPLY), 0, cookie};
    uint64_t size = blkfront_info(c->bf)->size;
    int ret = 0, io;

    if ((type == NBD_CMD_READ || type == NBD_CMD_WRITE) && len > NBD_MAX_REQ)
        return -EPROTO; /* cannot even skip the payload sanely */
    if (type == NBD_CMD_WRITE) {
        ret = bft_nbd_io(c->fd, c->buf, len, false);
        if (ret)
            return ret;
    }
    if (type != NBD_CMD_FLUSH && (off > size || len > size - off)) {
        io = -EINVAL;
    } else if (type == NBD_CMD_READ) {
        io = bft_nbd_rw(c, false, c->buf, off, len);
    } else if (type == NBD_CMD_WRITE) {
        io = bft_nbd_rw(c, true, c->buf, off, len);
        if (!io && (flags & NBD_CMD_FLAG_FUA))
            io = blkfront_flush(c->bf);
    } else if (type == NBD_CMD_FLUSH) {
        io = blkfront_flush(c->bf);
    } else if (type == NBD_CMD_TRIM) {
        uint32_t ss = blkfront_info(c->bf)->sector_size;
        uint64_t a = (off + ss - 1) / ss * ss, e = (off + len) / ss * ss;

        /* Trim is advisory: only whole sectors inside the range. */
        io = e > a ? blkfront_discard(c->bf, e - a, a) : 0;
    } else {
        io = -EINVAL;
    }
    rep.error = htobe32(bft_nbd_err(io));
    ret = bft_nbd_io(c->fd, &rep, sizeof(rep), true);
    if (!ret && type == NBD_CMD_READ && !io)
        ret = bft_nbd_io(c->fd, c->buf, len, true);
    return ret;
}

/* Transmission phase: requests until NBD_CMD_DISC or hang-up. */
/*
 * Waits for the client's next request, or for the backend to leave Connected
 * (the toolstack detaches the disk: -ESHUTDOWN, the export ends).
 */
static int bft_nbd_wait(struct bft_nbd *c)
{
    struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
                            {.fd = blkfront_xs_fd(c->bf), .events = POLLIN}};

    /* Look at xenstore only when it has something for us: checking costs a
     * read of its socket, and this runs once per NBD request. */
    for (;;) {
        if (bft_stop)
            return 0;
        if (poll(pfd, 2, 200) <= 0)
            continue;
        if ((pfd[1].revents & POLLIN) && blkfront_backend_closing(c->bf))
            return -ESHUTDOWN;
        if (pfd[0].revents & ~POLLOUT)
            return 0;
    }
}

static int bft_nbd_serve(struct bft_nbd *c)
{
    struct __attribute__((packed)) {
        uint32_t magic;
        uint16_t flags, type;
        uint64_t cookie, offset;
        uint32_t length;
    } rq;
    uint16_t type;
    int ret;

    while (!bft_stop) {
        ret = bft_nbd_wait(c);
        if (ret)
            return ret;
        ret = bft_nbd_io(c->fd, &rq, sizeof(rq), false);
        if (ret)
            return ret == -ECONNRESET ? 0 : ret;
        if (be32toh(rq.magic) != NBD_REQUEST_MAGIC)
            return -EPROTO;
        type = be16toh(rq.type);
        if (type == NBD_CMD_DISC)
            return 0;
        ret = bft_nbd_cmd(c, be16toh(rq.flags), type, rq.cookie,
                          be64toh(rq.offset), be32toh(rq.length));
        if (ret)
            return ret;
    }
    return 0;
}

/* A listening unix socket at path (replacing a stale one). */
static int bft_nbd_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)) {
        int err = -errno;

        close(fd);
        return err;
    }
    return fd;
}

int bft_nbd(struct blkfront *bf, const struct bft_opts *o)
{
    const struct blkfront_info *in = blkfront_info(bf);
    struct bft_nbd c = {.bf = bf, .fd = -1};
    struct pollfd pfd[2];
    int lfd, ret = 0;

    if (!o->sock) {
        fprintf(stderr, "nbd: --unix SOCKET is required\n");
        return -EINVAL;
    }
    c.tflags = NBD_TF_HAS_FLAGS | NBD_TF_SEND_FLUSH | NBD_TF_SEND_FUA;
    if (in->readonly)
        c.tflags |= NBD_TF_READ_ONLY;
    if (in->discard)
        c.tflags |= NBD_TF_SEND_TRIM;
    c.buf = malloc(NBD_MAX_REQ);
    lfd = bft_nbd_listen(o->sock);
    if (!c.buf || lfd < 0) {
        free(c.buf);
        fprintf(stderr, "nbd: %s: %s\n", o->sock,
                strerror(lfd < 0 ? -lfd : ENOMEM));
        if (lfd >= 0)
            close(lfd);
        return lfd < 0 ? lfd : -ENOMEM;
    }
    fprintf(stderr, "nbd: serving %s on %s\n", blkfront_name(bf), o->sock);
    while (!bft_stop && !blkfront_backend_closing(bf)) {
        pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = blkfront_xs_fd(bf), .events = POLLIN};
        if (poll(pfd, 2, 200) <= 0 || !(pfd[0].revents & POLLIN))
            continue;
        c.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c.fd < 0)
            continue;
        ret = bft_nbd_handshake(&c);
        if (ret == 1)
            ret = bft_nbd_serve(&c);
        if (ret < 0)
            fprintf(stderr, "nbd: client: %s\n", strerror(-ret));
        close(c.fd);
        c.fd = -1;
        if (ret == -EPROTO && blkfront_inflight(bf))
            break; /* the device failed */
        if (ret == -ESHUTDOWN)
            ret = 0; /* detached: the export ends cleanly */
    }
    if (blkfront_backend_closing(bf))
        fprintf(stderr, "nbd: %s detached by the toolstack\n",
                blkfront_name(bf));
    close(lfd);
    unlink(o->sock);
    free(c.buf);
    return ret < 0 && ret != -ECONNRESET && ret != -EPIPE ? ret : 0;
}
