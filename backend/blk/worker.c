/*
 * worker.c - drvdom-blkback, the drvdomd worker of the vbd device type.
 *
 *   drvdom-blkback --features
 *   drvdom-blkback --type vbd --fe N --devid D --backend-path P
 *                  --frontend-path F --status-fd FD [--journal-fd J]
 *                  [--poll-us US] [--data copy|map] [--adopt]
 *
 * Serves the file or block device named by the backend's "params" to one
 * frontend over xen/io/blkif.h: reads the toolstack's and the frontend's
 * keys, opens the store, maps every queue's ring and binds its port, writes
 * the device's features, drops privileges, says "connected" on FD and runs
 * one thread per queue (queue.c) until SIGTERM/SIGINT. With --adopt (a
 * restarted worker) each ring is attached in use and the features are left
 * as they are. J is the device's request journal (a file drvdomd keeps
 * across restarts): each queue's taken requests are copied there before they
 * are acted on, so an adopting worker gets from it the requests whose ring
 * slots responses may already have overwritten. After activity a queue
 * busy-polls its ring and its completions for US microseconds (default
 * DRVDOM_BLKBACK_POLL_US, else 50 on the sim platform and 1000 on Xen; 0: off)
 * before it sleeps.
 * --data (else the environment's DRVDOM_BLKBACK_DATA, which drvdomd's workers
 * inherit) says how data moves: copy (the default on Xen) moves it through
 * the queue's own buffers (copy.c), by the CPU through persistent grants when
 * the frontend uses them, else by grant copy; map (the default on the sim
 * platform) maps the guest's pages and does the I/O on them (queue.c). Exit
 * status: 0 on a signal, 3 when the frontend's keys, refs, ports or ring are
 * unusable (or it broke a ring later), 1 for anything else (the backing store,
 * the toolstack's keys), 2 for usage.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>

#include "backend/blk/blkback-internal.h"
#include "backend/worker-args.h"

#define BLKBACK_EXIT_OK    0
#define BLKBACK_EXIT_FAIL  1
#define BLKBACK_EXIT_USAGE 2
#define BLKBACK_EXIT_PEER  3

/* One queue and its thread. */
struct blkback_thread {
    struct blkback_queue q; /* the data path */
    pthread_t tid;          /* its thread */
    bool started;           /* tid is valid */
    int ret;                /* what blkback_queue_run returned */
    int stop_fd;            /* readable: stop (the worker's) */
    int done_fd;            /* written when the thread ends */
};

/* The whole worker. */
struct blkback_worker {
    struct worker_args a;                         /* command line */
    struct blkback_dev dev;                       /* shared by the queues */
    struct blkback_be_cfg be;                     /* toolstack's keys */
    struct blkback_fe_cfg fe;                     /* frontend's keys */
    struct blkback_io disk;                       /* the store, opened once */
    bool disk_open;                               /* disk needs closing */
    struct blkback_thread th[BLKBACK_MAX_QUEUES]; /* nr_queues of them */
    unsigned nr_open;                             /* queues opened */
    size_t journal_len;                           /* bytes of dev.journal */
    int stop_fd;                                  /* readable: threads stop */
    int done_fd;                                  /* a thread ended */
};

static const char blkback_usage[] =
    "usage: drvdom-blkback --features | --settings\n"
    "       drvdom-blkback --type vbd --fe N --devid D --backend-path P\n"
    "                      --frontend-path F --status-fd FD\n"
    "                      [--journal-fd J] [--poll-us US]\n"
    "                      [--data copy|map] [--adopt]\n"
    "Serves the backend's \"params\" file or block device to frontend N\n"
    "over blkif; run by drvdomd (see drvdom-blkback(8)). --data defaults\n"
    "to $DRVDOM_BLKBACK_DATA, else copy on Xen, map on the sim platform.\n";

/* --data, else DRVDOM_BLKBACK_DATA, else the platform's. 0 or -EINVAL. */
static int blkback_data_mode(struct worker_args *a)
{
    const char *env = getenv("DRVDOM_BLKBACK_DATA");

    if (a->data != WORKER_DATA_DEFAULT)
        return 0;
    if (env != NULL && env[0] != '\0') {
        if (worker_args_data(env, &a->data) == 0)
            return 0;
        fprintf(stderr,
                "drvdom-blkback: DRVDOM_BLKBACK_DATA=%s: not copy "
                "or map\n",
                env);
        return -EINVAL;
    }
    a->data = plat_current() == PLAT_XEN ? WORKER_DATA_COPY : WORKER_DATA_MAP;
    return 0;
}

/*
 * No --poll-us: DRVDOM_BLKBACK_POLL_US (drvdomd's workers inherit it), else
 * the platform's default. 0 or -EINVAL.
 */
static int blkback_poll_env(struct worker_args *a)
{
    const char *env = getenv("DRVDOM_BLKBACK_POLL_US");
    long v;

    a->poll_us =
        plat_current() == PLAT_XEN ? BLKBACK_POLL_US_XEN : BLKBACK_POLL_US;
    if (env == NULL || *env == '\0')
        return 0;
    v = worker_args_num(env, BLKBACK_POLL_US_MAX);
    if (v < 0) {
        fprintf(stderr,
                "drvdom-blkback: DRVDOM_BLKBACK_POLL_US=%s: not a number "
                "of microseconds from 0 to %u\n",
                env, BLKBACK_POLL_US_MAX);
        return -EINVAL;
    }
    a->poll_us = (int)v;
    return 0;
}

/* The command line (worker-args.c) and the options only blkback has. */
static int blkback_parse(struct worker_args *a, int argc, char **argv)
{
    if (worker_args_parse(a, argc, argv, "vbd", BLKBACK_POLL_US_MAX) < 0 ||
        blkback_data_mode(a) < 0 || (a->poll_us < 0 && blkback_poll_env(a) < 0))
        return -EINVAL;
    if (a->features) {
        blkback_xs_print_features(stdout);
        exit(BLKBACK_EXIT_OK);
    }
    if (a->settings) {
        printf("data %s\npoll-us %d\n",
               a->data == WORKER_DATA_MAP ? "map" : "copy", a->poll_us);
        exit(BLKBACK_EXIT_OK);
    }
    if (a->help) {
        fputs(blkback_usage, stdout);
        exit(BLKBACK_EXIT_OK);
    }
    return 0;
}

/* Open the store named by params, as the toolstack's keys say. */
static int blkback_open_disk(struct blkback_worker *w)
{
    struct blkback_io_opts opts = {
        .sector_size = w->be.sector_size,
        .physical_sector_size = w->be.physical_sector_size,
        .queue_depth = 1,
        .max_segs = BLKBACK_MAX_SEGS, /* bounds max_indirect (geom) */
        .readonly = w->be.readonly,
        .allow_buffered = w->be.buffered,
        .secure_discard = w->be.secure_discard,
    };
    int ret = blkback_io_open(&w->disk, w->be.params, &opts);

    w->disk_open = true;
    if (ret < 0 || w->disk.msg[0] != '\0')
        fprintf(stderr, "%s: %s\n", w->dev.name, w->disk.msg);
    if (ret < 0)
        return ret;
    blkback_io_geom(&w->disk, &w->dev.geom, BLKBACK_MAX_INDIRECT_SEGS);
    w->dev.geom.discard = w->dev.geom.discard && w->be.discard;
    w->dev.geom.discard_secure = w->dev.geom.discard_secure && w->be.discard;
    w->dev.disk = &w->disk;
    return 0;
}

/*
 * Everything xenstore says: the toolstack's keys, the store, the
 * frontend's keys; then (not on adopt) the device's features. Returns an
 * exit status.
 */
static int blkback_setup_keys(struct blkback_worker *w, struct xs_handle *xs)
{
    char msg[256];
    int ret;

    ret = blkback_xs_read_backend(xs, w->a.be_path, &w->be, msg, sizeof(msg));
    if (ret < 0) {
        fprintf(stderr, "%s: %s\n", w->dev.name, msg);
        return BLKBACK_EXIT_FAIL;
    }
    if (blkback_open_disk(w) < 0)
        return BLKBACK_EXIT_FAIL;
    ret = blkback_xs_read_frontend(xs, w->a.fe_path, &w->fe, msg, sizeof(msg));
    if (ret < 0) {
        fprintf(stderr, "%s: refusing the frontend: %s\n", w->dev.name, msg);
        return BLKBACK_EXIT_PEER;
    }
    /* Both ends offered it (drvdomd wrote ours at probe). */
    w->dev.persistent = w->fe.persistent && w->be.persistent;
    return BLKBACK_EXIT_OK;
}

/* Map the journal file, a slot per queue (a new one is zeroes). */
static int blkback_map_journal(struct blkback_worker *w)
{
    size_t len = (size_t)w->fe.nr_queues * BLKBACK_JOURNAL_SLOT;
    void *addr;
    int ret;

    if (w->a.journal_fd < 0)
        return 0;
    ret = worker_journal_map(w->a.journal_fd, len, &addr);
    if (ret < 0)
        return ret;
    w->dev.journal = addr;
    w->journal_len = len;
    return 0;
}

/* Map every queue's ring and bind its port. Returns an exit status. */
static int blkback_open_queues(struct blkback_worker *w)
{
    unsigned i;
    int ret;

    ret = blkback_map_journal(w);
    if (ret < 0) {
        fprintf(stderr, "%s: journal: %s\n", w->dev.name, strerror(-ret));
        return BLKBACK_EXIT_FAIL;
    }
    for (i = 0; i < w->fe.nr_queues; i++) {
        ret = blkback_queue_open(&w->th[i].q, &w->dev, i, w->fe.nr_queues,
                                 &w->fe.queues[i], w->a.adopt);
        w->nr_open = i + 1;
        if (ret < 0)
            return w->th[i].q.peer_fault ? BLKBACK_EXIT_PEER
                                         : BLKBACK_EXIT_FAIL;
    }
    return BLKBACK_EXIT_OK;
}

/*
 * Once the rings are mapped nothing needs privileges: no new ones through
 * exec (PR_SET_NO_NEW_PRIVS) and every capability of this thread, which
 * the queue threads inherit, dropped. Open descriptors keep working.
 */
static void blkback_drop_privileges(const struct blkback_worker *w)
{
    struct __user_cap_header_struct hdr = {.version =
                                               _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_capset, &hdr, data) < 0)
        fprintf(stderr, "%s: cannot drop privileges: %s\n", w->dev.name,
                strerror(errno));
}

static void *blkback_thread_main(void *arg)
{
    struct blkback_thread *t = arg;
    uint64_t one = 1;

    t->ret = blkback_queue_run(&t->q, t->stop_fd);
    if (write(t->done_fd, &one, sizeof(one)) < 0)
        t->ret = t->ret ? t->ret : -errno;
    return NULL;
}

/* Start one thread per queue. 0 or -errno. */
static int blkback_start_threads(struct blkback_worker *w)
{
    unsigned i;
    int ret;

    for (i = 0; i < w->fe.nr_queues; i++) {
        w->th[i].stop_fd = w->stop_fd;
        w->th[i].done_fd = w->done_fd;
        ret =
            pthread_create(&w->th[i].tid, NULL, blkback_thread_main, &w->th[i]);
        if (ret != 0) {
            fprintf(stderr, "%s: pthread_create: %s\n", w->dev.name,
                    strerror(ret));
            return -ret;
        }
        w->th[i].started = true;
    }
    return 0;
}

/*
 * Wait for a signal or a thread ending (a broken ring), stop and join
 * every thread. Returns an exit status.
 */
static int blkback_serve(struct blkback_worker *w, int sfd)
{
    struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
                            {.fd = w->done_fd, .events = POLLIN}};
    int status = BLKBACK_EXIT_OK;
    uint64_t one = 1;
    unsigned i;

    if (blkback_start_threads(w) < 0)
        status = BLKBACK_EXIT_FAIL;
    while (status == BLKBACK_EXIT_OK && poll(pfd, 2, -1) < 0 && errno == EINTR)
        ;
    if (write(w->stop_fd, &one, sizeof(one)) < 0)
        status = BLKBACK_EXIT_FAIL;
    for (i = 0; i < w->fe.nr_queues; i++) {
        if (!w->th[i].started)
            continue;
        pthread_join(w->th[i].tid, NULL);
        w->th[i].started = false;
        if (w->th[i].ret == -EPROTO)
            status = BLKBACK_EXIT_PEER;
        else if (w->th[i].ret < 0 && status == BLKBACK_EXIT_OK)
            status = BLKBACK_EXIT_FAIL;
    }
    return status;
}

static void blkback_fini(struct blkback_worker *w)
{
    unsigned i;

    for (i = 0; i < w->nr_open; i++)
        blkback_queue_close(&w->th[i].q);
    if (w->disk_open)
        blkback_io_close(&w->disk);
    if (w->dev.journal != NULL)
        munmap(w->dev.journal, w->journal_len);
    if (w->a.journal_fd >= 0)
        close(w->a.journal_fd);
    blkback_xs_backend_free(&w->be);
    if (w->stop_fd >= 0)
        close(w->stop_fd);
    if (w->done_fd >= 0)
        close(w->done_fd);
}

/* Keys, store, rings, features. Returns an exit status. */
static int blkback_setup(struct blkback_worker *w)
{
    struct xs_handle *xs = xs_open(0);
    int status;

    if (xs == NULL) {
        fprintf(stderr, "%s: cannot open xenstore: %s\n", w->dev.name,
                strerror(errno));
        return BLKBACK_EXIT_FAIL;
    }
    status = blkback_setup_keys(w, xs);
    if (status == BLKBACK_EXIT_OK)
        status = blkback_open_queues(w);
    if (status == BLKBACK_EXIT_OK && !w->a.adopt &&
        blkback_xs_write_device(xs, w->a.be_path, &w->dev, &w->disk,
                                w->be.cdrom) < 0) {
        fprintf(stderr, "%s: cannot write the device's features\n",
                w->dev.name);
        status = BLKBACK_EXIT_FAIL;
    }
    xs_close(xs);
    return status;
}

static void blkback_status(const struct blkback_worker *w, const char *line)
{
    if (write(w->a.status_fd, line, strlen(line)) < 0)
        return; /* drvdomd restarted: nobody to tell */
}

int main(int argc, char **argv)
{
    struct blkback_worker w = {.stop_fd = -1, .done_fd = -1};
    sigset_t mask;
    int sfd, status;

    if (blkback_parse(&w.a, argc, argv) < 0) {
        fputs(blkback_usage, stderr);
        return BLKBACK_EXIT_USAGE;
    }
    snprintf(w.dev.name, sizeof(w.dev.name), "vbd/%u/%u", w.a.fe, w.a.devid);
    w.dev.fe = w.a.fe;
    w.dev.max_pgrants = BLKBACK_MAX_PGRANTS;
    w.dev.status_fd = w.a.status_fd;
    w.dev.report_first = w.a.adopt;
    w.dev.poll_us = (uint32_t)w.a.poll_us;
    w.dev.copy = w.a.data == WORKER_DATA_COPY;
    atomic_flag_clear(&w.dev.first_done);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    w.stop_fd = eventfd(0, EFD_CLOEXEC);
    w.done_fd = eventfd(0, EFD_CLOEXEC);
    if (sfd < 0 || w.stop_fd < 0 || w.done_fd < 0) {
        fprintf(stderr, "%s: %s\n", w.dev.name, strerror(errno));
        return BLKBACK_EXIT_FAIL;
    }
    status = blkback_setup(&w);
    if (status == BLKBACK_EXIT_OK) {
        blkback_drop_privileges(&w);
        blkback_status(&w, "connected\n");
        fprintf(stderr, "%s: connected: %s, %llu sectors, %u queue(s)%s%s%s\n",
                w.dev.name, w.be.params,
                (unsigned long long)w.dev.geom.nr_sectors, w.fe.nr_queues,
                w.dev.copy ? ", data copied via own buffers"
                           : ", grants mapped",
                w.dev.persistent ? ", persistent grants" : "",
                w.a.adopt ? ", adopted" : "");
        status = blkback_serve(&w, sfd);
    }
    blkback_fini(&w);
    close(sfd);
    return status;
}
