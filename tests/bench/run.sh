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
# Servers: satchel (the default config), satchel_tuned (the default
# config plus tests/bench/tuned.conf), dovecot (Debian's default),
# dovecot_tuned (Dovecot's real high-performance mode: pop3-login
# service_count = 0 and pop3 service_count = 100, both with
# process_min_avail), popa3d (Debian's 1.0.3, the way its users run it:
# under ucspi-tcp's tcpserver as inetd would, PAM against /etc/shadow,
# mboxes in /var/mail; no TLS).  popa3d conflicts with dovecot-pop3d as
# a package, so its .deb is fetched with apt-get download and unpacked
# into the work directory; its PAM file, its chroot and its users exist
# only for the run.
#
# Every server's process tree is charged for the CPU it used (utime +
# stime of every process, including reaped children) over each scenario:
# ms per session for logins, ms per MiB for RETR.  At the end the raw
# results go to tests/bench/charts/results.txt, tests/bench/charts.sh
# turns them into SVG charts there (gnuplot), and the tables are printed.
#
# Environment knobs (defaults in brackets):
#   RUNS [5]          alternating runs per scenario
#   LOGIN_SECS [4]    length of one login-storm run
#   CONCS ["1 16 64"] login-storm concurrencies
#   IDLE [1000]       idle logged-in sessions for the memory scenario
#   IDLE_RUNS [3]     runs of the memory scenario
#   BIG [100000]      messages in the big Maildir (0 skips it)
#   DL_MSGS [64]      messages in each download mailbox
#   DL_SIZE [1m-4m]   their sizes (the issue-16 harness: 1-4 MiB)
#   DL_STREAMS [4]    parallel RETR streams for the "download-4" row
#   DL_REPS [3]       downloads per server and row in each run (each one
#                     a line of the results; the tables take the median
#                     of all): one download lasts a fraction of a second,
#                     and where the scheduler puts client and server
#                     moves one figure by up to 2x on this 2-CPU guest
#   TLS [auto]        auto: TLS rows when the server has a TLS listener
#   SERVERS           subset of "satchel satchel_tuned dovecot
#                     dovecot_tuned popa3d"
#   CHARTS [$BENCH_DIR/charts]  where results.txt and the SVGs go
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
DL_MSGS=${DL_MSGS:-64}
DL_SIZE=${DL_SIZE:-1m-4m}
DL_STREAMS=${DL_STREAMS:-4}
DL_REPS=${DL_REPS:-3}
TLS=${TLS:-auto}
IDLE_RUNS=${IDLE_RUNS:-3}
SERVERS=${SERVERS:-"satchel satchel_tuned dovecot dovecot_tuned popa3d"}
CHARTS=${CHARTS:-$BENCH_DIR/charts}
NUSERS=$((IDLE > 64 ? IDLE : 64))
MAXC=1
for c in $CONCS; do [ "$c" -gt "$MAXC" ] && MAXC=$c; done
POP_USERS=$MAXC		# popa3d: system users bpop0.. with mboxes

W=$(mktemp -d /tmp/bench-run.XXXXXX)
chmod 755 "$W"
BIN=$W/bin
R=$W/results		# one line per measurement: server scenario value...
. "$BENCH_DIR/lib.sh"
declare -A PORT PORT_TLS PID
ulimit -n 65536 2>/dev/null || ulimit -n 16384

cleanup() {
	local s
	for s in $SERVERS; do
		[ -n "${PID[$s]:-}" ] && stop_pid "${PID[$s]}" 15
	done
	popa3d_cleanup
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
	command -v gnuplot >/dev/null || apt_install gnuplot-nox ||
	    log "no gnuplot: no charts"
	case " $SERVERS " in *" popa3d "*)
		command -v tcpserver >/dev/null || apt_install ucspi-tcp ||
		    { log "apt-get install ucspi-tcp failed"; exit 1; }
		popa3d_fetch || exit 1 ;;
	esac
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
	log "mailboxes: download, $DL_STREAMS x $DL_MSGS messages of $DL_SIZE"
	"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/dl0" -n "$DL_MSGS" \
	    -s "$DL_SIZE" -S 2 || exit 1
	for i in $(seq 1 $((DL_STREAMS - 1))); do
		cp -al "$W/mail/$BENCH_DOMAIN/dl0" "$W/mail/$BENCH_DOMAIN/dl$i"
	done
	# The same messages stored as wire bytes (CRLF, no leading dots):
	# Satchel's zero-copy path.
	"$BIN/mkmail" maildir "$W/mail/$BENCH_DOMAIN/dlw0" -n "$DL_MSGS" \
	    -s "$DL_SIZE" -S 2 -C || exit 1
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
		for i in $(seq 0 $((DL_STREAMS - 1))); do
			bench_pwline "dl$i@$BENCH_DOMAIN" \
			    "$W/mail/$BENCH_DOMAIN/dl$i"
		done
		bench_pwline "dlw0@$BENCH_DOMAIN" "$W/mail/$BENCH_DOMAIN/dlw0"
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
	case " $SERVERS " in *" popa3d "*) popa3d_users ;; esac
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
  # High-performance mode (Dovecot's "Login processes" documentation):
  # login processes serve many clients each and are pre-started...
  service_count = 0
  process_min_avail = $(nproc)
  vsz_limit = 1G
}
service pop3 {
  # ...and pop3 processes are reused for 100 sessions (of users sharing
  # one uid, as all of these do), enough of them pre-started for the
  # largest client count.
  service_count = 100
  process_min_avail = $MAXC
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

satchel_setup() {	# name tuned(0|1)
	local name=$1 tlsline=
	mkdir -p "$W/$name"
	# tuned.conf's top-level lines go in as they are (SATCHEL_EXTRA).
	SATCHEL_EXTRA=
	[ "$2" = 1 ] && SATCHEL_EXTRA=$BENCH_DIR/tuned.conf
	satchel_conf "$W/$name/satchel.conf" "${PORT[$name]}" \
	    workers_max=$((IDLE + 200))
	SATCHEL_EXTRA=
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
	popa3d) popa3d_start ;;
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
		satchel) satchel_setup satchel 0 ;;
		satchel_tuned) satchel_setup satchel_tuned 1 ;;
		popa3d) PORT_TLS[$s]= ;;
		*) log "unknown server $s"; exit 1 ;;
		esac
		server_start "$s" || exit 1
		log "$s: pid ${PID[$s]} port ${PORT[$s]} tls ${PORT_TLS[$s]:-none}"
	done
}

# ---- popa3d, the Debian way ------------------------------------------

popa3d_users() {	# system users bpop0.. and bpopdl0.., mboxes in /var/mail
	local i
	popa3d_prepare
	log "popa3d: $POP_USERS + $DL_STREAMS system users, mboxes in /var/mail"
	"$BIN/mkmail" mbox "$W/pop-login.mbox" -n 10 -s 1k-32k -S 1 || exit 1
	"$BIN/mkmail" mbox "$W/pop-dl.mbox" -n "$DL_MSGS" -s "$DL_SIZE" -S 2 ||
	    exit 1
	for i in $(seq 0 $((POP_USERS - 1))) $(seq 0 $((DL_STREAMS - 1)) |
	    sed 's/^/dl/'); do
		getent passwd "bpop$i" >/dev/null ||
		    useradd -M -d /nonexistent -s /usr/sbin/nologin "bpop$i"
		# The same {SHA512-CRYPT} hash the other servers check.
		usermod -p "$BENCH_HASH" "bpop$i"
		case $i in
		dl*) cp "$W/pop-dl.mbox" "/var/mail/bpop$i" ;;
		*) cp "$W/pop-login.mbox" "/var/mail/bpop$i" ;;
		esac
		chown "bpop$i:mail" "/var/mail/bpop$i"
		chmod 660 "/var/mail/bpop$i"
	done
}

popa3d_cleanup() {
	local u
	case " $SERVERS " in *" popa3d "*) ;; *) return 0 ;; esac
	for u in $(getent passwd | cut -d: -f1 | grep -E '^bpop(dl)?[0-9]+$'); do
		userdel "$u" 2>/dev/null
		rm -f "/var/mail/$u" "/var/mail/$u.lock"
	done
	popa3d_unprepare
}

popa3d_start() {	# under tcpserver, one popa3d per connection
	local r=0
	popa3d_tcpserver "${PORT[popa3d]}" $((IDLE + 200)) || r=1
	PID[popa3d]=$POP_PID	# stopped at the end even if it failed
	return $r
}

# ---- CPU of a server ---------------------------------------------------

cpu_ms() {	# pid: ms of CPU used by the pid's tree, reaped children too
	local hz
	hz=$(getconf CLK_TCK)
	proc_tree "$1" | sed 's|.*|/proc/&/stat|' | xargs cat 2>/dev/null |
	    awk -v hz="$hz" '{
		line = $0; sub(/^[0-9]+ \(.*\) /, "", line)
		split(line, f, " ")
		# utime stime cutime cstime: fields 14-17 of stat
		t += f[12] + f[13] + f[14] + f[15]
	    } END { printf "%.0f", t * 1000 / hz }'
}

# ---- scenarios -------------------------------------------------------

pl() {	# popload with the bench user and password; bounded by timeout
	local secs=$1
	shift
	timeout "$secs" "$BIN/popload" -P "$BENCH_USER_PW" "$@"
}

uformat() {	# server kind(login|dl|dlw): popload's -u for it
	case $1:$2 in
	popa3d:login) echo "bpop%d" ;;
	popa3d:dl) echo "bpopdl%d" ;;
	*:login) echo "user%d@$BENCH_DOMAIN" ;;
	*:dl) echo "dl%d@$BENCH_DOMAIN" ;;
	*:dlw) echo "dlw%d@$BENCH_DOMAIN" ;;
	esac
}

scen_login() {	# server conc tls
	local s=$1 c=$2 t=$3 port out args= c0 c1
	port=${PORT[$s]}
	if [ "$t" = 1 ]; then
		port=${PORT_TLS[$s]}
		[ -n "$port" ] || return 0
		args=-T
	fi
	c0=$(cpu_ms "${PID[$s]}")
	out=$(pl $((LOGIN_SECS + 40)) -s login $args -p "$port" -c "$c" \
	    -d "$LOGIN_SECS" -t 30 -u "$(uformat "$s" login)" 2>&1)
	sleep 0.3	# let the last sessions' processes end and be reaped
	c1=$(cpu_ms "${PID[$s]}")
	echo "$s login$([ "$t" = 1 ] && echo -tls)-c$c $(field rate "$out") \
	    $(field p50_ms "$out") $(field p99_ms "$out") \
	    err=$(field err "$out") ok=$(field ok "$out") \
	    cpu_ms=$((c1 - c0))" >>"$R"
	grep -q 'first error' <<<"$out" && log "$s: $(grep 'first error' <<<"$out")"
}

# settle: wait (at most 10 s) until the CPUs are 90 % idle over 0.3 s, so
# that a download does not share the machine with what the scenario
# before it left running (popa3d's last logins of a storm, a server's
# exits).
settle() {
	local i a b
	for i in $(seq 1 30); do
		a=$(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8, $5 }' /proc/stat)
		sleep 0.3
		b=$(awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8, $5 }' /proc/stat)
		awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
		    t = y[1] - x[1]; exit !(t > 0 && (y[2] - x[2]) / t >= 0.9) }' &&
		    return 0
	done
	log "settle: the machine stayed busy"
}

scen_download() {	# server tls streams [kind]
	local s=$1 t=$2 n=$3 kind=${4:-dl} port out args= c0 c1 name rep
	port=${PORT[$s]}
	if [ "$t" = 1 ]; then
		port=${PORT_TLS[$s]}
		[ -n "$port" ] || return 0
		args=-T
	fi
	[ "$kind" = dlw ] && [ "$s" = popa3d ] && return 0
	name=download$([ "$kind" = dlw ] && echo -wire)$([ "$t" = 1 ] &&
	    echo -tls)$([ "$n" -gt 1 ] && echo "-$n")
	settle
	for rep in $(seq 1 "$DL_REPS"); do
		c0=$(cpu_ms "${PID[$s]}")
		# -Q: the client ACKs at once, so a server's small last
		# write does not wait for a delayed ACK (RESULTS.md,
		# "popa3d").
		out=$(pl 180 -s download -Q $args -p "$port" -c "$n" -U "$n" \
		    -t 120 -u "$(uformat "$s" "$kind")" 2>&1)
		sleep 0.3
		c1=$(cpu_ms "${PID[$s]}")
		echo "$s $name $(field mbps "$out") \
		    err=$(field err "$out") bytes=$(field bytes "$out") \
		    cpu_ms=$((c1 - c0))" >>"$R"
		grep -q 'first error' <<<"$out" &&
		    log "$s: $(grep 'first error' <<<"$out")"
	done
}

scen_idle() {	# server: PSS of all server processes with IDLE sessions
	local s=$1 base pss procs procs0 i fifo pid ok=0 ready
	procs0=$(nprocs "${PID[$s]}")
	base=$(pss_kib "${PID[$s]}")
	fifo=$W/idle-$s.out
	# Logins at a few per second on a loaded box take minutes: long,
	# but bounded, timeouts.  timeout itself in the background (not the
	# pl function, whose subshell a TERM would kill, leaving popload
	# holding its sessions -- and their mailbox locks -- for the next
	# server of the same users: the tuned column's logins all failed).
	timeout $((IDLE / 2 + 600)) "$BIN/popload" -P "$BENCH_USER_PW" \
	    -s idle -p "${PORT[$s]}" -c "$IDLE" -d 600 -H 180 -t 300 \
	    -u "user%d@$BENCH_DOMAIN" >"$fifo" 2>&1 &
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
	# Two figures: the whole tree's PSS over the sessions (what issue 10
	# compares), and the growth over the idle server (the marginal cost
	# of one more session, without the spare pool a tuned server keeps).
	echo "$s idle-kib-per-session $(awk -v p="$pss" -v n="${ready:-0}" \
	    'BEGIN { if (n > 0) printf "%.0f", p / n; else print "nan" }') \
	    total_kib=$pss base_kib=$base sessions=${ready:-0} procs=$procs" >>"$R"
	echo "$s idle-kib-marginal $(awk -v p="$pss" -v b="$base" \
	    -v n="${ready:-0}" 'BEGIN { if (n > 0) printf "%.0f", (p - b) / n;
	    else print "nan" }')" >>"$R"
	# Wait until the sessions have ended (Satchel's agents hold the
	# mailbox locks until then), so the next server finds them free:
	# until the tree is back to its size, or has stopped shrinking (a
	# server that reuses its workers keeps them), at most 30 s.
	local last=-1 same=0 n
	for i in $(seq 1 300); do
		n=$(nprocs "${PID[$s]}")
		[ "$n" -le $((procs0 + 4)) ] && break
		if [ "$n" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 20 ] && break
		else
			same=0
		fi
		last=$n
		sleep 0.1
	done
	# A Satchel says itself when its last session is gone (satchelctl
	# who): a reused worker or agent keeps the tree's size, and a
	# session still closing would hold its lock against the next
	# server's logins of the same users (they would all be [IN-USE]).
	case $s in satchel*)
		for i in $(seq 1 300); do
			"$BUILDDIR/satchelctl" -c "$W/$s/satchel.conf" who \
			    2>/dev/null | grep -q "@$BENCH_DOMAIN" || break
			sleep 0.1
		done ;;
	esac
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

report() {	# the tables, from the raw results
	python3 "$BENCH_DIR/report.py" "$R" "$SERVERS"
}

main() {
	local run s c t tlsmodes="0" start
	start=$(date +%s)
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
			for s in $SERVERS; do
				scen_download "$s" "$t" 1
				[ "$t" = 0 ] && scen_download "$s" 0 "$DL_STREAMS"
				scen_download "$s" "$t" 1 dlw
			done
		done
		if [ "$BIG" -gt 0 ]; then
			for s in $SERVERS; do
				[ "$s" = popa3d ] || scen_big "$s"
			done
		fi
	done
	# Memory: fewer runs (each logs in IDLE users).  popa3d is left out:
	# it would need IDLE system users.
	for run in $(seq 1 "$IDLE_RUNS"); do
		for s in $SERVERS; do
			[ "$s" = popa3d ] || scen_idle "$s"
		done
	done
	echo "openssl aes-128-gcm $(openssl speed -evp aes-128-gcm -seconds 2 \
	    -bytes 16384 2>/dev/null | awk '/^AES-128-GCM|^aes-128-gcm/ {
	    v = $NF; sub(/k$/, "", v); printf "%.0f", v * 1000 / 1e6 }')" >>"$R"
	{
		echo "# machine: $(nproc) CPUs, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), ULPs: $(cat /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null)"
		echo "# command: RUNS=$RUNS IDLE_RUNS=$IDLE_RUNS LOGIN_SECS=$LOGIN_SECS CONCS=\"$CONCS\" IDLE=$IDLE BIG=$BIG DL_MSGS=$DL_MSGS DL_SIZE=$DL_SIZE DL_STREAMS=$DL_STREAMS DL_REPS=$DL_REPS SERVERS=\"$SERVERS\" tests/bench/run.sh $BUILDDIR"
		echo "# took $(( $(date +%s) - start )) s, ended $(date -u '+%F %T') UTC"
	} >>"$R"
	echo
	grep '^# ' "$R"
	echo
	report
	mkdir -p "$CHARTS"
	cp "$R" "$CHARTS/results.txt"
	if command -v gnuplot >/dev/null; then
		"$BENCH_DIR/charts.sh" "$CHARTS/results.txt" "$CHARTS" &&
		    log "charts in $CHARTS"
	fi
	cp "$R" "${RESULTS_COPY:-/dev/null}" 2>/dev/null
}

main
