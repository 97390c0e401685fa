#!/bin/sh
# Sim platform end to end: drvdom-simhv spawns a frontend and a backend
# domain (tests/sim/platdom) that exchange 100k requests over ringbuf on a
# granted ring page and an event channel; a third domain's map fails; a
# read-only grant mapped for write fails; the backend closes and re-binds its
# event channel mid-run; the frontend is killed mid-run and the backend
# unmaps and carries on (serving a second frontend); the dead domain is
# released with nothing left in the daemon (fds, memfds, mappings, ports).
. "$DRVDOM_SRCDIR/tests/sim/lib.sh"
t_init plat-e2e

t_sim
DOM=$DRVDOM_BUILDDIR/tests/sim/platdom
[ -x "$HV" ] && [ -x "$DOM" ] || t_fail "build drvdom-simhv and platdom first"

# The daemon's counters, in one line.
stats() { hv stats | tr '\n' ' '; }
fd_count() { ls "/proc/$HVPID/fd" | wc -l; }

t_bg "$HV" --run-dir "$RUN" --foreground --pidfile "$T_DIR/pid" 2>"$T_DIR/simhv.log"
wait_for test -S "$RUN/simhv.sock" || t_fail "daemon did not start"
wait_for test -s "$T_DIR/pid" || t_fail "no pidfile"
HVPID=$(cat "$T_DIR/pid")
# Before any client: the daemon's fds are its own.
FDS0=$(fd_count)
STATS0=$(stats)

BACK=$(hv create --name back "$DOM" back "$T_DIR/ring.info" "$T_DIR/back.st") ||
    t_fail "create back"
FRONT=$(hv create --name front "$DOM" front "$BACK" "$T_DIR/ring.info" \
    "$T_DIR/front.st" 0) || t_fail "create front"
echo "back is dom$BACK, front is dom$FRONT"

# The 100k exchange, with the backend's re-bind at 30k on the way.
wait_for at_least "$T_DIR/front.st" done 100000 ||
    t_fail "exchange stalled: $(cat "$T_DIR/front.st" 2>/dev/null)"

# A third domain may neither map the ring nor bind the port.
M3=$(hv create --name third "$DOM" map3 "$T_DIR/ring.info.used" "$T_DIR/m3.st") ||
    t_fail "create third"
wait_for test -s "$T_DIR/m3.st" || t_fail "third domain did not report"
[ "$(key "$T_DIR/m3.st" map)" = -22 ] || t_fail "third domain map: $(cat "$T_DIR/m3.st")"
[ "$(key "$T_DIR/m3.st" bind)" = -22 ] || t_fail "third domain bind: $(cat "$T_DIR/m3.st")"
wait_for released $M3 || t_fail "dom$M3 not released"

# Kill the frontend mid-run: the backend unmaps and carries on.
hv destroy "$FRONT" || t_fail "destroy front"
wait_for at_least "$T_DIR/back.st" fronts_gone 1 ||
    t_fail "backend did not notice: $(cat "$T_DIR/back.st" 2>/dev/null)"
[ "$(key "$T_DIR/back.st" rebound)" = 1 ] || t_fail "backend never re-bound"
[ "$(key "$T_DIR/back.st" ro_write)" = -22 ] ||
    t_fail "read-only grant mapped for write: $(key "$T_DIR/back.st" ro_write)"
wait_for released $FRONT ||
    t_fail "dom$FRONT not released: $(hv info "$FRONT")"
grep -q "domain $FRONT (front) released" "$T_DIR/simhv.log" ||
    t_fail "no release logged"

# The backend serves a second frontend.
FRONT2=$(hv create --name front2 "$DOM" front "$BACK" "$T_DIR/ring.info" \
    "$T_DIR/front2.st" 5000) || t_fail "create front2"
wait_for at_least "$T_DIR/front2.st" done 5000 || t_fail "second frontend stalled"
wait_for released $FRONT2 || t_fail "dom$FRONT2 not released"
wait_for at_least "$T_DIR/back.st" fronts_gone 2 || t_fail "backend did not carry on"

# A domain whose program exits while a process of it still holds its
# connection: the daemon reaps it before that connection's EOF, and
# releasing it there must not touch it after closing its last connection.
LEAD=$(hv create --name lead /bin/sh -c 'sleep 60 & exit 0') ||
    t_fail "create lead"
wait_for released "$LEAD" || t_fail "dom$LEAD not released"
kill -0 "$HVPID" || t_fail "daemon died releasing dom$LEAD"

# Nothing of the dead domains is left: with the backend gone too, the
# daemon is back where it started (counters, fds, memfd mappings).
hv destroy "$BACK" || t_fail "destroy back"
wait_for released $BACK || t_fail "dom$BACK not released"
STATS1=$(stats)
[ "$(echo "$STATS1" | sed 's/ released [0-9]*//')" = \
  "$(echo "$STATS0" | sed 's/ released [0-9]*//')" ] ||
    t_fail "daemon kept something: before: $STATS0 after: $STATS1"
# (a client's connection is closed by the daemon when it gets to it)
fds_back() { [ "$(fd_count)" = "$FDS0" ]; }
wait_for fds_back || t_fail "daemon fds: $FDS0 before, $(fd_count) after"
for d in "$FRONT" "$BACK" "$FRONT2" "$M3"; do
    ! grep -q "drvdom-dom$d-" "/proc/$HVPID/maps" || t_fail "dom$d memory still mapped"
    [ ! -e "$RUN/dom$d" ] || t_fail "dom$d run dir left"
done
t_pass
