/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth.c -- the auth process.  Forked by the master, runs as root for
 * its whole life, and never reads a client byte: it answers workers'
 * requests on the pool's SOCK_SEQPACKET socket from one event loop, so
 * a SASL exchange waiting on its client, a PAM conversation or a slow
 * database never holds up another login.
 *
 * It holds no module data itself.  Every module call (verify a
 * password, look up a stored credential) goes to an auth worker
 * (auth_worker.c): one group of workers per module of the chain, each
 * group with its own size and timeout, so a hanging PAM stack uses up
 * PAM's workers only.  First thing at start it forks the agent spawner
 * (agent_spawn.c), from a state that has seen no request and loaded no
 * secret; mailbox agents come from there, are handed a session here,
 * and come back here between sessions to be reused for later sessions
 * of the same uid, gid and groups.
 *
 * What it trusts of a worker: nothing it can check itself.  The client
 * address is read from the client's socket, passed with the request.
 * Failures are counted per lower-cased user and per address in the
 * shared failure table (auth_fail.c), and the delay is enforced here:
 * no attempt for a user or an address that failed is even started
 * before the delay has passed, and every failure is answered at the
 * same time after its start, whatever the scheme or whether the user
 * exists.  APOP and CRAM-MD5 challenges are made here, bound to the
 * connection they were asked on, and good for one answer.
 *
 * Caution: every message from a worker is checked against the request
 * table below, by type and by the connection's state; anything else
 * ends that connection and is logged.
 */

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "agent.h"
#include "auth.h"
#include "auth_fail.h"
#include "auth_int.h"
#include "auth_proc.h"
#include "conf.h"
#include "log.h"
#include "mailloc.h"
#include "master.h"
#include "md5.h"
#include "module.h"
#include "msg.h"
#include "privsep.h"
#include "stats_shm.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "compat/poison.h"

static struct auth_ctx actx;
static volatile sig_atomic_t auth_quit;

static void auth_signal(int);
static void auth_stop_children(struct auth_ctx *);

static void
auth_signal(int sig)
{
	(void)sig;
	auth_quit = 1;
}

void
ev_add(struct auth_ctx *a, struct ev *e)
{
	struct epoll_event ee;

	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN;
	ee.data.ptr = e;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, e->fd, &ee) == -1)
		log_warn("epoll_ctl add");
}

void
ev_del(struct auth_ctx *a, struct ev *e)
{
	(void)epoll_ctl(a->ep, EPOLL_CTL_DEL, e->fd, NULL);
}

void
auth_bury(struct auth_ctx *a)
{
	struct aconn *c;
	struct agentref *r;

	while ((c = a->grave) != NULL) {
		a->grave = c->qnext;
		explicit_bzero(c, sizeof(*c));
		free(c);
	}
	while ((r = a->agrave) != NULL) {
		a->agrave = r->next;
		free(r);
	}
}

/* A worker broke the protocol: log it with its pid, end the request. */

static void
auth_setup(struct auth_ctx *a, struct satcheld *s)
{
	char list[256], *g, *save;
	struct group *gr;
	const char *v;
	uint64_t n;
	size_t i;

	memset(a, 0, sizeof(*a));
	a->s = s;
	a->spawner_ev.fd = -1;
	if (gethostname(a->host, sizeof(a->host)) == -1)
		strlcpy(a->host, "localhost", sizeof(a->host));
	a->host[sizeof(a->host) - 1] = '\0';
	strlcpy(list, s->cf->mail_extra_groups, sizeof(list));
	for (g = strtok_r(list, " ,", &save); g != NULL &&
	    a->nextra < MSG_GROUPS_MAX - 1; g = strtok_r(NULL, " ,", &save))
		if ((gr = getgrnam(g)) != NULL && gr->gr_gid != 0)
			a->extra[a->nextra++] = gr->gr_gid;
	for (i = 0; i < s->nauth; i++) {
		struct agroup *gp = &a->groups[i];

		gp->idx = i;
		gp->name = s->auth[i]->desc->name;
		gp->lookup = ((const struct satchel_auth_ops *)
		    s->auth[i]->ops)->lookup != NULL;
		gp->maxw = s->cf->auth_workers;
		gp->timeout_ms = s->cf->auth_timeout * 1000;
		/* Per module: "workers" and "timeout" in its section. */
		if ((v = conf_get(s->cf, gp->name, "workers")) != NULL &&
		    conf_parse_uint(v, 1, 256, &n) == 0)
			gp->maxw = (size_t)n;
		if ((v = conf_get(s->cf, gp->name, "timeout")) != NULL &&
		    conf_parse_uint(v, 1, 3600, &n) == 0)
			gp->timeout_ms = (unsigned int)n * 1000;
		/* Issue 14: "master = yes", a master-only passdb. */
		if ((v = conf_get(s->cf, gp->name, "master")) != NULL &&
		    conf_parse_bool(v, &gp->master) == -1)
			gp->master = 0;
		if ((gp->w = calloc(gp->maxw, sizeof(*gp->w))) == NULL)
			_exit(1);
		a->ngroups++;
	}
}

static void
auth_spawner_start(struct auth_ctx *a)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("auth: socketpair");
		_exit(1);
	}
	switch (pid = fork()) {
	case -1:
		log_warn("auth: fork agent spawner");
		_exit(1);
	case 0:
		close(sv[0]);
		close(a->s->auth_fd);
		agent_spawner_main(sv[1], a->s);
		/* NOTREACHED */
	}
	close(sv[1]);
	a->spawner_ev.kind = EV_SPAWNER;
	a->spawner_ev.fd = sv[0];
	a->spawner_pid = pid;
}

/* The next timer of anything, as an epoll timeout in ms. */

static int
auth_next_timeout(struct auth_ctx *a, uint64_t now)
{
	uint64_t next = now + 1000;
	struct aconn *c;
	size_t i, j;

	for (c = a->conns; c != NULL; c = c->next)
		if (c->wake_at != 0 && c->wake_at < next)
			next = c->wake_at;
	for (i = 0; i < a->ngroups; i++)
		for (j = 0; j < a->groups[i].nw; j++)
			if (a->groups[i].w[j].busy != NULL &&
			    a->groups[i].w[j].deadline < next)
				next = a->groups[i].w[j].deadline;
	return next <= now ? 0 : (int)(next - now);
}

static void
auth_timers(struct auth_ctx *a, uint64_t now)
{
	struct aconn *c, *next;
	struct aworker *w;
	size_t i, j;

	for (c = a->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->dead && c->wake_at != 0 && c->wake_at <= now) {
			c->wake_at = 0;
			/* Only c can go here; its memory stays until
			 * auth_bury, so next is still good. */
			conn_timer(a, c);
		}
	}
	for (i = 0; i < a->ngroups; i++)
		for (j = 0; j < a->groups[i].nw; j++) {
			w = &a->groups[i].w[j];
			if (w->busy != NULL && w->deadline <= now) {
				log_warnx("auth: session=%s module %s did not "
				    "answer within %u s: [SYS/TEMP]",
				    w->busy->session, a->groups[i].name,
				    a->groups[i].timeout_ms / 1000);
				w->served = 1;	/* slow, not broken */
				aw_gone(a, w, NULL);
			}
		}
}

void
auth_main(struct satcheld *s)
{
	struct auth_ctx *a = &actx;
	struct epoll_event evs[AUTH_EVENTS];
	struct sigaction sa;
	struct ev *e;
	uint64_t now;
	int i, n;

	log_procname("auth");
	setproctitle_fmt("satcheld: auth");
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = auth_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* Module workers are ours: let the kernel reap them. */
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);

	auth_setup(a, s);
	/* First, before any request: the spawner forks from a clean state. */
	auth_spawner_start(a);
	if ((a->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("auth: epoll_create1");
		_exit(1);
	}
	ev_add(a, &a->spawner_ev);
	a->listen_ev.kind = EV_LISTEN;
	a->listen_ev.fd = s->auth_fd;
	/* Shared with the other auth processes: never block in accept. */
	if (fcntl(s->auth_fd, F_SETFL, fcntl(s->auth_fd, F_GETFL) |
	    O_NONBLOCK) == -1) {
		log_warn("auth: fcntl");
		_exit(1);
	}
	ev_add(a, &a->listen_ev);
	agents_ask(a, 0);
	groups_maintain(a, auth_fail_now_ms());

	for (;;) {
		if (auth_quit && !a->quitting) {
			/* Finish what is under way; take nothing new. */
			a->quitting = 1;
			ev_del(a, &a->listen_ev);
		}
		if (a->quitting && a->conns == NULL)
			break;
		now = auth_fail_now_ms();
		n = epoll_wait(a->ep, evs, AUTH_EVENTS,
		    auth_next_timeout(a, now));
		for (i = 0; i < n; i++) {
			e = evs[i].data.ptr;
			switch (e->kind) {
			case EV_LISTEN:
				conn_accept(a);
				break;
			case EV_CONN:
				if (!((struct aconn *)e)->dead &&
				    e->fd != -1)
					conn_readable(a, (struct aconn *)e);
				break;
			case EV_AW:
				if (e->fd != -1)
					aw_readable(a, (struct aworker *)e);
				break;
			case EV_SPAWNER:
				if (e->fd != -1)
					spawner_readable(a);
				break;
			case EV_PROXY:
				/* The pev member of a connection. */
				if (e->fd != -1 && !((struct aconn *)(void *)
				    ((char *)e - offsetof(struct aconn,
				    pev)))->dead)
					conn_proxy_ready(a, (struct aconn *)
					    (void *)((char *)e -
					    offsetof(struct aconn, pev)));
				break;
			case EV_AGENT:
				if (!((struct agentref *)e)->dead)
					agent_readable(a,
					    (struct agentref *)e);
				break;
			case EV_CTL:	/* satchelctl: auth_ctl.c */
				auth_ctl_readable(a, (struct actl *)e);
				break;
			}
		}
		if (a->call_ended)
			conn_wake_held(a);
		now = auth_fail_now_ms();
		auth_timers(a, now);
		groups_maintain(a, now);
		agents_expire(a, now);
		auth_ctl_tick(a, now);
		auth_bury(a);
		stats_auth_spare((uint32_t)a->nspare);	/* metrics */
	}
	/*
	 * Our module workers and the spawner (and with it the spares) go
	 * with us, and we wait for them, so that no process of this
	 * generation outlives its auth process.  Agents serving sessions
	 * are the spawner's children but no longer tied to it: they end
	 * with their session.
	 */
	auth_stop_children(a);
	_exit(0);
}

static void
auth_stop_children(struct auth_ctx *a)
{
	size_t i, j;

	for (i = 0; i < a->ngroups; i++)
		for (j = 0; j < a->groups[i].maxw; j++)
			if (a->groups[i].w[j].pid > 0)
				(void)kill(a->groups[i].w[j].pid, SIGTERM);
	if (a->spawner_pid > 0)
		(void)kill(a->spawner_pid, SIGTERM);
	/* With SA_NOCLDWAIT, wait() returns once every child is gone. */
	while (wait(NULL) != -1 || errno == EINTR)
		;
}
