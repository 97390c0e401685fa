/*
 * drvdom-blkfront bench: a fio-style workload on the device, for
 * tests/bench/blkbench. Keeps --iodepth requests of --bs bytes in flight
 * (spread over the queues) for --runtime seconds, sequential or random over
 * the first --size bytes, and prints IOPS, MB/s and the latency percentiles
 * (submit to reap) and the frontend's own CPU time per request (user +
 * system, the adaptive poll's spinning included) as one "key=value" line.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "frontend/blk/tool.h"

/* Latency samples kept (the rest only count in IOPS). */
#define BFT_MAX_SAMPLES (1u << 22)
#define BFT_REAP_BATCH  64

struct bft_bench {
    struct blkfront *bf;      /* device */
    const struct bft_opts *o; /* options */
    bool write, random;       /* the mode */
    uint64_t span;            /* bytes of the disk used */
    uint64_t next;            /* next sequential offset */
    uint64_t rng;             /* random state */
    uint32_t *lat;            /* latency samples, ns */
    uint64_t nlat;            /* samples taken */
    uint64_t ios;             /* completed requests */
    unsigned int q;           /* next queue */
    int err;                  /* first error */
};

static uint64_t bft_bench_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Submits one request; false when the queues are full. */
static bool bft_bench_issue(struct bft_bench *b)
{
    const struct blkfront_info *in = blkfront_info(b->bf);
    struct blkfront_req *r = blkfront_req_get(b->bf, b->q);
    int ret;

    if (!r)
        return false;
    b->q = (b->q + 1) % in->queues;
    r->op = b->write ? BLKFRONT_OP_WRITE : BLKFRONT_OP_READ;
    r->len = (uint32_t)b->o->bs;
    if (b->random) {
        r->offset = bft_bench_rand(&b->rng) % (b->span / b->o->bs) * b->o->bs;
    } else {
        r->offset = b->next;
        b->next = (b->next + b->o->bs) % (b->span / b->o->bs * b->o->bs);
    }
    r->arg = (void *)(uintptr_t)bft_now_ns();
    ret = blkfront_submit(b->bf, r);
    if (ret) {
        blkfront_req_put(b->bf, r);
        b->err = ret;
        return false;
    }
    return true;
}

static void bft_bench_done(struct bft_bench *b, struct blkfront_req *r,
                           uint64_t now)
{
    uint64_t t = now - (uint64_t)(uintptr_t)r->arg;

    if (r->status && !b->err)
        b->err = r->status;
    if (b->nlat < BFT_MAX_SAMPLES)
        b->lat[b->nlat++] = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
    b->ios++;
    blkfront_req_put(b->bf, r);
}

/* CPU time of this process so far, microseconds. */
static double bft_cpu_us(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int bft_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* The run itself: iodepth in flight until the deadline, then drain. */
static int bft_bench_run(struct bft_bench *b, uint64_t *elapsed)
{
    struct blkfront_req *done[BFT_REAP_BATCH];
    uint64_t t0 = bft_now_ns(), now = t0;
    uint64_t end = t0 + (uint64_t)(b->o->runtime * 1e9);
    unsigned int inflight = 0;
    int n, i;

    for (;;) {
        while (now < end && !bft_stop && !b->err && inflight < b->o->iodepth &&
               bft_bench_issue(b))
            inflight++;
        if (!inflight)
            break;
        n = blkfront_wait(b->bf, done, BFT_REAP_BATCH, 30000);
        if (n < 0)
            return n;
        if (n == 0)
            return -ETIMEDOUT;
        now = bft_now_ns();
        for (i = 0; i < n; i++)
            bft_bench_done(b, done[i], now);
        inflight -= (unsigned int)n;
    }
    *elapsed = now - t0;
    return b->err;
}

int bft_bench(struct blkfront *bf, const struct bft_opts *o)
{
    const struct blkfront_info *in = blkfront_info(bf);
    struct bft_bench b = {.bf = bf, .o = o, .rng = 88172645463325252ull};
    uint64_t elapsed = 0;
    char line[256];
    double secs, cpu;
    int ret;

    b.write = strstr(o->rw, "write") != NULL;
    b.random = !strncmp(o->rw, "rand", 4);
    b.span = o->size && o->size < in->size ? o->size : in->size;
    if (!o->bs || o->bs > in->max_io || o->bs % in->sector_size ||
        b.span < o->bs || !o->iodepth) {
        fprintf(stderr,
                "bench: bad --bs/--iodepth/--size for this disk "
                "(max-io %u)\n",
                in->max_io);
        return -EINVAL;
    }
    b.lat = malloc(BFT_MAX_SAMPLES * sizeof(*b.lat));
    if (!b.lat)
        return -ENOMEM;
    cpu = bft_cpu_us();
    ret = bft_bench_run(&b, &elapsed);
    cpu = bft_cpu_us() - cpu;
    if (!ret && b.nlat) {
        secs = (double)elapsed / 1e9;
        qsort(b.lat, b.nlat, sizeof(*b.lat), bft_cmp_u32);
        snprintf(
            line, sizeof(line),
            "rw=%s bs=%" PRIu64 " iodepth=%u queues=%u ios=%" PRIu64
            " iops=%.0f mbps=%.1f p50_us=%.1f p99_us=%.1f"
            " cpu_us_per_io=%.2f",
            o->rw, o->bs, o->iodepth, in->queues, b.ios, (double)b.ios / secs,
            (double)b.ios * (double)o->bs / secs / 1e6, b.lat[b.nlat / 2] / 1e3,
            b.lat[b.nlat * 99 / 100] / 1e3, cpu / (double)b.ios);
        if (!o->status)
            printf("%s\n", line);
        bft_status(o, "state done\nresult %s\n", line);
    }
    if (ret)
        fprintf(stderr, "bench: %s\n", strerror(-ret));
    free(b.lat);
    return ret;
}
