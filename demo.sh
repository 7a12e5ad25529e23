#!/bin/bash
# demo.sh -- install what Satchel needs, build it, and start it on a demo
# config: POP3 with STLS on 127.0.0.1:1110 and POP3S on 127.0.0.1:1995
# (a self-signed certificate it makes), user demo@example.org, password
# demo, three sample messages in a Maildir under ./demo/.  Run as root on
# Debian 12.  "./demo.sh stop" stops the demo server; "./demo.sh clean"
# also removes the demo users and files.
#
# The demo has its own system users, satchel-demo (the workers) and
# satchel-demo-mail (the mailbox agent), so that the README's
# "useradd ... satchel" and "useradd --uid 5000 ... vmail" still work
# on the same machine afterwards.
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
demo=$top/demo

stop_demo() {
	if [ -f "$demo/satcheld.pid" ] && kill -0 "$(cat "$demo/satcheld.pid")" 2>/dev/null; then
		kill "$(cat "$demo/satcheld.pid")"
		for _ in $(seq 50); do
			kill -0 "$(cat "$demo/satcheld.pid")" 2>/dev/null || break
			sleep 0.2
		done
		echo "demo server stopped"
	fi
}

WORKER=satchel-demo
MAILUSER=satchel-demo-mail

if [ "${1:-}" = stop ]; then
	stop_demo
	exit 0
fi
if [ "${1:-}" = clean ]; then
	stop_demo
	rm -rf "$demo" /var/lib/satchel-demo
	for u in "$MAILUSER" "$WORKER"; do
		getent passwd "$u" >/dev/null && userdel "$u"
	done
	echo "demo users and files removed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: run as root (it installs packages and creates the $WORKER and $MAILUSER users)" >&2
	exit 1
fi

echo "==> installing build dependencies"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential autoconf \
	automake libtool pkg-config libssl-dev libcrypt-dev libpam0g-dev \
	libsystemd-dev default-libmysqlclient-dev curl openssl ca-certificates >/dev/null

echo "==> building"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
[ -f Makefile ] || ./configure --quiet
make -j"$(nproc)" >/dev/null

echo "==> preparing the demo in $demo"
# System users of the demo's own (uids chosen by useradd, never 5000).
for u in "$WORKER" "$MAILUSER"; do
	getent passwd "$u" >/dev/null || useradd --system --user-group \
		--no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$u"
done
stop_demo
mkdir -p "$demo"
chmod 755 "$demo"
# The mailbox agent runs as $MAILUSER: it must be able to reach the Maildir.
mail=$demo/mail
if ! runuser -u "$MAILUSER" -- test -x "$demo"; then
	mail=/var/lib/satchel-demo/mail
	echo "    ($MAILUSER cannot enter $demo, a parent directory is private;"
	echo "     the demo Maildir goes to $mail instead)"
fi
rm -rf "$demo/empty" "$mail"
mkdir -p "$demo/empty" "$mail/example.org/demo/"{cur,new,tmp}
now=$(date +%s)
i=0
for subject in "Welcome to Satchel" "Dots and From lines" "A third message"; do
	i=$((i + 1))
	f="$mail/example.org/demo/new/$((now + i)).M${i}P$$.demo"
	{
		printf 'From: Satchel <satchel@example.org>\n'
		printf 'To: demo@example.org\n'
		printf 'Subject: %s\n' "$subject"
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-ID: <%s.%s@example.org>\n' "$now" "$i"
		printf '\n'
		printf 'This is demo message %s.\n' "$i"
		if [ "$i" = 2 ]; then
			printf '.\nA line with one dot above, and\nFrom the start of a line.\n'
		fi
	} >"$f"
done
chown -R "$MAILUSER:$MAILUSER" "$mail"
chmod -R go-rwx "$mail"
# A self-signed certificate for POP3S on 1995 and STLS on 1110.
mkdir -p "$demo/tls"
if [ ! -f "$demo/tls/cert.pem" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 825 \
		-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$demo/tls/key.pem" -out "$demo/tls/cert.pem" 2>/dev/null
fi
chmod 600 "$demo/tls/key.pem"
hash=$(openssl passwd -6 demo)
printf 'demo@example.org:{SHA512-CRYPT}%s:%s:%s::%s::\n' "$hash" \
	"$(id -u "$MAILUSER")" "$(id -g "$MAILUSER")" "$mail/example.org/demo" >"$demo/users"
chmod 640 "$demo/users"
cat >"$demo/satchel.conf" <<CONF
# Satchel demo configuration (made by demo.sh).
listen = 127.0.0.1:1110
listen = 127.0.0.1:1995 tls
tls_cert = $demo/tls/cert.pem
tls_key = $demo/tls/key.pem
worker_user = $WORKER
chroot = $demo/empty
auth = file
module_dir = $top/.libs
mail_location = maildir:$mail/%d/%n
first_valid_uid = 100
pidfile = $demo/satcheld.pid

[file]
path = $demo/users
CONF

echo "==> starting satcheld (log: $demo/satcheld.log)"
./satcheld -t -c "$demo/satchel.conf" >/dev/null
setsid ./satcheld -F -c "$demo/satchel.conf" >"$demo/satcheld.log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "satcheld did not start:" >&2
		tail -n 5 "$demo/satcheld.log" >&2
		exit 1
	fi
	[ -s "$demo/satcheld.pid" ] &&
		curl -s --max-time 2 -o /dev/null pop3://127.0.0.1:1110/ \
		-u demo@example.org:demo && break
	sleep 0.2
done
curl -s --max-time 5 pop3://127.0.0.1:1110/ -u demo@example.org:demo >/dev/null || {
	echo "satcheld did not answer; see $demo/satcheld.log" >&2
	exit 1
}
cat <<MSG

Satchel is running on 127.0.0.1:1110 (POP3, STLS) and 127.0.0.1:1995
(POP3S) (pid $(cat "$demo/satcheld.pid")).
Try:
    curl pop3://127.0.0.1:1110/ -u demo@example.org:demo       # list
    curl pop3://127.0.0.1:1110/1 -u demo@example.org:demo      # read message 1
    curl --cacert $demo/tls/cert.pem pop3s://localhost:1995/1 -u demo@example.org:demo
    curl --cacert $demo/tls/cert.pem --ssl-reqd pop3://localhost:1110/1 -u demo@example.org:demo
Stop it with: ./demo.sh stop (./demo.sh clean also removes its users)
MSG
