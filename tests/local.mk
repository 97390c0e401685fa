# tests/: shared test support. Each component's own tests and benchmarks are
# declared in that component's local.mk.
EXTRA_DIST += tests/sim/lib.sh
