# tests/fuzz: libFuzzer targets for what a hostile peer controls: the blkif
# requests blkback validates (blkback_ring), the responses the userspace
# blkfront takes (blkfront), both ends of a shared ring under a peer that
# writes anything into it (ringbuf), and the xenstore server's wire
# protocol (xss). `make check` builds each with a small
# driver of its own (replay.c: the seeds, then deterministic mutations of
# them, under the build's sanitizers); `make fuzz` fuzzes each with clang's
# libFuzzer for FUZZ_SECONDS (tests/fuzz/run, docs/fuzzing.md).
FUZZ_TARGETS = blkback_ring blkfront ringbuf xss
FUZZ_SECONDS = 60

check_PROGRAMS += tests/fuzz/blkback_ring_replay tests/fuzz/blkfront_replay \
	tests/fuzz/ringbuf_replay tests/fuzz/xss_replay
tests_fuzz_blkback_ring_replay_SOURCES = tests/fuzz/blkback_ring_fuzz.c \
	tests/fuzz/replay.c
tests_fuzz_blkback_ring_replay_CPPFLAGS = $(AM_CPPFLAGS) $(LIBURING_CFLAGS) \
	$(XENSTORE_CFLAGS)
tests_fuzz_blkback_ring_replay_LDADD = backend/blk/libblkback.a
tests_fuzz_blkfront_replay_SOURCES = tests/fuzz/blkfront_fuzz.c \
	tests/fuzz/replay.c
tests_fuzz_blkfront_replay_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
tests_fuzz_blkfront_replay_LDADD = $(BLKFRONT_LIBS)
tests_fuzz_ringbuf_replay_SOURCES = tests/fuzz/ringbuf_fuzz.c \
	tests/fuzz/replay.c
tests_fuzz_ringbuf_replay_LDADD = ringbuf/libringbuf.a
tests_fuzz_xss_replay_SOURCES = tests/fuzz/xss_fuzz.c tests/fuzz/replay.c
tests_fuzz_xss_replay_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
tests_fuzz_xss_replay_LDADD = tools/simhv/xenstored/libxss.a $(LIBEVENT_LIBS)
TESTS += tests/fuzz/replay.sh
EXTRA_DIST += tests/fuzz/replay.sh tests/fuzz/run tests/fuzz/seeds
CLEANFILES += replay-crash replay-stderr tests/fuzz/blkback_ring.fuzzer \
	tests/fuzz/blkfront.fuzzer tests/fuzz/ringbuf.fuzzer tests/fuzz/xss.fuzzer

fuzz:
	DRVDOM_BUILDDIR=$(abs_top_builddir) DRVDOM_SRCDIR=$(abs_top_srcdir) \
		FUZZ_SECONDS=$(FUZZ_SECONDS) \
		$(SHELL) $(abs_top_srcdir)/tests/fuzz/run $(FUZZ_TARGETS)

.PHONY: fuzz
