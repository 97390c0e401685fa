/*
 * drvdomd workers: the xsg_back_ops of the daemon. Connecting a device runs
 * its worker (which maps the rings and binds the event channel itself); a
 * worker that dies while its device is Connected is re-executed with
 * --adopt, so the frontend never notices; a restarted drvdomd finds the
 * workers of its Connected devices through their run files and re-adopts
 * them (or restarts them with --adopt when they are gone).
 *
 * Every device has a request journal, a file next to its run file
 * ("<run file>.journal", on tmpfs under /run): its worker (fd 4,
 * --journal-fd 4) copies the requests it takes there before acting on them,
 * so a worker restarted with --adopt finds the ones whose ring slots
 * responses have already overwritten. It outlives the workers and drvdomd
 * (a restarted drvdomd opens it by name), is emptied when a worker starts
 * on a new connection and removed when the device's worker is stopped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "backend/drvdomd.h"

static int drvdomd_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void drvdomd_run_path(const struct drvdomd_dev *w, char *buf,
                             size_t size)
{
    snprintf(buf, size, "%s/%s-%u-%u", w->type->d->run_dir, w->type->name,
             xsg_dev_fe(w->dev), xsg_dev_devid(w->dev));
}

static void drvdomd_journal_path(const struct drvdomd_dev *w, char *buf,
                                 size_t size)
{
    snprintf(buf, size, "%s/%s-%u-%u.journal", w->type->d->run_dir,
             w->type->name, xsg_dev_fe(w->dev), xsg_dev_devid(w->dev));
}

/*
 * The device's journal, opened for the worker to inherit (emptied unless
 * adopting: a new connection's worker must not find an old ring's
 * requests). A descriptor >= 10, clear of the child's 3 and 4, or -errno.
 */
static int drvdomd_journal_open(const struct drvdomd_dev *w, bool adopt)
{
    char path[512];
    int fd, hi;

    drvdomd_journal_path(w, path, sizeof(path));
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (adopt ? 0 : O_TRUNC), 0600);
    if (fd < 0)
        return -errno;
    hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return hi < 0 ? -errno : hi;
}

/* The run file: what a restarted drvdomd needs, plus restart figures. */
static void drvdomd_run_write(const struct drvdomd_dev *w)
{
    char path[512], tmp[520];
    FILE *f;

    drvdomd_run_path(w, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "pid %d\nrestarts %u\nfirst_response_ns %llu\n", (int)w->pid,
            w->restarts_total, (unsigned long long)w->first_rsp_ns);
    if (fclose(f) || rename(tmp, path))
        unlink(tmp);
}

static void drvdomd_release(struct drvdomd_dev *w)
{
    if (w->pid_ev)
        event_free(w->pid_ev);
    if (w->status_ev)
        event_free(w->status_ev);
    if (w->pidfd >= 0)
        close(w->pidfd);
    if (w->status_fd >= 0)
        close(w->status_fd);
    w->pid_ev = w->status_ev = NULL;
    w->pidfd = w->status_fd = -1;
    w->pid = 0;
    w->ready = false;
    w->status_len = 0;
}

static void drvdomd_status_line(struct drvdomd_dev *w, const char *line)
{
    unsigned long long ns;

    if (!strcmp(line, "connected")) {
        drvdomd_log(LOG_INFO, "%s: worker %d connected%s", xsg_dev_name(w->dev),
                    (int)w->pid,
                    w->restarts_total ? " (adopted the ring)" : "");
        w->ready = true;
        xsg_dev_connected(w->dev);
    } else if (sscanf(line, "first-response %llu", &ns) == 1) {
        w->first_rsp_ns = ns;
        drvdomd_run_write(w);
    }
}

static void drvdomd_status_cb(evutil_socket_t fd, short what, void *arg)
{
    struct drvdomd_dev *w = arg;
    ssize_t n;
    char *nl;

    (void)what;
    n = read(fd, w->status + w->status_len,
             sizeof(w->status) - 1 - w->status_len);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        event_del(w->status_ev); /* EOF: the exit is seen on the pidfd */
        return;
    }
    w->status_len += (size_t)n;
    w->status[w->status_len] = '\0';
    while ((nl = strchr(w->status, '\n'))) {
        *nl = '\0';
        drvdomd_status_line(w, w->status);
        w->status_len -= (size_t)(nl + 1 - w->status);
        memmove(w->status, nl + 1, w->status_len + 1);
    }
    if (w->status_len == sizeof(w->status) - 1)
        w->status_len = 0; /* an over-long line: drop it */
}

static void drvdomd_child(const struct drvdomd_dev *w, int sfd, int jfd,
                          bool adopt)
{
    char fe[8], devid[16];
    const char *argv[20];
    int i = 0;
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (sfd != 3 && dup2(sfd, 3) < 0)
        _exit(126);
    if (fcntl(3, F_SETFD, 0) || dup2(jfd, 4) < 0)
        _exit(126);
    snprintf(fe, sizeof(fe), "%u", xsg_dev_fe(w->dev));
    snprintf(devid, sizeof(devid), "%u", xsg_dev_devid(w->dev));
    argv[i++] = w->type->worker;
    argv[i++] = "--type";
    argv[i++] = w->type->name;
    argv[i++] = "--fe";
    argv[i++] = fe;
    argv[i++] = "--devid";
    argv[i++] = devid;
    argv[i++] = "--backend-path";
    argv[i++] = xsg_dev_be_path(w->dev);
    argv[i++] = "--frontend-path";
    argv[i++] = xsg_dev_fe_path(w->dev);
    argv[i++] = "--status-fd";
    argv[i++] = "3";
    argv[i++] = "--journal-fd";
    argv[i++] = "4";
    if (adopt)
        argv[i++] = "--adopt";
    argv[i] = NULL;
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

static void drvdomd_pid_cb(evutil_socket_t fd, short what, void *arg);

/* Watches pid through a pidfd; our child or an adopted orphan. */
static int drvdomd_watch_pid(struct drvdomd_dev *w, pid_t pid, bool child)
{
    struct event_base *base = w->type->d->base;

    w->pid = pid;
    w->child = child;
    w->pidfd = drvdomd_pidfd_open(pid);
    if (w->pidfd < 0)
        return -errno;
    w->pid_ev = event_new(base, w->pidfd, EV_READ, drvdomd_pid_cb, w);
    if (!w->pid_ev || event_add(w->pid_ev, NULL))
        return -ENOMEM;
    return 0;
}

static int drvdomd_spawn(struct drvdomd_dev *w, bool adopt)
{
    struct event_base *base = w->type->d->base;
    int sfd[2], jfd, ret;
    pid_t pid;

    jfd = drvdomd_journal_open(w, adopt);
    if (jfd < 0)
        return jfd;
    if (pipe2(sfd, O_CLOEXEC)) {
        ret = -errno;
        close(jfd);
        return ret;
    }
    pid = fork();
    if (pid < 0) {
        ret = -errno;
        close(sfd[0]);
        close(sfd[1]);
        close(jfd);
        return ret;
    }
    if (pid == 0)
        drvdomd_child(w, sfd[1], jfd, adopt);
    close(sfd[1]);
    close(jfd);
    w->status_fd = sfd[0];
    fcntl(w->status_fd, F_SETFL, O_NONBLOCK);
    w->status_ev = event_new(base, w->status_fd, EV_READ | EV_PERSIST,
                             drvdomd_status_cb, w);
    if (!w->status_ev || event_add(w->status_ev, NULL))
        ret = -ENOMEM;
    else
        ret = drvdomd_watch_pid(w, pid, true);
    if (ret) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        drvdomd_release(w);
        return ret;
    }
    drvdomd_log(LOG_INFO, "%s: worker %d started%s", xsg_dev_name(w->dev),
                (int)pid, adopt ? " (adopt)" : "");
    drvdomd_run_write(w);
    return 0;
}

/* A worker died on its own: restart it if the device was Connected. */
static void drvdomd_worker_died(struct drvdomd_dev *w, int status,
                                bool was_ready)
{
    int64_t now = (int64_t)(drvdomd_now_ns() / 1000000000u);
    int ret;

    if (WIFEXITED(status) && WEXITSTATUS(status) == DRVDOMD_EXIT_PEER) {
        xsg_dev_fail(w->dev, -EPROTO, "worker: unusable frontend data");
        return;
    }
    if (!was_ready && w->restarts_total == 0) {
        xsg_dev_fail(w->dev, -ECHILD, "worker exited before connecting");
        return;
    }
    if (now - w->window_start >= DRVDOMD_RESTART_WINDOW_S) {
        w->window_start = now;
        w->restarts = 0;
    }
    if (++w->restarts > w->type->d->max_restarts) {
        xsg_dev_fail(w->dev, -ECHILD, "worker restarted %u times in %d s",
                     w->restarts - 1, DRVDOMD_RESTART_WINDOW_S);
        return;
    }
    w->restarts_total++;
    ret = drvdomd_spawn(w, true);
    if (ret)
        xsg_dev_fail(w->dev, ret, "cannot restart the worker");
}

static void drvdomd_pid_cb(evutil_socket_t fd, short what, void *arg)
{
    struct drvdomd_dev *w = arg;
    pid_t pid = w->pid;
    int status = 0;
    char how[48];
    bool was_ready;

    (void)fd;
    (void)what;
    if (w->child)
        waitpid(pid, &status, 0);
    if (w->status_ev)
        drvdomd_status_cb(w->status_fd, EV_READ, w); /* last words */
    was_ready = w->ready;
    drvdomd_release(w);
    if (!w->child)
        snprintf(how, sizeof(how), "exited");
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "exited with status %d",
                 WEXITSTATUS(status));
    drvdomd_log(LOG_WARNING, "%s: worker %d %s", xsg_dev_name(w->dev), (int)pid,
                how);
    drvdomd_worker_died(w, status, was_ready);
}

/* Stops the worker: SIGTERM, then SIGKILL after DRVDOMD_STOP_TIMEOUT_MS. */
static void drvdomd_stop(struct drvdomd_dev *w)
{
    struct pollfd pfd = {.fd = w->pidfd, .events = POLLIN};
    char path[512];

    if (w->pid) {
        kill(w->pid, SIGTERM);
        if (pfd.fd >= 0 && poll(&pfd, 1, DRVDOMD_STOP_TIMEOUT_MS) <= 0) {
            drvdomd_log(LOG_WARNING, "%s: worker %d ignores SIGTERM: killed",
                        xsg_dev_name(w->dev), (int)w->pid);
            kill(w->pid, SIGKILL);
            poll(&pfd, 1, DRVDOMD_STOP_TIMEOUT_MS);
        }
        if (w->child)
            waitpid(w->pid, NULL, 0);
        drvdomd_log(LOG_INFO, "%s: worker %d stopped", xsg_dev_name(w->dev),
                    (int)w->pid);
    }
    drvdomd_release(w);
    drvdomd_run_path(w, path, sizeof(path));
    unlink(path);
    drvdomd_journal_path(w, path, sizeof(path));
    unlink(path);
}

static struct drvdomd_dev *drvdomd_dev_get(struct xsg_dev *dev,
                                           struct drvdomd_type *t)
{
    struct drvdomd_dev *w = xsg_dev_priv(dev);

    if (w)
        return w;
    w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->type = t;
    w->dev = dev;
    w->pidfd = w->status_fd = -1;
    xsg_dev_set_priv(dev, w);
    return w;
}

static int drvdomd_probe(struct xsg_dev *dev, void *arg)
{
    struct drvdomd_type *t = arg;
    unsigned int i;
    int ret;

    for (i = 0; i < t->nfeats; i++) {
        ret = xsg_write_fmt(t->d->xs, XBT_NULL, xsg_dev_be_path(dev),
                            t->feats[i].key, "%s", t->feats[i].val);
        if (ret)
            return ret;
    }
    return 0;
}

static int drvdomd_connect(struct xsg_dev *dev, void *arg)
{
    struct drvdomd_dev *w = drvdomd_dev_get(dev, arg);
    int ret;

    if (!w)
        return -ENOMEM;
    w->restarts_total = 0;
    ret = drvdomd_spawn(w, false);
    return ret ? ret : XSG_PENDING;
}

/* The pid in the run file, if it is still this device's worker. */
static pid_t drvdomd_stale_worker(const struct drvdomd_dev *w)
{
    char path[512], buf[4096], want[XSG_PATH_MAX + 32], state = 0;
    size_t n, wn;
    int pid = 0, fd;
    FILE *f;

    drvdomd_run_path(w, path, sizeof(path));
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "pid %d", &pid) != 1 || pid <= 0)
        pid = 0;
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = pid ? fopen(path, "r") : NULL;
    if (!f || fscanf(f, "%*d (%*[^)]) %c", &state) != 1 || state == 'Z')
        pid = 0;
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    fd = pid ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    n = fd >= 0 ? (size_t)read(fd, buf, sizeof(buf)) : 0;
    if (fd >= 0)
        close(fd);
    wn = (size_t)snprintf(want, sizeof(want), "--backend-path%c%s%c", 0,
                          xsg_dev_be_path(w->dev), 0);
    if (n > sizeof(buf) || !memmem(buf, n, want, wn))
        return 0;
    return (pid_t)pid;
}

static int drvdomd_adopt(struct xsg_dev *dev, void *arg)
{
    struct drvdomd_dev *w = drvdomd_dev_get(dev, arg);
    pid_t pid;
    int ret;

    if (!w)
        return -ENOMEM;
    w->restarts_total = 1;
    pid = drvdomd_stale_worker(w);
    if (pid && !drvdomd_watch_pid(w, pid, false)) {
        drvdomd_log(LOG_INFO, "%s: re-adopted running worker %d",
                    xsg_dev_name(dev), (int)pid);
        w->ready = true;
        drvdomd_run_write(w);
        return 0;
    }
    drvdomd_release(w);
    ret = drvdomd_spawn(w, true);
    return ret ? ret : XSG_PENDING;
}

static void drvdomd_disconnect(struct xsg_dev *dev, void *arg)
{
    struct drvdomd_dev *w = xsg_dev_priv(dev);

    (void)arg;
    if (w)
        drvdomd_stop(w);
}

static void drvdomd_remove(struct xsg_dev *dev, void *arg)
{
    struct drvdomd_dev *w = xsg_dev_priv(dev);

    (void)arg;
    if (!w)
        return;
    drvdomd_stop(w);
    xsg_dev_set_priv(dev, NULL);
    free(w);
}

const struct xsg_back_ops drvdomd_ops = {
    .probe = drvdomd_probe,
    .connect = drvdomd_connect,
    .adopt = drvdomd_adopt,
    .disconnect = drvdomd_disconnect,
    .remove = drvdomd_remove,
};

/* Parses "key value" lines of --features output. */
static int drvdomd_feature_line(struct drvdomd_type *t, char *line)
{
    char *sp = strchr(line, ' ');
    struct drvdomd_feature *f;

    if (!line[0])
        return 0;
    if (!sp || sp == line || t->nfeats == DRVDOMD_MAX_FEATURES)
        return -EINVAL;
    *sp = '\0';
    f = &t->feats[t->nfeats];
    f->key = strdup(line);
    f->val = strdup(sp + 1);
    if (!f->key || !f->val) {
        free(f->key);
        free(f->val);
        return -ENOMEM;
    }
    t->nfeats++;
    return 0;
}

int drvdomd_type_features(struct drvdomd_type *t)
{
    int pfd[2], status, ret = 0;
    char line[256];
    FILE *f;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC))
        return -errno;
    pid = fork();
    if (pid == 0) {
        if (dup2(pfd[1], 1) < 0)
            _exit(126);
        execl(t->worker, t->worker, "--features", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    f = pid > 0 ? fdopen(pfd[0], "r") : NULL;
    if (!f) {
        close(pfd[0]);
        return pid < 0 ? -EAGAIN : -ENOMEM;
    }
    while (!ret && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        ret = drvdomd_feature_line(t, line);
    }
    fclose(f);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status))
        ret = ret ? ret : -ENOEXEC;
    return ret;
}
