/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_proxy_master.c -- proxying with a master user (issue 14): a
 * proxied user whose auth backend gave master= and pass= (Dovecot's
 * names) is logged in at the backend here, in the auth process, with
 * AUTH PLAIN (authzid destuser, authcid master, password pass; RFC
 * 4616), and the worker is handed a socket already in the TRANSACTION
 * state with the backend's +OK line for the client.  That way the
 * master password, which opens every mailbox of the backend, never
 * reaches a worker: a compromised front worker learns nothing it could
 * use for anyone else.  It also lets APOP, CRAM-MD5 and SCRAM users be
 * proxied: the front has no plaintext password of theirs to relay.
 *
 * The dialogue is non-blocking, on the auth process's event loop, and
 * all of it (connect, PROXY v2 header, greeting, AUTH PLAIN) is bounded
 * by proxy_connect_timeout.  TLS to the backend is refused with a
 * master user: a TLS session cannot be handed from this process to the
 * worker, and relaying it here would put every proxied byte through
 * the auth process (doc/DESIGN, "Proxy mode").  Runs in the auth
 * process, as root; it parses only the backend's two short lines.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth_proc.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "proxyhdr.h"
#include "sasl.h"
#include "compat/poison.h"

static void pm_fail(struct auth_ctx *, struct aconn *, const char *);

/*
 * Before connecting: is this a master login we can do?  0 yes, -1 no
 * (answered: the account is misconfigured, [SYS/PERM]).
 */
int
proxy_master_check(struct auth_ctx *a, struct aconn *c)
{
	struct satchel_user *u = &c->urec;
	const char *why = NULL;
	char vis[128];

	if (u->proxy_pass[0] == '\0')
		why = "master-without-pass (master= needs pass=)";
	else if (u->proxy_ssl != SATCHEL_PROXY_SSL_NO)
		why = "master-with-ssl (a TLS session to the backend cannot be "
		    "handed from the auth process to the worker; use master= "
		    "on a trusted network without ssl=, or the user's own "
		    "password)";
	if (why == NULL)
		return 0;
	log_vis(vis, sizeof(vis), u->name, strlen(u->name));
	log_warnx("session=%s event=proxy user=%s result=error reason=%s",
	    c->session, vis, why);
	explicit_bzero(u->proxy_pass, sizeof(u->proxy_pass));
	c->status = SATCHEL_AUTH_ERROR;
	conn_send_result(a, c);
	return -1;
}

static int
pm_write(int fd, const void *p, size_t len)
{
	ssize_t n;

	/* A fresh socket's buffer takes a header or one short line. */
	do
		n = send(fd, p, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* Connected: the PROXY v2 header if asked for, then wait for the
 * greeting. */
void
proxy_master_begin(struct auth_ctx *a, struct aconn *c, int in_epoll)
{
	struct satchel_user *u = &c->urec;
	unsigned char hdr[PROXYHDR_V2_MAX];
	struct epoll_event ee;
	ssize_t n;
	int hap;

	c->pstep = PS_GREETING;
	c->plen = 0;
	hap = u->proxy_haproxy == SATCHEL_PROXY_HAPROXY_YES ? 1 :
	    u->proxy_haproxy == SATCHEL_PROXY_HAPROXY_NO ? 0 :
	    a->s->cf->proxy_send_haproxy != 0;
	if (hap) {
		if (c->csrclen == 0 || c->cdstlen == 0 ||
		    (n = proxyhdr_v2((struct sockaddr *)&c->csrc,
		    (struct sockaddr *)&c->cdst, c->tls ? "TLS" : NULL, hdr,
		    sizeof(hdr))) == -1 || pm_write(c->pev.fd, hdr,
		    (size_t)n) == -1) {
			pm_fail(a, c, "cannot send the PROXY header");
			return;
		}
	}
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN;
	ee.data.ptr = &c->pev;
	if (epoll_ctl(a->ep, in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->pev.fd, &ee) == -1)
		pm_fail(a, c, strerror(errno));
}

/* The backend failed or refused: TEMPFAIL, the reason logged. */
static void
pm_fail(struct auth_ctx *a, struct aconn *c, const char *why)
{
	explicit_bzero(c->urec.proxy_pass, sizeof(c->urec.proxy_pass));
	c->wake_at = 0;
	conn_proxy_answer(a, c, SATCHEL_AUTH_TEMPFAIL, why);
}

/* Keep printable ASCII of a backend line for the log, at most 80. */
static void
pm_clean(const char *in, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; in[i] != '\0' && o + 1 < outsz && o < 80; i++)
		if (in[i] >= ' ' && in[i] < 0x7f && in[i] != '"')
			out[o++] = in[i];
	out[o] = '\0';
}

/* AUTH PLAIN with authzid destuser, authcid master. */
static int
pm_send_auth(struct aconn *c)
{
	struct satchel_user *u = &c->urec;
	const char *dest = u->proxy_destuser[0] != '\0' ? u->proxy_destuser :
	    u->name;
	char msg[SATCHEL_USER_MAX * 2 + SATCHEL_PASS_MAX + 4];
	char line[sizeof(msg) * 4 / 3 + 32];
	size_t dl = strlen(dest), ml = strlen(u->proxy_master);
	size_t pl = strlen(u->proxy_pass), len;
	int n, r;

	memcpy(msg, dest, dl);
	msg[dl] = '\0';
	memcpy(msg + dl + 1, u->proxy_master, ml);
	msg[dl + 1 + ml] = '\0';
	memcpy(msg + dl + ml + 2, u->proxy_pass, pl);
	len = dl + ml + 2 + pl;
	memcpy(line, "AUTH PLAIN ", 11);
	n = sasl_b64_encode(msg, len, line + 11, sizeof(line) - 13);
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(u->proxy_pass, sizeof(u->proxy_pass));
	if (n < 0) {
		explicit_bzero(line, sizeof(line));
		return -1;
	}
	memcpy(line + 11 + n, "\r\n", 2);
	r = pm_write(c->pev.fd, line, (size_t)n + 13);
	explicit_bzero(line, sizeof(line));
	return r;
}

/* The backend's socket is readable: a line of the dialogue. */
void
proxy_master_readable(struct auth_ctx *a, struct aconn *c)
{
	char clean[96];
	char *lf;
	ssize_t n;

	n = read(c->pev.fd, c->pline + c->plen, sizeof(c->pline) - 1 -
	    c->plen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pm_fail(a, c, n == 0 ? "backend closed the connection" :
		    strerror(errno));
		return;
	}
	c->plen += (size_t)n;
	c->pline[c->plen] = '\0';
	if ((lf = memchr(c->pline, '\n', c->plen)) == NULL) {
		if (c->plen >= sizeof(c->pline) - 1)
			pm_fail(a, c, "backend line too long");
		return;
	}
	/* One line per step and nothing after it: the backend speaks
	 * only when spoken to. */
	if ((size_t)(lf - c->pline) + 1 != c->plen) {
		pm_fail(a, c, "bytes after the backend's line");
		return;
	}
	*lf = '\0';
	if (lf > c->pline && lf[-1] == '\r')
		lf[-1] = '\0';
	c->plen = 0;
	if (c->pstep == PS_GREETING) {
		if (strncmp(c->pline, "+OK", 3) != 0) {
			pm_fail(a, c, "greeting is not +OK");
			return;
		}
		if (pm_send_auth(c) == -1) {
			pm_fail(a, c, "cannot send AUTH PLAIN");
			return;
		}
		c->pstep = PS_AUTH;
		return;
	}
	if (strncmp(c->pline, "+OK", 3) == 0) {
		c->pstep = PS_DONE;
		c->wake_at = 0;
		conn_proxy_answer(a, c, SATCHEL_AUTH_OK, NULL);
		return;
	}
	/* Wrong master password, unknown destuser: the backend's words
	 * in the front's log, [SYS/TEMP] for the client (the user's own
	 * password was right: the fault is the front's configuration). */
	pm_clean(c->pline, clean, sizeof(clean));
	{
		char why[160];

		(void)snprintf(why, sizeof(why), "AUTH PLAIN as master "
		    "refused: %s", clean);
		pm_fail(a, c, why);
	}
}
