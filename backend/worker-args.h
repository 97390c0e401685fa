/*
 * worker-args: what every drvdomd worker (drvdom-blkback, testdev_back, ...)
 * gets from drvdomd: its command line, parsed one way for all of them, and
 * the device's request journal file, mapped.
 *
 *   WORKER --features | --help
 *   WORKER --type T --fe N --devid D --backend-path P --frontend-path F
 *          --status-fd FD [--journal-fd J] [--poll-us US] [--data MODE]
 *          [--adopt]
 */
#ifndef DRVDOM_BACKEND_WORKER_ARGS_H
#define DRVDOM_BACKEND_WORKER_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a worker moves the guest's data (--data). */
enum worker_data {
    WORKER_DATA_DEFAULT = 0, /* not given: the worker's (platform's) choice */
    WORKER_DATA_MAP,         /* "map": grant-map the guest's pages */
    WORKER_DATA_COPY,        /* "copy": grant-copy into own buffers */
};

/* A worker's command line. */
struct worker_args {
    const char *type;      /* --type: the device type drvdomd serves */
    uint16_t fe;           /* --fe: frontend domain */
    unsigned int devid;    /* --devid */
    const char *be_path;   /* --backend-path */
    const char *fe_path;   /* --frontend-path */
    int status_fd;         /* --status-fd: drvdomd's status pipe */
    int journal_fd;        /* --journal-fd, or -1 */
    int poll_us;           /* --poll-us (0..max_poll_us), or -1 if not given */
    enum worker_data data; /* --data */
    bool adopt;            /* --adopt: attach to the rings in use */
    bool features;         /* --features: print them and exit */
    bool help;             /* --help */
    bool settings;         /* --settings: print what a worker started now
                              would use (data mode, poll bound) and exit */
};

/*
 * Parse argv into a. --type must be type (when given); --poll-us must be
 * at most max_poll_us. With --features or --help nothing else is required.
 * 0, or -EINVAL for a usage error.
 */
int worker_args_parse(struct worker_args *a, int argc, char **argv,
                      const char *type, unsigned int max_poll_us);

/* "map" or "copy" into *data. 0 or -EINVAL. */
int worker_args_data(const char *s, enum worker_data *data);
/* A decimal number in [0, max] (an option's or the environment's), or
 * -EINVAL. */
long worker_args_num(const char *s, unsigned long max);

/*
 * Map the journal file fd, grown to len bytes if shorter (new bytes are
 * zeroes), shared: *addr. 0 or -errno. Unmap with munmap(*addr, len).
 */
int worker_journal_map(int fd, size_t len, void **addr);

#endif /* DRVDOM_BACKEND_WORKER_ARGS_H */
