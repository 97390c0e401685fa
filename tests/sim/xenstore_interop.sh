#!/bin/sh
# Interop: Debian's stock xenstore-utils and libxenstore against the sim
# xenstore server (run by the test-only tests/sim/xenstore_server), on one
# socket for dom0 and one for guest domain 5 (XENSTORED_PATH picks it).
# Covers reads/writes/listing/chmod/rm/watch with the stock tools, a
# transaction conflict with EAGAIN and retry, watch path and token,
# permission denials on the guest's connection, a malformed and an
# oversized message answered with an error and the connection dropped,
# and the server still serving afterwards.
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init xenstore_interop

for t in xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-list \
         xenstore-chmod xenstore-watch; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done

SRV=$DRVDOM_BUILDDIR/tests/sim/xenstore_server
CLI=$DRVDOM_BUILDDIR/tests/sim/xenstore_client
S0=$T_DIR/dom0.sock
S5=$T_DIR/dom5.sock

t_bg "$SRV" --socket "$S0:0" --socket "$S5:5" --ready "$T_DIR/ready" \
    --dump "$T_DIR/dump"
SRV_PID=$!
i=0
while [ ! -e "$T_DIR/ready" ]; do
    i=$((i + 1))
    [ $i -le 300 ] || t_fail "server did not start"
    kill -0 "$SRV_PID" 2>/dev/null || t_fail "server exited"
    sleep 0.1
done

dom0() { XENSTORED_PATH=$S0 "$@"; }
dom5() { XENSTORED_PATH=$S5 "$@"; }

# --- the stock tools as dom0 (the toolstack's view) ---
dom0 xenstore-write /local/domain/5/name guest5 /vm/uuid 1234 ||
    t_fail "xenstore-write"
[ "$(dom0 xenstore-read /vm/uuid)" = 1234 ] || t_fail "xenstore-read"
dom0 xenstore-write /vm/b 2 /vm/a 1 || t_fail "xenstore-write many"
[ "$(dom0 xenstore-list /vm | tr '\n' ' ')" = "uuid b a " ] ||
    t_fail "xenstore-list: not in creation order"
dom0 xenstore-ls -f /vm | grep -qx '/vm/a = "1"' || t_fail "xenstore-ls"
dom0 xenstore-chmod /local/domain/5 n5 r0 || t_fail "xenstore-chmod"
dom0 xenstore-ls -p /local/domain | grep -q '(n5,r0)' ||
    t_fail "xenstore-ls -p: ACL not shown"
dom0 xenstore-rm /vm/b || t_fail "xenstore-rm"
dom0 xenstore-read /vm/b 2>/dev/null && t_fail "removed node still there"

# --- the guest's connection: its home works, the rest is denied ---
dom5 xenstore-write data/x hello || t_fail "guest write in its home"
[ "$(dom5 xenstore-read data/x)" = hello ] || t_fail "guest relative read"
dom0 xenstore-ls -p /local/domain/5/data | grep -q '(n5,r0)' ||
    t_fail "guest node not owned by the guest"
dom5 xenstore-read /vm/uuid 2>/dev/null && t_fail "guest read dom0's node"
dom5 "$CLI" errno read /vm/uuid EACCES || t_fail "guest read: not EACCES"
dom5 "$CLI" errno read /vm/missing EACCES || t_fail "missing under /vm"
dom5 "$CLI" errno ls / EACCES || t_fail "guest ls /: not EACCES"
dom5 "$CLI" errno write /vm/new EACCES || t_fail "guest write: not EACCES"
dom5 "$CLI" errno rm /vm/uuid EACCES || t_fail "guest rm: not EACCES"
dom5 xenstore-chmod /vm/uuid b5 2>/dev/null &&
    t_fail "guest chmod of a node it does not own"
dom0 "$CLI" errno read /vm/missing ENOENT || t_fail "dom0 missing: ENOENT"

# --- watches: the stock tool and libxenstore ---
timeout 30 env XENSTORED_PATH="$S0" xenstore-watch -n 2 /w >"$T_DIR/watch" &
WPID=$!
T_PIDS="$T_PIDS $WPID"
i=0
until [ -s "$T_DIR/watch" ]; do   # the initial event: watch registered
    i=$((i + 1))
    [ $i -le 300 ] || t_fail "xenstore-watch: no initial event"
    sleep 0.1
done
dom0 xenstore-write /w/k v || t_fail "write under watch"
wait "$WPID" || t_fail "xenstore-watch exited with an error"
[ "$(tr '\n' ' ' <"$T_DIR/watch")" = "/w /w/k " ] ||
    t_fail "xenstore-watch saw: $(cat "$T_DIR/watch")"
dom0 "$CLI" watch /watched tok-1 || t_fail "libxenstore watch (dom0)"
dom5 "$CLI" watch data/rel tok-5 || t_fail "libxenstore watch (relative)"

# --- transactions ---
dom0 "$CLI" txn-conflict || t_fail "transaction conflict/retry"
[ "$(dom0 xenstore-list /txn | tr '\n' ' ')" = "s1 s2 " ] ||
    t_fail "transaction results"

# --- broken clients are answered and dropped; the server is unharmed ---
"$CLI" raw-oversized "$S5" || t_fail "oversized message"
"$CLI" raw-badtype "$S5" || t_fail "malformed message"
[ "$(dom5 xenstore-read data/x)" = hello ] || t_fail "guest after raw"
[ "$(dom0 xenstore-read /vm/uuid)" = 1234 ] || t_fail "dom0 after raw"

# --- the dump on exit ---
kill -TERM "$SRV_PID"
wait "$SRV_PID" || t_fail "server exit status"
grep -qx '/local/domain/5/data/x = "hello" (n5,r0)' "$T_DIR/dump" ||
    t_fail "dump: $(cat "$T_DIR/dump")"
t_pass
