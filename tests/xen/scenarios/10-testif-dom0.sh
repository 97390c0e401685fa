#!/bin/sh
# needs: drvdomd testdev_back testdev_front xsgtool
# drvdom on real Xen, without blkback: drvdomd serves the testif device type
# in dom0 (worker testdev_back, xen platform: libxengnttab, libxenevtchn,
# xenstored), a PV guest runs testdev_front as a userspace frontend
# (libxengntshr shares its ring, libxenevtchn binds its port, libxenstore
# over /dev/xen/xenbus), and dom0 attaches the device with xsgtool, which
# writes what libxl writes. Pass: every one of the guest's requests got
# exactly one correct response, and the guest's death leaves nothing in
# xenstore or `xl list`.
. /share/scenarios/lib.sh
n=20000
tb_drvdomd testif=testdev_back
TB_PROGS="/share/bin/testdev_front /share/bin/xsgtool" \
    tb_ramdisk /tmp/testif.cpio testif TB_COUNT=$n TB_DEVID=1
tb_guest testif /tmp/testif.cpio
domid=$(xl domid testif)
xsgtool add testif 0 "$domid" 1 || tb_fail "xsgtool add failed"
tb_log "testif device 1 of domain $domid attached"
tb_wait testif 120
ndone=$(tb_result testif "done")
tb_log "guest: state $(tb_result testif state), done $ndone," \
    "errors $(tb_result testif errors), sent $(tb_result testif sent)"
[ "$(tb_result testif state)" = "done" ] || tb_fail "frontend state $(tb_result testif state)"
[ "$ndone" = $n ] || tb_fail "$ndone of $n requests answered"
[ "$(tb_result testif errors)" = 0 ] || tb_fail "wrong responses"
grep -q "testif/$domid/1: .*Connected" /var/log/xen/drvdomd.log ||
    tb_fail "drvdomd never connected the device: $(tail -5 /var/log/xen/drvdomd.log)"
# libxl tears down only the device kinds it knows (not testif) when a
# domain goes: xsgtool, testif's toolstack, detaches the way libxl does.
xsgtool del testif 0 "$domid" 1 || tb_fail "detach after the guest ended failed"
tb_gone "$domid"
tb_log "domain $domid cleaned up"
tb_drvdomd_stop
echo PASS
