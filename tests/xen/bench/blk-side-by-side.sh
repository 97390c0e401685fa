#!/bin/sh
# Benchmark (make bench-xen): the same guest workload (guest/bench: O_DIRECT
# dd writes and reads at a few block sizes) against each block backend in
# one testbed run, printed as a table of MB/s with the ratios of QEMU's
# qdisk and drvdom's blkback to Linux's blkback and of drvdom to qdisk.
# The store (TB_BENCH_STORE) is the same for every backend: "ram" (the
# default), a RAM block device (brd, /dev/ram0) that all three open as a
# block device, as a driver domain serves its disks; "fs", an image file
# on a file system (ext4 on a RAM block device), which qdisk and drvdom's
# blkback open themselves (O_DIRECT) and Linux's blkback reaches through a
# loop device, as each serves disk images; "file", a file in dom0's tmpfs,
# which refuses O_DIRECT, so that Linux's blkback and drvdom's (drvdomd in
# dom0, when built) both reach it through a loop device and qdisk opens it.
# drvdom-blkback runs in its Xen default data mode (copy), drvdom-map
# with DRVDOM_BLKBACK_DATA=map (grants mapped, persistent grants).
# Figures under emulation only mean something side by side.
#
# Knobs (host TB_* variables reach dom0): TB_BENCH_BS (block sizes, each
# SIZE or SIZE:MIB, the MiB moved at that size), TB_BENCH_MIB (MiB where a
# size names none), TB_BENCH_REGION (MiB of the disk the passes go over),
# TB_BENCH_STORE (ram, fs or file), TB_BENCH_REPS (rounds over the
# backends, interleaved, default 3; the table gives medians), TB_BENCH_BACKENDS (the backends, in
# order, repeats allowed), where two more names exist: drvdom-poll<N> is
# drvdom-blkback with DRVDOM_BLKBACK_POLL_US=N, drvdom-alt runs the worker
# program TB_BENCH_ALT (say, another build passed in with XT_PROGS) for an
# A/B of two builds in one run; TB_BENCH_POLL_US sets
# DRVDOM_BLKBACK_POLL_US for every drvdom backend; TB_BENCH_PERF names
# backends that get one more round, profiled in dom0 (perf, passed in with
# XT_HOST_PROGS), whose figures stay out of the tables. A second table gives the guest's vCPU time in each
# phase: busy, waiting for the backend, or stolen.
. /share/scenarios/lib.sh
mib=${TB_BENCH_MIB:-32}
region=${TB_BENCH_REGION:-32}
specs=${TB_BENCH_BS:-4k:16 64k:64 1M:256}
sizes=$(for s in $specs; do echo "${s%%:*}"; done | tr '\n' ' ')
store=${TB_BENCH_STORE:-ram}
case $store in
ram | fs | file) ;;
*) tb_fail "TB_BENCH_STORE=$store: ram, fs or file" ;;
esac
backends="linux-blkback qemu-qdisk"
command -v drvdom-blkback >/dev/null &&
    backends="$backends drvdom-blkback drvdom-map"
backends=${TB_BENCH_BACKENDS:-$backends}
reps=${TB_BENCH_REPS:-3}
runs=""
i=0
while [ $i -lt "$reps" ]; do
    runs="$runs $backends"
    i=$((i + 1))
done

for b in $backends ${TB_BENCH_PERF:-}; do
    case $b in
    linux-blkback | qemu-qdisk | drvdom-blkback | drvdom-map | drvdom-alt) ;;
    drvdom-poll*[!0-9]* | drvdom-poll) tb_fail "$b: drvdom-poll<N>, N in µs" ;;
    drvdom-poll*) ;;
    *) tb_fail "no backend $b: linux-blkback, qemu-qdisk, drvdom-blkback, drvdom-map, drvdom-poll<N> or drvdom-alt" ;;
    esac
done
if [ -n "${TB_BENCH_PERF:-}" ] && ! command -v perf >/dev/null; then
    tb_fail "TB_BENCH_PERF needs perf in dom0: pass the host's with XT_HOST_PROGS=/usr/bin/perf (Debian package linux-perf)"
fi

# bench_perf_start BACKEND: profile all of dom0 (perf record -a -g) from
# now to bench_perf_stop into the results: perf-BACKEND.data, and dom0's
# kallsyms to read it with.
perf_pid=""
bench_perf_start() {
    cp /proc/kallsyms /share/results/kallsyms
    perf record -a -g -e cpu-clock -o "/tmp/perf-$1.data" >/tmp/perf.log 2>&1 &
    perf_pid=$!
    perf_name=$1
    tb_log "perf recording dom0 for $1 (pid $perf_pid)"
}

# bench_perf_stop: end the recording bench_perf_start began, if any.
bench_perf_stop() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid"
    wait "$perf_pid"
    cp "/tmp/perf-$perf_name.data" /share/results/ ||
        tb_fail "perf recorded nothing: $(tail -3 /tmp/perf.log)"
    rm -f "/tmp/perf-$perf_name.data"
    perf_pid=""
}

# bench_ram MIB: a RAM block device of MIB MiB, /dev/ram0.
bench_ram() {
    insmod /lib/modules/brd.ko rd_nr=1 rd_size=$(($1 * 1024)) ||
        tb_fail "cannot load brd"
    [ -b /dev/ram0 ] || tb_fail "brd made no /dev/ram0"
}

# bench_store: a fresh, zeroed store of the region and 16 MiB more; sets
# target (what the backends are given).
bench_store() {
    case $store in
    ram)
        bench_ram $((region + 16))
        target=/dev/ram0
        ;;
    fs)
        # An image file written in full (no holes for O_DIRECT to meet).
        bench_ram $((region + 40))
        /sbin/mke2fs -q -t ext4 -b 4096 /dev/ram0 ||
            tb_fail "mke2fs /dev/ram0"
        mkdir -p /mnt/store
        mount -t ext4 /dev/ram0 /mnt/store || tb_fail "cannot mount /dev/ram0"
        target=/mnt/store/disk.img
        dd if=/dev/zero of=$target bs=1M count=$((region + 16)) ||
            tb_fail "cannot write $target ($(df /mnt/store | tail -1))"
        sync
        ;;
    file)
        truncate -s $((region + 16))M /tmp/disk.img
        target=/tmp/disk.img
        ;;
    esac
}

# bench_store_drop: give the store's memory back.
bench_store_drop() {
    case $store in
    fs)
        # The hotplug script's loop device may outlive the guest a moment.
        tb_until 10 umount /mnt/store || tb_fail "cannot unmount /mnt/store"
        tb_until 10 rmmod brd || tb_fail "cannot unload brd"
        ;;
    ram)
        # A backend may hold the device a moment after its guest is gone.
        tb_until 10 rmmod brd || tb_fail "cannot unload brd"
        ;;
    file) rm -f /tmp/disk.img ;;
    esac
}

# bench_round BACKEND [profile]: one guest run against BACKEND; its
# figures go to the tables, or, profiled (perf slows dom0 down), only to
# the log.
bench_round() {
    b=$1
    bench_store
    case $b in
    linux-blkback) spec="format=raw,vdev=xvda,access=rw," ;;
    qemu-qdisk) spec="format=raw,vdev=xvda,access=rw,backendtype=qdisk," ;;
    drvdom-*)
        spec="format=raw,vdev=xvda,access=rw,"
        tb_kernel_blkback off
        prog=drvdom-blkback
        [ -n "${TB_BENCH_POLL_US:-}" ] && export DRVDOM_BLKBACK_POLL_US=$TB_BENCH_POLL_US
        case $b in
        drvdom-map) export DRVDOM_BLKBACK_DATA=map ;;
        drvdom-poll*) export DRVDOM_BLKBACK_POLL_US=${b#drvdom-poll} ;;
        drvdom-alt) prog=${TB_BENCH_ALT:?drvdom-alt needs TB_BENCH_ALT} ;;
        esac
        tb_drvdomd vbd="$prog"
        unset DRVDOM_BLKBACK_DATA DRVDOM_BLKBACK_POLL_US
        loopdev=""
        if [ $store = file ]; then
            loopdev=$(tb_loop /tmp/disk.img $((region + 16)))
            target=$loopdev
        fi
        ;;
    esac
    tb_ramdisk /tmp/bench.cpio bench TB_MIB="$mib" TB_REGION="$region" "TB_BS='$specs'"
    [ -n "${2:-}" ] && bench_perf_start "$b"
    tb_guest bench /tmp/bench.cpio "${spec}target=$target"
    tb_wait bench 240
    if [ -n "${2:-}" ]; then
        bench_perf_stop
        sed -n "s/^TB-BENCH: /$b (profiled) /p" "$(tb_console bench)" | tr -d '\r'
    else
        sed -n "s/^TB-BENCH: /$b /p" "$(tb_console bench)" | tr -d '\r' | tee -a /tmp/bench.results
        sed -n "s/^TB-CPU: /$b /p" "$(tb_console bench)" | tr -d '\r' >>/tmp/bench.cpu
    fi
    : >"$(tb_console bench)"
    if [ "${b%-*}" = drvdom ]; then
        mode="data copied via own buffers"
        [ $b = drvdom-map ] && mode="grants mapped"
        grep -q "connected: .*, $mode" /var/log/xen/drvdomd.log ||
            tb_fail "$b: the worker did not say \"$mode\""
        tb_drvdomd_stop
        [ -n "$loopdev" ] && losetup -d "$loopdev"
        tb_kernel_blkback on
    fi
    # The guest is gone (tb_wait): nothing holds the store any more.
    bench_store_drop
    rm -f /tmp/bench.cpio
}

tb_log "store: $store; sizes: $specs"
for b in $runs; do
    bench_round "$b"
done
for b in ${TB_BENCH_PERF:-}; do
    bench_round "$b" profile
done

echo
echo "O_DIRECT sequential dd in the guest ($specs: size:MiB moved), MB/s"
echo "store: $store"
[ "$reps" -gt 1 ] && echo "(median of $reps interleaved runs, min..max)"
echo "(ratios of the same run; blkback = Linux's xen-blkback)"
echo
# One column per backend, in the order of their first run; ratios of the
# medians ("-" where a side is missing).
cols=$(echo "$backends" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
# med(K): the median of val[K, 1..cnt[K]] (-1 if none), its min and max
# in lo[K] and hi[K]; for both tables.
bench_med='
function med(k, n, i, j, t, a) {
    n = cnt[k]
    if (!n)
        return -1
    for (i = 1; i <= n; i++)
        a[i] = val[k, i] + 0
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    lo[k] = a[1]; hi[k] = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
'
awk -v cols="$cols" -v sizes="$sizes" "$bench_med"'
function cell(b, s, c, m, k) {
    k = b SUBSEP s SUBSEP c
    m = med(k)
    if (m < 0)
        return "-"
    if (cnt[k] == 1)
        return m
    return sprintf("%.1f (%.1f..%.1f)", m, lo[k], hi[k])
}
function ratio(a, b, s, c, x, y) {
    x = med(a SUBSEP s SUBSEP c); y = med(b SUBSEP s SUBSEP c)
    return x > 0 && y > 0 ? sprintf("%.2f", x / y) : "-"
}
{ for (c = 3; c <= 4; c++) { k = $1 SUBSEP $2 SUBSEP c; val[k, ++cnt[k]] = $c } }
END {
    nb = split(cols, bk, " "); ns = split(sizes, sz, " ")
    printf "| block size | op |"
    for (i = 1; i <= nb; i++) printf " %s |", bk[i]
    print " qdisk / blkback | drvdom / blkback | drvdom / qdisk | drvdom-map / blkback |"
    printf "|---|---|"
    for (i = 1; i <= nb; i++) printf "---:|"
    print "---:|---:|---:|---:|"
    for (j = 1; j <= ns; j++)
        for (c = 3; c <= 4; c++) {
            printf "| %s | %s |", sz[j], c == 3 ? "write" : "read"
            for (i = 1; i <= nb; i++) printf " %s |", cell(bk[i], sz[j], c)
            printf " %s | %s | %s | %s |\n", ratio("qemu-qdisk", "linux-blkback", sz[j], c),
                ratio("drvdom-blkback", "linux-blkback", sz[j], c),
                ratio("drvdom-blkback", "qemu-qdisk", sz[j], c),
                ratio("drvdom-map", "linux-blkback", sz[j], c)
        }
}' /tmp/bench.results

echo
echo "The guest's vCPU in each phase, % of the phase: busy (user + system) /"
echo "waiting (idle, iowait: for the backend) / steal (runnable, not run);"
echo "medians"
echo
awk -v cols="$cols" -v sizes="$sizes" "$bench_med"'
function add(k, v) { val[k, ++cnt[k]] = v }
{
    t = $4 + $5 + $6 + $7 + $8
    if (t <= 0)
        next
    k = $1 SUBSEP $2 SUBSEP $3
    add(k SUBSEP "busy", 100 * ($4 + $5) / t)
    add(k SUBSEP "wait", 100 * ($6 + $8) / t)
    add(k SUBSEP "steal", 100 * $7 / t)
}
END {
    nb = split(cols, bk, " "); ns = split(sizes, sz, " ")
    printf "| block size | op |"
    for (i = 1; i <= nb; i++) printf " %s |", bk[i]
    printf "\n|---|---|"
    for (i = 1; i <= nb; i++) printf "---:|"
    printf "\n"
    for (j = 1; j <= ns; j++)
        for (c = 1; c <= 2; c++) {
            op = c == 1 ? "write" : "read"
            printf "| %s | %s |", sz[j], op
            for (i = 1; i <= nb; i++) {
                k = bk[i] SUBSEP sz[j] SUBSEP op
                if (!cnt[k SUBSEP "busy"]) { printf " - |"; continue }
                printf " %.0f / %.0f / %.0f |", med(k SUBSEP "busy"),
                    med(k SUBSEP "wait"), med(k SUBSEP "steal")
            }
            printf "\n"
        }
}' /tmp/bench.cpu
echo PASS
