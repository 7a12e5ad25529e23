#!/bin/bash
# test_package.sh -- the Debian package round trip, as root on a Debian
# machine where systemd is not running:
#
#   build the packages from this tree (dpkg-buildpackage -us -uc -b in a
#   temporary copy, with packaging/debian as ./debian), lintian (no
#   errors), systemd-analyze verify and security on the unit, apt-get
#   install the three .debs, start satcheld the way satchel.service does
#   (its ExecStart line, under its capability bounding set, umask and
#   NoNewPrivileges, with a NOTIFY_SOCKET to see READY=1), deliver a
#   message to a system user the test creates, fetch it with curl (POP3S
#   with the generated certificate when the build has TLS), reload with
#   the unit's ExecReload, stop with SIGTERM, apt-get purge, and check
#   that nothing the packages created is left.
#
#   The README's /var/vmail setup too: the vmail user (uid 5000 when the
#   test makes it), a Maildir in /var/vmail, the README's minimal config
#   (auth_file, mail_location = maildir:/var/vmail/%d/%n, mail_uid =
#   vmail), served by the packaged satcheld under the unit's file system
#   sandbox.  systemd is not running here, so ProtectSystem=strict and
#   ReadWritePaths= are emulated: a private mount namespace (unshare -m)
#   in which every mount is read-only except the unit's ReadWritePaths=
#   and RuntimeDirectory=.  The same run without /var/vmail in that list
#   must fail with "Read-only file system", which shows the emulation
#   bites.  (PrivateTmp=, ProtectHome= and the rest are not emulated.)
#   And the documented paths: the installed man pages and README name
#   the package's config file, pid file and module directory, the unit's
#   PIDFile= is the config's pidfile, the example config is shipped.
#
# Modules still being written (auth_pam, storage_mbox) and TLS are
# detected in the built packages; where one is missing the test says so
# and runs a test copy of the shipped config instead (auth_file with the
# user's shadow hash, a Maildir in the user's home, plain POP3).
#
# Prints "ok"/"not ok" per check and a last line
# "package: N passed, N failed"; exits 0 when nothing failed.  Bounded
# by a time limit (PKG_TEST_TIMEOUT, 470 s; the build alone by
# PKG_BUILD_TIMEOUT, 300 s: raise both on a loaded machine); cleans up
# on any exit.

set -u

if [ -z "${SATCHEL_PKG_TIMED:-}" ]; then
	export SATCHEL_PKG_TIMED=1
	exec timeout --kill-after=15 "${PKG_TEST_TIMEOUT:-470}" "$0" "$@"
fi

SRC=$(cd "$(dirname "$0")/../.." && pwd)
TESTUSER=satcheltest
APT="apt-get -q -y -o DPkg::Lock::Timeout=180"
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8

pass=0
fail=0
W=
DPID=
NPID=
VPID=
VMAIL_MADE=0
VMAILDIR_MADE=0
VUSER=pkgtest
INSTALLED=0
START=$(date +%s)

ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
note() { echo "# $*"; }
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else nok "$desc"; fi
}

finish() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$DPID" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$DPID" 2>/dev/null
	fi
	[ -n "$NPID" ] && kill "$NPID" 2>/dev/null
	[ -n "$VPID" ] && kill -TERM "$VPID" 2>/dev/null && sleep 1
	rm -rf "/var/vmail/example.org/$VUSER"
	rmdir /var/vmail/example.org 2>/dev/null
	[ "$VMAIL_MADE" = 1 ] && userdel vmail >/dev/null 2>&1 &&
	    { getent group vmail >/dev/null && groupdel vmail; }
	[ "$VMAILDIR_MADE" = 1 ] && rm -rf /var/vmail
	if getent passwd "$TESTUSER" >/dev/null; then
		userdel -r "$TESTUSER" >/dev/null 2>&1
	fi
	rm -f "/var/mail/$TESTUSER" "/var/mail/$TESTUSER.lock" \
	    "/var/mail/.$TESTUSER.satchel-lock" \
	    "/var/mail/.$TESTUSER.satchel-index"
	if [ "$INSTALLED" = 1 ] && dpkg -s satchel >/dev/null 2>&1; then
		$APT purge satchel satchel-mysql satchel-dev >/dev/null 2>&1
	fi
	rmdir /run/satchel 2>/dev/null
	[ -n "$W" ] && rm -rf "$W"
	echo "# runtime $(($(date +%s) - START)) s"
	echo "package: $pass passed, $fail failed"
	if [ "$fail" -gt 0 ] || [ "$rc" -ne 0 ]; then
		exit 1
	fi
	exit 0
}
trap finish EXIT
trap 'nok "interrupted or timed out"; exit 1' INT TERM

# Stop here: what follows depends on what just failed.
abort() {
	nok "$*"
	exit 1
}

if [ "$(id -u)" != 0 ]; then
	echo "test_package.sh: must run as root" >&2
	exit 1
fi

W=$(mktemp -d /tmp/satchel-pkg.XXXXXX)
chmod 0755 "$W"

# ---- build dependencies ---------------------------------------------------
note "installing build dependencies"
if ! $APT install --no-install-recommends dpkg-dev debhelper devscripts \
    lintian fakeroot build-essential pkg-config autoconf automake libtool \
    default-libmysqlclient-dev libcrypt-dev libpam0g-dev libssl-dev \
    libsystemd-dev systemd curl openssl python3 passwd util-linux \
    >"$W/apt.log" 2>&1; then
	tail -20 "$W/apt.log"
	abort "apt-get install build dependencies"
fi
ok "build dependencies installed"

# ---- build ---------------------------------------------------------------
VERSION=$(dpkg-parsechangelog -l "$SRC/packaging/debian/changelog" \
    -S Version)
T="$W/satchel-${VERSION%-*}"
mkdir -p "$T"
# Tracked and new files, as a fresh clone with the work in progress; no
# build products.  Outside git: the tree minus objects and configure
# output.
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$SRC" && git ls-files -z -c -o --exclude-standard |
	    tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
	    tar -C "$T" -xf -
else
	(cd "$SRC" && tar --exclude=.git --exclude='*.o' --exclude='*.lo' \
	    --exclude='*.la' --exclude=.libs --exclude=.deps \
	    --exclude=./Makefile --exclude=config.status --exclude=./config.h \
	    --exclude=./libtool --exclude=./debian -cf - .) | tar -C "$T" -xf -
fi
rm -rf "$T/debian"
cp -a "$SRC/packaging/debian" "$T/debian"
note "building in $T"
if (cd "$T" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" \
    timeout "${PKG_BUILD_TIMEOUT:-300}" dpkg-buildpackage -us -uc -b) \
    >"$W/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$W/build.log"
	abort "dpkg-buildpackage -us -uc -b"
fi
grep -E '^(WARNING|satchel.conf):' "$W/build.log" | sed 's/^/# build: /'
[ -e "$SRC/debian" ] && nok "a debian/ directory appeared in the source tree"

cd "$W" || abort "cd $W"
DEB=$(ls satchel_*.deb)
DEB_MYSQL=$(ls satchel-mysql_*.deb)
DEB_DEV=$(ls satchel-dev_*.deb)

# ---- lintian --------------------------------------------------------------
lintian --tag-display-limit 0 satchel_*.changes >"$W/lintian.log" 2>&1
sed 's/^/# lintian: /' "$W/lintian.log"
check "lintian: no errors" bash -c "! grep -q '^E:' '$W/lintian.log'"

# ---- package contents -----------------------------------------------------
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
MODDIR=/usr/lib/$MA/satchel/modules
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$W/satchel.list"
dpkg-deb -c "$DEB_MYSQL" | awk '{print $6}' | sed 's|^\./|/|' \
    >"$W/mysql.list"
dpkg-deb -c "$DEB_DEV" | awk '{print $6}' | sed 's|^\./|/|' >"$W/dev.list"
has() { grep -qx "$2" "$W/$1.list"; }
check "satchel ships satcheld, auth_file, storage_maildir, config, PAM" \
    bash -c "for f in /usr/sbin/satcheld $MODDIR/auth_file.so \
	$MODDIR/storage_maildir.so /etc/satchel/satchel.conf \
	/etc/pam.d/satchel /usr/share/man/man8/satcheld.8.gz \
	/usr/share/man/man5/satchel.conf.5.gz; do \
	grep -qx \"\$f\" '$W/satchel.list' || { echo \"# missing \$f\"; \
	exit 1; }; done"
check "satchel ships the example config in /usr/share/doc/satchel/examples" \
    grep -qE '^/usr/share/doc/satchel/examples/satchel\.conf\.example(\.gz)?$' \
    "$W/satchel.list"
check "satchel ships satchel.service" \
    grep -qE '^/(usr/)?lib/systemd/system/satchel.service$' "$W/satchel.list"
check "satchel does not ship auth_mysql.so" \
    bash -c "! grep -q 'auth_mysql' '$W/satchel.list'"
check "satchel does not depend on the MySQL client library" \
    bash -c "! dpkg-deb -f '$DEB' Depends | grep -qiE 'mysql|mariadb'"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles >"$W/conffiles" \
    2>/dev/null
check "conffiles: satchel.conf and pam.d/satchel" \
    bash -c "grep -qx /etc/satchel/satchel.conf '$W/conffiles' && \
	grep -qx /etc/pam.d/satchel '$W/conffiles'"
check "satchel-dev ships module.h and satchel.pc" \
    bash -c "grep -qx /usr/include/satchel/module.h '$W/dev.list' && \
	grep -qx /usr/lib/$MA/pkgconfig/satchel.pc '$W/dev.list'"
HAVE_MYSQL=0
if has mysql "$MODDIR/auth_mysql.so"; then
	HAVE_MYSQL=1
	ok "satchel-mysql ships auth_mysql.so"
else
	note "auth_mysql is not built yet: satchel-mysql is empty"
fi
HAVE_PAM=0
has satchel "$MODDIR/auth_pam.so" && HAVE_PAM=1
HAVE_MBOX=0
has satchel "$MODDIR/storage_mbox.so" && HAVE_MBOX=1

# ---- the unit file --------------------------------------------------------
UNITSRC=$T/packaging/systemd/satchel.service
# "verify" checks the unit against this system; the binary it names need
# not exist yet, hence after installation below as well.
SYSTEMD_LOG_LEVEL=warning systemd-analyze security --offline=true \
    "$UNITSRC" >"$W/security.log" 2>&1
EXPOSURE=$(sed -n 's/.*Overall exposure level for satchel.service: \([0-9.]*\).*/\1/p' \
    "$W/security.log")
note "systemd-analyze security: exposure ${EXPOSURE:-?}"
check "systemd-analyze security: exposure below 3.0" \
    awk -v e="${EXPOSURE:-99}" 'BEGIN { exit !(e < 3.0) }'

# ---- install --------------------------------------------------------------
if dpkg -s satchel >/dev/null 2>&1; then
	note "satchel is already installed: purging it first"
	$APT purge satchel satchel-mysql satchel-dev >/dev/null 2>&1
fi
for leftover in /etc/satchel /var/lib/satchel; do
	[ -e "$leftover" ] && note "warning: $leftover exists before install"
done
USER_BEFORE=0
getent passwd satchel >/dev/null && USER_BEFORE=1
INSTALLED=1
if $APT install "./$DEB" "./$DEB_MYSQL" "./$DEB_DEV" >"$W/install.log" \
    2>&1; then
	ok "apt-get install ./satchel*.deb"
else
	tail -30 "$W/install.log"
	abort "apt-get install ./satchel*.deb"
fi
grep -i 'satchel:' "$W/install.log" | sed 's/^/# install: /'

UNIT=$(ls /lib/systemd/system/satchel.service \
    /usr/lib/systemd/system/satchel.service 2>/dev/null | head -1)
check "unit installed" test -n "$UNIT"
SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$UNIT" \
    >"$W/verify.log" 2>&1
st=$?
sed 's/^/# verify: /' "$W/verify.log"
check "systemd-analyze verify satchel.service" \
    bash -c "[ $st = 0 ] && ! grep -q satchel '$W/verify.log'"

# ---- the unit and the documented paths ---------------------------------------
check "unit: SyslogFacility=mail" grep -qx 'SyslogFacility=mail' "$UNIT"
check "unit: ReadWritePaths= has /var/vmail (the README's Maildirs)" \
    grep -qE '^ReadWritePaths=.*[ =]-?/var/vmail( |$)' "$UNIT"
U_PIDFILE=$(sed -n 's/^PIDFile=//p' "$UNIT")
C_PIDFILE=$(sed -n 's/^pidfile *= *//p' /etc/satchel/satchel.conf)
check "pid file: unit PIDFile= ($U_PIDFILE) = config pidfile (${C_PIDFILE:-default})" \
    test "$U_PIDFILE" = "${C_PIDFILE:-/run/satchel/satcheld.pid}"
man_has() {	# man_has PAGE.gz TEXT: the installed page names TEXT
	zcat "$1" | grep -qF -- "$2"
}
for page in /usr/share/man/man8/satcheld.8.gz \
    /usr/share/man/man5/satchel.conf.5.gz; do
	check "$(basename "$page"): names /etc/satchel/satchel.conf, $U_PIDFILE, $MODDIR; no /usr/local" \
	    bash -c "zcat $page | grep -qF /etc/satchel/satchel.conf &&
		zcat $page | grep -qF '$U_PIDFILE' &&
		zcat $page | grep -qF '$MODDIR' &&
		! zcat $page | grep -qF /usr/local &&
		! zcat $page | grep -qE '@[A-Z]+@'"
done
man_has /usr/share/man/man5/satchel.conf.5.gz auth_username_format ||
	nok "satchel.conf.5 lacks auth_username_format"
RDME=$(ls /usr/share/doc/satchel/README.md /usr/share/doc/satchel/README.md.gz \
    2>/dev/null | head -1)
check "README: reload for the package (systemctl reload satchel, $U_PIDFILE)" \
    bash -c "zcat -f '$RDME' | grep -qF 'systemctl reload satchel' &&
	zcat -f '$RDME' | grep -qF '$U_PIDFILE'"
EXAMPLE=$(ls /usr/share/doc/satchel/examples/satchel.conf.example* \
    2>/dev/null | head -1)
check "example config installed: ${EXAMPLE:-none}" \
    bash -c "[ -n '$EXAMPLE' ] && zcat -f '$EXAMPLE' | grep -q '^listen = '"

if [ "$USER_BEFORE" = 0 ]; then
	check "system user and group satchel created (no home)" bash -c '
		IFS=: read -r n _ uid gid _ home shell <<EOF
$(getent passwd satchel)
EOF
		[ "$n" = satchel ] && [ "$uid" -lt 1000 ] &&
		[ "$home" = /nonexistent ] && getent group satchel >/dev/null'
else
	note "user satchel existed before the install (a source build's" \
	    "tests make it): the package must use it and leave it alone"
	check "existing user satchel kept" bash -c "getent passwd satchel >/dev/null"
fi
check "chroot /var/lib/satchel/empty: root:root 0755, empty" bash -c '
	[ "$(stat -c %U:%G:%a /var/lib/satchel/empty)" = root:root:755 ] &&
	[ -z "$(ls -A /var/lib/satchel/empty)" ]'
HOST=$(hostname --fqdn 2>/dev/null || hostname)
[ ${#HOST} -gt 64 ] && HOST=$(hostname)
check "self-signed certificate for $HOST, key root 0600" bash -c "
	[ \"\$(stat -c %U:%a /etc/satchel/ssl/satchel.key)\" = root:600 ] &&
	openssl x509 -in /etc/satchel/ssl/satchel.pem -noout -subject |
	grep -q 'CN *= *$HOST' &&
	openssl x509 -in /etc/satchel/ssl/satchel.pem -noout -pubkey |
	cmp -s - <(openssl pkey -in /etc/satchel/ssl/satchel.key -pubout)"
check "modules owned by root, not group/other-writable" bash -c "
	[ -z \"\$(find $MODDIR -name '*.so' \\( ! -user root -o -perm /022 \\))\" ] &&
	ls $MODDIR/*.so >/dev/null"
check "satcheld -v: $(/usr/sbin/satcheld -v 2>&1)" bash -c "/usr/sbin/satcheld -v >/dev/null"
check "pkg-config: moduledir is the daemon's module directory" bash -c "
	[ \"\$(pkg-config --variable=moduledir satchel)\" = $MODDIR ] &&
	printf '#include <stdint.h>\n#include <satchel/module.h>\nint x = SATCHEL_ABI_MAJOR;\n' |
	cc -x c -c -o /dev/null \$(pkg-config --cflags satchel) -"

# ---- the configuration to run ----------------------------------------------
CONF=/etc/satchel/satchel.conf
HAVE_TLS=0
grep -qE '^listen *= *\*:995 +tls' "$CONF" && HAVE_TLS=1
PORT=110
TLSPORT=995
PORTS_BUSY=0
if command -v ss >/dev/null 2>&1 &&
    ss -Hltn "( sport = :110 or sport = :995 )" | grep -q .; then
	PORTS_BUSY=1
fi
[ "$HAVE_PAM" = 1 ] || note "auth_pam is not built: the test logs in through auth_file with the user's shadow hash"
[ "$HAVE_MBOX" = 1 ] || note "storage_mbox is not built: the test mail goes to ~/Maildir instead of /var/mail"
[ "$HAVE_TLS" = 1 ] || note "this build has no TLS: the test fetches over plain POP3 on port 110, not POP3S"
[ "$PORTS_BUSY" = 1 ] && note "ports 110/995 are in use here: the test copy listens on 127.0.0.1:11110/11995"
if [ "$HAVE_PAM$HAVE_MBOX$PORTS_BUSY" != 110 ]; then
	CONF=$W/satchel.conf
	cp /etc/satchel/satchel.conf "$CONF"
	if [ "$PORTS_BUSY" = 1 ]; then
		PORT=11110
		TLSPORT=11995
		sed -i -e 's/^listen *= *\*:110$/listen = 127.0.0.1:11110/' \
		    -e 's/^listen *= *\*:995 tls$/listen = 127.0.0.1:11995 tls/' \
		    "$CONF"
	fi
	if [ "$HAVE_PAM" = 0 ]; then
		sed -i 's/^auth = pam$/auth = file/' "$CONF"
		[ "$HAVE_MBOX" = 0 ] && sed -i \
		    's|^mail_location = .*|mail_location = maildir:%h/Maildir|' \
		    "$CONF"
		printf '[file]\npath = %s/users\n' "$W" >>"$CONF"
	elif [ "$HAVE_MBOX" = 0 ]; then
		printf '[pam]\nmail = maildir:%%h/Maildir\n' >>"$CONF"
	fi
	note "running a test copy of the shipped config: $CONF"
	diff /etc/satchel/satchel.conf "$CONF" | sed 's/^/#   /'
fi

# ---- a system user with mail ---------------------------------------------
PASS=$(openssl rand -hex 12)
useradd -m -s /bin/sh "$TESTUSER" || abort "useradd $TESTUSER"
echo "$TESTUSER:$PASS" | chpasswd || abort "chpasswd"
HOMEDIR=$(getent passwd "$TESTUSER" | cut -d: -f6)
if [ "$HAVE_PAM" = 0 ]; then
	IFS=: read -r _ hash _ <<EOF
$(getent shadow "$TESTUSER")
EOF
	printf '%s:%s:%s:%s::%s::\n' "$TESTUSER" "$hash" "$(id -u "$TESTUSER")" \
	    "$(id -g "$TESTUSER")" "$HOMEDIR" >"$W/users"
	chmod 0600 "$W/users"
fi
TOKEN="satchel-package-test-$(openssl rand -hex 8)"
cat >"$W/msg" <<EOF
From: root@localhost
To: $TESTUSER@localhost
Subject: package round trip
Message-ID: <$TOKEN@localhost>

Hello $TESTUSER,
this is $TOKEN.
.leading dot
EOF
if [ "$HAVE_MBOX" = 1 ]; then
	MAILBOX=/var/mail/$TESTUSER
	# What an MDA does: a "From " line, the message, a blank line;
	# owner the user, group mail, 0660.
	{ echo "From root@localhost $(LC_ALL=C date -u '+%a %b %e %T %Y')"
	  cat "$W/msg"; echo; } >"$MAILBOX"
	chown "$TESTUSER:mail" "$MAILBOX"
	chmod 0660 "$MAILBOX"
else
	MAILBOX=$HOMEDIR/Maildir
	mkdir -p "$MAILBOX/cur" "$MAILBOX/new" "$MAILBOX/tmp"
	cp "$W/msg" "$MAILBOX/new/1700000000.M1P1.satcheltest"
	chown -R "$TESTUSER:" "$MAILBOX"
	chmod -R go-rwx "$MAILBOX"
fi
note "mail delivered to $MAILBOX"

# ---- start it the way the unit does ----------------------------------------
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
RELOAD=$(sed -n 's/^ExecReload=//p' "$UNIT")
CAPS=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
UMASK=$(sed -n 's/^UMask=//p' "$UNIT")
RTDIR=$(sed -n 's/^RuntimeDirectory=//p' "$UNIT")
PIDFILE=$(sed -n 's/^PIDFile=//p' "$UNIT")
EXEC=${EXEC//\/etc\/satchel\/satchel.conf/$CONF}
BSET=-all
for c in $CAPS; do
	c=${c#CAP_}
	BSET="$BSET,+${c,,}"
done
NNP=
grep -qx 'NoNewPrivileges=yes' "$UNIT" && NNP=--no-new-privs
# systemd makes RuntimeDirectory= before starting the service.
mkdir -p "/run/$RTDIR"
chmod 0755 "/run/$RTDIR"
# The listener that stands in for systemd's notification socket.
cat >"$W/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
EOF
python3 "$W/notify.py" "$W/notify.sock" "$W/notify.log" &
NPID=$!
for _ in $(seq 1 50); do [ -S "$W/notify.sock" ] && break; sleep 0.1; done
note "ExecStart: $EXEC"
note "under: umask ${UMASK:-0022}, bounding set $BSET ${NNP}"
# PKG_TEST_STRACE=1: record the system calls of every satcheld process,
# to compare with the unit's SystemCallFilter= (strace is then the child
# this script waits for, and the main pid comes from the pid file).
STRACE=
if [ "${PKG_TEST_STRACE:-0}" = 1 ] && command -v strace >/dev/null; then
	STRACE="strace -f -qq -o $W/strace.out"
fi
# shellcheck disable=SC2086
(umask "${UMASK:-0022}" && cd / && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    NOTIFY_SOCKET="$W/notify.sock" setpriv --bounding-set "$BSET" $NNP -- \
    $STRACE $EXEC) >"$W/daemon.log" 2>&1 &
SPID=$!
DPID=$SPID
wait_for() {	# wait_for SECONDS COMMAND...: poll until COMMAND succeeds
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		kill -0 "$SPID" 2>/dev/null || return 1
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
if wait_for 20 grep -q 'READY=1' "$W/notify.log"; then
	ok "started: READY=1 on NOTIFY_SOCKET (Type=notify)"
else
	sed 's/^/# daemon: /' "$W/daemon.log"
	cat "$W/notify.log" 2>/dev/null | sed 's/^/# notify: /'
	abort "satcheld did not report READY=1"
fi
[ -n "$STRACE" ] && DPID=$(cat "$PIDFILE")
check "pidfile $PIDFILE holds the main pid" \
    bash -c "[ \"\$(cat $PIDFILE 2>/dev/null)\" = $DPID ]"

# ---- fetch ------------------------------------------------------------------
tr -d '\r' <"$W/msg" >"$W/expect"
fetch() {	# fetch OUTFILE [PASSWORD]
	if [ "$HAVE_TLS" = 1 ]; then
		curl -sS --max-time 20 --cacert /etc/satchel/ssl/satchel.pem \
		    --resolve "$HOST:$TLSPORT:127.0.0.1" \
		    -u "$TESTUSER:${2:-$PASS}" "pop3s://$HOST:$TLSPORT/1" \
		    -o "$1" 2>>"$W/curl.log"
	else
		curl -sS --max-time 20 -u "$TESTUSER:${2:-$PASS}" \
		    "pop3://127.0.0.1:$PORT/1" -o "$1" 2>>"$W/curl.log"
	fi
}
PROTO=pop3
[ "$HAVE_TLS" = 1 ] && PROTO="pop3s (certificate checked for $HOST)"
if fetch "$W/got1" && tr -d '\r' <"$W/got1" | cmp -s - "$W/expect"; then
	ok "curl $PROTO: RETR 1 returns the delivered message"
else
	nok "curl $PROTO: RETR 1 returns the delivered message"
	sed 's/^/# curl: /' "$W/curl.log"
	tail -20 "$W/daemon.log" | sed 's/^/# daemon: /'
fi
fetch "$W/bad" "wrong-$PASS"
check "curl $PROTO: a wrong password is refused (curl exit 67)" \
    test $? = 67

# ---- reload -----------------------------------------------------------------
RELOAD=${RELOAD//\$MAINPID/$DPID}
RELOAD=${RELOAD//\$\{MAINPID\}/$DPID}
note "ExecReload: $RELOAD"
nready=$(grep -c 'READY=1' "$W/notify.log")
$RELOAD
check "reload: RELOADING=1 then READY=1" wait_for 15 bash -c \
    "grep -q RELOADING=1 '$W/notify.log' &&
	[ \$(grep -c READY=1 '$W/notify.log') -gt $nready ]"
check "reload: still running, log says reloaded" \
    bash -c "kill -0 $DPID && grep -q 'reloaded' '$W/daemon.log'"
if fetch "$W/got2" && tr -d '\r' <"$W/got2" | cmp -s - "$W/expect"; then
	ok "curl $PROTO after reload: RETR 1"
else
	nok "curl $PROTO after reload: RETR 1"
	tail -20 "$W/daemon.log" | sed 's/^/# daemon: /'
fi

# ---- stop -------------------------------------------------------------------
kill -TERM "$DPID"
st=
for _ in $(seq 1 150); do
	if ! kill -0 "$SPID" 2>/dev/null; then
		wait "$SPID"
		st=$?
		break
	fi
	sleep 0.1
done
check "SIGTERM: stopped within 15 s with status 0" test "${st:-x}" = 0
[ -n "$st" ] && DPID=
if [ -n "$STRACE" ]; then
	# Every call made, against @system-service + chroot minus the
	# groups the unit denies (systemd-analyze syscall-filter).
	expand() {
		local x
		for x in $(systemd-analyze syscall-filter "$@" 2>/dev/null |
		    awk 'NR > 1 && $1 !~ /^#/ && NF { print $1 }'); do
			case $x in
			@*) expand "$x" ;;
			*) echo "$x" ;;
			esac
		done
	}
	{ expand @system-service; echo chroot; } | sort -u >"$W/allowed"
	expand @obsolete @mount @swap @reboot @raw-io @module @clock \
	    @cpu-emulation @debug | sort -u >"$W/denied"
	sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' "$W/strace.out" |
	    sort -u >"$W/used"
	outside=$( (comm -23 "$W/used" "$W/allowed"; comm -12 "$W/used" \
	    "$W/denied") | sort -u | tr '\n' ' ')
	note "system calls used: $(wc -l <"$W/used")"
	check "SystemCallFilter= allows every call satcheld made${outside:+ (not: $outside)}" \
	    test -z "$outside"
fi
# The master is gone; its grandchildren (module workers, agents) end on
# their parent's death or on end of file, which takes a moment.
check "SIGTERM: pidfile removed, no satcheld process left within 3 s" bash -c "
	[ ! -e $PIDFILE ] || exit 1
	for i in \$(seq 30); do
		ls -l /proc/[0-9]*/exe 2>/dev/null |
		    grep -q ' /usr/sbin/satcheld\$' || exit 0
		sleep 0.1
	done
	ls -l /proc/[0-9]*/exe 2>/dev/null | grep ' /usr/sbin/satcheld\$'
	exit 1"
grep -q STOPPING=1 "$W/notify.log" || note "no STOPPING=1 seen"
kill "$NPID" 2>/dev/null
NPID=
rmdir "/run/$RTDIR" 2>/dev/null

# ---- the README's /var/vmail setup under the unit's sandbox -----------------
# The vmail user as the README makes it (if this machine has none).
if ! getent passwd vmail >/dev/null; then
	[ -d /var/vmail ] || VMAILDIR_MADE=1
	getent group vmail >/dev/null ||
	    groupadd --system --gid 5000 vmail 2>/dev/null ||
	    groupadd --system vmail
	useradd --system --uid 5000 --gid vmail --home-dir /var/vmail \
	    --create-home --shell /usr/sbin/nologin vmail 2>/dev/null ||
	    useradd --system --gid vmail --home-dir /var/vmail \
	    --create-home --shell /usr/sbin/nologin vmail
	VMAIL_MADE=1
	note "made the README's vmail user: $(getent passwd vmail)"
else
	note "vmail exists here: $(getent passwd vmail)"
fi
if [ ! -d /var/vmail ]; then
	VMAILDIR_MADE=1
	install -d -o vmail -g vmail -m 0755 /var/vmail
fi
VMD=/var/vmail/example.org/$VUSER
install -d -o vmail -g vmail -m 0700 /var/vmail/example.org "$VMD" \
    "$VMD/cur" "$VMD/new" "$VMD/tmp"
cp "$W/msg" "$VMD/new/1700000000.M1P1.pkgtest"
chown vmail:vmail "$VMD/new/1700000000.M1P1.pkgtest"
chmod 0600 "$VMD/new/1700000000.M1P1.pkgtest"
VPASS=$(openssl rand -hex 12)
printf '%s@example.org:{SHA512-CRYPT}%s::::::\n' "$VUSER" \
    "$(openssl passwd -6 "$VPASS")" >"$W/vusers"
chmod 0600 "$W/vusers"
VPORT=11120
# The README's minimal configuration, on a test port, without TLS.
cat >"$W/vmail.conf" <<VCONF
listen = 127.0.0.1:$VPORT
chroot = /var/lib/satchel/empty
auth = file
mail_location = maildir:/var/vmail/%d/%n
mail_uid = vmail
mail_gid = vmail
pidfile = $U_PIDFILE

[file]
path = $W/vusers
VCONF
# ProtectSystem=strict + ReadWritePaths= + RuntimeDirectory=, emulated:
# everything read-only in a private mount namespace but those paths.
RWP=$(sed -n 's/^ReadWritePaths=//p' "$UNIT" | tr ' ' '\n' | sed 's/^-//' |
    while read -r p; do [ -n "$p" ] && [ -e "$p" ] && echo "$p"; done |
    tr '\n' ' ')
RWP="$RWP /run/$RTDIR"
note "emulated sandbox: all read-only but $RWP"
sandboxed() {	# sandboxed "RW PATHS" LOG: start satcheld on vmail.conf
	mkdir -p "/run/$RTDIR"
	chmod 0755 "/run/$RTDIR"
	# shellcheck disable=SC2086,SC2016
	(umask "${UMASK:-0022}" && cd / && exec unshare --mount \
	    --propagation private -- bash -c '
		rw=$1; shift
		for p in $rw; do mount --bind "$p" "$p" || exit 99; done
		findmnt -rno TARGET | while read -r m; do
			case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
			s=0
			for p in $rw; do [ "$m" = "$p" ] && s=1; done
			[ $s = 1 ] || mount -o remount,bind,ro "$m" 2>/dev/null
		done
		if touch /etc/.satchel-rw-probe 2>/dev/null; then
			rm -f /etc/.satchel-rw-probe
			echo "sandbox emulation: /etc is writable"
			exit 98
		fi
		exec "$@"' _ "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    setpriv --bounding-set "$BSET" $NNP -- \
	    /usr/sbin/satcheld -F -c "$W/vmail.conf") >"$2" 2>&1 &
	VPID=$!
	for _ in $(seq 1 100); do
		[ -s "$U_PIDFILE" ] && (exec 3<>"/dev/tcp/127.0.0.1/$VPORT") \
		    2>/dev/null && return 0
		kill -0 "$VPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
sandbox_stop() {
	local pid
	pid=$(cat "$U_PIDFILE" 2>/dev/null)
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$VPID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$VPID" 2>/dev/null
	VPID=
	rm -f "$U_PIDFILE"
}
vfetch() {
	curl -sS --max-time 20 -u "$VUSER@example.org:$VPASS" \
	    "pop3://127.0.0.1:$VPORT/1" -o "$1" 2>>"$W/curl.log"
}
# Without /var/vmail writable (the unit before this change): the issue's
# failure, which shows the emulation is real.
NOVMAIL=$(echo "$RWP" | tr ' ' '\n' | grep -vx /var/vmail | tr '\n' ' ')
if sandboxed "$NOVMAIL" "$W/vmail-ro.log"; then
	vfetch "$W/vgot-ro"
	check "sandbox without /var/vmail: the login fails, 'Read-only file system' logged" \
	    grep -q 'Read-only file system' "$W/vmail-ro.log"
else
	sed 's/^/# daemon: /' "$W/vmail-ro.log"
	nok "satcheld did not start in the emulated sandbox (no /var/vmail)"
fi
sandbox_stop
if sandboxed "$RWP" "$W/vmail.log"; then
	if vfetch "$W/vgot" && tr -d '\r' <"$W/vgot" | cmp -s - "$W/expect"; then
		ok "README /var/vmail setup under the unit's sandbox: RETR 1 (vmail uid $(id -u vmail))"
	else
		nok "README /var/vmail setup under the unit's sandbox: RETR 1"
		tail -20 "$W/vmail.log" | sed 's/^/# daemon: /'
	fi
	check "the session lock was made in /var/vmail" test -e "$VMD/.satchel.lock"
	check "no 'Read-only file system' with the unit's ReadWritePaths=" \
	    bash -c "! grep -q 'Read-only file system' '$W/vmail.log'"
else
	sed 's/^/# daemon: /' "$W/vmail.log"
	nok "satcheld did not start in the emulated sandbox"
fi
sandbox_stop
rm -rf "$VMD"
rmdir /var/vmail/example.org 2>/dev/null
rmdir "/run/$RTDIR" 2>/dev/null

# ---- purge -------------------------------------------------------------------
if $APT purge satchel satchel-mysql satchel-dev >"$W/purge.log" 2>&1; then
	ok "apt-get purge satchel satchel-mysql satchel-dev"
	INSTALLED=0
else
	tail -20 "$W/purge.log"
	nok "apt-get purge satchel satchel-mysql satchel-dev"
fi
check "purge: no package left in dpkg (not even config-files)" bash -c "
	! dpkg-query -W -f='\${db:Status-Abbrev} \${Package}\n' \
	    satchel satchel-mysql satchel-dev 2>/dev/null | grep -q '^[a-z]'"
if [ "$USER_BEFORE" = 0 ]; then
	check "purge: user and group satchel removed" bash -c "
		! getent passwd satchel >/dev/null &&
		! getent group satchel >/dev/null"
else
	check "purge: the pre-existing user satchel is kept" \
	    bash -c "getent passwd satchel >/dev/null"
fi
left=
for p in /etc/satchel /var/lib/satchel "$MODDIR" "/usr/lib/$MA/satchel" \
    /usr/sbin/satcheld /etc/pam.d/satchel /usr/include/satchel \
    "/usr/lib/$MA/pkgconfig/satchel.pc" /lib/systemd/system/satchel.service \
    /usr/lib/systemd/system/satchel.service /usr/share/doc/satchel \
    /etc/systemd/system/multi-user.target.wants/satchel.service \
    /var/lib/systemd/deb-systemd-helper-enabled/satchel.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/satchel.service \
    /run/satchel "/var/mail/.$TESTUSER.satchel-lock" \
    "/var/mail/.$TESTUSER.satchel-index"; do
	[ -e "$p" ] || [ -L "$p" ] && left="$left $p"
done
check "purge: nothing left behind${left:+ (left:$left)}" test -z "$left"

# ---- the test user ----------------------------------------------------------
userdel -r "$TESTUSER" >/dev/null 2>&1
rm -f "/var/mail/$TESTUSER"
check "test user removed" bash -c "! getent passwd $TESTUSER >/dev/null"
