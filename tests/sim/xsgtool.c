/*
 * xsgtool: the toolstack side of a device for the tests (until drvdomctl
 * exists), run in dom0. It writes and removes exactly what libxl writes
 * (libxl__device_generic_add, libxl__initiate_device_generic_remove):
 *
 *   xsgtool add TYPE BE FE DEVID [KEY=VALUE ...]  (extra backend keys;
 *                                  a vbd also gets libxl's frontend keys
 *                                  virtual-device and device-type)
 *   xsgtool del TYPE BE FE DEVID   online=0, state=Closing, wait Closed,
 *                                  remove frontend and /libxl paths, wait
 *                                  for the driver domain to remove its own
 *   xsgtool wait PATH VALUE [MS]   until PATH reads VALUE (@gone: absent)
 *   xsgtool read PATH | write PATH VALUE
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/xsgts.h"

static int xsgtool_cmd(struct xs_handle *xs, int argc, char **argv)
{
    struct xsgts_dev d = {0};
    unsigned int len;
    char *v;

    if (argc >= 6 && !strcmp(argv[1], "add")) {
        xsgts_dev(&d, argv + 2);
        d.extra = argv + 6;
        d.nextra = argc - 6;
        return xsgts_add(xs, &d);
    }
    if (argc == 6 && !strcmp(argv[1], "del")) {
        xsgts_dev(&d, argv + 2);
        return xsgts_del(xs, &d);
    }
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "wait"))
        return xsgts_wait(xs, argv[2], argv[3],
                          argc == 5 ? atol(argv[4]) : XSGTS_TIMEOUT_MS);
    if (argc == 3 && !strcmp(argv[1], "read")) {
        v = xs_read(xs, XBT_NULL, argv[2], &len);
        if (!v)
            return -errno;
        printf("%s\n", v);
        free(v);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "write"))
        return xs_write(xs, XBT_NULL, argv[2], argv[3],
                        (unsigned int)strlen(argv[3]))
                   ? 0
                   : -errno;
    return -EINVAL;
}

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    int ret;

    xs = xs_open(0);
    if (!xs) {
        perror("xsgtool: xs_open");
        return 1;
    }
    ret = xsgtool_cmd(xs, argc, argv);
    xs_close(xs);
    if (ret == -EINVAL)
        fprintf(stderr, "usage: see the comment at the top of xsgtool.c\n");
    else if (ret)
        fprintf(stderr, "xsgtool %s: %s\n", argc > 1 ? argv[1] : "",
                strerror(-ret));
    return ret ? 1 : 0;
}
