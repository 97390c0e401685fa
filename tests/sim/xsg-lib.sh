#!/bin/sh
# Helpers shared by the xenbus e2e tests (xsg-e2e.sh, drvdomd-e2e.sh): a
# private drvdom-simhv, a driver domain whose init restarts drvdomd when it
# dies (as a service manager would), testif frontend domains, and the
# toolstack side (xsgtool, run in dom0).
# Usage: . "$DRVDOM_SRCDIR/tests/sim/lib.sh"; t_init NAME;
#        . "$DRVDOM_SRCDIR/tests/sim/xsg-lib.sh"; x_start

t_sim
BACK=$DRVDOM_BUILDDIR/tests/sim/testdev_back
FRONT=$DRVDOM_BUILDDIR/tests/sim/testdev_front

alive() { kill -0 "$1" 2>/dev/null; }

# be_path FE DEVID / fe_path FE DEVID
be_path() { echo "/local/domain/$DRV/backend/testif/$1/$2"; }
fe_path() { echo "/local/domain/$1/device/testif/$2"; }
be_state() { xt read "$(be_path "$1" "$2")/state" 2>/dev/null; }
# be_state_in FE DEVID STATE...: the backend's state is one of STATE (it
# moves on by itself: Closing passes on to Closed, then InitWait).
be_state_in() {
    s_=$(be_state "$1" "$2")
    shift 2
    for w_ in "$@"; do [ "$s_" = "$w_" ] && return 0; done
    return 1
}
# worker_pid FE DEVID: from drvdomd's run file.
worker_pid() { key "$DRUN/testif-$1-$2" pid; }
drvdomd_pid() { cat "$T_DIR/drvdomd.pid" 2>/dev/null; }
# worker_changed FE DEVID OLD / drvdomd_changed OLD: a new pid is recorded.
worker_changed() { w_=$(worker_pid "$1" "$2"); [ -n "$w_" ] && [ "$w_" != "$3" ]; }
drvdomd_changed() { p_=$(drvdomd_pid); [ -n "$p_" ] && [ "$p_" != "$1" ]; }

# x_start: the daemon, then the driver domain running drvdomd in a loop
# (stopped by creating $T_DIR/stop). drvdomd runs without ASan's quarantine
# of freed memory, which would otherwise count in the RSS bound of the
# state-flip test; every other sanitizer check stays on.
x_start() {
    for p in "$HV" "$DRVDOMD" "$BACK" "$FRONT" "$XSGTOOL"; do
        [ -x "$p" ] || t_fail "build $p first"
    done
    "$HV" --help 2>&1 | grep -q xenstored.sock || {
        echo "SKIP: drvdom-simhv serves no xenstore"
        exit 77
    }
    t_bg "$HV" --run-dir "$RUN" --foreground 2>"$T_DIR/simhv.log"
    wait_for test -S "$RUN/simhv.sock" || t_fail "simhv did not start"
    wait_for test -S "$XENSTORED_PATH" || t_fail "simhv serves no xenstore"
    DRV=$(hv create --name drv /bin/sh -c "
        while [ ! -e '$T_DIR/stop' ]; do
            ASAN_OPTIONS='${ASAN_OPTIONS:-}:quarantine_size_mb=0' \
            '$DRVDOMD' --worker testif='$BACK' --run-dir '$DRUN' \
                2>>'$T_DIR/drvdomd.log' &
            echo \$! >'$T_DIR/drvdomd.pid'
            wait \$!
        done") || t_fail "create driver domain"
    wait_for test -s "$T_DIR/drvdomd.pid" || t_fail "drvdomd did not start"
}

# x_front NAME DEVID ARGS...: a frontend domain; prints its domid.
x_front() {
    n=$1
    d=$2
    shift 2
    hv create --name "$n" "$FRONT" --devid "$d" --status "$T_DIR/$n.st" "$@"
}

# x_attach FE DEVID: the toolstack attaches testif device DEVID to FE.
x_attach() { xt add testif "$DRV" "$1" "$2" || t_fail "attach $1/$2"; }

# x_exited FE NAME: the frontend domain ended on its own with status 0 (a
# sanitizer finding at exit would make it crash instead).
x_exited() {
    grep -q "domain $1 ($2) shut down (exit 0)" "$T_DIR/simhv.log"
}

# x_connected FE DEVID: both ends Connected.
x_connected() {
    [ "$(be_state "$1" "$2")" = 4 ] &&
        [ "$(xt read "$(fe_path "$1" "$2")/state")" = 4 ]
}

# x_stop: drvdomd closes every device on SIGTERM; the domain then ends.
x_stop() {
    touch "$T_DIR/stop"
    kill -TERM "$(drvdomd_pid)" 2>/dev/null
    wait_for released "$DRV" || t_fail "driver domain not released"
}
