/*
 * xenstore_server: test-only host for the sim xenstore server library
 * (tools/simhv/xenstored), until drvdom-simhv serves it itself.
 *
 *   xenstore_server --socket PATH:DOMID [--socket ...] [--quota k=v ...]
 *                   [--dump FILE] [--ready FILE]
 *
 * Each --socket listens for one domain; every domain but 0 is introduced.
 * SIGUSR1 dumps the tree to FILE (stderr by default); SIGTERM/SIGINT exit
 * (dumping first if --dump was given). --ready FILE is created once every
 * socket listens.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tools/simhv/xenstored/xss.h"

struct xstest_srv {
    struct event_base *base; /* loop */
    struct xss_server *xss;  /* the server */
    const char *dump_path;   /* --dump FILE, or NULL for stderr */
};

static void xstest_dump(struct xstest_srv *s)
{
    FILE *f = s->dump_path ? fopen(s->dump_path, "w") : stderr;

    if (!f)
        return;
    xss_dump(s->xss, f);
    if (f != stderr)
        fclose(f);
}

static void xstest_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct xstest_srv *s = arg;

    (void)what;
    if (sig == SIGUSR1) {
        xstest_dump(s);
        return;
    }
    if (s->dump_path)
        xstest_dump(s);
    event_base_loopbreak(s->base);
}

static int xstest_add_socket(struct xstest_srv *s, char *spec)
{
    char *colon = strrchr(spec, ':'), *end;
    unsigned long domid;
    int rc;

    if (!colon)
        return -EINVAL;
    *colon = '\0';
    domid = strtoul(colon + 1, &end, 10);
    if (*end || end == colon + 1 || domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    rc = xss_listen(s->xss, spec, (domid_t)domid);
    if (!rc && domid)
        rc = xss_domain_introduce(s->xss, (domid_t)domid);
    return rc;
}

static int xstest_usage(void)
{
    fprintf(stderr, "usage: xenstore_server --socket PATH:DOMID ... "
                    "[--quota k=v] [--dump FILE] [--ready FILE]\n");
    return 2;
}

static int xstest_parse_quotas(int argc, char **argv, struct xss_limits *lim)
{
    int i;

    xss_limits_default(lim);
    for (i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--quota"))
            continue;
        if (xss_limits_parse(lim, argv[++i])) {
            fprintf(stderr, "bad quota %s\n", argv[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static int xstest_parse(struct xstest_srv *s, int argc, char **argv,
                        const char **ready)
{
    int i, rc;

    for (i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return -EINVAL;
        if (!strcmp(argv[i], "--socket")) {
            rc = xstest_add_socket(s, argv[++i]);
            if (rc) {
                fprintf(stderr, "--socket %s: %s\n", argv[i], strerror(-rc));
                return rc;
            }
        } else if (!strcmp(argv[i], "--dump")) {
            s->dump_path = argv[++i];
        } else if (!strcmp(argv[i], "--ready")) {
            *ready = argv[++i];
        } else if (!strcmp(argv[i], "--quota")) {
            i++;
        } else {
            return -EINVAL;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
    struct event *ev[3] = {NULL, NULL, NULL};
    struct xstest_srv s = {NULL, NULL, NULL};
    struct xss_limits lim;
    const char *ready = NULL;
    int rc = 1;
    size_t i;
    FILE *f;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 3 || xstest_parse_quotas(argc, argv, &lim))
        return xstest_usage();
    s.base = event_base_new();
    if (!s.base)
        return 1;
    s.xss = xss_server_new(s.base, &lim);
    if (!s.xss || xstest_parse(&s, argc, argv, &ready))
        goto out;
    for (i = 0; i < 3; i++) {
        ev[i] = evsignal_new(s.base, sigs[i], xstest_signal_cb, &s);
        if (!ev[i] || evsignal_add(ev[i], NULL))
            goto out;
    }
    if (ready) {
        f = fopen(ready, "w");
        if (!f)
            goto out;
        fclose(f);
    }
    rc = event_base_dispatch(s.base) < 0;

out:
    for (i = 0; i < 3; i++)
        if (ev[i])
            event_free(ev[i]);
    xss_server_free(s.xss);
    event_base_free(s.base);
    return rc;
}
