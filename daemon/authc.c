/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * authc.c -- the worker's side of the auth pool (see auth.h).  Runs in
 * the worker, unprivileged and chrooted: it reaches the pool through its
 * abstract socket and trusts nothing in the replies beyond their layout.
 * The password it sends is wiped from its buffers after the send.
 */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "auth.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "privsep.h"
#include "compat/poison.h"

/*
 * The pool may hold an answer back for the failure delay (up to 30 s
 * doubled once more for an earlier failure's hold) and wait for a
 * module up to its timeout: allow for all of it.
 */
#define AUTHC_REPLY_TIMEOUT_MS	(150 * 1000)

/* A result that came where a SCRAM challenge was expected. */
static struct auth_result early;
static int have_early;

static int authc_take_result(const struct privsep_msg *, struct auth_result *);

/* The reply buffer: it held a user name and a SCRAM signature. */
static struct privsep_msg authc_m;

/* The PROXY header's addresses, "" for a direct connection. */
static char authc_client[MSG_ADDR_MAX], authc_local[MSG_ADDR_MAX];

void
authc_wipe(void)
{
	explicit_bzero(&authc_m, sizeof(authc_m));
	explicit_bzero(&early, sizeof(early));
	have_early = 0;
	authc_client[0] = authc_local[0] = '\0';
}

void
authc_set_origin(const char *client, const char *local)
{
	strlcpy(authc_client, client != NULL ? client : "",
	    sizeof(authc_client));
	strlcpy(authc_local, local != NULL ? local : "", sizeof(authc_local));
}

int
authc_connect(const struct satcheld *d)
{
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("auth socket");
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&d->auth_addr,
	    d->auth_addrlen) == -1) {
		log_warn("auth pool");
		close(fd);
		return -1;
	}
	return fd;
}

int
authc_challenge(int fd, uint32_t mech, char *out, size_t outsz)
{
	struct privsep_msg *mp = &authc_m;
	struct msg_auth_challenge_req rq;
	struct msg_auth_challenge ch;

	memset(&rq, 0, sizeof(rq));
	rq.mech = mech;
	if (msg_send_auth_challenge_req(fd, &rq, -1) == -1 ||
	    privsep_recv(fd, mp, AUTHC_REPLY_TIMEOUT_MS) != 0) {
		log_warn("auth pool challenge");
		return -1;
	}
	if (mp->fd != -1) {
		close(mp->fd);
		return -1;
	}
	if (msg_get_auth_challenge(mp, &ch) == -1 ||
	    strlcpy(out, ch.text, outsz) >= outsz || ch.text[0] != '<')
		return -1;
	return 0;
}

int
authc_request(int fd, uint32_t mech, const char *user, const char *master,
    const char *secret, const char *session, int tls, int client_fd)
{
	struct msg_auth_request rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.mech = mech;
	rq.tls = tls != 0;
	if (strlcpy(rq.user, user, sizeof(rq.user)) >= sizeof(rq.user) ||
	    strlcpy(rq.secret, secret, sizeof(rq.secret)) >=
	    sizeof(rq.secret) || (master != NULL && strlcpy(rq.master,
	    master, sizeof(rq.master)) >= sizeof(rq.master))) {
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	strlcpy(rq.session, session, sizeof(rq.session));
	strlcpy(rq.client, authc_client, sizeof(rq.client));
	strlcpy(rq.local, authc_local, sizeof(rq.local));
	r = msg_send_auth_request(fd, &rq, client_fd);
	explicit_bzero(&rq, sizeof(rq));
	if (r == -1)
		log_warn("auth pool request");
	return r;
}

int
authc_continue(int fd, char *out, size_t outsz)
{
	struct privsep_msg *mp = &authc_m;
	struct msg_auth_data d;
	int r;

	if (privsep_recv(fd, mp, AUTHC_REPLY_TIMEOUT_MS) != 0)
		return -1;
	if (mp->fd != -1 && mp->type == MSG_AUTH_CONTINUE) {
		close(mp->fd);
		return -1;
	}
	if (mp->type != MSG_AUTH_CONTINUE) {
		/* A result already (a malformed client-first): keep it for
		 * authc_result(). */
		if (authc_take_result(mp, &early) == -1) {
			if (mp->fd != -1)
				close(mp->fd);
			return -1;
		}
		have_early = 1;
		return -2;
	}
	if (msg_get_auth_data(mp, MSG_AUTH_CONTINUE, &d) == -1)
		return -1;
	r = strlcpy(out, d.data, outsz) >= outsz ? -1 : 0;
	explicit_bzero(&d, sizeof(d));
	return r;
}

int
authc_scram_final(int fd, const char *msg)
{
	struct msg_auth_data d;
	int r;

	memset(&d, 0, sizeof(d));
	if (strlcpy(d.data, msg, sizeof(d.data)) >= sizeof(d.data))
		return -1;
	r = msg_send_auth_data(fd, MSG_AUTH_SCRAM_FINAL, &d);
	explicit_bzero(&d, sizeof(d));
	return r;
}

/* Read the result (or take the one authc_continue() already read). */
static int
authc_take_result(const struct privsep_msg *m, struct auth_result *res)
{
	struct msg_auth_result rp;
	struct msg_auth_proxy pp;

	if (m->type == MSG_AUTH_PROXY) {
		if (msg_get_auth_proxy(m, &pp) == -1 ||
		    (pp.status != SATCHEL_AUTH_OK &&
		    pp.status != SATCHEL_AUTH_TEMPFAIL) ||
		    (pp.status == SATCHEL_AUTH_OK) != (m->fd != -1)) {
			log_warnx("malformed proxy reply from the auth pool");
			return -1;
		}
		res->result = pp.status;
		res->login_delay = pp.login_delay;
		strlcpy(res->user, pp.user, sizeof(res->user));
		res->agent_fd = m->fd;
		res->proxy = 1;
		res->proxy_ssl = pp.ssl;
		res->proxy_haproxy = pp.haproxy != 0;
		strlcpy(res->proxy_host, pp.host, sizeof(res->proxy_host));
		strlcpy(res->proxy_destuser, pp.destuser,
		    sizeof(res->proxy_destuser));
		strlcpy(res->proxy_addr, pp.addr, sizeof(res->proxy_addr));
		/* Issue 14: logged in there already, with a master user. */
		res->proxy_loggedin = pp.loggedin != 0;
		strlcpy(res->proxy_okline, pp.okline,
		    sizeof(res->proxy_okline));
		strlcpy(res->data, pp.data, sizeof(res->data));
		return 0;
	}
	if (msg_get_auth_result(m, &rp) == -1 ||
	    rp.status > SATCHEL_AUTH_NOUSER ||
	    (rp.status == SATCHEL_AUTH_OK) != (m->fd != -1)) {
		log_warnx("malformed reply from the auth pool");
		return -1;
	}
	res->result = rp.status;
	res->login_delay = rp.login_delay;
	strlcpy(res->user, rp.user, sizeof(res->user));
	strlcpy(res->data, rp.data, sizeof(res->data));
	res->agent_fd = m->fd;
	explicit_bzero(&rp, sizeof(rp));
	return 0;
}

int
authc_result(int fd, struct auth_result *res)
{
	struct privsep_msg *mp = &authc_m;
	int r;

	memset(res, 0, sizeof(*res));
	res->agent_fd = -1;
	if (have_early) {
		*res = early;
		explicit_bzero(&early, sizeof(early));
		have_early = 0;
		close(fd);
		return 0;
	}
	if (privsep_recv(fd, mp, AUTHC_REPLY_TIMEOUT_MS) != 0) {
		log_warn("auth pool reply");
		close(fd);
		return -1;
	}
	close(fd);
	r = authc_take_result(mp, res);
	if (r == -1 && mp->fd != -1)
		close(mp->fd);
	explicit_bzero(mp->data, mp->len);
	return r;
}

/*
 * Master user logins are on when some module of the chain is a master
 * passdb ("master = yes" in its section; auth_master.c).
 */
int
authc_master_enabled(struct satcheld *d)
{
	const char *v;
	size_t i;
	int b;

	for (i = 0; i < d->cf->nauth; i++)
		if ((v = conf_get(d->cf, d->cf->auth[i], "master")) != NULL &&
		    conf_parse_bool(v, &b) == 0 && b)
			return 1;
	return 0;
}
