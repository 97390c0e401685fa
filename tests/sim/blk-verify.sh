#!/bin/sh
# Block end to end on the sim platform: drvdom-blkfront frontend domains
# against drvdom-blkback under drvdomd. Random data of random sizes written
# and verified (every acknowledged write read back after a flush) across
# direct/indirect requests, persistent grants on/off, 1 and 4 queues (capped
# by the backend's multi-queue-max-queues), ring order 0 and 4; flush;
# discard reads back zeroes; a read-only disk refuses writes and flushes and
# is left unchanged. Then the same verifier in drvdom-blkback's grant-copy
# data mode (the Xen default) over a representative part of the matrix.
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init blk-verify
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"
b_start map

# run NAME DEVID ARGS...: one verifier on its own 32 MiB disk, the worker
# in data mode $MODE.
n=0
MODE=map
run() {
    name=$1
    dv=$2
    shift 2
    n=$((n + 1))
    b_disk "$name.img" 32
    fe=$(b_front "$name" verify --devid "$dv" --seed "$n" --count 600 "$@") ||
        t_fail "create $name"
    b_attach "$fe" "$dv" "$name.img" w
    b_mode "$fe" "$dv" "$MODE"
    b_done "$name"
    wait_for released "$fe" || t_fail "$name not released"
    b_detach "$fe" "$dv"
    echo "ok: $name ($MODE) $*"
}

run direct 51712 --no-indirect --order 0 --queues 1
run indirect 51712 --max-io 1M --order 4 --queues 1
run nopersist 51712 --no-persistent --max-io 256k --order 0 --queues 4
run mq 51728 --queues 4 --order 4 --depth 16
run mq-direct 51712 --queues 4 --order 0 --no-indirect --no-persistent
run discard 51712 --discard --queues 1

# A read-only disk: writes and flushes sent anyway are refused, the file is
# left as it was.
b_disk ro.img 8
sum0=$(md5sum <"$T_DIR/ro.img")
fe=$(b_front ro rocheck --devid 51712) || t_fail "create ro"
b_attach "$fe" 51712 ro.img r
wait_for one_of "$T_DIR/ro.st" refused failed ||
    t_fail "ro did not finish: $(cat "$T_DIR/ro.st" "$T_DIR/ro.log")"
is "$T_DIR/ro.st" state refused || t_fail "ro: $(cat "$T_DIR/ro.st")"
wait_for released "$fe" || t_fail "ro not released"
b_detach "$fe" 51712
[ "$(md5sum <"$T_DIR/ro.img")" = "$sum0" ] || t_fail "read-only disk changed"

# Grant copy: no data page mapped, bounded buffers per queue (an order 4
# ring of 1 MiB requests waits for them), no persistent grants offered.
b_data copy
MODE=copy
run copy-direct 51712 --no-indirect --order 0 --queues 1
run copy-indirect 51712 --max-io 1M --order 4 --queues 1
run copy-mq 51728 --queues 4 --order 4 --depth 16
run copy-mq-direct 51712 --queues 4 --order 0 --no-indirect --no-persistent
run copy-discard 51712 --discard --queues 1

b_stop
t_pass
