#!/bin/bash
# tests/outoftree.sh -- every shipped module builds against the installed
# headers alone (issue 15 item 5).  Installs the built tree into a
# DESTDIR, then compiles each module's sources from a copy outside the
# tree with "cc $(pkg-config --cflags satchel)" (plus the library's own
# flags for mysql and pam) and no daemon include path, no config.h, and
# asserts that each gives a .so that exports satchel_module and nothing
# else.  Ends with "outoftree: N passed, N failed".
#
# Usage: tests/outoftree.sh [BUILDDIR]   (a configured and built tree)
set -uo pipefail
top=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

if ! make -C "$top" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1; then
	tail -n 20 "$tmp/install.log"
	fail "make install DESTDIR"
	echo "outoftree: $passed passed, $failed failed"
	exit 1
fi
ok "make install DESTDIR"
pc=$(find "$tmp/root" -name satchel.pc | head -n 1)
hdr=$(find "$tmp/root" -path '*/satchel/module.h' | head -n 1)
if [ -z "$pc" ] || [ -z "$hdr" ]; then
	fail "satchel.pc and satchel/module.h installed"
	echo "outoftree: $passed passed, $failed failed"
	exit 1
fi
ok "satchel.pc and satchel/module.h installed"
# The .pc names the real prefix; point it into the DESTDIR.
prefix=$(sed -n 's/^prefix=//p' "$pc")
pcflags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config \
	--define-variable=prefix="$tmp/root$prefix" --cflags satchel)
case "$pcflags" in
*"$tmp/root"*) ok "pkg-config --cflags satchel: $pcflags" ;;
*) fail "pkg-config --cflags satchel points into DESTDIR ($pcflags)" ;;
esac

# name, sources (relative to modules/), extra cflags, libs
build() {
	local name=$1 srcs=$2 cflags=$3 libs=$4 dir=$tmp/src/$1 f out
	mkdir -p "$dir"
	for f in $srcs; do
		if [ ! -f "$top/modules/$f" ]; then
			fail "$name: source modules/$f missing"
			return
		fi
		cp "$top/modules/$f" "$dir/"
	done
	# Headers next to the sources (module-private), never daemon/'s.
	for f in $srcs; do
		cp "$top/modules/$(dirname "$f")"/*.h "$dir/" 2>/dev/null
	done
	out=$tmp/$name.so
	# shellcheck disable=SC2086
	if ! (cd "$dir" && $cc -std=gnu11 -Wall -Wextra -Werror \
	    -Wno-unused-parameter -fPIC -shared -fvisibility=hidden \
	    $pcflags $cflags -o "$out" ./*.c $libs) >"$tmp/$name.log" 2>&1; then
		sed 's/^/    /' "$tmp/$name.log" | head -n 15
		fail "$name: compiles out of tree against the installed headers"
		return
	fi
	ok "$name: compiles out of tree against the installed headers"
	syms=$(nm -D --defined-only "$out" | awk '$2 ~ /[A-Z]/ {print $3}' |
		grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u)
	if [ "$syms" = satchel_module ]; then
		ok "$name: exports satchel_module only"
	else
		fail "$name: exports satchel_module only (got: $(echo $syms))"
	fi
}

build auth_file "auth/file/auth_file.c auth/file/file_parse.c \
auth/common/proxyfield.c" "" ""
build auth_pam "auth/pam/auth_pam.c" "" "-lpam"
mysql_cflags=$(pkg-config --cflags mysqlclient 2>/dev/null ||
	pkg-config --cflags libmariadb 2>/dev/null)
mysql_libs=$(pkg-config --libs mysqlclient 2>/dev/null ||
	pkg-config --libs libmariadb 2>/dev/null)
build auth_mysql "auth/mysql/auth_mysql.c auth/mysql/mysql_conn.c \
auth/mysql/mysql_query.c auth/common/proxyfield.c" "$mysql_cflags" \
"$mysql_libs"
maildir_srcs=$(cd "$top/modules" && ls storage/maildir/*.c | tr '\n' ' ')
mbox_srcs=$(cd "$top/modules" && ls storage/mbox/*.c | tr '\n' ' ')
build storage_maildir "$maildir_srcs" "" ""
build storage_mbox "$mbox_srcs" "" ""

echo "outoftree: $passed passed, $failed failed"
[ "$failed" = 0 ]
