#!/bin/bash
# tests/valgrind.sh BUILDDIR -- run the real daemon under valgrind
# (memcheck, every process: master, workers, auth pool, agents) through
# a session of every command, a failed login, STLS and a reload, then
# stop it.  Passes when valgrind reports no error in any process.
# Prints "valgrind: N passed, N failed".  As root; bounded in time.
set -u
b=${1:?usage: valgrind.sh BUILDDIR}
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null 2>&1
d=$(mktemp -d /tmp/satchel-vg.XXXXXX)
chmod 755 "$d"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 -- "-$pid" 2>/dev/null
	rm -rf "$d"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$d/empty" "$d/mail/example.org/vg/"{cur,new,tmp}
for i in 1 2 3; do
	printf 'From: a@example.org\nSubject: m%s\n\nbody %s\n.dot\n' "$i" "$i" \
	    >"$d/mail/example.org/vg/new/170000000$i.M${i}P1.host"
done
chown -R vmail:vmail "$d/mail"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
chmod 600 "$d/key.pem"
printf 'vg@example.org:{PLAIN}pw:%s:%s::/x::\n' "$(id -u vmail)" \
    "$(id -g vmail)" >"$d/users"
chmod 640 "$d/users"
# valgrind runs the guest's system calls itself (and needs calls the
# allow-list refuses): seccomp and valgrind do not mix.  The daemon also
# skips its filter when it sees valgrind (RUNNING_ON_VALGRIND, if
# valgrind.h was there at build time); this line does not depend on it.
cat >"$d/satchel.conf" <<CONF
listen = 127.0.0.1:$port
sandbox = no
worker_user = satchel
chroot = $d/empty
auth = file
module_dir = $b/.libs
mail_location = maildir:$d/mail/%d/%n
pidfile = $d/satcheld.pid
workers_min_spare = 1
workers_max_spare = 2
login_fail_delay_ms = 10
tls_cert = $d/cert.pem
tls_key = $d/key.pem
[file]
path = $d/users
CONF
setsid valgrind -q --vgdb=no --trace-children=yes --error-exitcode=9 \
    --track-fds=no --log-file="$d/vg.%p.log" "$b/satcheld" -F \
    -c "$d/satchel.conf" >"$d/daemon.log" 2>&1 </dev/null &
pid=$!
ok=0
for _ in $(seq 150); do
	[ -s "$d/satcheld.pid" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && { ok=1; break; }
	sleep 0.2
done
fail=0
if [ "$ok" = 1 ]; then
	timeout 120 python3 - "$port" <<'PY' || fail=1
import poplib, ssl, sys, socket
port = int(sys.argv[1])
p = poplib.POP3("127.0.0.1", port, timeout=60)
try:
    p.user("vg@example.org"); p.pass_("wrong")
    raise SystemExit("wrong password accepted")
except poplib.error_proto:
    pass
p.quit()
p = poplib.POP3("127.0.0.1", port, timeout=60)
ctx = ssl.create_default_context(); ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p.stls(ctx)
p.user("vg@example.org"); p.pass_("pw")
p.stat(); p.list(); p.uidl(); p.retr(1); p.top(2, 0); p.dele(3); p.rset()
p.dele(3); p.noop(); p.capa()
p.quit()
s = socket.create_connection(("127.0.0.1", port), 30)
s.sendall(b"USER x\x00y\r\n" + b"A" * 3000 + b"\r\nFOO\r\nQUIT\r\n")
s.recv(4096); s.close()
PY
	kill -HUP "$(cat "$d/satcheld.pid")"
	sleep 3
	python3 -c "
import poplib; p = poplib.POP3('127.0.0.1', $port, timeout=60)
p.user('vg@example.org'); p.pass_('pw'); assert p.stat()[0] == 2; p.quit()" || fail=1
	kill "$(cat "$d/satcheld.pid")"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
else
	echo "satcheld did not start under valgrind"
	cat "$d/daemon.log"
	fail=1
fi
errors=$(cat "$d"/vg.*.log 2>/dev/null | grep -E '^==[0-9]+== ' | grep -v 'could not unlink' || true)
nlogs=$(ls "$d"/vg.*.log 2>/dev/null | wc -l)
echo "valgrind watched $nlogs processes"
if [ -n "$errors" ]; then
	echo "$errors" | head -60
	fail=1
fi
if [ "$fail" = 0 ]; then
	echo "valgrind: 1 passed, 0 failed"
else
	tail -n 20 "$d/daemon.log"
	echo "valgrind: 0 passed, 1 failed"
	exit 1
fi
