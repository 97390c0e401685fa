/*
 * blkback_copy_test.c - the grant-copy data mode (copy.c) driven in-process
 * over the fake platform of blkback_fx.c: the buffer pool, data in and out
 * of guest pages without mapping one, one copy call per pass, a failed
 * copy failing its request only, indirect descriptors fetched by copy,
 * requests waiting in ring order while the pool is exhausted, barrier,
 * flush and discard, a ring adopted in copy mode, and with persistent
 * grants data moved through cached mappings by the CPU (grant copy only
 * for what the cache cannot hold or map).
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
    void *pages[40], *more[8], *big[150];
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
    for (i = 1; i < 8; i++) /* one run: consecutive pages */
        CU_ASSERT((uint8_t *)pages[i] == (uint8_t *)pages[i - 1] + PAGE);
    /* Pages 1, 3, 5 given back: no run of 2, so any 2 free ones. */
    more[0] = pages[1];
    more[1] = pages[3];
    more[2] = pages[5];
    blkback_copy_pool_put(&pool, more, 3);
    CU_ASSERT(blkback_copy_pool_get(&pool, more, 2));
    CU_ASSERT(more[0] == pages[1] && more[1] == pages[3]);
    CU_ASSERT_EQUAL(pool.nr_free, 1);
    blkback_copy_pool_destroy(&pool);
    /* A pool across several bitmap words: runs over whole free words. */
    CU_ASSERT_FATAL(blkback_copy_pool_init(&pool, 200) == 0);
    CU_ASSERT(blkback_copy_pool_get(&pool, pages, 3));
    CU_ASSERT(blkback_copy_pool_get(&pool, big, 150));
    for (i = 1; i < 150; i++)
        CU_ASSERT((uint8_t *)big[i] == (uint8_t *)big[i - 1] + PAGE);
    CU_ASSERT((uint8_t *)big[0] == (uint8_t *)pages[2] + PAGE);
    blkback_copy_pool_put(&pool, pages, 3);
    /* 47 free at the end, 3 at the start: 40 in one run at the end. */
    CU_ASSERT(blkback_copy_pool_get(&pool, pages, 40));
    CU_ASSERT((uint8_t *)pages[0] == (uint8_t *)big[149] + PAGE);
    CU_ASSERT((uint8_t *)pages[39] == (uint8_t *)big[149] + 40 * PAGE);
    blkback_copy_pool_put(&pool, big, 150);
    blkback_copy_pool_put(&pool, pages, 40);
    CU_ASSERT_EQUAL(pool.nr_free, 200);
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
    /* Two full pages each, on consecutive buffers: the fixed buffer. */
    CU_ASSERT_EQUAL(fx.q[0].io.nr_fixed, 20);
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
    /* The last one's second segment starts inside its page: two pieces. */
    CU_ASSERT_EQUAL(fx.q[0].io.nr_fixed, 20 + 19);
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
 * Persistent grants (a cache of 8): the first use of a grant maps it once,
 * later ones copy through the mapping with no call at all; grants beyond
 * the cache's room, or that cannot be mapped writable (a read-only grant
 * of a write), go to a grant copy; a read into a read-only grant fails.
 */
static void test_persistent(void)
{
    blkif_response_t rsp[4];
    blkif_request_t w[2], r;
    unsigned long maps, copies;
    unsigned i;

    fx_copy = true;
    CU_ASSERT_FATAL(fx_open(1, 0, true, 8, false) == 0);
    fill(DATA, 4, 21);
    w[0] = rw_req(BLKIF_OP_WRITE, 1, 0, DATA, 2, false);
    w[1] = rw_req(BLKIF_OP_WRITE, 2, 16, DATA + 2, 2, false);
    maps = map_calls;
    copies = copy_calls;
    fx_put(0, &w[0]);
    fx_put(0, &w[1]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 2), 2);
    CU_ASSERT(rsp_is(&rsp[0], 1, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[1], 2, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(0, DATA, 4));
    CU_ASSERT_EQUAL(map_calls - maps, 4); /* one each, cached */
    CU_ASSERT_EQUAL(copy_calls, copies);
    CU_ASSERT_EQUAL(fx.q[0].pg.count, 4);
    /* Read back into the same grants (the guest reuses them): no call. */
    memset(guest + (size_t)DATA * PAGE, 0, 4 * PAGE);
    for (i = 0; i < 2; i++) {
        r = w[i];
        r.operation = BLKIF_OP_READ;
        r.id = 10 + i;
        fx_put(0, &r);
    }
    maps = map_calls;
    CU_ASSERT_EQUAL(fx_run(0, rsp, 2), 2);
    CU_ASSERT(rsp_is(&rsp[0], 10, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[1], 11, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(0, DATA, 4));
    CU_ASSERT_EQUAL(map_calls, maps);
    CU_ASSERT_EQUAL(copy_calls, copies);
    CU_ASSERT(fx.q[0].st.pg_hits >= 4);
    /* Six new grants, room for four: the other two by one grant copy. */
    fill(DATA + 10, 6, 22);
    r = rw_req(BLKIF_OP_WRITE, 20, 64, DATA + 10, 6, false);
    fx_put(0, &r);
    maps = map_calls;
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 20, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(64 * 512, DATA + 10, 6));
    CU_ASSERT_EQUAL(map_calls - maps, 4);
    CU_ASSERT_EQUAL(copy_calls - copies, 1);
    /* The cache filled up, so the pass's purge unmapped its oldest. */
    CU_ASSERT(fx.q[0].pg.count >= 4 && fx.q[0].pg.count < 8);
    /* Cached grants stay mapped, nothing else does (the ring's page). */
    CU_ASSERT_EQUAL(live_pages, 1 + (long)fx.q[0].pg.count);
    fx_close();

    /* Read-only grants: a write copies from one, a read into one fails. */
    CU_ASSERT_FATAL(fx_open(1, 0, true, 8, false) == 0);
    fill(DATA, 2, 23);
    r = rw_req(BLKIF_OP_WRITE, 30, 0, DATA, 2, true);
    fx_put(0, &r);
    r = rw_req(BLKIF_OP_READ, 31, 0, DATA + 5, 1, true);
    fx_put(0, &r);
    copies = copy_calls;
    CU_ASSERT_EQUAL(fx_run(0, rsp, 2), 2);
    CU_ASSERT(rsp_is(&rsp[0], 30, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[1], 31, BLKIF_OP_READ, BLKIF_RSP_ERROR));
    CU_ASSERT(disk_equals(0, DATA, 2));
    CU_ASSERT_EQUAL(guest[(size_t)(DATA + 5) * PAGE], 0);
    CU_ASSERT_EQUAL(copy_calls - copies, 2);
    CU_ASSERT_EQUAL(fx.q[0].pg.count, 0);
    fx_close();
}

/* Indirect with persistent grants: descriptors and data all through the
 * cache, no grant copy. */
static void test_persistent_indirect(void)
{
    blkif_response_t rsp[1];
    blkif_request_t r;
    unsigned long copies;

    fx_copy = true;
    CU_ASSERT_FATAL(fx_open(1, 0, true, 1056, false) == 0);
    fill(200, 256, 24);
    r = ind_req(40, 200, 256, 90, BLKIF_OP_WRITE, 8, true);
    copies = copy_calls;
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 90, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(8 * 512, 200, 256));
    CU_ASSERT_EQUAL(copy_calls, copies);
    CU_ASSERT_EQUAL(fx.q[0].pg.count, 256 + 1); /* one descriptor page */
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
        {"persistent grants: copied through cached mappings", test_persistent},
        {"persistent grants: indirect", test_persistent_indirect},
        {"adopt a ring in use", test_adopt},
    };
    return fx_main("blkback_copy", tests, ARRAY_SIZE(tests));
}
