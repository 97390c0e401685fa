/*
 * drvdom-simhv rules, each broken on purpose to see the error Xen gives:
 * grant map checks (domid, permit, read-only, in use), unshare of a mapped
 * grant, grant copy statuses, event channel binding and re-binding, domain
 * control privileges and life cycle, and a hostile client. The test starts
 * its own daemon and re-runs itself as helper domains (--helper ...).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "drvdom/plat-sim.h"
#include "drvdom/platform.h"
#include "platform/sim/proto.h"
#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define T_WAIT_MS     20000 /* bound on any wait for another process */

static char t_dir[64]; /* short: it holds a unix socket */
static char t_self[PATH_MAX];
static pid_t t_daemon;

/* ---- helper domains ---- */

/* share DOM FILE: grants a page ("hello") and an unbound port to DOM, writes
 * "ref port" to FILE, echoes events; exits 0 when page[100] == 'q'. */
static int t_helper_share(domid_t dom, const char *file)
{
    struct plat_gntshr *gs;
    struct plat_evtchn *ec;
    evtchn_port_t port, p;
    struct pollfd pfd;
    grant_ref_t ref;
    char tmp[PATH_MAX];
    char *page;
    FILE *f;

    if (plat_gntshr_open(&gs) || plat_evtchn_open(&ec) ||
        plat_gntshr_share(gs, dom, 1, &ref, true, (void **)&page) ||
        plat_evtchn_bind_unbound(ec, dom, &port))
        return 2;
    strcpy(page, "hello");
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    f = fopen(tmp, "w");
    if (!f)
        return 3;
    fprintf(f, "%u %u\n", ref, port);
    fclose(f);
    rename(tmp, file);
    pfd.fd = plat_evtchn_fd(ec);
    pfd.events = POLLIN;
    for (;;) {
        if (poll(&pfd, 1, -1) < 0)
            return 4;
        while (!plat_evtchn_pending(ec, &p)) {
            plat_evtchn_unmask(ec, p);
            if (page[100] == 'q') {
                plat_evtchn_close(ec);
                plat_gntshr_close(gs);
                return 0;
            }
            plat_evtchn_notify(ec, port);
        }
    }
}

/* map DOM REF FILE, bind DOM PORT FILE, destroy DOM FILE, create DOM FILE:
 * try it, write the result (0 or -errno) to FILE. */
static int t_helper_try(const char *mode, domid_t dom, unsigned long a)
{
    char *argv[] = {"true", NULL};
    grant_ref_t ref = (grant_ref_t)a;
    struct plat_gnttab *gt;
    struct plat_evtchn *ec;
    evtchn_port_t port;
    domid_t id;
    void *addr;
    int ret;

    if (!strcmp(mode, "map")) {
        ret = plat_gnttab_open(&gt);
        return ret ? ret : plat_gnttab_map(gt, dom, 1, &ref, true, &addr);
    }
    if (!strcmp(mode, "bind")) {
        ret = plat_evtchn_open(&ec);
        return ret ? ret
                   : plat_evtchn_bind_interdomain(ec, dom, (evtchn_port_t)a,
                                                  &port);
    }
    if (!strcmp(mode, "destroy"))
        return plat_domain_destroy(dom);
    if (!strcmp(mode, "create"))
        return plat_sim_domain_create("x", argv, &id);
    return -ENOSYS;
}

static int t_helper(int argc, char **argv)
{
    char tmp[PATH_MAX];
    unsigned long dom, a;
    FILE *f;
    int ret;

    if (argc != 6)
        return 100;
    dom = strtoul(argv[3], NULL, 0);
    if (!strcmp(argv[2], "share"))
        return t_helper_share((domid_t)dom, argv[5]);
    a = strtoul(argv[4], NULL, 0);
    ret = t_helper_try(argv[2], (domid_t)dom, a);
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[5]);
    f = fopen(tmp, "w");
    if (!f)
        return 101;
    fprintf(f, "%d\n", ret);
    if (fclose(f) || rename(tmp, argv[5]))
        return 102;
    return 0;
}

/* ---- harness ---- */

static int t_start_daemon(void)
{
    const char *bd = getenv("DRVDOM_BUILDDIR");
    char bin[PATH_MAX], log[PATH_MAX];
    domid_t self;
    int i, fd;

    if ((size_t)snprintf(t_dir, sizeof(t_dir), "%s/drvdom-simhv-test.XXXXXX",
                         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") >=
            sizeof(t_dir) ||
        !mkdtemp(t_dir))
        return -1;
    snprintf(bin, sizeof(bin), "%s/tools/simhv/drvdom-simhv", bd ? bd : ".");
    snprintf(log, sizeof(log), "%s/simhv.log", t_dir);
    t_daemon = fork();
    if (t_daemon == 0) {
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        execl(bin, bin, "--run-dir", t_dir, "--foreground", (char *)NULL);
        _exit(127);
    }
    setenv("DRVDOM_SIM_RUNDIR", t_dir, 1);
    if (plat_select(PLAT_SIM))
        return -1;
    for (i = 0; i < T_WAIT_MS / 10; i++) {
        if (!plat_domid_self(&self))
            return 0;
        usleep(10000);
    }
    fprintf(stderr, "simhv_test: daemon %s did not start\n", bin);
    return -1;
}

/* Stops the daemon; a clean exit (no sanitizer finding) is required. */
static int t_stop_daemon(void)
{
    char cmd[PATH_MAX + 16];
    int status = -1;

    if (t_daemon > 0) {
        kill(t_daemon, SIGTERM);
        waitpid(t_daemon, &status, 0);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        snprintf(cmd, sizeof(cmd), "cat %s/simhv.log >&2", t_dir);
        (void)!system(cmd);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t_dir);
    (void)!system(cmd);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Runs this binary as a new domain: --helper MODE DOM A FILE. */
static domid_t t_spawn(const char *mode, domid_t dom, unsigned long a,
                       const char *file)
{
    char sd[16], sa[32], *argv[7];
    domid_t id = 0;

    snprintf(sd, sizeof(sd), "%u", dom);
    snprintf(sa, sizeof(sa), "%lu", a);
    argv[0] = t_self;
    argv[1] = "--helper";
    argv[2] = (char *)mode;
    argv[3] = sd;
    argv[4] = sa;
    argv[5] = (char *)file;
    argv[6] = NULL;
    CU_ASSERT_EQUAL(plat_sim_domain_create(mode, argv, &id), 0);
    return id;
}

/* Waits for FILE (written by a helper) and reads two numbers from it. */
static int t_read_file(const char *file, long *a, long *b)
{
    FILE *f = NULL;
    int i, n = 0;

    for (i = 0; i < T_WAIT_MS && !f; i++) {
        f = fopen(file, "r");
        if (!f)
            usleep(1000);
    }
    if (!f)
        return -1;
    n = fscanf(f, "%ld %ld", a, b);
    fclose(f);
    return n;
}

static int t_wait_dom(domid_t id, bool until_dying);

/* Runs a helper to try one call as another domain (until it is released):
 * its result. */
static long t_try_as_domu(const char *mode, domid_t dom, unsigned long a)
{
    char file[PATH_MAX];
    static int seq;
    long ret = 1, unused;
    domid_t id;

    snprintf(file, sizeof(file), "%s/result.%d", t_dir, ++seq);
    id = t_spawn(mode, dom, a, file);
    if (t_read_file(file, &ret, &unused) < 1 || t_wait_dom(id, false))
        return 1;
    return ret;
}

/* Waits until domain @id is released (or @dying shows, if set). */
static int t_wait_dom(domid_t id, bool until_dying)
{
    struct plat_dominfo info;
    int i, ret;

    for (i = 0; i < T_WAIT_MS; i++) {
        ret = plat_domain_info(id, &info);
        if (ret == -ESRCH && !until_dying)
            return 0;
        if (!ret && info.dying && until_dying)
            return 0;
        usleep(1000);
    }
    return -1;
}

/* ---- tests ---- */

static void test_domains(void)
{
    char *bad[] = {"/nonexistent/prog", NULL}, *empty[] = {NULL};
    struct plat_dominfo info[8];
    domid_t self = 99, id;
    int n;

    CU_ASSERT_EQUAL(plat_domid_self(&self), 0);
    CU_ASSERT_EQUAL(self, 0);
    n = plat_domain_list(info, ARRAY_SIZE(info));
    CU_ASSERT(n >= 1);
    CU_ASSERT_EQUAL(info[0].domid, 0);
    CU_ASSERT_EQUAL(info[0].state, PLAT_DOM_RUNNING);
    CU_ASSERT_FALSE(info[0].dying);
    CU_ASSERT_EQUAL(plat_domain_info(777, info), -ESRCH);
    CU_ASSERT_EQUAL(plat_domain_destroy(0), -EPERM);
    CU_ASSERT_EQUAL(plat_domain_destroy(777), -ESRCH);
    CU_ASSERT_EQUAL(plat_sim_domain_create("bad", bad, &id), -ENOENT);
    CU_ASSERT_EQUAL(plat_sim_domain_create("bad", empty, &id), -EINVAL);
    /* Only dom0 creates or destroys domains. */
    CU_ASSERT_EQUAL(t_try_as_domu("destroy", 0, 0), -EPERM);
    CU_ASSERT_EQUAL(t_try_as_domu("create", 0, 0), -EPERM);
}

static void test_map_self(void)
{
    grant_ref_t refs[2], many[SIMHV_MAP_MAX + 1];
    struct plat_gnttab *gt;
    struct plat_gntshr *gs;
    uint8_t *share, *map;

    CU_ASSERT_EQUAL_FATAL(plat_gntshr_open(&gs), 0);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_open(&gt), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 0, 2, refs, true, (void **)&share), 0);
    CU_ASSERT_EQUAL(share[0], 0); /* fresh pages are zeroed */
    memset(share, 0xab, 2 * PLAT_PAGE_SIZE);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_map(gt, 0, 2, refs, true, (void **)&map),
                          0);
    CU_ASSERT(map[0] == 0xab && map[2 * PLAT_PAGE_SIZE - 1] == 0xab);
    map[5] = 0x11;
    CU_ASSERT_EQUAL(share[5], 0x11);
    /* Unsharing a mapped grant fails and changes nothing, as on Xen. */
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, share, 2), -EBUSY);
    CU_ASSERT_EQUAL(share[5], 0x11);
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, map + 1, 2), -EINVAL);
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, map, 2), 0);
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, map, 2), -EINVAL);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, share, 2), 0);
    /* The refs are gone: mapping them now fails. */
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 0, 1, refs, false, (void **)&map),
                    -EINVAL);
    memset(many, 0, sizeof(many));
    CU_ASSERT_EQUAL(
        plat_gnttab_map(gt, 0, ARRAY_SIZE(many), many, false, (void **)&map),
        -E2BIG);
    plat_gnttab_close(gt);
    plat_gntshr_close(gs);
}

static void test_map_rules(void)
{
    grant_ref_t ro, other, two[2], bad;
    struct plat_gnttab *gt;
    struct plat_gntshr *gs;
    uint8_t *p_ro, *p_other, *p_two, *map;
    int status;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(plat_gntshr_open(&gs), 0);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_open(&gt), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 0, 1, &ro, false, (void **)&p_ro), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 5, 1, &other, true, (void **)&p_other), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 0, 2, two, true, (void **)&p_two), 0);
    /* Granted to another domain. */
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 0, 1, &other, true, (void **)&map),
                    -EINVAL);
    /* Beyond the table, never granted, unknown granter. */
    bad = SIMHV_GNTTAB_ENTRIES + 5;
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 0, 1, &bad, false, (void **)&map),
                    -EINVAL);
    bad = SIMHV_GNTTAB_ENTRIES - 1;
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 0, 1, &bad, false, (void **)&map),
                    -EINVAL);
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 700, 1, &ro, false, (void **)&map),
                    -EINVAL);
    /* Read-only grant: refused for write, mapped PROT_READ for read. */
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 0, 1, &ro, true, (void **)&map),
                    -EINVAL);
    p_ro[0] = 'r';
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_map(gt, 0, 1, &ro, false, (void **)&map),
                          0);
    CU_ASSERT_EQUAL(map[0], 'r');
    CU_ASSERT_EQUAL(mprotect(map, PLAT_PAGE_SIZE, PROT_READ | PROT_WRITE),
                    -1); /* the fd itself is read-only */
    pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        map[0] = 'w';
        _exit(0);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFSIGNALED(status));
    CU_ASSERT_EQUAL(p_ro[0], 'r');
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, map, 1), 0);
    /* All or nothing: a bad second ref leaves the first unpinned. */
    bad = two[1];
    two[1] = other;
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 0, 2, two, true, (void **)&map),
                    -EINVAL);
    two[1] = bad;
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_two, 2), 0);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_ro, 1), 0);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_other, 1), 0);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_other, 1), -EINVAL);
    plat_gnttab_close(gt);
    plat_gntshr_close(gs);
}

static void t_seg(struct plat_gntcopy_seg *s, grant_ref_t ref, domid_t dom,
                  uint16_t off, void *virt, uint16_t len, bool to_gref)
{
    memset(s, 0, sizeof(*s));
    s->len = len;
    if (to_gref) {
        s->flags = GNTCOPY_dest_gref;
        s->dest.foreign.ref = ref;
        s->dest.foreign.domid = dom;
        s->dest.foreign.offset = off;
        s->source.virt = virt;
    } else {
        s->flags = GNTCOPY_source_gref;
        s->source.foreign.ref = ref;
        s->source.foreign.domid = dom;
        s->source.foreign.offset = off;
        s->dest.virt = virt;
    }
}

static void test_copy(void)
{
    char in[64] = "grant copy", out[64] = "", out2[8], big[PLAT_PAGE_SIZE];
    struct plat_gntcopy_seg segs[7];
    grant_ref_t rw, ro, other;
    struct plat_gnttab *gt;
    struct plat_gntshr *gs;
    char *p_rw, *p_ro, *p_other;

    CU_ASSERT_EQUAL_FATAL(plat_gntshr_open(&gs), 0);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_open(&gt), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 0, 1, &rw, true, (void **)&p_rw), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 0, 1, &ro, false, (void **)&p_ro), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gntshr_share(gs, 9, 1, &other, true, (void **)&p_other), 0);
    t_seg(&segs[0], rw, 0, 100, in, sizeof(in), true);
    t_seg(&segs[1], rw, 0, 100, out, sizeof(out), false);
    t_seg(&segs[2], rw, 999, 0, out, 8, false);
    t_seg(&segs[3], SIMHV_GNTTAB_ENTRIES, 0, 0, out, 8, false);
    t_seg(&segs[4], other, 0, 0, out, 8, false);
    t_seg(&segs[5], ro, 0, 0, in, 8, true);
    t_seg(&segs[6], ro, 0, 0, out2, 8, false);
    CU_ASSERT_EQUAL(plat_gnttab_copy(gt, ARRAY_SIZE(segs), segs), 0);
    CU_ASSERT_EQUAL(segs[0].status, GNTST_okay);
    CU_ASSERT_STRING_EQUAL(p_rw + 100, "grant copy");
    CU_ASSERT_EQUAL(segs[1].status, GNTST_okay);
    CU_ASSERT_STRING_EQUAL(out, "grant copy");
    CU_ASSERT_EQUAL(segs[2].status, GNTST_bad_domain);
    CU_ASSERT_EQUAL(segs[3].status, GNTST_bad_gntref);
    CU_ASSERT_EQUAL(segs[4].status, GNTST_permission_denied);
    CU_ASSERT_EQUAL(segs[5].status, GNTST_permission_denied);
    CU_ASSERT_EQUAL(segs[6].status, GNTST_okay);
    /* Beyond the page, or no gref side: the whole call fails (gntdev). */
    t_seg(&segs[0], rw, 0, 1, big, PLAT_PAGE_SIZE, false);
    CU_ASSERT_EQUAL(plat_gnttab_copy(gt, 1, segs), -EINVAL);
    segs[0].flags = 0;
    CU_ASSERT_EQUAL(plat_gnttab_copy(gt, 1, segs), -EINVAL);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_rw, 1), 0);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_ro, 1), 0);
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, p_other, 1), 0);
    plat_gnttab_close(gt);
    plat_gntshr_close(gs);
}

/* Waits for an event on @ec; returns the pending port or 0. */
static evtchn_port_t t_event(struct plat_evtchn *ec)
{
    struct pollfd pfd = {.fd = plat_evtchn_fd(ec), .events = POLLIN};
    evtchn_port_t port = 0;

    if (poll(&pfd, 1, T_WAIT_MS) != 1 || plat_evtchn_pending(ec, &port))
        return 0;
    return port;
}

static void test_evtchn(void)
{
    struct plat_evtchn *a, *b, *b2;
    evtchn_port_t pa, pb, pb2, p;

    CU_ASSERT_EQUAL_FATAL(plat_evtchn_open(&a), 0);
    CU_ASSERT_EQUAL_FATAL(plat_evtchn_open(&b), 0);
    CU_ASSERT_EQUAL_FATAL(plat_evtchn_bind_unbound(a, 0, &pa), 0);
    CU_ASSERT_EQUAL_FATAL(plat_evtchn_bind_interdomain(b, 0, pa, &pb), 0);
    CU_ASSERT_NOT_EQUAL(pa, pb);
    CU_ASSERT_EQUAL(plat_evtchn_notify(a, pa), 0);
    CU_ASSERT_EQUAL(t_event(b), pb);
    /* Masked until unmask, as the evtchn driver does. */
    CU_ASSERT_EQUAL(plat_evtchn_notify(a, pa), 0);
    CU_ASSERT_EQUAL(plat_evtchn_pending(b, &p), -EAGAIN);
    CU_ASSERT_EQUAL(plat_evtchn_unmask(b, pb), 0);
    CU_ASSERT_EQUAL(t_event(b), pb);
    CU_ASSERT_EQUAL(plat_evtchn_unmask(b, pb), 0);
    CU_ASSERT_EQUAL(plat_evtchn_notify(b, pb), 0);
    CU_ASSERT_EQUAL(t_event(a), pa);
    CU_ASSERT_EQUAL(plat_evtchn_unmask(a, pa), 0);
    /* Xen's errors: bound already, no such port, no such domain. */
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(b, 0, pa, &p), -EINVAL);
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(b, 0, 999, &p), -EINVAL);
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(b, 0, 0, &p), -EINVAL);
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(b, 700, 1, &p), -ESRCH);
    CU_ASSERT_EQUAL(plat_evtchn_bind_unbound(a, 0x7ff5, &p), -EINVAL);
    CU_ASSERT_EQUAL(plat_evtchn_notify(a, 999), -EINVAL);
    CU_ASSERT_EQUAL(plat_evtchn_notify(a, pb), -EINVAL); /* not ours */
    CU_ASSERT_EQUAL(plat_evtchn_unbind(a, pb), -EINVAL);
    /* The back end closes its end: ours is unbound (and woken)... */
    CU_ASSERT_EQUAL(plat_evtchn_unbind(b, pb), 0);
    CU_ASSERT_EQUAL(t_event(a), pa);
    CU_ASSERT_EQUAL(plat_evtchn_unmask(a, pa), 0);
    CU_ASSERT_EQUAL(plat_evtchn_notify(a, pa), 0); /* dropped, no error */
    /* ...and the same remote domain binds it again: events flow. */
    CU_ASSERT_EQUAL_FATAL(plat_evtchn_open(&b2), 0);
    CU_ASSERT_EQUAL_FATAL(plat_evtchn_bind_interdomain(b2, 0, pa, &pb2), 0);
    CU_ASSERT_EQUAL(plat_evtchn_notify(a, pa), 0);
    CU_ASSERT_EQUAL(t_event(b2), pb2);
    CU_ASSERT_EQUAL(plat_evtchn_unmask(b2, pb2), 0);
    CU_ASSERT_EQUAL(plat_evtchn_notify(b2, pb2), 0);
    CU_ASSERT_EQUAL(t_event(a), pa);
    /* Closing a handle unbinds its ports: b2's end wakes, unbound. */
    plat_evtchn_close(a);
    CU_ASSERT_EQUAL(t_event(b2), pb2);
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(b, 0, pa, &p), -EINVAL);
    plat_evtchn_close(b2);
    plat_evtchn_close(b);
}

/* Open fds of the daemon, from /proc. */
static int t_daemon_fds(void)
{
    char path[64], cmd[128];
    FILE *f;
    int n = -1;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)t_daemon);
    snprintf(cmd, sizeof(cmd), "ls %s | wc -l", path);
    f = popen(cmd, "r");
    if (!f)
        return -1;
    if (fscanf(f, "%d", &n) != 1)
        n = -1;
    pclose(f);
    return n;
}

/* True when /proc/PID/maps mentions NAME. */
static bool t_maps_has(pid_t pid, const char *name)
{
    char path[64], line[512];
    bool found = false;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return true;
    while (fgets(line, sizeof(line), f))
        found |= strstr(line, name) != NULL;
    fclose(f);
    return found;
}

/* Another domain grants to us; a third may not map it; the granter dies
 * while mapped (dying), is released after our unmap with nothing left. */
static void test_foreign(void)
{
    struct plat_sim_stats st0, st;
    struct plat_dominfo info;
    char file[PATH_MAX], memname[64];
    struct plat_gnttab *gt;
    struct plat_evtchn *ec;
    evtchn_port_t port, p;
    long ref = 0, rport = 0;
    int fds0;
    domid_t s;
    char *map;

    CU_ASSERT_EQUAL_FATAL(plat_sim_stats(&st0), 0);
    fds0 = t_daemon_fds();
    snprintf(file, sizeof(file), "%s/share.info", t_dir);
    s = t_spawn("share", 0, 0, file);
    CU_ASSERT_EQUAL_FATAL(t_read_file(file, &ref, &rport), 2);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_open(&gt), 0);
    CU_ASSERT_EQUAL_FATAL(plat_evtchn_open(&ec), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gnttab_map(gt, s, 1, (grant_ref_t *)&ref, true, (void **)&map), 0);
    CU_ASSERT_STRING_EQUAL(map, "hello");
    /* A third domain: neither the grant nor the port are for it. */
    CU_ASSERT_EQUAL(t_try_as_domu("map", s, (unsigned long)ref), -EINVAL);
    CU_ASSERT_EQUAL(t_try_as_domu("bind", s, (unsigned long)rport), -EINVAL);
    CU_ASSERT_EQUAL_FATAL(
        plat_evtchn_bind_interdomain(ec, s, (evtchn_port_t)rport, &port), 0);
    CU_ASSERT_EQUAL(plat_evtchn_notify(ec, port), 0);
    CU_ASSERT_EQUAL(t_event(ec), port); /* echoed */
    CU_ASSERT_EQUAL(plat_evtchn_unmask(ec, port), 0);
    /* It shuts down (exit 0) while we map its page: dying, not released. */
    map[100] = 'q';
    CU_ASSERT_EQUAL(plat_evtchn_notify(ec, port), 0);
    CU_ASSERT_EQUAL_FATAL(t_wait_dom(s, true), 0);
    CU_ASSERT_EQUAL(plat_domain_info(s, &info), 0);
    CU_ASSERT(info.dying);
    CU_ASSERT_EQUAL(info.state, PLAT_DOM_SHUTDOWN);
    CU_ASSERT_EQUAL(info.shutdown_reason, SHUTDOWN_poweroff);
    CU_ASSERT_STRING_EQUAL(info.name, "share");
    CU_ASSERT_EQUAL(t_event(ec), port);   /* its end closed: woken */
    CU_ASSERT_STRING_EQUAL(map, "hello"); /* still mapped, still there */
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, map, 1), 0);
    CU_ASSERT_EQUAL(t_wait_dom(s, false), 0);
    /* Released with nothing left. */
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(ec, s, 1, &p), -ESRCH);
    CU_ASSERT_EQUAL(plat_evtchn_unbind(ec, port), 0);
    plat_evtchn_close(ec);
    plat_gnttab_close(gt);
    CU_ASSERT_EQUAL(plat_sim_stats(&st), 0);
    CU_ASSERT_EQUAL(st.domains, st0.domains);
    CU_ASSERT_EQUAL(st.ports, st0.ports);
    CU_ASSERT_EQUAL(st.maps, st0.maps);
    CU_ASSERT_EQUAL(st.pins, st0.pins);
    CU_ASSERT_EQUAL(st.shares, st0.shares);
    CU_ASSERT_EQUAL(st.memfds, st0.memfds);
    CU_ASSERT(st.released >= st0.released + 1);
    CU_ASSERT_EQUAL(t_daemon_fds(), fds0);
    snprintf(memname, sizeof(memname), "drvdom-dom%u-", s);
    CU_ASSERT_FALSE(t_maps_has(t_daemon, memname));
    CU_ASSERT_FALSE(t_maps_has(getpid(), memname));
}

/* Destroyed while mapped: crashed and dying until the unmap. */
static void test_destroy(void)
{
    struct plat_dominfo info;
    char file[PATH_MAX];
    struct plat_gnttab *gt;
    long ref = 0, rport = 0;
    void *map, *map2;
    domid_t s;

    snprintf(file, sizeof(file), "%s/share2.info", t_dir);
    s = t_spawn("share", 0, 0, file);
    CU_ASSERT_EQUAL_FATAL(t_read_file(file, &ref, &rport), 2);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_open(&gt), 0);
    CU_ASSERT_EQUAL_FATAL(
        plat_gnttab_map(gt, s, 1, (grant_ref_t *)&ref, false, &map), 0);
    CU_ASSERT_EQUAL(plat_domain_destroy(s), 0);
    CU_ASSERT_EQUAL_FATAL(t_wait_dom(s, true), 0);
    CU_ASSERT_EQUAL(plat_domain_info(s, &info), 0);
    CU_ASSERT_EQUAL(info.state, PLAT_DOM_CRASHED);
    CU_ASSERT_EQUAL(info.shutdown_reason, SHUTDOWN_crash);
    /* No new mapping of a dying domain. */
    CU_ASSERT_EQUAL(
        plat_gnttab_map(gt, s, 1, (grant_ref_t *)&ref, false, &map2), -EINVAL);
    plat_gnttab_close(gt); /* closing the handle unmaps */
    CU_ASSERT_EQUAL(t_wait_dom(s, false), 0);
}

static int t_raw_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", t_dir, SIMHV_SOCK_NAME);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends @len bytes, returns the reply's err (or 1 when none came). */
static int t_raw_call(int fd, const void *msg, size_t len)
{
    struct simhv_rep rep;
    char buf[SIMHV_MSG_MAX];

    if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
        return 1;
    if (recv(fd, buf, sizeof(buf), 0) < (ssize_t)sizeof(rep))
        return 1;
    memcpy(&rep, buf, sizeof(rep));
    return rep.err;
}

/* Bad requests get errors; a flood gets the connection dropped; the daemon
 * and everyone else carry on. */
static void test_hostile(void)
{
    static char big[SIMHV_MSG_MAX + 100];
    struct simhv_req req = {0};
    struct plat_sim_stats st;
    domid_t self;
    int fd, i, err = 0;

    fd = t_raw_connect();
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(t_raw_call(fd, "abc", 3), -EINVAL);
    req.op = 9999;
    CU_ASSERT_EQUAL(t_raw_call(fd, &req, sizeof(req)), -ENOSYS);
    req.op = SIMHV_OP_MAP;
    req.count = 4; /* but no refs follow */
    CU_ASSERT_EQUAL(t_raw_call(fd, &req, sizeof(req)), -EINVAL);
    req.count = SIMHV_MAP_MAX + 1;
    CU_ASSERT_EQUAL(t_raw_call(fd, &req, sizeof(req)), -E2BIG);
    req.op = SIMHV_OP_UNMAP;
    req.count = 0;
    req.id = 12345;
    CU_ASSERT_EQUAL(t_raw_call(fd, &req, sizeof(req)), -ENOENT);
    req.op = SIMHV_OP_EVT_UNBIND;
    req.arg0 = 5000;
    CU_ASSERT_EQUAL(t_raw_call(fd, &req, sizeof(req)), -EINVAL);
    req.op = SIMHV_OP_DOM_CREATE;
    req.count = 2;
    CU_ASSERT_EQUAL(t_raw_call(fd, &req, sizeof(req)), -EINVAL);
    memcpy(big, &req, sizeof(req));
    CU_ASSERT_EQUAL(t_raw_call(fd, big, sizeof(big)), -EMSGSIZE);
    /* Flood without reading replies: dropped, never a daemon crash. */
    req.op = SIMHV_OP_HELLO;
    req.count = 0;
    for (i = 0; i < 1000000 && !err; i++) {
        if (send(fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
            errno != EAGAIN)
            err = errno;
        if (errno == EAGAIN)
            usleep(100);
    }
    CU_ASSERT(err == EPIPE || err == ECONNRESET);
    close(fd);
    CU_ASSERT_EQUAL(plat_domid_self(&self), 0);
    CU_ASSERT_EQUAL(plat_sim_stats(&st), 0);
}

int main(int argc, char **argv)
{
    static const struct cutest tests[] = {
        {"domains", test_domains},     {"map_self", test_map_self},
        {"map_rules", test_map_rules}, {"copy", test_copy},
        {"evtchn", test_evtchn},       {"foreign", test_foreign},
        {"destroy", test_destroy},     {"hostile", test_hostile},
    };
    int failures;
    ssize_t n;

    if (argc > 1 && !strcmp(argv[1], "--helper"))
        return t_helper(argc, argv);
    n = readlink("/proc/self/exe", t_self, sizeof(t_self) - 1);
    if (n <= 0)
        return 1;
    t_self[n] = '\0';
    signal(SIGPIPE, SIG_IGN);
    if (t_start_daemon()) {
        t_stop_daemon();
        return 1;
    }
    failures = cutest_run("simhv", tests, ARRAY_SIZE(tests));
    if (t_stop_daemon())
        failures++;
    return failures;
}
