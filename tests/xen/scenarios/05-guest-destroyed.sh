#!/bin/sh
# needs: drvdomd drvdom-blkback
# A guest destroyed in the middle of I/O: drvdomd in dom0 serves an
# xl-configured guest's xen-blkfront (as in 01-drvdom-blkback-dom0), the
# guest writes and reads without pause, and dom0 runs `xl destroy`. Pass:
# within 10 s `xl list` shows dom0 alone and xenstore holds nothing of the
# guest; the worker is gone, drvdomd still runs, and its log shows the
# teardown and no error.
. /share/scenarios/lib.sh
worker_gone() { ! kill -0 "$1"; }

tb_kernel_blkback off
tb_drvdomd vbd=drvdom-blkback
loop=$(tb_loop /tmp/disk.img 64)
tb_ramdisk /tmp/blkloop.cpio blkloop TB_ROUNDS=100000
tb_guest blkloop /tmp/blkloop.cpio "format=raw,vdev=xvda,access=rw,target=$loop"
domid=$(xl domid blkloop)
tb_until 60 tb_at_least blkloop round 3 ||
    tb_fail "no progress: $(tail -3 "$(tb_console blkloop)")"
w=$(tb_worker_pid vbd "$domid" 51712)
[ -n "$w" ] || tb_fail "no worker run file: $(ls /run/drvdomd)"
tb_log "destroying the guest in round $(tb_result blkloop round) (worker $w)"
xl destroy blkloop || tb_fail "xl destroy failed"
tb_gone "$domid"
tb_log "domain $domid cleaned up"
tb_until 10 worker_gone "$w" || tb_fail "worker $w still running"
kill -0 "$TB_DRVDOMD" || tb_fail "drvdomd died"
grep -q "vbd/$domid/51712: worker $w stopped" /var/log/xen/drvdomd.log ||
    tb_fail "drvdomd did not stop the worker: $(tail -5 /var/log/xen/drvdomd.log)"
tb_libxl_errors blkloop
tb_drvdomd_stop
losetup -d "$loop"
rm -f /tmp/disk.img
echo PASS
