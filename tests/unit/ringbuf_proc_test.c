/*
 * ringbuf across two processes: a front end (parent) and a back end (child)
 * share a two-page blkif ring in one memfd and wake each other through two
 * eventfds, following the event indexes. A million requests go through in
 * bursts of varying size; the front end checks every response (id pending
 * and in range, exactly once, contents derived from its request).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xen/io/blkif.h>
#include <CUnit/Basic.h>

#include "drvdom/ringbuf.h"
#include "tests/unit/cutest.h"

#define RBP_ORDER 1
#define RBP_TOTAL 1000000u
#define RBP_BATCH 32
/* Hang guard only: no correct run waits anywhere near this long. */
#define RBP_GUARD_MS 60000

/* One end's view of the shared setup. */
struct rbp_shared {
    void *ring;   /* 2^RBP_ORDER pages, MAP_SHARED from the memfd */
    int to_back;  /* eventfd: front -> back notifications */
    int to_front; /* eventfd: back -> front notifications */
};

/* Block until the peer notifies fd; 0, or -1 on error or hang. */
static int rbp_wait(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t v;
    int rc;

    do {
        rc = poll(&p, 1, RBP_GUARD_MS);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return -1;
    return read(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static int rbp_notify(int fd)
{
    uint64_t one = 1;

    return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

/* Status the back end computes from a request; the front end checks it. */
static int16_t rbp_status(uint64_t sector)
{
    return (sector / 8) % 3 == 0 ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY;
}

/* Child: serve requests until RBP_TOTAL are answered. Exit status 0 = ok. */
static int rbp_back(struct rbp_shared *sh)
{
    struct ringbuf_back b;
    blkif_request_t reqs[RBP_BATCH];
    blkif_response_t rsp;
    uint32_t answered = 0;
    int n, i;

    if (ringbuf_back_init(&b, sh->ring, RBP_ORDER, sizeof(reqs[0]),
                          sizeof(rsp)) < 0)
        return 2;
    while (answered < RBP_TOTAL) {
        n = ringbuf_back_take(&b, reqs, RBP_BATCH);
        if (n < 0)
            return 3;
        for (i = 0; i < n; i++) {
            /* Validate the private copy, as a real back end would. */
            if (reqs[i].nr_segments == 0 ||
                reqs[i].nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
                return 4;
            memset(&rsp, 0, sizeof(rsp));
            rsp.id = reqs[i].id;
            rsp.operation = reqs[i].operation;
            rsp.status = rbp_status(reqs[i].sector_number);
            if (ringbuf_back_put(&b, &rsp) < 0)
                return 5;
        }
        answered += (uint32_t)n;
        if (ringbuf_back_push(&b) && rbp_notify(sh->to_front) < 0)
            return 6;
        if (n > 0)
            continue;
        n = ringbuf_back_final_check(&b);
        if (n < 0)
            return 7;
        if (n == 0 && rbp_wait(sh->to_back) < 0)
            return 8;
    }
    return 0;
}

/* Front end state: ids in flight and what each one asked. */
struct rbp_front {
    struct ringbuf_front f;
    struct ringbuf_ids ids;
    uint64_t sector[64];     /* per id: sector of the pending request */
    uint8_t op[64];          /* per id: operation of the pending request */
    uint32_t sent, answered; /* requests issued / responses checked */
    uint32_t seed;           /* burst-size PRNG */
};

/* Queue a burst of requests and push them; -1 on error. */
static int rbp_front_send(struct rbp_front *fe, struct rbp_shared *sh)
{
    unsigned int burst, i;
    blkif_request_t req;

    fe->seed = fe->seed * 1103515245u + 12345u;
    burst = 1 + (fe->seed >> 16) % ringbuf_front_free(&fe->f);
    for (i = 0; i < burst && fe->sent < RBP_TOTAL; i++) {
        int id = ringbuf_ids_get(&fe->ids);

        if (id < 0)
            return -1;
        memset(&req, 0, sizeof(req));
        req.operation = (fe->sent & 1) ? BLKIF_OP_WRITE : BLKIF_OP_READ;
        req.nr_segments = (uint8_t)(1 + fe->sent % 11);
        req.id = (uint64_t)id;
        req.sector_number = (uint64_t)fe->sent * 8;
        fe->sector[id] = req.sector_number;
        fe->op[id] = req.operation;
        if (ringbuf_front_put(&fe->f, &req) < 0)
            return -1;
        fe->sent++;
    }
    if (ringbuf_front_push(&fe->f) && rbp_notify(sh->to_back) < 0)
        return -1;
    return 0;
}

/* Take and check responses; sleep when none. Returns -1 on any mismatch. */
static int rbp_front_recv(struct rbp_front *fe, struct rbp_shared *sh)
{
    blkif_response_t rsps[RBP_BATCH];
    int n, i;

    n = ringbuf_front_take(&fe->f, rsps, RBP_BATCH);
    if (n < 0)
        return -1;
    for (i = 0; i < n; i++) {
        uint64_t id = rsps[i].id;

        if (ringbuf_ids_put(&fe->ids, id) < 0)
            return -1;
        if (rsps[i].operation != fe->op[id] ||
            rsps[i].status != rbp_status(fe->sector[id]))
            return -1;
        fe->answered++;
    }
    if (n > 0 || ringbuf_front_free(&fe->f) > 0)
        return 0;
    n = ringbuf_front_final_check(&fe->f);
    if (n < 0)
        return -1;
    return n == 0 ? rbp_wait(sh->to_front) : 0;
}

/* Parent: drive RBP_TOTAL requests through the child; 0 when all agree. */
static int rbp_front(struct rbp_front *fe, struct rbp_shared *sh)
{
    while (fe->answered < RBP_TOTAL) {
        if (fe->sent < RBP_TOTAL && ringbuf_front_free(&fe->f) > 0 &&
            rbp_front_send(fe, sh) < 0)
            return -1;
        if (fe->sent == RBP_TOTAL && fe->answered < RBP_TOTAL &&
            ringbuf_front_final_check(&fe->f) == 0 &&
            rbp_wait(sh->to_front) < 0)
            return -1;
        if (rbp_front_recv(fe, sh) < 0)
            return -1;
    }
    return ringbuf_front_final_check(&fe->f) == 0 ? 0 : -1;
}

static void test_million_requests(void)
{
    size_t bytes = (size_t)RINGBUF_PAGE_SIZE << RBP_ORDER;
    struct rbp_shared sh = {NULL, -1, -1};
    struct rbp_front *fe = calloc(1, sizeof(*fe));
    int memfd, status = -1, rc;
    pid_t pid;

    CU_ASSERT_PTR_NOT_NULL_FATAL(fe);
    memfd = memfd_create("ringbuf-test", MFD_CLOEXEC);
    CU_ASSERT_FATAL(memfd >= 0);
    CU_ASSERT_FATAL(ftruncate(memfd, (off_t)bytes) == 0);
    sh.ring = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    CU_ASSERT_FATAL(sh.ring != MAP_FAILED);
    sh.to_back = eventfd(0, EFD_CLOEXEC);
    sh.to_front = eventfd(0, EFD_CLOEXEC);
    CU_ASSERT_FATAL(sh.to_back >= 0 && sh.to_front >= 0);
    CU_ASSERT_EQUAL_FATAL(ringbuf_front_init(&fe->f, sh.ring, RBP_ORDER,
                                             sizeof(blkif_request_t),
                                             sizeof(blkif_response_t)),
                          0);
    CU_ASSERT_FATAL(fe->f.nr_ents <= 64);
    CU_ASSERT_EQUAL_FATAL(ringbuf_ids_init(&fe->ids, fe->f.nr_ents), 0);
    fe->seed = 42;
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(rbp_back(&sh));
    }
    rc = rbp_front(fe, &sh);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(fe->answered, RBP_TOTAL);
    if (rc < 0)
        kill(pid, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ringbuf_ids_fini(&fe->ids);
    close(sh.to_back);
    close(sh.to_front);
    munmap(sh.ring, bytes);
    close(memfd);
    free(fe);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"a million requests over a memfd ring", test_million_requests},
    };

    return cutest_run("ringbuf two processes", tests, 1);
}
