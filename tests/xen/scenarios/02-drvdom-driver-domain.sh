#!/bin/sh
# needs: drvdomd drvdom-blkback xsgtool
# drvdom's blkback in a driver domain: an unprivileged PV domain "dd"
# (driver_domain=1, no xen-blkback loaded, no `xl devd`) runs drvdomd
# serving vbd with drvdom-blkback on a loop device of its own; a Linux
# guest configured by plain `xl` with backend=dd gets /dev/xvda from it
# (docs/xen-driver-domain.md). The guest verifies O_DIRECT data and an ext4
# file system; the driver domain's disk then holds the data. drvdom works
# within the xenstore permissions libxl gives a driver domain: no
# "Permission denied" in its log, its backend directory removed at detach,
# nothing of the guest left in xenstore.
. /share/scenarios/lib.sh
absent() { ! xenstore-exists "$1"; }

TB_PROGS="/share/bin/drvdomd /share/bin/drvdom-blkback /share/bin/xsgtool" \
    tb_ramdisk /tmp/dd.cpio drvdomd TB_MIB=64
TB_MEM=320 TB_XL="driver_domain=1" tb_guest dd /tmp/dd.cpio
dd=$(xl domid dd)
tb_until 60 tb_at_least dd ready 1 ||
    tb_fail "drvdomd did not start in the driver domain: $(tail -5 "$(tb_console dd)")"
tb_log "driver domain $dd serves vbd"
tb_ramdisk /tmp/blkfs.cpio blkfs
tb_guest blkfs /tmp/blkfs.cpio "format=raw,vdev=xvda,access=rw,backend=dd,target=/dev/loop0"
domid=$(xl domid blkfs)
be=/local/domain/$dd/backend/vbd/$domid/51712
xenstore-ls -p "$be" 2>&1 | head -3
tb_wait blkfs 150
tb_log "guest: written $(tb_result blkfs written), fs $(tb_result blkfs fs)"
[ "$(tb_result blkfs written)" = "$(tb_result blkfs readback)" ] ||
    tb_fail "data read back differ from data written"
[ "$(tb_result blkfs fs)" = ok ] || tb_fail "the file system check failed"
tb_libxl_errors blkfs
tb_until 10 absent "/local/domain/$domid" ||
    tb_fail "the guest's xenstore directory stayed"
tb_until 10 absent "/local/domain/$dd/backend/vbd/$domid" ||
    tb_fail "the backend directory stayed: $(xenstore-ls -f "/local/domain/$dd/backend")"
xenstore-write "/local/domain/$dd/data/tb-stop" 1
tb_wait dd 60
grep drvdomd: "$(tb_console dd)"
! grep -i -m3 'permission denied\|EACCES' "$(tb_console dd)" ||
    tb_fail "drvdom met a permission error in the driver domain"
[ "$(tb_result dd drvdomd_exit)" = 0 ] || tb_fail "drvdomd exited with $(tb_result dd drvdomd_exit)"
[ "$(tb_result dd tail)" = "$(tb_result blkfs written)" ] ||
    tb_fail "the driver domain's disk does not hold the data written"
tb_gone "$domid"
echo PASS
