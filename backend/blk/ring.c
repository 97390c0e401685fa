/*
 * ring.c - blkif request validation and response construction.
 *
 * Pure functions, no I/O and no allocation: the worker copies a request out
 * of the shared ring (never reading the slot again), and blkback_ring_parse()
 * turns that private copy into a struct blkback_req, or says why it cannot.
 * An INDIRECT request is parsed in two steps: the header here, then, once
 * the worker has mapped the indirect pages and copied the segments out of
 * them, blkback_ring_parse_indirect() validates that copy.
 *
 * One validation function per request type, one reason per check. The
 * rules follow Linux xen-blkback (dispatch_rw_block_io, xen_vbd_translate,
 * dispatch_discard_io): sector quantities are 512-byte units, segments must
 * stay inside their page, the range must not wrap 64 bits nor pass the end
 * of the disk, and with 4096-byte logical sectors the start sector and
 * every segment must be whole logical sectors.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "backend/blk/blkback-internal.h"

/* The id sits at the same offset in every request layout. */
_Static_assert(offsetof(blkif_request_t, id) ==
                   offsetof(blkif_request_discard_t, id),
               "discard id offset");
_Static_assert(offsetof(blkif_request_t, id) ==
                   offsetof(blkif_request_indirect_t, id),
               "indirect id offset");
_Static_assert(sizeof(blkif_request_discard_t) <= sizeof(blkif_request_t),
               "discard layout fits a ring slot");
_Static_assert(sizeof(blkif_request_indirect_t) <= sizeof(blkif_request_t),
               "indirect layout fits a ring slot");
_Static_assert(BLKBACK_MAX_INDIRECT_SEGS <=
                   BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
                       BLKBACK_SEGS_PER_INDIRECT_PAGE,
               "indirect segments fit the indirect pages");

static const char *const blkback_bad_msgs[BLKBACK_BAD_NR] = {
    [BLKBACK_OK] = "accepted",
    [BLKBACK_BAD_OP] = "unknown or reserved operation",
    [BLKBACK_BAD_NSEG_ZERO] = "read/write request without segments",
    [BLKBACK_BAD_NSEG_MAX] = "too many segments for the request type",
    [BLKBACK_BAD_LAST_SECT] = "segment last_sect beyond the page",
    [BLKBACK_BAD_SECT_ORDER] = "segment last_sect before first_sect",
    [BLKBACK_BAD_SEG_ALIGN] = "segment not whole logical sectors",
    [BLKBACK_BAD_ALIGN] = "start sector not on a logical sector boundary",
    [BLKBACK_BAD_LEN_ALIGN] = "discard length not whole logical sectors",
    [BLKBACK_BAD_WRAP] = "sector range wraps around 64 bits",
    [BLKBACK_BAD_RANGE] = "sector range beyond the end of the disk",
    [BLKBACK_BAD_READONLY] = "write, flush or discard on a read-only disk",
    [BLKBACK_BAD_NO_FLUSH] = "flush requested but not advertised",
    [BLKBACK_BAD_NO_BARRIER] = "barrier requested but not advertised",
    [BLKBACK_BAD_NO_DISCARD] = "discard requested but not advertised",
    [BLKBACK_BAD_NO_SECURE] = "secure discard requested but not advertised",
    [BLKBACK_BAD_DISCARD_OVERFLOW] = "discard length overflows 64 bits",
    [BLKBACK_BAD_NO_INDIRECT] = "indirect request but not advertised",
    [BLKBACK_BAD_INDIRECT_OP] = "indirect operation neither read nor write",
};

/* Human-readable reason, for the worker's log. */
const char *blkback_bad_str(enum blkback_bad bad)
{
    if ((unsigned)bad >= BLKBACK_BAD_NR)
        return "invalid reason";
    return blkback_bad_msgs[bad];
}

/*
 * The status a refused request gets: EOPNOTSUPP for what this device does
 * not offer (Linux answers unknown operations and unsupported flush,
 * barrier and discard so, and blkfront then turns the feature off), ERROR
 * for a malformed request.
 */
int16_t blkback_bad_status(enum blkback_bad bad)
{
    switch (bad) {
    case BLKBACK_OK:
        return BLKIF_RSP_OKAY;
    case BLKBACK_BAD_OP:
    case BLKBACK_BAD_NO_FLUSH:
    case BLKBACK_BAD_NO_BARRIER:
    case BLKBACK_BAD_NO_DISCARD:
    case BLKBACK_BAD_NO_SECURE:
    case BLKBACK_BAD_NO_INDIRECT:
        return BLKIF_RSP_EOPNOTSUPP;
    default:
        return BLKIF_RSP_ERROR;
    }
}

/* The status of a request the engine finished with err (0 or -errno). */
int16_t blkback_errno_status(int err)
{
    if (err == 0)
        return BLKIF_RSP_OKAY;
    if (err == -EOPNOTSUPP)
        return BLKIF_RSP_EOPNOTSUPP;
    return BLKIF_RSP_ERROR;
}

/*
 * The operation a response to this request carries: an indirect request is
 * answered with its indirect_op, as Linux blkback does and blkfront checks.
 */
uint8_t blkback_ring_rsp_op(const blkif_request_t *copy)
{
    blkif_request_indirect_t ind;

    if (copy->operation != BLKIF_OP_INDIRECT)
        return copy->operation;
    memcpy(&ind, copy, sizeof(ind));
    return ind.indirect_op;
}

/* Fill a response; every byte, padding included, is defined. */
void blkback_ring_response(blkif_response_t *rsp, uint64_t id, uint8_t op,
                           int16_t status)
{
    memset(rsp, 0, sizeof(*rsp));
    rsp->id = id;
    rsp->operation = op;
    rsp->status = status;
}

/* 512-byte sectors per logical sector, minus one: an alignment mask. */
static uint64_t blkback_lss_mask(const struct blkback_geom *geom)
{
    return (geom->sector_size >> BLKBACK_SECTOR_SHIFT) - 1;
}

/*
 * Validate n raw segments into segs[] and add up their sectors. The start
 * of each segment is aligned too, so that O_DIRECT buffers are.
 */
static enum blkback_bad
blkback_ring_check_segs(const struct blkif_request_segment *raw, unsigned n,
                        const struct blkback_geom *geom,
                        struct blkback_seg *segs, uint64_t *nr_sectors)
{
    uint64_t mask = blkback_lss_mask(geom);
    uint64_t total = 0;
    unsigned i;

    for (i = 0; i < n; i++) {
        uint8_t first = raw[i].first_sect, last = raw[i].last_sect;
        unsigned nsec;

        if (last >= BLKBACK_SECTORS_PER_PAGE)
            return BLKBACK_BAD_LAST_SECT;
        if (last < first)
            return BLKBACK_BAD_SECT_ORDER;
        nsec = last - first + 1u;
        if ((first | nsec) & mask)
            return BLKBACK_BAD_SEG_ALIGN;
        segs[i].gref = raw[i].gref;
        segs[i].offset = (uint32_t)first << BLKBACK_SECTOR_SHIFT;
        segs[i].len = nsec << BLKBACK_SECTOR_SHIFT;
        total += nsec;
    }
    *nr_sectors = total;
    return BLKBACK_OK;
}

/* The range [sector, sector + nr) must be aligned and inside the disk. */
static enum blkback_bad
blkback_ring_check_range(struct blkback_req *req,
                         const struct blkback_geom *geom)
{
    uint64_t end = req->sector + req->nr_sectors;

    if (req->sector & blkback_lss_mask(geom))
        return BLKBACK_BAD_ALIGN;
    if (end < req->sector)
        return BLKBACK_BAD_WRAP;
    if (end > geom->nr_sectors)
        return BLKBACK_BAD_RANGE;
    req->offset = req->sector << BLKBACK_SECTOR_SHIFT;
    req->bytes = req->nr_sectors << BLKBACK_SECTOR_SHIFT;
    return BLKBACK_OK;
}

/* The data part shared by READ, WRITE and flush/barrier with data. */
static enum blkback_bad blkback_ring_data(const blkif_request_t *copy,
                                          const struct blkback_geom *geom,
                                          struct blkback_req *req,
                                          struct blkback_seg *segs)
{
    enum blkback_bad bad;

    bad = blkback_ring_check_segs(copy->seg, copy->nr_segments, geom, segs,
                                  &req->nr_sectors);
    if (bad != BLKBACK_OK)
        return bad;
    req->nr_segs = copy->nr_segments;
    return blkback_ring_check_range(req, geom);
}

static enum blkback_bad blkback_ring_parse_rw(const blkif_request_t *copy,
                                              const struct blkback_geom *geom,
                                              struct blkback_req *req,
                                              struct blkback_seg *segs)
{
    if (copy->operation == BLKIF_OP_WRITE && geom->readonly)
        return BLKBACK_BAD_READONLY;
    if (copy->nr_segments == 0)
        return BLKBACK_BAD_NSEG_ZERO;
    if (copy->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        return BLKBACK_BAD_NSEG_MAX;
    return blkback_ring_data(copy, geom, req, segs);
}

/*
 * FLUSH_DISKCACHE and WRITE_BARRIER: without segments a pure flush; with
 * segments a flush followed by a write of that data (REQ_PREFLUSH in
 * Linux blkback, "presync" in QEMU).
 */
static enum blkback_bad
blkback_ring_parse_flush(const blkif_request_t *copy,
                         const struct blkback_geom *geom,
                         struct blkback_req *req, struct blkback_seg *segs)
{
    bool barrier = copy->operation == BLKIF_OP_WRITE_BARRIER;

    if (geom->readonly)
        return BLKBACK_BAD_READONLY;
    if (barrier && !geom->barrier)
        return BLKBACK_BAD_NO_BARRIER;
    if (!barrier && !geom->flush)
        return BLKBACK_BAD_NO_FLUSH;
    if (copy->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        return BLKBACK_BAD_NSEG_MAX;
    if (copy->nr_segments == 0)
        return BLKBACK_OK;
    return blkback_ring_data(copy, geom, req, segs);
}

static enum blkback_bad
blkback_ring_parse_discard(const blkif_request_t *copy,
                           const struct blkback_geom *geom,
                           struct blkback_req *req)
{
    blkif_request_discard_t d;

    memcpy(&d, copy, sizeof(d));
    if (geom->readonly)
        return BLKBACK_BAD_READONLY;
    if (!geom->discard)
        return BLKBACK_BAD_NO_DISCARD;
    req->secure = (d.flag & BLKIF_DISCARD_SECURE) != 0;
    if (req->secure && !geom->discard_secure)
        return BLKBACK_BAD_NO_SECURE;
    if (d.nr_sectors > (UINT64_MAX >> BLKBACK_SECTOR_SHIFT))
        return BLKBACK_BAD_DISCARD_OVERFLOW;
    if (d.nr_sectors & blkback_lss_mask(geom))
        return BLKBACK_BAD_LEN_ALIGN;
    req->sector = d.sector_number;
    req->nr_sectors = d.nr_sectors;
    return blkback_ring_check_range(req, geom);
}

/* The header of an INDIRECT request; segments come later. */
static enum blkback_bad
blkback_ring_parse_indirect_hdr(const blkif_request_t *copy,
                                const struct blkback_geom *geom,
                                struct blkback_req *req)
{
    blkif_request_indirect_t ind;

    memcpy(&ind, copy, sizeof(ind));
    if (geom->max_indirect == 0)
        return BLKBACK_BAD_NO_INDIRECT;
    if (ind.indirect_op != BLKIF_OP_READ && ind.indirect_op != BLKIF_OP_WRITE)
        return BLKBACK_BAD_INDIRECT_OP;
    if (ind.indirect_op == BLKIF_OP_WRITE && geom->readonly)
        return BLKBACK_BAD_READONLY;
    if (ind.nr_segments == 0)
        return BLKBACK_BAD_NSEG_ZERO;
    if (ind.nr_segments > geom->max_indirect ||
        ind.nr_segments > BLKBACK_MAX_INDIRECT_SEGS)
        return BLKBACK_BAD_NSEG_MAX;
    req->op = ind.indirect_op;
    req->indirect = true;
    req->nr_segs = ind.nr_segments;
    req->nr_indirect = (uint16_t)blkback_indirect_pages(ind.nr_segments);
    req->sector = ind.sector_number;
    memcpy(req->indirect_grefs, ind.indirect_grefs,
           req->nr_indirect * sizeof(grant_ref_t));
    return BLKBACK_OK;
}

/*
 * Parse the private copy of a request. segs must hold BLKIF_MAX_SEGMENTS_
 * PER_REQUEST entries (BLKBACK_MAX_SEGS if it will also be given to
 * blkback_ring_parse_indirect()); it is not touched for DISCARD. On BLKBACK_OK,
 * req describes the request; if req->indirect, its segments are still to be
 * validated. Whatever the verdict, req->id and req->rsp_op are what the
 * response must carry.
 */
enum blkback_bad blkback_ring_parse(const blkif_request_t *copy,
                                    const struct blkback_geom *geom,
                                    struct blkback_req *req,
                                    struct blkback_seg *segs)
{
    memset(req, 0, sizeof(*req));
    req->id = copy->id;
    req->op = copy->operation;
    req->rsp_op = blkback_ring_rsp_op(copy);
    req->sector = copy->sector_number;

    switch (copy->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        return blkback_ring_parse_rw(copy, geom, req, segs);
    case BLKIF_OP_FLUSH_DISKCACHE:
    case BLKIF_OP_WRITE_BARRIER:
        return blkback_ring_parse_flush(copy, geom, req, segs);
    case BLKIF_OP_DISCARD:
        return blkback_ring_parse_discard(copy, geom, req);
    case BLKIF_OP_INDIRECT:
        return blkback_ring_parse_indirect_hdr(copy, geom, req);
    default:
        return BLKBACK_BAD_OP;
    }
}

/*
 * Second step of an INDIRECT request: raw holds the req->nr_segs segments
 * the worker copied out of the indirect pages (a private copy: the guest
 * may still write to those pages). segs holds BLKBACK_MAX_SEGS entries.
 */
enum blkback_bad blkback_ring_parse_indirect(
    struct blkback_req *req, const struct blkback_geom *geom,
    const struct blkif_request_segment *raw, struct blkback_seg *segs)
{
    enum blkback_bad bad;

    bad = blkback_ring_check_segs(raw, req->nr_segs, geom, segs,
                                  &req->nr_sectors);
    if (bad != BLKBACK_OK)
        return bad;
    return blkback_ring_check_range(req, geom);
}
