/*
 * blkback_copy_test.c - the grant-copy data mode (copy.c) driven in-process
 * over the fake platform of blkback_fx.c: the buffer pool, data in and out
 * of guest pages without mapping one, one copy call per pass, a failed
 * copy failing its request only, indirect descriptors fetched by copy,
 * requests waiting in ring order while the pool is exhausted, barrier,
 * flush and discard, and a ring adopted in copy mode.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#include "tests/unit/blkback_fx.h"

#define DATA 64u /* first data frame */

/* The pool: sized by the ring, all or nothing, pages back on put. */
static void test_pool(void)
{
    struct blkback_copy_pool pool;
    void *pages[8], *more[8];
    unsigned i;

    CU_ASSERT_EQUAL(blkback_copy_pool_size(32, 256),
                    32 * BLKIF_MAX_SEGMENTS_PER_REQUEST);
    CU_ASSERT_EQUAL(blkback_copy_pool_size(4, 256), 256);
    CU_ASSERT_EQUAL(blkback_copy_pool_size(2048, 256), BLKBACK_COPY_POOL_MAX);
    CU_ASSERT_EQUAL(blkback_copy_pool_init(&pool, 0), -EINVAL);
    CU_ASSERT_FATAL(blkback_copy_pool_init(&pool, 8) == 0);
    CU_ASSERT(blkback_copy_pool_get(&pool, pages, 5));
    for (i = 0; i < 5; i++) {
        CU_ASSERT((uintptr_t)pages[i] % PAGE == 0);
        memset(pages[i], (int)i, PAGE); /* populated and writable */
    }
    CU_ASSERT(pages[0] != pages[1]);
    CU_ASSERT(!blkback_copy_pool_get(&pool, more, 4));
    CU_ASSERT_EQUAL(pool.nr_free, 3);
    CU_ASSERT(blkback_copy_pool_get(&pool, more, 3));
    CU_ASSERT(!blkback_copy_pool_get(&pool, more + 3, 1));
    blkback_copy_pool_put(&pool, pages, 5);
    blkback_copy_pool_put(&pool, more, 3);
    CU_ASSERT(blkback_copy_pool_get(&pool, pages, 8));
    blkback_copy_pool_destroy(&pool);
    blkback_copy_pool_destroy(&pool); /* idempotent */
}

static int open_copy(unsigned nq, unsigned order)
{
    fx_copy = true;
    return fx_open(nq, order, false, 0, false);
}

/*
 * Writes then reads, a partial segment among them: the data moves with no
 * grant mapped but the ring, and all the writes of a pass are one copy.
 */
static void test_read_write(void)
{
    blkif_response_t rsp[20];
    blkif_request_t r;
    unsigned long maps, copies;
    unsigned i;

    CU_ASSERT_FATAL(open_copy(1, 1) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fx.q[0].cp);
    maps = map_calls;
    fill(DATA, 40, 3);
    for (i = 0; i < 20; i++) {
        r = rw_req(BLKIF_OP_WRITE, i, i * 16, DATA + 2 * i, 2, true);
        fx_put(0, &r);
    }
    copies = copy_calls;
    CU_ASSERT_EQUAL(blkback_queue_pass(&fx.q[0], false) > 0, 1);
    CU_ASSERT_EQUAL(copy_calls - copies, 1);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 20), 20);
    for (i = 0; i < 20; i++)
        CU_ASSERT(rsp_is(&rsp[i], i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(0, DATA, 40));
    for (i = 0; i < 20; i++) {
        r = rw_req(BLKIF_OP_READ, 100 + i, i * 16, DATA + 100 + 2 * i, 2,
                   false);
        if (i == 19) {
            r.seg[1].first_sect = 1;
            r.seg[1].last_sect = 3;
        }
        fx_put(0, &r);
    }
    CU_ASSERT_EQUAL(fx_run(0, rsp, 20), 20);
    for (i = 0; i < 20; i++)
        CU_ASSERT(rsp_is(&rsp[i], 100 + i, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT(memcmp(guest + (size_t)(DATA + 100) * PAGE, guest + DATA * PAGE,
                     39 * PAGE) == 0);
    /* Sectors 1..3 of the last page only: the rest of it untouched. */
    CU_ASSERT_EQUAL(guest[(size_t)(DATA + 139) * PAGE], 0);
    CU_ASSERT(memcmp(guest + (size_t)(DATA + 139) * PAGE + 512,
                     guest + (size_t)(DATA + 39) * PAGE, 3 * 512) == 0);
    CU_ASSERT_EQUAL(guest[(size_t)(DATA + 139) * PAGE + 2048], 0);
    CU_ASSERT_EQUAL(map_calls, maps);
    CU_ASSERT_EQUAL(live_pages, 2); /* the ring only */
    CU_ASSERT_EQUAL(fx.q[0].cp->pool.nr_free, fx.q[0].cp->pool.npages);
    fx_close();
}

/*
 * A segment whose copy fails fails its request only: a write from a grant
 * never made, a read into a read-only grant (the disk is read, the copy to
 * the guest refused), a read from a grant revoked meanwhile.
 */
static void test_copy_fails(void)
{
    blkif_response_t rsp[5];
    blkif_request_t r[5];
    unsigned i;

    CU_ASSERT_FATAL(open_copy(1, 0) == 0);
    fill(DATA, 6, 5);
    for (i = 0; i < 3; i++)
        r[i] = rw_req(BLKIF_OP_WRITE, i, i * 16, DATA + 2 * i, 2, true);
    r[1].seg[1].gref = NGNT - 1; /* never granted */
    r[3] = rw_req(BLKIF_OP_READ, 3, 0, DATA + 20, 1, true);
    r[4] = rw_req(BLKIF_OP_READ, 4, 32, DATA + 21, 2, false);
    gnt[r[4].seg[1].gref].valid = false;
    for (i = 0; i < 5; i++)
        fx_put(0, &r[i]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 5), 5);
    for (i = 0; i < 5; i++)
        CU_ASSERT(rsp_is(&rsp[i], i, r[i].operation,
                         i == 0 || i == 2 ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR));
    CU_ASSERT(disk_equals(0, DATA, 2) && disk_equals(32 * 512, DATA + 4, 2));
    CU_ASSERT_EQUAL(guest[(size_t)(DATA + 20) * PAGE], 0);
    CU_ASSERT_EQUAL(fx.q[0].st.bad, 3);
    CU_ASSERT_EQUAL(fx.q[0].cp->pool.nr_free, fx.q[0].cp->pool.npages);
    fx_close();
}

/* Indirect: descriptors fetched by copy; a bad descriptor grant refused. */
static void test_indirect(void)
{
    blkif_response_t rsp[2];
    blkif_request_t r;
    unsigned long maps;

    CU_ASSERT_FATAL(open_copy(1, 0) == 0);
    maps = map_calls;
    fill(200, 256, 11);
    r = ind_req(40, 200, 256, 77, BLKIF_OP_WRITE, 16, false);
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 77, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(16 * 512, 200, 256));
    r = ind_req(41, 500, 256, 78, BLKIF_OP_READ, 16, false);
    fx_put(0, &r);
    r = ind_req(42, 800, 3, 79, BLKIF_OP_READ, 16, false);
    ((blkif_request_indirect_t *)&r)->indirect_grefs[0] = NGNT - 1;
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 2), 2);
    CU_ASSERT(rsp_is(&rsp[0], 78, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[1], 79, BLKIF_OP_READ, BLKIF_RSP_ERROR));
    CU_ASSERT(memcmp(guest + (size_t)500 * PAGE, guest + (size_t)200 * PAGE,
                     256 * PAGE) == 0);
    CU_ASSERT_EQUAL(map_calls, maps);
    fx_close();
}

/*
 * The pool (order 0: 352 pages) holds one request of 256 segments and a
 * bit: the second and third wait, and so does a small write behind them
 * (ring order), until buffers free up; every one completes, in order.
 */
static void test_pool_exhausted(void)
{
    blkif_response_t rsp[4];
    blkif_request_t r[4];
    struct blkback_queue *q = &fx.q[0];
    unsigned i;

    CU_ASSERT_FATAL(open_copy(1, 0) == 0);
    CU_ASSERT_EQUAL(q->cp->pool.npages, 32 * BLKIF_MAX_SEGMENTS_PER_REQUEST);
    fill(100, 3 * 256 + 1, 29);
    for (i = 0; i < 3; i++)
        r[i] = ind_req(40 + i, 100 + i * 256, 256, i, BLKIF_OP_WRITE,
                       (uint64_t)i * 256 * 8, false);
    r[3] = rw_req(BLKIF_OP_WRITE, 3, 3 * 256 * 8, 100 + 3 * 256, 1, true);
    for (i = 0; i < 4; i++)
        fx_put(0, &r[i]);
    CU_ASSERT(blkback_queue_pass(q, false) >= 4);
    CU_ASSERT(q->inflight <= 1);
    CU_ASSERT(q->cp->wait_tail - q->cp->wait_head >= 3);
    CU_ASSERT(q->st.copy_waits >= 1);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 4), 4);
    for (i = 0; i < 4; i++)
        CU_ASSERT(rsp_is(&rsp[i], i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(0, 100, 3 * 256 + 1));
    CU_ASSERT_EQUAL(q->cp->wait_tail, q->cp->wait_head);
    CU_ASSERT_EQUAL(q->cp->pool.nr_free, q->cp->pool.npages);
    fx_close();
}

/* Barrier with data, flush, discard: no buffers for the latter two. */
static void test_flush_barrier_discard(void)
{
    blkif_response_t rsp[3];
    blkif_request_t r[3];
    uint8_t buf[4096], zero[4096] = {0};

    CU_ASSERT_FATAL(open_copy(1, 0) == 0);
    fill(DATA, 4, 9);
    r[0] = rw_req(BLKIF_OP_WRITE_BARRIER, 11, 0, DATA, 4, true);
    memset(&r[1], 0, sizeof(r[1]));
    r[1].operation = BLKIF_OP_FLUSH_DISKCACHE;
    r[1].id = 10;
    fx_put(0, &r[0]);
    fx_put(0, &r[1]);
    r[2] = discard_req(12, 8, 8, 0);
    fx_put(0, &r[2]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 3), 3);
    CU_ASSERT(rsp_is(&rsp[0], 11, BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[1], 10, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[2], 12, BLKIF_OP_DISCARD, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(0, DATA, 1) && disk_equals(8192, DATA + 2, 2));
    CU_ASSERT_EQUAL(pread(disk_fd, buf, sizeof(buf), 4096), 4096);
    CU_ASSERT(memcmp(buf, zero, sizeof(buf)) == 0);
    fx_close();
}

/* A restarted worker in copy mode answers what the dead one did not. */
static void test_adopt(void)
{
    blkif_response_t rsp[4];
    blkif_request_t r;
    unsigned i;

    CU_ASSERT_FATAL(open_copy(1, 0) == 0);
    fill(DATA, 4, 19);
    for (i = 0; i < 4; i++) {
        r = rw_req(BLKIF_OP_WRITE, 40 + i, i * 8, DATA + i, 1, true);
        fx_put(0, &r);
    }
    /* The dead worker took all four and answered the first. */
    fx_restart(4, 1);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 4), 4);
    for (i = 0; i < 4; i++)
        CU_ASSERT(rsp_is(&rsp[i], 40 + i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT_EQUAL(fx.q[0].st.requests, 3);
    CU_ASSERT(disk_equals(8 * 512, DATA + 1, 3));
    fx_close();
}

int main(void)
{
    static const struct cutest tests[] = {
        {"buffer pool", test_pool},
        {"read/write by copy, one copy per pass", test_read_write},
        {"failed copy fails its request only", test_copy_fails},
        {"indirect descriptors by copy", test_indirect},
        {"pool exhausted: requests wait in ring order", test_pool_exhausted},
        {"barrier, flush, discard", test_flush_barrier_discard},
        {"adopt a ring in use", test_adopt},
    };
    return fx_main("blkback_copy", tests, ARRAY_SIZE(tests));
}
