#!/bin/bash
# tests/bench/popa3d.sh BUILDDIR -- one RETR stream, Satchel against
# Debian's popa3d 1.0.3 run the way its users run it: one popa3d per
# connection from inetd -- here ucspi-tcp's tcpserver, which does the
# same (popa3d's standalone -D mode forks per connection just the same).
# PAM against /etc/shadow, the messages in /var/mail/<user> as an mbox
# for popa3d (a system user made for the run), the same messages (same
# mkmail seed) in a Maildir for Satchel.
#
# What the old version of this script measured (issue 16): popa3d
# writes the end of each message (".\r\n") in a small write of its own
# and never sets TCP_NODELAY, so that segment waits for the client's
# ACK of the one before; a client that RETRs one message after the
# other delays that ACK (Linux: 40 ms), so every RETR ended with a 40 ms
# stall, and 40 messages of 1-10 MiB took seconds: 0.12 GB/s, a measure
# of the delayed ACK, not of popa3d's streaming.  Both servers are now
# measured twice: with popload -Q (the client ACKs at once: streaming)
# and without (what a client with delayed ACKs sees).  Satchel sets
# TCP_NODELAY and is the same either way.
#
# Alternates RUNS times and prints the medians and ratios.  As root;
# removes the user, the mbox, the PAM file and popa3d's chroot if it
# made them; stops every server by pid.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=$(cd "${1:-$BENCH_DIR/../..}" && pwd)
RUNS=${RUNS:-5}
MSGS=${DL_MSGS:-64}
SIZE=${DL_SIZE:-1m-4m}
W=$(mktemp -d /tmp/bench-popa3d.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
. "$BENCH_DIR/lib.sh"
U=benchpop
SPID=
POP_PID=
cleanup() {
	stop_pid "$SPID" 5
	stop_pid "$POP_PID" 5
	userdel "$U" 2>/dev/null
	rm -f "/var/mail/$U" "/var/mail/$U.lock"
	popa3d_unprepare
	rm -rf "$W"
}
trap cleanup EXIT
command -v tcpserver >/dev/null || DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq ucspi-tcp >/dev/null 2>&1 ||
    { echo "no tcpserver (ucspi-tcp)"; exit 1; }
popa3d_fetch || exit 1
popa3d_prepare
bench_build_tools || exit 1
bench_users
bench_hash
getent passwd "$U" >/dev/null || useradd -M -s /bin/sh "$U"
# The same {SHA512-CRYPT} hash Satchel checks.
usermod -p "$BENCH_HASH" "$U"
"$BIN/mkmail" mbox "/var/mail/$U" -n "$MSGS" -s "$SIZE" -S 2 || exit 1
chown "$U:mail" "/var/mail/$U"
chmod 660 "/var/mail/$U"
mkdir -p "$W/empty" "$W/mail/$BENCH_DOMAIN"
"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/dl" -n "$MSGS" -s "$SIZE" \
    -S 2 || exit 1
chown -R vmail:vmail "$W/mail"
bench_pwline "dl@$BENCH_DOMAIN" "$W/mail/$BENCH_DOMAIN/dl" >"$W/users"
chmod 640 "$W/users"
port=$(free_port)
pport=$(free_port)
satchel_conf "$W/satchel.conf" "$port"
satchel_start satchel "$W/satchel.conf" "$port" || exit 1
SPID=$PID_satchel
popa3d_tcpserver "$pport" || exit 1
one() {	# port user password [-Q]: MB/s of one RETR-everything stream
	timeout 300 "$BIN/popload" -P "$3" -s download ${4:-} -p "$1" -c 1 \
	    -t 120 -u "$2" 2>&1 | sed -nE 's/^result .* mbps=([^ ]*).*/\1/p'
}
sq= pq= sd= pd=
for i in $(seq "$RUNS"); do
	a=$(one "$port" "dl@$BENCH_DOMAIN" "$BENCH_USER_PW" -Q)
	b=$(one "$pport" "$U" "$BENCH_USER_PW" -Q)
	c=$(one "$port" "dl@$BENCH_DOMAIN" "$BENCH_USER_PW")
	d=$(one "$pport" "$U" "$BENCH_USER_PW")
	echo "run $i: quick ACKs: satchel $a MB/s, popa3d $b MB/s;" \
	    "delayed ACKs: satchel $c MB/s, popa3d $d MB/s"
	sq="$sq $a" pq="$pq $b" sd="$sd $c" pd="$pd $d"
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo "median, quick ACKs (streaming): satchel $(med "$sq") MB/s, popa3d $(med "$pq") MB/s, ratio $(r "$(med "$sq")" "$(med "$pq")")"
echo "median, delayed ACKs: satchel $(med "$sd") MB/s, popa3d $(med "$pd") MB/s, ratio $(r "$(med "$sd")" "$(med "$pd")")"
