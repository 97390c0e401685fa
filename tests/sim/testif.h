/*
 * testif: the tiny request/response protocol of the test device type that
 * proves drvdom's device model (tests/sim/testdev_back.c is its backend
 * worker under drvdomd, tests/sim/testdev_front.c its frontend).
 *
 * Keys: the frontend publishes the ring like blkif ("ring-ref" or
 * "ring-page-order" + "ring-refN") and "event-channel"; the backend
 * advertises "max-ring-page-order" and "feature-testif". Every request gets
 * exactly one response whose result is testif_result(seq, payload); a
 * request re-executed by a restarted worker gets the same answer.
 */
#ifndef DRVDOM_TESTS_SIM_TESTIF_H
#define DRVDOM_TESTS_SIM_TESTIF_H

#include <stdint.h>
#include <xen/io/ring.h>

#define TESTIF_TYPE           "testif"
#define TESTIF_MAX_RING_ORDER 2u

/* A request (frontend -> backend). */
struct testif_request {
    uint64_t id;      /* frontend's request id, echoed in the response */
    uint64_t seq;     /* sequence number, unique per frontend run */
    uint64_t payload; /* input of the computation */
};

/* A response (backend -> frontend). */
struct testif_response {
    uint64_t id;     /* id of the request answered */
    uint64_t seq;    /* seq of the request answered */
    uint64_t result; /* testif_result(seq, payload) */
};

DEFINE_RING_TYPES(testif, struct testif_request, struct testif_response);

/* The deterministic answer to a request. */
static inline uint64_t testif_result(uint64_t seq, uint64_t payload)
{
    return (seq * 0x9E3779B97F4A7C15ull) ^ payload;
}

#endif /* DRVDOM_TESTS_SIM_TESTIF_H */
