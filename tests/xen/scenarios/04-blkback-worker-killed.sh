#!/bin/sh
# needs: drvdomd drvdom-blkback
# drvdom-blkback killed in the middle of guest I/O: as in
# 01-drvdom-blkback-dom0, drvdomd in dom0 serves an xl-configured guest's
# xen-blkfront; the guest writes, reads back and compares 2 MiB rounds in
# 4 KiB O_DIRECT requests without pause, and the worker serving it is
# SIGKILLed three times. drvdomd restarts it with --adopt (same rings, same
# port, requests after the last response answered again). Pass: the guest
# keeps /dev/xvda, the vbd stays Connected, every round completes with the
# right data and no I/O error, dom0's kernel has nothing to complain about
# (no gntdev warning, no bad page state), and the guest leaves nothing
# behind. drvdom-blkback runs in its Xen default data mode, copy (its I/O on
# buffers of its own, never on a guest's page): with the guest's pages
# grant-mapped under in-flight O_DIRECT I/O, a SIGKILLed
# worker's exit unmapped them while the disk still held them (Linux 6.1:
# gntdev warning, bad page state, ENOMEM for the successor's writes; about
# half the runs failed, docs/testbed.md).
. /share/scenarios/lib.sh
rounds=12
be=/local/domain/0/backend/vbd
worker_changed() {
    tb_w=$(tb_worker_pid vbd "$domid" 51712)
    [ -n "$tb_w" ] && [ "$tb_w" != "$1" ]
}

tb_kernel_blkback off
tb_drvdomd vbd=drvdom-blkback
loop=$(tb_loop /tmp/disk.img 64)
tb_ramdisk /tmp/blkloop.cpio blkloop TB_ROUNDS=$rounds
tb_guest blkloop /tmp/blkloop.cpio "format=raw,vdev=xvda,access=rw,target=$loop"
domid=$(xl domid blkloop)
# Linux blkfront takes the persistent grants offered: the data goes through
# mappings the worker keeps, never under its I/O.
tb_until 30 grep -q "vbd/$domid/51712: connected: .*, data copied via own buffers, persistent grants" \
    /var/log/xen/drvdomd.log || tb_fail "the worker is not in copy mode with persistent grants"
for i in 1 2 3; do
    tb_until 60 tb_at_least blkloop round $((i * 2)) ||
        tb_fail "no progress: $(tail -3 "$(tb_console blkloop)")"
    w=$(tb_worker_pid vbd "$domid" 51712)
    [ -n "$w" ] || tb_fail "no worker run file: $(ls /run/drvdomd)"
    kill -KILL "$w"
    tb_log "kill $i: worker $w killed in round $(tb_result blkloop round)"
    tb_until 30 worker_changed "$w" || tb_fail "worker $w not restarted"
    w=$(tb_worker_pid vbd "$domid" 51712)
    tb_until 30 grep -q "worker $w connected (adopted the ring)" \
        /var/log/xen/drvdomd.log || tb_fail "worker $w did not adopt the ring"
    [ "$(xenstore-read "$be/$domid/51712/state")" = 4 ] ||
        tb_fail "vbd left Connected: $(xenstore-read "$be/$domid/51712/state")"
done
tb_wait blkloop 180
[ "$(tb_result blkloop round)" = $rounds ] ||
    tb_fail "the guest stopped at round $(tb_result blkloop round)"
! grep -E -m3 'I/O error|blk_update_request|xvda.*error' "$(tb_console blkloop)" ||
    tb_fail "the guest saw I/O errors"
! dmesg | grep -E -m3 'WARNING:|Bad page state|bad rss-counter|gntdev' ||
    tb_fail "dom0's kernel complained (dmesg above)"
tb_log "all $rounds rounds verified across 3 worker kills"
tb_gone "$domid"
tb_libxl_errors blkloop
tb_drvdomd_stop
losetup -d "$loop"
rm -f /tmp/disk.img
echo PASS
