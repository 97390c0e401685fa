/*
 * worker-args: the command line every drvdomd worker takes (drvdomd's
 * drvdomd_child writes it) and the mapping of the device's request journal
 * (see worker-args.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/worker-args.h"

/* A decimal number in [0, max], or -EINVAL. */
long worker_args_num(const char *s, unsigned long max)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -EINVAL;
    return (long)v;
}

int worker_args_data(const char *s, enum worker_data *data)
{
    if (strcmp(s, "map") == 0)
        *data = WORKER_DATA_MAP;
    else if (strcmp(s, "copy") == 0)
        *data = WORKER_DATA_COPY;
    else
        return -EINVAL;
    return 0;
}

/* One option's value into a. 0 or -EINVAL. */
static int worker_args_opt(struct worker_args *a, int c, const char *arg,
                           unsigned int max_poll_us)
{
    long v = 0;

    if (strchr("fdsjP", c) != NULL) {
        v = worker_args_num(arg, c == 'f'   ? UINT16_MAX
                                 : c == 'P' ? max_poll_us
                                            : INT32_MAX);
        if (v < 0)
            return -EINVAL;
    }
    switch (c) {
    case 'F':
        a->features = true;
        break;
    case 'h':
        a->help = true;
        break;
    case 'S':
        a->settings = true;
        break;
    case 't':
        a->type = arg;
        break;
    case 'f':
        a->fe = (uint16_t)v;
        break;
    case 'd':
        a->devid = (unsigned int)v;
        break;
    case 'b':
        a->be_path = arg;
        break;
    case 'p':
        a->fe_path = arg;
        break;
    case 's':
        a->status_fd = (int)v;
        break;
    case 'j':
        a->journal_fd = (int)v;
        break;
    case 'P':
        a->poll_us = (int)v;
        break;
    case 'D':
        return worker_args_data(arg, &a->data);
    case 'a':
        a->adopt = true;
        break;
    default:
        return -EINVAL;
    }
    return 0;
}

int worker_args_parse(struct worker_args *a, int argc, char **argv,
                      const char *type, unsigned int max_poll_us)
{
    static const struct option opts[] = {
        {"features", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {"settings", no_argument, NULL, 'S'},
        {"type", required_argument, NULL, 't'},
        {"fe", required_argument, NULL, 'f'},
        {"devid", required_argument, NULL, 'd'},
        {"backend-path", required_argument, NULL, 'b'},
        {"frontend-path", required_argument, NULL, 'p'},
        {"status-fd", required_argument, NULL, 's'},
        {"journal-fd", required_argument, NULL, 'j'},
        {"poll-us", required_argument, NULL, 'P'},
        {"data", required_argument, NULL, 'D'},
        {"adopt", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(a, 0, sizeof(*a));
    a->status_fd = a->journal_fd = a->poll_us = -1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (worker_args_opt(a, c, optarg, max_poll_us) < 0)
            return -EINVAL;
    if (optind != argc || (a->type && strcmp(a->type, type) != 0))
        return -EINVAL;
    if (a->features || a->help || a->settings)
        return 0;
    return a->be_path && a->fe_path && a->status_fd >= 0 ? 0 : -EINVAL;
}

int worker_journal_map(int fd, size_t len, void **addr)
{
    struct stat st;
    void *p;

    if (fstat(fd, &st) < 0 ||
        ((size_t)st.st_size < len && ftruncate(fd, (off_t)len) < 0))
        return -errno;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *addr = p;
    return 0;
}
