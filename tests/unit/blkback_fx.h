/*
 * blkback_fx.h - the fake platform and device fixture of the in-process
 * blkback data-path tests (blkback_fx.c).
 */
#ifndef DRVDOM_TESTS_BLKBACK_FX_H
#define DRVDOM_TESTS_BLKBACK_FX_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/blk/blkback-internal.h"
#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE          4096u
#define FE_DOMID      7
#define FE_PORT       11
#define GUEST_PAGES   4096u
#define NGNT          8192u
#define DISK_BYTES    (4u << 20)
#define RING_FRAMES   16u /* frames 0..15 hold the rings of 4 queues */

/* An entry of the guest's grant table. */
struct fake_gnt {
    bool valid;     /* granted to FE_DOMID */
    bool ro;        /* read-only */
    uint32_t frame; /* page of guest RAM */
};

extern uint8_t *guest;             /* guest RAM, as the frontend sees it */
extern struct fake_gnt gnt[NGNT];  /* the guest's grant table */
extern long live_pages;            /* pages mapped now */
extern unsigned long map_calls;    /* plat_gnttab_map calls */
extern unsigned long copy_calls;   /* plat_gnttab_copy calls */
extern unsigned long copy_segs;    /* segments given to them */
extern unsigned long evt_notifies; /* plat_evtchn_notify calls */
extern int disk_fd;                /* the disk file */

/* One device with nq queues on a fresh disk, each ring of this order. */
struct fixture {
    struct blkback_dev dev;                      /* the device */
    struct blkback_io disk;                      /* its store */
    struct blkback_queue q[BLKBACK_MAX_QUEUES];  /* its queues */
    struct ringbuf_front fr[BLKBACK_MAX_QUEUES]; /* their frontends */
    unsigned nq;                                 /* queues opened */
};

extern struct fixture fx;
extern bool fx_copy; /* the next fx_open's device is in copy mode */
extern uint8_t fx_journal[BLKBACK_MAX_QUEUES * BLKBACK_JOURNAL_SLOT];

grant_ref_t grant(uint32_t frame, bool ro);
int fx_open(unsigned nq, unsigned order, bool persistent, uint32_t max_pgrants,
            bool readonly);
void fx_close(void);
void fx_put(unsigned qi, const void *req);
int fx_run(unsigned qi, blkif_response_t *rsp, unsigned n);
blkif_request_t rw_req(uint8_t op, uint64_t id, uint64_t sector, uint32_t first,
                       unsigned nseg, bool ro);
blkif_request_t ind_req(uint32_t ipage, uint32_t data, unsigned nseg,
                        uint64_t id, uint8_t op, uint64_t sector, bool rw);
blkif_request_t discard_req(uint64_t id, uint64_t sector, uint64_t nr,
                            uint8_t flag);
void fx_restart(unsigned n, unsigned answered);
void fill(uint32_t frame, unsigned npages, uint8_t seed);
bool disk_equals(uint64_t off, uint32_t frame, unsigned npages);
bool rsp_is(const blkif_response_t *r, uint64_t id, uint8_t op, int16_t status);
int fx_main(const char *suite, const struct cutest *tests, size_t n);

#endif /* DRVDOM_TESTS_BLKBACK_FX_H */
