/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_agents.c -- the auth process's mailbox agents: spares from the
 * spawner, agents kept between sessions by uid, gid and groups, and the
 * choice of one for a login.  Runs in the auth process, as root.
 *
 * Caution: an agent that served a session has dropped to its user for
 * good; it is only ever given sessions whose uid, gid and groups are
 * the same, and it checks that itself as well (agent.c).
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

/*
 * The uid, gid and groups the user's agent runs with.  -1 for an
 * account that can never work ([SYS/PERM]).
 */
int
conn_agent_id(struct auth_ctx *a, struct aconn *c, struct msg_agent_start *st)
{
	struct satcheld *s = a->s;
	struct config *cf = s->cf;
	struct satchel_user *u = &c->urec;
	const char *loc, *err;
	char vis[128];
	size_t i;

	log_vis(vis, sizeof(vis), u->name, strlen(u->name));
	loc = u->mail[0] != '\0' ? u->mail : cf->mail_location;
	if (mailloc_expand(loc, u, st->driver, sizeof(st->driver), st->path,
	    sizeof(st->path), &err) == -1) {
		log_warnx("session=%s user %s: %s", c->session, vis, err);
		return -1;
	}
	if (module_find(s->storage, st->driver) == NULL) {
		log_warnx("session=%s user %s: no storage module '%s'",
		    c->session, vis, st->driver);
		return -1;
	}
	if (!u->uid_set) {
		if (cf->mail_uid < 0 && s->privileged) {
			log_warnx("session=%s user %s: no uid from the auth "
			    "module and mail_uid is not set", c->session, vis);
			return -1;
		}
		u->uid = cf->mail_uid < 0 ? geteuid() : (uid_t)cf->mail_uid;
	}
	if (!u->gid_set) {
		if (cf->mail_gid < 0 && s->privileged) {
			log_warnx("session=%s user %s: no gid from the auth "
			    "module and mail_gid is not set", c->session, vis);
			return -1;
		}
		u->gid = cf->mail_gid < 0 ? getegid() : (gid_t)cf->mail_gid;
	}
	if (s->privileged && (u->uid < cf->first_valid_uid || u->uid == 0)) {
		log_warnx("session=%s user %s: uid %lu is below "
		    "first_valid_uid (%lu): refused", c->session, vis,
		    (unsigned long)u->uid, cf->first_valid_uid);
		return -1;
	}
	if (s->privileged && (u->gid < AUTH_FIRST_VALID_GID(cf) ||
	    u->gid == 0)) {
		log_warnx("session=%s user %s: gid %lu is below "
		    "first_valid_gid (%lu): refused", c->session, vis,
		    (unsigned long)u->gid,
		    (unsigned long)AUTH_FIRST_VALID_GID(cf));
		return -1;
	}
	strlcpy(st->user, u->name, sizeof(st->user));
	strlcpy(st->home, u->home, sizeof(st->home));
	strlcpy(st->session, c->session, sizeof(st->session));
	st->uid = (uint32_t)u->uid;
	st->gid = (uint32_t)u->gid;
	st->groups[0] = st->gid;
	st->ngroups = 1;
	/*
	 * mail_extra_groups (the group "mail" of /var/mail) only for
	 * mailboxes that need it: an mbox spool.  A Maildir agent never
	 * gets them, so a symlink in a Maildir cannot reach a file the
	 * group could read.
	 */
	if (strcmp(st->driver, "mbox") == 0)
		for (i = 0; i < a->nextra && st->ngroups < MSG_GROUPS_MAX;
		    i++)
			if (a->extra[i] != st->gid)
				st->groups[st->ngroups++] = a->extra[i];
	return 0;
}

static int
agent_same_id(const struct msg_agent_start *x, const struct msg_agent_start *y)
{
	return x->uid == y->uid && x->gid == y->gid &&
	    x->ngroups == y->ngroups && memcmp(x->groups, y->groups,
	    x->ngroups * sizeof(x->groups[0])) == 0;
}

void
agent_drop(struct auth_ctx *a, struct agentref *r)
{
	if (r->dead)
		return;
	ev_del(a, &r->ev);
	close(r->ev.fd);
	if (r->spare)
		a->nspare--;
	else if (!r->busy)
		a->nidle--;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		a->agents = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->dead = 1;
	r->next = a->agrave;
	a->agrave = r;
}

/*
 * Give c's session to an agent: an idle one of the same uid, gid and
 * groups if there is one, else a spare.  1 done, 0 no agent free (c
 * must wait), -1 failed ([SYS/TEMP]).
 */
static struct agentref *
agent_pick(struct auth_ctx *a, const struct msg_agent_start *st)
{
	struct agentref *r;

	for (r = a->agents; r != NULL; r = r->next)
		if (!r->busy && !r->spare && agent_same_id(&r->id, st))
			return r;
	for (r = a->agents; r != NULL; r = r->next)
		if (r->spare)
			return r;
	return NULL;
}

int
conn_give_agent(struct auth_ctx *a, struct aconn *c,
    const struct msg_agent_start *st)
{
	struct agentref *r;
	int sv[2];

	if (agent_pick(a, st) == NULL)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("auth: socketpair");
		return -1;
	}
	while ((r = agent_pick(a, st)) != NULL) {
		if (msg_send_agent_start(r->ev.fd, st, sv[1]) == 0)
			break;
		/* That agent died since: try the next candidate. */
		agent_drop(a, r);
	}
	close(sv[1]);
	if (r == NULL) {
		close(sv[0]);
		return 0;
	}
	if (r->spare) {
		r->spare = 0;
		a->nspare--;
		agents_ask(a, 0);
	} else
		a->nidle--;
	r->busy = 1;
	r->id = *st;
	c->agent_fd = sv[0];
	return 1;
}

void
agents_ask(struct auth_ctx *a, size_t waiting)
{
	struct msg_spawn_more more;
	size_t want, have = a->nspare + a->spares_asked;

	want = AGENT_SPARES_MIN;
	if (waiting > 0 || a->nspare == 0)
		want = have * 2 > want ? have * 2 : want;
	if (want > AGENT_SPARES_MAX)
		want = AGENT_SPARES_MAX;
	if (have >= want || a->spawner_ev.fd == -1)
		return;
	more.n = (uint32_t)(want - have);
	if (msg_send_spawn_more(a->spawner_ev.fd, &more, -1) == -1) {
		log_warn("auth: agent spawner");
		return;
	}
	a->spares_asked += more.n;
}

void
spawner_readable(struct auth_ctx *a)
{
	static struct privsep_msg m;
	struct agentref *r;
	struct aconn *c;
	int rv;

	rv = privsep_recv(a->spawner_ev.fd, &m, 0);
	if (rv == -1 && errno == EAGAIN)
		return;
	if (rv != 0 || m.type != MSG_SPAWN_AGENT || m.len != 0 ||
	    m.fd == -1) {
		if (m.fd != -1)
			close(m.fd);
		log_warnx("auth: the agent spawner is gone: exiting, the "
		    "master starts a new auth process");
		ev_del(a, &a->spawner_ev);
		close(a->spawner_ev.fd);
		a->spawner_ev.fd = -1;
		a->quitting = 1;
		return;
	}
	if (a->spares_asked > 0)
		a->spares_asked--;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		close(m.fd);
		return;
	}
	r->ev.kind = EV_AGENT;
	r->ev.fd = m.fd;
	r->spare = 1;
	r->next = a->agents;
	if (a->agents != NULL)
		a->agents->prev = r;
	a->agents = r;
	a->nspare++;
	ev_add(a, &r->ev);
	/* Logins waiting for an agent take it in order. */
	while ((c = a->wait_head) != NULL) {
		struct msg_agent_start st;
		int g;

		memset(&st, 0, sizeof(st));
		if (conn_agent_id(a, c, &st) == -1)
			g = -1;
		else if ((g = conn_give_agent(a, c, &st)) == 0)
			break;
		a->wait_head = c->qnext;
		if (a->wait_head == NULL)
			a->wait_tail = NULL;
		c->qnext = NULL;
		c->state = CS_REPLY;
		if (g == -1)
			c->status = SATCHEL_AUTH_TEMPFAIL;
		conn_send_result(a, c);
	}
}

void
agent_readable(struct auth_ctx *a, struct agentref *r)
{
	static struct privsep_msg m;
	struct msg_agent_idle idle;
	int rv;

	rv = privsep_recv(r->ev.fd, &m, 0);
	if (rv == -1 && errno == EAGAIN)
		return;
	if (rv != 0 || m.fd != -1 || !r->busy ||
	    msg_get_agent_idle(&m, &idle) == -1) {
		if (rv == 0 && m.fd != -1)
			close(m.fd);
		if (rv == 0)
			log_warnx("auth: agent sent %s: dropped",
			    msg_type_name(m.type));
		agent_drop(a, r);
		return;
	}
	/* Keep it for a later session of the same user id, or retire it. */
	if (idle.sessions >= a->s->cf->agent_max_sessions ||
	    a->nidle >= AGENT_IDLE_MAX || a->quitting) {
		agent_drop(a, r);
		return;
	}
	r->busy = 0;
	r->idle_since = auth_fail_now_ms();
	a->nidle++;
}

void
agents_expire(struct auth_ctx *a, uint64_t now)
{
	struct agentref *r, *next;

	for (r = a->agents; r != NULL; r = next) {
		next = r->next;
		if (!r->busy && !r->spare &&
		    now - r->idle_since > AGENT_IDLE_TIMEOUT_MS)
			agent_drop(a, r);
	}
}

