/*
 * ringbuf journal tests: a back end is killed (simulated) after every step
 * of a take/put/push schedule while a front end keeps the ring full; its
 * successor attaches with the journal and must answer every request exactly
 * once, each with the response of the right request. At the kill, every
 * ring slot whose request is journalled is scribbled over (as responses put
 * but not published would be) and every journal entry outside the live
 * window too (as a half-done take would leave it): the successor may rely
 * on nothing but the journal's promise.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h> /* xen_mb and friends for ring.h's macros */
#include <xen/io/blkif.h>
#include <CUnit/Basic.h>

#include "drvdom/ringbuf.h"
#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RJT_REQ       sizeof(blkif_request_t)
#define RJT_RSP       sizeof(blkif_response_t)
/* Requests of one run: several times around an order-0 blkif ring (32). */
#define RJT_N 160
/* Requests one take copies at most. */
#define RJT_TAKE 5

/* The front end and what it has seen. */
struct rjt_front {
    struct ringbuf_front f;
    uint32_t produced;            /* requests published so far */
    unsigned int answered[RJT_N]; /* responses seen per request */
    unsigned int wrong;           /* responses not matching their request */
};

/* One back end incarnation: what dies with it is in here. */
struct rjt_back {
    struct ringbuf_back b;
    blkif_request_t taken[64]; /* taken, not yet answered, in ring order */
    unsigned int nr_taken;     /* entries in taken */
    unsigned int step;         /* steps done (the schedule's position) */
};

static void *rjt_ring;    /* the shared ring page */
static void *rjt_journal; /* the journal that outlives back ends */

/* The request with sequence number seq: every field derived from it. */
static blkif_request_t rjt_req(uint32_t seq)
{
    blkif_request_t req;

    memset(&req, 0, sizeof(req));
    req.operation = (seq & 1) ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    req.nr_segments = (uint8_t)(seq % 11 + 1);
    req.id = seq;
    req.sector_number = (uint64_t)seq * 977 + 13;
    return req;
}

/* The one correct status for req (a checksum of its fields). */
static int16_t rjt_status(const blkif_request_t *req)
{
    return (int16_t)((req->sector_number ^ req->nr_segments) & 0x3fff);
}

static void rjt_setup(struct rjt_front *fr)
{
    rjt_ring = aligned_alloc(RINGBUF_PAGE_SIZE, RINGBUF_PAGE_SIZE);
    rjt_journal = calloc(1, ringbuf_journal_size(0, RJT_REQ, RJT_RSP));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rjt_ring);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rjt_journal);
    memset(fr, 0, sizeof(*fr));
    CU_ASSERT_EQUAL_FATAL(
        ringbuf_front_init(&fr->f, rjt_ring, 0, RJT_REQ, RJT_RSP), 0);
}

static void rjt_teardown(void)
{
    free(rjt_ring);
    free(rjt_journal);
    rjt_ring = rjt_journal = NULL;
}

/* The front end's turn: check responses, fill the ring, publish. */
static void rjt_front_run(struct rjt_front *fr)
{
    blkif_response_t rsp[64];
    blkif_request_t req;
    int n, i;

    n = ringbuf_front_take(&fr->f, rsp, ARRAY_SIZE(rsp));
    CU_ASSERT_FATAL(n >= 0);
    for (i = 0; i < n; i++) {
        req = rjt_req((uint32_t)rsp[i].id);
        CU_ASSERT_FATAL(rsp[i].id < fr->produced);
        fr->answered[rsp[i].id]++;
        if (rsp[i].status != rjt_status(&req) ||
            rsp[i].operation != req.operation)
            fr->wrong++;
    }
    while (fr->produced < RJT_N && ringbuf_front_free(&fr->f) > 0) {
        req = rjt_req(fr->produced++);
        CU_ASSERT_EQUAL(ringbuf_front_put(&fr->f, &req), 0);
    }
    ringbuf_front_push(&fr->f);
}

/*
 * One step of a back end's schedule (take, put, put.., push, with the
 * number of puts varying): returns 0 or -errno.
 */
static int rjt_back_step(struct rjt_back *bk)
{
    unsigned int phase = bk->step++ % 7, i;
    blkif_response_t rsp;
    int n;

    if (phase == 0) {
        n = ringbuf_back_take(&bk->b, &bk->taken[bk->nr_taken], RJT_TAKE);
        if (n > 0)
            bk->nr_taken += (unsigned int)n;
        return n < 0 ? n : 0;
    }
    if (phase == 6 || (phase == 5 && bk->step % 3 == 0)) {
        ringbuf_back_push(&bk->b);
        return 0;
    }
    if (bk->nr_taken == 0)
        return 0;
    memset(&rsp, 0, sizeof(rsp));
    rsp.id = bk->taken[0].id;
    rsp.operation = bk->taken[0].operation;
    rsp.status = rjt_status(&bk->taken[0]);
    for (i = 1; i < bk->nr_taken; i++)
        bk->taken[i - 1] = bk->taken[i];
    bk->nr_taken--;
    return ringbuf_back_put(&bk->b, &rsp);
}

/* A back end starts: fresh, or adopting the ring with the journal. */
static void rjt_back_start(struct rjt_back *bk, bool adopt)
{
    int ret;

    memset(bk, 0, sizeof(*bk));
    if (adopt)
        ret = ringbuf_back_attach(&bk->b, rjt_ring, 0, RJT_REQ, RJT_RSP);
    else
        ret = ringbuf_back_init(&bk->b, rjt_ring, 0, RJT_REQ, RJT_RSP);
    CU_ASSERT_EQUAL_FATAL(ret, 0);
    CU_ASSERT_FATAL(ringbuf_back_journal(&bk->b, rjt_journal, adopt) >= 0);
}

/*
 * The back end dies: everything it wrote stays, and so does garbage in
 * every place a half-done put or take could have written.
 */
static void rjt_back_kill(struct rjt_back *bk)
{
    const struct ringbuf_journal *j = rjt_journal;
    uint8_t *ents = (uint8_t *)rjt_ring + RINGBUF_HDR_SIZE;
    uint8_t *jents = (uint8_t *)rjt_journal + sizeof(*j);
    uint32_t nr = bk->b.nr_ents, rsp_prod, i;

    rsp_prod = ((const uint32_t *)rjt_ring)[2]; /* sring->rsp_prod */
    for (i = rsp_prod; i != j->req_cons; i++)
        memset(ents + (i & (nr - 1)) * bk->b.ent_size, 0xa5, RJT_REQ);
    for (i = j->req_cons; i != rsp_prod + nr; i++)
        memset(jents + (i & (nr - 1)) * RJT_REQ, 0x5a, RJT_REQ);
}

/* Run fr and bk in turns for steps back-end steps (or until all answered). */
static void rjt_run(struct rjt_front *fr, struct rjt_back *bk,
                    unsigned int steps)
{
    unsigned int i;

    for (i = 0; i < steps && fr->f.rsp_cons != RJT_N; i++) {
        rjt_front_run(fr);
        CU_ASSERT_EQUAL_FATAL(rjt_back_step(bk), 0);
    }
    rjt_front_run(fr);
}

static void rjt_check(const struct rjt_front *fr)
{
    unsigned int i, bad = 0;

    for (i = 0; i < RJT_N; i++)
        bad += fr->answered[i] != 1;
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(fr->wrong, 0);
}

/* Killed once, after every possible step: the successor finishes. */
static void test_kill_every_step(void)
{
    struct rjt_front fr;
    struct rjt_back bk;
    unsigned int kill_at, total = 0;

    for (kill_at = 0;; kill_at++) {
        rjt_setup(&fr);
        rjt_back_start(&bk, false);
        rjt_run(&fr, &bk, kill_at);
        if (fr.f.rsp_cons == RJT_N) {
            rjt_check(&fr);
            rjt_teardown();
            break; /* the first incarnation finished: every step covered */
        }
        rjt_back_kill(&bk);
        rjt_back_start(&bk, true);
        rjt_run(&fr, &bk, 100000);
        CU_ASSERT_EQUAL(fr.f.rsp_cons, RJT_N);
        rjt_check(&fr);
        rjt_teardown();
        total++;
    }
    CU_ASSERT(total > 100);
}

/* Killed again and again, every k steps: still exactly once. */
static void test_kill_repeatedly(void)
{
    struct rjt_front fr;
    struct rjt_back bk;
    unsigned int k, lives;

    for (k = 7; k < 30; k++) {
        rjt_setup(&fr);
        rjt_back_start(&bk, false);
        for (lives = 0; fr.f.rsp_cons != RJT_N && lives < 10000; lives++) {
            rjt_run(&fr, &bk, k);
            rjt_back_kill(&bk);
            rjt_back_start(&bk, true);
        }
        rjt_run(&fr, &bk, 100000);
        CU_ASSERT(lives > 1);
        rjt_check(&fr);
        rjt_teardown();
    }
}

/* A journal entry whose response is put but not published is not reused. */
static void test_no_reuse_before_push(void)
{
    struct rjt_front fr;
    struct rjt_back bk;
    blkif_request_t reqs[64];
    blkif_response_t rsp;

    rjt_setup(&fr);
    rjt_back_start(&bk, false);
    rjt_front_run(&fr);
    CU_ASSERT_EQUAL(ringbuf_back_take(&bk.b, reqs, 64), 32);
    memset(&rsp, 0, sizeof(rsp));
    CU_ASSERT_EQUAL(ringbuf_back_put(&bk.b, &rsp), 0);
    /* A hostile front end publishes one more request than is answered. */
    ((uint32_t *)rjt_ring)[0] = 33;
    CU_ASSERT_EQUAL(ringbuf_back_take(&bk.b, reqs, 64), 0);
    ringbuf_back_push(&bk.b);
    CU_ASSERT_EQUAL(ringbuf_back_take(&bk.b, reqs, 64), 1);
    rjt_teardown();
}

/* A journal not valid for the ring is reset; the ring supplies requests. */
static void test_invalid_journal(void)
{
    struct rjt_front fr;
    struct ringbuf_back b;
    struct ringbuf_journal *j;
    blkif_request_t reqs[64];

    rjt_setup(&fr);
    j = rjt_journal;
    rjt_front_run(&fr);
    /* Zeroed (never initialised) journal. */
    CU_ASSERT_EQUAL(ringbuf_back_attach(&b, rjt_ring, 0, RJT_REQ, RJT_RSP), 0);
    CU_ASSERT_EQUAL(ringbuf_back_journal(&b, j, true), 0);
    CU_ASSERT_EQUAL(j->magic, RINGBUF_JOURNAL_MAGIC);
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, 3), 3);
    CU_ASSERT_EQUAL(reqs[2].id, 2);
    /* A journal index beyond the requests published is not believed. */
    j->req_cons = 40;
    CU_ASSERT_EQUAL(ringbuf_back_attach(&b, rjt_ring, 0, RJT_REQ, RJT_RSP), 0);
    CU_ASSERT_EQUAL(ringbuf_back_journal(&b, j, true), 0);
    CU_ASSERT_EQUAL(j->req_cons, 0);
    /* Another geometry. */
    j->req_cons = 3;
    j->nr_ents = 64;
    CU_ASSERT_EQUAL(ringbuf_back_attach(&b, rjt_ring, 0, RJT_REQ, RJT_RSP), 0);
    CU_ASSERT_EQUAL(ringbuf_back_journal(&b, j, true), 0);
    CU_ASSERT_EQUAL(j->nr_ents, 32);
    /* A valid one supplies its requests; a req_prod moved back below them
     * breaks the ring. */
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, 3), 3);
    CU_ASSERT_EQUAL(ringbuf_back_attach(&b, rjt_ring, 0, RJT_REQ, RJT_RSP), 0);
    CU_ASSERT_EQUAL(ringbuf_back_journal(&b, j, true), 3);
    ((uint32_t *)rjt_ring)[0] = 2;
    CU_ASSERT_EQUAL(ringbuf_back_take(&b, reqs, 3), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_journal_size(0, RJT_REQ, RJT_RSP),
                    sizeof(*j) + 32 * RJT_REQ);
    CU_ASSERT_EQUAL(ringbuf_journal_size(9, RJT_REQ, RJT_RSP), 0);
    rjt_teardown();
}

int main(void)
{
    static const struct cutest tests[] = {
        {"killed after every step", test_kill_every_step},
        {"killed every k steps", test_kill_repeatedly},
        {"no entry reused before push", test_no_reuse_before_push},
        {"invalid journal reset", test_invalid_journal},
    };

    return cutest_run("ringbuf_journal", tests, ARRAY_SIZE(tests));
}
