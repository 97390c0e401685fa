# backend/drvdomd: the driver-domain daemon (included from the top Makefile.am).
