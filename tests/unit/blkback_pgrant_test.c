/*
 * blkback_pgrant_test.c - unit tests of the persistent-grant cache
 * (pgrant.c): lookups, the bound, LRU eviction order, grants in use never
 * evicted, idle expiry, and the batched unmap callback.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#include "backend/blk/blkback-internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What the unmap callback was given, in order. */
static struct {
    unsigned calls;          /* callback invocations */
    unsigned total;          /* grants unmapped */
    unsigned max_batch;      /* largest batch seen */
    grant_ref_t grefs[4096]; /* every gref unmapped */
    bool addr_mismatch;      /* an addr was not fake_addr(gref) */
} unmapped;

/* A recognisable fake mapping address per gref (never dereferenced). */
static void *fake_addr(grant_ref_t gref)
{
    return (void *)(uintptr_t)(0x100000u + (uintptr_t)gref * 4096u);
}

static void record_unmap(void *opaque, const grant_ref_t *grefs,
                         void *const *addrs, unsigned n)
{
    unsigned i;

    CU_ASSERT_PTR_EQUAL(opaque, &unmapped);
    unmapped.calls++;
    if (n > unmapped.max_batch)
        unmapped.max_batch = n;
    for (i = 0; i < n; i++) {
        if (addrs[i] != fake_addr(grefs[i]))
            unmapped.addr_mismatch = true;
        if (unmapped.total < ARRAY_SIZE(unmapped.grefs))
            unmapped.grefs[unmapped.total] = grefs[i];
        unmapped.total++;
    }
}

static void reset_unmapped(void)
{
    memset(&unmapped, 0, sizeof(unmapped));
}

/* A cache of max grants 1..n, all added and released at times 1..n. */
static void fill(struct blkback_pgrant_cache *c, uint32_t max, unsigned n)
{
    unsigned g;

    reset_unmapped();
    CU_ASSERT_EQUAL_FATAL(blkback_pgrant_init(c, max, record_unmap, &unmapped),
                          0);
    for (g = 1; g <= n; g++) {
        CU_ASSERT_EQUAL(blkback_pgrant_add(c, g, fake_addr(g)), 0);
        CU_ASSERT_EQUAL(blkback_pgrant_put(c, g, g), 0);
    }
}

static void test_init_args(void)
{
    struct blkback_pgrant_cache c;

    CU_ASSERT_EQUAL(blkback_pgrant_init(&c, 0, record_unmap, NULL), -EINVAL);
    blkback_pgrant_destroy(&c);
    CU_ASSERT_EQUAL(blkback_pgrant_init(&c, 8, NULL, NULL), -EINVAL);
    blkback_pgrant_destroy(&c);
}

static void test_lookup(void)
{
    struct blkback_pgrant_cache c;

    reset_unmapped();
    CU_ASSERT_EQUAL_FATAL(blkback_pgrant_init(&c, 8, record_unmap, &unmapped),
                          0);
    CU_ASSERT_PTR_NULL(blkback_pgrant_get(&c, 5));
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 5, fake_addr(5)), 0);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 5, fake_addr(5)), -EEXIST);
    /* Two users of one grant (two segments on one page). */
    CU_ASSERT_PTR_EQUAL(blkback_pgrant_get(&c, 5), fake_addr(5));
    CU_ASSERT_EQUAL(blkback_pgrant_put(&c, 5, 1), 0);
    CU_ASSERT_EQUAL(blkback_pgrant_put(&c, 5, 1), 0);
    CU_ASSERT_EQUAL(blkback_pgrant_put(&c, 5, 1), -EINVAL);
    CU_ASSERT_EQUAL(blkback_pgrant_put(&c, 6, 1), -ENOENT);
    /* Colliding grefs (same low bits) stay apart. */
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 5 + 1024, fake_addr(5 + 1024)), 0);
    CU_ASSERT_PTR_EQUAL(blkback_pgrant_get(&c, 5), fake_addr(5));
    CU_ASSERT_PTR_EQUAL(blkback_pgrant_get(&c, 5 + 1024), fake_addr(5 + 1024));
    CU_ASSERT_EQUAL(c.count, 2);
    blkback_pgrant_destroy(&c);
    /* Destroy unmaps everything, in use or not, exactly once. */
    CU_ASSERT_EQUAL(unmapped.total, 2);
    CU_ASSERT_FALSE(unmapped.addr_mismatch);
    blkback_pgrant_destroy(&c);
    CU_ASSERT_EQUAL(unmapped.total, 2);
}

static void test_bound(void)
{
    struct blkback_pgrant_cache c;

    fill(&c, 16, 16);
    CU_ASSERT_EQUAL(c.count, 16);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 99, fake_addr(99)), -ENOSPC);
    CU_ASSERT_TRUE(c.overflow);
    /* Nothing is unmapped until the purge. */
    CU_ASSERT_EQUAL(unmapped.total, 0);
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 100, 0), 1);
    CU_ASSERT_FALSE(c.overflow);
    CU_ASSERT_EQUAL(c.count, 15);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 99, fake_addr(99)), 0);
    /* No overflow, no idle limit: a purge leaves the cache alone. */
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 1000, 0), 0);
    CU_ASSERT_EQUAL(c.count, 16);
    blkback_pgrant_destroy(&c);
    CU_ASSERT_EQUAL(unmapped.total, 17);
}

static void test_lru_order(void)
{
    struct blkback_pgrant_cache c;
    static const grant_ref_t want[] = {2, 3, 4, 6, 7};
    unsigned i;

    fill(&c, 100, 100);
    /* 1 and 5 used again: they become the most recent. */
    CU_ASSERT_PTR_EQUAL(blkback_pgrant_get(&c, 1), fake_addr(1));
    CU_ASSERT_PTR_EQUAL(blkback_pgrant_get(&c, 5), fake_addr(5));
    CU_ASSERT_EQUAL(blkback_pgrant_put(&c, 5, 101), 0);
    CU_ASSERT_EQUAL(blkback_pgrant_put(&c, 1, 102), 0);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 200, fake_addr(200)), -ENOSPC);
    /* 5% of 100: the five least recently used go. */
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 103, 0), 5);
    CU_ASSERT_EQUAL(unmapped.total, 5);
    for (i = 0; i < ARRAY_SIZE(want); i++)
        CU_ASSERT_EQUAL(unmapped.grefs[i], want[i]);
    CU_ASSERT_PTR_NOT_NULL(blkback_pgrant_get(&c, 1));
    CU_ASSERT_PTR_NOT_NULL(blkback_pgrant_get(&c, 5));
    CU_ASSERT_PTR_NULL(blkback_pgrant_get(&c, 2));
    CU_ASSERT_EQUAL(c.count, 95);
    blkback_pgrant_destroy(&c);
    CU_ASSERT_FALSE(unmapped.addr_mismatch);
}

static void test_in_use_pinned(void)
{
    struct blkback_pgrant_cache c;
    unsigned g;

    fill(&c, 40, 40);
    /* Everything but 39 and 40 in use. */
    for (g = 1; g <= 38; g++)
        CU_ASSERT_PTR_NOT_NULL(blkback_pgrant_get(&c, g));
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 41, fake_addr(41)), -ENOSPC);
    /* 5% of 40 rounds to 0, so one: the least recent unused, 39. */
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 50, 0), 1);
    CU_ASSERT_EQUAL(unmapped.grefs[0], 39);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 41, fake_addr(41)), 0);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 42, fake_addr(42)), -ENOSPC);
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 60, 0), 1);
    CU_ASSERT_EQUAL(unmapped.grefs[1], 40);
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 42, fake_addr(42)), 0);
    /* Now all 40 in use: an overflowing purge unmaps nothing. */
    CU_ASSERT_EQUAL(blkback_pgrant_add(&c, 43, fake_addr(43)), -ENOSPC);
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 70, 1), 0);
    CU_ASSERT_EQUAL(unmapped.total, 2);
    CU_ASSERT_EQUAL(c.count, 40);
    for (g = 1; g <= 38; g++)
        CU_ASSERT_PTR_EQUAL(blkback_pgrant_get(&c, g), fake_addr(g));
    blkback_pgrant_destroy(&c);
    CU_ASSERT_EQUAL(unmapped.total, 42);
}

static void test_idle_expiry(void)
{
    struct blkback_pgrant_cache c;

    fill(&c, 64, 50); /* grant g last used at time g */
    CU_ASSERT_PTR_NOT_NULL(blkback_pgrant_get(&c, 3)); /* in use: stays */
    /* At 100 with idle 60: unused since before 40 goes, i.e. 1..39. */
    CU_ASSERT_EQUAL(blkback_pgrant_purge(&c, 100, 60), 38);
    CU_ASSERT_EQUAL(unmapped.grefs[0], 1);
    CU_ASSERT_EQUAL(unmapped.grefs[1], 2);
    CU_ASSERT_EQUAL(unmapped.grefs[2], 4);
    CU_ASSERT_EQUAL(unmapped.grefs[37], 39);
    /* Batches of BLKBACK_PGRANT_BATCH at most. */
    CU_ASSERT_EQUAL(unmapped.calls, 2);
    CU_ASSERT_EQUAL(unmapped.max_batch, BLKBACK_PGRANT_BATCH);
    CU_ASSERT_EQUAL(c.count, 12);
    CU_ASSERT_PTR_NOT_NULL(blkback_pgrant_get(&c, 40));
    blkback_pgrant_destroy(&c);
    CU_ASSERT_EQUAL(unmapped.total, 50);
}

static void test_churn(void)
{
    struct blkback_pgrant_cache c;
    unsigned round, g, mapped = 0;

    reset_unmapped();
    CU_ASSERT_EQUAL_FATAL(blkback_pgrant_init(&c, 256, record_unmap, &unmapped),
                          0);
    /* A frontend cycling through 300 grants: the cache stays bounded and
     * every grant mapped is unmapped exactly once in the end. */
    for (round = 0; round < 20; round++) {
        for (g = 0; g < 300; g++) {
            grant_ref_t gref = (round * 7 + g) % 300;

            if (blkback_pgrant_get(&c, gref) == NULL) {
                if (blkback_pgrant_add(&c, gref, fake_addr(gref)) < 0)
                    continue; /* mapped for one request only */
                mapped++;
            }
            CU_ASSERT_EQUAL(blkback_pgrant_put(&c, gref, round * 300 + g), 0);
        }
        blkback_pgrant_purge(&c, round * 300 + 300, 0);
        CU_ASSERT(c.count <= 256);
    }
    blkback_pgrant_destroy(&c);
    CU_ASSERT_EQUAL(unmapped.total, mapped);
    CU_ASSERT_FALSE(unmapped.addr_mismatch);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"init arguments", test_init_args},
        {"lookup, add, put", test_lookup},
        {"bound and overflow purge", test_bound},
        {"LRU order", test_lru_order},
        {"grants in use are pinned", test_in_use_pinned},
        {"idle expiry and batches", test_idle_expiry},
        {"churn stays bounded", test_churn},
    };

    return cutest_run("blkback_pgrant", tests, ARRAY_SIZE(tests));
}
