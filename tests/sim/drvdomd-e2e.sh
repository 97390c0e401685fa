#!/bin/sh
# drvdomd restarts without the guest noticing, on the sim platform: the
# worker of a device under traffic is killed (SIGKILL) again and again and
# restarted with --adopt: the frontend stays Connected, traffic resumes, and
# every request gets exactly one correct response. Then drvdomd itself is
# killed and restarted: it re-adopts the connected devices (no InitWait) and
# a worker killed after that is restarted too.
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init drvdomd-e2e
. "$DRVDOM_SRCDIR/tests/sim/xsg-lib.sh"
x_start

F1=$(x_front f1 1 --count 0 --order 1) || t_fail "create f1"
x_attach "$F1" 1
F2=$(x_front f2 7 --count 0) || t_fail "create f2"
x_attach "$F2" 7
wait_for at_least "$T_DIR/f1.st" done 2000 || t_fail "f1 stalled"
wait_for at_least "$T_DIR/f2.st" done 2000 || t_fail "f2 stalled"

# kill_worker FE DEVID STATUS: kill it mid-traffic, see traffic resume.
kill_worker() {
    w=$(worker_pid "$1" "$2")
    [ -n "$w" ] || t_fail "no worker for $1/$2"
    d=$(key "$3" done)
    kill -KILL "$w"
    wait_for worker_changed "$1" "$2" "$w" ||
        t_fail "worker $w of $1/$2 not restarted"
    wait_for at_least "$3" done $((d + 2000)) ||
        t_fail "traffic did not resume on $1/$2: $(cat "$3")"
    x_connected "$1" "$2" || t_fail "$1/$2 left Connected"
}
for i in 1 2 3; do
    kill_worker "$F1" 1 "$T_DIR/f1.st"
done
kill_worker "$F2" 7 "$T_DIR/f2.st"
grep -q "testif/$F1/1: worker [0-9]* killed by signal 9" "$T_DIR/drvdomd.log" ||
    t_fail "worker death not logged"
[ "$(key "$DRUN/testif-$F1-1" restarts)" = 3 ] ||
    t_fail "restart count: $(cat "$DRUN/testif-$F1-1")"

# drvdomd killed: the workers carry on; its successor re-adopts them.
P=$(drvdomd_pid)
W1=$(worker_pid "$F1" 1)
kill -KILL "$P"
wait_for drvdomd_changed "$P" || t_fail "drvdomd not restarted"
wait_for grep -q "testif/$F1/1: re-adopted running worker $W1" \
    "$T_DIR/drvdomd.log" || t_fail "worker $W1 not re-adopted"
wait_for grep -q "testif/$F2/7: re-adopted running worker" \
    "$T_DIR/drvdomd.log" || t_fail "f2's worker not re-adopted"
! grep -q "testif/$F1/1: Connected -> InitWait" "$T_DIR/drvdomd.log" ||
    t_fail "re-adoption went through InitWait"
d=$(key "$T_DIR/f1.st" done)
wait_for at_least "$T_DIR/f1.st" done $((d + 2000)) || t_fail "f1 stalled"
# ... and restarts a re-adopted worker that dies.
kill_worker "$F1" 1 "$T_DIR/f1.st"

# drvdomd killed while a worker is dead too: restarted with --adopt.
P=$(drvdomd_pid)
W2=$(worker_pid "$F2" 7)
kill -STOP "$P"
kill -KILL "$W2"
kill -KILL "$P"
wait_for drvdomd_changed "$P" || t_fail "drvdomd not restarted"
wait_for worker_changed "$F2" 7 "$W2" || t_fail "f2 worker not back"
d=$(key "$T_DIR/f2.st" done)
wait_for at_least "$T_DIR/f2.st" done $((d + 2000)) || t_fail "f2 stalled"
x_connected "$F2" 7 || t_fail "f2 left Connected"

# Stop the frontends: they drain, then every request got exactly one
# correct answer.
for f in "$F1" "$F2"; do
    kill -TERM "$(hv info "$f" | awk '{print $4}')" || t_fail "stop dom$f"
done
wait_for is "$T_DIR/f1.st" state done || t_fail "f1: $(cat "$T_DIR/f1.st")"
wait_for is "$T_DIR/f2.st" state done || t_fail "f2: $(cat "$T_DIR/f2.st")"
for f in f1 f2; do
    is "$T_DIR/$f.st" errors 0 || t_fail "$f errors: $(cat "$T_DIR/$f.st")"
    [ "$(key "$T_DIR/$f.st" done)" = "$(key "$T_DIR/$f.st" sent)" ] ||
        t_fail "$f: requests lost: $(cat "$T_DIR/$f.st")"
done
x_stop
t_pass
