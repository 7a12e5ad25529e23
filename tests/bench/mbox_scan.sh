#!/bin/bash
# mbox_scan.sh -- the first look at a big mbox (issue 16): a POP3 login
# + STAT + UIDL + QUIT on a generated 1 GiB mbox, with Satchel (the
# default config, mbox storage), Debian's popa3d (under tcpserver, as
# its users run it; PAM; the mbox in /var/mail) and Dovecot (Debian's
# default settings, its index in a private directory).
#
#   tests/bench/mbox_scan.sh [BUILDDIR] [SIZE_MIB]      (as root)
#
# "first": no index of the server's own yet (Satchel's and Dovecot's
# index files are removed before it; popa3d keeps none, so each of its
# logins is a first), the page cache warm (the file was just read), as
# the issue measures it; "second": the next login, with the index the
# first one wrote.  RUNS [3] alternations; medians printed.  With COLD=1
# the page cache is dropped before each first login instead (disk
# speed).  Every server is stopped by its pid; the popa3d user, its
# mbox and PAM file exist only for the run.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=$(cd "${1:-.}" && pwd)
SIZE_MIB=${2:-1024}
RUNS=${RUNS:-3}
COLD=${COLD:-0}
W=$(mktemp -d /var/tmp/satchel-bench.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
. "$BENCH_DIR/lib.sh"
U=benchmbox
SPID= DPID= POP_PID=

cleanup() {
	stop_pid "$SPID" 10
	stop_pid "$DPID" 10
	stop_pid "$POP_PID" 5
	userdel "$U" 2>/dev/null
	rm -f "/var/mail/$U" "/var/mail/$U.lock"
	popa3d_unprepare
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }
[ -x "$BUILDDIR/satcheld" ] || { log "no $BUILDDIR/satcheld"; exit 1; }
bench_users
uid=$VMAIL_UID
gid=$VMAIL_GID
command -v tcpserver >/dev/null || DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq ucspi-tcp >/dev/null 2>&1 ||
    log "no tcpserver (ucspi-tcp): no popa3d run"
HAVE_POPA3D=0
command -v tcpserver >/dev/null && popa3d_fetch && popa3d_prepare &&
    HAVE_POPA3D=1

mkdir -p "$W/mail" "$W/empty" "$W/home/bench"
chown "$VMAIL_UID:$VMAIL_GID" "$W/mail" "$W/home/bench"
log "generating a $SIZE_MIB MiB mbox"
python3 - "$W/mail/bench" "$SIZE_MIB" <<'EOF'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
body = b"".join(b"%05d The quick brown fox jumps over the lazy dog. "
                b"From here on >From there.\n" % i for i in range(600))
target = mib * 1024 * 1024
n = 0
with open(path, "wb", buffering=8 * 1024 * 1024) as f:
    written = 0
    while written < target:
        m = (b"From sender%d@bench.example Mon Jan  1 00:00:00 2024\n"
             b"From: sender%d@bench.example\nTo: bench@bench.example\n"
             b"Subject: message %d\nMessage-ID: <%d@bench.example>\n"
             b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n" % (n, n, n, n))
        m += body + b"\n"
        f.write(m)
        written += len(m)
        n += 1
print("%d messages" % n)
EOF
chown "$VMAIL_UID:$VMAIL_GID" "$W/mail/bench"
chmod 600 "$W/mail/bench"

# One timed session: login, STAT, UIDL, QUIT.  Prints milliseconds.
pop_ms() {	# port user password
	python3 - "$1" "$2" "$3" <<'EOF'
import socket, sys, time
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), 600)
f = s.makefile("rb")
def cmd(c):
    if c:
        s.sendall(c.encode() + b"\r\n")
    l = f.readline()
    if not l.startswith(b"+OK"):
        sys.exit("%s: %r" % (c, l))
    return l
cmd(None)
cmd("USER " + user)
cmd("PASS " + pw)
stat = cmd("STAT").split()
cmd("UIDL")
n = 0
while f.readline() != b".\r\n":
    n += 1
cmd("QUIT")
print("%.0f" % ((time.monotonic() - t0) * 1000))
sys.stderr.write("  (STAT %s messages %s octets, UIDL %d lines)\n"
                 % (stat[1].decode(), stat[2].decode(), n))
EOF
}

warm() {	# file: into the page cache, or out of it with COLD=1
	if [ "$COLD" = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches 2>/dev/null ||
		    log "cannot drop the page cache"
	else
		cat "$1" >/dev/null
	fi
}

med() { tr ' ' '\n' <<<"$1" | grep . | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

# ---- the servers ------------------------------------------------------
sport=$(free_port)
cat >"$W/users" <<EOF
bench:{PLAIN}bench-pw:$uid:$gid::$W/home/bench::
EOF
cat >"$W/satchel.conf" <<EOF
listen = 127.0.0.1:$sport
worker_user = satchel
chroot = $W/empty
auth = file
module_dir = $BUILDDIR/.libs
mail_location = mbox:$W/mail/%u
pidfile =
control_socket = $W/satcheld.ctl
first_valid_uid = 100
log_level = warning

[file]
path = $W/users

[mbox]
EOF
satchel_start satchel "$W/satchel.conf" "$sport" || exit 1
SPID=$PID_satchel

pport=
if [ "$HAVE_POPA3D" = 1 ]; then
	getent passwd "$U" >/dev/null || useradd -M -d /nonexistent \
	    -s /usr/sbin/nologin "$U"
	echo "$U:bench-pw" | chpasswd
	cp "$W/mail/bench" "/var/mail/$U"
	chown "$U:mail" "/var/mail/$U"
	chmod 660 "/var/mail/$U"
	pport=$(free_port)
	popa3d_tcpserver "$pport" || pport=
fi

dport=
if command -v dovecot >/dev/null 2>&1; then
	dport=$(free_port)
	mkdir -p "$W/dovecot" "$W/dovecot/idx"
	chown "$VMAIL_UID:$VMAIL_GID" "$W/dovecot/idx"
	cp "$W/users" "$W/dovecot/passwd"
	cat >"$W/dovecot/dovecot.conf" <<EOF
base_dir = $W/dovecot/run
state_dir = $W/dovecot/state
log_path = $W/dovecot/log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = mbox:$W/home/bench/mail:INBOX=$W/mail/%u:INDEX=$W/dovecot/idx
mbox_write_locks = dotlock fcntl
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = 100
passdb {
  driver = passwd-file
  args = $W/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = $W/dovecot/passwd
}
service pop3-login {
  inet_listener pop3 {
    port = $dport
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
}
EOF
	mkdir -p "$W/home/bench/mail"
	chown -R "$VMAIL_UID:$VMAIL_GID" "$W/home/bench"
	setsid dovecot -F -c "$W/dovecot/dovecot.conf" </dev/null \
	    >"$W/dovecot/stdout" 2>&1 &
	DPID=$!
	wait_port "$dport" 15 || { log "dovecot did not start";
	    tail -n 5 "$W/dovecot/log" >&2; dport=; }
fi

# ---- the runs ---------------------------------------------------------
declare -A FIRST SECOND
for run in $(seq 1 "$RUNS"); do
	log "run $run of $RUNS"
	# Satchel: its index beside the mbox (.bench.satchel-*)
	rm -f "$W/mail/.bench.satchel-"*
	warm "$W/mail/bench"
	FIRST[satchel]+=" $(pop_ms "$sport" bench bench-pw)"
	SECOND[satchel]+=" $(pop_ms "$sport" bench bench-pw)"
	if [ -n "$pport" ]; then
		warm "/var/mail/$U"
		FIRST[popa3d]+=" $(pop_ms "$pport" "$U" bench-pw)"
		SECOND[popa3d]+=" $(pop_ms "$pport" "$U" bench-pw)"
	fi
	if [ -n "$dport" ]; then
		rm -rf "$W/dovecot/idx/"* "$W/home/bench/mail/.imap"
		warm "$W/mail/bench"
		FIRST[dovecot]+=" $(pop_ms "$dport" bench bench-pw)"
		SECOND[dovecot]+=" $(pop_ms "$dport" bench bench-pw)"
	fi
done
echo
echo "login + STAT + UIDL + QUIT on a $SIZE_MIB MiB mbox, ms, medians of" \
    "$RUNS (page cache $([ "$COLD" = 1 ] && echo dropped || echo warm)):"
printf '%-10s %10s %10s   %s\n' server first second "all first / all second"
for s in satchel popa3d dovecot; do
	[ -n "${FIRST[$s]:-}" ] || continue
	printf '%-10s %10s %10s   %s /%s\n' "$s" "$(med "${FIRST[$s]}")" \
	    "$(med "${SECOND[$s]}")" "${FIRST[$s]# }" "${SECOND[$s]}"
done
