#!/bin/sh
# tests/unit/test_storage_build.sh -- the storage modules build as a
# third party's would: against the installed headers alone (make install
# of the headers and satchel.pc into a DESTDIR, then the compiler with
# `pkg-config --cflags satchel` only: no daemon include path, no
# config.h, no compat/poison.h).
set -u
b=${SATCHEL_BUILDDIR:-.}
s=${SATCHEL_SRCDIR:-.}
cc=${SATCHEL_CC:-cc}
d=$(mktemp -d /tmp/satchel-oot.XXXXXX)
trap 'rm -rf "$d"' EXIT
pass=0 fail=0
if ! make -s -C "$b" install-pkgincludeHEADERS install-pkgconfigDATA \
    DESTDIR="$d" >"$d/install.log" 2>&1; then
	cat "$d/install.log"
	echo "unit test_storage_build: 0 passed, 1 failed"
	exit 1
fi
pc=$(find "$d" -name satchel.pc | head -n 1)
PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$d
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cflags=$(pkg-config --cflags satchel)
for m in mbox maildir; do
	if $cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	    -shared -fPIC -fvisibility=hidden $cflags \
	    -o "$d/storage_$m.so" "$s"/modules/storage/$m/*.c \
	    >"$d/$m.log" 2>&1 &&
	    nm -D "$d/storage_$m.so" | grep -q ' satchel_module$'; then
		echo "ok   storage_$m builds with only: $cflags"
		pass=$((pass + 1))
	else
		cat "$d/$m.log"
		echo "FAIL storage_$m out of tree"
		fail=$((fail + 1))
	fi
done
echo "unit test_storage_build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
