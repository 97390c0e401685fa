#!/bin/sh
# The blkback worker killed (SIGKILL) twice under a verifying load: drvdomd
# restarts it, the new worker adopts the rings and answers every request
# the dead one left; the frontend never notices. Afterwards a flush and a
# full read-back: no acknowledged write lost, no corruption, no error. Once
# with the guest's pages mapped (map, the sim default), once with data by
# grant copy (copy, the Xen default).
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init blk-restart
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"
b_start map

# killed MODE ARGS...: the test with the worker in data mode MODE.
killed() {
    mode=$1
    shift
    b_disk "$mode.img" 32
    FE=$(b_front "$mode" verify --devid 51712 --count 0 --queues 2 \
        --seed 7 "$@") || t_fail "create the frontend"
    st=$T_DIR/$mode.st
    b_attach "$FE" 51712 "$mode.img" w
    b_mode "$FE" 51712 "$mode"
    wait_for at_least "$st" done 1000 ||
        t_fail "$mode: no traffic: $(cat "$st" "$T_DIR/$mode.log")"
    # drvdomd keeps the device's request journal beside its run file while
    # the device is connected, for every worker that serves it.
    JOURNAL=$DRUN/vbd-$FE-51712.journal
    [ -s "$JOURNAL" ] || t_fail "no request journal at $JOURNAL"
    for round in 1 2; do
        W=$(worker_pid "$FE" 51712)
        [ -n "$W" ] || t_fail "no worker pid in drvdomd's run file"
        D=$(key "$st" done)
        kill -KILL "$W" || t_fail "kill worker $W"
        wait_for worker_changed "$FE" 51712 "$W" || t_fail "worker not restarted"
        wait_for at_least "$st" done $((D + 1500)) ||
            t_fail "$mode round $round: traffic stalled: $(cat "$st")"
        echo "$mode round $round: worker $W killed at $D, now $(key "$st" done)"
    done
    kill -TERM "$(key "$st" pid)" || t_fail "stop the frontend"
    b_done "$mode"
    is "$st" errors 0 || t_fail "$mode: errors: $(cat "$st")"
    wait_for released "$FE" || t_fail "frontend not released"
    b_detach "$FE" 51712
    wait_for test ! -e "$JOURNAL" || t_fail "the journal outlived the device"
}

killed map "$@"
grep -q "taken before the restart" "$T_DIR/simhv.log" "$T_DIR/drvdomd.log" ||
    t_fail "no adopting worker reported its journal"
b_data copy
killed copy "$@"
c=$(grep -c "taken before the restart" "$T_DIR/simhv.log" "$T_DIR/drvdomd.log" |
    awk -F: '{ n += $2 } END { print n }')
[ "$c" -ge 8 ] || t_fail "adopting workers reported $c journals, not 8"
b_stop
t_pass
