# Helpers for scenario scripts, sourced in the testbed's dom0 (busybox sh):
#   . /share/scenarios/lib.sh
# The share holds images/ (guest kernel and initramfs), guest/ (guest
# workloads), bin/ and lib/ (drvdom's programs, from run --bin). A scenario
# prints what it does, ends with "PASS" (exit 0) or calls tb_fail.

TB_IMAGES=/share/images
TB_GUEST=/share/guest
PATH=/share/bin:$PATH
LD_LIBRARY_PATH=/share/lib
export PATH LD_LIBRARY_PATH

# tb_log MSG: a progress line, stamped with dom0's uptime.
tb_log() { echo "[$(cut -d" " -f1 /proc/uptime)] tb: $*"; }

# tb_fail MSG: the scenario fails with MSG.
tb_fail() {
    echo "FAIL: $*"
    exit 1
}

# tb_libs PROG: the shared libraries PROG loads, and its loader.
tb_libs() {
    /lib64/ld-linux-x86-64.so.2 --list "$1" |
        awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# tb_ramdisk OUT WORKLOAD [VAR=VALUE...]: a guest initramfs in OUT: the base
# image plus a second (uncompressed) cpio archive holding guest/WORKLOAD as
# /tb/run, the settings as /tb/env, and the programs of TB_PROGS (absolute
# paths in dom0, e.g. /share/bin/drvdomd; default none) with their
# libraries, each at its dom0 path (the guest has /share/bin on PATH and /share/lib on
# LD_LIBRARY_PATH).
tb_ramdisk() {
    tb_out=$1 tb_wl=$2
    shift 2
    tb_d=$(mktemp -d /tmp/ramdisk.XXXXXX)
    mkdir "$tb_d/tb"
    cp "$TB_GUEST/$tb_wl" "$tb_d/tb/run" || tb_fail "no guest workload $tb_wl"
    chmod 755 "$tb_d/tb/run"
    for kv in "$@"; do
        echo "export $kv"
    done >"$tb_d/tb/env"
    # glibc dlopens libgcc_s for pthread_cancel (libxenstore's xs_close)
    # and unwinding, so ldd does not name it; without it such a program
    # aborts at exit unless something else (ASan) pulls it in.
    tb_gcc=$(ls /lib/x86_64-linux-gnu/libgcc_s.so.1 2>/dev/null)
    for p in ${TB_PROGS:-}; do
        [ -f "$p" ] || continue
        for f in "$p" $(tb_libs "$p") $tb_gcc; do
            mkdir -p "$tb_d${f%/*}"
            cp -L "$f" "$tb_d$f"
        done
    done
    (cd "$tb_d" && find . | cpio -o -H newc 2>/dev/null) >"$tb_d.cpio"
    cat "$TB_IMAGES/guest.cpio" "$tb_d.cpio" >"$tb_out"
    rm -rf "$tb_d" "$tb_d.cpio"
}

# tb_guest NAME RAMDISK DISK...: start PV guest NAME with the guest kernel,
# RAMDISK and the xl disk specifications DISK... TB_MEM (MB, default 160)
# and TB_XL (more xl.cfg lines, e.g. driver_domain=1) change the config.
tb_guest() {
    tb_name=$1 tb_rd=$2
    shift 2
    tb_disks=""
    for d in "$@"; do
        tb_disks="$tb_disks${tb_disks:+, }'$d'"
    done
    cat >"/tmp/$tb_name.cfg" <<EOC
name="$tb_name"
type="pv"
kernel="$TB_IMAGES/vmlinux"
ramdisk="$tb_rd"
extra="console=hvc0 quiet"
memory=${TB_MEM:-160}
vcpus=1
disk=[ $tb_disks ]
on_crash="destroy"
${TB_XL:-}
EOC
    tb_log "starting guest $tb_name: $*"
    xl create "/tmp/$tb_name.cfg" || tb_fail "xl create $tb_name failed"
    tb_log "guest $tb_name created"
}

# tb_console NAME: the file xenconsoled logs guest NAME's console to.
tb_console() { echo "/var/log/xen/console/guest-$1.log"; }

# tb_wait NAME SECS: wait until guest NAME has powered off; fail if it takes
# longer than SECS or its workload did not end with status 0.
tb_wait() {
    tb_i=0
    while xl domid "$1" >/dev/null 2>&1; do
        if [ "$tb_i" -ge "$2" ]; then
            xl destroy "$1"
            tb_fail "guest $1 still running after $2 s; console: $(tail -5 "$(tb_console "$1")")"
        fi
        sleep 1
        tb_i=$((tb_i + 1))
    done
    tb_log "guest $1 ended after ${tb_i} s"
    grep -q '^TB-EXIT: 0' "$(tb_console "$1")" || {
        cat "$(tb_console "$1")"
        tb_fail "guest $1's workload failed"
    }
}

# tb_result NAME KEY: the value the guest printed as "TB: KEY=VALUE".
tb_result() {
    sed -n "s/^TB: $2=//p" "$(tb_console "$1")" | tr -d '\r' | tail -1
}

# tb_leftovers DOMID: xenstore paths domain DOMID left behind.
tb_leftovers() {
    xenstore-exists "/local/domain/$1" && echo "/local/domain/$1"
    for t in $(xenstore-list /local/domain/0/backend 2>/dev/null); do
        xenstore-exists "/local/domain/0/backend/$t/$1" &&
            echo "/local/domain/0/backend/$t/$1"
    done
}

# tb_gone DOMID: within 10 s, xl list shows dom0 alone and domain DOMID
# leaves nothing in xenstore.
tb_gone() {
    tb_i=0
    while [ $tb_i -lt 10 ]; do
        [ "$(xl list | awk 'NR > 1 { n++ } END { print n }')" = 1 ] &&
            [ -z "$(tb_leftovers "$1")" ] && return 0
        sleep 1
        tb_i=$((tb_i + 1))
    done
    xl list
    tb_fail "domain $1 not cleaned up within 10 s: $(tb_leftovers "$1" | tr "\n" " ")"
}

# tb_verify_backend KIND SPEC: the baseline check. A guest writes random data
# with O_DIRECT through a file-backed disk (xl disk SPEC, target appended)
# served by backend KIND (the xenstore backend type: vbd for Linux blkback,
# qdisk for QEMU), reads it back and compares; the disk file must then hold
# the same data, and the guest must leave nothing behind.
tb_verify_backend() {
    mib=16
    truncate -s 64M /tmp/disk.img
    tb_log "preparing the disk and the guest's initramfs"
    tb_ramdisk /tmp/verify.cpio verify TB_MIB=$mib
    tb_guest verify /tmp/verify.cpio "$2target=/tmp/disk.img"
    domid=$(xl domid verify)
    xenstore-exists "/local/domain/0/backend/$1/$domid" ||
        tb_fail "no $1 backend for domain $domid: $(xenstore-ls -f /local/domain/0/backend)"
    tb_wait verify 120
    tb_log "checking the disk file"
    want=$(tb_result verify written)
    back=$(tb_result verify readback)
    disk=$(head -c $((mib * 1048576)) /tmp/disk.img | sha256sum | cut -d' ' -f1)
    tb_log "guest wrote $want, read back $back; disk file holds $disk"
    [ -n "$want" ] || tb_fail "the guest reported no checksum"
    [ "$want" = "$back" ] || tb_fail "data read back differs from data written"
    [ "$want" = "$disk" ] || tb_fail "the disk file does not hold the data written"
    tb_gone "$domid"
    tb_log "domain $domid cleaned up"
    rm -f /tmp/disk.img /tmp/verify.cpio
}

# tb_drvdomd TYPE=PROGRAM...: start drvdomd in dom0 (xen platform) serving
# those device types with those workers (found on PATH, i.e. /share/bin).
# Its log goes to /var/log/xen/drvdomd.log (kept in NAME.d/), its run files
# to /run/drvdomd; /run/tb.pids lists it so that dom0's init stops it if
# the scenario is killed. Sets TB_DRVDOMD to its pid.
tb_drvdomd() {
    tb_args=""
    for w in "$@"; do
        tb_args="$tb_args --worker ${w%%=*}=$(command -v "${w#*=}")"
    done
    # shellcheck disable=SC2086 # one word per argument
    drvdomd --platform xen --run-dir /run/drvdomd $tb_args \
        2>>/var/log/xen/drvdomd.log &
    TB_DRVDOMD=$!
    echo "$TB_DRVDOMD" >>/run/tb.pids
    tb_log "drvdomd started (pid $TB_DRVDOMD):$tb_args"
}

# tb_drvdomd_stop: SIGTERM drvdomd (it closes every device and exits) and
# check that it exited with status 0 and that no sanitizer reported.
tb_drvdomd_stop() {
    kill -TERM "$TB_DRVDOMD" 2>/dev/null
    wait "$TB_DRVDOMD"
    tb_rc=$?
    tb_log "drvdomd exited with status $tb_rc"
    ! grep -E -m3 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' \
        /var/log/xen/drvdomd.log || tb_fail "a sanitizer reported (drvdomd.log)"
    [ "$tb_rc" = 0 ] || tb_fail "drvdomd exited with status $tb_rc: $(tail -3 /var/log/xen/drvdomd.log)"
}

# tb_worker_pid TYPE FE DEVID: the pid of drvdomd's worker for a device.
tb_worker_pid() { sed -n 's/^pid //p' "/run/drvdomd/$1-$2-$3" 2>/dev/null; }

# tb_until SECS CMD...: retry CMD every 0.2 s until it succeeds; 1 when it
# still fails after SECS seconds.
tb_until() {
    tb_n=$(($1 * 5))
    shift
    until "$@" 2>/dev/null; do
        tb_n=$((tb_n - 1))
        [ $tb_n -gt 0 ] || return 1
        usleep 200000
    done
}

# tb_at_least NAME KEY N: guest NAME printed "TB: KEY=V" last with V >= N.
tb_at_least() {
    tb_v=$(tb_result "$1" "$2")
    [ -n "$tb_v" ] && [ "$tb_v" -ge "$3" ]
}

# tb_kernel_blkback off|on: unload Linux's xen-blkback from dom0 (so that
# nothing but drvdomd serves backend/vbd) or load it again. dom0's init
# loads it again after every scenario.
tb_kernel_blkback() {
    if [ "$1" = off ]; then
        if grep -q '^xen_blkback ' /proc/modules; then
            rmmod xen_blkback || tb_fail "cannot unload xen-blkback"
        fi
    elif ! grep -q '^xen_blkback ' /proc/modules; then
        insmod /lib/modules/xen-blkback.ko || tb_fail "cannot load xen-blkback"
    fi
}

# tb_loop FILE MIB: a FILE of MIB MiB on a loop device, printed (drvdom's
# blkback wants O_DIRECT, which tmpfs refuses and a loop device takes).
tb_loop() {
    truncate -s "$2M" "$1"
    tb_dev=$(losetup -f) || tb_fail "no free loop device"
    losetup "$tb_dev" "$1" || tb_fail "cannot attach $1 to $tb_dev"
    echo "$tb_dev"
}

# tb_check_blkfs NAME FILE: what guest NAME's blkfs workload wrote is in
# the disk FILE, and its file system checked out.
tb_check_blkfs() {
    tb_want=$(tb_result "$1" written)
    tb_off=$(tb_result "$1" offset_mib)
    [ -n "$tb_want" ] || tb_fail "the guest reported no checksum"
    [ "$tb_want" = "$(tb_result "$1" readback)" ] ||
        tb_fail "data read back differ from data written"
    tb_disk=$(dd if="$2" bs=1M skip="$tb_off" count=16 2>/dev/null | sha256sum | cut -d' ' -f1)
    [ "$tb_want" = "$tb_disk" ] || tb_fail "the disk file does not hold the data written"
    [ "$(tb_result "$1" fs)" = ok ] || tb_fail "the file system check failed"
    tb_log "data written = read back = on disk ($tb_want); file system ok"
}

# tb_libxl_errors NAME: warn (in the scenario's log) about the errors libxl
# logged for guest NAME, e.g. a backend directory removed under its feet.
tb_libxl_errors() {
    grep -h 'libxl: error' "/var/log/xen/xl-$1.log" 2>/dev/null |
        sed 's/^/WARN: /'
    return 0
}
