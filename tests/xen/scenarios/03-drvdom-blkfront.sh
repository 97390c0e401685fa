#!/bin/sh
# needs: drvdom-blkfront
# drvdom's userspace blkfront against Linux's xen-blkback: the guest's disk
# is an ordinary xl disk served by dom0's kernel backend, but the guest
# loads no xen-blkfront; drvdom-blkfront (libxengntshr, libxenevtchn,
# libxenstore over /dev/xen/xenbus) connects it and runs `verify`: random
# direct and indirect writes and reads over every queue, checked against a
# shadow copy, then a flush and the whole disk read back. Pass: no error,
# every operation done, and nothing left of the guest. (320 MB: the
# verifier keeps a shadow copy of the disk, and ASan its own.)
. /share/scenarios/lib.sh
n=3000
truncate -s 32M /tmp/disk.img
TB_PROGS=/share/bin/drvdom-blkfront tb_ramdisk /tmp/blkfront.cpio blkfront \
    TB_COUNT=$n TB_SKIP_MODS=xen-blkfront
TB_MEM=320 tb_guest blkfront /tmp/blkfront.cpio "format=raw,vdev=xvda,access=rw,target=/tmp/disk.img"
domid=$(xl domid blkfront)
tb_wait blkfront 120
tb_log "blkfront: state $(tb_result blkfront state), done $(tb_result blkfront "done")," \
    "writes $(tb_result blkfront writes), errors $(tb_result blkfront errors)"
[ "$(tb_result blkfront state)" = verified ] || tb_fail "state $(tb_result blkfront state)"
[ "$(tb_result blkfront errors)" = 0 ] || tb_fail "errors"
[ "$(tb_result blkfront "done")" -ge $n ] || tb_fail "only $(tb_result blkfront "done") operations done"
tb_gone "$domid"
rm -f /tmp/disk.img
echo PASS
