/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_conn.c -- the auth process's connections from workers: the
 * request table, each request's way through the module chain, the
 * failure delay, and the answer.  Runs in the auth process, as root;
 * everything a worker sends is checked here (see auth.c).
 */

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

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
#include "tarpit.h"
#include "auth_int.h"
#include "auth_proc.h"
#include "conf.h"
#include "log.h"
#include "mailloc.h"
#include "master.h"
#include "md5.h"
#include "module.h"
#include "msg.h"
#include "password.h"
#include "privsep.h"
#include "userfmt.h"
#include "stats_shm.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "compat/poison.h"


#ifdef HAVE_OPENSSL
static void conn_scram_first(struct auth_ctx *, struct aconn *, int);
#endif
static const char *conn_state_names[CS_NSTATES] = {
	"new", "challenged", "hold", "call", "scram-wait", "wait-agent",
	"reply", "proxy"
};

static void conn_failure(struct auth_ctx *, struct aconn *);
static void conn_try_start(struct auth_ctx *, struct aconn *);

static const char *
mech_name(uint32_t mech)
{
	switch (mech) {
	case MECH_PASS:
		return "pass";
	case MECH_APOP:
		return "apop";
	case MECH_CRAM:
		return "cram-md5";
	case MECH_SCRAM:
		return "scram";
	}
	return "?";
}

static void
lower_copy(char *dst, size_t dstsz, const char *prefix, const char *src)
{
	size_t o = strlcpy(dst, prefix, dstsz);

	for (; *src != '\0' && o + 1 < dstsz; src++)
		dst[o++] = *src >= 'A' && *src <= 'Z' ? (char)(*src + 32) :
		    *src;
	dst[o] = '\0';
}


void
conn_accept(struct auth_ctx *a)
{
	struct satcheld *s = a->s;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	struct aconn *c;
	int fd;

	while ((fd = accept4(s->auth_fd, NULL, NULL, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) != -1) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &credlen) == -1 || (cred.uid != s->worker_uid &&
		    cred.uid != 0)) {
			log_warnx("auth: connection from uid %ld refused",
			    (long)cred.uid);
			close(fd);
			continue;
		}
		if (a->nconns >= AUTH_CONNS_MAX || a->quitting ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			log_warnx("auth: too many open requests (%zu): "
			    "connection from worker %ld refused", a->nconns,
			    (long)cred.pid);
			close(fd);
			continue;
		}
		c->ev.kind = EV_CONN;
		c->ev.fd = fd;
		c->peer_pid = cred.pid;
		c->agent_fd = -1;
		c->pev.kind = EV_PROXY;
		c->pev.fd = -1;
		c->state = CS_NEW;
		c->wake_at = auth_fail_now_ms() + REQUEST_TTL_MS;
		c->next = a->conns;
		if (a->conns != NULL)
			a->conns->prev = c;
		a->conns = c;
		a->nconns++;
		ev_add(a, &c->ev);
	}
}

static void
conn_close_fd(struct auth_ctx *a, struct aconn *c)
{
	if (c->ev.fd != -1) {
		ev_del(a, &c->ev);
		close(c->ev.fd);
		c->ev.fd = -1;
	}
}

void
conn_free(struct auth_ctx *a, struct aconn *c)
{
	struct aconn **pp;

	if (c->dead)
		return;
	/* Still queued for a module or an agent: take it out. */
	if (c->state == CS_CALL && c->chain < a->ngroups) {
		struct agroup *g = &a->groups[c->chain];

		a->call_ended = 1;	/* one fewer under way */
		for (pp = &g->qhead; *pp != NULL; pp = &(*pp)->qnext)
			if (*pp == c) {
				*pp = c->qnext;
				break;
			}
		g->qtail = NULL;
		for (pp = &g->qhead; *pp != NULL; pp = &(*pp)->qnext)
			g->qtail = *pp;
	}
	if (c->state == CS_WAIT_AGENT) {
		for (pp = &a->wait_head; *pp != NULL; pp = &(*pp)->qnext)
			if (*pp == c) {
				*pp = c->qnext;
				break;
			}
		a->wait_tail = NULL;
		for (pp = &a->wait_head; *pp != NULL; pp = &(*pp)->qnext)
			a->wait_tail = *pp;
	}
	conn_close_fd(a, c);
	if (c->agent_fd != -1)
		close(c->agent_fd);
	conn_proxy_free(c);
#ifdef HAVE_OPENSSL
	if (c->scram != NULL) {
		explicit_bzero(c->scram, sizeof(*c->scram));
		free(c->scram);
	}
#endif
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	a->nconns--;
	/*
	 * Events of this round may still point here: the memory goes at
	 * the end of the round (auth_bury), wiped.
	 */
	c->dead = 1;
	c->wake_at = 0;
	c->qnext = a->grave;
	a->grave = c;
}

static void
conn_violation(struct auth_ctx *a, struct aconn *c, const char *what,
    uint32_t type)
{
	log_warnx("auth: session=%s worker %ld: %s (message %s in state "
	    "%s): request refused", c->session[0] != '\0' ? c->session : "-",
	    (long)c->peer_pid, what, msg_type_name(type),
	    conn_state_names[c->state]);
	conn_free(a, c);
}

/* MSG_AUTH_CHALLENGE_REQ: a fresh challenge, good for one answer. */

static int
req_challenge(struct auth_ctx *a, struct aconn *c, struct privsep_msg *m)
{
	struct msg_auth_challenge_req rq;
	struct msg_auth_challenge ch;
	unsigned char rnd[8];
	char hex[17];
	size_t i;

	if (msg_get_auth_challenge_req(m, &rq) == -1 || m->fd != -1 ||
	    (rq.mech != MECH_APOP && rq.mech != MECH_CRAM) ||
	    (rq.mech == MECH_APOP && !a->s->apop) || !a->s->lookup)
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	memset(&ch, 0, sizeof(ch));
	(void)snprintf(ch.text, sizeof(ch.text), "<%ld.%s@%.100s>",
	    (long)getpid(), hex, a->host);
	strlcpy(c->chal, ch.text, sizeof(c->chal));
	c->chal_mech = rq.mech;
	c->state = CS_CHALLENGED;
	c->wake_at = auth_fail_now_ms() + CHALLENGE_TTL_MS;
	return msg_send_auth_challenge(c->ev.fd, &ch, -1);
}

/* MSG_AUTH_REQUEST: check it, then start (or hold) the module calls. */

static int
req_request(struct auth_ctx *a, struct aconn *c, struct privsep_msg *m)
{
	struct msg_auth_request rq;
	int r;

	r = msg_get_auth_request(m, &rq);
	if (m->fd == -1) {
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	if (r == -1 || rq.mech < MECH_PASS || rq.mech > MECH_MAX ||
	    conn_client_addr(a, c, m->fd, &rq) == -1) {
		close(m->fd);
		m->fd = -1;
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	close(m->fd);
	m->fd = -1;
	/* A digest mechanism answers this connection's own challenge. */
	if (rq.mech == MECH_APOP || rq.mech == MECH_CRAM) {
		if (c->state != CS_CHALLENGED || c->chal_mech != rq.mech ||
		    strlen(rq.secret) != 32) {
			explicit_bzero(&rq, sizeof(rq));
			return -1;
		}
	} else if (c->state != CS_NEW) {
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	/* A master user login (auth_master.c): USER/PASS or PLAIN only. */
	if (rq.master[0] != '\0' && rq.mech != MECH_PASS) {
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	strlcpy(c->master, rq.master, sizeof(c->master));
	c->mech = rq.mech;
	c->tls = rq.tls != 0;
	strlcpy(c->session, rq.session, sizeof(c->session));
	strlcpy(c->user, rq.user, sizeof(c->user));
	memcpy(c->secret, rq.secret, sizeof(c->secret));
	explicit_bzero(&rq, sizeof(rq));
#ifdef HAVE_OPENSSL
	if (c->mech == MECH_SCRAM) {
		if ((c->scram = calloc(1, sizeof(*c->scram))) == NULL)
			return -1;
		if (scram_client_first(c->scram, c->secret,
		    strlen(c->secret)) == -1)
			c->user[0] = '\0';	/* fails below, with the delay */
		else
			strlcpy(c->user, c->scram->user, sizeof(c->user));
		explicit_bzero(c->secret, sizeof(c->secret));
	}
#endif
	/*
	 * auth_username_format, once, for every module alike: what the
	 * chain looks up, the failure counters count and the mail
	 * location expands (an empty result fails like a wrong password).
	 */
	(void)userfmt_rewrite(a->s->cf->auth_username_format, c->user,
	    sizeof(c->user));
	if (c->master[0] != '\0')
		(void)userfmt_rewrite(a->s->cf->auth_username_format,
		    c->master, sizeof(c->master));
	/* A master login's failures are the master's. */
	lower_copy(c->key_user, sizeof(c->key_user), "u:",
	    auth_charged_user(c));
	(void)snprintf(c->key_addr, sizeof(c->key_addr), "a:%s", c->remote);
	conn_try_start(a, c);
	return 0;
}

/*
 * Attempts of key under way in this process: module calls, and, when
 * scram is set, SCRAM exchanges waiting for their client-final (those
 * hold up only other SCRAM attempts of the same user, so a silent
 * client cannot lock a user out of USER/PASS).
 */
static size_t
conn_inflight(struct auth_ctx *a, const char *key, int user, int scram)
{
	struct aconn *o;
	size_t n = 0;

	for (o = a->conns; o != NULL; o = o->next)
		if ((o->state == CS_CALL || (scram &&
		    o->state == CS_SCRAM_WAIT)) &&
		    strcmp(user ? o->key_user : o->key_addr, key) == 0)
			n++;
	return n;
}

/*
 * Start c now, or hold it: while an earlier failure's delay runs for
 * its user or its address, and while too many attempts of the same
 * user (one) or address (INFLIGHT_ADDR_MAX, one after a failure) are
 * under way, so that many connections at once buy no more guesses
 * than one.
 */
/*
 * An attempt from c's address that came before c and waits only for
 * that address's count of attempts under way: c must not overtake it,
 * or a busy address (a NAT, a webmail host, a load balancer without
 * the PROXY protocol) would keep some of its logins waiting as long as
 * new ones keep coming.
 */
static int
conn_older_held(struct auth_ctx *a, const struct aconn *c)
{
	const struct aconn *o;

	for (o = a->conns; o != NULL; o = o->next)
		if (o != c && !o->dead && o->state == CS_HOLD &&
		    o->held_addr && o->seq < c->seq &&
		    strcmp(o->key_addr, c->key_addr) == 0)
			return 1;
	return 0;
}

static void
conn_try_start(struct auth_ctx *a, struct aconn *c)
{
	uint64_t now = auth_fail_now_ms(), hold, h2;
	size_t amax;
	int user_ok;

	hold = auth_fail_hold(c->key_user, now);
	if ((h2 = auth_fail_hold(c->key_addr, now)) > hold)
		hold = h2;
	amax = auth_fail_count(c->key_addr, TARPIT_WINDOW_MS, now) > 0 ? 1 :
	    INFLIGHT_ADDR_MAX;
	if (tarpit_allowed(a->s->cf, c->remote))
		amax = SIZE_MAX;
	if (c->seq == 0)
		c->seq = ++a->seq;
	user_ok = hold <= now && conn_inflight(a, c->key_user, 1,
	    c->mech == MECH_SCRAM) == 0;
	c->held_addr = 0;
	if (user_ok && conn_inflight(a, c->key_addr, 0, 0) < amax &&
	    !conn_older_held(a, c)) {
		conn_start(a, c);
		return;
	}
	c->held_addr = user_ok;
	c->state = CS_HOLD;
	c->wake_at = hold > now ? hold : now + HOLD_RECHECK_MS;
}

/*
 * A module call ended (auth.c, after each round of events): the
 * attempts held for their address's count start in the order they
 * came, at once rather than at their next timer, before any newer
 * one.  Oldest first: the list is newest first.  Once one of an
 * address stays held, the rest of that address stay too, so a round
 * costs one pass per address that waits (AUTH_WAKE_ADDRS at most).
 */
#define AUTH_WAKE_ADDRS	8

void
conn_wake_held(struct auth_ctx *a)
{
	const char *full[AUTH_WAKE_ADDRS];
	struct aconn *o, *prev;
	size_t nfull = 0, i;

	a->call_ended = 0;
	for (o = a->conns; o != NULL && o->next != NULL; o = o->next)
		;
	for (; o != NULL; o = prev) {
		prev = o->prev;
		if (o->dead || o->state != CS_HOLD || !o->held_addr)
			continue;
		for (i = 0; i < nfull; i++)
			if (strcmp(full[i], o->key_addr) == 0)
				break;
		if (i < nfull)
			continue;
		conn_try_start(a, o);
		if (o->state == CS_HOLD && o->held_addr) {
			if (nfull == AUTH_WAKE_ADDRS)
				break;
			full[nfull++] = o->key_addr;
		}
	}
}

#ifdef HAVE_OPENSSL
/* MSG_AUTH_SCRAM_FINAL: check the client's proof. */

static int
req_scram_final(struct auth_ctx *a, struct aconn *c, struct privsep_msg *m)
{
	struct msg_auth_data d;
	int r, known = c->status == SATCHEL_AUTH_OK;

	if (m->fd != -1 || msg_get_auth_data(m, MSG_AUTH_SCRAM_FINAL, &d) ==
	    -1)
		return -1;
	c->start = auth_fail_now_ms();
	r = scram_client_final(c->scram, d.data, strlen(d.data), c->data,
	    sizeof(c->data));
	explicit_bzero(&d, sizeof(d));
	explicit_bzero(c->scram, sizeof(*c->scram));
	c->wake_at = 0;
	conn_conclude(a, c, r == 1 && known ? SATCHEL_AUTH_OK :
	    SATCHEL_AUTH_FAIL);
	return 0;
}
#endif

/*
 * The request table: what a worker may send, in which states.  Any
 * other message, or one in the wrong state, ends the connection.
 */
static const struct auth_request {
	uint32_t	 type;
	uint32_t	 states;
	int		 (*handler)(struct auth_ctx *, struct aconn *,
			    struct privsep_msg *);
} auth_requests[] = {
	{ MSG_AUTH_CHALLENGE_REQ, ST(CS_NEW), req_challenge },
	{ MSG_AUTH_REQUEST, ST(CS_NEW) | ST(CS_CHALLENGED), req_request },
#ifdef HAVE_OPENSSL
	{ MSG_AUTH_SCRAM_FINAL, ST(CS_SCRAM_WAIT), req_scram_final },
#endif
	/* From the master only (checked there): satchelctl. */
	{ MSG_CTL_HANDOFF, ST(CS_NEW), auth_ctl_handoff },
};

void
conn_readable(struct auth_ctx *a, struct aconn *c)
{
	static struct privsep_msg m;
	size_t i;
	int r;

	r = privsep_recv(c->ev.fd, &m, 0);
	if (r != 0) {
		if (r == -1 && (errno == EAGAIN || errno == ETIMEDOUT))
			return;
		if (r == -1)
			log_warnx("auth: worker %ld: malformed message",
			    (long)c->peer_pid);
		/* The worker went away: a call still out finishes first. */
		if (c->state == CS_CALL) {
			conn_close_fd(a, c);
			c->orphan = 1;
			return;
		}
		conn_free(a, c);
		return;
	}
	for (i = 0; i < nitems(auth_requests); i++)
		if (auth_requests[i].type == m.type)
			break;
	if (i == nitems(auth_requests) ||
	    (auth_requests[i].states & ST(c->state)) == 0) {
		if (m.fd != -1)
			close(m.fd);
		explicit_bzero(m.data, m.len);
		conn_violation(a, c, "message not permitted", m.type);
		return;
	}
	r = auth_requests[i].handler(a, c, &m);
	if (m.fd != -1)
		close(m.fd);
	explicit_bzero(m.data, m.len);
	if (r == -1)
		conn_violation(a, c, "malformed or refused request", m.type);
}

/* Processing starts now: the timing of the answer counts from here. */

void
conn_start(struct auth_ctx *a, struct aconn *c)
{
	c->start = auth_fail_now_ms();
	c->wake_at = 0;
	c->chain = 0;
	if (c->user[0] == '\0' || user_name_valid(c->user) == -1 ||
	    auth_master_start(a, c) == -1) {
		/* Same answer and time as a wrong password. */
		conn_conclude(a, c, SATCHEL_AUTH_FAIL);
		return;
	}
	conn_chain(a, c);
}

/* Queue c at the next module of the chain that can answer its mech. */

void
conn_chain(struct auth_ctx *a, struct aconn *c)
{
	struct agroup *g;

	for (; c->chain < a->ngroups; c->chain++)
		if (auth_master_serves(c, &a->groups[c->chain]))
			break;
	if (c->chain == a->ngroups) {
#ifdef HAVE_OPENSSL
		/* An unknown SCRAM user gets made-up keys and the whole
		 * exchange, so it looks like any other failure. */
		if (c->mech == MECH_SCRAM) {
			conn_scram_first(a, c, 0);
			return;
		}
#endif
		conn_conclude(a, c, SATCHEL_AUTH_NOUSER);
		return;
	}
	g = &a->groups[c->chain];
	if (g->nw == 0 && g->restart_at == 0) {
		conn_conclude(a, c, SATCHEL_AUTH_TEMPFAIL);
		return;
	}
	group_enqueue(a, g, c);
}

/* Compare an APOP or CRAM-MD5 digest with one made from the secret. */

static int
conn_digest_ok(struct aconn *c, const char *cred)
{
	unsigned char digest[16];
	struct satchel_md5 md5;
	char hex[33];
	const char *secret;
	int ok;

	/* CRAM-MD5: a {PLAIN} secret or Dovecot's stored {CRAM-MD5}. */
	if (c->mech == MECH_CRAM)
		return password_cram_md5_verify(cred, c->chal, c->secret) == 1;
	if (strncmp(cred, "{PLAIN}", 7) != 0)
		return 0;
	secret = cred + 7;
	md5_init(&md5);
	md5_update(&md5, c->chal, strlen(c->chal));
	md5_update(&md5, secret, strlen(secret));
	md5_final(&md5, digest);
	md5_hex(digest, hex);
	ok = timingsafe_bcmp(hex, c->secret, 32) == 0;
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(digest, sizeof(digest));
	explicit_bzero(&md5, sizeof(md5));
	return ok;
}

#ifdef HAVE_OPENSSL

/*
 * SCRAM's server-first message, with the user's keys when known, else
 * with made-up ones that no proof matches.
 */
static void
conn_scram_first(struct auth_ctx *a, struct aconn *c, int known)
{
	struct msg_auth_data d;

	if (!known)
		scram_fake_keys(c->scram);
	c->status = known ? SATCHEL_AUTH_OK : SATCHEL_AUTH_FAIL;
	memset(&d, 0, sizeof(d));
	if (scram_server_first(c->scram, d.data, sizeof(d.data)) == -1 ||
	    msg_send_auth_data(c->ev.fd, MSG_AUTH_CONTINUE, &d) == -1) {
		conn_conclude(a, c, SATCHEL_AUTH_FAIL);
		return;
	}
	/* The client answers within the worker's login deadline. */
	c->state = CS_SCRAM_WAIT;
	c->wake_at = auth_fail_now_ms() +
	    (uint64_t)a->s->cf->timeout_preauth * 1000 + 5000;
}
#endif

/* An auth worker answered c's call. */

void
conn_module_answer(struct auth_ctx *a, struct aconn *c,
    struct msg_aw_reply *rp)
{
	uint32_t r = rp->result;

	if (c->ctl != NULL) {
		auth_ctl_answer(a, c, r, &rp->user);	/* satchelctl */
		return;
	}
	c->reason = rp->user.reason;
	if (c->orphan) {
		conn_free(a, c);
		return;
	}
	if (auth_master_answer(a, c, r))
		return;
	if (r == SATCHEL_AUTH_NOUSER) {
		c->chain++;
		conn_chain(a, c);
		return;
	}
	if (r == SATCHEL_AUTH_OK)
		c->urec = rp->user;
	switch (c->mech) {
	case MECH_APOP:
	case MECH_CRAM:
		if (r == SATCHEL_AUTH_OK && !conn_digest_ok(c, rp->cred))
			r = SATCHEL_AUTH_FAIL;
		break;
#ifdef HAVE_OPENSSL
	case MECH_SCRAM:
		if (r == SATCHEL_AUTH_TEMPFAIL || r == SATCHEL_AUTH_ERROR)
			break;
		conn_scram_first(a, c, r == SATCHEL_AUTH_OK &&
		    strncmp(rp->cred, "{SCRAM-SHA-256}", 15) == 0 &&
		    scram_parse_stored(rp->cred + 15, &c->scram->keys) == 0);
		return;
#endif
	default:
		break;
	}
	conn_conclude(a, c, r);
}

static void
conn_failure(struct auth_ctx *a, struct aconn *c)
{
	uint64_t now = auth_fail_now_ms(), at;
	uint32_t delay;
	char vis[128], mvis[140];

	/*
	 * Counted from the start of processing, not from its end: every
	 * failure takes the same time whatever the module or scheme did.
	 */
	delay = tarpit_login(a->s->cf, auth_charged_user(c), c->remote,
	    c->status, c->start);
	at = c->start + delay;
	log_vis(vis, sizeof(vis), c->user, strlen(c->user));
	auth_master_log(c, mvis, sizeof(mvis));
	log_info("session=%s event=auth-check user=%s addr=%s mech=%s "
	    "result=%s failures=%u delay_ms=%u%s", c->session, vis, c->remote,
	    mech_name(c->mech), c->status == SATCHEL_AUTH_ERROR ? "error" :
	    "fail", auth_fail_count(c->key_addr, TARPIT_WINDOW_MS, now),
	    delay, mvis);
	if (a->s->cf->auth_verbose)
		log_info("session=%s event=auth-reason user=%s addr=%s "
		    "mech=%s module=%s reason=%s%s", c->session, vis,
		    c->remote, mech_name(c->mech), c->chain < a->ngroups ?
		    a->groups[c->chain].name : "-",
		    auth_reason_name(c->status, c->reason), mvis);
	c->state = CS_REPLY;
	c->wake_at = at;
	if (at <= now)
		conn_send_result(a, c);
}

/* The outcome is known: answer, after the delay for a failure. */

void
conn_conclude(struct auth_ctx *a, struct aconn *c, uint32_t r)
{
	struct msg_agent_start st;
	int g;

	explicit_bzero(c->secret, sizeof(c->secret));
	if (c->ctl != NULL) {
		/* A module worker died or timed out on satchelctl's call. */
		auth_ctl_answer(a, c, r, NULL);
		return;
	}
	if (r == SATCHEL_AUTH_NOUSER) {
		r = SATCHEL_AUTH_FAIL;
		c->reason = SATCHEL_REASON_UNKNOWN_USER;
	}
	c->status = r;
	if (r == SATCHEL_AUTH_OK) {
		c->urec.name[sizeof(c->urec.name) - 1] = '\0';
		if (c->urec.name[0] == '\0')
			strlcpy(c->urec.name, c->user, sizeof(c->urec.name));
		/* A module's own spelling ("frank@EXAMPLE.org") too. */
		(void)userfmt_rewrite(a->s->cf->auth_username_format,
		    c->urec.name, sizeof(c->urec.name));
		if (user_name_valid(c->urec.name) == -1) {
			log_warnx("session=%s module %s returned an invalid "
			    "user name", c->session, c->chain < a->ngroups ?
			    a->groups[c->chain].name : "?");
			c->status = SATCHEL_AUTH_ERROR;
		}
	}
	stats_login(c->chain < a->ngroups ? a->groups[c->chain].name : NULL,
	    (int)c->status, auth_fail_now_ms() - c->start);	/* metrics */
	if (c->status == SATCHEL_AUTH_FAIL || c->status ==
	    SATCHEL_AUTH_ERROR) {
		conn_failure(a, c);
		return;
	}
	if (c->status == SATCHEL_AUTH_TEMPFAIL) {
		if (a->s->cf->auth_verbose) {
			char vis[128];

			log_vis(vis, sizeof(vis), c->user, strlen(c->user));
			log_info("session=%s event=auth-reason user=%s addr=%s "
			    "mech=%s module=%s reason=%s", c->session, vis,
			    c->remote, mech_name(c->mech), c->chain <
			    a->ngroups ? a->groups[c->chain].name : "-",
			    auth_reason_name(c->status, c->reason));
		}
		conn_send_result(a, c);
		return;
	}
	(void)tarpit_login(a->s->cf, auth_charged_user(c), c->remote,
	    SATCHEL_AUTH_OK, c->start);
	/* Proxy mode: no mailbox here; the backend's socket instead. */
	if (c->urec.proxy) {
		conn_proxy_start(a, c);
		return;
	}
	memset(&st, 0, sizeof(st));
	if (conn_agent_id(a, c, &st) == -1) {
		c->status = SATCHEL_AUTH_ERROR;
		conn_send_result(a, c);
		return;
	}
	if ((g = conn_give_agent(a, c, &st)) == 0) {
		/* Wait for a spare; the spawner is asked for more. */
		c->state = CS_WAIT_AGENT;
		c->wake_at = auth_fail_now_ms() + 30000;
		c->qnext = NULL;
		if (a->wait_tail != NULL)
			a->wait_tail->qnext = c;
		else
			a->wait_head = c;
		a->wait_tail = c;
		agents_ask(a, 1);
		return;
	}
	if (g == -1)
		c->status = SATCHEL_AUTH_TEMPFAIL;
	conn_send_result(a, c);
}

void
conn_send_result(struct auth_ctx *a, struct aconn *c)
{
	struct msg_auth_result res;
	struct config *cf = a->s->cf;

	memset(&res, 0, sizeof(res));
	res.status = c->status;
	if (c->status == SATCHEL_AUTH_OK) {
		res.login_delay = c->urec.login_delay > 0 ?
		    c->urec.login_delay : cf->login_delay;
		strlcpy(res.user, c->urec.name, sizeof(res.user));
		strlcpy(res.data, c->data, sizeof(res.data));
	}
	if (c->ev.fd != -1 && msg_send_auth_result(c->ev.fd, &res,
	    c->status == SATCHEL_AUTH_OK ? c->agent_fd : -1) == -1)
		log_warn("auth: reply to worker %ld", (long)c->peer_pid);
	explicit_bzero(&res, sizeof(res));
	conn_free(a, c);
}

/* A timer of c expired. */

void
conn_timer(struct auth_ctx *a, struct aconn *c)
{
	switch (c->state) {
	case CS_HOLD:
		conn_try_start(a, c);
		break;
	case CS_REPLY:
		conn_send_result(a, c);
		break;
	case CS_SCRAM_WAIT:
		/* The client never answered: a failure like any other. */
		conn_conclude(a, c, SATCHEL_AUTH_FAIL);
		break;
	case CS_PROXY:
		conn_proxy_timeout(a, c);
		break;
	case CS_WAIT_AGENT:
		log_warnx("session=%s auth: no mailbox agent within 30 s",
		    c->session);
		c->status = SATCHEL_AUTH_TEMPFAIL;
		conn_send_result(a, c);
		break;
	default:
		/* A connection that asked nothing, or an unused challenge. */
		conn_free(a, c);
		break;
	}
}

