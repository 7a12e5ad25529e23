#!/bin/bash
# tests/bench/proxytier.sh -- the proxy tier (issue 14 part 2): sessions/s
# and RETR MB/s through a Satchel front in proxy mode, beside the same
# scenarios straight to the backend it routes to.  Satchel only.  Run as
# root on Debian 12:
#
#   tests/bench/proxytier.sh [BUILDDIR]
#
# One backend Satchel (the default config) serves the mailboxes on two
# listeners: a plain one for the direct runs and a `haproxy` one for the
# front.  The front Satchel has the same users in its own passwd-file
# with the extra fields "proxy=y host=127.0.0.1 port=<haproxy listener>",
# so every proxied login checks the password twice (front, backend), as
# a real proxy tier does, and sends a PROXY v2 header.  The runs
# alternate direct / proxy, RUNS times; the medians are printed.
#
# Knobs (defaults in brackets):
#   RUNS [3]          alternating runs per scenario
#   LOGIN_SECS [3]    length of one login run
#   LOGIN_CONC [8]    its concurrency
#   DL_MSGS [8]       messages in the download mailbox
#   DL_SIZE [1m-4m]   their sizes
# Prints "proxytier <target> <scenario> <value> ..." lines, then a table.
# Every wait is bounded; every server is stopped by its pid.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=$(cd "${1:-${BUILDDIR:-$BENCH_DIR/../..}}" && pwd)
RUNS=${RUNS:-3}
LOGIN_SECS=${LOGIN_SECS:-3}
LOGIN_CONC=${LOGIN_CONC:-8}
DL_MSGS=${DL_MSGS:-8}
DL_SIZE=${DL_SIZE:-1m-4m}
NUSERS=$((LOGIN_CONC * 4))
W=$(mktemp -d /tmp/bench-proxytier.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
R=$W/results
. "$BENCH_DIR/lib.sh"
PID_backend=
PID_front=
ulimit -n 65536 2>/dev/null || ulimit -n 16384

finish() {
	stop_pid "$PID_front" 10
	stop_pid "$PID_backend" 10
	[ "${KEEP:-0}" = 1 ] && log "kept $W" || rm -rf "$W"
}
trap finish EXIT
trap 'exit 1' INT TERM

median() {	# target scenario: the median of its values in $R
	awk -v t="$1" -v s="$2" '$2 == t && $3 == s { print $4 }' "$R" |
	    sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

run_login() {	# target port
	local out
	out=$(timeout $((LOGIN_SECS + 40)) "$BIN/popload" -s login -p "$2" \
	    -c "$LOGIN_CONC" -d "$LOGIN_SECS" -t 30 -U "$NUSERS" \
	    -u "user%d@$BENCH_DOMAIN" -P "$BENCH_USER_PW" 2>&1)
	echo "proxytier $1 login-c$LOGIN_CONC $(field rate "$out" | sed "s,/s,,")" \
	    "p50_ms=$(field p50_ms "$out") p99_ms=$(field p99_ms "$out")" \
	    "ok=$(field ok "$out") err=$(field err "$out")" | tee -a "$R"
	grep -q 'first error' <<<"$out" && log "$1: $(grep 'first error' <<<"$out")"
}

run_download() {	# target port
	local out
	out=$(timeout 180 "$BIN/popload" -s download -Q -p "$2" -c 1 -U 1 \
	    -t 120 -u "dl%d@$BENCH_DOMAIN" -P "$BENCH_USER_PW" 2>&1)
	echo "proxytier $1 download $(field mbps "$out")" \
	    "bytes=$(field bytes "$out") err=$(field err "$out")" | tee -a "$R"
	grep -q 'first error' <<<"$out" && log "$1: $(grep 'first error' <<<"$out")"
}

main() {
	local bport hport fport i r t
	bench_prepare || return 1

	log "mailboxes: $NUSERS x 4 messages of 1-16 KiB, dl0: $DL_MSGS x $DL_SIZE"
	mkdir -p "$W/empty" "$W/mail"
	"$BIN/mkmail" users "$W/mail" -U "$NUSERS" -n 4 -s 1k-16k -S 1 ||
	    return 1
	"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/dl0" -n "$DL_MSGS" \
	    -s "$DL_SIZE" -S 2 || return 1
	chown -R "$VMAIL_UID:$VMAIL_GID" "$W/mail"
	bport=$(free_port) || return 1
	hport=$(free_port) || return 1
	fport=$(free_port) || return 1
	{
		for i in $(seq 0 $((NUSERS - 1))); do
			bench_pwline "user$i@$BENCH_DOMAIN" \
			    "$W/mail/$BENCH_DOMAIN/user$i"
		done
		bench_pwline "dl0@$BENCH_DOMAIN" "$W/mail/$BENCH_DOMAIN/dl0"
	} >"$W/users"
	# The front: the same users and hashes, routed to the backend.
	sed -E "s/^([^:]*):([^:]*):.*$/\1:\2::::::proxy=y host=127.0.0.1 port=$hport/" \
	    "$W/users" >"$W/front-users"
	chmod 640 "$W/users" "$W/front-users"

	satchel_conf "$W/backend.conf" "$bport" \
	    "listen=127.0.0.1:$hport haproxy" \
	    haproxy_trusted_networks=127.0.0.1 login_fail_delay_ms=100
	satchel_conf "$W/front.conf" "$fport" login_fail_delay_ms=100
	sed -i "s|^path = $W/users\$|path = $W/front-users|" "$W/front.conf"
	satchel_start backend "$W/backend.conf" "$bport" || return 1
	satchel_start front "$W/front.conf" "$fport" || return 1
	log "backend pid $PID_backend ports $bport (direct) $hport (haproxy);" \
	    "front pid $PID_front port $fport"

	for r in $(seq 1 "$RUNS"); do
		log "run $r of $RUNS"
		for t in direct proxy; do
			if [ "$t" = direct ]; then run_login direct "$bport"
			else run_login proxy "$fport"; fi
		done
		for t in direct proxy; do
			if [ "$t" = direct ]; then run_download direct "$bport"
			else run_download proxy "$fport"; fi
		done
	done
	grep -q "event=proxy .*result=ok" "$W/front.log" 2>/dev/null ||
	    log "note: the front logs at level warning; no proxy lines kept"
	echo
	printf '%-22s %12s %12s %8s\n' scenario direct proxy ratio
	for t in "login-c$LOGIN_CONC" download; do
		local d p
		d=$(median direct "$t")
		p=$(median proxy "$t")
		printf '%-22s %12s %12s %8s\n' "$t" "$d" "$p" \
		    "$(awk -v d="$d" -v p="$p" 'BEGIN { if (d > 0)
		    printf "%.2f", p / d }')"
	done
	echo "(login: sessions/s; download: RETR MB/s of one stream;" \
	    "medians of $RUNS)"
}

main
