/*
 * ringbuf unit tests: a front and a back ring over the same pages, on the
 * real blkif / netif ring types from Xen's headers. One side is driven by
 * ring.h's own macros and the other by ringbuf, or both run in lockstep on
 * twin rings and must leave identical shared state; hostile peers write
 * impossible indexes and rewrite published slots.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h> /* xen_mb/xen_rmb/xen_wmb for ring.h's macros */
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <CUnit/Basic.h>

#include "drvdom/ringbuf.h"
#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RBT_REQ       sizeof(blkif_request_t)
#define RBT_RSP       sizeof(blkif_response_t)
/* Largest blkif ring used here (order 1: 64 entries) */
#define RBT_MAX_ENTS 64

/* Deterministic PRNG (xorshift32) so every run does the same operations. */
static uint32_t rbt_seed;

static uint32_t rbt_rand(void)
{
    rbt_seed ^= rbt_seed << 13;
    rbt_seed ^= rbt_seed >> 17;
    rbt_seed ^= rbt_seed << 5;
    return rbt_seed;
}

/* Zeroed, page-aligned memory for a ring of this order. */
static void *rbt_ring_alloc(unsigned int order)
{
    size_t bytes = (size_t)RINGBUF_PAGE_SIZE << order;
    void *p = aligned_alloc(RINGBUF_PAGE_SIZE, bytes);

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    memset(p, 0, bytes);
    return p;
}

/* The request with sequence number seq: every field derived from it. */
static blkif_request_t rbt_req(uint32_t seq)
{
    blkif_request_t req;

    memset(&req, 0, sizeof(req));
    req.operation = (seq & 1) ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    req.nr_segments = (uint8_t)(seq % BLKIF_MAX_SEGMENTS_PER_REQUEST + 1);
    req.handle = 0x51;
    req.id = 0x1000000000ull + seq;
    req.sector_number = (uint64_t)seq * 8;
    req.seg[req.nr_segments - 1].gref = seq;
    return req;
}

/* The response a correct back end gives to a request. */
static blkif_response_t rbt_rsp(const blkif_request_t *req)
{
    blkif_response_t rsp;

    memset(&rsp, 0, sizeof(rsp));
    rsp.id = req->id;
    rsp.operation = req->operation;
    rsp.status = (req->sector_number & 8) ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY;
    return rsp;
}

/* Shared indexes of a ring set to start, as after 'start' messages. */
static void rbt_set_indexes(blkif_sring_t *s, RING_IDX start)
{
    SHARED_RING_INIT(s);
    s->req_prod = s->rsp_prod = start;
    s->req_event = s->rsp_event = start + 1;
}

/* A ringbuf front end resumed at index start (the ring at rbt_set_indexes). */
static void rbt_front_at(struct ringbuf_front *f, blkif_sring_t *s,
                         unsigned int order, RING_IDX start)
{
    CU_ASSERT_EQUAL_FATAL(ringbuf_front_init(f, s, order, RBT_REQ, RBT_RSP), 0);
    rbt_set_indexes(s, start);
    f->req_prod_pvt = f->req_pushed = f->rsp_cons = start;
}

static void test_geometry(void)
{
    unsigned int order;

    for (order = 0; order <= RINGBUF_MAX_ORDER; order++) {
        size_t bytes = (size_t)XC_PAGE_SIZE << order;

        CU_ASSERT_EQUAL(ringbuf_order_pages(order), 1 << order);
        CU_ASSERT_EQUAL(ringbuf_ring_size(order, RBT_REQ, RBT_RSP),
                        (int)__CONST_RING_SIZE(blkif, bytes));
        CU_ASSERT_EQUAL(ringbuf_ring_size(order, sizeof(netif_tx_request_t),
                                          sizeof(netif_tx_response_t)),
                        (int)__CONST_RING_SIZE(netif_tx, bytes));
        CU_ASSERT_EQUAL(ringbuf_ring_size(order, sizeof(netif_rx_request_t),
                                          sizeof(netif_rx_response_t)),
                        (int)__CONST_RING_SIZE(netif_rx, bytes));
    }
    CU_ASSERT_EQUAL(ringbuf_order_pages(5), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_order_pages(~0u), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_ring_size(5, RBT_REQ, RBT_RSP), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_ring_size(0, 0, RBT_RSP), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_ring_size(0, RINGBUF_PAGE_SIZE, 8), -EINVAL);
}

static void test_init_rejects_order(void)
{
    struct ringbuf_front f;
    struct ringbuf_back b;
    void *page = rbt_ring_alloc(0);

    CU_ASSERT_EQUAL(ringbuf_front_init(&f, page, 5, RBT_REQ, RBT_RSP), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_back_init(&b, page, 5, RBT_REQ, RBT_RSP), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_back_attach(&b, page, 7, RBT_REQ, RBT_RSP),
                    -EINVAL);
    free(page);
}

/*
 * Twin rings, one driven only by ring.h macros, one only by ringbuf. The
 * macro side's state and operations.
 */
struct rbt_macro {
    blkif_sring_t *s;
    blkif_front_ring_t fr;
    blkif_back_ring_t br;
};

static int rbt_macro_back_take(struct rbt_macro *m, blkif_request_t *out,
                               unsigned int max)
{
    RING_IDX rc = m->br.req_cons, rp = m->s->req_prod;
    int n = 0;

    xen_rmb();
    CU_ASSERT_FATAL(!RING_REQUEST_PROD_OVERFLOW(&m->br, rp));
    while (rc != rp && (unsigned int)n < max &&
           !RING_REQUEST_CONS_OVERFLOW(&m->br, rc)) {
        RING_COPY_REQUEST(&m->br, rc, &out[n]);
        m->br.req_cons = ++rc;
        n++;
    }
    return n;
}

static int rbt_macro_front_take(struct rbt_macro *m, blkif_response_t *out)
{
    RING_IDX rc = m->fr.rsp_cons, rp = m->s->rsp_prod;
    int n = 0;

    xen_rmb();
    while (rc != rp) {
        RING_COPY_RESPONSE(&m->fr, rc, &out[n]);
        m->fr.rsp_cons = ++rc;
        n++;
    }
    return n;
}

/* The shared header (4 indexes) and the first nr_ents slots agree. */
static void rbt_same_shared(const struct rbt_macro *m, const void *twin,
                            unsigned int nr_ents)
{
    CU_ASSERT_EQUAL_FATAL(
        memcmp(m->s, twin, RINGBUF_HDR_SIZE + nr_ents * sizeof(m->s->ring[0])),
        0);
}

/* Counters of one twin run. */
struct rbt_twin_stats {
    unsigned int req_notify;
    unsigned int rsp_notify;
    uint32_t done;
};

/* One random operation on both twins; every result must agree. */
static void rbt_twin_step(struct rbt_macro *m, struct ringbuf_front *f,
                          struct ringbuf_back *b, struct rbt_twin_stats *st,
                          uint32_t *seq, uint32_t *answered)
{
    blkif_request_t reqs[RBT_MAX_ENTS], mreqs[RBT_MAX_ENTS];
    blkif_response_t rsps[RBT_MAX_ENTS], mrsps[RBT_MAX_ENTS];
    unsigned int i, k;
    int n, mn, more;
    bool notify, mnotify;

    switch (rbt_rand() % 6) {
    case 0: /* front: queue k requests, push */
        CU_ASSERT_EQUAL_FATAL(ringbuf_front_free(f),
                              RING_FREE_REQUESTS(&m->fr));
        k = rbt_rand() % (ringbuf_front_free(f) + 1);
        for (i = 0; i < k; i++, (*seq)++) {
            blkif_request_t req = rbt_req(*seq);

            CU_ASSERT_EQUAL_FATAL(ringbuf_front_put(f, &req), 0);
            *RING_GET_REQUEST(&m->fr, m->fr.req_prod_pvt++) = req;
        }
        notify = ringbuf_front_push(f);
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&m->fr, mnotify);
        CU_ASSERT_EQUAL_FATAL(notify, mnotify);
        st->req_notify += notify;
        break;
    case 1: /* back: take up to k requests, answer them all, push */
        k = 1 + rbt_rand() % RBT_MAX_ENTS;
        n = ringbuf_back_take(b, reqs, k);
        mn = rbt_macro_back_take(m, mreqs, k);
        CU_ASSERT_EQUAL_FATAL(n, mn);
        for (i = 0; i < (unsigned int)n; i++) {
            blkif_response_t rsp = rbt_rsp(&reqs[i]);

            CU_ASSERT_EQUAL_FATAL(memcmp(&reqs[i], &mreqs[i], RBT_REQ), 0);
            CU_ASSERT_EQUAL_FATAL(ringbuf_back_put(b, &rsp), 0);
            *RING_GET_RESPONSE(&m->br, m->br.rsp_prod_pvt++) = rsp;
        }
        notify = ringbuf_back_push(b);
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&m->br, mnotify);
        CU_ASSERT_EQUAL_FATAL(notify, mnotify);
        st->rsp_notify += notify;
        break;
    case 2: /* back: final check before sleeping */
        n = ringbuf_back_final_check(b);
        RING_FINAL_CHECK_FOR_REQUESTS(&m->br, more);
        CU_ASSERT_EQUAL_FATAL(n, more);
        break;
    case 3: /* front: final check before sleeping */
        n = ringbuf_front_final_check(f);
        RING_FINAL_CHECK_FOR_RESPONSES(&m->fr, more);
        CU_ASSERT_EQUAL_FATAL(n, more);
        break;
    default: /* front: take every response */
        n = ringbuf_front_take(f, rsps, RBT_MAX_ENTS);
        mn = rbt_macro_front_take(m, mrsps);
        CU_ASSERT_EQUAL_FATAL(n, mn);
        for (i = 0; i < (unsigned int)n; i++, (*answered)++) {
            blkif_request_t req = rbt_req(*answered);

            CU_ASSERT_EQUAL_FATAL(memcmp(&rsps[i], &mrsps[i], RBT_RSP), 0);
            CU_ASSERT_EQUAL_FATAL(rsps[i].id, req.id);
        }
        st->done += (uint32_t)n;
        break;
    }
}

/* Twin rings from index start, for steps random operations. */
static void rbt_twin_run(RING_IDX start, unsigned int order, unsigned int steps)
{
    size_t bytes = (size_t)RINGBUF_PAGE_SIZE << order;
    struct rbt_macro m;
    struct ringbuf_front f;
    struct ringbuf_back b;
    struct rbt_twin_stats st = {0, 0, 0};
    void *twin = rbt_ring_alloc(order);
    uint32_t seq = 0, answered = 0;
    unsigned int i;

    m.s = rbt_ring_alloc(order);
    rbt_set_indexes(m.s, start);
    FRONT_RING_ATTACH(&m.fr, m.s, start, bytes);
    BACK_RING_ATTACH(&m.br, m.s, start, bytes);
    rbt_front_at(&f, twin, order, start);
    CU_ASSERT_EQUAL_FATAL(
        ringbuf_back_attach(&b, twin, order, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL_FATAL(b.nr_ents, RING_SIZE(&m.br));
    for (i = 0; i < steps; i++) {
        rbt_twin_step(&m, &f, &b, &st, &seq, &answered);
        rbt_same_shared(&m, twin, RING_SIZE(&m.br));
    }
    /* Enough traffic went through for the run to mean something. */
    CU_ASSERT(st.done > steps);
    CU_ASSERT(st.req_notify > 0 && st.rsp_notify > 0);
    CU_ASSERT(m.s->req_prod - start == seq);
    free(m.s);
    free(twin);
}

static void test_twin_lockstep(void)
{
    rbt_seed = 0x2545f491;
    rbt_twin_run(0, 0, 20000);
    rbt_twin_run(0, 1, 20000);
}

static void test_twin_wraparound(void)
{
    rbt_seed = 0x9e3779b9;
    /* Start just below 2^32: the indexes wrap early in the run. */
    rbt_twin_run(0xffffff00u, 0, 20000);
    rbt_twin_run(0xfffffff0u, 1, 20000);
}

/*
 * Interop, ring.h front end against a ringbuf back end: data crosses in both
 * directions and notifications follow the event indexes.
 */
static void test_macro_front_ringbuf_back(void)
{
    blkif_sring_t *s = rbt_ring_alloc(0);
    blkif_front_ring_t fr;
    struct ringbuf_back b;
    blkif_request_t reqs[RBT_MAX_ENTS];
    uint32_t seq = 0, answered = 0;
    unsigned int round, i, k;
    int n, more, notify;

    rbt_seed = 0x1234567;
    XEN_FRONT_RING_INIT(&fr, s, XC_PAGE_SIZE);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_init(&b, s, 0, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 0);
    for (round = 0; round < 3000; round++) {
        k = 1 + rbt_rand() % RING_FREE_REQUESTS(&fr);
        for (i = 0; i < k; i++)
            *RING_GET_REQUEST(&fr, fr.req_prod_pvt++) = rbt_req(seq++);
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);
        /* The back end slept with req_event armed: it must be woken. */
        CU_ASSERT_FATAL(notify);
        n = ringbuf_back_take(&b, reqs, RBT_MAX_ENTS);
        CU_ASSERT_EQUAL_FATAL(n, (int)k);
        for (i = 0; i < k; i++) {
            blkif_response_t rsp = rbt_rsp(&reqs[i]);

            CU_ASSERT_EQUAL_FATAL(ringbuf_back_put(&b, &rsp), 0);
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&fr, more);
        CU_ASSERT_EQUAL_FATAL(more, 0);
        CU_ASSERT_FATAL(ringbuf_back_push(&b));
        CU_ASSERT_EQUAL_FATAL(ringbuf_back_final_check(&b), 0);
        while (fr.rsp_cons != s->rsp_prod) {
            blkif_response_t rsp;
            blkif_request_t req = rbt_req(answered++);

            RING_COPY_RESPONSE(&fr, fr.rsp_cons, &rsp);
            fr.rsp_cons++;
            CU_ASSERT_EQUAL_FATAL(rsp.id, req.id);
            CU_ASSERT_EQUAL_FATAL(rsp.status, rbt_rsp(&req).status);
        }
    }
    CU_ASSERT_EQUAL(answered, seq);
    free(s);
}

/* Interop the other way: ringbuf front end, ring.h back end. */
static void test_ringbuf_front_macro_back(void)
{
    blkif_sring_t *s = rbt_ring_alloc(1);
    blkif_back_ring_t br;
    struct ringbuf_front f;
    blkif_response_t rsps[RBT_MAX_ENTS];
    uint32_t seq = 0, answered = 0;
    unsigned int round, i, k;
    int n, more, notify;

    rbt_seed = 0x7654321;
    CU_ASSERT_EQUAL_FATAL(ringbuf_front_init(&f, s, 1, RBT_REQ, RBT_RSP), 0);
    BACK_RING_INIT(&br, s, 2 * XC_PAGE_SIZE);
    CU_ASSERT_EQUAL_FATAL(f.nr_ents, RING_SIZE(&br));
    for (round = 0; round < 3000; round++) {
        RING_FINAL_CHECK_FOR_REQUESTS(&br, more);
        CU_ASSERT_EQUAL_FATAL(more, 0);
        k = 1 + rbt_rand() % ringbuf_front_free(&f);
        for (i = 0; i < k; i++) {
            blkif_request_t req = rbt_req(seq++);

            CU_ASSERT_EQUAL_FATAL(ringbuf_front_put(&f, &req), 0);
        }
        CU_ASSERT_FATAL(ringbuf_front_push(&f));
        CU_ASSERT_EQUAL_FATAL(ringbuf_front_final_check(&f), 0);
        while (br.req_cons != s->req_prod) {
            blkif_request_t req;

            RING_COPY_REQUEST(&br, br.req_cons, &req);
            br.req_cons++;
            *RING_GET_RESPONSE(&br, br.rsp_prod_pvt++) = rbt_rsp(&req);
        }
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&br, notify);
        CU_ASSERT_FATAL(notify);
        n = ringbuf_front_take(&f, rsps, RBT_MAX_ENTS);
        CU_ASSERT_EQUAL_FATAL(n, (int)k);
        for (i = 0; i < k; i++) {
            blkif_request_t req = rbt_req(answered++);

            CU_ASSERT_EQUAL_FATAL(rsps[i].id, req.id);
            CU_ASSERT_EQUAL_FATAL(rsps[i].operation, req.operation);
        }
    }
    CU_ASSERT_EQUAL(answered, seq);
    free(s);
}

/* Full and empty ring, from both ends. */
static void test_full_empty(void)
{
    blkif_sring_t *s = rbt_ring_alloc(0);
    struct ringbuf_front f;
    struct ringbuf_back b;
    blkif_request_t req = rbt_req(1), reqs[RBT_MAX_ENTS];
    blkif_response_t rsp = rbt_rsp(&req), rsps[RBT_MAX_ENTS];
    unsigned int i, size;

    rbt_front_at(&f, s, 0, 0xfffffff0u);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_attach(&b, s, 0, RBT_REQ, RBT_RSP), 0);
    size = f.nr_ents;
    CU_ASSERT_EQUAL(size, 32);
    CU_ASSERT_EQUAL(ringbuf_front_free(&f), size);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), 0);
    CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, RBT_MAX_ENTS), 0);
    CU_ASSERT_EQUAL(ringbuf_back_put(&b, &rsp), -ENOSPC);
    CU_ASSERT_FALSE(ringbuf_front_push(&f));
    CU_ASSERT_FALSE(ringbuf_back_push(&b));
    for (i = 0; i < size; i++)
        CU_ASSERT_EQUAL(ringbuf_front_put(&f, &req), 0);
    CU_ASSERT_EQUAL(ringbuf_front_free(&f), 0);
    CU_ASSERT_EQUAL(ringbuf_front_put(&f, &req), -ENOSPC);
    /* Queued but not pushed: invisible to the back end. */
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), 0);
    ringbuf_front_push(&f);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), (int)size);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), 0);
    /* A slot frees only when its response is consumed. */
    CU_ASSERT_EQUAL(ringbuf_front_put(&f, &req), -ENOSPC);
    for (i = 0; i < size; i++)
        CU_ASSERT_EQUAL(ringbuf_back_put(&b, &rsp), 0);
    CU_ASSERT_EQUAL(ringbuf_back_put(&b, &rsp), -ENOSPC);
    ringbuf_back_push(&b);
    CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, RBT_MAX_ENTS), (int)size);
    CU_ASSERT_EQUAL(ringbuf_front_free(&f), size);
    CU_ASSERT_EQUAL(ringbuf_front_final_check(&f), 0);
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 0);
    CU_ASSERT(s->req_prod == 0x10u && s->rsp_prod == 0x10u);
    free(s);
}

/* take() hands out at most max per call and never skips or repeats. */
static void test_batching(void)
{
    blkif_sring_t *s = rbt_ring_alloc(1);
    struct ringbuf_front f;
    struct ringbuf_back b;
    blkif_request_t reqs[RBT_MAX_ENTS];
    uint32_t seq, next = 0;
    int n, calls = 0;

    CU_ASSERT_EQUAL_FATAL(ringbuf_front_init(&f, s, 1, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_init(&b, s, 1, RBT_REQ, RBT_RSP), 0);
    for (seq = 0; seq < 50; seq++) {
        blkif_request_t req = rbt_req(seq);

        CU_ASSERT_EQUAL_FATAL(ringbuf_front_put(&f, &req), 0);
    }
    ringbuf_front_push(&f);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, 0), 0);
    while ((n = ringbuf_back_take(&b, reqs, 8)) > 0) {
        int i;

        CU_ASSERT_EQUAL(n, next + 8 <= 50 ? 8 : 50 - (int)next);
        for (i = 0; i < n; i++, next++)
            CU_ASSERT_EQUAL(reqs[i].id, rbt_req(next).id);
        calls++;
    }
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(next, 50);
    CU_ASSERT_EQUAL(calls, 7);
    free(s);
}

/*
 * Notification suppression, counted: a burst of N requests costs one
 * notification while the back end sleeps, N when it re-arms after each one,
 * none while it is busy; the same for responses.
 */
static void test_notify_counts(void)
{
    enum { N = 24 };
    blkif_sring_t *s = rbt_ring_alloc(0);
    struct ringbuf_front f;
    struct ringbuf_back b;
    blkif_request_t req = rbt_req(3), reqs[RBT_MAX_ENTS];
    blkif_response_t rsp = rbt_rsp(&req), rsps[RBT_MAX_ENTS];
    unsigned int i, notes;

    CU_ASSERT_EQUAL_FATAL(ringbuf_front_init(&f, s, 0, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_init(&b, s, 0, RBT_REQ, RBT_RSP), 0);
    /* Back end asleep; N pushes of one request each: one notification. */
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 0);
    for (i = 0, notes = 0; i < N; i++) {
        ringbuf_front_put(&f, &req);
        notes += ringbuf_front_push(&f);
    }
    CU_ASSERT_EQUAL(notes, 1);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), N);
    /* Front end asleep; N responses pushed one by one: one notification. */
    CU_ASSERT_EQUAL(ringbuf_front_final_check(&f), 0);
    for (i = 0, notes = 0; i < N; i++) {
        ringbuf_back_put(&b, &rsp);
        notes += ringbuf_back_push(&b);
    }
    CU_ASSERT_EQUAL(notes, 1);
    CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, RBT_MAX_ENTS), N);
    /* Back end busy (no final check since it woke): no notification. */
    for (i = 0, notes = 0; i < N; i++) {
        ringbuf_front_put(&f, &req);
        notes += ringbuf_front_push(&f);
    }
    CU_ASSERT_EQUAL(notes, 0);
    /* Back end re-arms after each request: every push notifies. */
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), N);
    for (i = 0; i < N; i++)
        ringbuf_back_put(&b, &rsp);
    ringbuf_back_push(&b);
    CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, RBT_MAX_ENTS), N);
    for (i = 0, notes = 0; i < N; i++) {
        CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 0);
        ringbuf_front_put(&f, &req);
        notes += ringbuf_front_push(&f);
        CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), 1);
    }
    CU_ASSERT_EQUAL(notes, N);
    /* One batched push of N to a sleeping back end: one notification. */
    for (i = 0; i < N; i++)
        ringbuf_back_put(&b, &rsp);
    ringbuf_back_push(&b);
    CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, RBT_MAX_ENTS), N);
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 0);
    for (i = 0; i < N; i++)
        ringbuf_front_put(&f, &req);
    CU_ASSERT_TRUE(ringbuf_front_push(&f));
    /* Lost wake-up window: a request published between the back end's
     * empty check and its sleep is caught by final_check. */
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), N);
    for (i = 0; i < N; i++)
        ringbuf_back_put(&b, &rsp);
    ringbuf_back_push(&b);
    ringbuf_front_take(&f, rsps, RBT_MAX_ENTS);
    ringbuf_front_put(&f, &req);
    CU_ASSERT_FALSE(ringbuf_front_push(&f));
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 1);
    free(s);
}

/* After a protocol violation the back end refuses everything. */
static void rbt_assert_back_dead(struct ringbuf_back *b)
{
    blkif_request_t req = rbt_req(0), reqs[RBT_MAX_ENTS];
    blkif_response_t rsp = rbt_rsp(&req);

    CU_ASSERT_TRUE(b->broken);
    CU_ASSERT_EQUAL(ringbuf_back_take(b, reqs, RBT_MAX_ENTS), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_back_final_check(b), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_back_put(b, &rsp), -EPROTO);
    CU_ASSERT_FALSE(ringbuf_back_push(b));
}

/*
 * Hostile request producer indexes, relative to a back end that consumed
 * 'taken' of 8 requests and answered none, at indexes that wrap 2^32.
 */
static void test_hostile_req_prod(void)
{
    static const struct {
        const char *what;
        RING_IDX prod; /* req_prod written by the front, minus start */
        int expect;    /* take() result */
    } cases[] = {
        {"exactly full", 32, 32 - 5},
        {"overflow by one", 33, -EPROTO},
        {"far overflow", 0x80000000u, -EPROTO},
        {"wrapped back below our responses", (RING_IDX)-1, -EPROTO},
        {"behind our consumer", 3, -EPROTO},
        {"unchanged", 5, 0},
    };
    const RING_IDX start = 0xfffffffcu;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        blkif_sring_t *s = rbt_ring_alloc(0);
        blkif_sring_t *snap = rbt_ring_alloc(0);
        struct ringbuf_front f;
        struct ringbuf_back b;
        blkif_request_t reqs[RBT_MAX_ENTS], req = rbt_req(9);
        unsigned int k;
        int n;

        rbt_front_at(&f, s, 0, start);
        CU_ASSERT_EQUAL_FATAL(ringbuf_back_attach(&b, s, 0, RBT_REQ, RBT_RSP),
                              0);
        for (k = 0; k < 8; k++)
            ringbuf_front_put(&f, &req);
        ringbuf_front_push(&f);
        CU_ASSERT_EQUAL_FATAL(ringbuf_back_take(&b, reqs, 5), 5);
        s->req_prod = start + cases[i].prod;
        memcpy(snap, s, RINGBUF_PAGE_SIZE);
        memset(reqs, 0xa5, sizeof(reqs));
        n = ringbuf_back_take(&b, reqs, RBT_MAX_ENTS);
        if (n != cases[i].expect)
            fprintf(stderr, "case '%s': take %d, expected %d\n", cases[i].what,
                    n, cases[i].expect);
        CU_ASSERT_EQUAL(n, cases[i].expect);
        if (n == -EPROTO) {
            /* Nothing copied out, nothing written to shared memory. */
            CU_ASSERT_EQUAL(((uint8_t *)reqs)[0], 0xa5);
            CU_ASSERT_EQUAL(memcmp(snap, s, RINGBUF_PAGE_SIZE), 0);
            rbt_assert_back_dead(&b);
            CU_ASSERT_EQUAL(memcmp(snap, s, RINGBUF_PAGE_SIZE), 0);
        }
        free(snap);
        free(s);
    }
}

/* A hostile producer index is also caught by final_check. */
static void test_hostile_final_check(void)
{
    blkif_sring_t *s = rbt_ring_alloc(0);
    struct ringbuf_back b;

    rbt_set_indexes(s, 100);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_attach(&b, s, 0, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), 0);
    s->req_prod = 99;
    CU_ASSERT_EQUAL(ringbuf_back_final_check(&b), -EPROTO);
    rbt_assert_back_dead(&b);
    /* A restarted back end refuses indexes no front end can produce. */
    s->req_prod = 100 + 33;
    CU_ASSERT_EQUAL(ringbuf_back_attach(&b, s, 0, RBT_REQ, RBT_RSP), -EPROTO);
    rbt_assert_back_dead(&b);
    free(s);
}

/* Hostile back ends: more responses than requests, indexes going back. */
static void test_hostile_rsp_prod(void)
{
    static const struct {
        const char *what;
        RING_IDX prod; /* rsp_prod written by the back, minus start */
        int expect;    /* front take() result */
    } cases[] = {
        {"all outstanding answered", 6, 6},
        {"one more than outstanding", 7, -EPROTO},
        {"answers a queued, unpushed request", 8, -EPROTO},
        {"more than the ring holds", 33, -EPROTO},
        {"behind our consumer", (RING_IDX)-1, -EPROTO},
    };
    const RING_IDX start = 0xfffffffeu;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        blkif_sring_t *s = rbt_ring_alloc(0);
        struct ringbuf_front f;
        blkif_request_t req = rbt_req(4);
        blkif_response_t rsps[RBT_MAX_ENTS];
        unsigned int k;

        rbt_front_at(&f, s, 0, start);
        for (k = 0; k < 6; k++)
            ringbuf_front_put(&f, &req);
        ringbuf_front_push(&f);
        /* Two more queued but not published. */
        ringbuf_front_put(&f, &req);
        ringbuf_front_put(&f, &req);
        s->rsp_prod = start + cases[i].prod;
        memset(rsps, 0xa5, sizeof(rsps));
        CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, RBT_MAX_ENTS),
                        cases[i].expect);
        if (cases[i].expect == -EPROTO) {
            CU_ASSERT_EQUAL(((uint8_t *)rsps)[0], 0xa5);
            CU_ASSERT_TRUE(f.broken);
            CU_ASSERT_EQUAL(ringbuf_front_final_check(&f), -EPROTO);
            CU_ASSERT_EQUAL(ringbuf_front_put(&f, &req), -EPROTO);
            CU_ASSERT_FALSE(ringbuf_front_push(&f));
            CU_ASSERT_EQUAL(ringbuf_front_take(&f, rsps, 1), -EPROTO);
        }
        free(s);
    }
}

/*
 * A front end rewrites a slot after publishing it: the back end acts on its
 * copy only and never reads the slot again.
 */
static void test_rewrite_after_publish(void)
{
    blkif_sring_t *s = rbt_ring_alloc(0);
    blkif_front_ring_t fr;
    struct ringbuf_back b;
    blkif_request_t reqs[RBT_MAX_ENTS], *slot;
    blkif_response_t rsp;

    XEN_FRONT_RING_INIT(&fr, s, XC_PAGE_SIZE);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_init(&b, s, 0, RBT_REQ, RBT_RSP), 0);
    slot = RING_GET_REQUEST(&fr, fr.req_prod_pvt);
    *slot = rbt_req(2);
    fr.req_prod_pvt++;
    RING_PUSH_REQUESTS(&fr);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), 1);
    /* The hostile rewrite, after the back end copied the request. */
    slot->nr_segments = 255;
    slot->id = 0xbad;
    slot->operation = 0xff;
    CU_ASSERT_EQUAL(reqs[0].nr_segments, rbt_req(2).nr_segments);
    CU_ASSERT(reqs[0].nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
    CU_ASSERT_EQUAL(reqs[0].id, rbt_req(2).id);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs + 1, RBT_MAX_ENTS - 1), 0);
    rsp = rbt_rsp(&reqs[0]);
    CU_ASSERT_EQUAL(ringbuf_back_put(&b, &rsp), 0);
    ringbuf_back_push(&b);
    /* The response, written over the same slot, answers the original. */
    RING_COPY_RESPONSE(&fr, fr.rsp_cons, &rsp);
    CU_ASSERT_EQUAL(rsp.id, rbt_req(2).id);
    CU_ASSERT_EQUAL(rsp.operation, rbt_req(2).operation);
    free(s);
}

/* Multi-page netif tx and rx rings, order 0..4: fill, drain, answer. */
static void test_multipage_netif(void)
{
    unsigned int order, i;

    for (order = 0; order <= RINGBUF_MAX_ORDER; order++) {
        size_t bytes = (size_t)XC_PAGE_SIZE << order;
        netif_tx_sring_t *s = rbt_ring_alloc(order);
        netif_tx_front_ring_t fr;
        struct ringbuf_back b;
        netif_tx_request_t *reqs;
        netif_tx_response_t rsp;
        int notify;

        XEN_FRONT_RING_INIT(&fr, s, bytes);
        CU_ASSERT_EQUAL_FATAL(ringbuf_back_init(&b, s, order,
                                                sizeof(netif_tx_request_t),
                                                sizeof(netif_tx_response_t)),
                              0);
        CU_ASSERT_EQUAL_FATAL(b.nr_ents, RING_SIZE(&fr));
        reqs = calloc(b.nr_ents, sizeof(*reqs));
        CU_ASSERT_PTR_NOT_NULL_FATAL(reqs);
        for (i = 0; i < b.nr_ents; i++) {
            netif_tx_request_t *r = RING_GET_REQUEST(&fr, fr.req_prod_pvt++);

            r->gref = i;
            r->id = (uint16_t)i;
            r->size = (uint16_t)(i * 3);
        }
        RING_PUSH_REQUESTS(&fr);
        /* Entries span more than half of the pages (RING_SIZE rounds
         * down to a power of two). */
        CU_ASSERT((uint8_t *)(RING_GET_REQUEST(&fr, b.nr_ents - 1) + 1) >
                  (uint8_t *)s + bytes / 2);
        CU_ASSERT_EQUAL_FATAL(ringbuf_back_take(&b, reqs, b.nr_ents),
                              (int)b.nr_ents);
        for (i = 0; i < b.nr_ents; i++) {
            CU_ASSERT_EQUAL_FATAL(reqs[i].gref, i);
            CU_ASSERT_EQUAL_FATAL(reqs[i].size, (uint16_t)(i * 3));
            rsp.id = reqs[i].id;
            rsp.status = NETIF_RSP_OKAY;
            CU_ASSERT_EQUAL_FATAL(ringbuf_back_put(&b, &rsp), 0);
        }
        CU_ASSERT_TRUE(ringbuf_back_push(&b));
        RING_FINAL_CHECK_FOR_RESPONSES(&fr, notify);
        CU_ASSERT_EQUAL(notify, (int)b.nr_ents);
        for (i = 0; i < b.nr_ents; i++)
            CU_ASSERT_EQUAL_FATAL(RING_GET_RESPONSE(&fr, i)->id, i);
        free(reqs);
        free(s);
    }
}

/* netif rx: ringbuf front (the guest side posting buffers) on 16 pages. */
static void test_multipage_netif_rx(void)
{
    const unsigned int order = RINGBUF_MAX_ORDER;
    netif_rx_sring_t *s = rbt_ring_alloc(order);
    netif_rx_back_ring_t br;
    struct ringbuf_front f;
    netif_rx_request_t req;
    netif_rx_response_t *rsps;
    unsigned int i;

    CU_ASSERT_EQUAL_FATAL(
        ringbuf_front_init(&f, s, order, sizeof(req), sizeof(*rsps)), 0);
    BACK_RING_INIT(&br, s, (size_t)XC_PAGE_SIZE << order);
    CU_ASSERT_EQUAL_FATAL(f.nr_ents, RING_SIZE(&br));
    CU_ASSERT_EQUAL(f.nr_ents, 4096);
    rsps = calloc(f.nr_ents, sizeof(*rsps));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rsps);
    for (i = 0; i < f.nr_ents; i++) {
        req.id = (uint16_t)i;
        req.gref = 1000 + i;
        CU_ASSERT_EQUAL_FATAL(ringbuf_front_put(&f, &req), 0);
    }
    ringbuf_front_push(&f);
    for (i = 0; i < f.nr_ents; i++) {
        RING_COPY_REQUEST(&br, br.req_cons, &req);
        br.req_cons++;
        CU_ASSERT_EQUAL_FATAL(req.gref, 1000 + i);
        RING_GET_RESPONSE(&br, br.rsp_prod_pvt)->id = req.id;
        RING_GET_RESPONSE(&br, br.rsp_prod_pvt)->status = (int16_t)(i & 0x7ff);
        br.rsp_prod_pvt++;
    }
    RING_PUSH_RESPONSES(&br);
    CU_ASSERT_EQUAL_FATAL(ringbuf_front_take(&f, rsps, f.nr_ents),
                          (int)f.nr_ents);
    for (i = 0; i < f.nr_ents; i++) {
        CU_ASSERT_EQUAL_FATAL(rsps[i].id, i);
        CU_ASSERT_EQUAL_FATAL(rsps[i].status, (int16_t)(i & 0x7ff));
    }
    free(rsps);
    free(s);
}

/* A restarted back end resumes at rsp_prod: unanswered requests again. */
static void test_attach_resume(void)
{
    blkif_sring_t *s = rbt_ring_alloc(0);
    struct ringbuf_front f;
    struct ringbuf_back b, b2;
    blkif_request_t reqs[RBT_MAX_ENTS];
    uint32_t seq;
    int i;

    CU_ASSERT_EQUAL_FATAL(ringbuf_front_init(&f, s, 0, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_init(&b, s, 0, RBT_REQ, RBT_RSP), 0);
    for (seq = 0; seq < 10; seq++) {
        blkif_request_t req = rbt_req(seq);

        ringbuf_front_put(&f, &req);
    }
    ringbuf_front_push(&f);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_take(&b, reqs, RBT_MAX_ENTS), 10);
    for (i = 0; i < 6; i++) {
        blkif_response_t rsp = rbt_rsp(&reqs[i]);

        ringbuf_back_put(&b, &rsp);
    }
    ringbuf_back_push(&b);
    /* The old back end dies; a new one adopts the ring. */
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_attach(&b2, s, 0, RBT_REQ, RBT_RSP), 0);
    CU_ASSERT_EQUAL(b2.req_cons, 6);
    CU_ASSERT_EQUAL(b2.rsp_prod_pvt, 6);
    CU_ASSERT_EQUAL_FATAL(ringbuf_back_take(&b2, reqs, RBT_MAX_ENTS), 4);
    for (i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(reqs[i].id, rbt_req(6 + (uint32_t)i).id);
    free(s);
}

static void test_ids(void)
{
    struct ringbuf_ids ids;
    int seen[32] = {0};
    int i, id;

    CU_ASSERT_EQUAL(ringbuf_ids_init(&ids, 0), -EINVAL);
    CU_ASSERT_EQUAL(ringbuf_ids_init(&ids, 65537), -EINVAL);
    CU_ASSERT_EQUAL_FATAL(ringbuf_ids_init(&ids, 32), 0);
    for (i = 0; i < 32; i++) {
        id = ringbuf_ids_get(&ids);
        CU_ASSERT_FATAL(id >= 0 && id < 32);
        CU_ASSERT_EQUAL(seen[id]++, 0);
    }
    CU_ASSERT_EQUAL(ringbuf_ids_get(&ids), -ENOSPC);
    CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, 32), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, UINT64_MAX), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, 0x100000005ull), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, 5), 0);
    CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, 5), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_ids_get(&ids), 5);
    CU_ASSERT_EQUAL(ringbuf_ids_get(&ids), -ENOSPC);
    for (i = 0; i < 32; i++)
        CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, (uint64_t)i), 0);
    CU_ASSERT_EQUAL(ringbuf_ids_put(&ids, 0), -EPROTO);
    ringbuf_ids_fini(&ids);
    ringbuf_ids_fini(&ids);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"geometry matches ring.h", test_geometry},
        {"init rejects bad order", test_init_rejects_order},
        {"twin rings in lockstep", test_twin_lockstep},
        {"twin rings across 2^32 wrap", test_twin_wraparound},
        {"ring.h front, ringbuf back", test_macro_front_ringbuf_back},
        {"ringbuf front, ring.h back", test_ringbuf_front_macro_back},
        {"full and empty ring", test_full_empty},
        {"batching", test_batching},
        {"notification counts", test_notify_counts},
        {"hostile req_prod", test_hostile_req_prod},
        {"hostile index in final check/attach", test_hostile_final_check},
        {"hostile rsp_prod", test_hostile_rsp_prod},
        {"slot rewritten after publish", test_rewrite_after_publish},
        {"netif tx order 0..4", test_multipage_netif},
        {"netif rx order 4", test_multipage_netif_rx},
        {"restarted back end resumes", test_attach_resume},
        {"request ids", test_ids},
    };

    return cutest_run("ringbuf", tests, ARRAY_SIZE(tests));
}
