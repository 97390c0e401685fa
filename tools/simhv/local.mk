# tools/simhv: drvdom-simhv, the sim platform's hypervisor daemon (included
# from the top Makefile.am). The xenstore server lives in xenstored/.
sbin_PROGRAMS += tools/simhv/drvdom-simhv
tools_simhv_drvdom_simhv_SOURCES = \
	tools/simhv/main.c \
	tools/simhv/conn.c \
	tools/simhv/dom.c \
	tools/simhv/evtchn.c \
	tools/simhv/grant.c \
	tools/simhv/xs.c \
	tools/simhv/simhv.h
tools_simhv_drvdom_simhv_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) \
	$(XENGNTTAB_CFLAGS)
tools_simhv_drvdom_simhv_LDADD = tools/simhv/xenstored/libxss.a $(PLATFORM_LIBS) \
	$(LIBEVENT_LIBS)
dist_man_MANS += tools/simhv/drvdom-simhv.8

# drvdom-simhv's xenstore, end to end with the stock xenstore-utils.
TESTS += tests/sim/simhv-xenstore.sh
EXTRA_DIST += tests/sim/simhv-xenstore.sh
