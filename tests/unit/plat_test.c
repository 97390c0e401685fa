/*
 * platform/ seam: selection (names, auto detection override, no switching
 * once chosen) and dispatch to the selected ops table, with a fake linked at
 * the seam that records calls and injects failures.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "platform/plat-private.h"
#include "tests/unit/cutest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int fake_calls;      /* calls that reached the fake */
static int fake_fail;       /* -errno the next call returns, 0 for none */
static domid_t fake_domid;  /* last domid seen */
static uint32_t fake_count; /* last count seen */
static int fake_handle;     /* what the fake's handles point to */

static int fake_ret(void)
{
    int ret = fake_fail;

    fake_calls++;
    fake_fail = 0;
    return ret;
}

static int fake_open(void **h)
{
    *h = &fake_handle;
    return fake_ret();
}

static void fake_close(void *h)
{
    CU_ASSERT_PTR_EQUAL(h, &fake_handle);
    fake_calls++;
}

static int fake_map(void *h, domid_t domid, uint32_t count,
                    const grant_ref_t *refs, bool writable, void **addr)
{
    (void)refs;
    (void)writable;
    CU_ASSERT_PTR_EQUAL(h, &fake_handle);
    fake_domid = domid;
    fake_count = count;
    *addr = &fake_handle;
    return fake_ret();
}

static int fake_unmap(void *h, void *addr, uint32_t count)
{
    (void)h;
    (void)addr;
    fake_count = count;
    return fake_ret();
}

static int fake_copy(void *h, uint32_t count, struct plat_gntcopy_seg *segs)
{
    (void)h;
    (void)segs;
    fake_count = count;
    return fake_ret();
}

static int fake_share(void *h, domid_t domid, uint32_t count, grant_ref_t *refs,
                      bool writable, void **addr)
{
    (void)writable;
    return fake_map(h, domid, count, refs, false, addr);
}

static int fake_fd(void *h)
{
    (void)h;
    return 42;
}

static int fake_bind_unbound(void *h, domid_t remote, evtchn_port_t *port)
{
    (void)h;
    fake_domid = remote;
    *port = 7;
    return fake_ret();
}

static int fake_bind(void *h, domid_t remote, evtchn_port_t rport,
                     evtchn_port_t *port)
{
    (void)h;
    fake_domid = remote;
    *port = rport + 1;
    return fake_ret();
}

static int fake_port(void *h, evtchn_port_t port)
{
    (void)h;
    fake_count = port;
    return fake_ret();
}

static int fake_pending(void *h, evtchn_port_t *port)
{
    (void)h;
    *port = 9;
    return fake_ret();
}

static int fake_self(domid_t *domid)
{
    *domid = 3;
    return fake_ret();
}

static int fake_info(domid_t domid, struct plat_dominfo *info)
{
    memset(info, 0, sizeof(*info));
    info->domid = domid;
    return fake_ret();
}

static int fake_list(struct plat_dominfo *info, unsigned int max)
{
    (void)info;
    fake_count = max;
    return fake_fail ? fake_ret() : (fake_ret(), 1);
}

static int fake_destroy(domid_t domid)
{
    fake_domid = domid;
    return fake_ret();
}

static const struct plat_ops fake_ops = {
    .name = "fake",
    .gnttab_open = fake_open,
    .gnttab_close = fake_close,
    .gnttab_map = fake_map,
    .gnttab_unmap = fake_unmap,
    .gnttab_copy = fake_copy,
    .gntshr_open = fake_open,
    .gntshr_close = fake_close,
    .gntshr_share = fake_share,
    .gntshr_unshare = fake_unmap,
    .evtchn_open = fake_open,
    .evtchn_close = fake_close,
    .evtchn_fd = fake_fd,
    .evtchn_bind_unbound = fake_bind_unbound,
    .evtchn_bind_interdomain = fake_bind,
    .evtchn_notify = fake_port,
    .evtchn_pending = fake_pending,
    .evtchn_unmask = fake_port,
    .evtchn_unbind = fake_port,
    .domid_self = fake_self,
    .domain_info = fake_info,
    .domain_list = fake_list,
    .domain_destroy = fake_destroy,
};

static void test_parse(void)
{
    static const struct {
        const char *name;
        int ret;
        enum plat_kind kind;
    } cases[] = {
        {"auto", 0, PLAT_AUTO},      {"xen", 0, PLAT_XEN},
        {"sim", 0, PLAT_SIM},        {"", -EINVAL, PLAT_AUTO},
        {"Xen", -EINVAL, PLAT_AUTO}, {"simx", -EINVAL, PLAT_AUTO},
        {NULL, -EINVAL, PLAT_AUTO},
    };
    enum plat_kind kind;
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        kind = PLAT_AUTO;
        CU_ASSERT_EQUAL(plat_kind_parse(cases[i].name, &kind), cases[i].ret);
        CU_ASSERT_EQUAL(kind, cases[i].kind);
    }
    CU_ASSERT_STRING_EQUAL(plat_kind_name(PLAT_XEN), "xen");
    CU_ASSERT_STRING_EQUAL(plat_kind_name(PLAT_SIM), "sim");
}

static void test_select(void)
{
    plat_set_ops(NULL);
    /* Inside a sim domain, auto means sim whatever the host is. */
    setenv("DRVDOM_SIM_FD", "3", 1);
    CU_ASSERT_EQUAL(plat_select(PLAT_AUTO), 0);
    CU_ASSERT_EQUAL(plat_current(), PLAT_SIM);
    CU_ASSERT_EQUAL(plat_select(PLAT_SIM), 0);
    CU_ASSERT_EQUAL(plat_select(PLAT_XEN), -EBUSY);
    CU_ASSERT_EQUAL(plat_select_name("xen"), -EBUSY);
    CU_ASSERT_EQUAL(plat_select_name("bogus"), -EINVAL);
    CU_ASSERT_EQUAL(plat_select((enum plat_kind)17), -EINVAL);
    unsetenv("DRVDOM_SIM_FD");
    plat_set_ops(NULL);
    setenv("DRVDOM_PLATFORM", "xen", 1);
    CU_ASSERT_EQUAL(plat_select(PLAT_AUTO), 0);
    CU_ASSERT_EQUAL(plat_current(), PLAT_XEN);
    unsetenv("DRVDOM_PLATFORM");
    plat_set_ops(NULL);
    CU_ASSERT_EQUAL(plat_select_name("sim"), 0);
    CU_ASSERT_EQUAL(plat_current(), PLAT_SIM);
    /* An explicit choice is inherited by the programs we run. */
    CU_ASSERT_STRING_EQUAL(getenv("DRVDOM_PLATFORM"), "sim");
    unsetenv("DRVDOM_PLATFORM");
    plat_set_ops(NULL);
    CU_ASSERT_EQUAL(plat_select(PLAT_AUTO), 0);
    CU_ASSERT_PTR_NULL(getenv("DRVDOM_PLATFORM"));
}

static void test_dispatch(void)
{
    struct plat_gntcopy_seg seg = {0};
    struct plat_dominfo info;
    struct plat_gnttab *gt;
    struct plat_gntshr *gs;
    struct plat_evtchn *ec;
    grant_ref_t refs[3] = {1, 2, 3};
    evtchn_port_t port;
    domid_t self;
    void *addr;

    plat_set_ops(&fake_ops);
    fake_fail = -ENOENT;
    CU_ASSERT_EQUAL(plat_gnttab_open(&gt), -ENOENT);
    CU_ASSERT_EQUAL_FATAL(plat_gnttab_open(&gt), 0);
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 5, 3, refs, true, &addr), 0);
    CU_ASSERT_EQUAL(fake_domid, 5);
    CU_ASSERT_EQUAL(fake_count, 3);
    /* Bad arguments stop at the seam. */
    fake_calls = 0;
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 5, 0, refs, true, &addr), -EINVAL);
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 5, 1, NULL, true, &addr), -EINVAL);
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, NULL, 1), -EINVAL);
    CU_ASSERT_EQUAL(plat_gnttab_copy(gt, 1, NULL), -EINVAL);
    CU_ASSERT_EQUAL(fake_calls, 0);
    fake_fail = -EINVAL;
    CU_ASSERT_EQUAL(plat_gnttab_map(gt, 5, 1, refs, false, &addr), -EINVAL);
    CU_ASSERT_EQUAL(plat_gnttab_unmap(gt, addr, 3), 0);
    CU_ASSERT_EQUAL(plat_gnttab_copy(gt, 1, &seg), 0);
    plat_gnttab_close(gt);
    plat_gnttab_close(NULL);

    CU_ASSERT_EQUAL_FATAL(plat_gntshr_open(&gs), 0);
    CU_ASSERT_EQUAL(plat_gntshr_share(gs, 4, 2, refs, true, &addr), 0);
    CU_ASSERT_EQUAL(fake_domid, 4);
    CU_ASSERT_EQUAL(plat_gntshr_share(gs, 4, 0, refs, true, &addr), -EINVAL);
    fake_fail = -EBUSY;
    CU_ASSERT_EQUAL(plat_gntshr_unshare(gs, addr, 2), -EBUSY);
    plat_gntshr_close(gs);

    CU_ASSERT_EQUAL_FATAL(plat_evtchn_open(&ec), 0);
    CU_ASSERT_EQUAL(plat_evtchn_fd(ec), 42);
    CU_ASSERT_EQUAL(plat_evtchn_bind_unbound(ec, 6, &port), 0);
    CU_ASSERT_EQUAL(port, 7);
    CU_ASSERT_EQUAL(plat_evtchn_bind_interdomain(ec, 6, 10, &port), 0);
    CU_ASSERT_EQUAL(port, 11);
    CU_ASSERT_EQUAL(plat_evtchn_notify(ec, 11), 0);
    CU_ASSERT_EQUAL(fake_count, 11);
    fake_fail = -EAGAIN;
    CU_ASSERT_EQUAL(plat_evtchn_pending(ec, &port), -EAGAIN);
    CU_ASSERT_EQUAL(plat_evtchn_unmask(ec, 11), 0);
    CU_ASSERT_EQUAL(plat_evtchn_unbind(ec, 11), 0);
    plat_evtchn_close(ec);

    CU_ASSERT_EQUAL(plat_domid_self(&self), 0);
    CU_ASSERT_EQUAL(self, 3);
    CU_ASSERT_EQUAL(plat_domain_info(8, &info), 0);
    CU_ASSERT_EQUAL(info.domid, 8);
    CU_ASSERT_EQUAL(plat_domain_list(&info, 1), 1);
    fake_fail = -EPERM;
    CU_ASSERT_EQUAL(plat_domain_destroy(8), -EPERM);
    CU_ASSERT_EQUAL(plat_current(), PLAT_AUTO); /* a fake is neither */
    plat_set_ops(NULL);
}

int main(void)
{
    static const struct cutest tests[] = {
        {"parse", test_parse},
        {"select", test_select},
        {"dispatch", test_dispatch},
    };

    return cutest_run("plat", tests, sizeof(tests) / sizeof(tests[0]));
}
