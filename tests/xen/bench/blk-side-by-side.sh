#!/bin/sh
# Benchmark (make bench-xen): the same guest workload (guest/bench: O_DIRECT
# dd writes and reads at a few block sizes) against each block backend in
# one testbed run, printed as a table of MB/s with each backend's ratio to
# Linux's blkback. Figures under emulation only mean something side by side.
. /share/scenarios/lib.sh
mib=${TB_BENCH_MIB:-32}
sizes="4k 64k 1M"
backends="linux-blkback qemu-qdisk"

for b in $backends; do
    case $b in
    linux-blkback) spec="format=raw,vdev=xvda,access=rw," ;;
    qemu-qdisk) spec="format=raw,vdev=xvda,access=rw,backendtype=qdisk," ;;
    esac
    truncate -s $((mib + 16))M /tmp/disk.img
    tb_ramdisk /tmp/bench.cpio bench TB_MIB="$mib" "TB_BS='$sizes'"
    tb_guest bench /tmp/bench.cpio "${spec}target=/tmp/disk.img"
    tb_wait bench 240
    sed -n "s/^TB-BENCH: /$b /p" "$(tb_console bench)" | tr -d '\r' >>/tmp/bench.results
    : >"$(tb_console bench)"
    rm -f /tmp/disk.img /tmp/bench.cpio
done

echo
echo "O_DIRECT sequential dd in the guest, $mib MiB per block size, MB/s"
echo "(ratio = backend / Linux blkback, same run)"
echo
printf '| block size | op |'
for b in $backends; do
    printf ' %s |' "$b"
done
printf ' %s |\n' "qdisk / blkback"
printf '|---|---|'
for b in $backends; do
    printf -- '---:|'
done
printf -- '---:|\n'
for bs in $sizes; do
    for op in write read; do
        col=3
        [ $op = read ] && col=4
        printf '| %s | %s |' "$bs" "$op"
        for b in $backends; do
            printf ' %s |' "$(awk -v b="$b" -v s="$bs" -v c=$col '$1 == b && $2 == s { print $c }' /tmp/bench.results)"
        done
        awk -v s="$bs" -v c=$col '$2 == s { v[$1] = $c }
            END { if (v["linux-blkback"] > 0) printf " %.2f |\n", v["qemu-qdisk"] / v["linux-blkback"]; else print " - |" }' /tmp/bench.results
    done
done
echo PASS
