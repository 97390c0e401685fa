/*
 * blkback_ring_test.c - unit tests of blkif request validation (ring.c).
 *
 * Every validation rule is broken once (and only that rule), each
 * operation is accepted once at 512- and 4096-byte logical sectors, and
 * responses are checked byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#include "backend/blk/blkback-internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TEST_ID       0x1122334455667788ull
#define DISK_SECTORS  (1ull << 20) /* 512 MiB */

static const struct blkback_geom geom512 = {
    .nr_sectors = DISK_SECTORS,
    .sector_size = 512,
    .flush = true,
    .barrier = true,
    .discard = true,
    .discard_secure = true,
    .max_indirect = 256,
};
static struct blkback_geom geom4k, geom_ro, geom_bare;

static struct blkback_seg segs[BLKBACK_MAX_SEGS];

/* A READ/WRITE-layout request with nseg whole-page segments. */
static blkif_request_t mk_rw(uint8_t op, uint64_t sector, unsigned nseg)
{
    blkif_request_t r;
    unsigned i;

    memset(&r, 0, sizeof(r));
    r.operation = op;
    r.nr_segments = (uint8_t)nseg;
    r.handle = 51712;
    r.id = TEST_ID;
    r.sector_number = sector;
    for (i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        r.seg[i].gref = 100 + i;
        r.seg[i].first_sect = 0;
        r.seg[i].last_sect = 7;
    }
    return r;
}

static blkif_request_t mk_discard(uint64_t sector, uint64_t nr, uint8_t flag)
{
    blkif_request_discard_t d;
    blkif_request_t r;

    memset(&r, 0, sizeof(r));
    memset(&d, 0, sizeof(d));
    d.operation = BLKIF_OP_DISCARD;
    d.flag = flag;
    d.id = TEST_ID;
    d.sector_number = sector;
    d.nr_sectors = nr;
    memcpy(&r, &d, sizeof(d));
    return r;
}

static blkif_request_t mk_indirect(uint8_t op, uint64_t sector, unsigned nseg)
{
    blkif_request_indirect_t ind;
    blkif_request_t r;
    unsigned i;

    memset(&r, 0, sizeof(r));
    memset(&ind, 0, sizeof(ind));
    ind.operation = BLKIF_OP_INDIRECT;
    ind.indirect_op = op;
    ind.nr_segments = (uint16_t)nseg;
    ind.id = TEST_ID;
    ind.sector_number = sector;
    for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
        ind.indirect_grefs[i] = 900 + i;
    memcpy(&r, &ind, sizeof(ind));
    return r;
}

/* Segments as the worker copies them out of indirect pages. */
static void mk_raw_segs(struct blkif_request_segment *raw, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        raw[i].gref = 2000 + i;
        raw[i].first_sect = 0;
        raw[i].last_sect = 7;
    }
}

static void expect_bad(const char *what, const blkif_request_t *r,
                       const struct blkback_geom *g, enum blkback_bad want)
{
    struct blkback_req req;
    enum blkback_bad got = blkback_ring_parse(r, g, &req, segs);

    if (got != want)
        fprintf(stderr, "\n  %s: got \"%s\", want \"%s\"\n", what,
                blkback_bad_str(got), blkback_bad_str(want));
    CU_ASSERT_EQUAL(got, want);
    /* Whatever the verdict, the response can be addressed. */
    CU_ASSERT_EQUAL(req.id, TEST_ID);
}

/* The geometry variants, each differing in one property. */
static int setup_geoms(void)
{
    geom4k = geom512;
    geom4k.sector_size = 4096;
    geom_ro = geom512;
    geom_ro.readonly = true;
    geom_bare = geom512;
    geom_bare.flush = geom_bare.barrier = geom_bare.discard = false;
    geom_bare.discard_secure = false;
    geom_bare.max_indirect = 0;
    return 0;
}

static void test_accept_rw(void)
{
    const struct blkback_geom *gs[] = {&geom512, &geom4k};
    struct blkback_req req;
    blkif_request_t r;
    size_t g;

    for (g = 0; g < ARRAY_SIZE(gs); g++) {
        r = mk_rw(BLKIF_OP_READ, 8, 3);
        CU_ASSERT_EQUAL(blkback_ring_parse(&r, gs[g], &req, segs), BLKBACK_OK);
        CU_ASSERT_EQUAL(req.op, BLKIF_OP_READ);
        CU_ASSERT_EQUAL(req.rsp_op, BLKIF_OP_READ);
        CU_ASSERT_EQUAL(req.nr_segs, 3);
        CU_ASSERT_EQUAL(req.sector, 8);
        CU_ASSERT_EQUAL(req.nr_sectors, 24);
        CU_ASSERT_EQUAL(req.offset, 8 * 512);
        CU_ASSERT_EQUAL(req.bytes, 3 * 4096);
        CU_ASSERT_EQUAL(segs[2].gref, 102);
        CU_ASSERT_EQUAL(segs[2].offset, 0);
        CU_ASSERT_EQUAL(segs[2].len, 4096);

        /* The last 11 pages of the disk exactly. */
        r = mk_rw(BLKIF_OP_WRITE, DISK_SECTORS - 88, 11);
        CU_ASSERT_EQUAL(blkback_ring_parse(&r, gs[g], &req, segs), BLKBACK_OK);
        CU_ASSERT_EQUAL(req.op, BLKIF_OP_WRITE);
        CU_ASSERT_EQUAL(req.bytes, 11 * 4096);
    }
    /* 512-byte sectors: any sub-page segment, in 512-byte units. */
    r = mk_rw(BLKIF_OP_WRITE, 3, 1);
    r.seg[0].first_sect = 2;
    r.seg[0].last_sect = 4;
    CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom512, &req, segs), BLKBACK_OK);
    CU_ASSERT_EQUAL(segs[0].offset, 1024);
    CU_ASSERT_EQUAL(segs[0].len, 1536);
    CU_ASSERT_EQUAL(req.offset, 1536);
    CU_ASSERT_EQUAL(req.bytes, 1536);
    /* Read-only disks still read. */
    r = mk_rw(BLKIF_OP_READ, 0, 1);
    CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom_ro, &req, segs), BLKBACK_OK);
}

static void test_accept_flush_barrier(void)
{
    static const uint8_t ops[] = {BLKIF_OP_FLUSH_DISKCACHE,
                                  BLKIF_OP_WRITE_BARRIER};
    struct blkback_req req;
    blkif_request_t r;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(ops); i++) {
        r = mk_rw(ops[i], 12345, 0);
        CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom512, &req, segs),
                        BLKBACK_OK);
        CU_ASSERT_EQUAL(req.op, ops[i]);
        CU_ASSERT_EQUAL(req.rsp_op, ops[i]);
        CU_ASSERT_EQUAL(req.bytes, 0);
        CU_ASSERT_EQUAL(req.nr_segs, 0);
        /* With data: a flush, then a write of it. */
        r = mk_rw(ops[i], 16, 2);
        CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom4k, &req, segs),
                        BLKBACK_OK);
        CU_ASSERT_EQUAL(req.offset, 16 * 512);
        CU_ASSERT_EQUAL(req.bytes, 8192);
        CU_ASSERT_EQUAL(req.nr_segs, 2);
    }
}

static void test_accept_discard(void)
{
    struct blkback_req req;
    blkif_request_t r;

    r = mk_discard(8, 16, 0);
    CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom512, &req, segs), BLKBACK_OK);
    CU_ASSERT_EQUAL(req.op, BLKIF_OP_DISCARD);
    CU_ASSERT_FALSE(req.secure);
    CU_ASSERT_EQUAL(req.offset, 4096);
    CU_ASSERT_EQUAL(req.bytes, 8192);
    r = mk_discard(0, DISK_SECTORS, BLKIF_DISCARD_SECURE);
    CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom4k, &req, segs), BLKBACK_OK);
    CU_ASSERT_TRUE(req.secure);
    CU_ASSERT_EQUAL(req.bytes, DISK_SECTORS * 512);
    /* Zero sectors: nothing to do, nothing wrong. */
    r = mk_discard(DISK_SECTORS, 0, 0);
    CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom512, &req, segs), BLKBACK_OK);
    CU_ASSERT_EQUAL(req.bytes, 0);
}

/* Header then segments; n segments of one page each. */
static enum blkback_bad parse_indirect(uint8_t op, const struct blkback_geom *g,
                                       unsigned n, struct blkback_req *req,
                                       struct blkif_request_segment *raw)
{
    blkif_request_t r = mk_indirect(op, 64, n);
    enum blkback_bad bad = blkback_ring_parse(&r, g, req, segs);

    if (bad != BLKBACK_OK)
        return bad;
    return blkback_ring_parse_indirect(req, g, raw, segs);
}

static void test_accept_indirect(void)
{
    static struct blkif_request_segment raw[BLKBACK_MAX_SEGS];
    static const unsigned counts[] = {1, 11, 12, 256};
    struct blkback_req req;
    size_t i;

    mk_raw_segs(raw, ARRAY_SIZE(raw));
    for (i = 0; i < ARRAY_SIZE(counts); i++) {
        CU_ASSERT_EQUAL(
            parse_indirect(BLKIF_OP_WRITE, &geom4k, counts[i], &req, raw),
            BLKBACK_OK);
        CU_ASSERT_TRUE(req.indirect);
        CU_ASSERT_EQUAL(req.op, BLKIF_OP_WRITE);
        /* The response carries indirect_op, as blkfront checks. */
        CU_ASSERT_EQUAL(req.rsp_op, BLKIF_OP_WRITE);
        CU_ASSERT_EQUAL(req.nr_segs, counts[i]);
        CU_ASSERT_EQUAL(req.nr_indirect, 1);
        CU_ASSERT_EQUAL(req.indirect_grefs[0], 900);
        CU_ASSERT_EQUAL(req.offset, 64 * 512);
        CU_ASSERT_EQUAL(req.bytes, counts[i] * 4096ull);
        CU_ASSERT_EQUAL(segs[counts[i] - 1].gref, 2000 + counts[i] - 1);
    }
    CU_ASSERT_EQUAL(parse_indirect(BLKIF_OP_READ, &geom_ro, 256, &req, raw),
                    BLKBACK_OK);
    CU_ASSERT_EQUAL(req.rsp_op, BLKIF_OP_READ);
    CU_ASSERT_EQUAL(blkback_indirect_pages(512), 1);
    CU_ASSERT_EQUAL(blkback_indirect_pages(513), 2);
}

static void test_bad_op(void)
{
    static const uint8_t ops[] = {BLKIF_OP_RESERVED_1, 7, 0x80, 0xff};
    blkif_request_t r;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(ops); i++) {
        r = mk_rw(ops[i], 0, 1);
        expect_bad("unknown op", &r, &geom512, BLKBACK_BAD_OP);
        CU_ASSERT_EQUAL(blkback_ring_rsp_op(&r), ops[i]);
    }
}

static void test_bad_segments(void)
{
    blkif_request_t r;

    r = mk_rw(BLKIF_OP_READ, 0, 0);
    expect_bad("read without segments", &r, &geom512, BLKBACK_BAD_NSEG_ZERO);
    r = mk_rw(BLKIF_OP_WRITE, 0, 12);
    expect_bad("12 direct segments", &r, &geom512, BLKBACK_BAD_NSEG_MAX);
    r = mk_rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 12);
    expect_bad("flush with 12 segments", &r, &geom512, BLKBACK_BAD_NSEG_MAX);
    r = mk_rw(BLKIF_OP_READ, 0, 2);
    r.seg[1].last_sect = 8;
    expect_bad("last_sect 8", &r, &geom512, BLKBACK_BAD_LAST_SECT);
    r = mk_rw(BLKIF_OP_READ, 0, 2);
    r.seg[1].first_sect = 200;
    r.seg[1].last_sect = 255;
    expect_bad("last_sect 255", &r, &geom512, BLKBACK_BAD_LAST_SECT);
    r = mk_rw(BLKIF_OP_READ, 0, 1);
    r.seg[0].first_sect = 3;
    r.seg[0].last_sect = 2;
    expect_bad("last before first", &r, &geom512, BLKBACK_BAD_SECT_ORDER);
    r = mk_rw(BLKIF_OP_READ, 0, 2);
    r.seg[1].last_sect = 3;
    expect_bad("half page at 4k", &r, &geom4k, BLKBACK_BAD_SEG_ALIGN);
    r = mk_rw(BLKIF_OP_READ, 0, 1);
    r.seg[0].first_sect = 1;
    expect_bad("7 sectors at 4k", &r, &geom4k, BLKBACK_BAD_SEG_ALIGN);
}

static void test_bad_range(void)
{
    blkif_request_t r;

    r = mk_rw(BLKIF_OP_READ, 1, 1);
    expect_bad("sector 1 at 4k", &r, &geom4k, BLKBACK_BAD_ALIGN);
    r = mk_rw(BLKIF_OP_READ, UINT64_MAX - 3, 1);
    expect_bad("wrap", &r, &geom512, BLKBACK_BAD_WRAP);
    r = mk_rw(BLKIF_OP_WRITE, DISK_SECTORS - 7, 1);
    expect_bad("one past the end", &r, &geom512, BLKBACK_BAD_RANGE);
    r = mk_rw(BLKIF_OP_READ, DISK_SECTORS, 1);
    expect_bad("at the end", &r, &geom512, BLKBACK_BAD_RANGE);
    r = mk_rw(BLKIF_OP_READ, UINT64_MAX >> 9, 1);
    expect_bad("byte offset would wrap", &r, &geom512, BLKBACK_BAD_RANGE);
}

static void test_bad_discard(void)
{
    blkif_request_t r;

    r = mk_discard(0, (UINT64_MAX >> 9) + 1, 0);
    expect_bad("discard bytes overflow", &r, &geom512,
               BLKBACK_BAD_DISCARD_OVERFLOW);
    r = mk_discard(UINT64_MAX - 8, 16, 0);
    expect_bad("discard wraps", &r, &geom512, BLKBACK_BAD_WRAP);
    r = mk_discard(DISK_SECTORS - 8, 16, 0);
    expect_bad("discard past the end", &r, &geom512, BLKBACK_BAD_RANGE);
    r = mk_discard(0, 4, 0);
    expect_bad("discard half a 4k sector", &r, &geom4k, BLKBACK_BAD_LEN_ALIGN);
    r = mk_discard(4, 8, 0);
    expect_bad("discard misaligned at 4k", &r, &geom4k, BLKBACK_BAD_ALIGN);
    r = mk_discard(0, 8, 0);
    expect_bad("discard not offered", &r, &geom_bare, BLKBACK_BAD_NO_DISCARD);
    r = mk_discard(0, 8, BLKIF_DISCARD_SECURE);
    geom_bare.discard = true;
    expect_bad("secure not offered", &r, &geom_bare, BLKBACK_BAD_NO_SECURE);
    geom_bare.discard = false;
}

static void test_readonly(void)
{
    blkif_request_t r;

    r = mk_rw(BLKIF_OP_WRITE, 0, 1);
    expect_bad("write on ro", &r, &geom_ro, BLKBACK_BAD_READONLY);
    r = mk_discard(0, 8, 0);
    expect_bad("discard on ro", &r, &geom_ro, BLKBACK_BAD_READONLY);
    r = mk_rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    expect_bad("flush on ro", &r, &geom_ro, BLKBACK_BAD_READONLY);
    r = mk_rw(BLKIF_OP_WRITE_BARRIER, 0, 0);
    expect_bad("barrier on ro", &r, &geom_ro, BLKBACK_BAD_READONLY);
    r = mk_indirect(BLKIF_OP_WRITE, 0, 16);
    expect_bad("indirect write on ro", &r, &geom_ro, BLKBACK_BAD_READONLY);
}

static void test_not_offered(void)
{
    blkif_request_t r;

    r = mk_rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    expect_bad("flush not offered", &r, &geom_bare, BLKBACK_BAD_NO_FLUSH);
    r = mk_rw(BLKIF_OP_WRITE_BARRIER, 0, 0);
    expect_bad("barrier not offered", &r, &geom_bare, BLKBACK_BAD_NO_BARRIER);
    r = mk_indirect(BLKIF_OP_READ, 0, 16);
    expect_bad("indirect not offered", &r, &geom_bare, BLKBACK_BAD_NO_INDIRECT);
}

static void test_bad_indirect(void)
{
    static struct blkif_request_segment raw[BLKBACK_MAX_SEGS];
    struct blkback_geom g16 = geom512;
    struct blkback_req req;
    blkif_request_t r;

    mk_raw_segs(raw, ARRAY_SIZE(raw));
    r = mk_indirect(BLKIF_OP_FLUSH_DISKCACHE, 0, 16);
    expect_bad("indirect flush", &r, &geom512, BLKBACK_BAD_INDIRECT_OP);
    CU_ASSERT_EQUAL(blkback_ring_rsp_op(&r), BLKIF_OP_FLUSH_DISKCACHE);
    r = mk_indirect(BLKIF_OP_READ, 0, 0);
    expect_bad("indirect without segments", &r, &geom512,
               BLKBACK_BAD_NSEG_ZERO);
    r = mk_indirect(BLKIF_OP_READ, 0, 257);
    expect_bad("257 segments", &r, &geom512, BLKBACK_BAD_NSEG_MAX);
    g16.max_indirect = 16;
    r = mk_indirect(BLKIF_OP_READ, 0, 17);
    expect_bad("17 of 16 segments", &r, &g16, BLKBACK_BAD_NSEG_MAX);

    /* The copied segments are validated like direct ones. */
    raw[255].last_sect = 8;
    CU_ASSERT_EQUAL(parse_indirect(BLKIF_OP_READ, &geom512, 256, &req, raw),
                    BLKBACK_BAD_LAST_SECT);
    raw[255].last_sect = 7;
    raw[100].first_sect = 4;
    CU_ASSERT_EQUAL(parse_indirect(BLKIF_OP_READ, &geom4k, 256, &req, raw),
                    BLKBACK_BAD_SEG_ALIGN);
    raw[100].first_sect = 0;
    r = mk_indirect(BLKIF_OP_READ, DISK_SECTORS - 8, 2);
    CU_ASSERT_EQUAL(blkback_ring_parse(&r, &geom512, &req, segs), BLKBACK_OK);
    CU_ASSERT_EQUAL(blkback_ring_parse_indirect(&req, &geom512, raw, segs),
                    BLKBACK_BAD_RANGE);
}

static void test_status_and_strings(void)
{
    unsigned i;

    /* One message per reason, none missing from the table. */
    for (i = 0; i < BLKBACK_BAD_NR; i++)
        CU_ASSERT_PTR_NOT_NULL(blkback_bad_str((enum blkback_bad)i));
    CU_ASSERT_EQUAL(blkback_bad_status(BLKBACK_OK), BLKIF_RSP_OKAY);
    CU_ASSERT_EQUAL(blkback_bad_status(BLKBACK_BAD_RANGE), BLKIF_RSP_ERROR);
    CU_ASSERT_EQUAL(blkback_bad_status(BLKBACK_BAD_OP), BLKIF_RSP_EOPNOTSUPP);
    CU_ASSERT_EQUAL(blkback_bad_status(BLKBACK_BAD_NO_DISCARD),
                    BLKIF_RSP_EOPNOTSUPP);
    CU_ASSERT_EQUAL(blkback_errno_status(0), BLKIF_RSP_OKAY);
    CU_ASSERT_EQUAL(blkback_errno_status(-EIO), BLKIF_RSP_ERROR);
    CU_ASSERT_EQUAL(blkback_errno_status(-EOPNOTSUPP), BLKIF_RSP_EOPNOTSUPP);
    CU_ASSERT_STRING_EQUAL(blkback_bad_str(BLKBACK_BAD_NR), "invalid reason");
}

static void test_response_bytes(void)
{
    unsigned char want[sizeof(blkif_response_t)];
    blkif_response_t rsp;
    int16_t status = BLKIF_RSP_ERROR;
    uint64_t id = TEST_ID;
    uint8_t op = BLKIF_OP_WRITE;

    memset(&rsp, 0xa5, sizeof(rsp)); /* stand-in for stack garbage */
    blkback_ring_response(&rsp, id, op, status);
    memset(want, 0, sizeof(want));
    memcpy(want + offsetof(blkif_response_t, id), &id, sizeof(id));
    memcpy(want + offsetof(blkif_response_t, operation), &op, sizeof(op));
    memcpy(want + offsetof(blkif_response_t, status), &status, sizeof(status));
    CU_ASSERT_EQUAL(memcmp(&rsp, want, sizeof(want)), 0);
    CU_ASSERT_EQUAL(sizeof(rsp), 16); /* padding exists and is zeroed */
}

int main(void)
{
    static const struct cutest tests[] = {
        {"read/write accepted, 512 and 4096", test_accept_rw},
        {"flush and barrier accepted", test_accept_flush_barrier},
        {"discard accepted", test_accept_discard},
        {"indirect 1/11/12/256 accepted", test_accept_indirect},
        {"unknown operations", test_bad_op},
        {"segment rules", test_bad_segments},
        {"range rules", test_bad_range},
        {"discard rules", test_bad_discard},
        {"read-only rules", test_readonly},
        {"features not offered", test_not_offered},
        {"indirect rules", test_bad_indirect},
        {"statuses and messages", test_status_and_strings},
        {"response bytes", test_response_bytes},
    };

    if (setup_geoms() != 0)
        return 1;
    return cutest_run("blkback_ring", tests, ARRAY_SIZE(tests));
}
