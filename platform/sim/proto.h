/*
 * Wire protocol between the sim platform clients (platform/sim) and the
 * drvdom-simhv daemon. Every message is one SOCK_SEQPACKET datagram: a
 * simhv_req (client to daemon) or simhv_rep (daemon to client) header, then
 * an op-specific payload; file descriptors travel as SCM_RIGHTS. A connection
 * carries one request at a time, each answered by exactly one reply, except
 * on a domain's inherited socket, which only carries SIMHV_OP_CLONE and is
 * never answered. See docs/sim-platform.md.
 */
#ifndef DRVDOM_SIM_PROTO_H
#define DRVDOM_SIM_PROTO_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/sched.h>

#define SIMHV_SOCK_NAME "simhv.sock"
/* A domain's xenstore socket, in <run-dir>/dom<N>/ (XENSTORED_PATH). */
#define SIMHV_XS_SOCK_NAME   "xenstored.sock"
#define SIMHV_MSG_MAX        16384u /* largest request or reply, bytes */
#define SIMHV_MAX_FDS        2u     /* fds per message */
#define SIMHV_PAGE_SIZE      4096u
#define SIMHV_RAM_PAGES      65536u /* 256 MiB sparse RAM per domain */
#define SIMHV_GNTTAB_ENTRIES 32768u /* grant_entry_v1_t per domain */
#define SIMHV_MAX_PORTS      1024u  /* event channel ports per domain */
#define SIMHV_MAP_MAX        1024u  /* refs per map or share request */
#define SIMHV_COPY_MAX       256u   /* segments per copy request */
#define SIMHV_LIST_MAX       64u    /* domains per list reply */
#define SIMHV_ARGV_MAX       4096u  /* bytes of name + argv in a create */

enum simhv_op {
    SIMHV_OP_CLONE = 1,   /* fd: a new connection of the sender's domain */
    SIMHV_OP_HELLO,       /* -> val0 = our domid */
    SIMHV_OP_MEM,         /* -> fds: RAM memfd, grant table memfd */
    SIMHV_OP_SHARE_ALLOC, /* count -> count refs, val0 = first frame */
    SIMHV_OP_SHARE_FREE,  /* count refs: end of a share */
    SIMHV_OP_MAP,         /* arg0 domid, arg1 writable, count refs
                           * -> id, count frames, fd: granter RAM */
    SIMHV_OP_UNMAP,       /* id */
    SIMHV_OP_COPYBUF,     /* -> fd: this connection's bounce buffer */
    SIMHV_OP_COPY,        /* count simhv_copyseg -> count statuses */
    SIMHV_OP_EVT_ALLOC,   /* arg0 remote domid -> val0 port, fds in, out */
    SIMHV_OP_EVT_BIND,    /* arg0 remote domid, arg1 remote port
                           * -> val0 port, fds in, out */
    SIMHV_OP_EVT_UNBIND,  /* arg0 port */
    SIMHV_OP_DOM_INFO,    /* arg0 domid -> one simhv_dominfo */
    SIMHV_OP_DOM_LIST,    /* arg0 first domid -> count simhv_dominfo */
    SIMHV_OP_DOM_CREATE,  /* count strings: name, argv... -> val0 domid */
    SIMHV_OP_DOM_DESTROY, /* arg0 domid */
    SIMHV_OP_STATS,       /* -> simhv_stats */
};

struct simhv_req {
    uint32_t op;    /* enum simhv_op */
    uint32_t count; /* number of payload items */
    uint32_t arg0;  /* op-specific */
    uint32_t arg1;  /* op-specific */
    uint64_t id;    /* mapping id (UNMAP) */
};

struct simhv_rep {
    int32_t err;    /* 0 or -errno */
    uint32_t count; /* number of payload items */
    uint32_t val0;  /* op-specific */
    uint32_t val1;  /* op-specific */
    uint64_t id;    /* mapping id (MAP) */
};

/* One grant copy segment. A side without its GNTCOPY_*_gref flag is the
 * client's bounce buffer slot number @slot (SIMHV_PAGE_SIZE bytes each). */
struct simhv_copyside {
    uint32_t ref;    /* grant ref, or slot when not a gref side */
    uint16_t offset; /* byte offset in the page (gref side) */
    uint16_t domid;  /* granting domain (gref side) */
};

struct simhv_copyseg {
    struct simhv_copyside src; /* source */
    struct simhv_copyside dst; /* destination */
    uint16_t len;              /* bytes */
    uint16_t flags;            /* GNTCOPY_source_gref | GNTCOPY_dest_gref */
    uint32_t pad;              /* zero */
};

enum simhv_domstate {
    SIMHV_DOM_RUNNING = 0, /* process alive */
    SIMHV_DOM_SHUTDOWN,    /* exited with status 0: SHUTDOWN_poweroff */
    SIMHV_DOM_CRASHED,     /* killed by a signal or non-zero exit */
};

struct simhv_dominfo {
    uint16_t domid;  /* domain id */
    uint8_t state;   /* enum simhv_domstate */
    uint8_t dying;   /* 1 from exit until released */
    uint32_t reason; /* SHUTDOWN_* when not running */
    int32_t pid;     /* process id of the domain's program, 0 for dom0 */
    int32_t status;  /* wait status once exited */
    char name[64];   /* NUL-terminated name */
};

struct simhv_stats {
    uint32_t domains;  /* domains not yet released, dom0 included */
    uint32_t conns;    /* open connections */
    uint32_t ports;    /* event channel ports, all domains */
    uint32_t maps;     /* grant mappings */
    uint32_t pins;     /* mapped grant pages */
    uint32_t shares;   /* refs allocated for sharing */
    uint32_t memfds;   /* RAM and grant table memfds held */
    uint32_t released; /* domains released since start */
};

/* Grant entry flags and domid as the one 32-bit word Xen updates with a
 * cmpxchg (flags in the low half on little-endian). */
static inline uint32_t *simhv_gnt_word(grant_entry_v1_t *e)
{
    return (uint32_t *)(void *)e;
}

static inline uint32_t simhv_gnt_pack(uint16_t flags, domid_t domid)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint32_t)flags | ((uint32_t)domid << 16);
#else
    return ((uint32_t)flags << 16) | (uint32_t)domid;
#endif
}

static inline uint16_t simhv_gnt_flags(uint32_t word)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint16_t)(word & 0xffff);
#else
    return (uint16_t)(word >> 16);
#endif
}

static inline domid_t simhv_gnt_domid(uint32_t word)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (domid_t)(word >> 16);
#else
    return (domid_t)(word & 0xffff);
#endif
}

#endif /* DRVDOM_SIM_PROTO_H */
