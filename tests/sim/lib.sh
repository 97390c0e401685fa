#!/bin/sh
# Shared helpers for tests/sim end-to-end scripts: scratch directories and
# process cleanup that runs on every exit path.
#
# Usage: . "$DRVDOM_SRCDIR/tests/sim/lib.sh"; t_init NAME; t_bg CMD...;
#        wait_for CMD...; t_pass

: "${DRVDOM_BUILDDIR:=$(pwd)}"
: "${DRVDOM_SRCDIR:=$DRVDOM_BUILDDIR}"

T_PIDS=""

t_cleanup() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    for p in $T_PIDS; do wait "$p" 2>/dev/null; done
    [ -n "${T_DIR:-}" ] && [ -z "${T_KEEP:-}" ] && rm -rf "$T_DIR"
}

# t_init NAME: a private scratch directory in $T_DIR, removed on exit.
t_init() {
    T_NAME=$1
    T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drvdom-$1.XXXXXX")
    trap t_cleanup EXIT
    trap 'exit 1' INT TERM
}

# t_bg CMD...: start CMD in the background; it is killed on exit.
t_bg() {
    "$@" &
    T_PIDS="$T_PIDS $!"
}

# wait_for CMD...: retry CMD (bounded: 30 s) until it succeeds.
wait_for() {
    i=0
    until "$@" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 3000 ] || return 1
        sleep 0.01
    done
}

# key FILE KEY: the value of "KEY value" in FILE (status files).
key() { sed -n "s/^$2 //p" "$1" 2>/dev/null; }

# at_least FILE KEY N: KEY's value in FILE is at least N.
at_least() { v=$(key "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }

# t_sim: the sim platform's programs and run dir for this test (after
# t_init): drvdom-simhv in $RUN, dom0's xenstore, the test toolstack.
t_sim() {
    HV=$DRVDOM_BUILDDIR/tools/simhv/drvdom-simhv
    DRVDOMD=$DRVDOM_BUILDDIR/backend/drvdomd
    XSGTOOL=$DRVDOM_BUILDDIR/tests/sim/xsgtool
    RUN=$T_DIR/run
    DRUN=$T_DIR/drvdomd
    export DRVDOM_SIM_RUNDIR="$RUN"
    export XENSTORED_PATH="$RUN/dom0/xenstored.sock"
}
hv() { "$HV" --run-dir "$RUN" "$@"; }
xt() { "$XSGTOOL" "$@"; }
# is FILE KEY VALUE: KEY's value in FILE is VALUE.
is() { [ "$(key "$1" "$2")" = "$3" ]; }
dead() { ! kill -0 "$1" 2>/dev/null; }
released() { ! hv info "$1" >/dev/null 2>&1; }

t_fail() {
    echo "FAIL: $T_NAME: $*" >&2
    exit 1
}

t_pass() {
    echo "PASS: $T_NAME"
    exit 0
}
