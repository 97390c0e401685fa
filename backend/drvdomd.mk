# backend/drvdomd: the driver-domain daemon (included from the top Makefile.am).
sbin_PROGRAMS += backend/drvdomd
backend_drvdomd_SOURCES = \
	backend/drvdomd.c \
	backend/drvdomd-worker.c \
	backend/drvdomd.h
backend_drvdomd_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS) $(LIBEVENT_CFLAGS)
backend_drvdomd_LDADD = $(XSG_LIBS) $(LIBEVENT_LIBS)
dist_man_MANS += backend/drvdomd.8
