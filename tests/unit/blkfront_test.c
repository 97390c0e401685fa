/*
 * Unit tests of the blkfront data path (frontend/blk/ring.c): the library's
 * queues run over plain memory against a backend played in-process with
 * ringbuf's back end and an in-memory disk. Grant refs are fake numbers the
 * backend resolves to the slots' pages. Covers direct, indirect and partial
 * requests, flush, discard, read-only, argument checks, queue depth and
 * multi-queue, and hostile responses (id out of range, unknown, duplicate,
 * wrong operation, producer index overflow): -EPROTO, never a crash; the
 * adaptive poll's window and its quiet path.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "frontend/blk/blkfront-internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define T_DISK        (4u * 1024u * 1024u)
#define T_DEPTH       8u
#define T_MAX_IO      (128u * 1024u)
#define T_SEGS        (T_MAX_IO / BLKFRONT_PAGE_SIZE)
#define T_ORDER       1u
/* Fake refs: queue q, slot s, page k -> T_REF(q, s, k); k == T_SEGS is the
 * indirect page. */
#define T_REF(q, s, k) (100000u * ((q) + 1) + 100u * (s) + (k))

/* The in-process backend and the frontend under test. */
struct t_env {
    struct blkfront bf;        /* frontend (no platform) */
    struct ringbuf_back rb[2]; /* backend rings */
    void *rings[2];            /* shared ring pages */
    uint8_t *pool[2];          /* slot pages, queue by queue */
    uint8_t *disk;             /* the disk */
    bool defer;                /* do not answer on notify */
    unsigned int notifies;     /* notify calls */
    unsigned int drains;       /* drain calls */
    unsigned int indirect;     /* indirect requests served */
    blkif_request_t last;      /* last request seen */
};

static struct t_env T;

/* The page a fake ref names, or NULL. */
static uint8_t *t_page(unsigned int q, grant_ref_t ref)
{
    unsigned int s = (ref % 100000u) / 100u, k = ref % 100u;

    if (ref / 100000u != q + 1 || s >= T_DEPTH || k > T_SEGS)
        return NULL;
    return T.pool[q] + ((size_t)s * (T_SEGS + 1) + k) * BLKFRONT_PAGE_SIZE;
}

/* Copies between the disk and one segment's page. */
static int16_t t_seg(unsigned int q, bool write, uint64_t *pos,
                     const struct blkif_request_segment *seg)
{
    uint8_t *pg = t_page(q, seg->gref);
    uint32_t off = seg->first_sect * 512u;
    uint32_t n = (seg->last_sect - seg->first_sect + 1u) * 512u;

    if (!pg || seg->last_sect < seg->first_sect || seg->last_sect > 7 ||
        *pos + n > T_DISK)
        return BLKIF_RSP_ERROR;
    if (write)
        memcpy(T.disk + *pos, pg + off, n);
    else
        memcpy(pg + off, T.disk + *pos, n);
    *pos += n;
    return BLKIF_RSP_OKAY;
}

/* Serves one request the way blkback would. */
static void t_serve(unsigned int q, const blkif_request_t *rq)
{
    const struct blkif_request_indirect *ir = (const void *)rq;
    const struct blkif_request_discard *dr = (const void *)rq;
    const struct blkif_request_segment *segs = rq->seg;
    blkif_response_t rsp = {.id = rq->id, .operation = rq->operation};
    uint64_t pos = rq->sector_number * 512u;
    unsigned int n = rq->nr_segments, i;
    uint8_t op = rq->operation;

    T.last = *rq;
    if (op == BLKIF_OP_INDIRECT) {
        T.indirect++;
        op = ir->indirect_op;
        n = ir->nr_segments;
        pos = ir->sector_number * 512u;
        segs = (const void *)t_page(q, ir->indirect_grefs[0]);
        rsp.operation = ir->indirect_op;
    }
    if (op == BLKIF_OP_DISCARD) {
        memset(T.disk + dr->sector_number * 512u, 0, dr->nr_sectors * 512u);
    } else if (op == BLKIF_OP_READ || op == BLKIF_OP_WRITE) {
        for (i = 0; i < n && segs && !rsp.status; i++)
            rsp.status = t_seg(q, op == BLKIF_OP_WRITE, &pos, &segs[i]);
    }
    ringbuf_back_put(&T.rb[q], &rsp);
}

/* Takes and answers everything queued on q, then re-arms. */
static void t_process(unsigned int q)
{
    blkif_request_t rq[16];
    int n, i;

    do {
        while ((n = ringbuf_back_take(&T.rb[q], rq, ARRAY_SIZE(rq))) > 0)
            for (i = 0; i < n; i++)
                t_serve(q, &rq[i]);
        ringbuf_back_push(&T.rb[q]);
    } while (ringbuf_back_final_check(&T.rb[q]) > 0);
}

static void t_notify(struct blkfront *bf, struct blkfront_queue *q)
{
    (void)bf;
    T.notifies++;
    if (!T.defer)
        t_process(q->index);
}

static void t_drain(struct blkfront *bf)
{
    (void)bf;
    T.drains++;
}

/* A connected device of nq queues over plain memory. */
static void t_setup(unsigned int nq)
{
    size_t slot = (T_SEGS + 1) * (size_t)BLKFRONT_PAGE_SIZE;
    struct blkfront_slot *s;
    unsigned int q, i, k;

    memset(&T, 0, sizeof(T));
    T.disk = calloc(1, T_DISK);
    T.bf.fd = -1;
    T.bf.timeout_ms = 1000;
    T.bf.notify = t_notify;
    T.bf.drain = t_drain;
    strcpy(T.bf.name, "vbd/test");
    T.bf.info = (struct blkfront_info){.size = T_DISK,
                                       .sector_size = 512,
                                       .physical_sector_size = 512,
                                       .flush = true,
                                       .discard = true,
                                       .queues = nq,
                                       .ring_order = T_ORDER,
                                       .depth = T_DEPTH,
                                       .max_io = T_MAX_IO,
                                       .max_indirect = T_SEGS};
    for (q = 0; q < nq; q++) {
        T.rings[q] = aligned_alloc(4096, 4096u << T_ORDER);
        T.pool[q] = aligned_alloc(4096, slot * T_DEPTH);
        CU_ASSERT_FATAL(T.rings[q] && T.pool[q]);
        CU_ASSERT_FATAL(blkfront_queue_init(&T.bf.q[q], q, T.rings[q], T_ORDER,
                                            T_DEPTH, T_SEGS) == 0);
        CU_ASSERT_FATAL(ringbuf_back_init(&T.rb[q], T.rings[q], T_ORDER,
                                          sizeof(blkif_request_t),
                                          sizeof(blkif_response_t)) == 0);
        for (i = 0; i < T_DEPTH; i++) {
            s = &T.bf.q[q].slots[i];
            s->req.buf = T.pool[q] + slot * i;
            for (k = 0; k < T_SEGS; k++)
                s->refs[k] = T_REF(q, i, k);
            s->ind = (void *)(T.pool[q] + slot * i +
                              (size_t)T_SEGS * BLKFRONT_PAGE_SIZE);
            s->ind_ref = T_REF(q, i, T_SEGS);
        }
    }
}

static void t_teardown(void)
{
    unsigned int q;

    for (q = 0; q < 2; q++) {
        blkfront_queue_fini(&T.bf.q[q]);
        free(T.rings[q]);
        free(T.pool[q]);
    }
    free(T.disk);
}

static void t_fill(uint8_t *p, size_t n, unsigned int seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 9));
}

/* Round trips of every shape: one sector, direct, 11 pages, indirect. */
static void test_rw_sizes(void)
{
    static const uint32_t lens[] = {
        512,       4096,     3 * 4096 + 1024,   11 * 4096,
        12 * 4096, T_MAX_IO, 3 * T_MAX_IO + 512};
    static uint8_t in[4 * T_MAX_IO], out[4 * T_MAX_IO];
    unsigned int i;

    t_setup(1);
    for (i = 0; i < ARRAY_SIZE(lens); i++) {
        uint64_t off = (uint64_t)(i * 37 + 1) * 4096 + 512;

        t_fill(in, lens[i], i);
        CU_ASSERT(blkfront_pwrite(&T.bf, in, lens[i], off) == 0);
        CU_ASSERT(memcmp(T.disk + off, in, lens[i]) == 0);
        memset(out, 0, lens[i]);
        CU_ASSERT(blkfront_pread(&T.bf, out, lens[i], off) == 0);
        CU_ASSERT(memcmp(out, in, lens[i]) == 0);
    }
    CU_ASSERT(T.indirect > 0);
    CU_ASSERT(blkfront_inflight(&T.bf) == 0);
    t_teardown();
}

static void test_flush_discard(void)
{
    t_setup(1);
    CU_ASSERT(blkfront_flush(&T.bf) == 0);
    CU_ASSERT(T.last.operation == BLKIF_OP_FLUSH_DISKCACHE);
    memset(T.disk, 0xab, 65536);
    CU_ASSERT(blkfront_discard(&T.bf, 8192, 4096) == 0);
    CU_ASSERT(T.last.operation == BLKIF_OP_DISCARD);
    CU_ASSERT(T.disk[4095] == 0xab && T.disk[4096] == 0 && T.disk[12287] == 0 &&
              T.disk[12288] == 0xab);
    /* No volatile cache: the flush completes without the ring. */
    T.bf.info.flush = false;
    T.last.operation = 0xff;
    CU_ASSERT(blkfront_flush(&T.bf) == 0);
    CU_ASSERT(T.last.operation == 0xff);
    T.bf.info.discard = false;
    CU_ASSERT(blkfront_discard(&T.bf, 4096, 0) == -EOPNOTSUPP);
    t_teardown();
}

static void test_checks(void)
{
    uint8_t buf[8192] = {0};

    t_setup(1);
    CU_ASSERT(blkfront_pwrite(&T.bf, buf, 100, 0) == -EINVAL);
    CU_ASSERT(blkfront_pwrite(&T.bf, buf, 512, 7) == -EINVAL);
    CU_ASSERT(blkfront_pread(&T.bf, buf, 4096, T_DISK - 512) == -EINVAL);
    CU_ASSERT(blkfront_pread(&T.bf, buf, 4096, UINT64_MAX - 511) == -EINVAL);
    T.bf.info.readonly = true;
    CU_ASSERT(blkfront_pwrite(&T.bf, buf, 512, 0) == -EROFS);
    CU_ASSERT(blkfront_flush(&T.bf) == -EROFS);
    CU_ASSERT(blkfront_pread(&T.bf, buf, 512, 0) == 0);
    T.bf.ignore_ro = true;
    CU_ASSERT(blkfront_pwrite(&T.bf, buf, 512, 0) == 0);
    t_teardown();
}

/* Depth is enforced; responses come back from every queue. */
static void test_async_multiqueue(void)
{
    struct blkfront_req *r[T_DEPTH + 1], *done[32];
    unsigned int q, i, got = 0;
    int n;

    t_setup(2);
    T.defer = true;
    for (q = 0; q < 2; q++) {
        for (i = 0; i < T_DEPTH; i++) {
            r[i] = blkfront_req_get(&T.bf, q);
            CU_ASSERT_FATAL(r[i] != NULL);
            r[i]->op = BLKFRONT_OP_WRITE;
            r[i]->offset = (q * T_DEPTH + i) * 4096ull;
            r[i]->len = 4096;
            memset(r[i]->buf, (int)(q * T_DEPTH + i + 1), 4096);
            CU_ASSERT(blkfront_submit(&T.bf, r[i]) == 0);
        }
        CU_ASSERT(blkfront_req_get(&T.bf, q) == NULL);
    }
    CU_ASSERT(blkfront_req_get(&T.bf, 2) == NULL);
    CU_ASSERT(blkfront_reap(&T.bf, done, 32) == 0);
    CU_ASSERT(T.notifies == 2);
    t_process(0);
    t_process(1);
    while ((n = blkfront_reap(&T.bf, done, 5)) > 0) {
        for (i = 0; i < (unsigned int)n; i++) {
            CU_ASSERT(done[i]->status == 0);
            blkfront_req_put(&T.bf, done[i]);
        }
        got += (unsigned int)n;
    }
    CU_ASSERT(got == 2 * T_DEPTH);
    CU_ASSERT(T.disk[0] == 1 &&
              T.disk[(2 * T_DEPTH - 1) * 4096] == 2 * T_DEPTH);
    CU_ASSERT(blkfront_inflight(&T.bf) == 0);
    t_teardown();
}

/*
 * The adaptive poll: the window grows after short sleeps, shrinks after long
 * ones; a response found while spinning costs no drain and leaves rsp_event
 * alone (the backend is not asked to notify); an idle device does not wait;
 * a kick that needed no notification (the backend is awake) makes the next
 * waits sleep.
 */
static void test_poll(void)
{
    struct blkif_sring *sr;
    struct blkfront_req *r, *done[4];
    unsigned int i;
    uint32_t ev;

    t_setup(1);
    sr = T.rings[0];
    T.defer = true;
    T.bf.poll_max_ns = 50000000; /* 50 ms: every short sleep is within it */
    r = blkfront_req_get(&T.bf, 0);
    r->op = BLKFRONT_OP_READ;
    r->offset = 0;
    r->len = 4096;
    CU_ASSERT_FATAL(blkfront_submit(&T.bf, r) == 0);
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 0) == 0);
    CU_ASSERT(T.bf.poll_ns == BLKFRONT_POLL_START_NS);
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 0) == 0);
    CU_ASSERT(T.bf.poll_ns == 2 * BLKFRONT_POLL_START_NS);
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 100) == 0);
    CU_ASSERT(T.bf.poll_ns == BLKFRONT_POLL_START_NS);
    t_process(0);
    ev = sr->rsp_event;
    T.drains = 0;
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 100) == 1);
    CU_ASSERT(done[0] == r && r->status == 0);
    CU_ASSERT(T.drains == 0 && sr->rsp_event == ev);
    blkfront_req_put(&T.bf, r);
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 1000) == 0);
    CU_ASSERT(T.bf.poll_ns == BLKFRONT_POLL_START_NS);
    /* The first kick notifies the sleeping backend; the second finds it
     * awake (not re-armed yet) and makes the next waits sleep. */
    for (i = 0; i < 2; i++) {
        r = blkfront_req_get(&T.bf, 0);
        r->op = BLKFRONT_OP_READ;
        r->offset = 4096 * i;
        r->len = 4096;
        CU_ASSERT_FATAL(blkfront_submit(&T.bf, r) == 0);
        blkfront_kick(&T.bf);
        CU_ASSERT(T.bf.be_awake == (i ? BLKFRONT_BACKOFF : 0));
    }
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 0) == 0);
    CU_ASSERT(T.bf.be_awake == BLKFRONT_BACKOFF - 1);
    t_process(0);
    CU_ASSERT(blkfront_wait(&T.bf, done, 4, 100) == 2);
    blkfront_req_put(&T.bf, done[0]);
    blkfront_req_put(&T.bf, done[1]);
    t_teardown();
}

/* Puts a response on queue 0's ring as a hostile backend would. */
static void t_respond(uint64_t id, uint8_t op)
{
    blkif_request_t rq[T_DEPTH];
    blkif_response_t rsp = {.id = id, .operation = op};

    ringbuf_back_take(&T.rb[0], rq, ARRAY_SIZE(rq));
    CU_ASSERT(ringbuf_back_put(&T.rb[0], &rsp) == 0);
    ringbuf_back_push(&T.rb[0]);
}

/* One write in flight on queue 0, answered by the caller. */
static struct blkfront_req *t_one(void)
{
    struct blkfront_req *r = blkfront_req_get(&T.bf, 0);

    CU_ASSERT_FATAL(r != NULL);
    r->op = BLKFRONT_OP_WRITE;
    r->offset = 0;
    r->len = 4096;
    CU_ASSERT(blkfront_submit(&T.bf, r) == 0);
    blkfront_kick(&T.bf);
    return r;
}

static void t_expect_failed(void)
{
    struct blkfront_req *done[4];
    uint8_t buf[512];

    CU_ASSERT(blkfront_reap(&T.bf, done, 4) == -EPROTO);
    CU_ASSERT(blkfront_pread(&T.bf, buf, 512, 0) == -EPROTO);
    CU_ASSERT(blkfront_reap(&T.bf, done, 4) == -EPROTO);
}

static void test_hostile_ids(void)
{
    static const uint64_t bad[] = {T_DEPTH, UINT64_MAX, 1ull << 32};
    struct blkfront_req *r, *held, *done[4];
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        t_setup(1);
        T.defer = true;
        t_one();
        t_respond(bad[i], BLKIF_OP_WRITE);
        t_expect_failed();
        t_teardown();
    }
    /* A slot the caller holds but never submitted. */
    t_setup(1);
    T.defer = true;
    held = blkfront_req_get(&T.bf, 0);
    r = t_one();
    t_respond((uint64_t)((struct blkfront_slot *)held - T.bf.q[0].slots),
              BLKIF_OP_WRITE);
    t_expect_failed();
    (void)r;
    t_teardown();
    /* The same id twice (a second request makes room on the ring). */
    t_setup(1);
    T.defer = true;
    r = t_one();
    t_one();
    t_respond(0, BLKIF_OP_WRITE);
    CU_ASSERT(blkfront_reap(&T.bf, done, 4) == 1);
    blkfront_req_put(&T.bf, r);
    t_respond(0, BLKIF_OP_WRITE);
    t_expect_failed();
    t_teardown();
}

static void test_hostile_op_and_index(void)
{
    struct blkfront_sring_hdr {
        uint32_t req_prod, req_event, rsp_prod, rsp_event;
    } * sh;
    struct blkfront_req *done[4];

    t_setup(1);
    T.defer = true;
    t_one();
    t_respond(0, BLKIF_OP_READ);
    t_expect_failed();
    t_teardown();
    /* rsp_prod far beyond what was requested. */
    t_setup(1);
    T.defer = true;
    t_one();
    sh = T.rings[0];
    sh->rsp_prod = 1000;
    CU_ASSERT(blkfront_reap(&T.bf, done, 4) == -EPROTO);
    t_teardown();
}

/* Error statuses are reported per request, the device stays up. */
static void test_status(void)
{
    struct blkfront_req *r, *done[4];
    blkif_response_t rsp = {.id = 0, .operation = BLKIF_OP_WRITE};
    blkif_request_t rq;

    t_setup(1);
    T.defer = true;
    r = t_one();
    ringbuf_back_take(&T.rb[0], &rq, 1);
    rsp.status = BLKIF_RSP_EOPNOTSUPP;
    ringbuf_back_put(&T.rb[0], &rsp);
    ringbuf_back_push(&T.rb[0]);
    CU_ASSERT(blkfront_reap(&T.bf, done, 4) == 1);
    CU_ASSERT(done[0] == r && r->status == -EOPNOTSUPP);
    blkfront_req_put(&T.bf, r);
    r = t_one();
    ringbuf_back_take(&T.rb[0], &rq, 1);
    rsp.id = rq.id;
    rsp.status = 77;
    ringbuf_back_put(&T.rb[0], &rsp);
    ringbuf_back_push(&T.rb[0]);
    CU_ASSERT(blkfront_reap(&T.bf, done, 4) == 1);
    CU_ASSERT(r->status == -EIO);
    blkfront_req_put(&T.bf, r);
    CU_ASSERT(T.bf.failed == 0);
    t_teardown();
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"read/write sizes, direct and indirect", test_rw_sizes},
        {"flush and discard", test_flush_discard},
        {"argument and read-only checks", test_checks},
        {"queue depth and multi-queue", test_async_multiqueue},
        {"hostile response ids", test_hostile_ids},
        {"hostile operation and index", test_hostile_op_and_index},
        {"error statuses", test_status},
        {"adaptive poll", test_poll},
    };
    CU_pSuite s;
    unsigned int i, fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("blkfront", NULL, NULL);
    for (i = 0; s && i < ARRAY_SIZE(tests); i++)
        CU_add_test(s, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
