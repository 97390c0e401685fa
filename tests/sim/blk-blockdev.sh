#!/bin/sh
# drvdom-blkback serving a real block device (a loop device over a file in
# the scratch dir, direct I/O where losetup offers it) on the sim platform:
# the keys it advertises (sectors, sector sizes, flush, discard) against
# what the kernel says of the device; the device held exclusively while
# attached writable; drvdom-blkfront's verifier direct, indirect and in
# grant-copy mode; discard (BLKDISCARD) punching the loop's backing file;
# data written through an NBD export equal to what the device holds after
# the detach; a read-only attach refusing writes; and a second loop device
# with 4096-byte logical sectors (advertised, verified, an unaligned NBD
# write read-modify-written into whole sectors). The loop devices are
# detached on every exit path.
#
# Not covered here: a misaligned request reaching blkback (drvdom-blkfront
# refuses it before the ring; tests/unit/blkback_ring_test covers blkback's
# refusal at 4096-byte sectors).
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init blk-blockdev
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"

PATH=$PATH:/sbin:/usr/sbin
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (loop devices)"; exit 77; }
[ -e /dev/loop-control ] || { echo "SKIP: no /dev/loop-control"; exit 77; }
for p in losetup blockdev; do
    command -v $p >/dev/null || { echo "SKIP: $p not installed"; exit 77; }
done
# The NBD parts (exact-range discard, data after detach, unaligned write).
NBD=1
for p in nbdcopy qemu-io; do
    command -v $p >/dev/null || { echo "note: no $p: NBD parts skipped"; NBD=; }
done

LOOPS=
# The domains go first (they hold the devices), then every loop device.
d_cleanup() {
    t_cleanup
    for l in $LOOPS; do losetup -d "$l" 2>/dev/null; done
}
trap d_cleanup EXIT

DIO=
losetup --help 2>&1 | grep -q -- --direct-io && DIO=--direct-io=on
# d_loop FILE [LOSETUP ARGS...]: a loop device over the scratch file FILE,
# in $LOOP (and in $LOOPS, for the cleanup: not in a subshell).
d_loop() {
    f_=$1
    shift
    LOOP=$(losetup -f --show $DIO "$@" "$T_DIR/$f_") || t_fail "losetup $f_"
    LOOPS="$LOOPS $LOOP"
    echo "loop: $LOOP over $f_ in $T_DIR ($(stat -f -c %T "$T_DIR")):" \
        "losetup ${DIO:-(no --direct-io)} $*;" \
        "$(losetup -n -O DIO,LOG-SEC "$LOOP" | awk '{print "DIO " $1 ", " $2 "-byte sectors"}')"
}
d_unloop() {
    losetup -d "$1" || t_fail "losetup -d $1"
    l2_=
    for u_ in $LOOPS; do [ "$u_" = "$1" ] || l2_="$l2_ $u_"; done
    LOOPS=$l2_
}

# d_attach FE DEVID DEV MODE: a phy vbd on DEV as libxl writes it: params
# is the device path (what drvdom-blkback opens), physical-device its
# major:minor in hex (what Linux blkback would read).
d_attach() {
    mm_=$(stat -L -c %t:%T "$3")
    # drvdom-secure-discard=1: on kernels since 5.19 the worker asks the
    # kernel instead, and a loop device has no secure erase (d_keys).
    xt add vbd "$DRV" "$1" "$2" params="$3" physical-device="$mm_" \
        physical-device-path="$3" mode="$4" type=phy device-type=disk \
        removable=0 bootable=1 dev=xvda discard-enable=1 \
        drvdom-secure-discard=1 ||
        t_fail "attach $3 as vbd $1/$2"
}

be_state() { [ "$(xt read "$1/state")" = "$2" ]; }

# d_keys FE DEVID DEV: what blkback advertised for DEV against blockdev(8)
# and sysfs (backend/blk/io.c: blkback_io_probe_blockdev).
d_keys() {
    be_=$(be_path "$1" "$2")
    wait_for be_state "$be_" 4 || t_fail "$3 not connected"
    sys_=/sys/block/$(basename "$3")
    ss_=$(blockdev --getss "$3")
    pss_=$(blockdev --getpbsz "$3")
    [ "$pss_" -ge "$ss_" ] || pss_=$ss_
    flush_=1
    grep -q "write through" "$sys_/queue/write_cache" && flush_=0
    gran_=$(cat "$sys_/queue/discard_granularity")
    [ "$gran_" -ge "$ss_" ] || gran_=$ss_
    for kv in "sectors $(blockdev --getsz "$3")" "sector-size $ss_" \
        "physical-sector-size $pss_" "feature-flush-cache $flush_" \
        "feature-barrier 1" "info 0" "feature-discard $DISCARD"; do
        k_=${kv% *}
        v_=$(xt read "$be_/$k_" 2>/dev/null)
        [ "$k_" = feature-discard ] && [ -z "$v_" ] && v_=0
        [ "$v_" = "${kv#* }" ] || t_fail "$3: $k_ is '$v_', expected ${kv#* }"
    done
    [ "$DISCARD" = 0 ] && return
    for kv in "discard-granularity $gran_" \
        "discard-alignment $(cat "$sys_/discard_alignment")" \
        "discard-secure $SECURE"; do
        v_=$(xt read "$be_/${kv% *}")
        [ "$v_" = "${kv#* }" ] || t_fail "$3: ${kv% *} is '$v_', not ${kv#* }"
    done
}

# d_excl DEV: held exclusively (O_EXCL) while attached writable.
d_excl() {
    command -v python3 >/dev/null || { echo "note: no python3: O_EXCL unchecked"; return; }
    python3 -c "import os,sys
try: os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
except OSError as e: sys.exit(0 if e.errno == 16 else 2)
sys.exit(1)" "$1" || t_fail "$1 not held exclusively by blkback"
}

# run NAME DEV ARGS...: one verifier on DEV (writable).
n=0
MODE=map
run() {
    name=$1
    dev=$2
    shift 2
    n=$((n + 1))
    fe=$(b_front "$name" verify --devid 51712 --seed "$n" --count 600 "$@") ||
        t_fail "create $name"
    d_attach "$fe" 51712 "$dev" w
    b_mode "$fe" 51712 "$MODE"
    grep -q "vbd/$fe/51712: connected: $dev," "$T_DIR/drvdomd.log" ||
        t_fail "$name: not served from $dev"
    b_done "$name"
    wait_for released "$fe" || t_fail "$name not released"
    b_detach "$fe" 51712
    echo "ok: $name ($MODE) on $dev $*"
}

# d_read DEV FILE: DEV's bytes, bypassing the page cache.
d_read() { dd if="$1" of="$2" bs=1M iflag=direct status=none || t_fail "dd $1"; }
blocks() { echo $(($(stat -c '%b * %B' "$T_DIR/$1"))); }

# nbd_start NAME DEV: an NBD export of DEV (writable); sets FE and URI.
nbd_start() {
    SOCK=$T_DIR/$1.sock
    URI="nbd+unix:///?socket=$SOCK"
    FE=$(b_front "$1" nbd --devid 51712 --unix "$SOCK") || t_fail "create $1"
    d_attach "$FE" 51712 "$2" w
    wait_for test -S "$SOCK" || t_fail "no NBD socket: $(cat "$T_DIR/$1.log")"
}
# nbd_stop: the toolstack detaches the disk; the export ends.
nbd_stop() {
    b_detach "$FE" 51712
    wait_for released "$FE" || t_fail "NBD domain still running after detach"
}
# qio CMD: one qemu-io command on the export (its exit status alone does
# not tell a failed request).
qio() {
    if ! qemu-io -f raw -c "$1" "$URI" >"$T_DIR/qio.log" 2>&1 ||
        grep -q -i "fail\|error" "$T_DIR/qio.log"; then
        t_fail "qemu-io $1: $(cat "$T_DIR/qio.log")"
    fi
}

b_start
MB=$((1024 * 1024))

# A 32 MiB device of 512-byte sectors over a fully allocated file.
b_disk a.img 32
d_loop a.img
A=$LOOP

run direct "$A" --no-indirect --order 0 --queues 1
run indirect "$A" --max-io 1M --order 4 --queues 2

# Discard: the verifier discards 128 KiB (reads back zeroes); the loop
# device punches it out of its backing file. A loop device offers discard
# when its backing filesystem punches holes.
# discard-secure with drvdom-secure-discard=1 (d_attach): a loop device has
# no secure erase, which kernels since 5.19 tell the worker; older ones
# cannot, and the key is taken at its word.
SECURE=0
uname -r | awk -F. '{ exit !($1 < 5 || ($1 == 5 && $2 + 0 < 19)) }' && SECURE=1
DISCARD=0
[ "$(cat "/sys/block/${A#/dev/}/queue/discard_max_bytes")" -gt 0 ] && DISCARD=1
if [ $DISCARD = 1 ]; then
    b0=$(blocks a.img)
    run discard "$A" --discard --queues 1
    b1=$(blocks a.img)
    [ $((b0 - b1)) -ge $((128 * 1024)) ] ||
        t_fail "discard: backing file went from $b0 to $b1 bytes allocated"
    echo "ok: discard: backing file allocation $b0 -> $b1 bytes"
else
    echo "note: $A offers no discard: discard parts skipped"
fi

if [ -n "$NBD" ]; then
    # Keys, exclusive open, then data in; a known 1 MiB discarded; the
    # device holds exactly that after the detach.
    nbd_start nbd-a "$A"
    d_keys "$FE" 51712 "$A"
    d_excl "$A"
    head -c $((32 * MB)) /dev/urandom >"$T_DIR/src.raw"
    nbdcopy "$T_DIR/src.raw" "$URI" || t_fail "nbdcopy to the export"
    cp "$T_DIR/src.raw" "$T_DIR/want.raw"
    if [ $DISCARD = 1 ]; then
        b0=$(blocks a.img)
        qio "discard $((4 * MB)) $MB"
        qio flush
        b1=$(blocks a.img)
        [ $((b0 - b1)) -ge $MB ] ||
            t_fail "discard 1 MiB: backing file went from $b0 to $b1 bytes"
        dd if=/dev/zero of="$T_DIR/want.raw" bs=1M seek=4 count=1 \
            conv=notrunc status=none
    fi
    nbdcopy "$URI" "$T_DIR/out.raw" || t_fail "nbdcopy from the export"
    cmp -s "$T_DIR/out.raw" "$T_DIR/want.raw" || t_fail "read back differs"
    nbd_stop
    d_read "$A" "$T_DIR/dev.raw"
    cmp -s "$T_DIR/dev.raw" "$T_DIR/want.raw" ||
        t_fail "$A after the detach differs from what was written"
    echo "ok: keys, O_EXCL, NBD data and discard on $A"
fi

# Read-only: writes and flushes refused, the device unchanged.
d_read "$A" "$T_DIR/ro0.raw"
fe=$(b_front ro rocheck --devid 51712) || t_fail "create ro"
d_attach "$fe" 51712 "$A" r
wait_for one_of "$T_DIR/ro.st" refused failed ||
    t_fail "ro did not finish: $(cat "$T_DIR/ro.st" "$T_DIR/ro.log")"
is "$T_DIR/ro.st" state refused || t_fail "ro: $(cat "$T_DIR/ro.st")"
wait_for released "$fe" || t_fail "ro not released"
b_detach "$fe" 51712
d_read "$A" "$T_DIR/ro1.raw"
cmp -s "$T_DIR/ro0.raw" "$T_DIR/ro1.raw" || t_fail "read-only device changed"
echo "ok: read-only $A"

# Grant copy (Xen's default) on the same device.
b_data copy
MODE=copy
run copy-indirect "$A" --max-io 1M --order 4 --queues 2
b_data map
MODE=map

# 4096-byte logical sectors.
b_disk b.img 16
d_loop b.img --sector-size 4096
B=$LOOP
[ "$(blockdev --getss "$B")" = 4096 ] || t_fail "$B: no 4096-byte sectors"
run verify-4k "$B" --max-io 256k --queues 2
if [ -n "$NBD" ]; then
    nbd_start nbd-b "$B"
    d_keys "$FE" 51712 "$B"
    # An unaligned write: the export read-modify-writes whole sectors.
    d_read "$B" "$T_DIR/b0.raw"
    qio "write -P 0x5a 1536 1024"
    qio flush
    nbd_stop
    d_read "$B" "$T_DIR/b1.raw"
    head -c 1024 /dev/zero | tr '\0' '\132' |
        dd of="$T_DIR/b0.raw" bs=512 seek=3 conv=notrunc status=none
    cmp -s "$T_DIR/b0.raw" "$T_DIR/b1.raw" || t_fail "unaligned write on $B"
    echo "ok: keys and an unaligned write on $B"
fi

b_stop
# Detached now, and gone once the kernel has run its last close (nothing
# holds them open any more).
unbound() { ! losetup "$1" >/dev/null 2>&1; }
for l in $A $B; do
    d_unloop "$l"
    wait_for unbound "$l" || t_fail "$l still attached: $(losetup -l "$l")"
done
t_pass
