#!/bin/sh
# xenbus device model end to end on the sim platform: drvdomd in a driver
# domain serves testif frontends in other domains. Connect and exchange
# requests; close from the frontend; detach (online=0) from the toolstack
# under traffic; garbage ring-ref and event-channel fail only their own
# device; a frontend domain killed mid-traffic is torn down and unmapped; a
# frontend flipping its state 100k times does not grow drvdomd's memory;
# SIGTERM closes every device (Closing -> Closed).
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init xsg-e2e
. "$DRVDOM_SRCDIR/tests/sim/xsg-lib.sh"
x_start

# 1. Connect, 20k requests, then the frontend closes: backend re-armed.
F1=$(x_front f1 1 --count 20000) || t_fail "create f1"
x_attach "$F1" 1
wait_for is "$T_DIR/f1.st" state done || t_fail "f1: $(cat "$T_DIR/f1.st")"
is "$T_DIR/f1.st" errors 0 || t_fail "f1 errors: $(cat "$T_DIR/f1.st")"
is "$T_DIR/f1.st" done 20000 || t_fail "f1 done: $(cat "$T_DIR/f1.st")"
wait_for released "$F1" || t_fail "f1 not released"
x_exited "$F1" f1 || t_fail "f1 did not exit cleanly"
wait_for be_state_in "$F1" 1 2 6 ||
    t_fail "backend after frontend close: $(be_state "$F1" 1)"
xt del testif "$DRV" "$F1" 1 || t_fail "detach f1"
grep -q "testif/$F1/1: Connected -> Closing" "$T_DIR/drvdomd.log" ||
    t_fail "log lines do not name the device"

# 2. A good device and two garbage ones side by side.
F2=$(x_front f2 1 --count 0) || t_fail "create f2"
x_attach "$F2" 1
wait_for at_least "$T_DIR/f2.st" done 1000 || t_fail "f2 stalled"
F3=$(x_front f3 1 --bad-ref) || t_fail "create f3"
x_attach "$F3" 1
F4=$(x_front f4 1 --bad-evtchn) || t_fail "create f4"
x_attach "$F4" 1
wait_for is "$T_DIR/f3.st" state refused || t_fail "f3: $(cat "$T_DIR/f3.st")"
wait_for is "$T_DIR/f4.st" state refused || t_fail "f4: $(cat "$T_DIR/f4.st")"
xt read "$(be_path "$F3" 1)/error" | grep -q "^71 " ||
    t_fail "no error key for f3"
D0=$(key "$T_DIR/f2.st" done)
wait_for at_least "$T_DIR/f2.st" done $((D0 + 1000)) ||
    t_fail "f2 stopped when its neighbours failed"
x_connected "$F2" 1 || t_fail "f2 not Connected"
xt del testif "$DRV" "$F3" 1 || t_fail "detach f3"
xt del testif "$DRV" "$F4" 1 || t_fail "detach f4"
for f in "$F3 f3" "$F4 f4"; do
    set -- $f
    wait_for released "$1" || t_fail "$2 not released"
    x_exited "$1" "$2" || t_fail "$2 did not exit cleanly"
done

# 3. Detach under traffic: online=0, backend Closing, frontend closes.
xt del testif "$DRV" "$F2" 1 || t_fail "detach f2 under traffic"
wait_for is "$T_DIR/f2.st" state closed-by-backend ||
    t_fail "f2: $(cat "$T_DIR/f2.st")"
is "$T_DIR/f2.st" errors 0 || t_fail "f2 errors: $(cat "$T_DIR/f2.st")"
[ -z "$(xt read "$(be_path "$F2" 1)" 2>/dev/null)" ] || t_fail "f2 be dir left"
wait_for released "$F2" || t_fail "f2 not released"
x_exited "$F2" f2 || t_fail "f2 did not exit cleanly"

# 4. Frontend domain killed mid-traffic: worker stopped, ring unmapped, the
#    dead domain is released (nothing maps its pages any more).
F5=$(x_front f5 1 --count 0) || t_fail "create f5"
x_attach "$F5" 1
wait_for at_least "$T_DIR/f5.st" done 1000 || t_fail "f5 stalled"
W5=$(worker_pid "$F5" 1)
hv destroy "$F5" || t_fail "destroy f5"
wait_for released "$F5" || t_fail "f5 not released: $(hv info "$F5")"
wait_for dead "$W5" || t_fail "f5 worker $W5 still running"
wait_for be_state_in "$F5" 1 6 || t_fail "f5 backend not Closed: $(be_state "$F5" 1)"
xt del testif "$DRV" "$F5" 1 || t_fail "detach f5"

# 5. A frontend flipping its state 100k times: drvdomd's memory stays put.
F6=$(x_front f6 1 --count 0) || t_fail "create f6"
x_attach "$F6" 1
wait_for at_least "$T_DIR/f6.st" done 1000 || t_fail "f6 stalled"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(drvdomd_pid)/status"; }
R0=$(rss)
[ -n "$R0" ] || t_fail "cannot read drvdomd's VmRSS"
F7=$(x_front f7 1 --count 0 --flip 100000) || t_fail "create f7"
x_attach "$F7" 1
wait_for at_least "$T_DIR/f7.st" done 1000 || t_fail "f7 stalled after flips"
R1=$(rss)
[ -n "$R1" ] || t_fail "cannot read drvdomd's VmRSS"
echo "drvdomd VmRSS: $R0 kB before 100k state flips, $R1 kB after"
[ $((R1 - R0)) -lt 4096 ] || t_fail "drvdomd grew from $R0 to $R1 kB"
x_connected "$F6" 1 || t_fail "f6 lost its connection"

# 6. SIGTERM: every device Closing -> Closed, workers stopped.
W6=$(worker_pid "$F6" 1)
W7=$(worker_pid "$F7" 1)
x_stop
wait_for is "$T_DIR/f6.st" state closed-by-backend || t_fail "f6 not closed"
wait_for is "$T_DIR/f7.st" state closed-by-backend || t_fail "f7 not closed"
dead "$W6" && dead "$W7" || t_fail "workers left running"
for f in "$F6" "$F7"; do
    grep -q "testif/$f/1: Closing -> Closed" "$T_DIR/drvdomd.log" ||
        t_fail "testif/$f/1: no clean close logged"
done
# The driver domain is released: its backend nodes went with it.
[ -z "$(xt read "/local/domain/$DRV/backend/testif" 2>/dev/null)" ] ||
    t_fail "backend nodes outlived the driver domain"
t_pass
