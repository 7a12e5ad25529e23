/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * worker.c -- a pre-forked worker.  Forked by the master as root, it
 * drops to the unprivileged worker user (chroot to an empty directory,
 * no new privileges) before it reads a single client byte, then accepts
 * and serves one session at a time.  By default it serves one session
 * and exits, since a worker reused after an authenticated session could
 * still hold that user's password in memory (worker_max_sessions trades
 * this for speed).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "auth_fail.h"
#include "conf.h"
#include "limit.h"
#include "log.h"
#include "master.h"
#include "priv.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "session.h"
#include "stats_shm.h"
#include "supervise.h"
#include "worker.h"
#include "compat/poison.h"

volatile sig_atomic_t worker_quit;
volatile sig_atomic_t worker_retire;

static int	worker_limits(struct satcheld *, int, const struct sockaddr *,
		    socklen_t, const struct listener *, struct sb_slot *);

static void
worker_signal(int sig)
{
	if (sig == SIGUSR1)
		worker_retire = 1;
	else
		worker_quit = 1;
}


void
worker_main(struct satcheld *s, struct sb_slot *slot)
{
	struct config *cf = s->cf;
	struct epoll_event ee, evs[LISTENERS_MAX];
	struct sigaction sa;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint64_t served = 0;
	size_t i;
	int fd, on = 1, r, ep, k;

	log_procname("worker");
	auth_fail_forget();
	setproctitle_fmt("satcheld: worker (starting)");
	if (priv_drop(cf->chroot, s->worker_uid, s->worker_gid, NULL,
	    0) == -1)
		_exit(1);
	/*
	 * Die with the master: no orphan may serve a login.  Only now,
	 * since a change of uid or gid clears the parent-death signal.
	 */
	if (priv_tie_to_parent(s->master_pid, SIGKILL) == -1)
		_exit(0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("prctl NO_NEW_PRIVS");
		_exit(1);
	}
	/* A worker never dumps core: it may hold a password. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/*
	 * One connection wakes one idle worker: every worker waits on the
	 * listeners with EPOLLEXCLUSIVE, so the kernel wakes one of them
	 * (or a few) instead of the whole pool.
	 */
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("epoll_create1");
		_exit(1);
	}
	for (i = 0; i < s->nlisteners; i++) {
		memset(&ee, 0, sizeof(ee));
		ee.events = EPOLLIN | EPOLLEXCLUSIVE;
		ee.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, s->listeners[i].fd, &ee) ==
		    -1) {
			log_warn("epoll_ctl %s", s->listeners[i].name);
			_exit(1);
		}
	}
	/* sandbox.c: from here on, only the worker's allow-list. */
	if (cf->sandbox && sandbox_worker(0) == -1)
		_exit(1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	for (;;) {
		if (worker_quit || worker_retire ||
		    slot->generation != s->generation)
			break;
		sb_set(slot, SB_IDLE);
		setproctitle_fmt("satcheld: worker (idle)");
		r = epoll_wait(ep, evs, (int)s->nlisteners, -1);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			break;
		}
		if (worker_quit || worker_retire)
			break;
		for (k = 0; k < r; k++) {
			i = evs[k].data.u32;
			if (i >= s->nlisteners || (evs[k].events & EPOLLIN) == 0)
				continue;
			sslen = sizeof(ss);
			fd = accept4(s->listeners[i].fd, (struct sockaddr *)&ss,
			    &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd == -1) {
				/* Another worker took it, or a transient
				 * error (EMFILE...): go back to waiting. */
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != ECONNABORTED && errno != EINTR)
					log_warn("accept on %s",
					    s->listeners[i].name);
				continue;
			}
			if (worker_limits(s, fd, (struct sockaddr *)&ss, sslen,
			    &s->listeners[i], slot) == -1)
				break;	/* refused: not a session served */
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
			session_run(s, fd, (struct sockaddr *)&ss, sslen,
			    &s->listeners[i], slot);
			served++;
			slot->sessions = served;
			memset(slot->user, 0, sizeof(slot->user));
			memset(slot->peer, 0, sizeof(slot->peer));
			break;
		}
		if (served >= cf->worker_max_sessions)
			break;
	}
	sb_set(slot, SB_EXITING);
	_exit(0);
}

/*
 * Publish the connection in our slot (peer, then state), then check the
 * limits shared by all workers.  A refused client gets one fixed line
 * and the close at once; 0 to serve, -1 after a refusal (fd closed).
 */
static int
worker_limits(struct satcheld *s, int fd, const struct sockaddr *sa,
    socklen_t salen,
    const struct listener *l, struct sb_slot *slot)
{
	char host[NI_MAXHOST], line[160];
	const char *limit, *reply;
	int n;

	if (getnameinfo(sa, salen, host, sizeof(host), NULL, 0,
	    NI_NUMERICHOST) != 0)
		strlcpy(host, "unknown", sizeof(host));
	strlcpy(slot->peer, host, sizeof(slot->peer));
	sb_set(slot, SB_PREAUTH);
	/* Tell the master a worker went busy: after the state, which it
	 * reads when it wakes. */
	(void)!write(s->wake[1], "", 1);
	if (limit_connect(s->cf, s->sb, slot, conf_trusted(s->cf, sa),
	    &limit, &reply) == 0)
		return 0;
	log_info("event=limit addr=%s user=- limit=%s result=refused",
	    host, limit);
	stats_limit(limit);	/* metrics */
	/*
	 * No TLS handshake for a refused client (that is work for an
	 * abuser's connection): on a TLS port it is only closed.
	 */
	n = snprintf(line, sizeof(line), "%s\r\n", reply);
	if (!l->tls && n > 0 && (size_t)n < sizeof(line))
		(void)!write(fd, line, (size_t)n);
	close(fd);
	memset(slot->peer, 0, sizeof(slot->peer));
	sb_set(slot, SB_IDLE);
	return -1;
}
