/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_ctl.c -- "satchelctl auth test USER" and "satchelctl user USER",
 * answered by the auth process itself.  Runs in the auth process, as
 * root.
 *
 * The master accepts the admin's connection on the control socket
 * (control.c), reads the command line and nothing else, and hands the
 * connection over to the auth pool on the pool's own socket
 * (MSG_CTL_HANDOFF, with the descriptor).  Only then does the pool ask
 * the admin's tool for the password ("+PASSWORD"), so the master never
 * holds it, not even in a socket buffer it reads.  Every module of the
 * chain is asked in turn, each through its own module workers like a
 * login, and each one's answer goes back to the admin: ok, unknown
 * user, password mismatch, disabled, scheme unsupported, backend down.
 *
 * Caution: none of this is a login.  No failure is counted or delayed
 * (auth_fail.c, tarpit.c never see it), no agent is started, and the
 * answers reach only the admin (root: control.c checks SO_PEERCRED;
 * here, the handoff is accepted only from the master, uid 0 and our
 * parent).  The password is wiped as soon as the last module has been
 * asked.
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth_fail.h"
#include "auth_proc.h"
#include "conf.h"
#include "log.h"
#include "peercred.h"
#include "mailloc.h"
#include "master.h"
#include "msg.h"
#include "privsep.h"
#include "compat/poison.h"

#define CTL_PASSWORD_TTL_MS	(15 * 1000)

struct actl {
	struct ev		 ev;		/* first: epoll points here */
	uint32_t		 op;		/* CTL_OP_* */
	char			 user[SATCHEL_USER_MAX + 1];
	char			 pass[MSG_SECRET_MAX];
	char			 in[MSG_SECRET_MAX + 2];
	size_t			 inlen;
	size_t			 idx;		/* module being asked */
	int			 reading;	/* for the password */
	uint64_t		 deadline;
	/* What the chain as a whole would decide: the first answer that
	 * is not "unknown user". */
	int			 decided;
	uint32_t		 verdict;
	uint32_t		 verdict_reason;
	size_t			 verdict_mod;
	int			 dead;
	struct actl		*next;
};

static struct actl *ctls;

static void ctl_next(struct auth_ctx *, struct actl *);
static void ctl_finish(struct auth_ctx *, struct actl *);

const char *
auth_reason_name(uint32_t result, uint32_t reason)
{
	switch (result) {
	case SATCHEL_AUTH_OK:
		return "ok";
	case SATCHEL_AUTH_NOUSER:
		return "unknown-user";
	case SATCHEL_AUTH_TEMPFAIL:
		return "backend-down";
	default:
		break;
	}
	switch (reason) {
	case SATCHEL_REASON_UNKNOWN_USER:
		return "unknown-user";
	case SATCHEL_REASON_MISMATCH:
		return "password-mismatch";
	case SATCHEL_REASON_DISABLED:
		return "disabled";
	case SATCHEL_REASON_SCHEME:
		return "scheme-unsupported";
	case SATCHEL_REASON_BACKEND:
		return "backend-down";
	case SATCHEL_REASON_ONEWAY:
		return "no-plaintext-secret";
	}
	return result == SATCHEL_AUTH_ERROR ? "error" : "denied";
}

/* Best effort: the answers are short and the socket buffer holds them. */
static void
ctl_write(struct actl *t, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (t->ev.fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!send(t->ev.fd, line, (size_t)n, MSG_NOSIGNAL);
}

static void
ctl_finish(struct auth_ctx *a, struct actl *t)
{
	if (t->dead)
		return;
	if (t->reading)
		ev_del(a, &t->ev);
	t->reading = 0;
	if (t->ev.fd != -1)
		close(t->ev.fd);
	t->ev.fd = -1;
	explicit_bzero(t->pass, sizeof(t->pass));
	explicit_bzero(t->in, sizeof(t->in));
	t->dead = 1;	/* freed by auth_ctl_tick, after this round */
}

/* MSG_CTL_HANDOFF from the master: take over the admin's connection. */

int
auth_ctl_handoff(struct auth_ctx *a, struct aconn *c, struct privsep_msg *m)
{
	struct msg_ctl_handoff h;
	struct actl *t;
	char vis[128];

	/* Only the master (root, our parent) hands satchelctl over. */
	if (peercred_is(c->ev.fd, 0, getppid(), NULL, NULL) != 1 ||
	    m->fd == -1 || msg_get_ctl_handoff(m, &h) == -1 ||
	    (h.op != CTL_OP_AUTH_TEST && h.op != CTL_OP_USER))
		return -1;	/* logged as a violation by the caller */
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->ev.kind = EV_CTL;
	t->ev.fd = m->fd;
	m->fd = -1;
	(void)fcntl(t->ev.fd, F_SETFL, fcntl(t->ev.fd, F_GETFL) | O_NONBLOCK);
	(void)fcntl(t->ev.fd, F_SETFD, FD_CLOEXEC);
	t->op = h.op;
	strlcpy(t->user, h.user, sizeof(t->user));
	t->next = ctls;
	ctls = t;
	/* The master's connection has done its part. */
	conn_free(a, c);

	log_vis(vis, sizeof(vis), t->user, strlen(t->user));
	log_info("satchelctl: %s user=%s", t->op == CTL_OP_USER ? "user" :
	    "auth test", vis);
	if (user_name_valid(t->user) == -1) {
		ctl_write(t, "-ERR invalid user name");
		ctl_finish(a, t);
		return 0;
	}
	if (t->op == CTL_OP_AUTH_TEST) {
		/* Only now may the tool send the password: to us. */
		t->reading = 1;
		t->deadline = auth_fail_now_ms() + CTL_PASSWORD_TTL_MS;
		ev_add(a, &t->ev);
		ctl_write(t, "+PASSWORD");
		return 0;
	}
	ctl_next(a, t);
	return 0;
}

void
auth_ctl_readable(struct auth_ctx *a, struct actl *t)
{
	char *nl;
	ssize_t n;

	if (t->dead || !t->reading)
		return;
	n = read(t->ev.fd, t->in + t->inlen, sizeof(t->in) - 1 - t->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_finish(a, t);
		return;
	}
	t->inlen += (size_t)n;
	if ((nl = memchr(t->in, '\n', t->inlen)) == NULL) {
		if (t->inlen >= sizeof(t->in) - 1) {
			ctl_write(t, "-ERR password too long");
			ctl_finish(a, t);
		}
		return;
	}
	*nl = '\0';
	if (nl > t->in && nl[-1] == '\r')
		nl[-1] = '\0';
	if (strlen(t->in) >= sizeof(t->pass)) {
		ctl_write(t, "-ERR password too long");
		ctl_finish(a, t);
		return;
	}
	strlcpy(t->pass, t->in, sizeof(t->pass));
	explicit_bzero(t->in, sizeof(t->in));
	ev_del(a, &t->ev);
	t->reading = 0;
	ctl_next(a, t);
}

static void
ctl_session(char *id, size_t idsz)
{
	unsigned char rnd[8];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	for (i = 0; i < sizeof(rnd) && 2 * i + 2 < idsz; i++)
		(void)snprintf(id + 2 * i, 3, "%02x", rnd[i]);
}

/* The end: the chain's verdict for a test, or "unknown user". */

static void
ctl_done(struct auth_ctx *a, struct actl *t)
{
	if (t->op == CTL_OP_AUTH_TEST) {
		if (t->decided)
			ctl_write(t, "result: %s (module %s)",
			    auth_reason_name(t->verdict, t->verdict_reason),
			    a->groups[t->verdict_mod].name);
		else
			ctl_write(t, "result: unknown-user");
		ctl_write(t, "+OK");
	} else
		ctl_write(t, "-ERR unknown user: no module of the chain "
		    "knows it");
	ctl_finish(a, t);
}

/* Ask the module at t->idx, or finish. */

static void
ctl_next(struct auth_ctx *a, struct actl *t)
{
	struct agroup *g;
	struct aconn *c;

	for (; t->idx < a->ngroups; t->idx++) {
		g = &a->groups[t->idx];
		if (t->op == CTL_OP_USER && !g->lookup) {
			ctl_write(t, "%s: cannot look users up without a "
			    "password", g->name);
			continue;
		}
		if (g->nw == 0 && g->restart_at == 0) {
			ctl_write(t, "%s: backend-down (no module worker)",
			    g->name);
			continue;
		}
		break;
	}
	if (t->idx == a->ngroups) {
		ctl_done(a, t);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		ctl_write(t, "-ERR out of memory");
		ctl_finish(a, t);
		return;
	}
	/* A connection of its own, without a socket: the chain's call. */
	c->ev.kind = EV_CONN;
	c->ev.fd = -1;
	c->agent_fd = -1;
	c->ctl = t;
	c->chain = t->idx;
	c->mech = t->op == CTL_OP_AUTH_TEST ? MECH_PASS : MECH_CTL_USER;
	strlcpy(c->user, t->user, sizeof(c->user));
	if (t->op == CTL_OP_AUTH_TEST)
		strlcpy(c->secret, t->pass, sizeof(c->secret));
	strlcpy(c->remote, "127.0.0.1", sizeof(c->remote));
	strlcpy(c->local, "127.0.0.1", sizeof(c->local));
	ctl_session(c->session, sizeof(c->session));
	c->start = auth_fail_now_ms();
	c->next = a->conns;
	if (a->conns != NULL)
		a->conns->prev = c;
	a->conns = c;
	a->nconns++;
	g = &a->groups[t->idx];
	group_enqueue(a, g, c);
}

/* The user record as a login would resolve it (conn_agent_id). */

static void
ctl_user_answer(struct auth_ctx *a, struct actl *t, struct aconn *c)
{
	struct msg_agent_start st;

	memset(&st, 0, sizeof(st));
	if (c->urec.name[0] == '\0')
		strlcpy(c->urec.name, t->user, sizeof(c->urec.name));
	c->urec.name[sizeof(c->urec.name) - 1] = '\0';
	if (conn_agent_id(a, c, &st) == -1) {
		ctl_write(t, "-ERR %s: user %s found, but no usable mailbox "
		    "(see the log)", a->groups[t->idx].name, t->user);
		return;
	}
	ctl_write(t, "user: %s", st.user);
	ctl_write(t, "module: %s", a->groups[t->idx].name);
	ctl_write(t, "uid: %lu", (unsigned long)st.uid);
	ctl_write(t, "gid: %lu", (unsigned long)st.gid);
	ctl_write(t, "home: %s", st.home);
	ctl_write(t, "mail: %s:%s", st.driver, st.path);
	ctl_write(t, "+OK");
}

/*
 * A module answered (u is NULL when its worker died or timed out: r is
 * then TEMPFAIL).  Called from conn_module_answer() and conn_conclude().
 */
void
auth_ctl_answer(struct auth_ctx *a, struct aconn *c, uint32_t r,
    const struct satchel_user *u)
{
	struct actl *t = c->ctl;
	uint32_t reason = u != NULL ? u->reason : SATCHEL_REASON_BACKEND;
	const char *name = a->groups[t->idx].name;

	explicit_bzero(c->secret, sizeof(c->secret));
	if (t->dead) {
		c->ctl = NULL;
		conn_free(a, c);
		return;
	}
	if (t->op == CTL_OP_USER) {
		if (r == SATCHEL_AUTH_OK && u != NULL) {
			c->urec = *u;
			ctl_user_answer(a, t, c);
			ctl_finish(a, t);
		} else if (r != SATCHEL_AUTH_NOUSER) {
			ctl_write(t, "-ERR %s: %s", name,
			    auth_reason_name(r, reason));
			ctl_finish(a, t);
		}
	} else {
		if (r == SATCHEL_AUTH_OK && u != NULL) {
			char vis[128];

			log_vis(vis, sizeof(vis), u->name, strlen(u->name));
			ctl_write(t, "%s: ok user=%s", name, vis[0] != '\0' ?
			    vis : t->user);
		} else
			ctl_write(t, "%s: %s", name, auth_reason_name(r,
			    reason));
		if (!t->decided && r != SATCHEL_AUTH_NOUSER) {
			t->decided = 1;
			t->verdict = r;
			t->verdict_reason = reason;
			t->verdict_mod = t->idx;
		}
	}
	c->ctl = NULL;
	c->state = CS_NEW;
	conn_free(a, c);
	if (t->dead)
		return;
	t->idx++;
	ctl_next(a, t);
}

void
auth_ctl_tick(struct auth_ctx *a, uint64_t now)
{
	struct actl *t, **pp;

	for (pp = &ctls; (t = *pp) != NULL;) {
		if (t->dead) {
			*pp = t->next;
			explicit_bzero(t, sizeof(*t));
			free(t);
			continue;
		}
		if (t->reading && now >= t->deadline) {
			ctl_write(t, "-ERR no password within %d s",
			    CTL_PASSWORD_TTL_MS / 1000);
			ctl_finish(a, t);
		}
		pp = &t->next;
	}
}
