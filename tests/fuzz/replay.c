/*
 * replay.c - runs a libFuzzer target without libFuzzer, so that every
 * target is built and exercised by `make check` with the project's own
 * compiler and sanitizers:
 *
 *   <target>_replay [--runs N] [--seed S] [--max-len L] [FILE|DIR]...
 *
 * Every FILE (and every file in DIR) is run as it is, then N more inputs
 * are made from them by deterministic mutation (xorshift64 seeded with S:
 * byte flips, insertions, deletions, splices of two inputs, runs of random
 * bytes), or from random bytes when no file was given. A target aborts on
 * a broken rule, so a failure is an abort with the sanitizer's report; the
 * input that did it is then written to replay-crash, to be run again as a
 * FILE. With --quiet the target's own stderr goes to replay-stderr. Prints
 * what it ran.
 */
#include "config.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_FILES 4096u

struct replay_in {
    uint8_t *data; /* the input's bytes */
    size_t len;    /* how many */
};

static struct replay_in replay_ins[REPLAY_MAX_FILES];
static unsigned replay_nins;
static uint64_t replay_state;

static uint64_t replay_rand(void)
{
    replay_state ^= replay_state << 13;
    replay_state ^= replay_state >> 7;
    replay_state ^= replay_state << 17;
    return replay_state;
}

static int replay_load(const char *path)
{
    struct replay_in *in;
    FILE *f;
    long len;

    if (replay_nins == REPLAY_MAX_FILES) {
        fprintf(stderr, "replay: more than %u inputs, %s left out\n",
                REPLAY_MAX_FILES, path);
        return 0;
    }
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    in = &replay_ins[replay_nins];
    in->data = malloc((size_t)len + 1);
    in->len = (size_t)len;
    if (in->data == NULL || fread(in->data, 1, in->len, f) != in->len) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        fclose(f);
        free(in->data);
        return -1;
    }
    fclose(f);
    replay_nins++;
    return 0;
}

/* FILE, or every regular file in DIR (sorted: the same order each run). */
static int replay_load_arg(const char *path)
{
    struct dirent **names;
    struct stat st;
    char sub[4096];
    int n, i, ret = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_load(path);
    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(sub, &st) == 0 &&
            S_ISREG(st.st_mode) && replay_load(sub) < 0)
            ret = -1;
        free(names[i]);
    }
    free(names);
    return ret;
}

/* The input running now, for the crash handler. */
static const uint8_t *volatile replay_cur;
static volatile size_t replay_cur_len;
/* Where our own messages go (stderr, or its copy with --quiet). */
static int replay_err = 2;

/*
 * A target that aborts (a broken rule, or a sanitizer's report with
 * abort_on_error, as the test environment sets) or crashes leaves the
 * input it ran in replay-crash; async-signal-safe calls only.
 */
static void replay_crashed(int sig)
{
    const uint8_t *data = replay_cur;
    size_t len = replay_cur_len;
    ssize_t n;
    int fd;

    fd = open("replay-crash", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    while (fd >= 0 && data != NULL && len > 0 &&
           (n = write(fd, data, len)) > 0) {
        data += n;
        len -= (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    (void)!write(replay_err, "replay: the input is in replay-crash\n", 37);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void replay_run(const uint8_t *data, size_t len)
{
    replay_cur = data;
    replay_cur_len = len;
    LLVMFuzzerTestOneInput(data, len);
}

/* One mutation of buf (len bytes, room for max) in place; the new length. */
static size_t replay_mutate(uint8_t *buf, size_t len, size_t max)
{
    const struct replay_in *other;
    size_t at, n, i;

    switch (replay_rand() % 6) {
    case 0: /* flip bits of a few bytes */
    case 1:
        for (i = 0; len > 0 && i < 1 + replay_rand() % 4; i++)
            buf[replay_rand() % len] ^= (uint8_t)(1u << (replay_rand() % 8));
        return len;
    case 2: /* set a byte to an interesting value */
        if (len > 0)
            buf[replay_rand() % len] = (const uint8_t[]){
                0, 1, 0x7f, 0x80, 0xff, 0x20}[replay_rand() % 6];
        return len;
    case 3: /* insert random bytes */
        n = 1 + replay_rand() % 16;
        if (len + n > max)
            return len;
        at = len ? replay_rand() % (len + 1) : 0;
        memmove(buf + at + n, buf + at, len - at);
        for (i = 0; i < n; i++)
            buf[at + i] = (uint8_t)replay_rand();
        return len + n;
    case 4: /* delete bytes */
        if (len == 0)
            return 0;
        at = replay_rand() % len;
        n = 1 + replay_rand() % (len - at);
        memmove(buf + at, buf + at + n, len - at - n);
        return len - n;
    default: /* splice: the tail of another input after a cut of ours */
        if (replay_nins == 0)
            return len;
        other = &replay_ins[replay_rand() % replay_nins];
        at = len ? replay_rand() % len : 0;
        n = other->len ? replay_rand() % other->len : 0;
        if (at + (other->len - n) > max)
            return len;
        memcpy(buf + at, other->data + n, other->len - n);
        return at + (other->len - n);
    }
}

static void replay_usage(void)
{
    fputs("usage: <target>_replay [--runs N] [--seed S] [--max-len L] "
          "[--quiet] [FILE|DIR]...\n",
          stderr);
}

/*
 * --quiet: what the target writes to stderr (a library's log line for each
 * peer that broke the protocol, a sanitizer's report) goes to the file
 * replay-stderr instead.
 */
static int replay_quiet(void)
{
    int fd = open("replay-stderr", O_WRONLY | O_CREAT | O_TRUNC, 0644);

    replay_err = dup(2);
    if (fd < 0 || replay_err < 0 || dup2(fd, 2) < 0) {
        fprintf(stderr, "replay: replay-stderr: %s\n", strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long runs = 0, seed = 1, max_len = 4096, r, k;
    bool quiet = false;
    uint8_t *buf;
    size_t len;
    int i;

    for (i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--runs") == 0)
            runs = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0)
            seed = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--max-len") == 0)
            max_len = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else if (argv[i][0] == '-') {
            replay_usage();
            return 2;
        } else if (replay_load_arg(argv[i]) < 0)
            return 2;
    }
    if (max_len == 0 || max_len > (1ul << 20)) {
        replay_usage();
        return 2;
    }
    if (quiet && replay_quiet() < 0)
        return 2;
    signal(SIGABRT, replay_crashed);
    replay_state = seed * 0x9e3779b97f4a7c15ull + 1;
    buf = malloc(max_len);
    if (buf == NULL)
        return 2;
    for (k = 0; k < replay_nins; k++)
        replay_run(replay_ins[k].data, replay_ins[k].len);
    for (r = 0; r < runs; r++) {
        if (replay_nins > 0) {
            const struct replay_in *in =
                &replay_ins[replay_rand() % replay_nins];

            len = in->len < max_len ? in->len : max_len;
            memcpy(buf, in->data, len);
        } else {
            len = replay_rand() % max_len;
            for (k = 0; k < len; k++)
                buf[k] = (uint8_t)replay_rand();
        }
        for (k = 1 + replay_rand() % 8; k > 0; k--)
            len = replay_mutate(buf, len, max_len);
        replay_run(buf, len);
    }
    printf("replay: %u input(s) and %lu mutation(s) run (seed %lu)\n",
           replay_nins, runs, seed);
    free(buf);
    for (k = 0; k < replay_nins; k++)
        free(replay_ins[k].data);
    return 0;
}
