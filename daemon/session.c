/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session.c -- the POP3 states AUTHORIZATION, TRANSACTION and UPDATE
 * (RFC 1939, RFC 2449 CAPA and response codes, RFC 3206).  Runs in the
 * worker, unprivileged and chrooted: credentials go to the auth pool,
 * and every mailbox operation is a request to the mailbox agent, which
 * answers message bodies with a file descriptor.  Commands are a table;
 * handlers write their reply and return, and one loop reads lines,
 * dispatches, and flushes replies only when no pipelined command is
 * waiting (RFC 2449 PIPELINING).
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
#include "sasl.h"
#include "scoreboard.h"
#include "session.h"
#include "session_int.h"
#include "stats_shm.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

#define BAD_COMMANDS_MAX	10

struct command {
	const char	*keyword;
	int		 states;
	int		 (*handler)(struct session *, const struct proto_cmd *);
};

static int cmd_capa(struct session *, const struct proto_cmd *);
static int cmd_quit(struct session *, const struct proto_cmd *);

static const struct command commands[] = {
	{ "CAPA", S_AUTH | S_TRANS, cmd_capa },
	{ "USER", S_AUTH, cmd_user },
	{ "PASS", S_AUTH, cmd_pass },
	{ "APOP", S_AUTH, cmd_apop },
	{ "STLS", S_AUTH, cmd_stls },
	{ "AUTH", S_AUTH, cmd_auth },
	{ "QUIT", S_AUTH | S_TRANS, cmd_quit },
	{ "NOOP", S_TRANS, cmd_noop },
	{ "STAT", S_TRANS, cmd_stat },
	{ "LIST", S_TRANS, cmd_list },
	{ "UIDL", S_TRANS, cmd_uidl },
	{ "RETR", S_TRANS, cmd_retr },
	{ "TOP", S_TRANS, cmd_top },
	{ "DELE", S_TRANS, cmd_dele },
	{ "RSET", S_TRANS, cmd_rset },
};

static void session_log_end(struct session *);

int
session_reply(struct session *s, const char *line)
{
	if (conn_puts(&s->c, line) == -1 || conn_write(&s->c, "\r\n", 2) ==
	    -1)
		return -1;
	return 0;
}

int
session_replyf(struct session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return session_reply(s, line);
}

void
session_sleep(unsigned int ms)
{
	struct timespec ts, rem;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR && !worker_quit)
		ts = rem;
}

int
session_preauth_ms(const struct session *s)
{
	struct timespec now;
	int64_t left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (int64_t)(s->login_deadline.tv_sec - now.tv_sec) * 1000 +
	    (s->login_deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (left < 0)
		left = 0;
	if (left > (int64_t)s->d->cf->timeout_preauth * 1000)
		left = (int64_t)s->d->cf->timeout_preauth * 1000;
	return (int)left;
}


int
cmd_capa(struct session *s, const struct proto_cmd *cmd)
{
	struct config *cf = s->d->cf;

	if (cmd->restlen != 0)
		return session_reply(s, "-ERR CAPA takes no argument");
	session_reply(s, "+OK Capability list follows");
	session_reply(s, "TOP");
	session_reply(s, "UIDL");
	session_reply(s, "RESP-CODES");
	session_reply(s, "AUTH-RESP-CODE");
	session_reply(s, "PIPELINING");
	if (s->state == S_AUTH) {
		char mechs[128];
		size_t i, o = 0;

		if (session_plain_ok(s))
			session_reply(s, "USER");
#ifdef HAVE_OPENSSL
		if (tls_enabled(s->d) && !s->tls)
			session_reply(s, "STLS");
#endif
		for (i = 0; i < sasl_nmechs; i++)
			if (session_mech_ok(s, sasl_mechs[i].name))
				o += (size_t)snprintf(mechs + o,
				    sizeof(mechs) - o, " %s", sasl_mechs[i].name);
		if (o > 0)
			session_replyf(s, "SASL%s", mechs);
	}
	if (cf->expire[0] != '\0')
		session_replyf(s, "EXPIRE %s%s", cf->expire,
		    s->state == S_AUTH && strcmp(cf->expire, "NEVER") != 0 ?
		    " USER" : "");
	if (s->state == S_TRANS && s->login_delay > 0)
		session_replyf(s, "LOGIN-DELAY %u", s->login_delay);
	else if (cf->login_delay > 0)
		session_replyf(s, "LOGIN-DELAY %u%s", cf->login_delay,
		    s->state == S_AUTH ? " USER" : "");
	session_reply(s, "IMPLEMENTATION Satchel");
	return session_reply(s, ".");
}


/* USER/PASS and AUTH PLAIN/LOGIN: only over TLS or from trusted nets. */

int
session_plain_ok(const struct session *s)
{
	if (SESSION_TLS_MISSING(s))
		return 0;	/* trusted_networks do not exempt */
	return !s->d->cf->disable_plaintext_auth || s->tls || s->trusted;
}

/* A SASL mechanism is offered when configured and able to work here. */

int
session_mech_ok(const struct session *s, const char *mech)
{
	const struct sasl_mech *m;
	char pad[64];
	char list[256];

	if ((m = sasl_mech_find(mech)) == NULL || SESSION_TLS_MISSING(s))
		return 0;
	(void)snprintf(list, sizeof(list), " %s ", s->d->cf->sasl);
	(void)snprintf(pad, sizeof(pad), " %s ", mech);
	if (strstr(list, pad) == NULL)
		return 0;
	if (m->plaintext)
		return session_plain_ok(s);
	if (m->lookup && !s->d->lookup)
		return 0;	/* no module can give a stored credential */
#ifndef HAVE_OPENSSL
	if (m->openssl)
		return 0;
#endif
	return 1;
}

int
cmd_quit(struct session *s, const struct proto_cmd *cmd)
{
	if (s->state == S_AUTH) {
		s->reason = "quit";
		session_reply(s, "+OK Bye");
		return CMD_CLOSE;
	}
	return session_commit(s);
}

/* ---- TRANSACTION ------------------------------------------------- */

/* Parse a message number: 0 and *idx_r (0-based) set, or reply -ERR. */

#define KICK_TAKEOVER_REPLY \
	"-ERR [IN-USE] Session ended: a new login took the mailbox over"
#define KICK_ADMIN_REPLY \
	"-ERR [SYS/TEMP] Session ended by the administrator"

static void
session_log_end(struct session *s)
{
	struct timespec now;
	double secs;
	size_t left = s->count - s->ndele;
	uint64_t bleft = s->total - s->bdele;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
	if (s->reason != NULL && strcmp(s->reason, "quit") != 0 &&
	    s->state == S_TRANS) {
		/* No commit happened: nothing was deleted. */
		s->ndele = 0;
		s->bdele = 0;
		left = s->count;
		bleft = s->total;
	}
	log_info("session=%s event=logout user=%s addr=%s retr=%zu/%llu "
	    "dele=%zu/%llu left=%zu/%llu in=%llu out=%llu duration=%.3f "
	    "reason=%s", s->id, s->slot->user[0] != '\0' ? s->slot->user :
	    "-", s->peer, s->nretr, (unsigned long long)s->bretr, s->ndele,
	    (unsigned long long)s->bdele, left, (unsigned long long)bleft,
	    (unsigned long long)s->c.bytes_in,
	    (unsigned long long)s->c.bytes_out, secs,
	    s->reason != NULL ? s->reason : "disconnect");
	stats_session(s->nretr, s->bretr, s->ndele, s->bdele, s->c.bytes_in,
	    s->c.bytes_out);	/* metrics */
}

static void
addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t bufsz,
    int with_port)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy(buf, "unknown", bufsz);
		return;
	}
	strlcpy(buf, host, bufsz);
	if (with_port) {
		strlcat(buf, " port=", bufsz);
		strlcat(buf, serv, bufsz);
	}
}

void
session_run(struct satcheld *d, int fd, const struct session_origin *o,
    const struct listener *l, struct sb_slot *slot)
{
	const struct sockaddr *sa = (const struct sockaddr *)&o->client;
	struct session *s;
	struct sockaddr_storage ls;
	socklen_t lslen = sizeof(ls);
	struct proto_cmd cmd;
	const char *line;
	char where[128], via[160];
	unsigned char rnd[8];
	struct timespec deadline, now;
	size_t len, i;
	ssize_t n;
	int r, timeout, waiting = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return;
	}
	s->d = d;
	conn_init(&s->c, fd);
	proto_reader_init(&s->rd, PROTO_LINE_MAX);
	s->l = l;
	s->slot = slot;
	s->state = S_AUTH;
	s->agent = -1;
	s->apop_fd = -1;
	s->chal_fd = -1;
	s->origin = o;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	/* From accept to login, whatever the client does in between (a
	 * PROXY header included). */
	s->login_deadline = o->accepted;
	s->login_deadline.tv_sec += (time_t)s->d->cf->timeout_login;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	/* On a haproxy listener, o holds the PROXY header's addresses. */
	addr_text(sa, o->clientlen, s->peer, sizeof(s->peer), 0);
	addr_text(sa, o->clientlen, where, sizeof(where), 1);
	if (o->locallen > 0)
		addr_text((const struct sockaddr *)&o->local, o->locallen,
		    s->local, sizeof(s->local), 0);
	else if (getsockname(fd, (struct sockaddr *)&ls, &lslen) == 0)
		addr_text((struct sockaddr *)&ls, lslen, s->local,
		    sizeof(s->local), 0);
	strlcpy(slot->peer, s->peer, sizeof(slot->peer));
	strlcpy(slot->session, s->id, sizeof(slot->session));
	slot->bytes = 0;
	slot->kick = SB_KICK_NONE;
	worker_kick = 0;
	s->trusted = conf_trusted(s->d->cf, sa);
	via[0] = '\0';
	if (o->proxied) {
		(void)snprintf(via, sizeof(via), " proxy=%s proxy_version=%d%s",
		    o->proxy, o->proxy_version, o->proxy_local ?
		    " proxy_local=yes" : "");
		/*
		 * The pool takes these only for a socket on a haproxy
		 * listener, and wants them for every such socket (a LOCAL
		 * one names the proxy itself).
		 */
		authc_set_origin(s->peer, s->local);
	}
	/*
	 * HAProxy did TLS with the client (v2 PP2_TYPE_SSL with
	 * PP2_CLIENT_SSL): the session is as secure as after STLS, so
	 * plaintext logins are allowed and STLS is not offered.
	 */
	if (o->proxy_ssl)
		s->tls = 1;
	log_info("session=%s event=connect addr=%s listener=%s tls=%s%s%s%s",
	    s->id, where, l->name, l->tls ? "yes" : o->proxy_ssl ? "proxy" :
	    "no", via, o->proxy_ssl ? " proxy_tls=" : "", o->proxy_ssl ?
	    o->proxy_tls : "");
	setproctitle_fmt("satcheld: worker [%s]", s->peer);
#ifdef HAVE_OPENSSL
	if (l->tls) {
		const char *err;

		if (tls_accept(s->d, &s->c, session_preauth_ms(s), &err) == -1) {
			log_info("session=%s event=tls result=fail "
			    "error=\"%s\"", s->id, err);
			s->reason = "tls-failed";
			goto end;
		}
		s->tls = 1;
		log_info("session=%s event=tls result=ok tls=%s", s->id,
		    tls_describe(&s->c));
		stats_tls(tls_describe(&s->c));	/* metrics */
	}
#endif

	/*
	 * APOP: the pool makes the banner's challenge and keeps it.  With
	 * tls_required, only a banner sent inside TLS (POP3S) offers it.
	 */
	if (s->d->apop && !SESSION_TLS_MISSING(s) &&
	    (s->apop_fd = authc_connect(s->d)) != -1 &&
	    authc_challenge(s->apop_fd, MECH_APOP, s->apop_ts,
	    sizeof(s->apop_ts)) == -1) {
		close(s->apop_fd);
		s->apop_fd = -1;
	}
	s->chal_fd = s->apop_fd;
	if (s->apop_fd != -1)
		session_replyf(s, "+OK %s %s", s->d->cf->greeting, s->apop_ts);
	else
		session_replyf(s, "+OK %s", s->d->cf->greeting);

	for (;;) {
		r = proto_getline(&s->rd, &s->c.in, &line, &len);
		if (r == PROTO_LINE_NEED) {
			if (conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1) {
				s->reason = "write-error";
				break;
			}
			if (worker_quit) {
				session_reply(s, "-ERR [SYS/TEMP] Server shutting "
				    "down");
				s->reason = "shutdown";
				break;
			}
			s->slot->bytes = s->c.bytes_out;
			if (worker_kick && s->slot->kick != SB_KICK_NONE &&
			    s->state == S_TRANS) {
				/*
				 * satchelctl kick, or a newer login with
				 * lock_conflict = takeover: end without
				 * UPDATE, so nothing is deleted; closing the
				 * agent's socket releases the lock.
				 */
				s->reason = s->slot->kick ==
				    SB_KICK_TAKEOVER ? "takeover" : "kicked";
				session_reply(s, s->slot->kick ==
				    SB_KICK_TAKEOVER ? KICK_TAKEOVER_REPLY :
				    KICK_ADMIN_REPLY);
				break;
			}
			worker_kick = 0;
			if (!waiting) {
				/* The idle clock starts once, not on every
				 * signal that interrupts the wait. */
				clock_gettime(CLOCK_MONOTONIC, &deadline);
				deadline.tv_sec += (time_t)(s->state ==
				    S_AUTH ? s->d->cf->timeout_preauth :
				    s->d->cf->timeout_session);
				waiting = 1;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			timeout = (int)((deadline.tv_sec - now.tv_sec) * 1000 +
			    (deadline.tv_nsec - now.tv_nsec) / 1000000);
			/* Bytes reset the idle clock, never the login one. */
			if (s->state == S_AUTH && timeout > session_preauth_ms(s))
				timeout = session_preauth_ms(s);
			n = timeout <= 0 ? -2 : conn_fill(&s->c, timeout);
			if (n != -3)
				waiting = 0;
			if (n == -3)
				continue;	/* signal: check the flags */
			if (n == -2 && s->state == S_AUTH &&
			    session_preauth_ms(s) == 0) {
				session_reply(s, "-ERR Login took too long, "
				    "disconnecting");
				s->reason = "login-timeout";
				break;
			}
			if (n == -2) {
				session_reply(s, "-ERR Disconnected for inactivity");
				s->reason = "timeout";
				break;
			}
			if (n <= 0) {
				s->reason = n == 0 ? "disconnect" :
				    "read-error";
				break;
			}
			continue;
		}
		if (r == PROTO_LINE_TOOLONG || r == PROTO_LINE_NUL) {
			session_reply(s, r == PROTO_LINE_TOOLONG ?
			    "-ERR Line too long" : "-ERR Invalid line (NUL)");
			if (++s->bad >= BAD_COMMANDS_MAX) {
				session_reply(s, "-ERR Too many bad commands, "
				    "disconnecting");
				s->reason = "bad-commands";
				break;
			}
			continue;
		}
		if (proto_parse(line, len, &cmd) == -1) {
			r = -1;
			i = sizeof(commands) / sizeof(commands[0]);
		} else
			for (i = 0; i < sizeof(commands) / sizeof(commands[0]);
			    i++)
				if (strcmp(commands[i].keyword,
				    cmd.keyword) == 0)
					break;
		if (i == sizeof(commands) / sizeof(commands[0])) {
			session_reply(s, "-ERR Unknown command");
		} else if ((commands[i].states & s->state) == 0) {
			session_reply(s, s->state == S_AUTH ?
			    "-ERR Not logged in yet" :
			    "-ERR Command not valid after login");
		} else {
			s->bad = 0;
			r = commands[i].handler(s, &cmd);
			if (r == CMD_CLOSE)
				break;
			if (r == -1) {
				s->reason = "write-error";
				break;
			}
			continue;
		}
		if (++s->bad >= BAD_COMMANDS_MAX) {
			session_reply(s, "-ERR Too many bad commands, disconnecting");
			s->reason = "bad-commands";
			break;
		}
	}
	(void)conn_flush(&s->c, 5000);
end:
	/* A login that ran out of time, in TLS, SASL or the command loop. */
	if (s->state == S_AUTH && session_preauth_ms(s) == 0 &&
	    (s->reason == NULL || strcmp(s->reason, "timeout") == 0 ||
	    strcmp(s->reason, "tls-failed") == 0 ||
	    strcmp(s->reason, "login-timeout") == 0)) {
		char vis[128];

		log_vis(vis, sizeof(vis), s->user, strlen(s->user));
		log_info("session=%s event=limit addr=%s user=%s "
		    "limit=timeout_login result=refused", s->id, s->peer,
		    s->have_user ? vis : "-");
		stats_limit("timeout_login");	/* metrics */
		s->reason = "login-timeout";
	}
	session_log_end(s);
	/* Closing the agent's socket without a commit deletes nothing. */
	session_free_mailbox(s);
	if (s->chal_fd != -1)
		close(s->chal_fd);
	conn_close(&s->c);
	/*
	 * Nothing of this session may reach the next one in a reused
	 * worker (worker_max_sessions): the session, its buffers, the
	 * static reply and message buffers, the TLS state (freed above).
	 */
	session_mbox_wipe();
	authc_wipe();
	explicit_bzero(s, sizeof(*s));
	free(s);
}
