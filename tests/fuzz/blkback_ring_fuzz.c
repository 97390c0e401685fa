/*
 * blkback_ring_fuzz.c - libFuzzer target: a hostile frontend's blkif
 * requests against blkback's validation (backend/blk/ring.c). The input is
 * a disk geometry, one request as it was copied off the ring and, for an
 * indirect request, the segments copied out of its indirect pages. Beyond
 * memory errors (ASan, UBSan), every request that is accepted must be one
 * the engine can do without another check: each segment inside its page
 * and whole logical sectors, the segments adding up to the request's
 * length, the range inside the disk, nothing but reads on a read-only
 * disk, no feature that was not advertised. A broken rule aborts.
 *
 * Input: [geometry: 16 bytes][blkif_request_t][indirect segments...]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/blk/blkback-internal.h"

/* The geometry the first 16 bytes choose: any size, both sector sizes. */
static void fz_geom(const uint8_t *d, struct blkback_geom *g)
{
    uint64_t sectors;

    memcpy(&sectors, d, sizeof(sectors));
    memset(g, 0, sizeof(*g));
    g->sector_size = d[8] & 1 ? 4096 : 512;
    /* Whole logical sectors, as io.c opens them. */
    g->nr_sectors = sectors & ~(uint64_t)((g->sector_size >> 9) - 1);
    g->readonly = d[9] & 1;
    g->flush = d[9] & 2;
    g->barrier = d[9] & 4;
    g->discard = d[9] & 8;
    g->discard_secure = d[9] & 16;
    g->max_indirect = d[10] & 1 ? 0 : (uint32_t)(d[11] | d[12] << 8);
}

static void fz_check(bool ok)
{
    if (!ok)
        abort();
}

/* An accepted request's data segments and range. */
static void fz_check_data(const struct blkback_req *r,
                          const struct blkback_geom *g,
                          const struct blkback_seg *segs)
{
    uint64_t bytes = 0;
    unsigned i;

    for (i = 0; i < r->nr_segs; i++) {
        fz_check(segs[i].len > 0);
        fz_check(segs[i].offset + segs[i].len <= BLKBACK_PAGE_SIZE);
        fz_check(segs[i].offset % g->sector_size == 0);
        fz_check(segs[i].len % g->sector_size == 0);
        bytes += segs[i].len;
    }
    fz_check(bytes == r->bytes);
}

static void fz_check_range(const struct blkback_req *r,
                           const struct blkback_geom *g)
{
    fz_check(r->offset == r->sector * 512);
    fz_check(r->bytes == r->nr_sectors * 512);
    fz_check(r->sector + r->nr_sectors >= r->sector);
    fz_check(r->sector + r->nr_sectors <= g->nr_sectors);
    fz_check(r->offset % g->sector_size == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct blkback_seg segs[BLKBACK_MAX_SEGS];
    static struct blkif_request_segment raw[BLKBACK_MAX_SEGS];
    struct blkback_geom g;
    blkif_request_t copy;
    struct blkback_req r;
    enum blkback_bad bad;
    size_t rest;

    if (size < 16 + sizeof(copy))
        return 0;
    fz_geom(data, &g);
    memcpy(&copy, data + 16, sizeof(copy));
    bad = blkback_ring_parse(&copy, &g, &r, segs);
    fz_check(bad < BLKBACK_BAD_NR);
    fz_check(r.id == copy.id);
    fz_check(blkback_bad_str(bad) != NULL);
    if (bad != BLKBACK_OK)
        return 0;
    fz_check(!g.readonly || r.op == BLKIF_OP_READ);
    switch (copy.operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        fz_check(r.nr_segs >= 1 && r.nr_segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
        fz_check_data(&r, &g, segs);
        fz_check_range(&r, &g);
        return 0;
    case BLKIF_OP_FLUSH_DISKCACHE:
    case BLKIF_OP_WRITE_BARRIER:
        fz_check(copy.operation == BLKIF_OP_WRITE_BARRIER ? g.barrier
                                                          : g.flush);
        fz_check(r.nr_segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
        if (r.nr_segs > 0) {
            fz_check_data(&r, &g, segs);
            fz_check_range(&r, &g);
        }
        return 0;
    case BLKIF_OP_DISCARD:
        fz_check(g.discard && (!r.secure || g.discard_secure));
        fz_check(r.nr_sectors % (g.sector_size / 512) == 0);
        fz_check_range(&r, &g);
        return 0;
    case BLKIF_OP_INDIRECT:
        break;
    default:
        fz_check(false); /* an unknown operation was accepted */
    }
    fz_check(r.indirect && g.max_indirect > 0);
    fz_check(r.op == BLKIF_OP_READ || r.op == BLKIF_OP_WRITE);
    fz_check(r.nr_segs >= 1 && r.nr_segs <= g.max_indirect &&
             r.nr_segs <= BLKBACK_MAX_INDIRECT_SEGS);
    fz_check(r.nr_indirect == blkback_indirect_pages(r.nr_segs) &&
             r.nr_indirect <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
    rest = size - 16 - sizeof(copy);
    if (rest > r.nr_segs * sizeof(raw[0]))
        rest = r.nr_segs * sizeof(raw[0]);
    memset(raw, 0, sizeof(raw));
    memcpy(raw, data + 16 + sizeof(copy), rest);
    if (blkback_ring_parse_indirect(&r, &g, raw, segs) != BLKBACK_OK)
        return 0;
    fz_check_data(&r, &g, segs);
    fz_check_range(&r, &g);
    return 0;
}
