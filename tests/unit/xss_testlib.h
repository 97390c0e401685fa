/*
 * xss_testlib.h: helpers shared by the xenstore server's unit tests
 * (xss_test.c, xss_wire_test.c): a server on a private event loop and raw
 * wire-protocol clients over socketpairs adopted with xss_conn_add().
 */
#ifndef DRVDOM_XSS_TESTLIB_H
#define DRVDOM_XSS_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/Basic.h>

#include "tests/unit/cutest.h"
#include <xen/io/xs_wire.h>

#include "tools/simhv/xenstored/xss.h"

#define XT_MAX_EVENTS  64
#define XT_PUMP_ROUNDS 64

struct xt_event {
    char path[256]; /* event path */
    char token[64]; /* event token */
};

struct xt_cli {
    int fd;                                   /* our end of the socketpair */
    char in[2 * (16 + XENSTORE_PAYLOAD_MAX)]; /* received, unparsed */
    size_t in_len;                            /* bytes in in */
    struct xt_event ev[XT_MAX_EVENTS];        /* watch events not yet taken */
    unsigned int nev;                         /* entries in ev */
    char rep[XENSTORE_PAYLOAD_MAX + 1]; /* last reply payload, nul added */
    uint32_t rlen;                      /* bytes in rep */
};

extern struct event_base *xt_base;
extern struct xss_server *xt_srv;

void xt_start(const char *const *quotas);
void xt_stop(void);
void xt_pump(void);
struct xt_cli *xt_connect(domid_t domid);
void xt_send(struct xt_cli *c, uint32_t type, uint32_t tx, const void *body,
             uint32_t len);
int xt_recv(struct xt_cli *c, struct xsd_sockmsg *h);
int xt_req(struct xt_cli *c, uint32_t type, uint32_t tx, const void *body,
           uint32_t len);
int xt_op(struct xt_cli *c, uint32_t type, uint32_t tx, ...);
int xt_write(struct xt_cli *c, uint32_t tx, const char *path, const char *val);
int xt_read(struct xt_cli *c, uint32_t tx, const char *path);
struct xt_event *xt_event(struct xt_cli *c);
void xt_expect_event(struct xt_cli *c, const char *path, const char *token);
void xt_set_perms(struct xt_cli *c, const char *path, const char *p0,
                  const char *p1);
void xt_set_perms_tx(struct xt_cli *c, uint32_t tx, const char *path,
                     const char *p0);
const char *xt_dir(struct xt_cli *c, const char *path);
uint32_t xt_txn(struct xt_cli *c);
struct xt_cli *xt_connect_sndbuf(domid_t domid, int sndbuf);

#endif /* DRVDOM_XSS_TESTLIB_H */
