/*
 * tool.h - shared state of the drvdom-blkfront tool's subcommands
 * (tool.c: options, info, verify, rocheck; tool-bench.c: the workload mode;
 * tool-nbd.c: the NBD export).
 */
#ifndef DRVDOM_BLKFRONT_TOOL_H
#define DRVDOM_BLKFRONT_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "drvdom/blkfront.h"

/* Every option of every subcommand. */
struct bft_opts {
    unsigned int devid;      /* virtual device (51712 = xvda) */
    struct blkfront_opts bo; /* connect options */
    const char *status;      /* status file ("key value" lines) */
    unsigned long seed;      /* verify: random seed */
    unsigned long count;     /* verify: operations, 0 = until SIGTERM */
    bool discard;            /* verify: also discard and check zeroes */
    const char *rw;          /* bench: read|write|randread|randwrite */
    uint64_t bs;             /* bench: block size */
    unsigned int iodepth;    /* bench: requests in flight */
    uint64_t size;           /* bench: bytes of the disk used (0: all) */
    double runtime;          /* bench: seconds */
    const char *sock;        /* nbd: unix socket path */
};

/* Set by SIGTERM/SIGINT: finish cleanly. */
extern volatile sig_atomic_t bft_stop;

/* Writes the status file: "key value" lines, atomically (rename). */
void bft_status(const struct bft_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t bft_now_ns(void);

int bft_bench(struct blkfront *bf, const struct bft_opts *o);
int bft_nbd(struct blkfront *bf, const struct bft_opts *o);

#endif /* DRVDOM_BLKFRONT_TOOL_H */
