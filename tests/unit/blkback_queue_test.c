/*
 * blkback_queue_test.c - one queue's data path (queue.c) driven in-process
 * over the fake platform of blkback_fx.c, grants mapped. Covers every
 * operation, indirect requests, persistent-grant hits and evictions, bad
 * requests and grants, a hostile id, a broken ring and four queues on
 * their own threads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#include "tests/unit/blkback_fx.h"

/* ------------------------------------------------------------------ tests */

#define DATA 64u /* first data frame */

static void test_read_write(void)
{
    blkif_request_t r;
    blkif_response_t rsp[2];

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    fill(DATA, 4, 1);
    r = rw_req(BLKIF_OP_WRITE, 0xdeadbeefcafe, 8, DATA, 4, true);
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 0xdeadbeefcafe, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(8 * 512, DATA, 4));
    /* Read back into other pages; the last segment only sectors 1..3. */
    r = rw_req(BLKIF_OP_READ, 2, 8, DATA + 10, 4, false);
    r.seg[3].first_sect = 1;
    r.seg[3].last_sect = 3;
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 2, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT(memcmp(guest + (size_t)(DATA + 10) * PAGE, guest + DATA * PAGE,
                     3 * PAGE) == 0);
    CU_ASSERT(memcmp(guest + (size_t)(DATA + 13) * PAGE + 512,
                     guest + (size_t)(DATA + 3) * PAGE, 3 * 512) == 0);
    CU_ASSERT_EQUAL(guest[(size_t)(DATA + 13) * PAGE], 0);
    fx_close();
}

/* A pass maps all its writes in one call, all its reads in another. */
static void test_batch_map(void)
{
    blkif_response_t rsp[40];
    blkif_request_t r;
    unsigned long before;
    unsigned i;

    CU_ASSERT_FATAL(fx_open(1, 1, false, 0, false) == 0);
    fill(DATA, 40, 3);
    for (i = 0; i < 20; i++) {
        r = rw_req(BLKIF_OP_WRITE, i, i * 16, DATA + 2 * i, 2, true);
        fx_put(0, &r);
    }
    before = map_calls;
    CU_ASSERT_EQUAL(fx_run(0, rsp, 20), 20);
    CU_ASSERT_EQUAL(map_calls - before, 1);
    for (i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(rsp[i].status, BLKIF_RSP_OKAY);
    CU_ASSERT(disk_equals(0, DATA, 40));
    for (i = 0; i < 20; i++) {
        r = rw_req(BLKIF_OP_READ, 100 + i, i * 16, DATA + 100 + 2 * i, 2,
                   false);
        fx_put(0, &r);
        r = rw_req(BLKIF_OP_WRITE, 200 + i, 1024 + i * 16, DATA + 2 * i, 2,
                   true);
        fx_put(0, &r);
    }
    before = map_calls;
    CU_ASSERT_EQUAL(fx_run(0, rsp, 40), 40);
    CU_ASSERT_EQUAL(map_calls - before, 2);
    CU_ASSERT(memcmp(guest + (size_t)(DATA + 100) * PAGE, guest + DATA * PAGE,
                     40 * PAGE) == 0);
    CU_ASSERT(fx.q[0].st.requests == 60 && fx.q[0].st.bad == 0);
    fx_close();
}

/* One bad grant fails its request only; a read into a read-only grant. */
static void test_bad_grants(void)
{
    blkif_response_t rsp[4];
    blkif_request_t r[4];
    unsigned i;

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    fill(DATA, 6, 5);
    for (i = 0; i < 3; i++)
        r[i] = rw_req(BLKIF_OP_WRITE, i, i * 16, DATA + 2 * i, 2, true);
    r[1].seg[1].gref = NGNT - 1; /* never granted */
    r[3] = rw_req(BLKIF_OP_READ, 3, 0, DATA + 20, 1, true);
    for (i = 0; i < 4; i++)
        fx_put(0, &r[i]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 4), 4);
    /* In ring order, refused ones included (restart needs it). */
    for (i = 0; i < 4; i++)
        CU_ASSERT(rsp_is(&rsp[i], i, r[i].operation,
                         i == 0 || i == 2 ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR));
    CU_ASSERT(disk_equals(0, DATA, 2) && disk_equals(32 * 512, DATA + 4, 2));
    CU_ASSERT_EQUAL(fx.q[0].st.bad, 2);
    fx_close();
}

/* Ids are echoed whatever they are; bad requests get ERROR/EOPNOTSUPP. */
static void test_hostile_requests(void)
{
    blkif_response_t rsp[5];
    blkif_request_t r[5];
    unsigned i;

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    memset(r, 0xa5, sizeof(r));
    r[0].operation = 99;
    r[0].id = UINT64_MAX;
    r[1] = rw_req(BLKIF_OP_READ, 1ull << 63, 0, DATA, 1, false);
    r[1].nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
    r[2] = rw_req(BLKIF_OP_WRITE, 2, DISK_BYTES / 512 - 7, DATA, 1, true);
    r[3] = rw_req(BLKIF_OP_READ, 3, 0, DATA, 1, false);
    r[3].seg[0].last_sect = 8;
    r[4] = rw_req(BLKIF_OP_READ, 4, UINT64_MAX - 3, DATA, 1, false);
    for (i = 0; i < ARRAY_SIZE(r); i++)
        fx_put(0, &r[i]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 5), 5);
    CU_ASSERT(rsp_is(&rsp[0], UINT64_MAX, 99, BLKIF_RSP_EOPNOTSUPP));
    CU_ASSERT(rsp_is(&rsp[1], 1ull << 63, BLKIF_OP_READ, BLKIF_RSP_ERROR));
    CU_ASSERT(rsp_is(&rsp[2], 2, BLKIF_OP_WRITE, BLKIF_RSP_ERROR));
    CU_ASSERT(rsp_is(&rsp[3], 3, BLKIF_OP_READ, BLKIF_RSP_ERROR));
    CU_ASSERT(rsp_is(&rsp[4], 4, BLKIF_OP_READ, BLKIF_RSP_ERROR));
    CU_ASSERT_EQUAL(map_calls > 0, 1);
    fx_close();
}

static void test_flush_barrier_discard(void)
{
    blkif_request_t slot;
    blkif_response_t rsp[3];
    blkif_request_t r[2];
    uint8_t buf[8192], zero[8192] = {0};

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    CU_ASSERT(fx.dev.geom.flush && fx.dev.geom.barrier);
    fill(DATA, 4, 9);
    memset(&r[0], 0, sizeof(r[0]));
    r[0].operation = BLKIF_OP_FLUSH_DISKCACHE;
    r[0].id = 10;
    r[1] = rw_req(BLKIF_OP_WRITE_BARRIER, 11, 0, DATA, 4, true);
    fx_put(0, &r[0]);
    fx_put(0, &r[1]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 2), 2);
    CU_ASSERT(rsp_is(&rsp[0], 10, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY));
    CU_ASSERT(rsp_is(&rsp[1], 11, BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(0, DATA, 4));
    slot = discard_req(12, 8, 16, 0);
    fx_put(0, &slot);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 12, BLKIF_OP_DISCARD, BLKIF_RSP_OKAY));
    CU_ASSERT_EQUAL(pread(disk_fd, buf, sizeof(buf), 4096), 8192);
    CU_ASSERT(memcmp(buf, zero, sizeof(buf)) == 0);
    CU_ASSERT(disk_equals(0, DATA, 1) && disk_equals(12288, DATA + 3, 1));
    slot = discard_req(12, 8, 16, BLKIF_DISCARD_SECURE); /* a file cannot */
    fx_put(0, &slot);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 12, BLKIF_OP_DISCARD, BLKIF_RSP_EOPNOTSUPP));
    fx_close();
}

/* Writes, flush and discard on a read-only device are refused. */
static void test_readonly(void)
{
    blkif_response_t rsp[2];
    blkif_request_t r[2];

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, true) == 0);
    r[0] = rw_req(BLKIF_OP_WRITE, 1, 0, DATA, 1, true);
    r[1] = rw_req(BLKIF_OP_READ, 2, 0, DATA, 1, false);
    fx_put(0, &r[0]);
    fx_put(0, &r[1]);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 2), 2);
    CU_ASSERT(rsp_is(&rsp[0], 1, BLKIF_OP_WRITE, BLKIF_RSP_ERROR));
    CU_ASSERT(rsp_is(&rsp[1], 2, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    fx_close();
}

/* An indirect request of 256 segments, pages persistent or not. */
static void indirect_rw(bool persistent)
{
    struct blkif_request_segment *seg;
    blkif_request_t slot;
    blkif_response_t rsp[1];
    const uint32_t ipage = 40, data = 200, back = 500;

    CU_ASSERT_FATAL(fx_open(1, 0, persistent, BLKBACK_MAX_PGRANTS, false) == 0);
    fill(data, 256, 11);
    slot = ind_req(ipage, data, 256, 77, BLKIF_OP_WRITE, 16, persistent);
    fx_put(0, &slot);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 77, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT(disk_equals(16 * 512, data, 256));
    slot = ind_req(ipage, back, 256, 78, BLKIF_OP_READ, 16, persistent);
    fx_put(0, &slot);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 78, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT(memcmp(guest + (size_t)back * PAGE, guest + (size_t)data * PAGE,
                     256 * PAGE) == 0);
    /* A segment beyond its page in the indirect page: refused. */
    slot = ind_req(ipage, back, 256, 79, BLKIF_OP_READ, 16, persistent);
    seg = (struct blkif_request_segment *)(guest + (size_t)ipage * PAGE);
    seg[100].last_sect = 8;
    fx_put(0, &slot);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 79, BLKIF_OP_READ, BLKIF_RSP_ERROR));
    fx_close();
}

static void test_indirect(void)
{
    indirect_rw(false);
}

static void test_indirect_persistent(void)
{
    indirect_rw(true);
}

/* Hits need no map; a full cache maps for the request only and purges. */
static void test_persistent(void)
{
    blkif_response_t rsp[4];
    blkif_request_t r;
    unsigned long before;

    CU_ASSERT_FATAL(fx_open(1, 0, true, 8, false) == 0);
    fill(DATA, 12, 13);
    r = rw_req(BLKIF_OP_WRITE, 1, 0, DATA, 4, false);
    before = map_calls;
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT_EQUAL(rsp[0].status, BLKIF_RSP_OKAY);
    CU_ASSERT_EQUAL(map_calls - before, 4);
    CU_ASSERT_EQUAL(live_pages, 1 + 4); /* ring + cached grants */
    r.operation = BLKIF_OP_READ;
    r.id = 2;
    before = map_calls;
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 2, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    CU_ASSERT_EQUAL(map_calls, before);
    CU_ASSERT_EQUAL(fx.q[0].st.pg_hits, 4);
    /* 8 new grants: 4 fit, 4 overflow (mapped once), then a purge. */
    r = rw_req(BLKIF_OP_WRITE, 3, 64, DATA + 4, 8, false);
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT_EQUAL(rsp[0].status, BLKIF_RSP_OKAY);
    CU_ASSERT(disk_equals(64 * 512, DATA + 4, 8));
    CU_ASSERT(fx.q[0].pg.count <= 8 && fx.q[0].pg.count >= 7);
    CU_ASSERT_EQUAL(live_pages, 1 + (long)fx.q[0].pg.count);
    /* A read-only grant cannot be a persistent one (mapped writable). */
    r = rw_req(BLKIF_OP_WRITE, 4, 0, DATA, 1, true);
    fx_put(0, &r);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 1), 1);
    CU_ASSERT(rsp_is(&rsp[0], 4, BLKIF_OP_WRITE, BLKIF_RSP_ERROR));
    fx_close();
}

/* A producer index the ring cannot hold breaks it: -EPROTO, no answer. */
static void test_broken_ring(void)
{
    blkif_response_t rsp[1];
    blkif_request_t r;

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    r = rw_req(BLKIF_OP_WRITE, 1, 0, DATA, 1, true);
    fx_put(0, &r);
    ((blkif_sring_t *)guest)->req_prod += 1000;
    CU_ASSERT_EQUAL(blkback_queue_pass(&fx.q[0], true), -EPROTO);
    CU_ASSERT_EQUAL(blkback_queue_pass(&fx.q[0], true), -EPROTO);
    CU_ASSERT_EQUAL(ringbuf_front_take(&fx.fr[0], rsp, 1), 0);
    fx_close();
}

/*
 * A restarted worker attaches to the ring in use: of four requests the
 * dead one took, two were answered; the other two are answered now, once.
 */
static void test_adopt(void)
{
    blkif_response_t rsp[4];
    blkif_request_t r;
    unsigned i;

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    fill(DATA, 4, 19);
    for (i = 0; i < 4; i++) {
        r = rw_req(BLKIF_OP_WRITE, 40 + i, i * 8, DATA + i, 1, true);
        fx_put(0, &r);
    }
    /* The dead worker: took all four, answered the first two. */
    fx_restart(4, 2);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 4), 4);
    for (i = 0; i < 4; i++)
        CU_ASSERT(rsp_is(&rsp[i], 40 + i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT_EQUAL(blkback_queue_pass(&fx.q[0], false), 0);
    CU_ASSERT_EQUAL(ringbuf_front_take(&fx.fr[0], rsp, 4), 0);
    CU_ASSERT_EQUAL(fx.q[0].st.requests, 2);
    CU_ASSERT(disk_equals(16 * 512, DATA + 2, 2));
    fx_close();
}

/*
 * The dead worker published its responses and was killed before it
 * notified: the successor notifies the frontend once, or a frontend that
 * waits for that event (Linux blkfront) would wait for ever.
 */
static void test_adopt_notifies(void)
{
    blkif_response_t rsp[2];
    blkif_request_t r;
    unsigned long before;
    unsigned i;

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    fill(DATA, 2, 29);
    for (i = 0; i < 2; i++) {
        r = rw_req(BLKIF_OP_WRITE, 50 + i, i * 8, DATA + i, 1, true);
        fx_put(0, &r);
    }
    before = evt_notifies;
    fx_restart(2, 2); /* both answered and published, no event sent */
    CU_ASSERT_EQUAL(evt_notifies, before + 1);
    CU_ASSERT_EQUAL(ringbuf_front_take(&fx.fr[0], rsp, 2), 2);
    CU_ASSERT_EQUAL(blkback_queue_pass(&fx.q[0], false), 0);
    CU_ASSERT_EQUAL(fx.q[0].st.requests, 0); /* nothing answered twice */
    fx_close();
}

/*
 * The dead worker took four requests, published two responses and put a
 * third without publishing it, then was killed: the third's ring slot holds
 * a response, and the fourth's is scribbled on as well. The successor gets
 * both from the journal and answers them, once.
 */
static void test_adopt_journal(void)
{
    struct blkback_queue_cfg cfg = {.order = 0, .port = FE_PORT};
    blkif_response_t rsp[4], dead_rsp;
    blkif_request_t r[4], taken[4];
    uint8_t *ents;
    unsigned i;

    CU_ASSERT_FATAL(fx_open(1, 0, false, 0, false) == 0);
    fill(DATA, 4, 23);
    for (i = 0; i < 4; i++) {
        r[i] = rw_req(BLKIF_OP_WRITE, 60 + i, i * 8, DATA + i, 1, true);
        fx_put(0, &r[i]);
    }
    CU_ASSERT_EQUAL(ringbuf_back_take(&fx.q[0].rb, taken, 4), 4);
    for (i = 0; i < 3; i++) {
        blkback_ring_response(&dead_rsp, taken[i].id, BLKIF_OP_WRITE, 0);
        CU_ASSERT_EQUAL(ringbuf_back_put(&fx.q[0].rb, &dead_rsp), 0);
        if (i == 1)
            ringbuf_back_push(&fx.q[0].rb);
    }
    ents = (uint8_t *)fx.q[0].rb.ents;
    memset(ents + 3 * fx.q[0].rb.ent_size, 0xa5, sizeof(blkif_request_t));
    blkback_queue_close(&fx.q[0]);
    cfg.refs[0] = 1; /* the ring's grant, made first by fx_open */
    CU_ASSERT_FATAL(blkback_queue_open(&fx.q[0], &fx.dev, 0, 1, &cfg, true) ==
                    0);
    CU_ASSERT_EQUAL(fx_run(0, rsp, 4), 4);
    for (i = 0; i < 4; i++)
        CU_ASSERT(rsp_is(&rsp[i], 60 + i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY));
    CU_ASSERT_EQUAL(blkback_queue_pass(&fx.q[0], false), 0);
    CU_ASSERT_EQUAL(ringbuf_front_take(&fx.fr[0], rsp, 4), 0);
    CU_ASSERT_EQUAL(fx.q[0].st.requests, 2);
    CU_ASSERT(disk_equals(16 * 512, DATA + 2, 2));
    fx_close();
}

struct qthread {
    pthread_t tid;
    unsigned qi;
    int stop_fd;
    int ret;
};

static void *qthread_main(void *arg)
{
    struct qthread *t = arg;

    t->ret = blkback_queue_run(&fx.q[t->qi], t->stop_fd);
    return NULL;
}

/* Four queues, each on its own thread, woken through its channel. */
static void test_four_queues(void)
{
    struct qthread th[4];
    blkif_response_t rsp[16];
    unsigned i, k, got[4] = {0}, spins;
    int stop_fd = eventfd(0, EFD_CLOEXEC);
    uint64_t one = 1;

    CU_ASSERT_FATAL(stop_fd >= 0);
    CU_ASSERT_FATAL(fx_open(4, 2, false, 0, false) == 0);
    fill(DATA, 64, 17);
    for (i = 0; i < 4; i++) {
        th[i] = (struct qthread){.qi = i, .stop_fd = stop_fd};
        CU_ASSERT_FATAL(
            pthread_create(&th[i].tid, NULL, qthread_main, &th[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        for (k = 0; k < 16; k++) {
            blkif_request_t r = rw_req(BLKIF_OP_WRITE, k, (i * 16 + k) * 8,
                                       DATA + i * 16 + k, 1, true);
            CU_ASSERT(ringbuf_front_put(&fx.fr[i], &r) == 0);
        }
        ringbuf_front_push(&fx.fr[i]);
        CU_ASSERT(write(plat_evtchn_fd(fx.q[i].ec), &one, 8) == 8);
    }
    for (spins = 0; spins < 20000; spins++) {
        unsigned total = 0;

        for (i = 0; i < 4; i++) {
            int n = ringbuf_front_take(&fx.fr[i], rsp, 16);

            for (k = 0; n > 0 && k < (unsigned)n; k++)
                CU_ASSERT_EQUAL(rsp[k].status, BLKIF_RSP_OKAY);
            got[i] += n > 0 ? (unsigned)n : 0;
            total += got[i];
        }
        if (total == 64)
            break;
        usleep(1000);
    }
    CU_ASSERT(write(stop_fd, &one, 8) == 8);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i].tid, NULL);
        CU_ASSERT_EQUAL(th[i].ret, 0);
        CU_ASSERT_EQUAL(got[i], 16);
    }
    CU_ASSERT(disk_equals(0, DATA, 64));
    close(stop_fd);
    fx_close();
}

int main(void)
{
    static const struct cutest tests[] = {
        {"read/write, partial segment", test_read_write},
        {"one map call per pass and direction", test_batch_map},
        {"bad grant fails its request only", test_bad_grants},
        {"hostile ids and bad requests", test_hostile_requests},
        {"flush, barrier, discard", test_flush_barrier_discard},
        {"read-only device", test_readonly},
        {"indirect, 256 segments", test_indirect},
        {"indirect, persistent", test_indirect_persistent},
        {"persistent grants: hits, overflow, purge", test_persistent},
        {"broken ring", test_broken_ring},
        {"adopt a ring in use", test_adopt},
        {"adopt: slots overwritten, journal", test_adopt_journal},
        {"adopt: the frontend is notified once", test_adopt_notifies},
        {"four queues on four threads", test_four_queues},
    };
    return fx_main("blkback_queue", tests, ARRAY_SIZE(tests));
}
