#!/bin/sh
# needs: drvdomd testdev_back testdev_front xsgtool
# drvdomd's transparent worker restart on real Xen: as in 10-testif-dom0,
# a guest's userspace frontend keeps its testif ring full, and the worker
# serving it in dom0 is killed (SIGKILL) three times mid-traffic. drvdomd
# restarts it with --adopt: it maps the ring again, binds the frontend's
# port again (the port the dead worker's evtchn handle closed is unbound on
# Xen and re-bindable) and resumes. Pass: the device stays Connected,
# traffic resumes after each kill, and when dom0 stops the guest every
# request got exactly one correct response.
. /share/scenarios/lib.sh
be_state() { xenstore-read "/local/domain/0/backend/testif/$domid/1/state"; }
fe_state() { xenstore-read "/local/domain/$domid/device/testif/1/state"; }
worker_changed() {
    tb_w=$(tb_worker_pid testif "$domid" 1)
    [ -n "$tb_w" ] && [ "$tb_w" != "$1" ]
}

tb_drvdomd testif=testdev_back
TB_PROGS="/share/bin/testdev_front /share/bin/xsgtool" \
    tb_ramdisk /tmp/testif.cpio testif TB_COUNT=0 TB_DEVID=1
tb_guest testif /tmp/testif.cpio
domid=$(xl domid testif)
xsgtool add testif 0 "$domid" 1 || tb_fail "xsgtool add failed"
tb_until 60 tb_at_least testif "done" 2000 ||
    tb_fail "no traffic: $(tail -5 "$(tb_console testif)")"
for i in 1 2 3; do
    w=$(tb_worker_pid testif "$domid" 1)
    [ -n "$w" ] || tb_fail "no worker run file: $(ls /run/drvdomd)"
    d=$(tb_result testif "done")
    kill -KILL "$w"
    tb_log "kill $i: worker $w killed after $d responses"
    tb_until 30 worker_changed "$w" || tb_fail "worker $w not restarted"
    w=$(tb_worker_pid testif "$domid" 1)
    tb_until 30 grep -q "worker $w connected (adopted the ring)" \
        /var/log/xen/drvdomd.log || tb_fail "worker $w did not adopt the ring"
    d=$(tb_result testif "done")
    tb_until 30 tb_at_least testif "done" $((d + 2000)) ||
        tb_fail "traffic did not resume after kill $i: $(tail -3 "$(tb_console testif)")"
    { [ "$(be_state)" = 4 ] && [ "$(fe_state)" = 4 ]; } ||
        tb_fail "device left Connected: backend $(be_state), frontend $(fe_state)"
    tb_log "kill $i: worker $w serving, $(tb_result testif "done") responses"
done
grep -q "testif/$domid/1: worker [0-9]* killed by signal 9" /var/log/xen/drvdomd.log ||
    tb_fail "worker death not logged"
r=$(sed -n 's/^restarts //p' "/run/drvdomd/testif-$domid-1")
[ "$r" = 3 ] || tb_fail "drvdomd counted $r restarts, not 3"
xenstore-write "/local/domain/$domid/data/tb-stop" 1
tb_wait testif 60
tb_log "guest: state $(tb_result testif state), done $(tb_result testif "done")," \
    "errors $(tb_result testif errors), sent $(tb_result testif sent)"
[ "$(tb_result testif errors)" = 0 ] || tb_fail "wrong or duplicate responses"
[ "$(tb_result testif "done")" = "$(tb_result testif sent)" ] || tb_fail "requests lost"
[ "$(tb_result testif state)" = "done" ] || tb_fail "frontend state $(tb_result testif state)"
xsgtool del testif 0 "$domid" 1 || tb_fail "detach after the guest ended failed"
tb_gone "$domid"
tb_drvdomd_stop
echo PASS
