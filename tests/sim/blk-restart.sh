#!/bin/sh
# The blkback worker killed (SIGKILL) twice under a verifying load: drvdomd
# restarts it, the new worker adopts the rings and answers every request
# the dead one left; the frontend never notices. Afterwards a flush and a
# full read-back: no acknowledged write lost, no corruption, no error.
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init blk-restart
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"
b_start

b_disk disk.img 32
FE=$(b_front load verify --devid 51712 --count 0 --queues 2 --seed 7 \
    "$@") || t_fail "create the frontend"
b_attach "$FE" 51712 disk.img w
wait_for at_least "$T_DIR/load.st" done 1000 ||
    t_fail "no traffic: $(cat "$T_DIR/load.st" "$T_DIR/load.log")"
# drvdomd keeps the device's request journal beside its run file while the
# device is connected, for every worker that serves it.
JOURNAL=$DRUN/vbd-$FE-51712.journal
[ -s "$JOURNAL" ] || t_fail "no request journal at $JOURNAL"
for round in 1 2; do
    W=$(worker_pid "$FE" 51712)
    [ -n "$W" ] || t_fail "no worker pid in drvdomd's run file"
    D=$(key "$T_DIR/load.st" done)
    kill -KILL "$W" || t_fail "kill worker $W"
    wait_for worker_changed "$FE" 51712 "$W" || t_fail "worker not restarted"
    wait_for at_least "$T_DIR/load.st" done $((D + 1500)) ||
        t_fail "round $round: traffic stalled: $(cat "$T_DIR/load.st")"
    echo "round $round: worker $W killed at $D, now $(key "$T_DIR/load.st" done)"
done
kill -TERM "$(key "$T_DIR/load.st" pid)" || t_fail "stop the frontend"
b_done load
is "$T_DIR/load.st" errors 0 || t_fail "errors: $(cat "$T_DIR/load.st")"
wait_for released "$FE" || t_fail "frontend not released"
b_detach "$FE" 51712
wait_for test ! -e "$JOURNAL" || t_fail "the journal outlived the device"
grep -q "taken before the restart" "$T_DIR/simhv.log" "$T_DIR/drvdomd.log" ||
    t_fail "no adopting worker reported its journal"
b_stop
t_pass
