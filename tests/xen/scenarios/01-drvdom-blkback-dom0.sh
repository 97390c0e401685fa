#!/bin/sh
# needs: drvdomd drvdom-blkback
# drvdom's blkback in dom0 serves a Linux guest's xen-blkfront. The guest is
# configured by plain `xl` with the default (phy) backend; Linux's
# xen-blkback is unloaded, so the vbd libxl writes under
# /local/domain/0/backend/vbd is drvdomd's: it goes to InitWait, libxl runs
# the block hotplug script, and drvdom-blkback serves the loop device named
# by params (see docs/xen-driver-domain.md). The guest writes and verifies
# data with O_DIRECT, makes an ext4-mounted file system, fills it, mounts it
# again and checks it; dom0 finds the data in the disk file and nothing of
# the guest left in xenstore or `xl list`.
. /share/scenarios/lib.sh
tb_kernel_blkback off
tb_drvdomd vbd=drvdom-blkback
loop=$(tb_loop /tmp/disk.img 96)
tb_ramdisk /tmp/blkfs.cpio blkfs
tb_guest blkfs /tmp/blkfs.cpio "format=raw,vdev=xvda,access=rw,target=$loop"
domid=$(xl domid blkfs)
tb_wait blkfs 120
grep -q "vbd/$domid/51712: InitWait -> Connected" /var/log/xen/drvdomd.log ||
    tb_fail "drvdomd did not serve the vbd: $(tail -5 /var/log/xen/drvdomd.log)"
tb_check_blkfs blkfs /tmp/disk.img
tb_gone "$domid"
tb_libxl_errors blkfs
tb_drvdomd_stop
losetup -d "$loop"
rm -f /tmp/disk.img
echo PASS
