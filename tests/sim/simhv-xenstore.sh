#!/bin/sh
# drvdom-simhv serves xenstore: a domain reaches its own xenstore through
# XENSTORED_PATH with the stock tools, gets the layout libxl writes, is held
# to a guest's permissions, and its death drops the nodes it owns and fires
# @releaseDomain for dom0.
set -u
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init simhv-xenstore
command -v xenstore-read >/dev/null || { echo "SKIP: xenstore-utils missing"; exit 77; }

hv="$DRVDOM_BUILDDIR/tools/simhv/drvdom-simhv"
run="$T_DIR/run"
t_bg "$hv" --run-dir "$run" --foreground --xs-quota nodes=50 2>"$T_DIR/simhv.log"
export DRVDOM_SIM_RUNDIR="$run"
i=0
until [ -S "$run/dom0/xenstored.sock" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || t_fail "simhv did not start: $(cat "$T_DIR/simhv.log")"
    sleep 0.05
done
export XENSTORED_PATH="$run/dom0/xenstored.sock"

[ "$(xenstore-read /local/domain/0/name)" = Domain-0 ] || t_fail "dom0 name"

# dom0 watches @releaseDomain (the initial event comes at once).
xenstore-watch -n 2 @releaseDomain >"$T_DIR/release" 2>&1 &
T_PIDS="$T_PIDS $!"
watcher=$!

# The guest: uses relative paths (its home), checks a denial, then waits.
cat >"$T_DIR/guest.sh" <<'GUEST'
#!/bin/sh
out=$1
{
    echo "name=$(xenstore-read name)"
    echo "domid=$(xenstore-read domid)"
    xenstore-write data/hello hi && echo "write=ok"
    xenstore-write name evil 2>/dev/null || echo "rename=denied"
    xenstore-ls / >/dev/null 2>&1 || echo "root=denied"
    xenstore-write /local/domain/0/x y 2>/dev/null || echo "dom0=denied"
    echo done
} >"$out.tmp"
mv "$out.tmp" "$out"
exec sleep 60
GUEST
chmod +x "$T_DIR/guest.sh"
domid=$("$hv" create --name guest "$T_DIR/guest.sh" "$T_DIR/guest.out") || t_fail "create"
i=0
until [ -f "$T_DIR/guest.out" ]; do
    i=$((i + 1)); [ $i -lt 200 ] || t_fail "guest did not report"
    sleep 0.05
done
for want in "name=guest" "domid=$domid" "write=ok" "rename=denied" "root=denied" "dom0=denied"; do
    grep -qx "$want" "$T_DIR/guest.out" || t_fail "guest: expected '$want', got: $(cat "$T_DIR/guest.out")"
done
[ "$(xenstore-read /local/domain/$domid/data/hello)" = hi ] || t_fail "dom0 does not see the guest's write"
[ "$(xenstore-read /local/domain/$domid/name)" = guest ] || t_fail "guest renamed itself"

"$hv" destroy "$domid" || t_fail "destroy"
i=0
while xenstore-read "/local/domain/$domid/data/hello" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 200 ] || t_fail "the dead guest's node survived"
    sleep 0.05
done
wait "$watcher" 2>/dev/null
[ "$(grep -c '^@releaseDomain' "$T_DIR/release")" -ge 2 ] ||
    t_fail "@releaseDomain did not fire: $(cat "$T_DIR/release")"
# The domain's own socket is gone with it.
i=0
while [ -e "$run/dom$domid/xenstored.sock" ]; do
    i=$((i + 1)); [ $i -lt 200 ] || t_fail "dom$domid's xenstore socket survived"
    sleep 0.05
done
kill -USR1 "$(echo $T_PIDS | cut -d' ' -f1)"
i=0
until [ -s "$run/xenstore.dump" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || t_fail "no dump on SIGUSR1"
    sleep 0.05
done
grep -q "/local/domain/0/name" "$run/xenstore.dump" || t_fail "dump lacks dom0's nodes"
t_pass
