/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_modules.c -- the auth process's module workers: one group per
 * module of the chain, each with its own size and timeout, a queue of
 * calls, and a restart that backs off when a worker dies before it
 * served anything.  Runs in the auth process, as root.
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
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "compat/poison.h"

/* Queue c for a worker of g (a login's or satchelctl's call). */
void
group_enqueue(struct auth_ctx *a, struct agroup *g, struct aconn *c)
{
	c->state = CS_CALL;
	c->qnext = NULL;
	if (g->qtail != NULL)
		g->qtail->qnext = c;
	else
		g->qhead = c;
	g->qtail = c;
	group_dispatch(a, g);
}

void
group_dispatch(struct auth_ctx *a, struct agroup *g)
{
	struct msg_aw_call call;
	struct aconn *c;
	const char *who;
	size_t i;

	for (i = 0; i < g->nw && g->qhead != NULL; i++) {
		if (g->w[i].busy != NULL || g->w[i].pid == 0 ||
		    g->w[i].ev.fd == -1)
			continue;
		c = g->qhead;
		g->qhead = c->qnext;
		if (g->qhead == NULL)
			g->qtail = NULL;
		c->qnext = NULL;
		if (c->orphan) {
			/* The worker left while this waited in line. */
			c->state = CS_NEW;
			conn_free(a, c);
			i--;
			continue;
		}
		memset(&call, 0, sizeof(call));
		/* The part of a master login decides (auth_master.c). */
		call.op = auth_master_op(c, &who);
		strlcpy(call.user, who, sizeof(call.user));
		if (call.op == AW_VERIFY)
			memcpy(call.password, c->secret,
			    sizeof(call.password));
		strlcpy(call.remote, c->remote, sizeof(call.remote));
		strlcpy(call.local, c->local, sizeof(call.local));
		strlcpy(call.session, c->session, sizeof(call.session));
		if (msg_send_aw_call(g->w[i].ev.fd, &call, -1) == -1) {
			explicit_bzero(&call, sizeof(call));
			log_warn("auth: module %s worker %ld", g->name,
			    (long)g->w[i].pid);
			/* Put it back; the dead worker is noticed by EOF. */
			c->qnext = g->qhead;
			g->qhead = c;
			if (g->qtail == NULL)
				g->qtail = c;
			g->w[i].pid = 0;
			continue;
		}
		explicit_bzero(&call, sizeof(call));
		g->w[i].busy = c;
		g->w[i].deadline = auth_fail_now_ms() + g->timeout_ms;
	}
}

void
aw_gone(struct auth_ctx *a, struct aworker *w, const char *why)
{
	struct agroup *g = w->g;
	struct aconn *c = w->busy;

	if (why != NULL)
		log_warnx("auth: module %s worker %ld %s", g->name,
		    (long)w->pid, why);
	if (w->pid > 0)
		kill(w->pid, SIGKILL);
	ev_del(a, &w->ev);
	close(w->ev.fd);
	w->ev.fd = -1;
	w->pid = 0;
	w->busy = NULL;
	a->call_ended = 1;
	if (!w->served) {
		/* Died before serving anything: back off (Postfix's
		 * throttle), one log line per delay. */
		uint64_t d = 1000ULL << (g->deaths < 6 ? g->deaths : 6);

		if (d > AW_RESTART_MAX_MS)
			d = AW_RESTART_MAX_MS;
		g->deaths++;
		g->restart_at = auth_fail_now_ms() + d;
		log_warnx("auth: module %s: worker died before serving; "
		    "next start in %llu s", g->name,
		    (unsigned long long)(d / 1000));
	} else if (g->restart_at == 0)
		g->restart_at = auth_fail_now_ms();
	if (c != NULL)
		conn_conclude(a, c, SATCHEL_AUTH_TEMPFAIL);
}

void
aw_readable(struct auth_ctx *a, struct aworker *w)
{
	static struct privsep_msg m;
	struct msg_aw_reply rp;
	struct aconn *c;
	int r;

	r = privsep_recv(w->ev.fd, &m, 0);
	if (r == -1 && errno == EAGAIN)
		return;
	if (r != 0 || w->busy == NULL || m.fd != -1 ||
	    msg_get_aw_reply(&m, &rp) == -1 || rp.result >
	    SATCHEL_AUTH_NOUSER) {
		if (m.fd != -1)
			close(m.fd);
		explicit_bzero(m.data, m.len);
		aw_gone(a, w, r == 1 ? "exited" : "sent a bad reply");
		return;
	}
	explicit_bzero(m.data, m.len);
	c = w->busy;
	w->busy = NULL;
	w->served = 1;
	w->g->deaths = 0;
	a->call_ended = 1;	/* held attempts may start: auth.c */
	conn_module_answer(a, c, &rp);
	explicit_bzero(&rp, sizeof(rp));
	group_dispatch(a, w->g);
}

int
aw_spawn(struct auth_ctx *a, struct agroup *g)
{
	struct aworker *w = NULL;
	size_t i;
	int sv[2];
	pid_t pid;

	for (i = 0; i < g->maxw; i++)
		if (g->w[i].pid == 0) {
			w = &g->w[i];
			break;
		}
	if (w == NULL)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("auth: socketpair");
		return -1;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("auth: fork module worker");
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		auth_worker_main(sv[1], a->s, g->idx);
		/* NOTREACHED */
	}
	close(sv[1]);
	memset(w, 0, sizeof(*w));
	w->ev.kind = EV_AW;
	w->ev.fd = sv[0];
	w->pid = pid;
	w->g = g;
	if (i + 1 > g->nw)
		g->nw = i + 1;
	ev_add(a, &w->ev);
	return 1;
}

/* Start the workers a group lacks, unless it is backing off. */

void
groups_maintain(struct auth_ctx *a, uint64_t now)
{
	struct agroup *g;
	size_t i, j;

	for (i = 0; i < a->ngroups; i++) {
		g = &a->groups[i];
		if (g->restart_at > now)
			continue;
		g->restart_at = 0;
		for (j = 0; j < g->maxw; j++)
			if (g->w[j].pid == 0 && aw_spawn(a, g) != 1)
				break;
		group_dispatch(a, g);
	}
}

/* ---- agents ------------------------------------------------------ */

/* Ask the spawner for spare agents: enough for what waits, doubling. */
