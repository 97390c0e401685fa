# xenstore-glue: the xenbus device model (included from the top Makefile.am).
# libxsg.a: key/state/ring/queue helpers, the backend device model and the
# frontend side, over libxenstore; link it with $(XSG_LIBS).
noinst_LIBRARIES += xenstore-glue/libxsg.a
xenstore_glue_libxsg_a_SOURCES = \
	xenstore-glue/keys.c \
	xenstore-glue/back.c \
	xenstore-glue/front.c
xenstore_glue_libxsg_a_CPPFLAGS = $(AM_CPPFLAGS) $(XENSTORE_CFLAGS)
noinst_HEADERS += include/drvdom/xsg.h

# What a program linking xenstore-glue/libxsg.a needs after it.
XSG_LIBS = xenstore-glue/libxsg.a $(PLATFORM_LIBS)
