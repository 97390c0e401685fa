#!/bin/sh
# Benchmark (make bench-xen): the same guest workload (guest/bench: O_DIRECT
# dd writes and reads at a few block sizes) against each block backend in
# one testbed run, printed as a table of MB/s with the ratios of QEMU's
# qdisk and drvdom's blkback to Linux's blkback and of drvdom to qdisk.
# Linux's blkback and drvdom's (drvdomd in dom0, when built) both serve a
# loop device over the same tmpfs file; qdisk opens the file itself.
# drvdom-blkback runs in its Xen default data mode (grant copy), drvdom-map
# with DRVDOM_BLKBACK_DATA=map (grants mapped, persistent grants).
# Figures under emulation only mean something side by side.
#
# Knobs (host TB_* variables reach dom0): TB_BENCH_MIB (MiB per block
# size), TB_BENCH_BS (block sizes), TB_BENCH_BACKENDS (the backends, in
# order, repeats allowed), where two more names exist: drvdom-poll<N> is
# drvdom-blkback with DRVDOM_BLKBACK_POLL_US=N, drvdom-alt runs the worker
# program TB_BENCH_ALT (say, another build passed in with XT_PROGS) for an
# A/B of two builds in one run; TB_BENCH_POLL_US sets
# DRVDOM_BLKBACK_POLL_US for every drvdom backend.
. /share/scenarios/lib.sh
mib=${TB_BENCH_MIB:-32}
sizes=${TB_BENCH_BS:-4k 64k 1M}
backends="linux-blkback qemu-qdisk"
command -v drvdom-blkback >/dev/null &&
    backends="$backends drvdom-blkback drvdom-map"
backends=${TB_BENCH_BACKENDS:-$backends}

for b in $backends; do
    truncate -s $((mib + 16))M /tmp/disk.img
    target=/tmp/disk.img
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
        target=$(tb_loop /tmp/disk.img $((mib + 16)))
        ;;
    esac
    tb_ramdisk /tmp/bench.cpio bench TB_MIB="$mib" "TB_BS='$sizes'"
    tb_guest bench /tmp/bench.cpio "${spec}target=$target"
    tb_wait bench 240
    sed -n "s/^TB-BENCH: /$b /p" "$(tb_console bench)" | tr -d '\r' | tee -a /tmp/bench.results
    : >"$(tb_console bench)"
    if [ "${b%-*}" = drvdom ]; then
        mode="data by grant copy"
        [ $b = drvdom-map ] && mode="grants mapped"
        grep -q "connected: .*, $mode" /var/log/xen/drvdomd.log ||
            tb_fail "$b: the worker did not say \"$mode\""
        tb_drvdomd_stop
        losetup -d "$target"
        tb_kernel_blkback on
    fi
    rm -f /tmp/disk.img /tmp/bench.cpio
done

echo
echo "O_DIRECT sequential dd in the guest, $mib MiB per block size, MB/s"
echo "(ratios of the same run; blkback = Linux's xen-blkback)"
echo
# bench_ratio BS COL A B: A's figure over B's, or "-".
bench_ratio() {
    awk -v s="$1" -v c="$2" -v a="$3" -v b="$4" '$2 == s { v[$1] = $c }
        END { if (v[b] > 0 && v[a] > 0) printf "%.2f", v[a] / v[b]; else printf "-" }' /tmp/bench.results
}
printf '| block size | op |'
for b in $backends; do
    printf ' %s |' "$b"
done
printf ' qdisk / blkback | drvdom / blkback | drvdom / qdisk | drvdom-map / blkback |\n'
printf '|---|---|'
for b in $backends; do
    printf -- '---:|'
done
printf -- '---:|---:|---:|---:|\n'
for bs in $sizes; do
    for op in write read; do
        col=3
        [ $op = read ] && col=4
        printf '| %s | %s |' "$bs" "$op"
        for b in $backends; do
            printf ' %s |' "$(awk -v b="$b" -v s="$bs" -v c=$col '$1 == b && $2 == s { print $c }' /tmp/bench.results)"
        done
        printf ' %s | %s | %s | %s |\n' "$(bench_ratio "$bs" $col qemu-qdisk linux-blkback)" \
            "$(bench_ratio "$bs" $col drvdom-blkback linux-blkback)" \
            "$(bench_ratio "$bs" $col drvdom-blkback qemu-qdisk)" \
            "$(bench_ratio "$bs" $col drvdom-map linux-blkback)"
    done
done
echo PASS
