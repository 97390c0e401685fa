# tests/xen: drvdom on real Xen under QEMU (docs/testbed.md). Not part of
# `make check`: `make check-xen` runs the scenarios, `make bench-xen` the
# side-by-side block benchmark. Images, the share and logs go to
# tests/xen/ in the build tree; downloaded packages to a cache outside it.
XEN_TESTBED_FILES = \
	tests/xen/.gitignore \
	tests/xen/testbed \
	tests/xen/fetch \
	tests/xen/mkimage \
	tests/xen/run \
	tests/xen/lib.sh \
	tests/xen/packages \
	tests/xen/dom0/init \
	tests/xen/dom0/block \
	tests/xen/dom0/xl.conf \
	tests/xen/guest/init \
	tests/xen/guest/verify \
	tests/xen/guest/bench \
	tests/xen/guest/testif \
	tests/xen/guest/blkfs \
	tests/xen/guest/blkloop \
	tests/xen/guest/drvdomd \
	tests/xen/guest/blkfront \
	tests/xen/scenarios/lib.sh \
	tests/xen/scenarios/00-linux-blkback.sh \
	tests/xen/scenarios/00-qemu-qdisk.sh \
	tests/xen/scenarios/01-drvdom-blkback-dom0.sh \
	tests/xen/scenarios/02-drvdom-driver-domain.sh \
	tests/xen/scenarios/03-drvdom-blkfront.sh \
	tests/xen/scenarios/04-blkback-worker-killed.sh \
	tests/xen/scenarios/05-guest-destroyed.sh \
	tests/xen/scenarios/10-testif-dom0.sh \
	tests/xen/scenarios/11-testif-restart.sh \
	tests/xen/bench/blk-side-by-side.sh
EXTRA_DIST += $(XEN_TESTBED_FILES)

# drvdom's programs the scenarios run (built first, passed into the run).
XEN_TESTBED_PROGS = \
	backend/drvdomd \
	tests/sim/testdev_back \
	tests/sim/testdev_front \
	tests/sim/xsgtool \
	backend/blk/drvdom-blkback \
	frontend/blk/drvdom-blkfront

check-xen: $(XEN_TESTBED_PROGS)
	DRVDOM_BUILDDIR=$(abs_top_builddir) XT_PROGS="$(XEN_TESTBED_PROGS)" \
		$(abs_top_srcdir)/tests/xen/testbed check

bench-xen: $(XEN_TESTBED_PROGS)
	DRVDOM_BUILDDIR=$(abs_top_builddir) XT_PROGS="$(XEN_TESTBED_PROGS)" \
		$(abs_top_srcdir)/tests/xen/testbed bench

.PHONY: check-xen bench-xen
