#!/bin/sh
# Helpers shared by the block e2e tests (tests/sim/blk-*.sh): a private
# drvdom-simhv, a driver domain whose init restarts drvdomd (serving vbd with
# drvdom-blkback) when it dies, disk files in the scratch dir, vbd attach
# through the test toolstack, and drvdom-blkfront frontend domains.
# Usage: . "$DRVDOM_SRCDIR/tests/sim/lib.sh"; t_init NAME;
#        . "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"; b_start

t_sim
BLKBACK=$DRVDOM_BUILDDIR/backend/blk/drvdom-blkback
BLKFRONT=$DRVDOM_BUILDDIR/frontend/blk/drvdom-blkfront

# wait_for, key and at_least come from lib.sh.
one_of() { s_=$(key "$1" state); [ "$s_" = "$2" ] || [ "$s_" = "$3" ]; }
be_path() { echo "/local/domain/$DRV/backend/vbd/$1/$2"; }
# worker_pid FE DEVID: from drvdomd's run file.
worker_pid() { key "$DRUN/vbd-$1-$2" pid; }
worker_changed() { w_=$(worker_pid "$1" "$2"); [ -n "$w_" ] && [ "$w_" != "$3" ]; }
drvdomd_pid() { cat "$T_DIR/drvdomd.pid" 2>/dev/null; }

# b_start [MODE]: the daemon, then the driver domain running drvdomd in a
# loop (stopped by b_stop); drvdom-blkback's data mode (map or copy) is what
# $T_DIR/data says when drvdomd starts: MODE, else DRVDOM_BLKBACK_DATA, else
# the platform's default (map).
b_start() {
    echo "${1:-${DRVDOM_BLKBACK_DATA:-}}" >"$T_DIR/data"
    for p in "$HV" "$DRVDOMD" "$BLKBACK" "$BLKFRONT" "$XSGTOOL"; do
        [ -x "$p" ] || t_fail "build $p first"
    done
    t_bg "$HV" --run-dir "$RUN" --foreground 2>"$T_DIR/simhv.log"
    wait_for test -S "$RUN/simhv.sock" || t_fail "simhv did not start"
    wait_for test -S "$XENSTORED_PATH" || t_fail "simhv serves no xenstore"
    DRV=$(hv create --name drv /bin/sh -c "
        while [ ! -e '$T_DIR/stop' ]; do
            DRVDOM_BLKBACK_DATA=\$(cat '$T_DIR/data') \
                '$DRVDOMD' --worker vbd='$BLKBACK' --run-dir '$DRUN' \
                2>>'$T_DIR/drvdomd.log' &
            echo \$! >'$T_DIR/drvdomd.pid'
            wait \$!
        done") || t_fail "create driver domain"
    wait_for test -s "$T_DIR/drvdomd.pid" || t_fail "drvdomd did not start"
}

# b_data MODE: drvdomd restarted (no device attached) so that its workers
# move data in MODE (map or copy).
b_data() {
    echo "$1" >"$T_DIR/data"
    p_=$(drvdomd_pid)
    kill -TERM "$p_" || t_fail "stop drvdomd $p_"
    wait_for drvdomd_changed "$p_" || t_fail "drvdomd not restarted"
}
drvdomd_changed() { p2_=$(drvdomd_pid); [ -n "$p2_" ] && [ "$p2_" != "$1" ]; }

# b_mode FE DEVID MODE: the device's worker moves data in MODE; both modes
# offer persistent grants.
b_mode() {
    wait_for grep -q "vbd/$1/$2: connected: .*, $(b_mode_says "$3")" \
        "$T_DIR/drvdomd.log" || t_fail "vbd $1/$2 not in $3 mode"
    fp_=$(xt read "$(be_path "$1" "$2")/feature-persistent")
    [ "$fp_" = 1 ] ||
        t_fail "vbd $1/$2 in $3 mode: feature-persistent $fp_"
}
b_mode_says() { [ "$1" = copy ] && echo "data copied via own buffers" || echo "grants mapped"; }

# b_disk NAME SIZE_MB: a disk file of random content in the scratch dir.
b_disk() {
    head -c $(($2 * 1024 * 1024)) /dev/urandom >"$T_DIR/$1" ||
        t_fail "make disk $1"
}

# b_front NAME ARGS...: a drvdom-blkfront domain; prints its domid.
b_front() {
    n_=$1
    shift
    hv create --name "$n_" "$BLKFRONT" --status "$T_DIR/$n_.st" "$@" \
        2>>"$T_DIR/$n_.log"
}

# b_attach FE DEVID DISK MODE [KEY=VALUE...]: the toolstack attaches a vbd
# backed by the scratch file DISK, with libxl's backend keys.
b_attach() {
    fe_=$1
    dv_=$2
    f_=$3
    m_=$4
    shift 4
    xt add vbd "$DRV" "$fe_" "$dv_" params="$T_DIR/$f_" mode="$m_" type=phy \
        device-type=disk removable=0 bootable=1 dev=xvda discard-enable=1 \
        "$@" || t_fail "attach vbd $fe_/$dv_"
}

# b_detach FE DEVID
b_detach() { xt del vbd "$DRV" "$1" "$2" || t_fail "detach vbd $1/$2"; }

# b_done NAME: wait until the frontend domain finished and check its state.
b_done() {
    wait_for one_of "$T_DIR/$1.st" verified failed ||
        t_fail "$1 did not finish: $(cat "$T_DIR/$1.st" "$T_DIR/$1.log")"
    is "$T_DIR/$1.st" state verified ||
        t_fail "$1: $(cat "$T_DIR/$1.st" "$T_DIR/$1.log")"
}

# b_stop: drvdomd closes every device on SIGTERM; the domain then ends.
b_stop() {
    touch "$T_DIR/stop"
    kill -TERM "$(drvdomd_pid)" 2>/dev/null
    wait_for released "$DRV" || t_fail "driver domain not released"
}
