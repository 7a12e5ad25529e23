#!/bin/bash
# tests/bench/idle5k.sh -- many logged-in idle sessions while new logins
# go on (issue 12): memory per idle session, and login rate and latency
# with those sessions open.  Satchel only.  Run as root on Debian 12:
#
#   tests/bench/idle5k.sh [BUILDDIR]
#
# Knobs (defaults in brackets):
#   IDLE [5000]      idle logged-in sessions (each is a worker and an agent)
#   LOGIN_SECS [10]  length of the login storm run during the idle phase
#   LOGIN_CONC [8]   concurrency of that storm
#   HOLD [900]       seconds popload may hold the idle sessions, at most
# Prints "idle5k ..." result lines.  Every wait is bounded (the whole run
# by about IDLE/4 + HOLD seconds); the server is stopped by its pid.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=$(cd "${1:-${BUILDDIR:-$BENCH_DIR/../..}}" && pwd)
IDLE=${IDLE:-5000}
LOGIN_SECS=${LOGIN_SECS:-10}
LOGIN_CONC=${LOGIN_CONC:-8}
HOLD=${HOLD:-900}
NLOGIN=$((LOGIN_CONC * 4))	# mailboxes for the storm, not the idle ones
W=$(mktemp -d /tmp/bench-idle5k.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
. "$BENCH_DIR/lib.sh"
PID_satchel=
IDLE_PID=
ulimit -n 65536 2>/dev/null || ulimit -n 16384

finish() {
	[ -n "$IDLE_PID" ] && kill -TERM "$IDLE_PID" 2>/dev/null
	[ -n "$IDLE_PID" ] && wait "$IDLE_PID" 2>/dev/null
	stop_pid "$PID_satchel" 20
	[ "${KEEP:-0}" = 1 ] && log "kept $W" || rm -rf "$W"
}
trap finish EXIT
trap 'exit 1' INT TERM

main() {
	local port i out base pss procs ready t0 t1
	bench_prepare || return 1

	log "mailboxes: $IDLE idle + $NLOGIN login users, 2 messages each"
	mkdir -p "$W/empty" "$W/mail"
	"$BIN/mkmail" users "$W/mail" -U $((IDLE + NLOGIN)) -n 2 -s 1k-4k \
	    -S 1 || return 1
	for i in $(seq 0 $((IDLE + NLOGIN - 1))); do
		bench_pwline "user$i@$BENCH_DOMAIN" \
		    "$W/mail/$BENCH_DOMAIN/user$i"
	done >"$W/users"
	chmod 640 "$W/users"
	chown -R "$VMAIL_UID:$VMAIL_GID" "$W/mail"

	port=$(free_port) || return 1
	# Capacity for the idle sessions plus the storm; the per-address
	# limit is off (lib.sh) since every client is 127.0.0.1.
	satchel_conf "$W/satchel.conf" "$port" \
	    workers_max=$((IDLE + LOGIN_CONC * 4 + 100)) \
	    workers_min_spare=32 workers_max_spare=128 auth_processes=4 \
	    max_preauth_connections=$((IDLE + 200)) login_fail_delay_ms=100
	satchel_start satchel "$W/satchel.conf" "$port" || return 1
	base=$(pss_kib "$PID_satchel")
	log "satcheld pid $PID_satchel port $port, base PSS $base KiB"

	# A storm before the idle sessions, as the reference.
	out=$(timeout $((LOGIN_SECS + 60)) "$BIN/popload" -s login -p "$port" \
	    -c "$LOGIN_CONC" -d "$LOGIN_SECS" -t 30 -B "$IDLE" -U "$NLOGIN" \
	    -u "user%d@$BENCH_DOMAIN" -P "$BENCH_USER_PW" 2>&1)
	echo "idle5k login-before conc=$LOGIN_CONC rate=$(field rate "$out")" \
	    "p50_ms=$(field p50_ms "$out") p99_ms=$(field p99_ms "$out")" \
	    "ok=$(field ok "$out") err=$(field err "$out")"

	log "opening $IDLE idle sessions"
	t0=$(date +%s)
	timeout $((HOLD + IDLE / 4 + 120)) "$BIN/popload" -s idle -p "$port" \
	    -c "$IDLE" -U "$IDLE" -H "$HOLD" -t 300 \
	    -u "user%d@$BENCH_DOMAIN" -P "$BENCH_USER_PW" >"$W/idle.out" 2>&1 &
	IDLE_PID=$!
	for i in $(seq 1 $((IDLE * 2 + 3000))); do	# <= IDLE/5 + 300 s
		grep -q '^idle: ready' "$W/idle.out" && break
		kill -0 "$IDLE_PID" 2>/dev/null || break
		sleep 0.1
	done
	t1=$(date +%s)
	ready=$(sed -nE 's/^idle: ready ([0-9]+).*/\1/p' "$W/idle.out")
	[ -n "$ready" ] || { log "idle sessions not ready:";
	    tail -n 5 "$W/idle.out" >&2; tail -n 20 "$W/satchel.log" >&2;
	    return 1; }
	sleep 2
	procs=$(nprocs "$PID_satchel")
	pss=$(pss_kib "$PID_satchel")
	echo "idle5k idle sessions=$ready of=$IDLE open_secs=$((t1 - t0))" \
	    "procs=$procs pss_kib=$pss base_kib=$base" \
	    "pss_kib_per_session=$(awk -v p="$pss" -v b="$base" -v n="$ready" \
	    'BEGIN { printf "%.0f", (p - b) / n }')"

	# New logins while the idle sessions stay open.
	out=$(timeout $((LOGIN_SECS + 60)) "$BIN/popload" -s login -p "$port" \
	    -c "$LOGIN_CONC" -d "$LOGIN_SECS" -t 30 -B "$IDLE" -U "$NLOGIN" \
	    -u "user%d@$BENCH_DOMAIN" -P "$BENCH_USER_PW" 2>&1)
	echo "idle5k login-during conc=$LOGIN_CONC rate=$(field rate "$out")" \
	    "p50_ms=$(field p50_ms "$out") p99_ms=$(field p99_ms "$out")" \
	    "ok=$(field ok "$out") err=$(field err "$out")"
	grep -q 'first error' <<<"$out" && log "$(grep 'first error' <<<"$out")"
	# The idle sessions are still there.
	kill -0 "$IDLE_PID" 2>/dev/null || { log "popload idle died early";
	    return 1; }
	echo "idle5k still-open procs=$(nprocs "$PID_satchel")"
	kill -TERM "$IDLE_PID" 2>/dev/null
	wait "$IDLE_PID" 2>/dev/null
	IDLE_PID=
	grep -E '^result' "$W/idle.out" | sed 's/^/idle5k idle-/'
	return 0
}

main
