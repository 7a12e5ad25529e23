/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * control.c -- the master's control socket, spoken to by satchelctl(8)
 * (Dovecot's doveadm is the model).  Runs in the master, as root, from
 * its main loop; it never reads a client's byte and never sees a
 * password.
 *
 * The socket is a UNIX stream socket, mode 0600 and owned by root, and
 * every connection's peer must be uid 0 (SO_PEERCRED): anything else
 * is refused with one line and logged.  A connection carries one
 * command line, "WORD [ARG...]", answered with text lines and a last
 * line "+OK" or "-ERR text", then closed.  The admin's tool is the one
 * client, so the master reads that line with a short deadline and
 * answers at once; nothing here waits on a module or a worker for more
 * than a moment.
 *
 *   who           sessions in the scoreboard: user, address, state,
 *                 since, bytes sent, session id
 *   kick USER     end USER's sessions without UPDATE (nothing deleted)
 *   auth-test U   handed to the auth pool (auth_ctl.c), with the
 *   user U        connection: the pool asks for the password itself
 *   config [-n]   the effective configuration (secrets masked)
 *   stats         what the master counts
 *   reload, stop  as SIGHUP and SIGTERM
 *
 * kick and lock_conflict = takeover share one mechanism: the master
 * sets the slot's kick word and sends SIGUSR2 to the worker, by the pid
 * of its own child table (never the slot's pid field).  The worker ends
 * the session without a commit, so its agent deletes nothing and
 * releases the session lock as its socket closes (session.c, agent.c).
 *
 * Caution: slot contents come from workers, which are untrusted; they
 * are escaped before they reach a log line or the admin's terminal.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "conf.h"
#include "control.h"
#include "log.h"
#include "peercred.h"
#include "master.h"
#include "msg.h"
#include "scoreboard.h"
#include "compat/poison.h"

#define CONTROL_READ_MS		2000	/* for the command line */
#define CONTROL_KICK_WAIT_MS	3000	/* for kicked sessions to end */
#define CONTROL_ARGS_MAX	4

static char control_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static time_t control_started;

struct ctl_cmd {
	const char	*word;
	int		 minargs, maxargs;
	/* 0 answered (the caller writes +OK), -1 answered -ERR, 1 the
	 * connection was handed on (the caller only closes its copy). */
	int		(*handler)(struct satcheld *, int, char **, int);
};

static int ctl_who(struct satcheld *, int, char **, int);
static int ctl_kick(struct satcheld *, int, char **, int);
static int ctl_auth(struct satcheld *, int, char **, int);
static int ctl_config(struct satcheld *, int, char **, int);
static int ctl_stats(struct satcheld *, int, char **, int);
static int ctl_reload(struct satcheld *, int, char **, int);
static int ctl_stop(struct satcheld *, int, char **, int);

static const struct ctl_cmd ctl_cmds[] = {
	{ "who",	0, 0, ctl_who },
	{ "kick",	1, 1, ctl_kick },
	{ "auth-test",	1, 1, ctl_auth },
	{ "user",	1, 1, ctl_auth },
	{ "config",	0, 1, ctl_config },
	{ "stats",	0, 0, ctl_stats },
	{ "reload",	0, 0, ctl_reload },
	{ "stop",	0, 0, ctl_stop },
};

static void
ctl_printf(int fd, const char *fmt, ...)
{
	char line[4096 + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL);
}

int
control_open(struct satcheld *s)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, probe;

	control_started = time(NULL);
	if (conf_control_path(s->cf, control_path, sizeof(control_path)) ==
	    -1) {
		log_warnx("%s: key 'control_socket': path too long",
		    s->cf->path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, control_path, sizeof(sun.sun_path));
	if (lstat(control_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("control socket %s: exists and is not a "
			    "socket", control_path);
			return -1;
		}
		/* A live master answers: do not steal its socket. */
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) != -1) {
			if (connect(probe, (struct sockaddr *)&sun,
			    sizeof(sun)) == 0) {
				close(probe);
				log_warnx("control socket %s: another satcheld "
				    "answers on it", control_path);
				return -1;
			}
			close(probe);
		}
		(void)unlink(control_path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		log_warn("control socket");
		return -1;
	}
	/* Never reachable by anyone else, not even for a moment. */
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("%s: key 'control_socket': bind %s", s->cf->path,
		    control_path);
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(control_path, 0600) == -1 || (s->privileged &&
	    chown(control_path, 0, 0) == -1) || listen(fd, 16) == -1) {
		log_warn("control socket %s", control_path);
		close(fd);
		(void)unlink(control_path);
		return -1;
	}
	s->control_fd = fd;
	log_debug("control socket %s", control_path);
	return 0;
}

void
control_close(struct satcheld *s)
{
	if (s->control_fd == -1)
		return;
	close(s->control_fd);
	s->control_fd = -1;
	(void)unlink(control_path);
}

/* Read one line within CONTROL_READ_MS; 0, or -1. */
static int
ctl_readline(int fd, char *buf, size_t bufsz)
{
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	char *nl;
	int waited = 0;

	while (waited < CONTROL_READ_MS) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		/*
		 * Only up to the newline is ever read: satchelctl sends
		 * nothing more before it is asked (auth_ctl.c).
		 */
		n = recv(fd, buf + len, bufsz - 1 - len, MSG_PEEK);
		if (n <= 0) {
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			return -1;
		}
		if ((nl = memchr(buf + len, '\n', (size_t)n)) != NULL)
			n = nl - (buf + len) + 1;
		if ((n = recv(fd, buf + len, (size_t)n, 0)) <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (nl != NULL) {
			buf[len - 1] = '\0';
			if (len >= 2 && buf[len - 2] == '\r')
				buf[len - 2] = '\0';
			return 0;
		}
		if (len >= bufsz - 1)
			return -1;
	}
	return -1;
}

void
control_accept(struct satcheld *s)
{
	char line[CONTROL_LINE_MAX + 2], vis[128], *argv[CONTROL_ARGS_MAX + 1];
	char *p, *save;
	long puid, ppid;
	struct timeval tv = { 2, 0 };
	const struct ctl_cmd *cmd = NULL;
	size_t i;
	int fd, argc = 0, r;

	if ((fd = accept4(s->control_fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (peercred_is(fd, 0, 0, &puid, &ppid) != 1) {
		log_warnx("control: connection from uid %ld (pid %ld) "
		    "refused: root only", puid, ppid);
		ctl_printf(fd, "-ERR permission denied: satchelctl is for "
		    "root only");
		close(fd);
		return;
	}
	if (ctl_readline(fd, line, sizeof(line)) == -1) {
		ctl_printf(fd, "-ERR no command line");
		close(fd);
		return;
	}
	for (p = strtok_r(line, " \t", &save); p != NULL;
	    p = strtok_r(NULL, " \t", &save)) {
		if (argc == CONTROL_ARGS_MAX) {
			argc++;
			break;
		}
		argv[argc++] = p;
	}
	argv[argc < CONTROL_ARGS_MAX ? argc : CONTROL_ARGS_MAX] = NULL;
	if (argc > 0)
		for (i = 0; i < nitems(ctl_cmds); i++)
			if (strcmp(ctl_cmds[i].word, argv[0]) == 0)
				cmd = &ctl_cmds[i];
	if (argc == 0 || cmd == NULL) {
		log_vis(vis, sizeof(vis), argc > 0 ? argv[0] : "",
		    argc > 0 ? strlen(argv[0]) : 0);
		ctl_printf(fd, "-ERR unknown command '%s'", vis);
		close(fd);
		return;
	}
	if (argc - 1 < cmd->minargs || argc - 1 > cmd->maxargs) {
		ctl_printf(fd, "-ERR usage: wrong number of arguments for "
		    "'%s'", cmd->word);
		close(fd);
		return;
	}
	log_info("control: %s%s%s", cmd->word, argc > 1 ? " " : "",
	    argc > 1 ? log_vis(vis, sizeof(vis), argv[1], strlen(argv[1])) :
	    "");
	r = cmd->handler(s, fd, argv, argc);
	if (r == 0)
		ctl_printf(fd, "+OK");
	close(fd);
}

static void
ctl_time(time_t t, char *buf, size_t bufsz)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(buf, "-", bufsz);
}

/* A slot's string, bounded and escaped: it was written by a worker. */
static const char *
ctl_slot_str(char *dst, size_t dstsz, const char *src, size_t srcsz)
{
	size_t len = strnlen(src, srcsz);

	if (len == 0) {
		strlcpy(dst, "-", dstsz);
		return dst;
	}
	return log_vis(dst, dstsz, src, len);
}

static int
ctl_who(struct satcheld *s, int fd, char **argv, int argc)
{
	struct sb_slot *sl;
	char user[128], peer[128], id[64], since[32];
	uint32_t i, st;
	unsigned int n = 0;

	(void)argv;
	(void)argc;
	ctl_printf(fd, "%-24s %-20s %-11s %-20s %10s %s", "user", "addr",
	    "state", "since", "bytes", "session");
	for (i = 0; i < sb_count(s->sb); i++) {
		sl = &s->sb->slots[i];
		st = sl->state;
		if (st < SB_PREAUTH || st > SB_UPDATE ||
		    master_worker_pid(i) == -1)
			continue;
		ctl_time(sl->since, since, sizeof(since));
		ctl_printf(fd, "%-24s %-20s %-11s %-20s %10llu %s",
		    ctl_slot_str(user, sizeof(user), sl->user,
		    sizeof(sl->user)), ctl_slot_str(peer, sizeof(peer),
		    sl->peer, sizeof(sl->peer)), sb_state_name(st), since,
		    (unsigned long long)sl->bytes, ctl_slot_str(id,
		    sizeof(id), sl->session, sizeof(sl->session)));
		n++;
	}
	ctl_printf(fd, "%u session%s", n, n == 1 ? "" : "s");
	return 0;
}

/*
 * Ask the worker of slot i to end its session without UPDATE.  1 when
 * asked for the first time, 0 when it had been asked already, -1 when
 * the master knows no such worker.
 */
static int
ctl_end_session(struct satcheld *s, uint32_t i, uint32_t why)
{
	struct sb_slot *sl = &s->sb->slots[i];
	pid_t pid = master_worker_pid(i);
	int first = sl->kick == SB_KICK_NONE;

	if (pid == -1)
		return -1;
	sl->kick = why;
	(void)kill(pid, SIGUSR2);
	return first;
}

static int
ctl_user_slot(struct satcheld *s, uint32_t i, const char *vis)
{
	struct sb_slot *sl = &s->sb->slots[i];

	return sl->state == SB_TRANSACTION && sl->user[0] != '\0' &&
	    strncmp(sl->user, vis, sizeof(sl->user)) == 0;
}

static int
ctl_kick(struct satcheld *s, int fd, char **argv, int argc)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char vis[sizeof(((struct sb_slot *)0)->user)], peer[128], id[64];
	uint32_t i;
	unsigned int n = 0, left;
	int waited;

	(void)argc;
	/* The slot holds the escaped canonical name. */
	log_vis(vis, sizeof(vis), argv[1], strlen(argv[1]));
	for (i = 0; i < sb_count(s->sb); i++) {
		if (!ctl_user_slot(s, i, vis))
			continue;
		/* Copied first: the worker clears them as it ends. */
		ctl_slot_str(id, sizeof(id), s->sb->slots[i].session,
		    sizeof(s->sb->slots[i].session));
		ctl_slot_str(peer, sizeof(peer), s->sb->slots[i].peer,
		    sizeof(s->sb->slots[i].peer));
		if (ctl_end_session(s, i, SB_KICK_ADMIN) == -1)
			continue;
		log_info("session=%s event=kick user=%s addr=%s "
		    "by=satchelctl", id, vis, peer);
		ctl_printf(fd, "kicked session %s (%s)", id, peer);
		n++;
	}
	if (n == 0) {
		ctl_printf(fd, "-ERR no session of %s in the transaction "
		    "state", vis);
		return -1;
	}
	/*
	 * Wait for them to end, asking again: a signal that came just
	 * before a worker went to sleep is only seen at the next one.
	 */
	for (waited = 0; waited < CONTROL_KICK_WAIT_MS; waited += 50) {
		for (i = 0, left = 0; i < sb_count(s->sb); i++)
			if (ctl_user_slot(s, i, vis)) {
				left++;
				if (waited % 250 == 200)
					(void)ctl_end_session(s, i,
					    SB_KICK_ADMIN);
			}
		if (left == 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (waited >= CONTROL_KICK_WAIT_MS) {
		ctl_printf(fd, "-ERR %u session%s still running", left,
		    left == 1 ? "" : "s");
		return -1;
	}
	ctl_printf(fd, "%u session%s ended, nothing deleted", n,
	    n == 1 ? "" : "s");
	return 0;
}

/* auth-test and user: the auth pool answers on the same connection. */
static int
ctl_auth(struct satcheld *s, int fd, char **argv, int argc)
{
	struct msg_ctl_handoff h;
	int afd;

	(void)argc;
	memset(&h, 0, sizeof(h));
	h.op = strcmp(argv[0], "user") == 0 ? CTL_OP_USER : CTL_OP_AUTH_TEST;
	if (strlen(argv[1]) > SATCHEL_USER_MAX) {
		ctl_printf(fd, "-ERR user name too long");
		return -1;
	}
	strlcpy(h.user, argv[1], sizeof(h.user));
	if ((afd = authc_connect(s)) == -1) {
		ctl_printf(fd, "-ERR the auth pool cannot be reached");
		return -1;
	}
	if (msg_send_ctl_handoff(afd, &h, fd) == -1) {
		log_warn("control: hand over to the auth pool");
		ctl_printf(fd, "-ERR the auth pool cannot be reached");
		close(afd);
		return -1;
	}
	close(afd);
	return 1;
}

static void
ctl_config_line(void *arg, const char *line)
{
	ctl_printf(*(int *)arg, "%s", line);
}

static int
ctl_config(struct satcheld *s, int fd, char **argv, int argc)
{
	if (argc == 2 && strcmp(argv[1], "-n") != 0) {
		ctl_printf(fd, "-ERR usage: config [-n]");
		return -1;
	}
	ctl_printf(fd, "# %s", s->cf->path);
	conf_dump(s->cf, argc == 2, ctl_config_line, &fd);
	return 0;
}

static int
ctl_stats(struct satcheld *s, int fd, char **argv, int argc)
{
	unsigned int workers, auth, old, idle = 0, busy = 0, trans = 0;
	unsigned int per[SB_EXITING + 1];
	uint32_t i, st;

	(void)argv;
	(void)argc;
	memset(per, 0, sizeof(per));
	master_counts(s, &workers, &auth, &old);
	for (i = 0; i < sb_count(s->sb); i++) {
		if (master_worker_pid(i) == -1)
			continue;
		st = s->sb->slots[i].state;
		if (st > SB_EXITING)
			continue;
		per[st]++;
		if (st == SB_IDLE || st == SB_STARTING)
			idle++;
		else if (st >= SB_PREAUTH && st <= SB_UPDATE)
			busy++;
		if (st == SB_TRANSACTION || st == SB_UPDATE)
			trans++;
	}
	ctl_printf(fd, "workers: %u", workers);
	ctl_printf(fd, "workers_busy: %u", busy);
	ctl_printf(fd, "workers_idle: %u", idle);
	ctl_printf(fd, "workers_max: %u", s->cf->workers_max);
	ctl_printf(fd, "sessions: %u", busy);
	ctl_printf(fd, "sessions_preauth: %u", per[SB_PREAUTH] + per[SB_AUTH]);
	ctl_printf(fd, "sessions_logged_in: %u", trans);
	ctl_printf(fd, "auth_processes: %u", auth);
	ctl_printf(fd, "old_generation_processes: %u", old);
	ctl_printf(fd, "generation: %u", s->generation);
	ctl_printf(fd, "uptime_s: %lld",
	    (long long)(time(NULL) - control_started));
	return 0;
}

static int
ctl_reload(struct satcheld *s, int fd, char **argv, int argc)
{
	(void)s;
	(void)argv;
	(void)argc;
	/* Taken at the loop's next wait, exactly like a SIGHUP. */
	(void)kill(getpid(), SIGHUP);
	ctl_printf(fd, "reloading");
	return 0;
}

static int
ctl_stop(struct satcheld *s, int fd, char **argv, int argc)
{
	(void)s;
	(void)argv;
	(void)argc;
	(void)kill(getpid(), SIGTERM);
	ctl_printf(fd, "stopping");
	return 0;
}

void
control_takeovers(struct satcheld *s)
{
	struct sb_slot *nw, *ol;
	char user[128], id[64], peer[128], oid[64], opeer[128];
	uint32_t i, j;
	int found, r;

	if (s->cf->lock_conflict != LOCK_CONFLICT_TAKEOVER)
		return;
	for (i = 0; i < sb_count(s->sb); i++) {
		nw = &s->sb->slots[i];
		if (nw->takeover == 0)
			continue;
		nw->takeover = 0;
		if (nw->user[0] == '\0' || master_worker_pid(i) == -1)
			continue;
		found = 0;
		for (j = 0; j < sb_count(s->sb); j++) {
			if (j == i || !ctl_user_slot(s, j, nw->user))
				continue;
			ol = &s->sb->slots[j];
			ctl_slot_str(oid, sizeof(oid), ol->session,
			    sizeof(ol->session));
			ctl_slot_str(opeer, sizeof(opeer), ol->peer,
			    sizeof(ol->peer));
			if ((r = ctl_end_session(s, j, SB_KICK_TAKEOVER)) == -1)
				continue;
			found = 1;
			if (r == 0)
				continue;	/* asked again, said once */
			log_info("session=%s event=takeover user=%s addr=%s "
			    "old_session=%s old_addr=%s result=ending-old",
			    ctl_slot_str(id, sizeof(id), nw->session,
			    sizeof(nw->session)), ctl_slot_str(user,
			    sizeof(user), nw->user, sizeof(nw->user)),
			    ctl_slot_str(peer, sizeof(peer), nw->peer,
			    sizeof(nw->peer)), oid, opeer);
		}
		if (!found)
			log_debug("session=%s event=takeover result=no-session "
			    "(the lock is held elsewhere)", ctl_slot_str(id,
			    sizeof(id), nw->session, sizeof(nw->session)));
	}
}
