#!/bin/bash
# tests/bench/popa3d.sh BUILDDIR -- one RETR stream, Satchel against
# popa3d (Debian's popa3d, standalone mode on 127.0.0.1:110 only as a
# client target), on the same 1-10 MiB messages: an mbox in /var/mail for
# popa3d (a system user made for the run, PAM), the same messages (same
# mkmail seed) in a Maildir for Satchel.  Alternates RUNS times and
# prints the medians and the ratio.  As root; removes the user, the mbox
# and its temp files at the end; stops both servers by pid.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=$(cd "${1:-$BENCH_DIR/../..}" && pwd)
RUNS=${RUNS:-5}
MSGS=${DL_MSGS:-40}
W=$(mktemp -d /tmp/bench-popa3d.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
. "$BENCH_DIR/lib.sh"
U=benchpop
PW=bench-pw-1
SPID=
PPID3=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -n "$PPID3" ] && kill "$PPID3" 2>/dev/null
	sleep 1
	userdel "$U" 2>/dev/null
	rm -f "/var/mail/$U" "/var/mail/$U.lock"
	rm -rf "$W"
}
trap cleanup EXIT
command -v popa3d >/dev/null || DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq popa3d >/dev/null 2>&1 || { echo "no popa3d"; exit 1; }
if port_open 110; then
	echo "port 110 is busy; stop what listens there first"
	exit 1
fi
bench_build_tools || exit 1
bench_users
bench_hash
getent passwd "$U" >/dev/null || useradd -M -s /bin/sh "$U"
echo "$U:$PW" | chpasswd
"$BIN/mkmail" mbox "/var/mail/$U" -n "$MSGS" -s 1m-10m -S 2 || exit 1
chown "$U:mail" "/var/mail/$U"
chmod 660 "/var/mail/$U"
mkdir -p "$W/empty" "$W/mail/$BENCH_DOMAIN"
"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/dl" -n "$MSGS" -s 1m-10m \
    -S 2 || exit 1
chown -R vmail:vmail "$W/mail"
bench_pwline "dl@$BENCH_DOMAIN" "$W/mail/$BENCH_DOMAIN/dl" >"$W/users"
chmod 640 "$W/users"
port=$(free_port)
cat >"$W/satchel.conf" <<CONF
listen = 127.0.0.1:$port
worker_user = satchel
chroot = $W/empty
auth = file
module_dir = $BUILDDIR/.libs
mail_location = maildir:$W/mail/%d/%n
first_valid_uid = 100
pidfile = $W/satcheld.pid
log_level = warning
[file]
path = $W/users
CONF
setsid "$BUILDDIR/satcheld" -F -c "$W/satchel.conf" >"$W/satchel.log" 2>&1 &
SPID=$!
setsid popa3d -D >"$W/popa3d.log" 2>&1 &
sleep 1
# popa3d -D forks into the background: find it by the port it holds.
PPID3=$(ss -ltnpH 'sport = :110' | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -n 1)
for _ in $(seq 50); do port_open "$port" && port_open 110 && break; sleep 0.2; done
s_all= p_all=
for i in $(seq "$RUNS"); do
	so=$(timeout 120 "$BIN/popload" -P "$BENCH_USER_PW" -s download \
	    -p "$port" -c 1 -t 60 -u "dl@$BENCH_DOMAIN" 2>&1 | grep '^result')
	po=$(timeout 120 "$BIN/popload" -P "$PW" -s download -p 110 \
	    -c 1 -t 60 -u "$U" 2>&1 | grep '^result')
	s=$(sed -nE 's/.* mbps=([^ ]*).*/\1/p' <<<"$so")
	p=$(sed -nE 's/.* mbps=([^ ]*).*/\1/p' <<<"$po")
	echo "run $i: satchel $s MB/s ($(grep -o 'bytes=[0-9]*' <<<"$so"), $(grep -o 'err=[0-9]*' <<<"$so")), popa3d $p MB/s ($(grep -o 'bytes=[0-9]*' <<<"$po"), $(grep -o 'err=[0-9]*' <<<"$po"))"
	s_all="$s_all $s" p_all="$p_all $p"
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sm=$(med "$s_all") pm=$(med "$p_all")
echo "median: satchel $sm MB/s, popa3d $pm MB/s, ratio $(awk -v a="$sm" -v b="$pm" 'BEGIN {printf "%.2f", a / b}')"
