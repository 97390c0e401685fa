#!/bin/sh
# Every fuzz target (tests/fuzz/*_fuzz.c) on its seeds, then on
# deterministic mutations of them, under the build's sanitizers: a broken
# rule or a memory error fails the test and leaves the input in
# replay-crash (run it again: tests/fuzz/<target>_replay replay-crash).
set -e
b=${DRVDOM_BUILDDIR:-.}
s=${DRVDOM_SRCDIR:-.}
for t in blkback_ring:200000 ringbuf:40000 xss:3000; do
    name=${t%%:*}
    echo "== $name"
    "$b/tests/fuzz/${name}_replay" --runs "${t#*:}" "$s/tests/fuzz/seeds/$name"
done
