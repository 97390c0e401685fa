/*
 * xsg (xenstore-glue): the xenbus device model every drvdom backend and
 * frontend sits on, over libxenstore on both platforms.
 *
 * Three parts:
 *  - helpers for the idioms of xen/io/blkif.h and netif.h: reading keys
 *    (optional features: absent means 0), xenbus states, transactions with
 *    retry on EAGAIN, multi-page rings (ring-page-order, ring-ref0..N) and
 *    multi-queue (multi-queue-num-queues, queue-N/ subdirectories);
 *  - the backend device model (struct xsg_back): watches
 *    /local/domain/<self>/backend/<type>, follows each device's frontend and
 *    drives the backend's state through one frontend_changed switch; the
 *    data path is plugged in through struct xsg_back_ops;
 *  - the frontend side (struct xsg_front): find the backend, wait for a
 *    state with a timeout, publish, switch.
 *
 * Every call returns 0 (or a documented non-negative value) or -errno. See
 * docs/xenbus.md for the state machines and the keys.
 */
#ifndef DRVDOM_XSG_H
#define DRVDOM_XSG_H

#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/xenbus.h>

/* Largest ring-page-order the helpers accept (2^4 = 16 pages). */
#define XSG_MAX_RING_ORDER 4u
#define XSG_MAX_RING_PAGES (1u << XSG_MAX_RING_ORDER)
/* Transactions are retried this many times on EAGAIN before giving up. */
#define XSG_TXN_RETRIES 64
/* Longest xenstore path the glue builds. */
#define XSG_PATH_MAX 256

/* ---- logging ---- */

/* Log sink: level is a syslog LOG_* value. Default: stderr. */
typedef void (*xsg_log_fn)(int level, const char *msg);
void xsg_set_log(xsg_log_fn fn);
void xsg_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- keys ---- */

/* "Connected", "InitWait", ...; "Invalid" for values outside the enum. */
const char *xsg_state_name(int state);

/*
 * Reads dir/key (malloc'd, NUL-terminated) into *val. -ENOENT when absent,
 * other -errno on failure.
 */
int xsg_read_str(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                 const char *key, char **val);

/*
 * Reads dir/key as an unsigned decimal no larger than max. -ENOENT when
 * absent, -EINVAL when not a number or out of range.
 */
int xsg_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                  const char *key, unsigned long max, unsigned long *val);

/* An optional numeric feature: absent means 0 (returns 0), else as above. */
int xsg_read_feature(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                     const char *key, unsigned long max, unsigned long *val);

/* Writes dir/key = printf(fmt, ...). */
int xsg_write_fmt(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                  const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* dir/state, or XenbusStateUnknown when it is absent or not a state. */
enum xenbus_state xsg_read_state(struct xs_handle *xs, xs_transaction_t t,
                                 const char *dir);

/*
 * Switches dir/state in a transaction, like Linux xenbus_switch_state: only
 * if dir/state still exists (-ENOENT otherwise: the toolstack removed the
 * device, do not re-create it).
 */
int xsg_switch_state(struct xs_handle *xs, const char *dir,
                     enum xenbus_state state);

/* Body of a transaction; returns 0 to commit or -errno to abort. */
typedef int (*xsg_txn_fn)(struct xs_handle *xs, xs_transaction_t t, void *arg);

/*
 * Runs fn in a transaction, re-running it when the commit fails with EAGAIN
 * (up to XSG_TXN_RETRIES times, then -EAGAIN). fn's error aborts and is
 * returned.
 */
int xsg_txn(struct xs_handle *xs, xsg_txn_fn fn, void *arg);

/* ---- rings and queues ---- */

/*
 * Writes a ring's grant refs in dir: "ring-ref" for order 0 (what every
 * peer understands), else "ring-page-order" and "ring-ref0".."ring-refN-1".
 */
int xsg_write_ring_refs(struct xs_handle *xs, xs_transaction_t t,
                        const char *dir, unsigned int order,
                        const grant_ref_t *refs);

/*
 * Reads a ring's refs from dir (the inverse of xsg_write_ring_refs): order
 * from "ring-page-order" (absent: 0), which must not exceed max_order
 * (-EINVAL); refs needs 2^max_order slots.
 */
int xsg_read_ring_refs(struct xs_handle *xs, xs_transaction_t t,
                       const char *dir, unsigned int max_order,
                       unsigned int *order, grant_ref_t *refs);

/*
 * Queues a frontend asked for: "multi-queue-num-queues" in fe_dir, absent
 * means 1; 0 or more than max (what the backend advertised in
 * "multi-queue-max-queues") is -EINVAL.
 */
int xsg_read_num_queues(struct xs_handle *xs, xs_transaction_t t,
                        const char *fe_dir, unsigned int max, unsigned int *nr);

/*
 * The directory holding queue q's keys: dir itself for a single queue,
 * dir/queue-q for several. -ENAMETOOLONG if it does not fit in buf.
 */
int xsg_queue_dir(char *buf, size_t size, const char *dir, unsigned int q,
                  unsigned int nr);

/* ---- backend device model ---- */

struct xsg_back;
struct xsg_dev;

/* connect/adopt return this when the data path comes up later. */
#define XSG_PENDING 1

/*
 * What the device model calls. Every callback runs from
 * xsg_back_process()/xsg_back_close() on the caller's thread.
 */
struct xsg_back_ops {
    /* A device appeared: publish its features in the backend dir
     * (xsg_dev_be_path). 0, or -errno to fail the device. */
    int (*probe)(struct xsg_dev *dev, void *arg);
    /* The frontend published its rings (Initialised/Connected) while we
     * are in InitWait: start the data path. 0 when up (Connected is
     * written), XSG_PENDING to finish later with xsg_dev_connected() or
     * xsg_dev_fail(), -errno to fail the device. */
    int (*connect)(struct xsg_dev *dev, void *arg);
    /* A device found already Connected (a restarted daemon): take over its
     * data path without renegotiating. Same returns as connect. */
    int (*adopt)(struct xsg_dev *dev, void *arg);
    /* Stop the data path (rings unmapped, port unbound); idempotent. */
    void (*disconnect)(struct xsg_dev *dev, void *arg);
    /* The device is forgotten; drop the caller's data. */
    void (*remove)(struct xsg_dev *dev, void *arg);
};

struct xsg_back_cfg {
    struct xs_handle *xs;           /* connection (shared, not owned) */
    const char *type;               /* device type: "vbd", "vif", ... */
    domid_t self;                   /* our domain id */
    const struct xsg_back_ops *ops; /* data path */
    void *arg;                      /* passed to every op */
};

/*
 * Watches /local/domain/<self>/backend/<type> (and @releaseDomain) and
 * queues every device already there (a restarted daemon re-adopts the
 * Connected ones). Nothing happens before xsg_back_process().
 */
int xsg_back_open(struct xsg_back **out, const struct xsg_back_cfg *cfg);

/*
 * Closes every device cleanly (Closing, disconnect, Closed), removes the
 * watches and frees everything. NULL is a no-op.
 */
void xsg_back_close(struct xsg_back *b);

/*
 * Offers a watch event (from xs_check_watch) to this backend. true when it
 * was ours. It only marks the device concerned: at most one pending event
 * per device, whatever the rate of changes (XSA-349).
 */
bool xsg_back_watch_event(struct xsg_back *b, const char *path,
                          const char *token);

/* Handles every pending device; returns how many were handled. */
int xsg_back_process(struct xsg_back *b);

/* Number of devices known (for stats and tests). */
unsigned int xsg_back_count(const struct xsg_back *b);

/* An asynchronous connect/adopt finished: the device is Connected. */
void xsg_dev_connected(struct xsg_dev *dev);

/*
 * The data path failed: writes "<-err> <msg>" to the backend's "error" key
 * (like xenbus_dev_fatal), disconnects and switches to Closing; only this
 * device is affected.
 */
void xsg_dev_fail(struct xsg_dev *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "type/fe/devid": every log line about a device names it this way. */
const char *xsg_dev_name(const struct xsg_dev *dev);
const char *xsg_dev_type(const struct xsg_dev *dev);
domid_t xsg_dev_fe(const struct xsg_dev *dev);
unsigned int xsg_dev_devid(const struct xsg_dev *dev);
const char *xsg_dev_be_path(const struct xsg_dev *dev);
const char *xsg_dev_fe_path(const struct xsg_dev *dev);
enum xenbus_state xsg_dev_state(const struct xsg_dev *dev);
void xsg_dev_set_priv(struct xsg_dev *dev, void *priv);
void *xsg_dev_priv(const struct xsg_dev *dev);

/* ---- frontend side ---- */

struct xsg_front {
    struct xs_handle *xs;       /* connection (not owned) */
    char fe_path[XSG_PATH_MAX]; /* /local/domain/<self>/device/<type>/<id> */
    char *be_path;              /* the backend dir the toolstack named */
    domid_t be_id;              /* backend-id */
    char name[64];              /* "type/self/devid" for log lines */
};

/* Finds the backend of device type/devid of domain self. */
int xsg_front_open(struct xsg_front *f, struct xs_handle *xs, const char *type,
                   domid_t self, unsigned int devid);
void xsg_front_close(struct xsg_front *f);

/*
 * Waits until the backend's state is want, at most timeout_ms. -ETIMEDOUT
 * (logged with the state it is stuck in), -ECONNRESET when the backend went
 * to Closing/Closed instead (logged with its "error" key if any).
 */
int xsg_front_wait(struct xsg_front *f, enum xenbus_state want, int timeout_ms);

/* Switches our own state (fe_path/state). */
int xsg_front_switch(struct xsg_front *f, enum xenbus_state state);

#endif /* DRVDOM_XSG_H */
