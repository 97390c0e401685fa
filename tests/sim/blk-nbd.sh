#!/bin/sh
# The block device in a person's hands: drvdom-blkfront serves a vbd (over
# drvdom-blkback) as an NBD export; qemu-img and nbdinfo read its size,
# nbdcopy writes random data and reads it back, then nbdfuse + a loop device
# carry an ext4 file system that is made, mounted, written, unmounted and
# checked (fsck) through the export; finally the toolstack detaches the disk
# under a connected client and the export ends cleanly.
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init blk-nbd
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"

for p in qemu-img nbdinfo nbdcopy nbdfuse fusermount3 losetup mkfs.ext4 \
    fsck.ext4 mount umount; do
    command -v $p >/dev/null || PATH=$PATH:/sbin:/usr/sbin
    command -v $p >/dev/null || { echo "SKIP: $p not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (loop device, mount)"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
[ -e /dev/loop-control ] || { echo "SKIP: no loop devices"; exit 77; }

MNT=$T_DIR/mnt
FUSE=$T_DIR/fuse
LOOP=
# Undo the mount, the loop device and the FUSE mount on every exit path,
# before lib.sh kills the domains.
n_cleanup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
    mountpoint -q "$FUSE" 2>/dev/null && fusermount3 -u "$FUSE"
    t_cleanup
}
trap n_cleanup EXIT

b_start
SOCK=$T_DIR/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
b_disk disk.img 64
FE=$(b_front nbd nbd --devid 51712 --unix "$SOCK" --queues 2) ||
    t_fail "create nbd domain"
b_attach "$FE" 51712 disk.img w
wait_for test -S "$SOCK" || t_fail "no NBD socket: $(cat "$T_DIR/nbd.log")"

# Size through two clients.
qemu-img info --output=json "$URI" | grep -q '"virtual-size": 67108864' ||
    t_fail "qemu-img info: $(qemu-img info "$URI" 2>&1)"
[ "$(nbdinfo --size "$URI")" = 67108864 ] || t_fail "nbdinfo --size"

# nbdcopy in and out: the bytes and the backing file agree.
head -c $((16 * 1024 * 1024)) /dev/urandom >"$T_DIR/src.raw"
nbdcopy "$T_DIR/src.raw" "$URI" || t_fail "nbdcopy to the export"
nbdcopy "$URI" "$T_DIR/out.raw" || t_fail "nbdcopy from the export"
head -c $((16 * 1024 * 1024)) "$T_DIR/out.raw" | cmp -s - "$T_DIR/src.raw" ||
    t_fail "data read back through NBD differs"
head -c $((16 * 1024 * 1024)) "$T_DIR/disk.img" | cmp -s - "$T_DIR/src.raw" ||
    t_fail "backing file differs from what was written"

# A file system through nbdfuse and a loop device.
mkdir -p "$MNT" "$FUSE"
t_bg nbdfuse "$FUSE" --unix "$SOCK"
wait_for test -s "$FUSE/nbd" || t_fail "nbdfuse did not come up"
LOOP=$(losetup -f --show "$FUSE/nbd") || t_fail "losetup"
mkfs.ext4 -q -F "$LOOP" || t_fail "mkfs.ext4"
mount "$LOOP" "$MNT" || t_fail "mount"
cp "$T_DIR/src.raw" "$MNT/file" || t_fail "write a file"
mkdir "$MNT/dir" && echo hello >"$MNT/dir/hello" || t_fail "mkdir"
umount "$MNT" || t_fail "umount"
mount "$LOOP" "$MNT" || t_fail "mount again"
cmp -s "$MNT/file" "$T_DIR/src.raw" || t_fail "file differs after remount"
[ "$(cat "$MNT/dir/hello")" = hello ] || t_fail "small file lost"
umount "$MNT" || t_fail "umount again"
fsck.ext4 -fn "$LOOP" >"$T_DIR/fsck.log" 2>&1 ||
    t_fail "fsck: $(cat "$T_DIR/fsck.log")"
losetup -d "$LOOP"
LOOP=
fusermount3 -u "$FUSE" || t_fail "fusermount3 -u"
# The backing file alone holds the same clean file system.
fsck.ext4 -fn "$T_DIR/disk.img" >"$T_DIR/fsck2.log" 2>&1 ||
    t_fail "fsck of the backing file: $(cat "$T_DIR/fsck2.log")"

# The toolstack detaches the disk while the export is served and a client
# is connected: the frontend follows the backend to Closed, the detach
# completes, the export ends cleanly and the guest shuts down.
nbdinfo --size "$URI" >/dev/null || t_fail "export gone before the detach"
# A client that connects and then sits idle (the export must not wait for it).
t_bg nbdcopy "$URI" - --synchronous --connections=1 --request-size=4096 \
    >/dev/null 2>&1
b_detach "$FE" 51712
# A domain's output goes to the daemon's log.
wait_for grep -q "detached by the toolstack" "$T_DIR/simhv.log" ||
    t_fail "the export did not end: $(tail -5 "$T_DIR/simhv.log")"
wait_for released "$FE" || t_fail "nbd domain still running after the detach"
[ -z "$(xt read "$(be_path "$FE" 51712)" 2>/dev/null)" ] ||
    t_fail "backend directory left after the detach"

b_stop
t_pass
