#!/bin/sh
# blkbench: the block path end to end against the kernel, in the same run.
# drvdom-blkfront (a sim domain) -> blkif ring -> drvdom-blkback (under
# drvdomd in a driver domain) -> a file on tmpfs, against fio (io_uring,
# O_DIRECT) on the very same file: sequential 1 MiB read and write, 4 KiB
# random read at QD32, 4 KiB random read at QD1 (latency). Prints one table
# with the ratios and the targets of docs/PERFORMANCE.md. Environment:
# BLKBENCH_RUNTIME (seconds per run, default 5), BLKBENCH_SPIN=1 (the
# frontend polls its rings instead of sleeping).
set -u
DRVDOM_SRCDIR=${DRVDOM_SRCDIR:-%ABS_TOP_SRCDIR%}
DRVDOM_BUILDDIR=${DRVDOM_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
RT=${BLKBENCH_RUNTIME:-5}
command -v fio >/dev/null || { echo "blkbench: fio not installed (apt-get install fio)"; exit 0; }
[ -d /dev/shm ] || { echo "blkbench: no /dev/shm"; exit 0; }
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
TMPDIR=/dev/shm t_init blkbench
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"
b_start
DISK=$T_DIR/disk.img
SPIN=
[ "${BLKBENCH_SPIN:-0}" = 1 ] && SPIN=--spin
head -c $((512 * 1024 * 1024)) /dev/urandom >"$DISK" || t_fail "make disk"

# ours RW BS QD: one frontend domain run; prints "iops mbps p50 p99".
ours() {
    n=$(ls "$T_DIR" | grep -c '^b.*\.st$')
    n=$((n + 1))
    fe=$(b_front "b$n" bench --devid 51712 --rw "$1" --bs "$2" --iodepth "$3" \
        --depth "$3" --order 4 --runtime "$RT" $SPIN) || t_fail "create"
    b_attach "$fe" 51712 disk.img w
    wait_for one_of "$T_DIR/b$n.st" done failed || t_fail "bench stalled"
    r=$(key "$T_DIR/b$n.st" result)
    [ -n "$r" ] || t_fail "bench failed: $(cat "$T_DIR/b$n.st")"
    wait_for released "$fe"
    b_detach "$fe" 51712
    echo "$r" | tr ' ' '\n' | awk -F= '
        $1 == "iops" { i = $2 } $1 == "mbps" { m = $2 }
        $1 == "p50_us" { p = $2 } $1 == "p99_us" { q = $2 }
        END { print i, m, p, q }'
}

# fio_run RW BS QD: the same on the same file; prints "iops mbps p50 p99".
fio_run() {
    fio --name=native --filename="$DISK" --ioengine=io_uring --direct=1 \
        --rw="$1" --bs="$2" --iodepth="$3" --runtime="$RT" --time_based \
        --output-format=json 2>/dev/null | awk -v dir="$(
        case $1 in *write) echo write ;; *) echo read ;; esac)" '
        /"(read|write)" : \{/ { sec = ($0 ~ "\"" dir "\"") }
        sec && /"iops" :/ && !i { gsub(/[",]/, ""); i = $3 }
        sec && /"bw_bytes" :/ && !m { gsub(/[",]/, ""); m = $3 / 1e6 }
        sec && /"50.000000" :/ && !p { gsub(/[",]/, ""); p = $3 / 1e3 }
        sec && /"99.000000" :/ && !q { gsub(/[",]/, ""); q = $3 / 1e3 }
        END { printf "%.0f %.1f %.1f %.1f\n", i, m, p, q }'
}

printf "%-22s %12s %12s %8s %s\n" workload drvdom fio ratio target
row() { # NAME RW BS QD METRIC(mbps|iops|lat) TARGET
    o=$(ours "$2" "$3" "$4")
    f=$(fio_run "$2" "$3" "$4")
    case $5 in
    mbps) a=$(echo "$o" | cut -d' ' -f2); b=$(echo "$f" | cut -d' ' -f2)
        printf "%-22s %9s MB/s %7s MB/s %7.2fx %s\n" "$1" "$a" "$b" \
            "$(echo "$a $b" | awk '{ print $1 / $2 }')" "$6" ;;
    iops) a=$(echo "$o" | cut -d' ' -f1); b=$(echo "$f" | cut -d' ' -f1)
        printf "%-22s %12s %12s %7.2fx %s\n" "$1" "$a IOPS" "$b IOPS" \
            "$(echo "$a $b" | awk '{ print $1 / $2 }')" "$6" ;;
    lat) a50=$(echo "$o" | cut -d' ' -f3); a99=$(echo "$o" | cut -d' ' -f4)
        b50=$(echo "$f" | cut -d' ' -f3); b99=$(echo "$f" | cut -d' ' -f4)
        printf "%-22s %12s %12s %+7.1fus %s\n" "$1 p50" "${a50}us" \
            "${b50}us" "$(echo "$a50 $b50" | awk '{ print $1 - $2 }')" "$6"
        printf "%-22s %12s %12s %+7.1fus %s\n" "$1 p99" "${a99}us" \
            "${b99}us" "$(echo "$a99 $b99" | awk '{ print $1 - $2 }')" "$6" ;;
    esac
}
row "seq read 1M QD4" read 1M 4 mbps ">=0.9x"
row "seq write 1M QD4" write 1M 4 mbps ">=0.9x"
row "rand read 4k QD32" randread 4k 32 iops ">=0.7x"
row "rand read 4k QD1" randread 4k 1 lat "<=+10us"
b_stop
exit 0
