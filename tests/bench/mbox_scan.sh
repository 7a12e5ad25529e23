#!/bin/sh
# mbox_scan.sh -- time a POP3 login + STAT + UIDL + QUIT on a generated
# 1 GiB mbox, twice (the first scans the file, the second should use the
# index), with Satchel and, when it is installed, Dovecot.  Prints the
# numbers; records nothing.  Needs root (the daemons drop privileges).
#
#   tests/bench/mbox_scan.sh [BUILDDIR] [SIZE_MIB]
#
# BUILDDIR holds satcheld and .libs/ (default: the current directory).
# The page cache is dropped before each first login when possible, so the
# first number includes reading the file from disk.
set -eu

builddir=$(cd "${1:-.}" && pwd)
size_mib=${2:-1024}
user=vmail
id "$user" >/dev/null 2>&1 || useradd --system --no-create-home \
    --shell /usr/sbin/nologin "$user"
id satchel >/dev/null 2>&1 || useradd --system --no-create-home \
    --shell /usr/sbin/nologin satchel
uid=$(id -u "$user")
gid=$(id -g "$user")

d=$(mktemp -d /var/tmp/satchel-bench.XXXXXX)
chmod 755 "$d"
spid=
dpid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null || true
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null || true
	sleep 0.5
	rm -rf "$d"
}
trap cleanup EXIT INT TERM

mkdir -p "$d/mail" "$d/empty" "$d/home/bench"
chown "$user:$user" "$d/mail" "$d/home/bench"

echo "generating a ${size_mib} MiB mbox ..."
python3 - "$d/mail/bench" "$size_mib" <<'EOF'
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
chown "$user:$user" "$d/mail/bench"
chmod 600 "$d/mail/bench"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# One timed session: login, STAT, UIDL, QUIT.  Prints seconds.
pop_time() {
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
print("%.3f s (STAT %s messages %s octets, UIDL %d lines)"
      % (time.monotonic() - t0, stat[1].decode(), stat[2].decode(), n))
EOF
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null ||
	    echo "  (cannot drop the page cache: first run may be cached)"
}

wait_port() {
	i=0
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "server on port $1 did not start"; return 1; }
		sleep 0.1
	done
}

# ---- Satchel ---------------------------------------------------------
cat >"$d/users" <<EOF
bench:{PLAIN}bench-pw:$uid:$gid::$d/home/bench::
EOF
cat >"$d/satchel.conf" <<EOF
listen = 127.0.0.1:$port
worker_user = satchel
chroot = $d/empty
auth = file
module_dir = $builddir/.libs
mail_location = mbox:$d/mail/%u
pidfile = $d/satcheld.pid
control_socket = $d/satcheld.ctl
first_valid_uid = 100
workers_min_spare = 2

[file]
path = $d/users

[mbox]
EOF
"$builddir/satcheld" -F -c "$d/satchel.conf" >"$d/satcheld.log" 2>&1 &
spid=$!
wait_port "$port"
echo "Satchel:"
drop_caches
printf '  first login (scan):   '; pop_time "$port" bench bench-pw
sleep 0.5
printf '  second login (index): '; pop_time "$port" bench bench-pw
kill "$spid"; wait "$spid" 2>/dev/null || true
spid=

# ---- Dovecot, if installed -------------------------------------------
if command -v dovecot >/dev/null 2>&1; then
	rm -f "$d/mail/.bench.satchel-"*
	mkdir -p "$d/dovecot"
	port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$d/dovecot/passwd" <<EOF
bench:{PLAIN}bench-pw:$uid:$gid::$d/home/bench::
EOF
	cat >"$d/dovecot/dovecot.conf" <<EOF
base_dir = $d/dovecot/run
state_dir = $d/dovecot/state
log_path = $d/dovecot/log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = mbox:$d/home/bench/mail:INBOX=$d/mail/%u
mbox_write_locks = dotlock fcntl
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = 100
passdb {
  driver = passwd-file
  args = $d/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = $d/dovecot/passwd
}
service pop3-login {
  inet_listener pop3 {
    port = $port2
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
}
EOF
	mkdir -p "$d/home/bench/mail"
	chown -R "$user:$user" "$d/home/bench"
	if dovecot -F -c "$d/dovecot/dovecot.conf" >"$d/dovecot/stdout" 2>&1 &
	then
		dpid=$!
		if wait_port "$port2"; then
			echo "Dovecot $(dovecot --version 2>/dev/null):"
			drop_caches
			printf '  first login (scan):   '
			pop_time "$port2" bench bench-pw || tail -5 "$d/dovecot/log"
			sleep 0.5
			printf '  second login (index): '
			pop_time "$port2" bench bench-pw || tail -5 "$d/dovecot/log"
		else
			tail -5 "$d/dovecot/log" "$d/dovecot/stdout" 2>/dev/null
		fi
		kill "$dpid"; wait "$dpid" 2>/dev/null || true
		dpid=
	fi
else
	echo "Dovecot: not installed (apt-get install dovecot-pop3d to compare)"
fi
