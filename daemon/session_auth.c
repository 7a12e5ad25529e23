/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session_auth.c -- USER, PASS and APOP in the AUTHORIZATION state, and
 * the login every mechanism ends in: ask the auth pool, answer the
 * client, open the mailbox through the agent the pool gave.  Runs in
 * the worker, unprivileged and chrooted; the password is wiped after it
 * was sent.
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "conf.h"
#include "io.h"
#include "limit.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "privsep.h"
#include "protocol.h"
#include "proxy.h"
#include "scoreboard.h"
#include "session.h"
#include "session_int.h"
#include "stats_shm.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

int
cmd_user(struct session *s, const struct proto_cmd *cmd)
{
	if (SESSION_TLS_MISSING(s))
		return session_reply(s, TLS_REQUIRED_REFUSED);
	if (!session_plain_ok(s))
		return session_reply(s, PLAINTEXT_REFUSED);
	if (cmd->restlen == 0 || cmd->restlen > SATCHEL_USER_MAX ||
	    memchr(cmd->rest, ' ', cmd->restlen) != NULL)
		return session_reply(s, "-ERR Usage: USER name");
	memcpy(s->user, cmd->rest, cmd->restlen);
	s->user[cmd->restlen] = '\0';
	s->have_user = 1;
	/*
	 * The same answer for every name: whether a user exists is only
	 * ever learned by a correct password.
	 */
	return session_reply(s, "+OK");
}

int
cmd_pass(struct session *s, const struct proto_cmd *cmd)
{
	char pass[PROTO_LINE_MAX + 1];
	int r;

	/* The line buffer holds the password: wipe it on every path. */
	memcpy(pass, cmd->rest, cmd->restlen);
	pass[cmd->restlen] = '\0';
	explicit_bzero((void *)(uintptr_t)cmd->rest, cmd->restlen);
	if (!session_plain_ok(s)) {
		explicit_bzero(pass, sizeof(pass));
		return session_reply(s, SESSION_TLS_MISSING(s) ?
		    TLS_REQUIRED_REFUSED : PLAINTEXT_REFUSED);
	}
	if (!s->have_user) {
		explicit_bzero(pass, sizeof(pass));
		return session_reply(s, "-ERR USER first");
	}
	r = session_login(s, MECH_PASS, pass, "pass");
	explicit_bzero(pass, sizeof(pass));
	return r;
}

int
cmd_apop(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	const char *sp;
	char digest[33];
	size_t ulen, i;

	if (!s->d->apop)
		return session_reply(s, "-ERR APOP is not available");
	if (SESSION_TLS_MISSING(s))
		return session_reply(s, TLS_REQUIRED_REFUSED);
	if (s->apop_fd == -1)
		return session_reply(s, "-ERR [AUTH] APOP needs a new connection "
		    "(its challenge was used or could not be made)");
	/* APOP name digest: the name may be longer than 40 octets. */
	if ((sp = memchr(cmd->rest, ' ', cmd->restlen)) == NULL)
		return session_reply(s, "-ERR Usage: APOP name digest");
	ulen = (size_t)(sp - cmd->rest);
	if (ulen == 0 || ulen > SATCHEL_USER_MAX ||
	    proto_split(sp + 1, cmd->restlen - ulen - 1, args, 1) != 1 ||
	    strlen(args[0]) != 32)
		return session_reply(s, "-ERR Usage: APOP name digest");
	for (i = 0; i < 32; i++) {
		char ch = args[0][i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return session_reply(s, "-ERR Usage: APOP name digest");
		digest[i] = ch;
	}
	digest[32] = '\0';
	memcpy(s->user, cmd->rest, ulen);
	s->user[ulen] = '\0';
	s->have_user = 1;
	return session_login(s, MECH_APOP, digest, "apop");
}

/*
 * Ask the auth pool, then open the mailbox through the agent it gave.
 * Failures of every kind that depend on the credentials get the same
 * words; the pool holds the answer back for the failure delay.  APOP
 * answers the challenge of the connection opened for the banner.
 */
int
session_login(struct session *s, uint32_t mech, const char *secret,
    const char *method)
{
	struct auth_result res;
	const char *sep = s->d->cf->auth_master_user_separator;
	char *p;
	int fd, r = -1;

	/*
	 * USER "target*master" (auth_master_user_separator, Dovecot's
	 * name): the first separator splits it.  AUTH PLAIN's authzid
	 * set s->master already.
	 */
	if (mech == MECH_PASS && s->master[0] == '\0' && sep != NULL &&
	    sep[0] != '\0' && (p = strstr(s->user, sep)) != NULL &&
	    p != s->user && p[strlen(sep)] != '\0') {
		strlcpy(s->master, p + strlen(sep), sizeof(s->master));
		*p = '\0';
	}
	if (mech != MECH_PASS)
		s->master[0] = '\0';
	sb_set(s->slot, SB_AUTH);
	if (mech == MECH_APOP || mech == MECH_CRAM) {
		fd = s->chal_fd;
		s->chal_fd = -1;
		if (mech == MECH_APOP)
			s->apop_fd = -1;
	} else
		fd = authc_connect(s->d);
	memset(&res, 0, sizeof(res));
	if (fd != -1) {
		if (authc_request(fd, mech, s->user, s->master, secret, s->id,
		    s->tls, s->c.fd) == 0)
			r = authc_result(fd, &res);
		else
			close(fd);
	}
	/* A proxied user logs in at the backend with this password. */
	s->proxy_secret = mech == MECH_PASS ? secret : NULL;
	r = session_auth_result(s, r, &res, method);
	s->proxy_secret = NULL;
	memset(s->master, 0, sizeof(s->master));
	return r;
}

int
session_auth_result(struct session *s, int r, struct auth_result *res,
    const char *method)
{
	char vis[128], mvis[160];

	log_vis(vis, sizeof(vis), s->user, strlen(s->user));
	/* A master user login names both (user=target master=admin). */
	mvis[0] = '\0';
	if (s->master[0] != '\0') {
		strlcpy(mvis, " master=", sizeof(mvis));
		log_vis(mvis + 8, sizeof(mvis) - 8, s->master,
		    strlen(s->master));
	}
	sb_set(s->slot, SB_PREAUTH);
	if (r == -1) {
		log_warnx("session=%s event=auth user=%s addr=%s "
		    "result=tempfail reason=auth-pool-unreachable%s", s->id,
		    vis, s->peer, mvis);
		return session_reply(s, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later");
	}
	switch (res->result) {
	case SATCHEL_AUTH_OK:
		break;
	case SATCHEL_AUTH_TEMPFAIL:
		if (res->proxy) {
			/* The password was right; its server is down. */
			log_info("session=%s event=auth user=%s method=%s "
			    "addr=%s result=tempfail reason=proxy-backend "
			    "backend=%s", s->id, vis, method, s->peer,
			    res->proxy_addr);
			return session_reply(s, "-ERR [SYS/TEMP] Mail server "
			    "unavailable, try again later");
		}
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=tempfail reason=backend%s", s->id, vis, method,
		    s->peer, mvis);
		return session_reply(s, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure, try again later");
	case SATCHEL_AUTH_ERROR:
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=error reason=account-misconfigured%s", s->id, vis,
		    method, s->peer, mvis);
		s->failures++;
		if (session_reply(s, "-ERR [SYS/PERM] Authentication failed: "
		    "account misconfigured, contact the administrator") == -1)
			return -1;
		if (s->failures >= s->d->cf->login_fail_max) {
			s->reason = "auth-failures";
			stats_limit("login_fail_max");	/* metrics */
			session_reply(s, "-ERR Too many failed logins, disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	default:
		s->failures++;
		/* The line fail2ban and CrowdSec match (packaging/fail2ban). */
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=fail reason=bad-credentials failures=%u%s", s->id,
		    vis, method, s->peer, s->failures, mvis);
		s->have_user = 0;
		if (session_reply(s, "-ERR [AUTH] Authentication failed") == -1)
			return -1;
		if (s->failures >= s->d->cf->login_fail_max) {
			s->reason = "auth-failures";
			stats_limit("login_fail_max");	/* metrics */
			session_reply(s, "-ERR Too many failed logins, disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	}

	strlcpy(s->canon, res->user, sizeof(s->canon));
	s->login_delay = res->login_delay;
	log_vis(vis, sizeof(vis), s->canon, strlen(s->canon));
	strlcpy(s->slot->user, vis, sizeof(s->slot->user));
	if (limit_user(s->d->cf, s->d->sb, s->slot, s->trusted) == -1) {
		/* Closing the agent's socket ends it; nothing is opened. */
		close(res->agent_fd);
		memset(s->slot->user, 0, sizeof(s->slot->user));
		log_info("session=%s event=limit addr=%s user=%s "
		    "limit=max_sessions_per_user result=refused", s->id,
		    s->peer, vis);
		s->reason = "max-sessions-per-user";
		stats_limit("max_sessions_per_user");	/* metrics */
		session_reply(s, "-ERR [SYS/TEMP] Too many sessions for this "
		    "user, try again later");
		return CMD_CLOSE;
	}
	log_info("session=%s event=auth user=%s%s method=%s result=ok "
	    "tls=%s addr=%s%s%s", s->id, vis, mvis, method,
	    s->tls ? "yes" : "no",
	    s->peer, res->proxy ? " proxy=" : "", res->proxy ?
	    res->proxy_addr : "");
	if (res->proxy)
		return proxy_session(s, res, s->proxy_secret);
	return session_open_mailbox(s, res->agent_fd);
}

/*
 * lock_conflict = takeover.  The agent met the session lock and retries
 * it; the master, poked through the worker's channel, finds the older session
 * of the same user in the scoreboard and ends it without UPDATE
 * (control.c).  Asked again every TAKEOVER_POKE_MS, since a signal that
 * came just before the old worker went to sleep in poll() is not seen
 * until the next one.
 */
int
session_takeover_wait(struct session *s, int fd, struct privsep_msg *mp)
{
	int r, waited;

	if (mp->len != 0 || mp->fd != -1 ||
	    s->d->cf->lock_conflict != LOCK_CONFLICT_TAKEOVER)
		return -1;
	for (waited = 0; waited < TAKEOVER_WAIT_MS;
	    waited += TAKEOVER_POKE_MS) {
		s->slot->takeover = 1;
		{
			char t = MASTER_CHAN_TAKEOVER;

			(void)!write(s->d->chan, &t, 1);
		}
		r = privsep_recv(fd, mp, TAKEOVER_POKE_MS);
		if (r == -1 && errno == ETIMEDOUT)
			continue;
		s->slot->takeover = 0;
		return r;
	}
	s->slot->takeover = 0;
	return -1;
}
