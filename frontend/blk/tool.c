/*
 * drvdom-blkfront: a sim-platform (or Xen guest) disk in a person's hands,
 * run as a frontend domain's program. See drvdom-blkfront(1).
 *
 *   drvdom-blkfront info    --devid D            geometry and features
 *   drvdom-blkfront verify  --devid D [--seed S] [--count N] [--discard]
 *   drvdom-blkfront rocheck --devid D            a read-only disk refuses
 *   drvdom-blkfront bench   --devid D --rw MODE --bs N --iodepth N ...
 *   drvdom-blkfront nbd     --devid D --unix SOCK
 *
 * verify writes random data of random sizes (direct and indirect requests)
 * at random places over every queue, checks random reads against a shadow
 * copy of the disk while it goes, then flushes and reads the whole disk
 * back: every acknowledged write must be there.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frontend/blk/tool.h"

/* verify keeps at most this many requests in flight per queue. */
#define BFT_BATCH 64

volatile sig_atomic_t bft_stop;

static void bft_on_signal(int sig)
{
    (void)sig;
    bft_stop = 1;
}

uint64_t bft_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bft_status(const struct bft_opts *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    FILE *f;

    if (!o->status)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", o->status);
    f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "pid %ld\n", (long)getpid());
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (fclose(f) == 0)
        rename(tmp, o->status);
}

/* xorshift64*: the verifier's deterministic data and positions. */
static uint64_t bft_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static int bft_info(struct blkfront *bf)
{
    const struct blkfront_info *in = blkfront_info(bf);

    printf("device %s\nsize %" PRIu64 "\nsector-size %u\n"
           "physical-sector-size %u\nreadonly %d\nflush %d\ndiscard %d\n"
           "queues %u\nring-order %u\ndepth %u\nmax-io %u\nmax-indirect %u\n"
           "persistent %d\n",
           blkfront_name(bf), in->size, in->sector_size,
           in->physical_sector_size, in->readonly, in->flush, in->discard,
           in->queues, in->ring_order, in->depth, in->max_io, in->max_indirect,
           in->persistent);
    return 0;
}

/* The verifier: the disk's expected content and the requests in flight. */
struct bft_verify {
    struct blkfront *bf;        /* device */
    const struct bft_opts *o;   /* options */
    uint8_t *shadow;            /* what every acknowledged write left */
    uint64_t size;              /* disk bytes */
    uint32_t ss;                /* sector size */
    uint64_t rng;               /* random state */
    struct blkfront_req **fly;  /* requests in flight */
    unsigned int nfly;          /* entries in fly */
    unsigned long done, errors; /* completed operations, failures */
    unsigned long writes;       /* completed writes */
};

/* True when [off, off+len) overlaps a request in flight that matters. */
static bool bft_busy(const struct bft_verify *v, bool write, uint64_t off,
                     uint32_t len)
{
    const struct blkfront_req *r;
    unsigned int i;

    for (i = 0; i < v->nfly; i++) {
        r = v->fly[i];
        if (!write && r->op != BLKFRONT_OP_WRITE)
            continue;
        if (off < r->offset + r->len && r->offset < off + len)
            return true;
    }
    return false;
}

/* A random sector-aligned extent: mostly small, a quarter of max_io. */
static void bft_extent(struct bft_verify *v, uint64_t *off, uint32_t *len)
{
    uint32_t max = blkfront_info(v->bf)->max_io, n;
    uint64_t r = bft_rand(&v->rng);

    n = (uint32_t)(r % 4 == 0 ? max : (r >> 8) % (64 * 1024) + 1);
    if (n > max)
        n = max;
    n = (n + v->ss - 1) / v->ss * v->ss;
    if (n > v->size)
        n = (uint32_t)v->size;
    *len = n;
    *off = (bft_rand(&v->rng) % ((v->size - n) / v->ss + 1)) * v->ss;
}

/* Submits one random read or write on queue q; false when none fits. */
static bool bft_issue(struct bft_verify *v, unsigned int q)
{
    bool write = bft_rand(&v->rng) % 5 < 3;
    struct blkfront_req *r;
    uint64_t off, *p;
    uint32_t len, i;

    bft_extent(v, &off, &len);
    if (bft_busy(v, write, off, len))
        return false;
    r = blkfront_req_get(v->bf, q);
    if (!r)
        return false;
    r->op = write ? BLKFRONT_OP_WRITE : BLKFRONT_OP_READ;
    r->offset = off;
    r->len = len;
    for (i = 0, p = r->buf; write && i < len / 8; i++)
        p[i] = bft_rand(&v->rng);
    if (blkfront_submit(v->bf, r)) {
        blkfront_req_put(v->bf, r);
        v->errors++;
        return false;
    }
    v->fly[v->nfly++] = r;
    return true;
}

/* A completed request: update or check the shadow. */
static void bft_complete(struct bft_verify *v, struct blkfront_req *r)
{
    unsigned int i;

    for (i = 0; i < v->nfly && v->fly[i] != r; i++)
        ;
    if (i < v->nfly)
        v->fly[i] = v->fly[--v->nfly];
    if (r->status) {
        fprintf(stderr, "verify: %s at %" PRIu64 "+%u: %s\n",
                r->op == BLKFRONT_OP_WRITE ? "write" : "read", r->offset,
                r->len, strerror(-r->status));
        v->errors++;
    } else if (r->op == BLKFRONT_OP_WRITE) {
        memcpy(v->shadow + r->offset, r->buf, r->len);
        v->writes++;
    } else if (memcmp(v->shadow + r->offset, r->buf, r->len)) {
        fprintf(stderr, "verify: read at %" PRIu64 "+%u differs\n", r->offset,
                r->len);
        v->errors++;
    }
    v->done++;
    blkfront_req_put(v->bf, r);
}

static void bft_verify_status(const struct bft_verify *v, const char *state)
{
    bft_status(v->o, "state %s\ndone %lu\nwrites %lu\nerrors %lu\n", state,
               v->done, v->writes, v->errors);
}

/* Random traffic over every queue until count or SIGTERM. */
static int bft_traffic(struct bft_verify *v)
{
    const struct blkfront_info *in = blkfront_info(v->bf);
    struct blkfront_req *done[BFT_BATCH];
    unsigned long issued = 0, last = 0;
    unsigned int q = 0;
    int n, i, tries;

    for (;;) {
        bool more = !bft_stop && (!v->o->count || issued < v->o->count);

        for (tries = 0;
             more && tries < 8 && issued - v->done < in->depth * in->queues;
             tries++) {
            if (bft_issue(v, q))
                issued++;
            q = (q + 1) % in->queues;
        }
        if (!more && !v->nfly)
            return 0;
        n = blkfront_wait(v->bf, done, BFT_BATCH, 30000);
        if (n < 0)
            return n;
        if (n == 0 && v->nfly)
            return -ETIMEDOUT;
        for (i = 0; i < n; i++)
            bft_complete(v, done[i]);
        if (v->done - last >= 500) {
            last = v->done;
            bft_verify_status(v, "running");
        }
    }
}

/* Discards an aligned range and expects it to read back as zeroes. */
static int bft_discard_check(struct bft_verify *v)
{
    uint64_t unit = 64 * 1024, off, len;
    uint8_t *buf;
    int ret;

    if (!blkfront_info(v->bf)->discard || v->size < 4 * unit)
        return -EOPNOTSUPP;
    off = (bft_rand(&v->rng) % (v->size / unit - 2)) * unit;
    len = 2 * unit;
    ret = blkfront_discard(v->bf, len, off);
    if (ret)
        return ret;
    buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    ret = blkfront_pread(v->bf, buf, len, off);
    memset(v->shadow + off, 0, len);
    if (!ret && memcmp(buf, v->shadow + off, len))
        ret = -EILSEQ;
    free(buf);
    return ret;
}

/* Flush, then the whole disk must equal the shadow. */
static int bft_final_check(struct bft_verify *v)
{
    uint8_t *buf = malloc(v->size);
    uint64_t i;
    int ret;

    if (!buf)
        return -ENOMEM;
    ret = blkfront_flush(v->bf);
    if (!ret)
        ret = blkfront_pread(v->bf, buf, v->size, 0);
    for (i = 0; !ret && i < v->size; i += v->ss)
        if (memcmp(buf + i, v->shadow + i, v->ss)) {
            fprintf(stderr, "verify: sector at byte %" PRIu64 " differs\n", i);
            ret = -EILSEQ;
        }
    free(buf);
    return ret;
}

static int bft_verify(struct blkfront *bf, const struct bft_opts *o)
{
    const struct blkfront_info *in = blkfront_info(bf);
    struct bft_verify v = {
        .bf = bf, .o = o, .size = in->size, .ss = in->sector_size};
    int ret;

    v.rng = o->seed ? o->seed : 0x9E3779B97F4A7C15ull;
    v.shadow = malloc(v.size);
    v.fly = calloc((size_t)in->queues * in->depth, sizeof(*v.fly));
    ret = v.shadow && v.fly ? blkfront_pread(bf, v.shadow, v.size, 0) : -ENOMEM;
    if (!ret) {
        bft_verify_status(&v, "running");
        ret = bft_traffic(&v);
    }
    if (!ret && o->discard)
        ret = bft_discard_check(&v);
    if (!ret)
        ret = bft_final_check(&v);
    if (ret)
        fprintf(stderr, "verify: %s\n", strerror(-ret));
    bft_verify_status(&v, ret || v.errors ? "failed" : "verified");
    free(v.fly);
    free(v.shadow);
    return ret || v.errors ? 1 : 0;
}

/* A read-only disk: reads work, the backend refuses writes and flushes. */
static int bft_rocheck(struct blkfront *bf, const struct bft_opts *o)
{
    const struct blkfront_info *in = blkfront_info(bf);
    uint8_t buf[4096];
    int rd, wr, fl, bad;

    rd = blkfront_pread(bf, buf, sizeof(buf), 0);
    wr = blkfront_pwrite(bf, buf, sizeof(buf), 0);
    fl = in->flush ? blkfront_flush(bf) : -EIO;
    bad = !in->readonly || rd || (wr != -EIO && wr != -EOPNOTSUPP) ||
          (fl != -EIO && fl != -EOPNOTSUPP);
    printf("readonly %d read %d write %d flush %d\n", in->readonly, rd, wr, fl);
    bft_status(o, "state %s\nreadonly %d\nread %d\nwrite %d\nflush %d\n",
               bad ? "failed" : "refused", in->readonly, rd, wr, fl);
    return bad;
}

/* "4k", "1M", "64m", "2G" or plain bytes; 0 on garbage. */
static uint64_t bft_size(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 10);

    switch (*end) {
    case 'k':
    case 'K':
        return v << 10;
    case 'm':
    case 'M':
        return v << 20;
    case 'g':
    case 'G':
        return v << 30;
    case '\0':
        return v;
    default:
        return 0;
    }
}

static const struct option bft_longopts[] = {
    {"devid", required_argument, NULL, 'd'},
    {"queues", required_argument, NULL, 'q'},
    {"order", required_argument, NULL, 'o'},
    {"depth", required_argument, NULL, 'D'},
    {"max-io", required_argument, NULL, 'm'},
    {"no-persistent", no_argument, NULL, 'P'},
    {"no-indirect", no_argument, NULL, 'I'},
    {"status", required_argument, NULL, 's'},
    {"seed", required_argument, NULL, 'S'},
    {"count", required_argument, NULL, 'c'},
    {"discard", no_argument, NULL, 'x'},
    {"rw", required_argument, NULL, 'r'},
    {"bs", required_argument, NULL, 'b'},
    {"iodepth", required_argument, NULL, 'i'},
    {"size", required_argument, NULL, 'z'},
    {"runtime", required_argument, NULL, 't'},
    {"poll-us", required_argument, NULL, 'p'},
    {"unix", required_argument, NULL, 'u'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bft_parse(struct bft_opts *o, int argc, char **argv)
{
    int c;

    o->devid = 51712;
    o->count = 2000;
    o->rw = "randread";
    o->bs = 4096;
    o->iodepth = 1;
    o->runtime = 5;
    while ((c = getopt_long(argc, argv, "", bft_longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->devid = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'q':
            o->bo.queues = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'o':
            o->bo.ring_order = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'D':
            o->bo.queue_depth = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'm':
            o->bo.max_io = (unsigned int)bft_size(optarg);
            break;
        case 'P':
            o->bo.no_persistent = true;
            break;
        case 'I':
            o->bo.no_indirect = true;
            break;
        case 's':
            o->status = optarg;
            break;
        case 'S':
            o->seed = strtoul(optarg, NULL, 0);
            break;
        case 'c':
            o->count = strtoul(optarg, NULL, 0);
            break;
        case 'x':
            o->discard = true;
            break;
        case 'r':
            o->rw = optarg;
            break;
        case 'b':
            o->bs = bft_size(optarg);
            break;
        case 'i':
            o->iodepth = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'z':
            o->size = bft_size(optarg);
            break;
        case 't':
            o->runtime = strtod(optarg, NULL);
            break;
        case 'p': /* 0: no adaptive poll (the default) */
            o->bo.poll_us = (int)strtol(optarg, NULL, 0);
            break;
        case 'u':
            o->sock = optarg;
            break;
        default:
            return -EINVAL;
        }
    }
    return optind == argc - 1 ? 0 : -EINVAL;
}

static void bft_usage(void)
{
    fprintf(stderr,
            "usage: drvdom-blkfront info|verify|rocheck|bench|nbd [options]\n"
            "  --devid D --queues N --order O --depth N --max-io BYTES\n"
            "  --no-persistent --no-indirect --poll-us N --status FILE\n"
            "  verify: --seed S --count N (0: until SIGTERM) --discard\n"
            "  bench: --rw read|write|randread|randwrite --bs N --iodepth N\n"
            "         --size BYTES --runtime SECONDS\n"
            "  nbd: --unix SOCKET\n"
            "See drvdom-blkfront(1).\n");
}

int main(int argc, char **argv)
{
    struct bft_opts o = {0};
    struct blkfront *bf;
    const char *cmd;
    int ret;

    if (bft_parse(&o, argc, argv)) {
        bft_usage();
        return 2;
    }
    cmd = argv[optind];
    if (strcmp(cmd, "info") && strcmp(cmd, "verify") &&
        strcmp(cmd, "rocheck") && strcmp(cmd, "bench") && strcmp(cmd, "nbd")) {
        bft_usage();
        return 2;
    }
    signal(SIGTERM, bft_on_signal);
    signal(SIGINT, bft_on_signal);
    signal(SIGPIPE, SIG_IGN);
    o.bo.ignore_readonly = !strcmp(cmd, "rocheck");
    if (!strcmp(cmd, "bench") && !o.bo.max_io && o.bs > BLKFRONT_DEFAULT_MAX_IO)
        o.bo.max_io = (unsigned int)o.bs;
    ret = blkfront_open(&bf, o.devid, &o.bo);
    if (ret) {
        bft_status(&o, "state failed\nerror %d\n", ret);
        return 1;
    }
    bft_status(&o, "state connected\n");
    if (!strcmp(cmd, "info"))
        ret = bft_info(bf);
    else if (!strcmp(cmd, "verify"))
        ret = bft_verify(bf, &o);
    else if (!strcmp(cmd, "rocheck"))
        ret = bft_rocheck(bf, &o);
    else if (!strcmp(cmd, "bench"))
        ret = bft_bench(bf, &o);
    else
        ret = bft_nbd(bf, &o);
    blkfront_close(bf);
    return ret ? 1 : 0;
}
