#!/bin/sh
# blkbench: the block path end to end against the kernel, in the same run.
# drvdom-blkfront bench (a sim domain) -> blkif ring (order 4, one queue,
# depth = iodepth, persistent grants, indirect segments for 1 MiB) ->
# drvdom-blkback (under drvdomd in a driver domain) -> a file on tmpfs,
# against fio (io_uring, O_DIRECT, same iodepth, bs and pattern) on the very
# same file: sequential 1 MiB read and write at QD4, 4 KiB random read at
# QD32, 4 KiB random read at QD1 (latency, submit to completion on both).
#
# Noise control for a small shared machine: each workload runs REPS times,
# drvdom and fio interleaved (A B A B ...), each run RUNTIME seconds; the
# table gives the median of each side (min..max after it), the ratio of the
# medians and pass/miss against the targets of docs/PERFORMANCE.md. Nothing
# is pinned (the scheduler places both sides the same way). Environment:
# BLKBENCH_REPS (default 5), BLKBENCH_RUNTIME (seconds, default 2),
# BLKBENCH_POLL_US (the frontend's adaptive poll bound; 0: sleep at once),
# BLKBENCH_ONLY (a workload number 1-4 to run alone).
set -u
DRVDOM_SRCDIR=${DRVDOM_SRCDIR:-%ABS_TOP_SRCDIR%}
DRVDOM_BUILDDIR=${DRVDOM_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
RT=${BLKBENCH_RUNTIME:-2}
REPS=${BLKBENCH_REPS:-5}
ONLY=${BLKBENCH_ONLY:-}
command -v fio >/dev/null || { echo "blkbench: fio not installed (apt-get install fio)"; exit 0; }
[ -d /dev/shm ] || { echo "blkbench: no /dev/shm"; exit 0; }
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
TMPDIR=/dev/shm t_init blkbench
. "$DRVDOM_SRCDIR/tests/sim/blk-lib.sh"
b_start
DISK=$T_DIR/disk.img
POLL=
[ -n "${BLKBENCH_POLL_US:-}" ] && POLL="--poll-us $BLKBENCH_POLL_US"
head -c $((512 * 1024 * 1024)) /dev/urandom >"$DISK" || t_fail "make disk"

# ours RW BS QD: one frontend domain run; prints "iops mbps p50 p99 cpu"
# (cpu: the frontend's CPU microseconds per request).
ours() {
    n=$(ls "$T_DIR" | grep -c '^b.*\.st$')
    n=$((n + 1))
    # shellcheck disable=SC2086
    fe=$(b_front "b$n" bench --devid 51712 --rw "$1" --bs "$2" --iodepth "$3" \
        --depth "$3" --order 4 --runtime "$RT" $POLL) || t_fail "create"
    b_attach "$fe" 51712 disk.img w
    # Not a poll loop (a fork per 10 ms) while the measurement runs: it
    # would take a CPU share from drvdom's side only.
    sleep "$RT"
    wait_for one_of "$T_DIR/b$n.st" done failed || t_fail "bench stalled"
    r=$(key "$T_DIR/b$n.st" result)
    [ -n "$r" ] || t_fail "bench failed: $(cat "$T_DIR/b$n.st" "$T_DIR/b$n.log")"
    wait_for released "$fe"
    b_detach "$fe" 51712
    echo "$r" | tr ' ' '\n' | awk -F= '
        $1 == "iops" { i = $2 } $1 == "mbps" { m = $2 }
        $1 == "p50_us" { p = $2 } $1 == "p99_us" { q = $2 }
        $1 == "cpu_us_per_io" { c = $2 }
        END { print i, m, p, q, c }'
}

# fio_run RW BS QD: the same on the same file; prints "iops mbps p50 p99".
# Percentiles of the total latency (submission to completion), as ours.
fio_run() {
    fio --name=native --filename="$DISK" --ioengine=io_uring --direct=1 \
        --rw="$1" --bs="$2" --iodepth="$3" --runtime="$RT" --time_based \
        --lat_percentiles=1 --clat_percentiles=0 \
        --output-format=json 2>/dev/null | awk -v dir="$(
        case $1 in *write) echo write ;; *) echo read ;; esac)" '
        /"(read|write)" : \{/ { sec = ($0 ~ "\"" dir "\"") }
        sec && /"iops" :/ && !i { gsub(/[",]/, ""); i = $3 }
        sec && /"bw_bytes" :/ && !m { gsub(/[",]/, ""); m = $3 / 1e6 }
        sec && /"50.000000" :/ && !p { gsub(/[",]/, ""); p = $3 / 1e3 }
        sec && /"99.000000" :/ && !q { gsub(/[",]/, ""); q = $3 / 1e3 }
        END { printf "%.0f %.1f %.1f %.1f\n", i, m, p, q }'
}

# med COL FILE: "median min max" of column COL.
med() {
    cut -d' ' -f"$1" "$2" | sort -g | awk '
        { v[NR] = $1 }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%s %s %s\n", m, v[1], v[NR]
        }'
}

# measure NAME RW BS QD: REPS interleaved pairs into $T_DIR/NAME.{ours,fio}.
measure() {
    : >"$T_DIR/$1.ours"
    : >"$T_DIR/$1.fio"
    r_=1
    while [ $r_ -le "$REPS" ]; do
        o_=$(ours "$2" "$3" "$4")
        f_=$(fio_run "$2" "$3" "$4")
        echo "$o_" >>"$T_DIR/$1.ours"
        echo "$f_" >>"$T_DIR/$1.fio"
        echo "# $1 run $r_: drvdom $o_ | fio $f_" \
            "(iops MB/s p50 p99 [frontend CPU us/IO])" >&2
        r_=$((r_ + 1))
    done
}

# verdict: pass/miss of "VALUE OP LIMIT".
verdict() { echo "$1 $2" | awk '{ print ($1 '"$3"' $2) ? "pass" : "miss" }'; }

# ratio_row LABEL NAME COL UNIT TARGET: medians, their ratio, >= TARGET.
ratio_row() {
    set -- "$1" "$2" "$3" "$4" "$5" "$(med "$3" "$T_DIR/$2.ours")" \
        "$(med "$3" "$T_DIR/$2.fio")"
    r_=$(echo "$6 $7" | awk '{ printf "%.2f", $1 / $4 }')
    printf "%-20s %32s %32s %6sx %7s %s\n" "$1" \
        "$(echo "$6" | awk -v u="$4" '{ printf "%s %s (%s..%s)", $1, u, $2, $3 }')" \
        "$(echo "$7" | awk -v u="$4" '{ printf "%s %s (%s..%s)", $1, u, $2, $3 }')" \
        "$r_" ">=$5x" "$(verdict "$r_" "$5" ">=")"
}

# lat_row LABEL NAME COL: median latencies, ours - fio <= 10 us.
lat_row() {
    set -- "$1" "$2" "$3" "$(med "$3" "$T_DIR/$2.ours")" \
        "$(med "$3" "$T_DIR/$2.fio")"
    d_=$(echo "$4 $5" | awk '{ printf "%+.1f", $1 - $4 }')
    printf "%-20s %32s %32s %6sus %7s %s\n" "$1" \
        "$(echo "$4" | awk '{ printf "%s us (%s..%s)", $1, $2, $3 }')" \
        "$(echo "$5" | awk '{ printf "%s us (%s..%s)", $1, $2, $3 }')" \
        "$d_" "<=+10us" "$(verdict "$d_" 10 "<=")"
}

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
want 1 && measure seqread read 1M 4
want 2 && measure seqwrite write 1M 4
want 3 && measure randread32 randread 4k 32
want 4 && measure randread1 randread 4k 1
b_stop

echo "blkbench: $REPS x ${RT}s per side, interleaved, medians (min..max)," \
    "unpinned; $(nproc) CPUs"
printf "%-20s %32s %32s %7s %7s %s\n" workload drvdom "fio io_uring O_DIRECT" \
    ratio target result
want 1 && ratio_row "seq read 1M QD4" seqread 2 MB/s 0.9
want 2 && ratio_row "seq write 1M QD4" seqwrite 2 MB/s 0.9
want 3 && ratio_row "rand read 4k QD32" randread32 1 IOPS 0.7
want 4 && lat_row "rand read 4k QD1 p50" randread1 3
want 4 && lat_row "rand read 4k QD1 p99" randread1 4
printf "frontend CPU per request, median (us):"
for w_ in seqread seqwrite randread32 randread1; do
    [ -s "$T_DIR/$w_.ours" ] && printf " %s %s" "$w_" "$(med 5 "$T_DIR/$w_.ours" | cut -d' ' -f1)"
done
echo
exit 0
