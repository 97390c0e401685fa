/*
 * drvdom-simhv: the sim platform's hypervisor daemon, and a small client for
 * people (create, list, info, destroy). See drvdom-simhv(8) and
 * docs/sim-platform.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drvdom/plat-sim.h"
#include "drvdom/platform.h"
#include "tools/simhv/simhv.h"
#include "tools/simhv/xenstored/xss.h"

static const char simhv_usage[] =
    "Usage: drvdom-simhv --run-dir DIR [--foreground] [--pidfile FILE]\n"
    "                    [--xs-quota KEY=VALUE]...\n"
    "       drvdom-simhv [--run-dir DIR] create [--name NAME] PROGRAM "
    "[ARG...]\n"
    "       drvdom-simhv [--run-dir DIR] list | stats | info DOMID | "
    "destroy DOMID\n"
    "\n"
    "Runs the sim platform's hypervisor (the first form) or asks a running\n"
    "one to create, list, describe or destroy a domain.\n"
    "\n"
    "  -r, --run-dir DIR   run directory holding simhv.sock and dom<N>/\n"
    "                      (client default: $DRVDOM_SIM_RUNDIR "
    "or " PLAT_SIM_RUNDIR_DEFAULT ")\n"
    "  -f, --foreground    do not detach\n"
    "  -p, --pidfile FILE  write the daemon's pid to FILE\n"
    "  -q, --xs-quota K=V  xenstore quota (nodes, watches, outstanding,\n"
    "                      transactions, node_size, perms, trans_nodes,\n"
    "                      path_len, outbuf); cxenstored's defaults otherwise\n"
    "  -n, --name NAME     domain name for create (default: program name)\n"
    "\n"
    "Each domain's xenstore is <run-dir>/dom<N>/xenstored.sock; dom0 tools\n"
    "use XENSTORED_PATH=<run-dir>/dom0/xenstored.sock. SIGUSR1 dumps the\n"
    "tree to <run-dir>/xenstore.dump.\n"
    "  -h, --help          this help\n";

static volatile sig_atomic_t simhv_quiet;

void simhv_log(const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (simhv_quiet)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    fprintf(stderr, "drvdom-simhv[%d] %s.%03ld: ", (int)getpid(), ts,
            now.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void simhv_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct simhv *hv = arg;

    (void)what;
    if (sig == SIGCHLD) {
        simhv_dom_reap(hv);
        return;
    }
    if (sig == SIGUSR1) {
        simhv_xs_dump(hv);
        return;
    }
    simhv_log("signal %d: shutting down", (int)sig);
    event_base_loopbreak(hv->base);
}

/* Binds <run-dir>/simhv.sock, refusing to steal a live daemon's socket. */
static int simhv_listen(struct simhv *hv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, probe;

    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", hv->rundir,
                         SIMHV_SOCK_NAME) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -errno;
    if (!connect(probe, (struct sockaddr *)&sa, sizeof(sa))) {
        close(probe);
        return -EADDRINUSE;
    }
    close(probe);
    unlink(sa.sun_path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
        int ret = -errno;

        close(fd);
        return ret;
    }
    hv->listen_fd = fd;
    return 0;
}

static int simhv_events(struct simhv *hv)
{
    hv->listen_ev = event_new(hv->base, hv->listen_fd, EV_READ | EV_PERSIST,
                              simhv_listen_cb, hv);
    hv->sigchld_ev = evsignal_new(hv->base, SIGCHLD, simhv_signal_cb, hv);
    hv->sigterm_ev = evsignal_new(hv->base, SIGTERM, simhv_signal_cb, hv);
    hv->sigint_ev = evsignal_new(hv->base, SIGINT, simhv_signal_cb, hv);
    hv->sigusr1_ev = evsignal_new(hv->base, SIGUSR1, simhv_signal_cb, hv);
    if (!hv->listen_ev || !hv->sigchld_ev || !hv->sigterm_ev ||
        !hv->sigint_ev || !hv->sigusr1_ev || event_add(hv->listen_ev, NULL) ||
        event_add(hv->sigchld_ev, NULL) || event_add(hv->sigterm_ev, NULL) ||
        event_add(hv->sigint_ev, NULL) || event_add(hv->sigusr1_ev, NULL))
        return -ENOMEM;
    return 0;
}

static void simhv_teardown(struct simhv *hv)
{
    char path[PATH_MAX];

    /* xenstore first: its sockets live in the domains' run dirs. */
    simhv_xs_fini(hv);
    simhv_dom_free_all(hv);
    if (hv->sigusr1_ev)
        event_free(hv->sigusr1_ev);
    if (hv->listen_ev)
        event_free(hv->listen_ev);
    if (hv->sigchld_ev)
        event_free(hv->sigchld_ev);
    if (hv->sigterm_ev)
        event_free(hv->sigterm_ev);
    if (hv->sigint_ev)
        event_free(hv->sigint_ev);
    if (hv->listen_fd >= 0) {
        close(hv->listen_fd);
        snprintf(path, sizeof(path), "%s/%s", hv->rundir, SIMHV_SOCK_NAME);
        unlink(path);
    }
    if (hv->base)
        event_base_free(hv->base);
}

static int simhv_setup(struct simhv *hv, const char *rundir,
                       const struct xss_limits *lim)
{
    struct simhv_dom *dom0;
    struct rlimit rl;
    int ret;

    memset(hv, 0, sizeof(*hv));
    hv->listen_fd = -1;
    hv->next_domid = 1;
    hv->next_serial = 2;
    LIST_INIT(&hv->doms);
    LIST_INIT(&hv->conns);
    if ((size_t)snprintf(hv->rundir, sizeof(hv->rundir), "%s", rundir) >=
        sizeof(hv->rundir))
        return -ENAMETOOLONG;
    if (mkdir(rundir, 0700) && errno != EEXIST)
        return -errno;
    /* Two eventfds per port, memfds per domain: use what we may. */
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    hv->base = event_base_new();
    if (!hv->base)
        return -ENOMEM;
    ret = simhv_listen(hv);
    if (ret)
        return ret;
    ret = simhv_xs_init(hv, lim);
    if (ret)
        return ret;
    ret = simhv_dom_new(hv, 0, "Domain-0", &dom0);
    if (ret)
        return ret;
    return simhv_events(hv);
}

static int simhv_write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f) ? -errno : 0;
}

/* Detaches; the parent exits once the child reports it is ready. */
static int simhv_detach(int *ready_fd)
{
    int pfd[2];
    char c;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC))
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        close(pfd[1]);
        exit(read(pfd[0], &c, 1) == 1 && c == 0 ? 0 : 1);
    }
    close(pfd[0]);
    setsid();
    *ready_fd = pfd[1];
    return 0;
}

static int simhv_daemon(const char *rundir, bool foreground,
                        const char *pidfile, const struct xss_limits *lim)
{
    struct simhv hv;
    int ready_fd = -1, ret;
    char ok = 0;

    if (!foreground && (ret = simhv_detach(&ready_fd)))
        goto out;
    ret = simhv_setup(&hv, rundir, lim);
    if (!ret && pidfile)
        ret = simhv_write_pidfile(pidfile);
    if (ret) {
        fprintf(stderr, "drvdom-simhv: cannot start in %s: %s\n", rundir,
                ret == -EADDRINUSE ? "a daemon is already running there"
                                   : strerror(-ret));
        simhv_teardown(&hv);
        goto out;
    }
    simhv_log("running in %s (socket %s/%s)", hv.rundir, hv.rundir,
              SIMHV_SOCK_NAME);
    if (ready_fd >= 0) {
        (void)!write(ready_fd, &ok, 1);
        close(ready_fd);
        ready_fd = -1;
    }
    event_base_dispatch(hv.base);
    simhv_teardown(&hv);
    if (pidfile)
        unlink(pidfile);
    simhv_log("stopped");
out:
    if (ready_fd >= 0)
        close(ready_fd);
    return ret ? 1 : 0;
}

static int simhv_parse_domid(const char *s, domid_t *domid)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v >= DOMID_FIRST_RESERVED) {
        fprintf(stderr, "drvdom-simhv: bad domain id '%s'\n", s);
        return -EINVAL;
    }
    *domid = (domid_t)v;
    return 0;
}

static const char *simhv_state_name(const struct plat_dominfo *info)
{
    if (info->state == PLAT_DOM_CRASHED)
        return info->dying ? "crashed,dying" : "crashed";
    if (info->state == PLAT_DOM_SHUTDOWN)
        return info->dying ? "shutdown,dying" : "shutdown";
    return info->dying ? "dying" : "running";
}

static void simhv_print_dom(const struct plat_dominfo *info)
{
    pid_t pid = 0;

    plat_sim_domain_pid(info->domid, &pid);
    printf("%-5u %-20s %-16s %d\n", info->domid, info->name,
           simhv_state_name(info), (int)pid);
}

static int simhv_cmd_list(void)
{
    struct plat_dominfo info[SIMHV_LIST_MAX];
    int n, i;

    n = plat_domain_list(info, SIMHV_LIST_MAX);
    if (n < 0)
        return n;
    printf("%-5s %-20s %-16s %s\n", "ID", "NAME", "STATE", "PID");
    for (i = 0; i < n; i++)
        simhv_print_dom(&info[i]);
    return 0;
}

static int simhv_cmd_stats(void)
{
    struct plat_sim_stats st;
    int ret;

    ret = plat_sim_stats(&st);
    if (ret)
        return ret;
    printf("domains %u\nconns %u\nports %u\nmaps %u\npins %u\nshares %u\n"
           "memfds %u\nreleased %u\n",
           st.domains, st.conns, st.ports, st.maps, st.pins, st.shares,
           st.memfds, st.released);
    return 0;
}

static int simhv_client(int argc, char **argv, const char *name)
{
    struct plat_dominfo info;
    const char *cmd = argv[0];
    domid_t domid;
    int ret;

    ret = plat_select(PLAT_SIM);
    if (ret)
        return ret;
    if (!strcmp(cmd, "create")) {
        if (argc >= 3 &&
            (!strcmp(argv[1], "--name") || !strcmp(argv[1], "-n"))) {
            name = argv[2];
            argc -= 2;
            argv += 2;
        }
        if (argc < 2) {
            fprintf(stderr, "drvdom-simhv: create needs a program\n");
            return -EINVAL;
        }
        if (!name) {
            name = strrchr(argv[1], '/');
            name = name ? name + 1 : argv[1];
        }
        ret = plat_sim_domain_create(name, &argv[1], &domid);
        if (!ret)
            printf("%u\n", domid);
        return ret;
    }
    if (!strcmp(cmd, "list") && argc == 1)
        return simhv_cmd_list();
    if (!strcmp(cmd, "stats") && argc == 1)
        return simhv_cmd_stats();
    if ((strcmp(cmd, "info") && strcmp(cmd, "destroy")) || argc != 2) {
        fprintf(stderr, "drvdom-simhv: unknown command or arguments: %s\n%s",
                cmd, simhv_usage);
        return -EINVAL;
    }
    ret = simhv_parse_domid(argv[1], &domid);
    if (ret)
        return ret;
    if (!strcmp(cmd, "destroy"))
        return plat_domain_destroy(domid);
    ret = plat_domain_info(domid, &info);
    if (!ret)
        simhv_print_dom(&info);
    return ret;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"run-dir", required_argument, NULL, 'r'},
        {"foreground", no_argument, NULL, 'f'},
        {"pidfile", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},
        {"xs-quota", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *rundir = NULL, *pidfile = NULL, *name = NULL;
    bool foreground = false, quota = false;
    struct xss_limits lim;
    int opt, ret;

    xss_limits_default(&lim);
    /* "+": options stop at the command, whose program has its own. */
    while ((opt = getopt_long(argc, argv, "+r:fp:n:q:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            rundir = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'q':
            if (xss_limits_parse(&lim, optarg)) {
                fprintf(stderr,
                        "drvdom-simhv: bad --xs-quota '%s': want KEY=N with "
                        "N > 0, KEY one of nodes, watches, outstanding, "
                        "transactions, node_size, perms, trans_nodes, "
                        "path_len, outbuf\n",
                        optarg);
                return 2;
            }
            quota = true;
            break;
        case 'h':
            fputs(simhv_usage, stdout);
            return 0;
        default:
            fputs(simhv_usage, stderr);
            return 2;
        }
    }
    if (optind == argc) {
        if (!rundir) {
            fprintf(stderr, "drvdom-simhv: --run-dir is required\n%s",
                    simhv_usage);
            return 2;
        }
        return simhv_daemon(rundir, foreground, pidfile, &lim);
    }
    if (foreground || pidfile || quota) {
        fprintf(stderr, "drvdom-simhv: --foreground/--pidfile/--xs-quota "
                        "are daemon options\n");
        return 2;
    }
    if (name && strcmp(argv[optind], "create")) {
        fprintf(stderr, "drvdom-simhv: --name goes with create\n");
        return 2;
    }
    if (rundir && setenv("DRVDOM_SIM_RUNDIR", rundir, 1))
        return 1;
    ret = simhv_client(argc - optind, &argv[optind], name);
    if (ret) {
        fprintf(stderr, "drvdom-simhv: %s: %s\n", argv[optind], strerror(-ret));
        return 1;
    }
    return 0;
}
