/*
 * Sim platform benchmark: grant map+unmap pairs/s, grant copy GB/s next to
 * memcpy of the same bytes in the same run, and notify -> wake-up latency
 * (p50/p99) between two domains. Starts its own drvdom-simhv; the second
 * domain is this program re-run with --echo.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drvdom/plat-sim.h"
#include "drvdom/platform.h"

#define PB_MAPS      20000u
#define PB_COPY_PGS  256u /* 1 MiB per grant copy batch */
#define PB_COPY_REPS 512u /* 512 MiB in all */
#define PB_PINGS     20000u

/* The page the two domains share for the latency run. */
struct pb_shared {
    uint64_t sent_ns; /* when dom0 notified */
    uint64_t lat_ns;  /* wake-up latency the echo domain measured */
};

static uint64_t pb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pb_wait(struct plat_evtchn *ec)
{
    struct pollfd pfd = {.fd = plat_evtchn_fd(ec), .events = POLLIN};
    evtchn_port_t p;

    if (poll(&pfd, 1, 10000) != 1 || plat_evtchn_pending(ec, &p))
        return -ETIMEDOUT;
    return plat_evtchn_unmask(ec, p);
}

/* The echo domain: maps dom0's page, binds its port, stamps wake-ups. */
static int pb_echo(grant_ref_t ref, evtchn_port_t rport)
{
    struct plat_gnttab *gt;
    struct plat_evtchn *ec;
    struct pb_shared *sh;
    evtchn_port_t port;

    if (plat_gnttab_open(&gt) || plat_evtchn_open(&ec) ||
        plat_gnttab_map(gt, 0, 1, &ref, true, (void **)&sh) ||
        plat_evtchn_bind_interdomain(ec, 0, rport, &port))
        return 2;
    plat_evtchn_notify(ec, port);
    while (!pb_wait(ec)) {
        sh->lat_ns = pb_now() - __atomic_load_n(&sh->sent_ns, __ATOMIC_ACQUIRE);
        plat_evtchn_notify(ec, port);
    }
    return 0;
}

static void pb_map(void)
{
    struct plat_gnttab *gt;
    struct plat_gntshr *gs;
    grant_ref_t ref;
    uint64_t t0, t1;
    void *page, *map;
    unsigned int i;

    if (plat_gntshr_open(&gs) || plat_gnttab_open(&gt) ||
        plat_gntshr_share(gs, 0, 1, &ref, true, &page)) {
        fprintf(stderr, "platbench: setup failed\n");
        exit(1);
    }
    t0 = pb_now();
    for (i = 0; i < PB_MAPS; i++) {
        if (plat_gnttab_map(gt, 0, 1, &ref, true, &map) ||
            plat_gnttab_unmap(gt, map, 1)) {
            fprintf(stderr, "platbench: map failed\n");
            exit(1);
        }
    }
    t1 = pb_now();
    printf("grant map+unmap (1 page):   %8.0f pairs/s\n",
           PB_MAPS * 1e9 / (double)(t1 - t0));
    plat_gntshr_unshare(gs, page, 1);
    plat_gnttab_close(gt);
    plat_gntshr_close(gs);
}

static void pb_copy(void)
{
    static struct plat_gntcopy_seg segs[PB_COPY_PGS];
    grant_ref_t refs[PB_COPY_PGS];
    struct plat_gnttab *gt;
    struct plat_gntshr *gs;
    uint64_t t0, t1, t2;
    unsigned int i, r;
    uint8_t *src, *dst;
    size_t bytes = (size_t)PB_COPY_PGS * PLAT_PAGE_SIZE;
    double gib = (double)bytes * PB_COPY_REPS / 1e9;

    dst = malloc(bytes);
    if (!dst || plat_gntshr_open(&gs) || plat_gnttab_open(&gt) ||
        plat_gntshr_share(gs, 0, PB_COPY_PGS, refs, true, (void **)&src)) {
        fprintf(stderr, "platbench: setup failed\n");
        exit(1);
    }
    memset(src, 0x5a, bytes);
    for (i = 0; i < PB_COPY_PGS; i++) {
        segs[i].flags = GNTCOPY_source_gref;
        segs[i].source.foreign.ref = refs[i];
        segs[i].source.foreign.domid = 0;
        segs[i].dest.virt = dst + (size_t)i * PLAT_PAGE_SIZE;
        segs[i].len = PLAT_PAGE_SIZE;
    }
    t0 = pb_now();
    for (r = 0; r < PB_COPY_REPS; r++) {
        if (plat_gnttab_copy(gt, PB_COPY_PGS, segs) ||
            segs[PB_COPY_PGS - 1].status != GNTST_okay) {
            fprintf(stderr, "platbench: copy failed\n");
            exit(1);
        }
    }
    t1 = pb_now();
    for (r = 0; r < PB_COPY_REPS; r++) {
        memcpy(dst, src, bytes);
        __asm__ volatile("" : : "r"(dst) : "memory");
    }
    t2 = pb_now();
    printf("grant copy (4 KiB segs):    %8.2f GB/s\n",
           gib * 1e9 / (double)(t1 - t0));
    printf("  baseline memcpy:          %8.2f GB/s\n",
           gib * 1e9 / (double)(t2 - t1));
    plat_gntshr_unshare(gs, src, PB_COPY_PGS);
    plat_gnttab_close(gt);
    plat_gntshr_close(gs);
    free(dst);
}

static int pb_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void pb_latency(const char *self)
{
    static uint64_t lat[PB_PINGS];
    char sref[16], sport[16], *argv[5];
    struct plat_gntshr *gs;
    struct plat_evtchn *ec;
    struct pb_shared *sh;
    evtchn_port_t port;
    grant_ref_t ref;
    domid_t echo = 1;
    unsigned int i;

    /* Domain ids are handed out in order: the echo domain is the next. */
    if (plat_gntshr_open(&gs) || plat_evtchn_open(&ec))
        exit(1);
    if (plat_gntshr_share(gs, echo, 1, &ref, true, (void **)&sh) ||
        plat_evtchn_bind_unbound(ec, echo, &port))
        exit(1);
    snprintf(sref, sizeof(sref), "%u", ref);
    snprintf(sport, sizeof(sport), "%u", port);
    argv[0] = (char *)self;
    argv[1] = "--echo";
    argv[2] = sref;
    argv[3] = sport;
    argv[4] = NULL;
    if (plat_sim_domain_create("echo", argv, &echo) || echo != 1 ||
        pb_wait(ec)) {
        fprintf(stderr, "platbench: echo domain failed\n");
        exit(1);
    }
    for (i = 0; i < PB_PINGS; i++) {
        __atomic_store_n(&sh->sent_ns, pb_now(), __ATOMIC_RELEASE);
        plat_evtchn_notify(ec, port);
        if (pb_wait(ec))
            exit(1);
        lat[i] = sh->lat_ns;
    }
    qsort(lat, PB_PINGS, sizeof(lat[0]), pb_cmp);
    printf("notify -> wake-up, 2 domains: p50 %6.1f us  p99 %6.1f us\n",
           lat[PB_PINGS / 2] / 1e3, lat[PB_PINGS * 99 / 100] / 1e3);
    plat_domain_destroy(echo);
    plat_evtchn_close(ec);
    plat_gntshr_close(gs);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/drvdom-platbench.XXXXXX", bin[PATH_MAX], self[PATH_MAX];
    const char *bd = getenv("DRVDOM_BUILDDIR");
    domid_t id;
    pid_t hv;
    ssize_t n;
    int i;

    if (argc == 4 && !strcmp(argv[1], "--echo"))
        return pb_echo((grant_ref_t)atoi(argv[2]),
                       (evtchn_port_t)atoi(argv[3]));
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0 || !mkdtemp(dir))
        return 1;
    self[n] = '\0';
    snprintf(bin, sizeof(bin), "%s/tools/simhv/drvdom-simhv", bd ? bd : ".");
    hv = fork();
    if (hv == 0) {
        freopen("/dev/null", "w", stderr);
        execl(bin, bin, "--run-dir", dir, "--foreground", (char *)NULL);
        _exit(127);
    }
    setenv("DRVDOM_SIM_RUNDIR", dir, 1);
    plat_select(PLAT_SIM);
    for (i = 0; i < 2000 && plat_domid_self(&id); i++)
        usleep(5000);
    printf("sim platform (drvdom-simhv), one run:\n");
    pb_map();
    pb_copy();
    pb_latency(self);
    kill(hv, SIGTERM);
    waitpid(hv, NULL, 0);
    rmdir(dir);
    return 0;
}
