/*
 * blkback_data_test.c - how drvdom-blkback picks its data mode: --data,
 * else DRVDOM_BLKBACK_DATA (what drvdomd's workers inherit), else the
 * platform (copy on Xen, map on the sim platform), and its busy-poll bound
 * (DRVDOM_BLKBACK_POLL_US, else the platform's), as the real program says
 * them in --settings. A bad mode is a usage error (exit 2), and so is a bad
 * DRVDOM_BLKBACK_POLL_US. --features, what drvdomd writes at probe, is the
 * same in both modes (persistent grants offered).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One way to start the worker and what --settings must then say. */
struct dt_case {
    const char *platform; /* DRVDOM_PLATFORM */
    const char *env;      /* DRVDOM_BLKBACK_DATA, NULL: unset */
    const char *opt;      /* --data's value, NULL: not given */
    int status;           /* expected exit status */
    const char *data;     /* expected data mode (status 0) */
    const char *poll;     /* DRVDOM_BLKBACK_POLL_US, NULL: unset */
    int poll_us;          /* expected poll-us (status 0) */
};

static const struct dt_case dt_cases[] = {
    {"sim", NULL, NULL, 0, "map", NULL, 50},        /* sim: map */
    {"xen", NULL, NULL, 0, "copy", NULL, 1000},     /* Xen: copy */
    {"sim", "copy", NULL, 0, "copy", NULL, 50},     /* env over platform */
    {"xen", "map", NULL, 0, "map", NULL, 1000},     /* likewise */
    {"xen", "", NULL, 0, "copy", NULL, 1000},       /* empty is unset */
    {"xen", "map", "copy", 0, "copy", NULL, 1000},  /* option over env */
    {"sim", "copy", "map", 0, "map", NULL, 50},     /* likewise */
    {"sim", "bogus", NULL, 2, NULL, NULL, 0},       /* a bad mode: usage */
    {"sim", NULL, "bogus", 2, NULL, NULL, 0},       /* likewise */
    {"xen", "COPY", "copy", 0, "copy", NULL, 1000}, /* env not read then */
    {"sim", NULL, NULL, 0, "map", "0", 0},          /* polling off */
    {"xen", NULL, NULL, 0, "copy", "10000", 10000}, /* the largest bound */
    {"sim", NULL, NULL, 2, NULL, "10001", 0},       /* too large: usage */
    {"sim", NULL, NULL, 2, NULL, "50us", 0},        /* not a number: usage */
    {"sim", NULL, NULL, 2, NULL, "-1", 0},          /* negative: usage */
};

/* Run the program with what (--settings or --features) as c says; its
 * status, its stdout in out. */
static int dt_run(const struct dt_case *c, const char *what, char *out,
                  size_t len)
{
    const char *bd = getenv("DRVDOM_BUILDDIR");
    char prog[512];
    int pfd[2], status = -1;
    ssize_t n, got = 0;
    pid_t pid;

    snprintf(prog, sizeof(prog), "%s/backend/blk/drvdom-blkback",
             bd ? bd : ".");
    if (pipe(pfd) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        setenv("DRVDOM_PLATFORM", c->platform, 1);
        unsetenv("DRVDOM_SIM_FD");
        if (c->env != NULL)
            setenv("DRVDOM_BLKBACK_DATA", c->env, 1);
        else
            unsetenv("DRVDOM_BLKBACK_DATA");
        if (c->poll != NULL)
            setenv("DRVDOM_BLKBACK_POLL_US", c->poll, 1);
        else
            unsetenv("DRVDOM_BLKBACK_POLL_US");
        if (dup2(pfd[1], 1) < 0)
            _exit(126);
        if (c->opt != NULL)
            execl(prog, prog, what, "--data", c->opt, (char *)NULL);
        else
            execl(prog, prog, what, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    while (got < (ssize_t)len - 1 &&
           (n = read(pfd[0], out + got, len - 1 - (size_t)got)) > 0)
        got += n;
    out[got] = '\0';
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_modes(void)
{
    char out[1024], want[64];
    size_t i;
    int st;

    for (i = 0; i < ARRAY_SIZE(dt_cases); i++) {
        st = dt_run(&dt_cases[i], "--settings", out, sizeof(out));
        if (st != dt_cases[i].status)
            fprintf(stderr, "case %zu: exit %d, not %d\n", i, st,
                    dt_cases[i].status);
        CU_ASSERT_EQUAL(st, dt_cases[i].status);
        if (dt_cases[i].status != 0)
            continue;
        snprintf(want, sizeof(want), "data %s\npoll-us %d\n", dt_cases[i].data,
                 dt_cases[i].poll_us);
        if (strcmp(out, want) != 0)
            fprintf(stderr, "case %zu: \"%s\", not \"%s\"\n", i, out, want);
        CU_ASSERT_STRING_EQUAL(out, want);
    }
}

/* What drvdomd writes at probe does not depend on the data mode. */
static void test_features(void)
{
    char out[2][1024];
    int st[2];

    st[0] = dt_run(&dt_cases[0], "--features", out[0], sizeof(out[0]));
    st[1] = dt_run(&dt_cases[1], "--features", out[1], sizeof(out[1]));
    CU_ASSERT_EQUAL(st[0], 0);
    CU_ASSERT_EQUAL(st[1], 0);
    CU_ASSERT_STRING_EQUAL(out[0], out[1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(out[0], "feature-persistent 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out[0], "feature-max-indirect-segments"));
}

int main(void)
{
    static const struct cutest tests[] = {
        {"data mode and poll bound: option, environment, platform", test_modes},
        {"--features the same in both data modes", test_features},
    };

    return cutest_run("blkback_data", tests, ARRAY_SIZE(tests));
}
