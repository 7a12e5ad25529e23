#!/bin/bash
# tests/bench/run.sh -- Satchel side by side with Dovecot, one command.
#
#   tests/bench/run.sh [BUILDDIR]        (run as root on Debian 12)
#
# Installs dovecot-pop3d (apt-get), builds the bench tools (gcc -O2),
# generates the same Maildirs for both servers, writes one passwd-file
# ({SHA512-CRYPT}, read by both), configures Dovecot in a temporary
# directory with its own config (-c) on its own loopback ports, in its
# default and performance-tuned settings, starts Satchel (BUILDDIR/satcheld,
# default the top of this tree) in a default, a tuned and a worker-reuse
# setting, runs every scenario on every server in alternation RUNS times,
# and prints a table of medians with the ratio to Dovecot's better setting.
#
# Environment knobs (defaults in brackets):
#   RUNS [5]          alternating runs per scenario
#   LOGIN_SECS [4]    length of one login-storm run
#   CONCS ["1 16 64"] login-storm concurrencies
#   IDLE [1000]       idle logged-in sessions for the memory scenario
#   IDLE_RUNS [3]     runs of the memory scenario
#   BIG [100000]      messages in the big Maildir (0 skips it)
#   DL_MSGS [60]      messages (1-10 MiB) in the download mailbox
#   TLS [auto]        auto: TLS rows when the server has a TLS listener
#   SERVERS           subset of "satchel satchel_tuned satchel_reuse
#                     dovecot dovecot_tuned"
#   KEEP=1            keep the temporary directory
# Every loop is bounded in count and time; every server is stopped by pid.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=$(cd "${1:-${BUILDDIR:-$BENCH_DIR/../..}}" && pwd)
RUNS=${RUNS:-5}
LOGIN_SECS=${LOGIN_SECS:-4}
CONCS=${CONCS:-"1 16 64"}
IDLE=${IDLE:-1000}
BIG=${BIG:-100000}
DL_MSGS=${DL_MSGS:-60}
TLS=${TLS:-auto}
IDLE_RUNS=${IDLE_RUNS:-3}
SERVERS=${SERVERS:-"satchel satchel_tuned satchel_reuse dovecot dovecot_tuned"}
NUSERS=$((IDLE > 64 ? IDLE : 64))

W=$(mktemp -d /tmp/bench-run.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
R=$W/results		# one line per measurement: server scenario value...
. "$BENCH_DIR/lib.sh"
declare -A PORT PORT_TLS PID
ulimit -n 65536 2>/dev/null || ulimit -n 16384

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
	local s
	for s in $SERVERS; do
		[ -n "${PID[$s]:-}" ] && stop_pid "${PID[$s]}" 15
	done
	if [ "${KEEP:-0}" = 1 ]; then
		log "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

apt_install() {	# retried: other jobs may hold the dpkg lock for a while
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
		    >>"$W/apt.log" 2>&1 && return 0
		grep -q 'Unable to locate' "$W/apt.log" &&
		    DEBIAN_FRONTEND=noninteractive apt-get update -q \
		    >>"$W/apt.log" 2>&1
		sleep 10
	done
	return 1
}

# ---- setup -----------------------------------------------------------

setup_tools() {
	command -v dovecot >/dev/null || apt_install dovecot-pop3d ||
	    { log "apt-get install dovecot-pop3d failed"; exit 1; }
	command -v gcc >/dev/null && [ -f /usr/include/openssl/ssl.h ] ||
	    apt_install gcc libssl-dev
	[ -x "$BUILDDIR/satcheld" ] || { log "no $BUILDDIR/satcheld"; exit 1; }
	bench_build_tools || exit 1
	bench_users
	bench_hash
}

setup_mail() {
	local i
	mkdir -p "$W/empty" "$W/mail" "$W/dl" "$W/big"
	log "mailboxes: $NUSERS users x 10 messages of 1-32 KiB"
	"$BIN/mkmail" users "$W/mail" -U "$NUSERS" -n 10 -s 1k-32k -S 1 ||
	    exit 1
	log "mailboxes: download, $DL_MSGS messages of 1-10 MiB"
	"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/dl" -n "$DL_MSGS" \
	    -s 1m-10m -S 2 || exit 1
	if [ "$BIG" -gt 0 ]; then
		log "mailboxes: big, $BIG messages of 1-8 KiB"
		"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/big" -n "$BIG" \
		    -s 1k-8k -S 3 || exit 1
	fi
	{
		for i in $(seq 0 $((NUSERS - 1))); do
			bench_pwline "user$i@$BENCH_DOMAIN" \
			    "$W/mail/$BENCH_DOMAIN/user$i"
		done
		bench_pwline "dl@$BENCH_DOMAIN" "$W/mail/$BENCH_DOMAIN/dl"
		bench_pwline "big@$BENCH_DOMAIN" "$W/mail/$BENCH_DOMAIN/big"
	} >"$W/users"
	# Satchel's auth pool reads it as root, Dovecot's auth process as
	# the dovecot user.
	chown root:dovecot "$W/users"
	chmod 640 "$W/users"
	chown -R "$VMAIL_UID:$VMAIL_GID" "$W/mail"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj \
	    /CN=bench.example -keyout "$W/key.pem" -out "$W/cert.pem" \
	    >/dev/null 2>&1
	chmod 600 "$W/key.pem"
}

# ---- servers ---------------------------------------------------------

dovecot_conf() {	# name tuned(0|1)
	local d=$W/$1
	mkdir -p "$d/run" "$d/idx"
	chown "$VMAIL_UID:$VMAIL_GID" "$d/idx"
	cat >"$d/dovecot.conf" <<EOF
# written by tests/bench/run.sh ($1)
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$W/cert.pem
ssl_key = <$W/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 100
# Capacity, not tuning: 1,000 idle sessions need that many processes.
default_process_limit = $((IDLE + 200))
default_client_limit = $((IDLE * 4 + 1000))
mail_max_userip_connections = $((IDLE + 100))
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $W/users
}
userdb {
  driver = passwd-file
  args = $W/users
}
# The same Maildirs as Satchel; Dovecot's index and uidlist live here,
# and RETR sets no flags, so both servers see unchanged mailboxes.
mail_location = maildir:~:INDEX=$d/idx/%d/%n:CONTROL=$d/idx/%d/%n
pop3_no_flag_updates = yes
pop3_uidl_format = %f
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${PORT[$1]}
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = ${PORT_TLS[$1]}
    ssl = yes
  }
EOF
	if [ "$2" = 1 ]; then
		cat >>"$d/dovecot.conf" <<EOF
  # Performance mode (doc: "High-performance mode"): login processes
  # serve many clients each and are pre-started.
  service_count = 0
  process_min_avail = $(nproc)
  vsz_limit = 1G
}
service pop3 {
  process_min_avail = $(nproc)
}
EOF
	else
		echo "}" >>"$d/dovecot.conf"
	fi
	cat >>"$d/dovecot.conf" <<EOF
service auth {
  client_limit = $((IDLE * 4 + 1000))
}
service anvil {
  client_limit = $((IDLE * 4 + 1000))
}
EOF
}

dovecot_start() {	# name
	local d=$W/$1
	setsid dovecot -F -c "$d/dovecot.conf" </dev/null >>"$d/stderr.log" 2>&1 &
	PID[$1]=$!
	wait_port "${PORT[$1]}" 20 || { log "$1 did not start:";
	    tail -n 20 "$d/stderr.log" "$d/dovecot.log" >&2; return 1; }
	sleep 1
}

satchel_setup() {	# name key=value...
	local name=$1 tlsline=
	shift
	mkdir -p "$W/$name"
	satchel_conf "$W/$name/satchel.conf" "${PORT[$name]}" \
	    workers_max=$((IDLE + 200)) "$@"
	# TLS when this build has it: listen ... tls plus tls_cert/tls_key.
	if [ "$TLS" != 0 ]; then
		cp "$W/$name/satchel.conf" "$W/$name/tls.conf"
		sed -i "/^listen = /a listen = 127.0.0.1:${PORT_TLS[$name]} tls\ntls_cert = $W/cert.pem\ntls_key = $W/key.pem" \
		    "$W/$name/tls.conf"
		if "$BUILDDIR/satcheld" -t -c "$W/$name/tls.conf" \
		    >"$W/$name/tls-check.log" 2>&1; then
			mv "$W/$name/tls.conf" "$W/$name/satchel.conf"
		else
			PORT_TLS[$name]=
		fi
	fi
}

server_start() {	# name
	case $1 in
	dovecot*) dovecot_start "$1" ;;
	satchel*)
		setsid "$BUILDDIR/satcheld" -F -c "$W/$1/satchel.conf" \
		    </dev/null >>"$W/$1/satcheld.log" 2>&1 &
		PID[$1]=$!
		wait_port "${PORT[$1]}" 15 || { log "$1 did not start:";
		    tail -n 20 "$W/$1/satcheld.log" >&2; return 1; }
		sleep 1 ;;
	esac
}

setup_servers() {
	local s used=" "
	for s in $SERVERS; do
		PORT[$s]=$(free_port)
		PORT_TLS[$s]=$(free_port)
	done
	for s in $SERVERS; do
		case $s in
		dovecot) dovecot_conf dovecot 0 ;;
		dovecot_tuned) dovecot_conf dovecot_tuned 1 ;;
		satchel) satchel_setup satchel ;;
		satchel_tuned) satchel_setup satchel_tuned \
		    workers_min_spare=32 workers_max_spare=128 \
		    auth_processes=4 ;;
		satchel_reuse) satchel_setup satchel_reuse \
		    workers_min_spare=32 workers_max_spare=128 \
		    auth_processes=4 worker_max_sessions=10000 ;;
		*) log "unknown server $s"; exit 1 ;;
		esac
		server_start "$s" || exit 1
		log "$s: pid ${PID[$s]} port ${PORT[$s]} tls ${PORT_TLS[$s]:-none}"
	done
}

# ---- scenarios -------------------------------------------------------

pl() {	# popload with the bench user and password; bounded by timeout
	local secs=$1
	shift
	timeout "$secs" "$BIN/popload" -P "$BENCH_USER_PW" "$@"
}

field() {	# name line: the value of name=... in line
	sed -nE "s/.*[ ]$1=([^ ]*).*/\1/p" <<<"$2" | head -n 1
}

scen_login() {	# server conc tls
	local s=$1 c=$2 t=$3 port out args=
	port=${PORT[$s]}
	if [ "$t" = 1 ]; then
		port=${PORT_TLS[$s]}
		[ -n "$port" ] || return 0
		args=-T
	fi
	out=$(pl $((LOGIN_SECS + 40)) -s login $args -p "$port" -c "$c" \
	    -d "$LOGIN_SECS" -t 30 -u "user%d@$BENCH_DOMAIN" 2>&1)
	echo "$s login$([ "$t" = 1 ] && echo -tls)-c$c $(field rate "$out") \
	    $(field p50_ms "$out") $(field p99_ms "$out") \
	    err=$(field err "$out")" >>"$R"
	grep -q 'first error' <<<"$out" && log "$s: $(grep 'first error' <<<"$out")"
}

scen_download() {	# server tls
	local s=$1 t=$2 port out args=
	port=${PORT[$s]}
	if [ "$t" = 1 ]; then
		port=${PORT_TLS[$s]}
		[ -n "$port" ] || return 0
		args=-T
	fi
	out=$(pl 120 -s download $args -p "$port" -c 1 -t 60 \
	    -u "dl@$BENCH_DOMAIN" 2>&1)
	echo "$s download$([ "$t" = 1 ] && echo -tls) $(field mbps "$out") \
	    err=$(field err "$out") bytes=$(field bytes "$out")" >>"$R"
	grep -q 'first error' <<<"$out" && log "$s: $(grep 'first error' <<<"$out")"
}

scen_idle() {	# server: PSS of all server processes with IDLE sessions
	local s=$1 base pss procs procs0 i fifo pid ok=0 ready
	procs0=$(nprocs "${PID[$s]}")
	base=$(pss_kib "${PID[$s]}")
	fifo=$W/idle.out
	: >"$fifo"
	# Logins at a few per second on a loaded box take minutes: long,
	# but bounded, timeouts.
	pl $((IDLE / 2 + 600)) -s idle -p "${PORT[$s]}" -c "$IDLE" -d 600 \
	    -H 180 -t 300 -u "user%d@$BENCH_DOMAIN" >"$fifo" 2>&1 &
	pid=$!
	for i in $(seq 1 4000); do	# up to 400 s to log everyone in
		grep -q '^idle: ready' "$fifo" && { ok=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sleep 2
	procs=$(nprocs "${PID[$s]}")
	pss=$(pss_kib "${PID[$s]}")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	ready=$(sed -nE 's/^idle: ready ([0-9]+).*/\1/p' "$fifo")
	[ "$ok" = 1 ] || { log "$s idle: not ready: $(tail -n 2 "$fifo")"; ready=0; }
	echo "$s idle-kib-per-session $(awk -v p="$pss" -v n="${ready:-0}" \
	    'BEGIN { if (n > 0) printf "%.0f", p / n; else print "nan" }') \
	    total_kib=$pss base_kib=$base sessions=${ready:-0} procs=$procs" >>"$R"
	# Wait until the sessions have ended (Satchel's agents hold the
	# mailbox locks until then), so the next server finds them free.
	for i in $(seq 1 1200); do	# up to 120 s
		[ "$(nprocs "${PID[$s]}")" -le $((procs0 + 4)) ] && break
		sleep 0.1
	done
}

scen_big() {	# server: first and second login+STAT+UIDL on BIG messages
	local s=$1 out1 out2
	# "First" means no server-side state from earlier runs: drop
	# Dovecot's index and uidlist for the mailbox.  The page cache is
	# warm for both servers (the Maildir was just read or written).
	case $s in dovecot*) rm -rf "$W/$s/idx/$BENCH_DOMAIN/big" ;; esac
	out1=$(pl 300 -s login -n 1 -c 1 -p "${PORT[$s]}" -d 200 -t 200 \
	    -u "big@$BENCH_DOMAIN" 2>&1)
	out2=$(pl 300 -s login -n 1 -c 1 -p "${PORT[$s]}" -d 200 -t 200 \
	    -u "big@$BENCH_DOMAIN" 2>&1)
	echo "$s big-first-ms $(field p50_ms "$out1") err=$(field err "$out1")" >>"$R"
	echo "$s big-second-ms $(field p50_ms "$out2") err=$(field err "$out2")" >>"$R"
}

scen_ceiling() {
	local out
	out=$("$BIN/tcpceil" -d 3)
	echo "loopback tcp-ceiling $(field mbps "$out")" >>"$R"
}

# ---- the run ---------------------------------------------------------

report() {
	python3 - "$R" "$SERVERS" <<'EOF'
import sys, statistics
path, servers = sys.argv[1], sys.argv[2].split()
data = {}
order = []
for line in open(path):
    f = line.split()
    if len(f) < 3:
        continue
    s, sc = f[0], f[1]
    try:
        v = float(f[2])
    except ValueError:
        continue
    if sc not in order:
        order.append(sc)
    data.setdefault((s, sc), []).append(v)
units = {"login": "sessions/s", "download": "MB/s", "idle": "KiB/sess",
         "big": "ms", "tcp": "MB/s"}
lower_better = ("idle", "big")
def med(s, sc):
    v = data.get((s, sc))
    return statistics.median(v) if v else None
cols = [s for s in servers]
print("| scenario | unit | " + " | ".join(cols) +
      " | best Satchel / best Dovecot | Satchel without worker reuse / best Dovecot |")
print("|---|---|" + "---|" * len(cols) + "---|---|")
for sc in order:
    if sc == "tcp-ceiling":
        continue
    unit = next((u for k, u in units.items() if sc.startswith(k)), "")
    row = []
    for s in cols:
        m = med(s, sc)
        row.append("-" if m is None else ("%.1f" % m if m < 100 else "%.0f" % m))
    sat = [med(s, sc) for s in cols if s.startswith("satchel") and med(s, sc)]
    dov = [med(s, sc) for s in cols if s.startswith("dovecot") and med(s, sc)]
    ratio = "-"
    if sat and dov:
        if sc.startswith(lower_better):
            ratio = "%.2f" % (min(dov) / min(sat))
        else:
            ratio = "%.2f" % (max(sat) / max(dov))
    safe = [med(s, sc) for s in cols if s.startswith("satchel") and
            s != "satchel_reuse" and med(s, sc)]
    sratio = "-"
    if safe and dov:
        if sc.startswith(lower_better):
            sratio = "%.2f" % (min(dov) / min(safe))
        else:
            sratio = "%.2f" % (max(safe) / max(dov))
    print("| %s | %s | %s | %s | %s |" % (sc, unit, " | ".join(row), ratio,
                                        sratio))
    # latency columns for login rows
    if sc.startswith("login"):
        pass
c = data.get(("loopback", "tcp-ceiling"))
if c:
    print("\nloopback TCP ceiling (tcpceil, one stream): %.0f MB/s (median of %d)"
          % (statistics.median(c), len(c)))
print("\nlogin latency p50/p99 ms (medians):")
for sc in order:
    if not sc.startswith("login"):
        continue
    parts = []
    for s in cols:
        p50 = [float(l.split()[3]) for l in open(path)
               if l.split()[:2] == [s, sc] and len(l.split()) > 4]
        p99 = [float(l.split()[4]) for l in open(path)
               if l.split()[:2] == [s, sc] and len(l.split()) > 4]
        if p50:
            parts.append("%s %.1f/%.1f" % (s, statistics.median(p50),
                                            statistics.median(p99)))
    print("  %s: %s" % (sc, ", ".join(parts)))
print("\nratio: higher is better for Satchel (for KiB/session and ms it is "
      "Dovecot/Satchel).")
EOF
}

main() {
	local run s c t tlsmodes="0"
	log "workdir $W, builddir $BUILDDIR"
	setup_tools
	setup_mail
	setup_servers
	[ "$TLS" != 0 ] && tlsmodes="0 1"
	for run in $(seq 1 "$RUNS"); do
		log "run $run/$RUNS"
		scen_ceiling
		for t in $tlsmodes; do
			for c in $CONCS; do
				for s in $SERVERS; do scen_login "$s" "$c" "$t"; done
			done
			for s in $SERVERS; do scen_download "$s" "$t"; done
		done
		if [ "$BIG" -gt 0 ]; then
			for s in $SERVERS; do scen_big "$s"; done
		fi
	done
	# Memory: fewer runs (each logs in IDLE users).
	for run in $(seq 1 "$IDLE_RUNS"); do
		for s in $SERVERS; do scen_idle "$s"; done
	done
	echo
	echo "machine: $(nproc) CPUs, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "command: tests/bench/run.sh $BUILDDIR (RUNS=$RUNS IDLE_RUNS=$IDLE_RUNS LOGIN_SECS=$LOGIN_SECS CONCS=\"$CONCS\" IDLE=$IDLE BIG=$BIG DL_MSGS=$DL_MSGS)"
	echo
	report
	cp "$R" "${RESULTS_COPY:-/dev/null}" 2>/dev/null
}

main
