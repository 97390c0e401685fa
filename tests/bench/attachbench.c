/*
 * attachbench: the xenbus device model's latencies on the sim platform.
 * Starts its own drvdom-simhv, a driver domain running drvdomd (testif
 * worker) and testif frontend domains, then measures, as dom0:
 *  - attach -> Connected: from the toolstack's transaction (libxl's
 *    layout, tests/sim/xsgts.c) to the backend's state reading Connected,
 *    the frontend connecting through the xsg frontend side meanwhile;
 *  - worker restart -> first response: from SIGKILL of a device's worker
 *    under traffic to the first response its --adopt successor publishes.
 * Prints p50/p99 next to the targets (5 ms, 500 ms). Run from the build
 * dir (make bench).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drvdom/plat-sim.h"
#include "drvdom/platform.h"
#include "tests/sim/xsgts.h"

#define AB_ATTACHES      200
#define AB_RESTARTS      20
#define AB_TRAFFIC_DEVID 1000

struct ab {
    char dir[64];         /* scratch dir (run dir, drvdomd run files) */
    char bin[PATH_MAX];   /* build dir */
    pid_t hv;             /* drvdom-simhv */
    struct xs_handle *xs; /* dom0 xenstore */
    domid_t drv;          /* driver domain */
    domid_t fe;           /* serving frontend */
    domid_t tfe;          /* traffic frontend */
};

static int ab_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void ab_print(const char *what, double *v, unsigned int n,
                     const char *target)
{
    qsort(v, n, sizeof(*v), ab_cmp);
    printf("%-34s n=%-4u p50 %8.3f ms  p99 %8.3f ms  (target %s)\n", what, n,
           v[n / 2], v[(n * 99) / 100 >= n ? n - 1 : (n * 99) / 100], target);
}

static double ab_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int ab_start(struct ab *a)
{
    char hvprog[PATH_MAX + 32], sock[160], path[96];
    int i;

    strcpy(a->dir, "/tmp/drvdom-attachbench.XXXXXX");
    if (!mkdtemp(a->dir) || !realpath(".", a->bin))
        return -errno;
    snprintf(hvprog, sizeof(hvprog), "%s/tools/simhv/drvdom-simhv", a->bin);
    snprintf(path, sizeof(path), "%s/run", a->dir);
    a->hv = fork();
    if (a->hv == 0) {
        execl(hvprog, hvprog, "--run-dir", path, "--foreground", (char *)NULL);
        _exit(127);
    }
    snprintf(sock, sizeof(sock), "%s/dom0/xenstored.sock", path);
    setenv("DRVDOM_SIM_RUNDIR", path, 1);
    setenv("XENSTORED_PATH", sock, 1);
    for (i = 0; i < 1000 && access(sock, F_OK); i++)
        usleep(10000);
    a->xs = xs_open(0);
    return a->xs ? plat_select(PLAT_SIM) : -EIO;
}

static int ab_domains(struct ab *a)
{
    char drvdomd[PATH_MAX + 32], worker[PATH_MAX + 48], front[PATH_MAX + 48];
    char rundir[96], st[96], st2[96];
    char *dargv[] = {drvdomd, "--worker",       worker, "--run-dir",
                     rundir,  "--max-restarts", "1000", NULL};
    char *fargv[] = {front, "--devid",  "1", "--serve",
                     "200", "--status", st,  NULL};
    char *targv[] = {front, "--devid",  "1000", "--count",
                     "0",   "--status", st2,    NULL};
    int ret;

    snprintf(drvdomd, sizeof(drvdomd), "%s/backend/drvdomd", a->bin);
    snprintf(worker, sizeof(worker), "testif=%s/tests/sim/testdev_back",
             a->bin);
    snprintf(front, sizeof(front), "%s/tests/sim/testdev_front", a->bin);
    snprintf(rundir, sizeof(rundir), "%s/drvdomd", a->dir);
    snprintf(st, sizeof(st), "%s/serve.st", a->dir);
    snprintf(st2, sizeof(st2), "%s/traffic.st", a->dir);
    ret = plat_sim_domain_create("drv", dargv, &a->drv);
    if (!ret)
        ret = plat_sim_domain_create("fe", fargv, &a->fe);
    if (!ret)
        ret = plat_sim_domain_create("tfe", targv, &a->tfe);
    return ret;
}

static int ab_dev(struct ab *a, struct xsgts_dev *d, domid_t fe,
                  unsigned int devid)
{
    char be[8], fes[8], id[16];
    char *argv[] = {"testif", be, fes, id};

    snprintf(be, sizeof(be), "%u", a->drv);
    snprintf(fes, sizeof(fes), "%u", fe);
    snprintf(id, sizeof(id), "%u", devid);
    memset(d, 0, sizeof(*d));
    return xsgts_dev(d, argv);
}

static int ab_attach(struct ab *a, double *lat)
{
    char path[XSG_PATH_MAX + 8];
    struct xsgts_dev d;
    unsigned int i;
    double t0;
    int ret;

    for (i = 0; i < AB_ATTACHES; i++) {
        ab_dev(a, &d, a->fe, 1 + i);
        snprintf(path, sizeof(path), "%s/state", d.be);
        t0 = ab_now_ms();
        ret = xsgts_add(a->xs, &d);
        if (!ret)
            ret = xsgts_wait(a->xs, path, "4", XSGTS_TIMEOUT_MS);
        lat[i] = ab_now_ms() - t0;
        if (!ret)
            ret = xsgts_del(a->xs, &d);
        if (ret) {
            fprintf(stderr, "attachbench: attach %u: %s\n", i, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

/* "key value" from a file, 0 if absent. */
static unsigned long long ab_key(const char *file, const char *key)
{
    unsigned long long v = 0, x;
    char line[128], k[64];
    FILE *f = fopen(file, "r");

    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%63s %llu", k, &x) == 2 && !strcmp(k, key))
            v = x;
    }
    if (f)
        fclose(f);
    return v;
}

static int ab_restart(struct ab *a, double *lat)
{
    char run[128], st[96];
    unsigned long long pid, frsp;
    struct timespec ts;
    struct xsgts_dev d;
    unsigned int i;
    uint64_t t0;
    int k;

    ab_dev(a, &d, a->tfe, AB_TRAFFIC_DEVID);
    if (xsgts_add(a->xs, &d))
        return -EIO;
    snprintf(run, sizeof(run), "%s/drvdomd/testif-%u-%u", a->dir, a->tfe,
             AB_TRAFFIC_DEVID);
    snprintf(st, sizeof(st), "%s/traffic.st", a->dir);
    for (k = 0; k < 2000 && ab_key(st, "done") < 10000; k++)
        usleep(10000);
    for (i = 0; i < AB_RESTARTS; i++) {
        pid = ab_key(run, "pid");
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        if (!pid || kill((pid_t)pid, SIGKILL))
            return -ESRCH;
        for (k = 0; k < 5000; k++) {
            frsp = ab_key(run, "first_response_ns");
            if (frsp > t0)
                break;
            usleep(200);
        }
        if (frsp <= t0)
            return -ETIMEDOUT;
        lat[i] = (double)(frsp - t0) / 1e6;
        usleep(20000);
    }
    return ab_key(st, "errors") ? -EPROTO : 0;
}

static void ab_stop(struct ab *a)
{
    char cmd[96];

    if (a->drv)
        plat_domain_destroy(a->drv);
    if (a->fe)
        plat_domain_destroy(a->fe);
    if (a->tfe)
        plat_domain_destroy(a->tfe);
    if (a->xs)
        xs_close(a->xs);
    if (a->hv > 0) {
        kill(a->hv, SIGTERM);
        waitpid(a->hv, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", a->dir);
    if (system(cmd))
        fprintf(stderr, "attachbench: cannot remove %s\n", a->dir);
}

int main(void)
{
    static double attach[AB_ATTACHES], restart[AB_RESTARTS];
    struct ab a = {0};
    int ret;

    ret = ab_start(&a);
    if (!ret)
        ret = ab_domains(&a);
    if (!ret)
        ret = ab_attach(&a, attach);
    if (!ret)
        ret = ab_restart(&a, restart);
    ab_stop(&a);
    if (ret) {
        fprintf(stderr, "attachbench: %s\n", strerror(-ret));
        return 1;
    }
    printf("attachbench: sim platform, drvdomd + testif worker\n");
    ab_print("attach -> Connected", attach, AB_ATTACHES, "<= 5 ms p50");
    ab_print("worker kill -> first response", restart, AB_RESTARTS,
             "<= 500 ms");
    return 0;
}
