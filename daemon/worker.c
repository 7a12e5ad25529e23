/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * worker.c -- a pre-forked worker.  Forked by the master as root, it
 * drops to the unprivileged worker user (chroot to an empty directory,
 * no new privileges) before it reads a single client byte, then accepts
 * and serves one session at a time.  By default it serves one session
 * and exits, since a worker reused after an authenticated session could
 * still hold that user's password in memory (worker_max_sessions trades
 * this for speed).  On a listener marked "haproxy" it first reads the
 * PROXY protocol header (proxyproto.c), from haproxy_trusted_networks
 * only, before TLS or a banner; from then on the client's real address
 * stands for the socket's peer everywhere (logs, limits, trust, tarpit).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "auth_fail.h"
#include "conf.h"
#include "limit.h"
#include "log.h"
#include "master.h"
#include "priv.h"
#include "proxyproto.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "session.h"
#include "stats_shm.h"
#include "supervise.h"
#include "worker.h"
#include "compat/poison.h"

/* An idle worker tries every listener this often (worker_wait). */
#define WORKER_SWEEP_MS		1000

volatile sig_atomic_t worker_quit;
volatile sig_atomic_t worker_retire;
volatile sig_atomic_t worker_kick;

static void	worker_busy(struct satcheld *, struct sb_slot *, const char *);
static int	worker_limits(struct satcheld *, int, const struct sockaddr *,
		    socklen_t, const struct listener *, struct sb_slot *);
static void	worker_tell(struct satcheld *, char);
static int	worker_proxy(struct satcheld *, int, const struct listener *,
		    struct sb_slot *, struct session_origin *);
static int	worker_read_header(int, const struct timespec *,
		    struct pp_parser *, const char **);

static void
worker_signal(int sig)
{
	if (sig == SIGUSR1)
		worker_retire = 1;
	else if (sig == SIGUSR2)
		worker_kick = 1;	/* the master: end the session */
	else
		worker_quit = 1;
}

/*
 * Tell the master our state on our own channel (master.c): it sizes the
 * pool from these, not from the scoreboard.  Only a change is written.
 */
static void
worker_tell(struct satcheld *s, char state)
{
	static char told;

	if (state == told)
		return;
	told = state;
	(void)!write(s->chan, &state, 1);
}

int
worker_wait(int ep, struct epoll_event *evs, int n, int sweep_ms)
{
	int i, r;

	if ((r = epoll_wait(ep, evs, n, sweep_ms)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		memset(&evs[i], 0, sizeof(evs[i]));
		evs[i].events = EPOLLIN;
		evs[i].data.u32 = (uint32_t)i;
	}
	return n;
}

void
worker_main(struct satcheld *s, struct sb_slot *slot)
{
	struct config *cf = s->cf;
	struct epoll_event ee, evs[LISTENERS_MAX];
	struct sigaction sa;
	struct session_origin o;
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
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	for (;;) {
		if (worker_quit || worker_retire ||
		    slot->generation != s->generation)
			break;
		sb_set(slot, SB_IDLE);
		worker_tell(s, MASTER_CHAN_IDLE);
		setproctitle_fmt("satcheld: worker (idle)");
		r = worker_wait(ep, evs, (int)s->nlisteners, WORKER_SWEEP_MS);
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
			memset(&o, 0, sizeof(o));
			o.clientlen = sizeof(o.client);
			fd = accept4(s->listeners[i].fd,
			    (struct sockaddr *)&o.client, &o.clientlen,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd == -1) {
				/* Another worker took it, or a transient
				 * error (EMFILE...): go back to waiting. */
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != ECONNABORTED && errno != EINTR)
					log_warn("accept on %s",
					    s->listeners[i].name);
				continue;
			}
			clock_gettime(CLOCK_MONOTONIC, &o.accepted);
			if (s->listeners[i].haproxy && worker_proxy(s, fd,
			    &s->listeners[i], slot, &o) == -1)
				break;	/* refused: not a session served */
			if (worker_limits(s, fd, (struct sockaddr *)&o.client,
			    o.clientlen, &s->listeners[i], slot) == -1)
				break;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
			session_run(s, fd, &o, &s->listeners[i], slot);
			served++;
			slot->sessions = served;
			memset(slot->user, 0, sizeof(slot->user));
			memset(slot->peer, 0, sizeof(slot->peer));
			memset(slot->session, 0, sizeof(slot->session));
			slot->kick = SB_KICK_NONE;
			slot->takeover = 0;
			worker_kick = 0;
			break;
		}
		if (served >= cf->worker_max_sessions)
			break;
	}
	sb_set(slot, SB_EXITING);
	_exit(0);
}

/* Publish the connection in our slot: peer, then state. */
static void
worker_busy(struct satcheld *s, struct sb_slot *slot, const char *peer)
{
	strlcpy(slot->peer, peer, sizeof(slot->peer));
	sb_set(slot, SB_PREAUTH);
	/* The master tops the pool up at once. */
	worker_tell(s, MASTER_CHAN_BUSY);
}

/*
 * Publish the connection (the real client's address), then check the
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
	worker_busy(s, slot, host);
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

/*
 * A haproxy listener: the sender must be in haproxy_trusted_networks,
 * and its PROXY header comes before anything else, read under the
 * login deadline (timeout_login, counted from the accept).  On success
 * o->client holds the client's real address (the sender's own for a
 * LOCAL or UNKNOWN header: a health check) and o the rest; 0.  -1: the
 * connection was closed with a log line naming the sender and why.
 *
 * While the header is read the slot is busy with the peer
 * "proxy:SENDER", which no client address equals: the connections a
 * proxy is about to hand over count for no client's
 * max_connections_per_ip, and worker_limits() counts each for its real
 * client once the header is in.
 */
static int
worker_proxy(struct satcheld *s, int fd, const struct listener *l,
    struct sb_slot *slot, struct session_origin *o)
{
	struct pp_parser pp;
	struct timespec deadline;
	char peer[sizeof(slot->peer)];
	const char *why;

	if (getnameinfo((struct sockaddr *)&o->client, o->clientlen, o->proxy,
	    sizeof(o->proxy), NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(o->proxy, "unknown", sizeof(o->proxy));
	if (!conf_in_nets(s->cf->haproxy_trusted, s->cf->nhaproxy_trusted,
	    (struct sockaddr *)&o->client)) {
		log_info("event=proxy sender=%s listener=%s result=refused "
		    "reason=\"sender not in haproxy_trusted_networks\"",
		    o->proxy, l->name);
		close(fd);
		return -1;
	}
	strlcpy(peer, "proxy:", sizeof(peer));
	strlcat(peer, o->proxy, sizeof(peer));
	worker_busy(s, slot, peer);
	setproctitle_fmt("satcheld: worker [%s] (PROXY header)", o->proxy);
	deadline = o->accepted;
	deadline.tv_sec += (time_t)s->cf->timeout_login;
	if (worker_read_header(fd, &deadline, &pp, &why) == -1) {
		log_info("event=proxy sender=%s listener=%s result=refused "
		    "reason=\"%s\"", o->proxy, l->name, why);
		close(fd);
		memset(slot->peer, 0, sizeof(slot->peer));
		sb_set(slot, SB_IDLE);
		return -1;
	}
	o->proxied = 1;
	o->proxy_version = pp.h.version;
	if (pp.h.command == PP_CMD_LOCAL) {
		/* The proxy's own connection: its address stands. */
		o->proxy_local = 1;
		return 0;
	}
	memcpy(&o->client, &pp.h.src, sizeof(o->client));
	o->clientlen = pp.h.srclen;
	pp_unmap(&o->client, &o->clientlen);
	memcpy(&o->local, &pp.h.dst, sizeof(o->local));
	o->locallen = pp.h.dstlen;
	pp_unmap(&o->local, &o->locallen);
	o->proxy_ssl = pp.h.ssl;
	if (pp.h.ssl)
		strlcpy(o->proxy_tls, pp.h.ssl_version[0] != '\0' ?
		    pp.h.ssl_version : "unknown", sizeof(o->proxy_tls));
	return 0;
}

/*
 * Read exactly the header: never more than pp_want() bytes at a time,
 * so that what follows it (a TLS ClientHello, a pipelined command)
 * stays in the socket.  0, or -1 with *why_r set (static).
 */
static int
worker_read_header(int fd, const struct timespec *deadline,
    struct pp_parser *pp, const char **why_r)
{
	unsigned char buf[1024];
	struct pollfd pfd;
	struct timespec now;
	size_t want, used;
	ssize_t n;
	int64_t ms;
	int r;

	pp_init(pp);
	for (;;) {
		if (worker_quit) {
			*why_r = "server shutting down";
			return -1;
		}
		want = pp_want(pp);
		if (want > sizeof(buf))
			want = sizeof(buf);
		n = read(fd, buf, want);
		if (n > 0) {
			r = pp_feed(pp, buf, (size_t)n, &used);
			if (r == PP_ERROR) {
				*why_r = pp->error;
				return -1;
			}
			if (r == PP_DONE) {
				if (used != (size_t)n) {
					/* pp_want() promised otherwise. */
					*why_r = "read past the header";
					return -1;
				}
				return 0;
			}
			continue;
		}
		if (n == 0) {
			*why_r = pp->pos == 0 ? "closed before a PROXY header" :
			    "closed in the PROXY header";
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*why_r = "read error before the PROXY header";
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
		    (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0) {
			*why_r = pp->pos == 0 ? "no PROXY header within "
			    "timeout_login" : "PROXY header incomplete at "
			    "timeout_login";
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		(void)poll(&pfd, 1, ms > 1000 ? 1000 : (int)ms);
	}
}
