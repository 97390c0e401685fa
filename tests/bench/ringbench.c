/*
 * ringbench: throughput of the ringbuf layer against the ceiling on this
 * machine.
 *
 * Two processes share one memfd. The parent is a front end sending
 * blkif-sized requests (112 bytes) in closed-loop batches of 1, 8 and 32; the
 * child is a back end answering each with a blkif response (16 bytes). Both
 * sleep on an eventfd when idle and are woken only when the peer asked for it.
 * The same exchange runs over:
 *   - ring: a one-page blkif ring driven by ringbuf (the Xen protocol: index
 *     checks, copies out of shared memory, event indexes);
 *   - spsc: a minimal single-producer/single-consumer queue pair with the same
 *     slot count and entry sizes, head/tail on their own cache lines, and a
 *     "consumer sleeps" flag as its only notification logic.
 * Runs alternate between the two; the table shows the median of the rounds.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h> /* xen_mb(), the same full barrier ringbuf uses */
#include <xen/io/blkif.h>

#include "drvdom/ringbuf.h"

#define RB_ORDER  0
#define RB_SLOTS  32 /* RING_SIZE of a one-page blkif ring */
#define RB_ROUNDS 5
#define RB_CACHE  64

/* A minimal SPSC queue in shared memory: the baseline. */
struct rb_spsc {
    _Alignas(RB_CACHE) uint32_t head;     /* next slot the producer fills */
    _Alignas(RB_CACHE) uint32_t tail;     /* next slot the consumer reads */
    _Alignas(RB_CACHE) uint32_t sleeping; /* consumer asleep: notify it */
    _Alignas(RB_CACHE) uint8_t ents[];    /* RB_SLOTS entries */
};

/* Private end of an SPSC queue. */
struct rb_spsc_end {
    struct rb_spsc *q;  /* shared queue */
    uint32_t idx;       /* producer: head to publish; consumer: our tail */
    uint32_t pushed;    /* producer: head last published */
    uint32_t tail_seen; /* producer: consumer's tail when last read */
};

/* The shared memfd: one region per page. */
struct rb_shm {
    uint8_t ring[RINGBUF_PAGE_SIZE];     /* blkif sring */
    uint8_t spsc_req[RINGBUF_PAGE_SIZE]; /* struct rb_spsc of requests */
    uint8_t spsc_rsp[RINGBUF_PAGE_SIZE]; /* struct rb_spsc of responses */
    uint64_t back_notifies;              /* child's notification count */
};

/* One run's parameters and results. */
struct rb_run {
    struct rb_shm *shm; /* shared memory */
    int to_back;        /* eventfd: front -> back */
    int to_front;       /* eventfd: back -> front */
    unsigned int batch; /* requests per push */
    uint32_t total;     /* requests in the run, a multiple of batch */
    uint64_t notifies;  /* front's plus back's notifications */
    double seconds;     /* front's wall time */
};

static void rb_notify(int fd, uint64_t *count)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one)) {
        perror("ringbench: eventfd write");
        exit(1);
    }
    (*count)++;
}

static void rb_wait(int fd)
{
    uint64_t v;

    if (read(fd, &v, sizeof(v)) != sizeof(v)) {
        perror("ringbench: eventfd read");
        exit(1);
    }
}

static void rb_fill_req(blkif_request_t *req, uint32_t seq)
{
    req->operation = BLKIF_OP_READ;
    req->nr_segments = 1;
    req->handle = 0;
    req->id = seq;
    req->sector_number = (uint64_t)seq << 3;
}

static void rb_fill_rsp(blkif_response_t *rsp, const blkif_request_t *req)
{
    rsp->id = req->id;
    rsp->operation = req->operation;
    rsp->status = BLKIF_RSP_OKAY;
}

static void rb_check_rsp(const blkif_response_t *rsp, uint32_t seq)
{
    if (rsp->id != seq || rsp->status != BLKIF_RSP_OKAY) {
        fprintf(stderr, "ringbench: bad response %llu (expected %u)\n",
                (unsigned long long)rsp->id, seq);
        exit(1);
    }
}

/* ---- ring: ringbuf on a blkif ring ---------------------------------- */

static void rb_ring_back(struct rb_run *run)
{
    struct ringbuf_back b;
    blkif_request_t reqs[RB_SLOTS];
    blkif_response_t rsp;
    uint64_t notes = 0;
    uint32_t answered = 0;
    int n, i;

    if (ringbuf_back_init(&b, run->shm->ring, RB_ORDER, sizeof(reqs[0]),
                          sizeof(rsp)) < 0)
        exit(1);
    while (answered < run->total) {
        n = ringbuf_back_take(&b, reqs, run->batch);
        if (n < 0)
            exit(1);
        for (i = 0; i < n; i++) {
            rb_fill_rsp(&rsp, &reqs[i]);
            ringbuf_back_put(&b, &rsp);
        }
        answered += (uint32_t)n;
        if (ringbuf_back_push(&b))
            rb_notify(run->to_front, &notes);
        if (n == 0 && ringbuf_back_final_check(&b) == 0)
            rb_wait(run->to_back);
    }
    run->shm->back_notifies = notes;
}

static void rb_ring_front(struct rb_run *run)
{
    struct ringbuf_front f;
    blkif_request_t req;
    blkif_response_t rsps[RB_SLOTS];
    uint32_t sent, got;
    unsigned int i;
    int n, k;

    memset(&req, 0, sizeof(req));
    if (ringbuf_front_init(&f, run->shm->ring, RB_ORDER, sizeof(req),
                           sizeof(rsps[0])) < 0 ||
        f.nr_ents != RB_SLOTS)
        exit(1);
    for (sent = 0; sent < run->total; sent += run->batch) {
        for (i = 0; i < run->batch; i++) {
            rb_fill_req(&req, sent + i);
            if (ringbuf_front_put(&f, &req) < 0)
                exit(1);
        }
        if (ringbuf_front_push(&f))
            rb_notify(run->to_back, &run->notifies);
        for (got = 0; got < run->batch; got += (uint32_t)n) {
            n = ringbuf_front_take(&f, rsps, RB_SLOTS);
            if (n < 0)
                exit(1);
            for (k = 0; k < n; k++)
                rb_check_rsp(&rsps[k], sent + got + (uint32_t)k);
            if (n == 0 && ringbuf_front_final_check(&f) == 0)
                rb_wait(run->to_front);
        }
    }
}

/* ---- spsc: the minimal queue ------------------------------------------ */

static void rb_spsc_put(struct rb_spsc_end *p, const void *ent, size_t size)
{
    if (p->idx - p->tail_seen == RB_SLOTS) {
        /* Acquire: the consumer finished with the slots it released. */
        p->tail_seen = __atomic_load_n(&p->q->tail, __ATOMIC_ACQUIRE);
        if (p->idx - p->tail_seen == RB_SLOTS) {
            fprintf(stderr, "ringbench: spsc queue overflow\n");
            exit(1);
        }
    }
    memcpy(p->q->ents + (p->idx % RB_SLOTS) * size, ent, size);
    p->idx++;
}

/* Publish; true when the consumer sleeps and must be woken. */
static bool rb_spsc_push(struct rb_spsc_end *p)
{
    if (p->idx == p->pushed)
        return false;
    /* Release: entries written before head publishes them. */
    __atomic_store_n(&p->q->head, p->idx, __ATOMIC_RELEASE);
    p->pushed = p->idx;
    /* Full barrier: head visible before we read sleeping (pairs with the
     * consumer's sleeping = 1; barrier; re-read head). */
    xen_mb();
    if (!__atomic_load_n(&p->q->sleeping, __ATOMIC_RELAXED))
        return false;
    __atomic_store_n(&p->q->sleeping, 0, __ATOMIC_RELAXED);
    return true;
}

static unsigned int rb_spsc_take(struct rb_spsc_end *c, void *out,
                                 unsigned int max, size_t size)
{
    /* Acquire: head read before the entries it covers. */
    uint32_t head = __atomic_load_n(&c->q->head, __ATOMIC_ACQUIRE);
    unsigned int n = head - c->idx < max ? head - c->idx : max, i;

    for (i = 0; i < n; i++, c->idx++)
        memcpy((uint8_t *)out + i * size,
               c->q->ents + (c->idx % RB_SLOTS) * size, size);
    /* Release: entries copied before the producer may reuse the slots. */
    if (n > 0)
        __atomic_store_n(&c->q->tail, c->idx, __ATOMIC_RELEASE);
    return n;
}

/* Before sleeping: true if entries are pending, else the flag is set. */
static bool rb_spsc_final_check(struct rb_spsc_end *c)
{
    if (__atomic_load_n(&c->q->head, __ATOMIC_ACQUIRE) != c->idx)
        return true;
    __atomic_store_n(&c->q->sleeping, 1, __ATOMIC_RELAXED);
    /* Full barrier: sleeping visible before we re-read head. */
    xen_mb();
    if (__atomic_load_n(&c->q->head, __ATOMIC_ACQUIRE) == c->idx)
        return false;
    __atomic_store_n(&c->q->sleeping, 0, __ATOMIC_RELAXED);
    return true;
}

static void rb_spsc_back(struct rb_run *run)
{
    struct rb_spsc_end req_c = {(struct rb_spsc *)run->shm->spsc_req, 0, 0, 0};
    struct rb_spsc_end rsp_p = {(struct rb_spsc *)run->shm->spsc_rsp, 0, 0, 0};
    blkif_request_t reqs[RB_SLOTS];
    blkif_response_t rsp;
    uint64_t notes = 0;
    uint32_t answered = 0;
    unsigned int n, i;

    while (answered < run->total) {
        n = rb_spsc_take(&req_c, reqs, run->batch, sizeof(reqs[0]));
        for (i = 0; i < n; i++) {
            rb_fill_rsp(&rsp, &reqs[i]);
            rb_spsc_put(&rsp_p, &rsp, sizeof(rsp));
        }
        answered += n;
        if (rb_spsc_push(&rsp_p))
            rb_notify(run->to_front, &notes);
        if (n == 0 && !rb_spsc_final_check(&req_c))
            rb_wait(run->to_back);
    }
    run->shm->back_notifies = notes;
}

static void rb_spsc_front(struct rb_run *run)
{
    struct rb_spsc_end req_p = {(struct rb_spsc *)run->shm->spsc_req, 0, 0, 0};
    struct rb_spsc_end rsp_c = {(struct rb_spsc *)run->shm->spsc_rsp, 0, 0, 0};
    blkif_request_t req;
    blkif_response_t rsps[RB_SLOTS];
    uint32_t sent, got;
    unsigned int i, n, k;

    memset(&req, 0, sizeof(req));
    for (sent = 0; sent < run->total; sent += run->batch) {
        for (i = 0; i < run->batch; i++) {
            rb_fill_req(&req, sent + i);
            rb_spsc_put(&req_p, &req, sizeof(req));
        }
        if (rb_spsc_push(&req_p))
            rb_notify(run->to_back, &run->notifies);
        for (got = 0; got < run->batch; got += n) {
            n = rb_spsc_take(&rsp_c, rsps, RB_SLOTS, sizeof(rsps[0]));
            for (k = 0; k < n; k++)
                rb_check_rsp(&rsps[k], sent + got + k);
            if (n == 0 && !rb_spsc_final_check(&rsp_c))
                rb_wait(run->to_front);
        }
    }
}

/* ---- harness ---------------------------------------------------------- */

static double rb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One run of one implementation in a fresh process pair. */
static void rb_run_one(struct rb_run *run, bool spsc)
{
    pid_t pid;
    int status;
    double t0;

    memset(run->shm, 0, sizeof(*run->shm));
    run->notifies = 0;
    if (!spsc) {
        /* The front end owns the shared header: initialise before fork. */
        struct ringbuf_front f;

        if (ringbuf_front_init(&f, run->shm->ring, RB_ORDER,
                               sizeof(blkif_request_t),
                               sizeof(blkif_response_t)) < 0)
            exit(1);
    }
    pid = fork();
    if (pid < 0) {
        perror("ringbench: fork");
        exit(1);
    }
    if (pid == 0) {
        if (spsc)
            rb_spsc_back(run);
        else
            rb_ring_back(run);
        _exit(0);
    }
    t0 = rb_now();
    if (spsc)
        rb_spsc_front(run);
    else
        rb_ring_front(run);
    run->seconds = rb_now() - t0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ringbench: back end failed\n");
        exit(1);
    }
    run->notifies += run->shm->back_notifies;
}

static int rb_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median requests/s and mean notifications/request over RB_ROUNDS runs. */
struct rb_result {
    double rate;  /* requests per second, median */
    double notes; /* notifications per request, mean */
};

static void rb_measure(struct rb_run *run, struct rb_result *ring,
                       struct rb_result *spsc)
{
    double rates[2][RB_ROUNDS];
    uint64_t notes[2] = {0, 0};
    unsigned int r, impl;

    for (r = 0; r < RB_ROUNDS; r++) {
        for (impl = 0; impl < 2; impl++) {
            /* Alternate which one goes first, against drift. */
            bool is_spsc = (impl ^ (r & 1)) != 0;

            rb_run_one(run, is_spsc);
            rates[is_spsc][r] = run->total / run->seconds;
            notes[is_spsc] += run->notifies;
        }
    }
    for (impl = 0; impl < 2; impl++)
        qsort(rates[impl], RB_ROUNDS, sizeof(double), rb_cmp_double);
    ring->rate = rates[0][RB_ROUNDS / 2];
    spsc->rate = rates[1][RB_ROUNDS / 2];
    ring->notes = (double)notes[0] / ((double)run->total * RB_ROUNDS);
    spsc->notes = (double)notes[1] / ((double)run->total * RB_ROUNDS);
}

int main(int argc, char **argv)
{
    static const unsigned int batches[] = {1, 8, 32};
    /* Scale: requests per run = scale * 50000 * (1 + batch). */
    unsigned int scale = argc > 1 ? (unsigned int)atoi(argv[1]) : 1, i;
    struct rb_result ring, spsc;
    struct rb_run run;
    int fd;

    if (scale == 0 || scale > 1000) {
        fprintf(stderr, "usage: %s [scale 1..1000]\n", argv[0]);
        return 2;
    }
    fd = memfd_create("ringbench", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, sizeof(struct rb_shm)) < 0) {
        perror("ringbench: memfd");
        return 1;
    }
    run.shm = mmap(NULL, sizeof(struct rb_shm), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
    run.to_back = eventfd(0, EFD_CLOEXEC);
    run.to_front = eventfd(0, EFD_CLOEXEC);
    if (run.shm == MAP_FAILED || run.to_back < 0 || run.to_front < 0) {
        perror("ringbench: setup");
        return 1;
    }
    printf("ringbench: front and back in 2 processes, 1-page blkif ring (%d "
           "slots), %zu-byte requests, %zu-byte responses,\n"
           "eventfd notifications; median of %d alternating runs\n\n",
           RB_SLOTS, sizeof(blkif_request_t), sizeof(blkif_response_t),
           RB_ROUNDS);
    printf("%5s %14s %10s %14s %10s %7s\n", "batch", "ring req/s", "notif/req",
           "spsc req/s", "notif/req", "ratio");
    for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
        run.batch = batches[i];
        run.total = scale * 50000 * (1 + run.batch);
        run.total -= run.total % run.batch;
        rb_measure(&run, &ring, &spsc);
        printf("%5u %14.0f %10.3f %14.0f %10.3f %7.3f\n", run.batch, ring.rate,
               ring.notes, spsc.rate, spsc.notes, ring.rate / spsc.rate);
        fflush(stdout);
    }
    printf("\ntarget: ring >= 0.90x spsc at batch 32\n");
    munmap(run.shm, sizeof(struct rb_shm));
    close(run.to_back);
    close(run.to_front);
    close(fd);
    return 0;
}
