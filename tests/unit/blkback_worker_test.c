/*
 * blkback_worker_test.c - drvdom-blkback refuses bad keys with a clear
 * message: the real worker program against a real xenstore server
 * (tests/sim/xenstore_server), one key broken at a time. A frontend's bad
 * key is exit status 3 (drvdomd fails that device), the toolstack's is 1;
 * the message names the key, and "connected" is never said.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <xenstore.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BE            "/local/domain/0/backend/vbd/5/51712"
#define FE            "/local/domain/5/device/vbd/51712"

static char wt_dir[] = "/tmp/blkback_worker.XXXXXX";
static char wt_disk[64];
static pid_t wt_srv = -1;
static struct xs_handle *wt_xs;

static void wt_write(const char *dir, const char *key, const char *val)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    CU_ASSERT_FATAL(xs_write(wt_xs, XBT_NULL, path, val, strlen(val)));
}

static void wt_rm(const char *dir, const char *key)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    xs_rm(wt_xs, XBT_NULL, path);
}

/* A device whose every key is right. */
static void wt_keys(void)
{
    xs_rm(wt_xs, XBT_NULL, BE);
    xs_rm(wt_xs, XBT_NULL, FE);
    wt_write(BE, "params", wt_disk);
    wt_write(BE, "mode", "w");
    wt_write(BE, "frontend", FE);
    wt_write(BE, "frontend-id", "5");
    wt_write(FE, "ring-ref", "8");
    wt_write(FE, "event-channel", "3");
    wt_write(FE, "protocol", "x86_64-abi");
}

/*
 * Run the worker on the device; its exit status, its stderr in err and
 * whether it said anything on the status fd.
 */
static int wt_run(char *err, size_t len, bool *said)
{
    const char *bd = getenv("DRVDOM_BUILDDIR");
    char prog[512], errf[96];
    int sfd[2], fd, status = -1, i;
    ssize_t n;
    pid_t pid;

    snprintf(prog, sizeof(prog), "%s/backend/blk/drvdom-blkback",
             bd ? bd : ".");
    snprintf(errf, sizeof(errf), "%s/stderr", wt_dir);
    if (pipe(sfd) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(sfd[1], 3) < 0)
            _exit(126);
        execl(prog, prog, "--type", "vbd", "--fe", "5", "--devid", "51712",
              "--backend-path", BE, "--frontend-path", FE, "--status-fd", "3",
              (char *)NULL);
        _exit(127);
    }
    close(sfd[1]);
    for (i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
    if (i == 1000) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    *said = read(sfd[0], err, len) > 0;
    close(sfd[0]);
    fd = open(errf, O_RDONLY);
    n = fd >= 0 ? read(fd, err, len - 1) : -1;
    err[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One broken key: the exit status and a message containing want. */
struct wt_case {
    const char *dir;  /* BE or FE */
    const char *key;  /* the key */
    const char *val;  /* its value, NULL to remove it */
    int status;       /* expected exit status */
    const char *want; /* expected in the message */
};

static const struct wt_case wt_cases[] = {
    {FE, "protocol", "x86_32-abi", 3, "32-bit x86 frontends"},
    {FE, "protocol", "sparc-abi", 3, "unknown ABI"},
    {FE, "multi-queue-num-queues", "9", 3, "multi-queue-num-queues"},
    {FE, "multi-queue-num-queues", "0", 3, "multi-queue-num-queues"},
    {FE, "ring-page-order", "5", 3, "ring-page-order"},
    {FE, "ring-page-order", "1", 3, "ring-ref0: missing"},
    {FE, "ring-ref", "banana", 3, "ring-ref: not a ref"},
    {FE, "event-channel", NULL, 3, "event-channel: missing"},
    {FE, "feature-persistent", "2", 3, "feature-persistent"},
    {BE, "params", NULL, 1, "params: missing"},
    {BE, "params", "/nonexistent/disk", 1, "/nonexistent/disk"},
    {BE, "mode", "rw", 1, "mode: invalid value"},
    {BE, "discard-enable", "yes", 1, "discard-enable"},
    {BE, "drvdom-sector-size", "1024", 1, "drvdom-sector-size"},
};

static void test_bad_keys(void)
{
    char err[1024];
    bool said;
    size_t i;
    int st;

    for (i = 0; i < ARRAY_SIZE(wt_cases); i++) {
        const struct wt_case *c = &wt_cases[i];

        wt_keys();
        if (c->val)
            wt_write(c->dir, c->key, c->val);
        else
            wt_rm(c->dir, c->key);
        st = wt_run(err, sizeof(err), &said);
        if (st != c->status || !strstr(err, c->want) ||
            !strstr(err, "vbd/5/51712"))
            fprintf(stderr, "\n  %s=%s: status %d, said \"%s\"\n", c->key,
                    c->val ? c->val : "(none)", st, err);
        CU_ASSERT_EQUAL(st, c->status);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, c->want));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "vbd/5/51712"));
        CU_ASSERT(!said);
    }
}

/* Good keys pass every check: the worker gets as far as the platform. */
static void test_good_keys(void)
{
    char err[1024];
    bool said;

    wt_keys();
    wt_write(FE, "feature-persistent", "1");
    wt_run(err, sizeof(err), &said);
    CU_ASSERT_PTR_NULL(strstr(err, "refusing"));
    CU_ASSERT_PTR_NULL(strstr(err, BE "/"));
}

static int wt_start(void)
{
    const char *bd = getenv("DRVDOM_BUILDDIR");
    char sock[96], ready[96], spec[112], prog[512];
    int fd, i;

    if (!mkdtemp(wt_dir))
        return -errno;
    snprintf(wt_disk, sizeof(wt_disk), "%s/disk", wt_dir);
    fd = open(wt_disk, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
        return -errno;
    close(fd);
    snprintf(sock, sizeof(sock), "%s/xs.sock", wt_dir);
    snprintf(ready, sizeof(ready), "%s/ready", wt_dir);
    snprintf(spec, sizeof(spec), "%s:0", sock);
    snprintf(prog, sizeof(prog), "%s/tests/sim/xenstore_server", bd ? bd : ".");
    wt_srv = fork();
    if (wt_srv == 0) {
        execl(prog, prog, "--socket", spec, "--ready", ready, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500 && access(ready, F_OK); i++)
        usleep(10000);
    setenv("XENSTORED_PATH", sock, 1);
    setenv("DRVDOM_PLATFORM", "sim", 1);
    setenv("DRVDOM_SIM_RUNDIR", wt_dir, 1); /* no simhv here */
    unsetenv("DRVDOM_SIM_FD");
    wt_xs = xs_open(0);
    return wt_xs ? 0 : -EIO;
}

static void wt_stop(void)
{
    char cmd[128];

    if (wt_xs)
        xs_close(wt_xs);
    if (wt_srv > 0) {
        kill(wt_srv, SIGTERM);
        waitpid(wt_srv, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", wt_dir);
    if (system(cmd))
        fprintf(stderr, "blkback_worker_test: cannot remove %s\n", wt_dir);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"bad keys refused, key named", test_bad_keys},
        {"good keys accepted", test_good_keys},
    };
    int fails;

    if (wt_start()) {
        fprintf(stderr, "blkback_worker_test: cannot start xenstore_server\n");
        wt_stop();
        return 1;
    }
    fails = cutest_run("blkback_worker", tests, ARRAY_SIZE(tests));
    wt_stop();
    return fails;
}
