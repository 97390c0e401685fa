/*
 * drvdom-simhv domains: creation (RAM and grant table memfds, run dir, the
 * spawned program with its inherited connection), death (the program exits:
 * shutdown or crashed, and dying) and release (nothing maps its pages and no
 * connection of it is left: everything it held is freed).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/simhv/simhv.h"

struct simhv_dom *simhv_dom_find(struct simhv *hv, domid_t domid)
{
    struct simhv_dom *d;

    LIST_FOREACH(d, &hv->doms, link)
    {
        if (d->domid == domid)
            return d;
    }
    return NULL;
}

/* A sealed (fixed-size) memfd of @size bytes mapped read-write at *map. */
static int simhv_memfd(const char *name, size_t size, int *fd, void **map)
{
    int ret;

    *fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (*fd < 0)
        return -errno;
    if (ftruncate(*fd, (off_t)size) ||
        fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
        goto err_close;
    *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (*map == MAP_FAILED)
        goto err_close;
    return 0;

err_close:
    ret = -errno;
    close(*fd);
    *fd = -1;
    return ret;
}

/* Frees everything a domain holds; its connections must be gone. */
static void simhv_dom_free(struct simhv_dom *d)
{
    struct simhv *hv = d->hv;

    simhv_evt_dom_free(d);
    if (d->ram)
        munmap(d->ram, (size_t)SIMHV_RAM_PAGES * SIMHV_PAGE_SIZE);
    if (d->gt)
        munmap(d->gt, SIMHV_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
    if (d->ram_fd >= 0) {
        close(d->ram_fd);
        hv->stats.memfds--;
    }
    if (d->ram_ro_fd >= 0)
        close(d->ram_ro_fd);
    if (d->gt_fd >= 0) {
        close(d->gt_fd);
        hv->stats.memfds--;
    }
    if (d->rundir[0])
        rmdir(d->rundir);
    free(d->pins);
    free(d->ref_owner);
    free(d->ref_frame);
    free(d->frame_used);
    LIST_REMOVE(d, link);
    hv->ndoms--;
    free(d);
}

static int simhv_dom_mem(struct simhv_dom *d)
{
    char name[64], path[64];
    void *map;
    int ret;

    snprintf(name, sizeof(name), "drvdom-dom%u-ram", d->domid);
    ret = simhv_memfd(name, (size_t)SIMHV_RAM_PAGES * SIMHV_PAGE_SIZE,
                      &d->ram_fd, &map);
    if (ret)
        return ret;
    d->ram = map;
    d->hv->stats.memfds++;
    /* A read-only open of the same file: what read-only mappers get. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", d->ram_fd);
    d->ram_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (d->ram_ro_fd < 0)
        return -errno;
    snprintf(name, sizeof(name), "drvdom-dom%u-gnttab", d->domid);
    ret = simhv_memfd(name, SIMHV_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t),
                      &d->gt_fd, &map);
    if (ret)
        return ret;
    d->gt = map;
    d->hv->stats.memfds++;
    return 0;
}

int simhv_dom_new(struct simhv *hv, domid_t domid, const char *name,
                  struct simhv_dom **out)
{
    struct simhv_dom *d;
    int ret;

    if (hv->ndoms >= SIMHV_MAX_DOMAINS)
        return -ENOSPC;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->hv = hv;
    d->domid = domid;
    d->ram_fd = d->ram_ro_fd = d->gt_fd = -1;
    snprintf(d->name, sizeof(d->name), "%s", name);
    LIST_INSERT_HEAD(&hv->doms, d, link);
    hv->ndoms++;
    d->pins = calloc(SIMHV_GNTTAB_ENTRIES, sizeof(*d->pins));
    d->ref_owner = calloc(SIMHV_GNTTAB_ENTRIES, sizeof(*d->ref_owner));
    d->ref_frame = calloc(SIMHV_GNTTAB_ENTRIES, sizeof(*d->ref_frame));
    d->frame_used = calloc(SIMHV_RAM_PAGES, 1);
    d->ports = calloc(SIMHV_MAX_PORTS, sizeof(*d->ports));
    if (!d->pins || !d->ref_owner || !d->ref_frame || !d->frame_used ||
        !d->ports) {
        ret = -ENOMEM;
        goto err_free;
    }
    ret = simhv_dom_mem(d);
    if (ret)
        goto err_free;
    snprintf(d->rundir, sizeof(d->rundir), "%s/dom%u", hv->rundir, domid);
    if (mkdir(d->rundir, 0700) && errno != EEXIST) {
        ret = -errno;
        d->rundir[0] = '\0';
        goto err_free;
    }
    ret = simhv_xs_domain_new(d);
    if (ret)
        goto err_free;
    *out = d;
    return 0;

err_free:
    simhv_dom_free(d);
    return ret;
}

static domid_t simhv_domid_alloc(struct simhv *hv)
{
    unsigned int tries;
    domid_t id;

    for (tries = 0; tries < DOMID_FIRST_RESERVED; tries++) {
        id = hv->next_domid++;
        if (hv->next_domid >= DOMID_FIRST_RESERVED)
            hv->next_domid = 1;
        if (id && !simhv_dom_find(hv, id))
            return id;
    }
    return 0;
}

/* In the child: its own process group, its connection and environment. */
static void simhv_child(struct simhv_dom *d, int sock, char *const argv[])
{
    char buf[320];
    sigset_t none;

    setpgid(0, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (fcntl(sock, F_SETFD, 0))
        _exit(126);
    snprintf(buf, sizeof(buf), "%d", sock);
    setenv("DRVDOM_SIM_FD", buf, 1);
    snprintf(buf, sizeof(buf), "%u", d->domid);
    setenv("DRVDOM_SIM_DOMID", buf, 1);
    setenv("DRVDOM_SIM_RUNDIR", d->hv->rundir, 1);
    simhv_xs_path(d, buf, sizeof(buf));
    setenv("XENSTORED_PATH", buf, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "drvdom-simhv: dom%u: cannot run %s: %s\n", d->domid,
            argv[0], strerror(errno));
    _exit(127);
}

/* execvp's search, done up front so a bad program is the caller's error. */
static int simhv_can_exec(const char *prog)
{
    const char *path = getenv("PATH"), *p, *end;
    char buf[4096];
    size_t n;

    if (strchr(prog, '/'))
        return access(prog, X_OK) ? -errno : 0;
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path; *p; p = *end ? end + 1 : end) {
        end = strchrnul(p, ':');
        n = (size_t)(end - p);
        if (n == 0 || n + strlen(prog) + 2 > sizeof(buf))
            continue;
        memcpy(buf, p, n);
        buf[n] = '/';
        strcpy(buf + n + 1, prog);
        if (!access(buf, X_OK))
            return 0;
    }
    return -ENOENT;
}

/*
 * THE place a domain is created: RAM, grant table, run dir
 * <run-dir>/dom<N>/ (XENSTORED_PATH points into it) and the program.
 */
int simhv_dom_create(struct simhv *hv, const char *name, char *const argv[],
                     domid_t *domid)
{
    struct simhv_dom *d;
    int sv[2], ret;
    domid_t id;
    pid_t pid;

    ret = simhv_can_exec(argv[0]);
    if (ret)
        return ret;
    id = simhv_domid_alloc(hv);
    if (!id)
        return -ENOSPC;
    ret = simhv_dom_new(hv, id, name, &d);
    if (ret)
        return ret;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
        ret = -errno;
        goto err_dom;
    }
    ret = simhv_conn_new(hv, d, sv[0], true);
    if (ret) {
        close(sv[1]);
        goto err_dom;
    }
    pid = fork();
    if (pid < 0) {
        ret = -errno;
        close(sv[1]);
        simhv_conn_close(d->leader);
        goto err_dom;
    }
    if (pid == 0)
        simhv_child(d, sv[1], argv);
    setpgid(pid, pid);
    close(sv[1]);
    d->pid = pid;
    *domid = id;
    simhv_log("domain %u (%s) created: pid %d, %s", id, d->name, (int)pid,
              argv[0]);
    return 0;

err_dom:
    simhv_dom_free(d);
    return ret;
}

int simhv_dom_destroy(struct simhv *hv, domid_t domid)
{
    struct simhv_dom *d = simhv_dom_find(hv, domid);

    if (!d)
        return -ESRCH;
    if (!d->pid)
        return -EPERM;
    if (!d->dying) {
        simhv_log("domain %u (%s) destroyed by dom0", d->domid, d->name);
        kill(-d->pid, SIGKILL);
    }
    return 0;
}

/*
 * THE place a domain is released: called whenever something it waits for
 * goes away. A dying domain with no connection and no mapped page is freed.
 */
void simhv_dom_try_release(struct simhv_dom *d)
{
    struct simhv *hv = d->hv;
    domid_t id = d->domid;
    char name[64];

    if (!d->dying || d->nconns || d->pinned)
        return;
    snprintf(name, sizeof(name), "%s", d->name);
    simhv_dom_free(d);
    hv->stats.released++;
    simhv_log("domain %u (%s) released", id, name);
}

/*
 * The program exited: shutdown or crashed, dying; cut its connections.
 * The reap may run before the EOF of the domain's own connections (both
 * are ready in the same loop pass): then closing the last of them releases
 * d (simhv_conn_close), so d is not touched after that.
 */
static void simhv_dom_died(struct simhv_dom *d, int status)
{
    struct simhv_conn *c, *next;
    unsigned int left;

    d->status = status;
    d->dying = true;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        d->state = SIMHV_DOM_SHUTDOWN;
        simhv_log("domain %u (%s) shut down (exit 0): dying", d->domid,
                  d->name);
    } else {
        d->state = SIMHV_DOM_CRASHED;
        if (WIFSIGNALED(status))
            simhv_log("domain %u (%s) crashed (signal %d): dying", d->domid,
                      d->name, WTERMSIG(status));
        else
            simhv_log("domain %u (%s) crashed (exit %d): dying", d->domid,
                      d->name, WEXITSTATUS(status));
    }
    /* The domain is gone: so are the rest of its processes, and its
     * xenstore connections, watches and nodes (@releaseDomain). */
    kill(-d->pid, SIGKILL);
    simhv_xs_domain_dead(d);
    left = d->nconns;
    if (!left) {
        simhv_dom_try_release(d);
        return;
    }
    for (c = LIST_FIRST(&d->hv->conns); c && left; c = next) {
        next = LIST_NEXT(c, link);
        if (c->dom == d) {
            left--;
            simhv_conn_close(c); /* the last one may release d */
        }
    }
}

void simhv_dom_reap(struct simhv *hv)
{
    struct simhv_dom *d;
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        LIST_FOREACH(d, &hv->doms, link)
        {
            if (d->pid == pid && !d->dying)
                break;
        }
        if (d)
            simhv_dom_died(d, status);
    }
}

void simhv_dom_info(const struct simhv_dom *d, struct simhv_dominfo *info)
{
    memset(info, 0, sizeof(*info));
    info->domid = d->domid;
    info->state = (uint8_t)d->state;
    info->dying = d->dying;
    info->reason = d->state == SIMHV_DOM_SHUTDOWN  ? SHUTDOWN_poweroff
                   : d->state == SIMHV_DOM_CRASHED ? SHUTDOWN_crash
                                                   : 0;
    info->pid = (int32_t)d->pid;
    info->status = d->status;
    snprintf(info->name, sizeof(info->name), "%s", d->name);
}

/* Daemon shutdown: kill every domain, drop every connection and domain. */
void simhv_dom_free_all(struct simhv *hv)
{
    struct simhv_conn *c;
    struct simhv_dom *d;

    LIST_FOREACH(d, &hv->doms, link)
    {
        if (d->pid && !d->dying)
            kill(-d->pid, SIGKILL);
    }
    while ((c = LIST_FIRST(&hv->conns)))
        simhv_conn_close(c);
    while ((d = LIST_FIRST(&hv->doms))) {
        if (d->pid && !d->dying)
            waitpid(d->pid, NULL, 0);
        d->pinned = 0;
        simhv_dom_free(d);
    }
}
