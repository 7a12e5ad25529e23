#!/bin/sh
# Regenerate the build system: configure, Makefile.in, libtool scripts.
exec autoreconf -fi
