#!/bin/sh
# Baseline, needing nothing of drvdom: Linux's own xen-blkback in dom0 serves
# a file-backed disk (loop device set up by the block hotplug script) to a
# Linux guest's xen-blkfront; the data the guest writes with O_DIRECT must
# read back and be in the file. When this fails, the testbed is broken.
. /share/scenarios/lib.sh
tb_verify_backend vbd "format=raw,vdev=xvda,access=rw,"
echo PASS
