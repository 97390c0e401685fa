/*
 * blkback_data_test.c - how drvdom-blkback picks its data mode: --data,
 * else DRVDOM_BLKBACK_DATA (what drvdomd's workers inherit), else the
 * platform (copy on Xen, map on the sim platform), as the real program
 * says it in --features: copy mode offers no persistent grants. A bad mode
 * is a usage error (exit 2), and so is a bad DRVDOM_BLKBACK_POLL_US (the
 * busy-poll bound drvdomd's workers inherit).
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

/* One way to start the worker and what --features must then say. */
struct dt_case {
    const char *platform; /* DRVDOM_PLATFORM */
    const char *env;      /* DRVDOM_BLKBACK_DATA, NULL: unset */
    const char *opt;      /* --data's value, NULL: not given */
    int status;           /* expected exit status */
    int persistent;       /* expected feature-persistent (status 0) */
    const char *poll;     /* DRVDOM_BLKBACK_POLL_US, NULL: unset */
};

static const struct dt_case dt_cases[] = {
    {"sim", NULL, NULL, 0, 1},           /* sim: map */
    {"xen", NULL, NULL, 0, 0},           /* Xen: copy */
    {"sim", "copy", NULL, 0, 0},         /* the environment over the platform */
    {"xen", "map", NULL, 0, 1},          /* likewise */
    {"xen", "", NULL, 0, 0},             /* empty is unset */
    {"xen", "map", "copy", 0, 0},        /* the option over the environment */
    {"sim", "copy", "map", 0, 1},        /* likewise */
    {"sim", "bogus", NULL, 2, -1},       /* a bad mode: usage */
    {"sim", NULL, "bogus", 2, -1},       /* likewise */
    {"xen", "COPY", "copy", 0, 0},       /* the environment is not read then */
    {"sim", NULL, NULL, 0, 1, "0"},      /* polling off */
    {"xen", NULL, NULL, 0, 0, "10000"},  /* the largest bound */
    {"sim", NULL, NULL, 2, -1, "10001"}, /* too large: usage */
    {"sim", NULL, NULL, 2, -1, "50us"},  /* not a number: usage */
    {"sim", NULL, NULL, 2, -1, "-1"},    /* negative: usage */
};

/* Run --features as c says; its status, its stdout in out. */
static int dt_run(const struct dt_case *c, char *out, size_t len)
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
            execl(prog, prog, "--features", "--data", c->opt, (char *)NULL);
        else
            execl(prog, prog, "--features", (char *)NULL);
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
    char out[1024], want[32];
    size_t i;
    int st;

    for (i = 0; i < ARRAY_SIZE(dt_cases); i++) {
        st = dt_run(&dt_cases[i], out, sizeof(out));
        if (st != dt_cases[i].status)
            fprintf(stderr, "case %zu: exit %d, not %d\n", i, st,
                    dt_cases[i].status);
        CU_ASSERT_EQUAL(st, dt_cases[i].status);
        if (dt_cases[i].status != 0)
            continue;
        snprintf(want, sizeof(want), "feature-persistent %d\n",
                 dt_cases[i].persistent);
        if (strstr(out, want) == NULL)
            fprintf(stderr, "case %zu: no \"%.*s\" in:\n%s", i,
                    (int)strlen(want) - 1, want, out);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "feature-max-indirect-segments"));
    }
}

int main(void)
{
    static const struct cutest tests[] = {
        {"data mode and poll bound: option, environment, platform", test_modes},
    };

    return cutest_run("blkback_data", tests, ARRAY_SIZE(tests));
}
