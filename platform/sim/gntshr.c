/*
 * Sim platform grant sharing, the guest side of grants: pages of our own
 * RAM memfd, and grant entries we write ourselves in our grant table, as a
 * guest kernel does. The daemon only hands out free refs and frames (the
 * job of gntalloc) so the processes of one domain do not collide.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform/sim/sim-private.h"

/* One share made through this handle. */
struct plat_sim_share {
    void *addr;        /* start of the pages */
    uint32_t count;    /* pages */
    grant_ref_t *refs; /* their refs */
};

struct plat_sim_gntshr {
    struct plat_sim_conn *conn;
    pthread_mutex_t lock; /* shares[] */
    int ram_fd;           /* our RAM */
    grant_entry_v1_t *gt; /* our grant table */
    struct plat_sim_share *shares;
    size_t nshares;
    size_t maxshares;
};

static int plat_sim_gntshr_mem(struct plat_sim_gntshr *gs)
{
    struct simhv_req req = {.op = SIMHV_OP_MEM};
    struct plat_sim_reply rep = {0};
    void *gt;
    int ret;

    ret = plat_sim_call(gs->conn, &req, NULL, 0, &rep);
    if (ret)
        return ret;
    if (rep.nfds != 2 || rep.rep.val0 != SIMHV_RAM_PAGES ||
        rep.rep.val1 != SIMHV_GNTTAB_ENTRIES) {
        plat_sim_reply_close_fds(&rep);
        return -EPROTO;
    }
    gt = mmap(NULL, SIMHV_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t),
              PROT_READ | PROT_WRITE, MAP_SHARED, rep.fds[1], 0);
    if (gt == MAP_FAILED) {
        ret = -errno;
        plat_sim_reply_close_fds(&rep);
        return ret;
    }
    close(rep.fds[1]);
    gs->ram_fd = rep.fds[0];
    gs->gt = gt;
    return 0;
}

int plat_sim_gntshr_open(void **out)
{
    struct plat_sim_gntshr *gs;
    int ret;

    gs = calloc(1, sizeof(*gs));
    if (!gs)
        return -ENOMEM;
    gs->ram_fd = -1;
    ret = plat_sim_conn_open(&gs->conn);
    if (ret)
        goto err_free;
    ret = plat_sim_gntshr_mem(gs);
    if (ret)
        goto err_conn;
    pthread_mutex_init(&gs->lock, NULL);
    *out = gs;
    return 0;

err_conn:
    plat_sim_conn_close(gs->conn);
err_free:
    free(gs);
    return ret;
}

/* Shares still mapped by a grantee are ended by the daemon on their last
 * unmap once our connection is gone. */
void plat_sim_gntshr_close(void *h)
{
    struct plat_sim_gntshr *gs = h;
    size_t i;

    for (i = 0; i < gs->nshares; i++) {
        munmap(gs->shares[i].addr,
               (size_t)gs->shares[i].count * PLAT_PAGE_SIZE);
        free(gs->shares[i].refs);
    }
    munmap(gs->gt, SIMHV_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
    close(gs->ram_fd);
    plat_sim_conn_close(gs->conn);
    pthread_mutex_destroy(&gs->lock);
    free(gs->shares);
    free(gs);
}

/* Writes a grant entry as a guest does: frame and domid, then the flags. */
static void plat_sim_grant(grant_entry_v1_t *e, domid_t domid, uint32_t frame,
                           bool writable)
{
    uint16_t flags = GTF_permit_access | (writable ? 0 : GTF_readonly);

    e->frame = frame;
    /* Order: frame before the flags that make the entry valid. */
    __atomic_store_n(simhv_gnt_word(e), simhv_gnt_pack(flags, domid),
                     __ATOMIC_RELEASE);
}

/* Ends access unless mapped (Xen's gnttab_end_foreign_access_ref). */
static bool plat_sim_end_access(grant_entry_v1_t *e, uint32_t *saved)
{
    uint32_t *word = simhv_gnt_word(e);
    uint32_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);

    do {
        if (simhv_gnt_flags(old) & (GTF_reading | GTF_writing))
            return false;
    } while (!__atomic_compare_exchange_n(word, &old, 0, false,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    *saved = old;
    return true;
}

static int plat_sim_share_record(struct plat_sim_gntshr *gs, void *addr,
                                 uint32_t count, const grant_ref_t *refs)
{
    struct plat_sim_share *shares;
    grant_ref_t *copy;
    size_t max;

    copy = malloc(count * sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    memcpy(copy, refs, count * sizeof(*copy));
    pthread_mutex_lock(&gs->lock);
    if (gs->nshares == gs->maxshares) {
        max = gs->maxshares ? gs->maxshares * 2 : 16;
        shares = realloc(gs->shares, max * sizeof(*shares));
        if (!shares) {
            pthread_mutex_unlock(&gs->lock);
            free(copy);
            return -ENOMEM;
        }
        gs->shares = shares;
        gs->maxshares = max;
    }
    gs->shares[gs->nshares++] = (struct plat_sim_share){addr, count, copy};
    pthread_mutex_unlock(&gs->lock);
    return 0;
}

static void plat_sim_share_free(struct plat_sim_gntshr *gs, uint32_t count,
                                const grant_ref_t *refs)
{
    struct simhv_req req = {.op = SIMHV_OP_SHARE_FREE, .count = count};
    struct plat_sim_reply rep = {0};

    if (!plat_sim_call(gs->conn, &req, refs, count * sizeof(*refs), &rep))
        plat_sim_reply_close_fds(&rep);
}

int plat_sim_gntshr_share(void *h, domid_t domid, uint32_t count,
                          grant_ref_t *refs, bool writable, void **addr)
{
    struct plat_sim_gntshr *gs = h;
    struct simhv_req req = {.op = SIMHV_OP_SHARE_ALLOC, .count = count};
    struct plat_sim_reply rep = {.payload = refs,
                                 .payload_max = count * sizeof(*refs)};
    uint32_t i, frame;
    void *map;
    int ret;

    if (count > SIMHV_MAP_MAX || domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    ret = plat_sim_call(gs->conn, &req, NULL, 0, &rep);
    if (ret)
        return ret;
    plat_sim_reply_close_fds(&rep);
    frame = rep.rep.val0;
    if (rep.payload_len != count * sizeof(*refs) ||
        frame > SIMHV_RAM_PAGES - count)
        return -EPROTO;
    for (i = 0; i < count; i++) {
        if (refs[i] >= SIMHV_GNTTAB_ENTRIES)
            return -EPROTO;
    }
    map = mmap(NULL, (size_t)count * PLAT_PAGE_SIZE, PROT_READ | PROT_WRITE,
               MAP_SHARED, gs->ram_fd, (off_t)frame * PLAT_PAGE_SIZE);
    if (map == MAP_FAILED) {
        ret = -errno;
        goto err_free;
    }
    ret = plat_sim_share_record(gs, map, count, refs);
    if (ret)
        goto err_unmap;
    for (i = 0; i < count; i++)
        plat_sim_grant(&gs->gt[refs[i]], domid, frame + i, writable);
    *addr = map;
    return 0;

err_unmap:
    munmap(map, (size_t)count * PLAT_PAGE_SIZE);
err_free:
    plat_sim_share_free(gs, count, refs);
    return ret;
}

int plat_sim_gntshr_unshare(void *h, void *addr, uint32_t count)
{
    struct plat_sim_gntshr *gs = h;
    struct plat_sim_share sh = {0};
    uint32_t i, *saved;
    size_t k;

    pthread_mutex_lock(&gs->lock);
    for (k = 0; k < gs->nshares; k++) {
        if (gs->shares[k].addr == addr && gs->shares[k].count == count)
            break;
    }
    if (k == gs->nshares) {
        pthread_mutex_unlock(&gs->lock);
        return -EINVAL;
    }
    sh = gs->shares[k];
    saved = calloc(count, sizeof(*saved));
    if (!saved) {
        pthread_mutex_unlock(&gs->lock);
        return -ENOMEM;
    }
    for (i = 0; i < count; i++) {
        if (!plat_sim_end_access(&gs->gt[sh.refs[i]], &saved[i]))
            break;
    }
    if (i < count) {
        /* Still mapped: put back what we ended, change nothing. */
        while (i--)
            __atomic_store_n(simhv_gnt_word(&gs->gt[sh.refs[i]]), saved[i],
                             __ATOMIC_RELEASE);
        pthread_mutex_unlock(&gs->lock);
        free(saved);
        return -EBUSY;
    }
    gs->shares[k] = gs->shares[--gs->nshares];
    pthread_mutex_unlock(&gs->lock);
    free(saved);
    munmap(addr, (size_t)count * PLAT_PAGE_SIZE);
    plat_sim_share_free(gs, count, sh.refs);
    free(sh.refs);
    return 0;
}
