#!/bin/sh
# Every fuzz target (tests/fuzz/*_fuzz.c) on its seeds, then on
# deterministic mutations of them, under the build's sanitizers: a broken
# rule or a memory error fails the test and leaves the input in
# replay-crash (run it again: tests/fuzz/<target>_replay replay-crash);
# what the targets write to stderr goes to replay-stderr.
set -e
# A sanitizer's finding aborts, so that replay-crash is written.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=1"
export ASAN_OPTIONS UBSAN_OPTIONS
b=${DRVDOM_BUILDDIR:-.}
s=${DRVDOM_SRCDIR:-.}
for t in blkback_ring:200000 blkfront:20000 ringbuf:40000 xss:3000; do
    name=${t%%:*}
    echo "== $name"
    "$b/tests/fuzz/${name}_replay" --quiet --runs "${t#*:}" \
        "$s/tests/fuzz/seeds/$name" || {
        echo "$name: what it wrote last (all of it: replay-stderr):"
        tail -40 replay-stderr
        exit 1
    }
done
