/*
 * xsgts: the toolstack side of a device (libxl's xenstore layout) for the
 * tests and attachbench; see xsgts.c.
 */
#ifndef DRVDOM_TESTS_SIM_XSGTS_H
#define DRVDOM_TESTS_SIM_XSGTS_H

#include "drvdom/xsg.h"

#define XSGTS_TIMEOUT_MS 20000

struct xsgts_dev {
    char fe[XSG_PATH_MAX]; /* /local/domain/<fe>/device/<type>/<devid> */
    char be[XSG_PATH_MAX]; /* /local/domain/<be>/backend/<type>/<fe>/<id> */
    char lx[XSG_PATH_MAX]; /* /libxl/<fe>/device/<type>/<devid> */
    unsigned int be_id;    /* backend domain */
    unsigned int fe_id;    /* frontend domain */
    unsigned int devid;    /* device id (vbd: the virtual-device number) */
    bool vbd;              /* a vbd: libxl's extra frontend keys */
    char **extra;          /* KEY=VALUE backend keys */
    int nextra;            /* entries in extra */
};

/* Fills d's paths from TYPE BE FE DEVID (argv[0..3]). */
int xsgts_dev(struct xsgts_dev *d, char **argv);

/* Writes the device's frontend, backend and /libxl dirs in a transaction
 * with libxl's keys and permissions. */
int xsgts_add(struct xs_handle *xs, struct xsgts_dev *d);

/* Detaches like libxl: online=0 and Closing, waits for Closed, removes the
 * frontend and /libxl dirs and waits for the driver domain to remove its
 * own. -EBUSY (after removing it) if the driver domain left it; a broken
 * xenstore connection is returned as such (-ECONNRESET...). */
int xsgts_del(struct xs_handle *xs, struct xsgts_dev *d);

/* Waits until path reads one of want's "|"-separated values ("@gone":
 * absent, i.e. ENOENT). 0, -ETIMEDOUT or the connection's -errno. */
int xsgts_wait(struct xs_handle *xs, const char *path, const char *want,
               long ms);

/* Milliseconds of CLOCK_MONOTONIC. */
long xsgts_ms(void);

#endif /* DRVDOM_TESTS_SIM_XSGTS_H */
