#!/bin/sh
# Second baseline: QEMU's qdisk (a userspace backend in dom0) serves the same
# file-backed disk to the guest's xen-blkfront; same checks as
# 00-linux-blkback. Its figures are a column of the side-by-side benchmark.
. /share/scenarios/lib.sh
tb_verify_backend qdisk "format=raw,vdev=xvda,access=rw,backendtype=qdisk,"
echo PASS
