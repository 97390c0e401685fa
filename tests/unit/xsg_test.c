/*
 * xsg unit tests, against a real xenstore server (tests/sim/xenstore_server,
 * started here on a private socket): the key helpers (features, rings,
 * queues, transactions with retry, state switches) and the backend device
 * model driven through every frontend state with counting ops, including
 * re-adoption of a Connected device and a frontend flipping its state.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "drvdom/xsg.h"
#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define XT_FE         "/local/domain/5/device/testif/1"
#define XT_BE         "/local/domain/0/backend/testif/5/1"

static struct xs_handle *xt_xs;
static pid_t xt_srv;
static char xt_dir[] = "/tmp/drvdom-xsg_test.XXXXXX";

static void xt_write(const char *path, const char *val)
{
    CU_ASSERT_FATAL(xs_write(xt_xs, XBT_NULL, path, val, strlen(val)));
}

static void xt_keys(void)
{
    unsigned long v = 7;

    xt_write("/t/num", "42");
    xt_write("/t/bad", "4x");
    xt_write("/t/neg", "-1");
    CU_ASSERT_EQUAL(xsg_read_uint(xt_xs, XBT_NULL, "/t", "num", 100, &v), 0);
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_EQUAL(xsg_read_uint(xt_xs, XBT_NULL, "/t", "num", 41, &v),
                    -EINVAL);
    CU_ASSERT_EQUAL(xsg_read_uint(xt_xs, XBT_NULL, "/t", "bad", 100, &v),
                    -EINVAL);
    CU_ASSERT_EQUAL(xsg_read_uint(xt_xs, XBT_NULL, "/t", "neg", ~0ul, &v),
                    -EINVAL);
    CU_ASSERT_EQUAL(xsg_read_uint(xt_xs, XBT_NULL, "/t", "none", 100, &v),
                    -ENOENT);
    CU_ASSERT_EQUAL(xsg_read_feature(xt_xs, XBT_NULL, "/t", "none", 1, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(xsg_read_feature(xt_xs, XBT_NULL, "/t", "bad", 1, &v),
                    -EINVAL);
    CU_ASSERT_STRING_EQUAL(xsg_state_name(XenbusStateInitWait), "InitWait");
    CU_ASSERT_STRING_EQUAL(xsg_state_name(99), "Invalid");
}

static void xt_rings(void)
{
    grant_ref_t refs[XSG_MAX_RING_PAGES] = {11, 12, 13, 14}, got[16];
    unsigned int order = 9, nr;
    char dir[64];

    CU_ASSERT_EQUAL(xsg_write_ring_refs(xt_xs, XBT_NULL, "/r0", 0, refs), 0);
    CU_ASSERT_EQUAL(xsg_read_ring_refs(xt_xs, XBT_NULL, "/r0", 2, &order, got),
                    0);
    CU_ASSERT_EQUAL(order, 0);
    CU_ASSERT_EQUAL(got[0], 11);
    CU_ASSERT_EQUAL(xsg_write_ring_refs(xt_xs, XBT_NULL, "/r2", 2, refs), 0);
    CU_ASSERT_EQUAL(xsg_read_ring_refs(xt_xs, XBT_NULL, "/r2", 2, &order, got),
                    0);
    CU_ASSERT_EQUAL(order, 2);
    CU_ASSERT_EQUAL(memcmp(got, refs, 4 * sizeof(*refs)), 0);
    /* More pages than we advertised, or a missing ref: refused. */
    CU_ASSERT_EQUAL(xsg_read_ring_refs(xt_xs, XBT_NULL, "/r2", 1, &order, got),
                    -EINVAL);
    xs_rm(xt_xs, XBT_NULL, "/r2/ring-ref3");
    CU_ASSERT_EQUAL(xsg_read_ring_refs(xt_xs, XBT_NULL, "/r2", 2, &order, got),
                    -ENOENT);
    CU_ASSERT_EQUAL(xsg_write_ring_refs(xt_xs, XBT_NULL, "/r5", 5, refs),
                    -EINVAL);
    /* Multi-queue: absent is one queue; 0 and more than max are refused. */
    CU_ASSERT_EQUAL(xsg_read_num_queues(xt_xs, XBT_NULL, "/q", 4, &nr), 0);
    CU_ASSERT_EQUAL(nr, 1);
    xt_write("/q/multi-queue-num-queues", "4");
    CU_ASSERT_EQUAL(xsg_read_num_queues(xt_xs, XBT_NULL, "/q", 4, &nr), 0);
    CU_ASSERT_EQUAL(nr, 4);
    CU_ASSERT_EQUAL(xsg_read_num_queues(xt_xs, XBT_NULL, "/q", 3, &nr),
                    -EINVAL);
    xt_write("/q/multi-queue-num-queues", "0");
    CU_ASSERT_EQUAL(xsg_read_num_queues(xt_xs, XBT_NULL, "/q", 4, &nr),
                    -EINVAL);
    CU_ASSERT_EQUAL(xsg_queue_dir(dir, sizeof(dir), "/q", 0, 1), 0);
    CU_ASSERT_STRING_EQUAL(dir, "/q");
    CU_ASSERT_EQUAL(xsg_queue_dir(dir, sizeof(dir), "/q", 3, 4), 0);
    CU_ASSERT_STRING_EQUAL(dir, "/q/queue-3");
    CU_ASSERT_EQUAL(xsg_queue_dir(dir, 4, "/q", 3, 4), -ENAMETOOLONG);
}

static int xt_txn_calls;

/* Reads /x, then (first time only) makes a conflicting write elsewhere. */
static int xt_txn_body(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct xs_handle *other = arg;
    unsigned long v;

    xt_txn_calls++;
    if (xsg_read_feature(xs, t, "/x", "n", 1000, &v))
        return -EIO;
    if (xt_txn_calls == 1 && !xs_write(other, XBT_NULL, "/x/n", "5", 1))
        return -EIO;
    return xsg_write_fmt(xs, t, "/x", "n", "%lu", v + 1);
}

static void xt_txn(void)
{
    struct xs_handle *other = xs_open(0);
    unsigned long v;

    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    xt_write("/x/n", "1");
    CU_ASSERT_EQUAL(xsg_txn(xt_xs, xt_txn_body, other), 0);
    CU_ASSERT_EQUAL(xt_txn_calls, 2); /* EAGAIN once, then committed */
    CU_ASSERT_EQUAL(xsg_read_uint(xt_xs, XBT_NULL, "/x", "n", 100, &v), 0);
    CU_ASSERT_EQUAL(v, 6);
    xs_close(other);
    /* A switch never re-creates a removed device. */
    CU_ASSERT_EQUAL(xsg_switch_state(xt_xs, "/gone", XenbusStateClosed),
                    -ENOENT);
    CU_ASSERT_PTR_NULL(xs_read(xt_xs, XBT_NULL, "/gone", NULL));
    xt_write("/st/state", "2");
    CU_ASSERT_EQUAL(xsg_switch_state(xt_xs, "/st", XenbusStateConnected), 0);
    CU_ASSERT_EQUAL(xsg_read_state(xt_xs, XBT_NULL, "/st"),
                    XenbusStateConnected);
    CU_ASSERT_EQUAL(xsg_read_state(xt_xs, XBT_NULL, "/gone"),
                    XenbusStateUnknown);
}

/* Counting ops for the device model. */
struct xt_ops_count {
    int probe, connect, adopt, disconnect, remove;
};
static struct xt_ops_count xt_n;

static int xt_probe(struct xsg_dev *dev, void *arg)
{
    (void)arg;
    xt_n.probe++;
    return xsg_write_fmt(xt_xs, XBT_NULL, xsg_dev_be_path(dev),
                         "feature-testif", "1");
}

static int xt_connect(struct xsg_dev *dev, void *arg)
{
    (void)dev;
    (void)arg;
    xt_n.connect++;
    return 0;
}

static int xt_adopt(struct xsg_dev *dev, void *arg)
{
    (void)arg;
    xt_n.adopt++;
    return xsg_dev_state(dev) == XenbusStateConnected ? XSG_PENDING : -EIO;
}

static void xt_disconnect(struct xsg_dev *dev, void *arg)
{
    (void)dev;
    (void)arg;
    xt_n.disconnect++;
}

static void xt_remove(struct xsg_dev *dev, void *arg)
{
    (void)dev;
    (void)arg;
    xt_n.remove++;
}

static const struct xsg_back_ops xt_ops = {
    .probe = xt_probe,
    .connect = xt_connect,
    .adopt = xt_adopt,
    .disconnect = xt_disconnect,
    .remove = xt_remove,
};

/* Feeds pending watch events to b until none arrive for a while. */
static int xt_pump(struct xsg_back *b)
{
    int handled = 0, idle = 0;
    char **ev;

    while (idle < 20) {
        ev = xs_check_watch(xt_xs);
        if (!ev) {
            handled += xsg_back_process(b);
            idle++;
            usleep(1000);
            continue;
        }
        idle = 0;
        CU_ASSERT(
            xsg_back_watch_event(b, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]));
        free(ev);
    }
    return handled;
}

static enum xenbus_state xt_be_state(void)
{
    return xsg_read_state(xt_xs, XBT_NULL, XT_BE);
}

static void xt_layout(void)
{
    xt_write(XT_FE "/backend", XT_BE);
    xt_write(XT_FE "/backend-id", "0");
    xt_write(XT_FE "/state", "1");
    xt_write(XT_BE "/frontend", XT_FE);
    xt_write(XT_BE "/frontend-id", "5");
    xt_write(XT_BE "/online", "1");
    xt_write(XT_BE "/state", "1");
}

static struct xsg_back *xt_open(void)
{
    struct xsg_back_cfg cfg = {
        .xs = xt_xs, .type = "testif", .self = 0, .ops = &xt_ops};
    struct xsg_back *b = NULL;

    CU_ASSERT_EQUAL_FATAL(xsg_back_open(&b, &cfg), 0);
    return b;
}

static void xt_back_lifecycle(void)
{
    struct xsg_back *b = xt_open();
    unsigned long i;
    int handled;
    char *be;

    memset(&xt_n, 0, sizeof(xt_n));
    xt_layout();
    xt_pump(b);
    CU_ASSERT_EQUAL(xsg_back_count(b), 1);
    CU_ASSERT_EQUAL(xt_n.probe, 1);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateInitWait);
    xt_write(XT_FE "/state", "3");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.connect, 1);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateConnected);
    /* A frontend flipping its state: one pending entry, no reconnects. */
    for (i = 0; i < 5000; i++)
        xt_write(XT_FE "/state", i % 2 ? "4" : "3");
    handled = xt_pump(b);
    CU_ASSERT(handled <= 5000);
    CU_ASSERT_EQUAL(xt_n.connect, 1);
    CU_ASSERT_EQUAL(xt_n.disconnect, 0);
    CU_ASSERT_EQUAL(xsg_back_count(b), 1);
    /* Frontend closes: Closing, then Closed and re-armed (online). */
    xt_write(XT_FE "/state", "5");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.disconnect, 1);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateClosing);
    xt_write(XT_FE "/state", "6");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateInitWait);
    /* Reconnect, then the node vanishes: as Closed. */
    xt_write(XT_FE "/state", "3");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.connect, 2);
    xs_rm(xt_xs, XBT_NULL, XT_FE "/state");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.disconnect, 2);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateInitWait);
    /* Detach: online=0 and Closed. This backend is in the toolstack's
     * domain (0): it says Closed and leaves its directory to the toolstack,
     * which reads Closed, runs the hotplug script (reading the directory)
     * and removes it, as libxl does; the device is forgotten then. */
    xt_write(XT_BE "/online", "0");
    xt_write(XT_FE "/state", "6");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateClosed);
    CU_ASSERT_EQUAL(xt_n.remove, 0);
    CU_ASSERT_EQUAL(xsg_back_count(b), 1);
    be = xs_read(xt_xs, XBT_NULL, XT_BE "/state", NULL);
    CU_ASSERT_PTR_NOT_NULL(be);
    free(be);
    xs_rm(xt_xs, XBT_NULL, XT_FE);
    xs_rm(xt_xs, XBT_NULL, XT_BE);
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.remove, 1);
    CU_ASSERT_EQUAL(xsg_back_count(b), 0);
    xsg_back_close(b);
}

static void xt_back_adopt(void)
{
    struct xsg_back *b;

    memset(&xt_n, 0, sizeof(xt_n));
    xt_layout();
    xt_write(XT_FE "/state", "4");
    xt_write(XT_BE "/state", "4");
    b = xt_open();
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.adopt, 1);
    CU_ASSERT_EQUAL(xt_n.probe, 0);
    CU_ASSERT_EQUAL(xt_n.connect, 0);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateConnected);
    /* The toolstack removes the device outright: forgotten. */
    xs_rm(xt_xs, XBT_NULL, XT_BE);
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.disconnect, 1);
    CU_ASSERT_EQUAL(xt_n.remove, 1);
    CU_ASSERT_EQUAL(xsg_back_count(b), 0);
    /* Shutdown of a connected device: Closing then Closed. */
    xt_layout();
    xt_pump(b);
    xt_write(XT_FE "/state", "4");
    xt_pump(b);
    CU_ASSERT_EQUAL(xt_n.connect, 1);
    xsg_back_close(b);
    CU_ASSERT_EQUAL(xt_be_state(), XenbusStateClosed);
    CU_ASSERT_EQUAL(xt_n.disconnect, 2);
    xs_rm(xt_xs, XBT_NULL, XT_FE);
    xs_rm(xt_xs, XBT_NULL, XT_BE);
}

static int xt_start_server(void)
{
    char sock[128], ready[128], spec[140];
    const char *bd = getenv("DRVDOM_BUILDDIR");
    char prog[512];
    int i;

    if (!mkdtemp(xt_dir))
        return -errno;
    snprintf(sock, sizeof(sock), "%s/xs.sock", xt_dir);
    snprintf(ready, sizeof(ready), "%s/ready", xt_dir);
    snprintf(spec, sizeof(spec), "%s:0", sock);
    snprintf(prog, sizeof(prog), "%s/tests/sim/xenstore_server", bd ? bd : ".");
    xt_srv = fork();
    if (xt_srv == 0) {
        execl(prog, prog, "--socket", spec, "--ready", ready, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500 && access(ready, F_OK); i++)
        usleep(10000);
    setenv("XENSTORED_PATH", sock, 1);
    setenv("DRVDOM_SIM_RUNDIR", xt_dir, 1); /* no simhv: no domain is dead */
    xt_xs = xs_open(0);
    return xt_xs ? 0 : -EIO;
}

static void xt_stop_server(void)
{
    char cmd[128];

    if (xt_xs)
        xs_close(xt_xs);
    if (xt_srv > 0) {
        kill(xt_srv, SIGTERM);
        waitpid(xt_srv, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", xt_dir);
    if (system(cmd))
        fprintf(stderr, "xsg_test: cannot remove %s\n", xt_dir);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"keys and features", xt_keys},
        {"rings and queues", xt_rings},
        {"transactions and switches", xt_txn},
        {"backend lifecycle", xt_back_lifecycle},
        {"backend adopt and close", xt_back_adopt},
    };
    int fails;

    if (xt_start_server()) {
        fprintf(stderr, "xsg_test: cannot start xenstore_server\n");
        xt_stop_server();
        return 1;
    }
    fails = cutest_run("xsg", tests, ARRAY_SIZE(tests));
    xt_stop_server();
    return fails;
}
