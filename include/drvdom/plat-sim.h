/*
 * Sim platform extras beyond the Xen-shaped interface of platform.h: what
 * the toolstack and the tests need from drvdom-simhv (creating a domain is
 * the sim equivalent of `xl create`). Valid only on the sim platform.
 */
#ifndef DRVDOM_PLAT_SIM_H
#define DRVDOM_PLAT_SIM_H

#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>

/* Daemon counters (dom0 only); see docs/sim-platform.md. */
struct plat_sim_stats {
    uint32_t domains;  /* domains not yet released, dom0 included */
    uint32_t conns;    /* open connections */
    uint32_t ports;    /* event channel ports, all domains */
    uint32_t maps;     /* grant mappings */
    uint32_t pins;     /* mapped grant pages */
    uint32_t shares;   /* refs allocated for sharing */
    uint32_t memfds;   /* memfds held (RAM, grant tables, copy buffers) */
    uint32_t released; /* domains released since the daemon started */
};

/*
 * Spawns argv[0] (searched in PATH) with @argv as a new domain named @name
 * (dom0 only). The program inherits its connection and finds it through
 * DRVDOM_SIM_FD; -ENOENT/-EACCES when argv[0] cannot be run.
 */
int plat_sim_domain_create(const char *name, char *const argv[],
                           domid_t *domid);

/* Pid of a domain's program (0 for dom0); -ESRCH if it does not exist. */
int plat_sim_domain_pid(domid_t domid, pid_t *pid);

int plat_sim_stats(struct plat_sim_stats *st);

/* The run directory clients use: DRVDOM_SIM_RUNDIR or the default. */
const char *plat_sim_rundir(void);

#define PLAT_SIM_RUNDIR_DEFAULT "/tmp/drvdom-sim"

#endif /* DRVDOM_PLAT_SIM_H */
