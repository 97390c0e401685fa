/*
 * drvdomd private header: the daemon's state, one record per device type it
 * serves and one per device (the worker process serving it).
 */
#ifndef DRVDOM_BACKEND_DRVDOMD_H
#define DRVDOM_BACKEND_DRVDOMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "drvdom/xsg.h"

#define DRVDOMD_MAX_TYPES    8
#define DRVDOMD_MAX_FEATURES 32
/* Restarts allowed within DRVDOMD_RESTART_WINDOW_S before giving up. */
#define DRVDOMD_RESTART_WINDOW_S 10
/* How long a stopping worker gets between SIGTERM and SIGKILL. */
#define DRVDOMD_STOP_TIMEOUT_MS 2000
/* Exit status of a worker that found the frontend's data unusable. */
#define DRVDOMD_EXIT_PEER 3

/* One "key value" line a worker type publishes at probe. */
struct drvdomd_feature {
    char *key; /* key under the backend dir */
    char *val; /* its value */
};

/* A device type served: its worker program and its features. */
struct drvdomd_type {
    char name[16]; /* "vbd", "vif", "testif" */
    char *worker;  /* program, from --worker TYPE=PROGRAM */
    struct drvdomd_feature feats[DRVDOMD_MAX_FEATURES]; /* --features */
    unsigned int nfeats;                                /* entries in feats */
    struct xsg_back *back; /* the device model of this type */
    struct drvdomd *d;     /* daemon */
};

/* The daemon. */
struct drvdomd {
    struct event_base *base;   /* libevent loop */
    struct xs_handle *xs;      /* xenstore connection */
    struct event *xs_ev;       /* xs_fileno readable */
    domid_t self;              /* our domain id */
    const char *run_dir;       /* worker run files */
    unsigned int max_restarts; /* per DRVDOMD_RESTART_WINDOW_S */
    struct drvdomd_type types[DRVDOMD_MAX_TYPES]; /* served types */
    unsigned int ntypes;                          /* entries in types */
};

/* One device: the worker serving it. */
struct drvdomd_dev {
    struct drvdomd_type *type;   /* its type */
    struct xsg_dev *dev;         /* device model record */
    pid_t pid;                   /* worker, 0 when none */
    bool child;                  /* pid is our child (waitpid it) */
    bool ready;                  /* worker mapped the ring (or adopted) */
    int pidfd;                   /* pidfd of pid, -1 when none */
    struct event *pid_ev;        /* pidfd readable: worker exited */
    int status_fd;               /* read end of the worker's status pipe */
    struct event *status_ev;     /* status_fd readable */
    char status[128];            /* partial status line */
    size_t status_len;           /* bytes in status */
    unsigned int restarts;       /* restarts in the current window */
    unsigned int restarts_total; /* restarts since attach */
    int64_t window_start;        /* CLOCK_MONOTONIC s of the window */
    uint64_t first_rsp_ns;       /* last restart's first response time */
};

void drvdomd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The xsg_back_ops drvdomd plugs into the device model. */
extern const struct xsg_back_ops drvdomd_ops;

/* Runs "<worker> --features" and stores its lines in t. */
int drvdomd_type_features(struct drvdomd_type *t);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t drvdomd_now_ns(void);

#endif /* DRVDOM_BACKEND_DRVDOMD_H */
