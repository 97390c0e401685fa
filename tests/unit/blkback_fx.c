/*
 * blkback_fx.c - what the in-process blkback data-path tests share
 * (blkback_queue_test.c, blkback_copy_test.c): a fake platform at the seam
 * whose grant table maps and copies pages of a memfd standing in for guest
 * RAM (shared, so what the backend writes lands in "guest memory", and
 * read-only grants are read-only mappings or refused copy targets), a real
 * file on io_uring, and a device of one to four queues whose rings a
 * ringbuf front drives over the same pages.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <CUnit/Basic.h>

#include "tests/unit/blkback_fx.h"
#include "platform/plat-private.h"

/* ---------------------------------------------------------- fake platform */

static int guest_fd = -1;  /* the guest's RAM */
uint8_t *guest;            /* its pages, as the frontend sees them */
struct fake_gnt gnt[NGNT]; /* the guest's grant table */
static unsigned gnt_next;  /* next free ref */
long live_pages;           /* pages mapped now */
unsigned long map_calls;   /* plat_gnttab_map calls */
unsigned long copy_calls;  /* plat_gnttab_copy calls */
unsigned long copy_segs;   /* segments they copied or refused */
static int gt_token;       /* what grant handles point to */

static int fake_gnttab_open(void **h)
{
    *h = &gt_token;
    return 0;
}

static void fake_close(void *h)
{
    (void)h;
}

static int fake_map(void *h, domid_t domid, uint32_t count,
                    const grant_ref_t *refs, bool writable, void **addr)
{
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    uint8_t *base;
    uint32_t i;

    (void)h;
    __atomic_add_fetch(&map_calls, 1, __ATOMIC_RELAXED);
    if (domid != FE_DOMID || count == 0)
        return -EINVAL;
    for (i = 0; i < count; i++)
        if (refs[i] >= NGNT || !gnt[refs[i]].valid ||
            (writable && gnt[refs[i]].ro))
            return -EINVAL;
    base = mmap(NULL, (size_t)count * PAGE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return -ENOMEM;
    for (i = 0; i < count; i++)
        if (mmap(base + (size_t)i * PAGE, PAGE, prot, MAP_SHARED | MAP_FIXED,
                 guest_fd, (off_t)gnt[refs[i]].frame * PAGE) == MAP_FAILED)
            return -ENOMEM;
    __atomic_add_fetch(&live_pages, count, __ATOMIC_RELAXED);
    *addr = base;
    return 0;
}

static int fake_unmap(void *h, void *addr, uint32_t count)
{
    (void)h;
    __atomic_sub_fetch(&live_pages, count, __ATOMIC_RELAXED);
    return munmap(addr, (size_t)count * PAGE) < 0 ? -errno : 0;
}

/* One gref side of a copy: the guest's bytes, or NULL with *status set. */
static uint8_t *fake_copy_side(const union plat_gntcopy_ptr *p, uint16_t len,
                               bool dest, int16_t *status)
{
    grant_ref_t ref = p->foreign.ref;

    if (p->foreign.domid != FE_DOMID || ref >= NGNT || !gnt[ref].valid) {
        *status = GNTST_bad_gntref;
        return NULL;
    }
    if (dest && gnt[ref].ro) {
        *status = GNTST_permission_denied;
        return NULL;
    }
    if (p->foreign.offset + len > PAGE) {
        *status = GNTST_bad_copy_arg;
        return NULL;
    }
    return guest + (size_t)gnt[ref].frame * PAGE + p->foreign.offset;
}

/* Grant copy as Xen does it: exactly one side a grant, status per segment. */
static int fake_copy(void *h, uint32_t count, struct plat_gntcopy_seg *segs)
{
    struct plat_gntcopy_seg *s;
    uint8_t *g;
    uint32_t i;

    (void)h;
    __atomic_add_fetch(&copy_calls, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&copy_segs, count, __ATOMIC_RELAXED);
    for (i = 0; i < count; i++) {
        s = &segs[i];
        s->status = GNTST_okay;
        if (s->flags == GNTCOPY_source_gref) {
            g = fake_copy_side(&s->source, s->len, false, &s->status);
            if (g != NULL)
                memcpy(s->dest.virt, g, s->len);
        } else if (s->flags == GNTCOPY_dest_gref) {
            g = fake_copy_side(&s->dest, s->len, true, &s->status);
            if (g != NULL)
                memcpy(g, s->source.virt, s->len);
        } else {
            return -EINVAL; /* we never copy guest to guest */
        }
    }
    return 0;
}

/* An event channel handle: the eventfd the test "notifies" through. */
static int fake_evtchn_open(void **h)
{
    int *fd = malloc(sizeof(*fd));

    if (fd == NULL)
        return -ENOMEM;
    *fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    *h = fd;
    return *fd < 0 ? -errno : 0;
}

static void fake_evtchn_close(void *h)
{
    close(*(int *)h);
    free(h);
}

static int fake_evtchn_fd(void *h)
{
    return *(int *)h;
}

static int fake_bind(void *h, domid_t remote, evtchn_port_t remote_port,
                     evtchn_port_t *port)
{
    (void)h;
    if (remote != FE_DOMID || remote_port < FE_PORT ||
        remote_port >= FE_PORT + BLKBACK_MAX_QUEUES)
        return -EINVAL;
    *port = remote_port + 100;
    return 0;
}

static int fake_port_op(void *h, evtchn_port_t port)
{
    (void)h;
    (void)port;
    return 0;
}

unsigned long evt_notifies;

static int fake_notify(void *h, evtchn_port_t port)
{
    (void)h;
    (void)port;
    evt_notifies++;
    return 0;
}

static int fake_pending(void *h, evtchn_port_t *port)
{
    uint64_t v;

    if (read(*(int *)h, &v, sizeof(v)) < 0)
        return -EAGAIN;
    *port = 0;
    return 0;
}

static const struct plat_ops fake_ops = {
    .name = "blkback-fake",
    .gnttab_open = fake_gnttab_open,
    .gnttab_close = fake_close,
    .gnttab_map = fake_map,
    .gnttab_unmap = fake_unmap,
    .gnttab_copy = fake_copy,
    .evtchn_open = fake_evtchn_open,
    .evtchn_close = fake_evtchn_close,
    .evtchn_fd = fake_evtchn_fd,
    .evtchn_bind_interdomain = fake_bind,
    .evtchn_notify = fake_notify,
    .evtchn_pending = fake_pending,
    .evtchn_unmask = fake_port_op,
    .evtchn_unbind = fake_port_op,
};

/* Grant frame to the backend. */
grant_ref_t grant(uint32_t frame, bool ro)
{
    grant_ref_t ref = gnt_next++;

    gnt[ref] = (struct fake_gnt){.valid = true, .ro = ro, .frame = frame};
    return ref;
}

/* ---------------------------------------------------------------- fixture */

static char disk_path[PATH_MAX];
int disk_fd = -1;

struct fixture fx;
bool fx_copy;
/* The device's request journal (what drvdomd's journal file holds). */
uint8_t fx_journal[BLKBACK_MAX_QUEUES * BLKBACK_JOURNAL_SLOT];

int fx_open(unsigned nq, unsigned order, bool persistent, uint32_t max_pgrants,
            bool readonly)
{
    struct blkback_io_opts opts = {.queue_depth = 1,
                                   .max_segs = BLKBACK_MAX_SEGS,
                                   .readonly = readonly,
                                   .allow_buffered = true};
    struct blkback_queue_cfg cfg;
    unsigned i, k;

    memset(&fx, 0, sizeof(fx));
    memset(gnt, 0, sizeof(gnt));
    memset(guest, 0, (size_t)GUEST_PAGES * PAGE);
    gnt_next = 1;
    if (ftruncate(disk_fd, 0) < 0 || ftruncate(disk_fd, DISK_BYTES) < 0)
        return -errno;
    if (blkback_io_open(&fx.disk, disk_path, &opts) < 0)
        return -EIO;
    blkback_io_geom(&fx.disk, &fx.dev.geom, BLKBACK_MAX_INDIRECT_SEGS);
    snprintf(fx.dev.name, sizeof(fx.dev.name), "vbd/%d/51712", FE_DOMID);
    fx.dev.fe = FE_DOMID;
    fx.dev.persistent = persistent;
    fx.dev.copy = fx_copy;
    fx.dev.max_pgrants = max_pgrants;
    fx.dev.disk = &fx.disk;
    fx.dev.status_fd = -1;
    memset(fx_journal, 0, sizeof(fx_journal));
    fx.dev.journal = fx_journal;
    fx.dev.poll_us = BLKBACK_POLL_US; /* the threads busy-poll */
    fx.nq = nq;
    for (i = 0; i < nq; i++) {
        uint8_t *sring = guest + (size_t)i * (RING_FRAMES / nq) * PAGE;

        memset(&cfg, 0, sizeof(cfg));
        cfg.order = order;
        for (k = 0; k < 1u << order; k++)
            cfg.refs[k] = grant(i * (RING_FRAMES / nq) + k, false);
        cfg.port = FE_PORT + i;
        if (ringbuf_front_init(&fx.fr[i], sring, order, sizeof(blkif_request_t),
                               sizeof(blkif_response_t)) < 0 ||
            blkback_queue_open(&fx.q[i], &fx.dev, i, nq, &cfg, false) < 0)
            return -EIO;
    }
    return 0;
}

void fx_close(void)
{
    unsigned i;

    for (i = 0; i < fx.nq; i++)
        blkback_queue_close(&fx.q[i]);
    blkback_io_close(&fx.disk);
    CU_ASSERT_EQUAL(live_pages, 0);
}

/* Queue req on queue qi's ring and publish it. */
void fx_put(unsigned qi, const void *req)
{
    CU_ASSERT_EQUAL(ringbuf_front_put(&fx.fr[qi], req), 0);
    ringbuf_front_push(&fx.fr[qi]);
}

/* Run queue qi until n responses are there; take them. */
int fx_run(unsigned qi, blkif_response_t *rsp, unsigned n)
{
    unsigned got = 0, spins;
    int r;

    for (spins = 0; got < n && spins < 10000; spins++) {
        if (blkback_queue_pass(&fx.q[qi], true) < 0)
            return -EPROTO;
        r = ringbuf_front_take(&fx.fr[qi], rsp + got, n - got);
        if (r < 0)
            return r;
        got += (unsigned)r;
    }
    return (int)got;
}

/* A READ/WRITE-like request of nseg full pages at frames from first. */
blkif_request_t rw_req(uint8_t op, uint64_t id, uint64_t sector, uint32_t first,
                       unsigned nseg, bool ro)
{
    blkif_request_t r;
    unsigned i;

    memset(&r, 0, sizeof(r));
    r.operation = op;
    r.id = id;
    r.sector_number = sector;
    r.nr_segments = (uint8_t)nseg;
    for (i = 0; i < nseg; i++) {
        r.seg[i].gref = grant(first + i, ro);
        r.seg[i].first_sect = 0;
        r.seg[i].last_sect = 7;
    }
    return r;
}

/*
 * An INDIRECT request of nseg full pages at frames from data, its segment
 * list in frame ipage. rw: every grant writable (persistent grants, as
 * Linux blkfront makes them); else the list read-only and the data
 * read-only but for a READ.
 */
blkif_request_t ind_req(uint32_t ipage, uint32_t data, unsigned nseg,
                        uint64_t id, uint8_t op, uint64_t sector, bool rw)
{
    struct blkif_request_segment *seg =
        (struct blkif_request_segment *)(guest + (size_t)ipage * PAGE);
    blkif_request_indirect_t ind;
    blkif_request_t slot; /* a ring slot holding ind */
    unsigned i;

    for (i = 0; i < nseg; i++)
        seg[i] = (struct blkif_request_segment){
            .gref = grant(data + i, !rw && op != BLKIF_OP_READ),
            .first_sect = 0,
            .last_sect = 7};
    memset(&ind, 0, sizeof(ind));
    ind.operation = BLKIF_OP_INDIRECT;
    ind.indirect_op = op;
    ind.nr_segments = (uint16_t)nseg;
    ind.id = id;
    ind.sector_number = sector;
    ind.indirect_grefs[0] = grant(ipage, !rw);
    memset(&slot, 0, sizeof(slot));
    memcpy(&slot, &ind, sizeof(ind));
    return slot;
}

/* A DISCARD of nr sectors at sector (flag: BLKIF_DISCARD_SECURE or 0). */
blkif_request_t discard_req(uint64_t id, uint64_t sector, uint64_t nr,
                            uint8_t flag)
{
    blkif_request_discard_t d;
    blkif_request_t slot; /* a ring slot holding d */

    memset(&d, 0, sizeof(d));
    d.operation = BLKIF_OP_DISCARD;
    d.flag = flag;
    d.id = id;
    d.sector_number = sector;
    d.nr_sectors = nr;
    memset(&slot, 0, sizeof(slot));
    memcpy(&slot, &d, sizeof(d));
    return slot;
}

/*
 * A worker restart on queue 0: the dead worker took the n requests on the
 * ring and answered the first `answered` of them; its successor opens the
 * queue with adopt.
 */
void fx_restart(unsigned n, unsigned answered)
{
    struct blkback_queue_cfg cfg = {.order = 0, .port = FE_PORT};
    blkif_request_t taken[32]; /* an order-0 ring's worth */
    blkif_response_t rsp;
    unsigned i;

    CU_ASSERT_FATAL(n <= ARRAY_SIZE(taken) && answered <= n);
    CU_ASSERT_EQUAL(ringbuf_back_take(&fx.q[0].rb, taken, n), (int)n);
    for (i = 0; i < answered; i++) {
        blkback_ring_response(&rsp, taken[i].id, taken[i].operation, 0);
        CU_ASSERT_EQUAL(ringbuf_back_put(&fx.q[0].rb, &rsp), 0);
    }
    ringbuf_back_push(&fx.q[0].rb);
    blkback_queue_close(&fx.q[0]);
    cfg.refs[0] = 1; /* the ring's grant, made first by fx_open */
    CU_ASSERT_FATAL(blkback_queue_open(&fx.q[0], &fx.dev, 0, 1, &cfg, true) ==
                    0);
}

void fill(uint32_t frame, unsigned npages, uint8_t seed)
{
    size_t i;

    for (i = 0; i < (size_t)npages * PAGE; i++)
        guest[(size_t)frame * PAGE + i] = (uint8_t)(seed + i * 7 + i / 4096);
}

/* The disk at byte off holds what frames [frame, +npages) hold. */
bool disk_equals(uint64_t off, uint32_t frame, unsigned npages)
{
    size_t len = (size_t)npages * PAGE;
    uint8_t *buf = malloc(len);
    bool eq;

    if (buf == NULL || pread(disk_fd, buf, len, (off_t)off) != (ssize_t)len) {
        free(buf);
        return false;
    }
    eq = memcmp(buf, guest + (size_t)frame * PAGE, len) == 0;
    free(buf);
    return eq;
}

bool rsp_is(const blkif_response_t *r, uint64_t id, uint8_t op, int16_t status)
{
    blkif_response_t want;

    blkback_ring_response(&want, id, op, status);
    return memcmp(r, &want, sizeof(want)) == 0;
}

static int fx_suite_init(void)
{
    const char *t = getenv("TMPDIR");

    plat_set_ops(&fake_ops);
    guest_fd = memfd_create("guest", MFD_CLOEXEC);
    if (guest_fd < 0 || ftruncate(guest_fd, (off_t)GUEST_PAGES * PAGE) < 0)
        return -1;
    guest = mmap(NULL, (size_t)GUEST_PAGES * PAGE, PROT_READ | PROT_WRITE,
                 MAP_SHARED, guest_fd, 0);
    if (guest == MAP_FAILED)
        return -1;
    snprintf(disk_path, sizeof(disk_path), "%s/blkback_queue.XXXXXX",
             t ? t : "/tmp");
    disk_fd = mkstemp(disk_path);
    return disk_fd < 0 ? -1 : 0;
}

static void fx_suite_clean(void)
{
    if (disk_fd >= 0) {
        close(disk_fd);
        unlink(disk_path);
    }
    if (guest != MAP_FAILED && guest != NULL)
        munmap(guest, (size_t)GUEST_PAGES * PAGE);
    if (guest_fd >= 0)
        close(guest_fd);
    plat_set_ops(NULL);
}

/* main() of a test program on this fixture: the failure count. */
int fx_main(const char *suite, const struct cutest *tests, size_t n)
{
    int failures = 1;

    if (fx_suite_init() == 0)
        failures = cutest_run(suite, tests, n);
    fx_suite_clean();
    return failures;
}
