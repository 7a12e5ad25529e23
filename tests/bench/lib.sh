# tests/bench/lib.sh -- shell helpers shared by tests/bench/run.sh,
# smoke, idle5k.sh and proxytier.sh.  Sourced, not run.  Needs: BENCH_DIR (this
# directory), W (a private temporary directory), BIN (where the tools are
# built).  Every wait is bounded; every server is stopped by its pid.

BENCH_USER_PW=bench-pw-1
BENCH_DOMAIN=bench.example

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

field() {	# name line: the value of name=... in line
	sed -nE "s/.*[ ]$1=([^ ]*).*/\1/p" <<<"$2" | head -n 1
}

# The start of a Satchel-only bench (idle5k.sh, proxytier.sh): root, a
# built satcheld in BUILDDIR, the tools, the users and the hash.
bench_prepare() {
	[ -x "$BUILDDIR/satcheld" ] || { log "no $BUILDDIR/satcheld"; return 1; }
	[ "$(id -u)" = 0 ] || { log "run as root"; return 1; }
	bench_build_tools || return 1
	bench_users
	bench_hash
}

bench_build_tools() {	# build popload, mkmail, tcpceil into $BIN
	mkdir -p "$BIN"
	make -s -C "$BENCH_DIR" -f bench.mk O="$BIN" CC=gcc CFLAGS="-O2 -g -Wall" >&2
}

bench_users() {	# make sure the worker user and the mail owner exist
	getent passwd satchel >/dev/null || useradd --system \
	    --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin satchel
	getent passwd vmail >/dev/null || useradd --system \
	    --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin vmail
	VMAIL_UID=$(id -u vmail)
	VMAIL_GID=$(id -g vmail)
}

# passwd-file line for one user: both servers read this file.
bench_pwline() {	# name maildir
	echo "$1:{SHA512-CRYPT}$BENCH_HASH:$VMAIL_UID:$VMAIL_GID::$2::"
}

bench_hash() {
	BENCH_HASH=$(printf '%s' "$BENCH_USER_PW" | openssl passwd -6 -stdin)
}

port_open() {	# port: true if something listens on 127.0.0.1:port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {	# a port nobody listens on, from a range by our pid
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM % 20000)))
		port_open "$p" || { echo "$p"; return 0; }
	done
	return 1
}

wait_port() {	# port seconds
	local i
	for i in $(seq 1 $(($2 * 20))); do
		port_open "$1" && return 0
		sleep 0.05
	done
	return 1
}

# Descendants of a pid (itself included), from /proc.
proc_tree() {
	# cat, not awk on the files: a process may vanish between the glob
	# and the read, which is fatal to gawk but only a warning to cat.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
	    {
		pid = $1
		line = $0
		sub(/^[0-9]+ \(.*\) /, "", line)
		split(line, f, " ")
		parent[pid] = f[2]
	    }
	    END {
		keep[root] = 1; changed = 1
		while (changed) {
			changed = 0
			for (p in parent)
				if (!(p in keep) && (parent[p] in keep)) {
					keep[p] = 1; changed = 1
				}
		}
		for (p in keep) print p
	    }'
}

pss_kib() {	# pid: total PSS (KiB) of the pid and its descendants
	# One cat and one awk for all processes: forking per process would
	# take longer than the sessions being measured live.
	local files
	files=$(proc_tree "$1" | sed 's|.*|/proc/&/smaps_rollup|')
	[ -n "$files" ] || { echo 0; return; }
	# shellcheck disable=SC2086
	cat $files 2>/dev/null | awk '/^Pss:/ { s += $2 } END { print s + 0 }'
}

nprocs() { proc_tree "$1" | wc -l; }

stop_pid() {	# pid [seconds]: SIGTERM, wait, then SIGKILL the tree
	local pid=$1 secs=${2:-10} i kids
	[ -n "$pid" ] || return 0
	kids=$(proc_tree "$pid")
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in $kids; do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$pid" 2>/dev/null
	return 0
}

# satchel_conf file port [key=value ...]: a Satchel config for the bench;
# with SATCHEL_EXTRA set, that file's lines are added at the top level.
satchel_conf() {
	local f=$1 port=$2 kv
	shift 2
	{
		echo "# written by tests/bench"
		echo "listen = 127.0.0.1:$port"
		echo "worker_user = satchel"
		echo "chroot = $W/empty"
		echo "auth = file"
		echo "module_dir = $BUILDDIR/.libs"
		echo "mail_location = maildir:$W/mail/%d/%n"
		echo "pidfile = "
		# each instance its own control socket (satchelctl), so
		# several run side by side
		echo "control_socket = $f.ctl"
		echo "first_valid_uid = 100"
		echo "log_level = warning"
		echo "shutdown_timeout = 5"
		# every bench client comes from 127.0.0.1
		echo "max_connections_per_ip = 0"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
		# A file of top-level lines (tests/bench/tuned.conf), as is.
		[ -n "${SATCHEL_EXTRA:-}" ] && cat "$SATCHEL_EXTRA"
		echo
		echo "[file]"
		echo "path = $W/users"
	} >"$f"
}

# satchel_start name conf port: start satcheld -F; sets PID_<name>.
satchel_start() {
	local name=$1 conf=$2 port=$3 pid
	setsid "$BUILDDIR/satcheld" -F -c "$conf" </dev/null \
	    >>"$W/$name.log" 2>&1 &
	pid=$!
	eval "PID_$name=$pid"
	if ! wait_port "$port" 15; then
		echo "$name: satcheld did not listen on $port; log:" >&2
		tail -n 20 "$W/$name.log" >&2
		return 1
	fi
	sleep 0.5	# let the pool fill
}

# ---- popa3d, the Debian way (run.sh, popa3d.sh, mbox_scan.sh) ---------
# popa3d conflicts with dovecot-pop3d as a package (both are
# pop3-server), so its .deb is fetched and unpacked into $W/popa3d; what
# its postinst would make (the popa3d user, its chroot, its PAM file)
# exists only for the run.

POPA3D=
POP_MADE_PAM=0
POP_MADE_USER=0
POP_MADE_DIR=0

popa3d_fetch() {	# the .deb, unpacked into $W/popa3d; sets POPA3D
	mkdir -p "$W/popa3d"
	( cd "$W/popa3d" && apt-get download popa3d >>"$W/apt.log" 2>&1 ) ||
	    { log "apt-get download popa3d failed"; return 1; }
	dpkg-deb -x "$W"/popa3d/popa3d_*.deb "$W/popa3d/root" || return 1
	POPA3D=$W/popa3d/root/usr/sbin/popa3d
	[ -x "$POPA3D" ]
}

popa3d_prepare() {	# what the package's postinst would have made
	getent passwd popa3d >/dev/null || { useradd --system -M \
	    -d /var/lib/popa3d -s /usr/sbin/nologin popa3d && POP_MADE_USER=1; }
	[ -d /var/lib/popa3d ] || { mkdir -p /var/lib/popa3d && POP_MADE_DIR=1; }
	[ -f /etc/pam.d/popa3d ] || { cp "$W/popa3d/root/etc/pam.d/popa3d" \
	    /etc/pam.d/popa3d && POP_MADE_PAM=1; }
}

popa3d_unprepare() {	# undo popa3d_prepare
	[ "$POP_MADE_PAM" = 1 ] && rm -f /etc/pam.d/popa3d
	[ "$POP_MADE_USER" = 1 ] && userdel popa3d 2>/dev/null
	[ "$POP_MADE_DIR" = 1 ] && rmdir /var/lib/popa3d 2>/dev/null
	return 0
}

popa3d_tcpserver() {	# port [max]: one popa3d per connection; sets POP_PID
	setsid tcpserver -R -H -l 0 -c "${2:-40}" 127.0.0.1 "$1" "$POPA3D" \
	    </dev/null >>"$W/popa3d.log" 2>&1 &
	POP_PID=$!
	wait_port "$1" 15 || { log "popa3d did not start:";
	    tail -n 20 "$W/popa3d.log" >&2; return 1; }
}
