/*
 * xs.c - drvdom-simhv's xenstore: the sim xenstore server (xenstored/, the
 * xss library) running on the daemon's own event loop. Every domain gets a
 * socket <run-dir>/dom<N>/xenstored.sock that speaks for it (its programs
 * find it through XENSTORED_PATH); a domain is introduced when it is created
 * and released from xenstore when it dies, as xenstored does on Xen.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "tools/simhv/simhv.h"
#include "tools/simhv/xenstored/xss.h"

int simhv_xs_init(struct simhv *hv, const struct xss_limits *lim)
{
    hv->xs = xss_server_new(hv->base, lim);
    return hv->xs ? 0 : -ENOMEM;
}

void simhv_xs_fini(struct simhv *hv)
{
    xss_server_free(hv->xs);
    hv->xs = NULL;
}

/* Socket path of a domain's xenstore connection. */
int simhv_xs_path(const struct simhv_dom *d, char *buf, size_t len)
{
    if ((size_t)snprintf(buf, len, "%s/%s", d->rundir, SIMHV_XS_SOCK_NAME) >=
        len)
        return -ENAMETOOLONG;
    return 0;
}

/*
 * A new domain: its xenstore socket, then (guests only) introduce it and
 * write the nodes the toolstack writes for a new domain, before its program
 * runs.
 */
int simhv_xs_domain_new(struct simhv_dom *d)
{
    struct simhv *hv = d->hv;
    char path[PATH_MAX];
    int ret;

    ret = simhv_xs_path(d, path, sizeof(path));
    if (ret)
        return ret;
    ret = xss_listen(hv->xs, path, d->domid);
    if (ret)
        return ret;
    if (d->domid == 0) {
        /* What xen-init-dom0 writes on a Xen host. */
        ret =
            xss_server_write(hv->xs, "/local/domain/0/name", "Domain-0", NULL);
        return ret ? ret
                   : xss_server_write(hv->xs, "/local/domain/0/domid", "0",
                                      NULL);
    }
    ret = xss_domain_introduce(hv->xs, d->domid);
    if (ret)
        return ret;
    return xss_domain_make(hv->xs, d->domid, d->name);
}

/* The domain died: drop its connections, watches, transactions and nodes and
 * fire @releaseDomain. */
void simhv_xs_domain_dead(struct simhv_dom *d)
{
    int ret;

    if (d->domid == 0 || !d->hv->xs)
        return;
    ret = xss_domain_release(d->hv->xs, d->domid);
    if (ret && ret != -ENOENT)
        simhv_log("domain %u: xenstore release failed: %s", d->domid,
                  strerror(-ret));
}

/* SIGUSR1: the whole tree to <run-dir>/xenstore.dump, for debugging. */
void simhv_xs_dump(struct simhv *hv)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/xenstore.dump", hv->rundir);
    f = fopen(path, "w");
    if (!f) {
        simhv_log("xenstore dump to %s failed: %s", path, strerror(errno));
        return;
    }
    xss_dump(hv->xs, f);
    if (fclose(f))
        simhv_log("xenstore dump to %s failed: %s", path, strerror(errno));
    else
        simhv_log("xenstore dumped to %s", path);
}
