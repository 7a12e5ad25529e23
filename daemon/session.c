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
#include "log.h"
#include "master.h"
#include "privsep.h"
#include "protocol.h"
#include "scoreboard.h"
#include "sasl.h"
#include "session.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

#define S_AUTH		0x01	/* AUTHORIZATION */
#define S_TRANS		0x02	/* TRANSACTION */

#define CMD_OK		0
#define CMD_CLOSE	1	/* reply sent; end the session */

#define BAD_COMMANDS_MAX	10
#define AUTH_TIMEOUT_MS		60000
#define MAILBOX_OPEN_TIMEOUT_MS	300000	/* lock wait plus a big scan */
#define READ_CHUNK		(64 * 1024)
#define SASL_LINE_MAX		4096	/* RFC 5034 sets no limit */

struct session {
	struct conn		 c;
	struct proto_reader	 rd;
	const struct listener	*l;
	struct sb_slot		*slot;
	int			 state;
	char			 id[17];
	char			 peer[64];
	char			 local[64];
	char			 apop_ts[160];
	int			 tls;		/* the connection is TLS */
	int			 trusted;	/* peer in trusted_networks */

	char			 user[SATCHEL_USER_MAX + 1];
	int			 have_user;
	char			 canon[SATCHEL_USER_MAX + 1];
	unsigned int		 failures;
	unsigned int		 bad;
	uint32_t		 login_delay;

	int			 agent;
	size_t			 count;
	uint64_t		*sizes;
	char			(*uids)[SATCHEL_UID_MAX + 1];
	uint8_t			*marks;
	uint64_t		 total;

	size_t			 nretr, ndele;
	uint64_t		 bretr, bdele;
	struct timespec		 start;
	const char		*reason;
};

struct command {
	const char	*keyword;
	int		 states;
	int		 (*handler)(struct session *, const struct proto_cmd *);
};

static int cmd_capa(struct session *, const struct proto_cmd *);
static int cmd_user(struct session *, const struct proto_cmd *);
static int cmd_pass(struct session *, const struct proto_cmd *);
static int cmd_apop(struct session *, const struct proto_cmd *);
static int cmd_quit(struct session *, const struct proto_cmd *);
static int cmd_noop(struct session *, const struct proto_cmd *);
static int cmd_stat(struct session *, const struct proto_cmd *);
static int cmd_list(struct session *, const struct proto_cmd *);
static int cmd_uidl(struct session *, const struct proto_cmd *);
static int cmd_retr(struct session *, const struct proto_cmd *);
static int cmd_top(struct session *, const struct proto_cmd *);
static int cmd_dele(struct session *, const struct proto_cmd *);
static int cmd_rset(struct session *, const struct proto_cmd *);
static int cmd_stls(struct session *, const struct proto_cmd *);
static int cmd_auth(struct session *, const struct proto_cmd *);

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

static int reply(struct session *, const char *);
static int replyf(struct session *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void session_sleep(unsigned int);
static int session_login(struct session *, uint32_t, const char *,
    const char *, const char *);
static int session_auth_result(struct session *, int, struct auth_result *,
    const char *);
static int session_plain_ok(const struct session *);
static int session_mech_ok(const struct session *, const char *);

static int session_open_mailbox(struct session *, int);
static void session_free_mailbox(struct session *);
static int session_msgnum(struct session *, const char *, size_t *);
static int session_send_message(struct session *, size_t, int, uint64_t);
static int session_commit(struct session *);
static void session_log_end(struct session *);

static int
reply(struct session *s, const char *line)
{
	if (conn_puts(&s->c, line) == -1 || conn_write(&s->c, "\r\n", 2) ==
	    -1)
		return -1;
	return 0;
}

static int
replyf(struct session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return reply(s, line);
}

static void
session_sleep(unsigned int ms)
{
	struct timespec ts, rem;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR && !worker_quit)
		ts = rem;
}

/* ---- AUTHORIZATION ----------------------------------------------- */

static int
cmd_capa(struct session *s, const struct proto_cmd *cmd)
{
	struct config *cf = sd->cf;

	if (cmd->restlen != 0)
		return reply(s, "-ERR CAPA takes no argument");
	reply(s, "+OK Capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	if (s->state == S_AUTH) {
		char mechs[128];
		size_t i, o = 0;
		static const char *all[] = { "PLAIN", "LOGIN", "CRAM-MD5",
		    "SCRAM-SHA-256" };

		if (session_plain_ok(s))
			reply(s, "USER");
#ifdef HAVE_OPENSSL
		if (tls_enabled(sd) && !s->tls)
			reply(s, "STLS");
#endif
		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (session_mech_ok(s, all[i]))
				o += (size_t)snprintf(mechs + o,
				    sizeof(mechs) - o, " %s", all[i]);
		if (o > 0)
			replyf(s, "SASL%s", mechs);
	}
	if (cf->expire[0] != '\0')
		replyf(s, "EXPIRE %s%s", cf->expire,
		    s->state == S_AUTH && strcmp(cf->expire, "NEVER") != 0 ?
		    " USER" : "");
	if (s->state == S_TRANS && s->login_delay > 0)
		replyf(s, "LOGIN-DELAY %u", s->login_delay);
	else if (cf->login_delay > 0)
		replyf(s, "LOGIN-DELAY %u%s", cf->login_delay,
		    s->state == S_AUTH ? " USER" : "");
	reply(s, "IMPLEMENTATION Satchel");
	return reply(s, ".");
}

#define PLAINTEXT_REFUSED "-ERR [AUTH] Plaintext authentication disallowed " \
	"on non-secure (SSL/TLS) connections"

/* USER/PASS and AUTH PLAIN/LOGIN: only over TLS or from trusted nets. */
static int
session_plain_ok(const struct session *s)
{
	return !sd->cf->disable_plaintext_auth || s->tls || s->trusted;
}

/* A SASL mechanism is offered when configured and able to work here. */
static int
session_mech_ok(const struct session *s, const char *mech)
{
	char pad[64];
	char list[256];

	(void)snprintf(list, sizeof(list), " %s ", sd->cf->sasl);
	(void)snprintf(pad, sizeof(pad), " %s ", mech);
	if (strstr(list, pad) == NULL)
		return 0;
	if (strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0)
		return session_plain_ok(s);
	if (!sd->lookup)
		return 0;	/* no module can give a stored credential */
#ifndef HAVE_OPENSSL
	if (strcmp(mech, "SCRAM-SHA-256") == 0)
		return 0;
#endif
	return 1;
}

static int
cmd_user(struct session *s, const struct proto_cmd *cmd)
{
	if (!session_plain_ok(s))
		return reply(s, PLAINTEXT_REFUSED);
	if (cmd->restlen == 0 || cmd->restlen > SATCHEL_USER_MAX ||
	    memchr(cmd->rest, ' ', cmd->restlen) != NULL)
		return reply(s, "-ERR Usage: USER name");
	memcpy(s->user, cmd->rest, cmd->restlen);
	s->user[cmd->restlen] = '\0';
	s->have_user = 1;
	/*
	 * The same answer for every name: whether a user exists is only
	 * ever learned by a correct password.
	 */
	return reply(s, "+OK");
}

static int
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
		return reply(s, PLAINTEXT_REFUSED);
	}
	if (!s->have_user) {
		explicit_bzero(pass, sizeof(pass));
		return reply(s, "-ERR USER first");
	}
	r = session_login(s, PS_AUTH_PASS, pass, "", "pass");
	explicit_bzero(pass, sizeof(pass));
	return r;
}

static int
cmd_apop(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	const char *sp;
	char digest[33];
	size_t ulen, i;

	if (!sd->apop)
		return reply(s, "-ERR APOP is not available");
	/* APOP name digest: the name may be longer than 40 octets. */
	if ((sp = memchr(cmd->rest, ' ', cmd->restlen)) == NULL)
		return reply(s, "-ERR Usage: APOP name digest");
	ulen = (size_t)(sp - cmd->rest);
	if (ulen == 0 || ulen > SATCHEL_USER_MAX ||
	    proto_split(sp + 1, cmd->restlen - ulen - 1, args, 1) != 1 ||
	    strlen(args[0]) != 32)
		return reply(s, "-ERR Usage: APOP name digest");
	for (i = 0; i < 32; i++) {
		char ch = args[0][i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return reply(s, "-ERR Usage: APOP name digest");
		digest[i] = ch;
	}
	digest[32] = '\0';
	memcpy(s->user, cmd->rest, ulen);
	s->user[ulen] = '\0';
	s->have_user = 1;
	return session_login(s, PS_AUTH_APOP, digest, s->apop_ts, "apop");
}

/*
 * Ask the auth pool, then open the mailbox through the agent it forked.
 * Failures of every kind that depend on the credentials get the same
 * words and the same delay.
 */
static int
session_login(struct session *s, uint32_t type, const char *secret,
    const char *extra, const char *method)
{
	struct auth_addrs a = { s->peer, s->local, s->id };
	struct auth_result res;
	int fd, r = -1;

	sb_set(s->slot, SB_AUTH);
	if ((fd = auth_send(type, s->user, secret, extra, &a)) != -1)
		r = auth_result(fd, &res);
	return session_auth_result(s, r, &res, method);
}

static int
session_auth_result(struct session *s, int r, struct auth_result *res,
    const char *method)
{
	char vis[128];

	log_vis(vis, sizeof(vis), s->user, strlen(s->user));
	sb_set(s->slot, SB_PREAUTH);
	if (r == -1) {
		log_warnx("session=%s event=auth user=%s result=tempfail "
		    "reason=auth-pool-unreachable", s->id, vis);
		return reply(s, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later");
	}
	switch (res->result) {
	case SATCHEL_AUTH_OK:
		break;
	case SATCHEL_AUTH_TEMPFAIL:
		log_info("session=%s event=auth user=%s method=%s "
		    "result=tempfail", s->id, vis, method);
		return reply(s, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure, try again later");
	case SATCHEL_AUTH_ERROR:
		log_info("session=%s event=auth user=%s method=%s "
		    "result=error", s->id, vis, method);
		s->failures++;
		session_sleep(res->delay_ms);
		if (reply(s, "-ERR [SYS/PERM] Authentication failed: "
		    "account misconfigured, contact the administrator") == -1)
			return -1;
		if (s->failures >= sd->cf->login_fail_max) {
			s->reason = "auth-failures";
			reply(s, "-ERR Too many failed logins, disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	default:
		s->failures++;
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=fail failures=%u", s->id, vis, method, s->peer,
		    s->failures);
		session_sleep(res->delay_ms);
		s->have_user = 0;
		if (reply(s, "-ERR [AUTH] Authentication failed") == -1)
			return -1;
		if (s->failures >= sd->cf->login_fail_max) {
			s->reason = "auth-failures";
			reply(s, "-ERR Too many failed logins, disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	}

	strlcpy(s->canon, res->user, sizeof(s->canon));
	s->login_delay = res->login_delay;
	log_vis(vis, sizeof(vis), s->canon, strlen(s->canon));
	strlcpy(s->slot->user, vis, sizeof(s->slot->user));
	log_info("session=%s event=auth user=%s method=%s result=ok "
	    "tls=%s", s->id, vis, method, s->tls ? "yes" : "no");
	return session_open_mailbox(s, res->agent_fd);
}

/* ---- STLS and AUTH ----------------------------------------------- */

static int
cmd_stls(struct session *s, const struct proto_cmd *cmd)
{
#ifdef HAVE_OPENSSL
	const char *err;

	if (!tls_enabled(sd))
		return reply(s, "-ERR STLS is not available");
	if (s->tls)
		return reply(s, "-ERR Already using TLS");
	if (cmd->restlen != 0)
		return reply(s, "-ERR STLS takes no argument");
	if (reply(s, "+OK Begin TLS negotiation") == -1 ||
	    conn_flush(&s->c, 60000) == -1)
		return -1;
	/*
	 * Whatever the client sent after STLS, before the handshake, was
	 * sent in the clear: it is discarded, never run inside TLS (the
	 * STARTTLS command injection class, CVE-2011-0411).
	 */
	buf_reset(&s->c.in);
	proto_reader_init(&s->rd, PROTO_LINE_MAX);
	if (tls_accept(sd, &s->c, (int)sd->cf->timeout_preauth * 1000,
	    &err) == -1) {
		log_info("session=%s event=tls result=fail error=\"%s\"",
		    s->id, err);
		s->reason = "tls-failed";
		return CMD_CLOSE;
	}
	s->tls = 1;
	/* RFC 2595: forget what was learned before the handshake. */
	s->have_user = 0;
	memset(s->user, 0, sizeof(s->user));
	log_info("session=%s event=tls result=ok tls=%s", s->id,
	    tls_describe(&s->c));
	return CMD_OK;
#else
	return reply(s, "-ERR STLS is not available");
#endif
}

/* Discard input up to and including the next LF.  0, or -1 if the
 * connection failed or timed out first. */
static int
session_skip_line(struct session *s)
{
	char *lf;
	ssize_t n;

	for (;;) {
		if (s->c.in.len > 0) {
			lf = memchr(buf_ptr(&s->c.in), '\n', s->c.in.len);
			if (lf != NULL) {
				buf_consume(&s->c.in,
				    (size_t)(lf - buf_ptr(&s->c.in)) + 1);
				return 0;
			}
			buf_consume(&s->c.in, s->c.in.len);
		}
		n = conn_fill(&s->c, (int)sd->cf->timeout_preauth * 1000);
		if (n == -3 && !worker_quit)
			continue;
		if (n <= 0)
			return -1;
	}
}

/*
 * Read one SASL response line: "*" cancels (1), a bad or over-long
 * line is an error (-1), else the decoded bytes are in out (*len_r).
 */
static int
session_sasl_read(struct session *s, char *out, size_t outsz,
    size_t *len_r)
{
	struct proto_reader rd;
	const char *line;
	size_t len;
	ssize_t n;
	int r, dl;

	proto_reader_init(&rd, SASL_LINE_MAX);
	for (;;) {
		r = proto_getline(&rd, &s->c.in, &line, &len);
		if (r == PROTO_LINE_OK)
			break;
		if (r == PROTO_LINE_TOOLONG && rd.skipping) {
			/*
			 * Drop the rest of the line here, up to its LF and not
			 * a byte further, so its tail is never read as a
			 * command and the next line stays for the session.
			 */
			if (session_skip_line(s) == -1)
				return -2;
			r = PROTO_LINE_TOOLONG;
		}
		if (r != PROTO_LINE_NEED) {
			reply(s, "-ERR SASL response too long or invalid");
			return -1;
		}
		if (conn_flush(&s->c, 60000) == -1)
			return -2;
		n = conn_fill(&s->c, (int)sd->cf->timeout_preauth * 1000);
		if (n == -3 && !worker_quit)
			continue;
		if (n <= 0)
			return -2;
	}
	if (len == 1 && line[0] == '*') {
		reply(s, "-ERR Authentication cancelled");
		return 1;
	}
	if (len == 1 && line[0] == '=') {
		*len_r = 0;
		return 0;
	}
	if ((dl = sasl_b64_decode(line, len, out, outsz)) < 0) {
		explicit_bzero((void *)(uintptr_t)line, len);
		reply(s, "-ERR Invalid base64 in SASL response");
		return -1;
	}
	explicit_bzero((void *)(uintptr_t)line, len);
	*len_r = (size_t)dl;
	return 0;
}

/* Send a SASL challenge: "+ " and the base64 of p. */
static int
session_challenge(struct session *s, const void *p, size_t len)
{
	char b64[1400];

	if (sasl_b64_encode(p, len, b64, sizeof(b64)) < 0)
		return -1;
	return replyf(s, "+ %s", b64);
}

static int
cmd_auth(struct session *s, const struct proto_cmd *cmd)
{
	static const char *all[] = { "PLAIN", "LOGIN", "CRAM-MD5",
	    "SCRAM-SHA-256" };
	char mech[32], data[SASL_LINE_MAX], user[SATCHEL_USER_MAX + 1];
	char pass[256], chal[256], host[128];
	const char *sp, *ir = NULL;
	size_t i, mlen, irlen = 0, len;
	int r;

	if (cmd->restlen == 0) {
		/* Old clients (Outlook) list mechanisms with a bare AUTH. */
		reply(s, "+OK Supported mechanisms follow");
		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (session_mech_ok(s, all[i]))
				reply(s, all[i]);
		return reply(s, ".");
	}
	sp = memchr(cmd->rest, ' ', cmd->restlen);
	mlen = sp == NULL ? cmd->restlen : (size_t)(sp - cmd->rest);
	if (mlen == 0 || mlen >= sizeof(mech))
		return reply(s, "-ERR Unknown authentication mechanism");
	for (i = 0; i < mlen; i++) {
		char c = cmd->rest[i];

		mech[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	mech[mlen] = '\0';
	if (sp != NULL) {
		ir = sp + 1;
		irlen = cmd->restlen - mlen - 1;
	}
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i], mech) == 0)
			break;
	if (i == sizeof(all) / sizeof(all[0]))
		return reply(s, "-ERR Unknown authentication mechanism");
	if (!session_mech_ok(s, mech)) {
		if ((strcmp(mech, "PLAIN") == 0 ||
		    strcmp(mech, "LOGIN") == 0) && !session_plain_ok(s))
			return reply(s, PLAINTEXT_REFUSED);
		return reply(s, "-ERR Authentication mechanism not "
		    "available");
	}

	/* The initial response, if any: "=" is an empty one. */
	len = 0;
	if (ir != NULL) {
		int dl;

		if (irlen == 1 && ir[0] == '=')
			dl = 0;
		else if ((dl = sasl_b64_decode(ir, irlen, data,
		    sizeof(data))) < 0) {
			explicit_bzero((void *)(uintptr_t)ir, irlen);
			return reply(s, "-ERR Invalid base64 in SASL "
			    "response");
		}
		explicit_bzero((void *)(uintptr_t)ir, irlen);
		len = (size_t)dl;
	}

	if (strcmp(mech, "PLAIN") == 0) {
		if (ir == NULL) {
			if (reply(s, "+ ") == -1)
				return -1;
			if ((r = session_sasl_read(s, data, sizeof(data),
			    &len)) != 0)
				return r == -2 ? CMD_CLOSE : 0;
		}
		r = sasl_plain_parse(data, len, user, sizeof(user), pass,
		    sizeof(pass));
		explicit_bzero(data, sizeof(data));
		if (r == -1) {
			explicit_bzero(pass, sizeof(pass));
			return reply(s, "-ERR Malformed PLAIN response");
		}
		strlcpy(s->user, user, sizeof(s->user));
		r = session_login(s, PS_AUTH_PASS, pass, "", "plain");
		explicit_bzero(pass, sizeof(pass));
		return r;
	}

	if (strcmp(mech, "LOGIN") == 0) {
		if (ir == NULL) {
			if (session_challenge(s, "Username:", 9) == -1)
				return -1;
			if ((r = session_sasl_read(s, data, sizeof(data),
			    &len)) != 0)
				return r == -2 ? CMD_CLOSE : 0;
		}
		if (len == 0 || len >= sizeof(user) ||
		    memchr(data, '\0', len) != NULL)
			return reply(s, "-ERR Malformed LOGIN user name");
		memcpy(user, data, len);
		user[len] = '\0';
		if (session_challenge(s, "Password:", 9) == -1)
			return -1;
		if ((r = session_sasl_read(s, data, sizeof(data), &len)) != 0)
			return r == -2 ? CMD_CLOSE : 0;
		if (len == 0 || len >= sizeof(pass) ||
		    memchr(data, '\0', len) != NULL) {
			explicit_bzero(data, sizeof(data));
			return reply(s, "-ERR Malformed LOGIN password");
		}
		memcpy(pass, data, len);
		pass[len] = '\0';
		explicit_bzero(data, sizeof(data));
		strlcpy(s->user, user, sizeof(s->user));
		r = session_login(s, PS_AUTH_PASS, pass, "", "login");
		explicit_bzero(pass, sizeof(pass));
		return r;
	}

	if (strcmp(mech, "CRAM-MD5") == 0) {
		const char *space;

		if (ir != NULL)
			return reply(s, "-ERR CRAM-MD5 takes no initial "
			    "response");
		if (gethostname(host, sizeof(host)) == -1)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		(void)snprintf(chal, sizeof(chal), "<%ld.%s.%lld@%.80s>",
		    (long)getpid(), s->id, (long long)time(NULL), host);
		if (session_challenge(s, chal, strlen(chal)) == -1)
			return -1;
		if ((r = session_sasl_read(s, data, sizeof(data), &len)) != 0)
			return r == -2 ? CMD_CLOSE : 0;
		/* "user SP 32-hex-digest" */
		if (len < 34 || (space = memchr(data, ' ', len)) == NULL ||
		    (size_t)(data + len - space - 1) != 32 ||
		    space == data || (size_t)(space - data) >= sizeof(user))
			return reply(s, "-ERR Malformed CRAM-MD5 response");
		memcpy(user, data, (size_t)(space - data));
		user[space - data] = '\0';
		memcpy(pass, space + 1, 32);
		pass[32] = '\0';
		for (i = 0; i < 32; i++)
			if (pass[i] >= 'A' && pass[i] <= 'F')
				pass[i] = (char)(pass[i] + 32);
		strlcpy(s->user, user, sizeof(s->user));
		return session_login(s, PS_AUTH_CRAM, pass, chal, "cram-md5");
	}

	/* SCRAM-SHA-256: the auth pool holds the exchange's state. */
	{
		struct auth_addrs a = { s->peer, s->local, s->id };
		struct auth_result res;
		char sfirst[1024];
		int fd;

		if (ir == NULL) {
			if (reply(s, "+ ") == -1)
				return -1;
			if ((r = session_sasl_read(s, data, sizeof(data) - 1,
			    &len)) != 0)
				return r == -2 ? CMD_CLOSE : 0;
		}
		if (len == 0 || memchr(data, '\0', len) != NULL ||
		    len >= sizeof(data))
			return reply(s, "-ERR Malformed SCRAM message");
		data[len] = '\0';
		/* For the log line: the n= attribute, if it is there. */
		{
			const char *np = strstr(data, ",n=");
			size_t k = 0;

			if (np != NULL)
				for (np += 3; *np != '\0' && *np != ',' &&
				    k + 1 < sizeof(s->user); np++)
					s->user[k++] = *np;
			s->user[k] = '\0';
		}
		sb_set(s->slot, SB_AUTH);
		if ((fd = auth_send(PS_AUTH_SCRAM, "", data, "", &a)) == -1)
			return session_auth_result(s, -1, &res, "scram");
		if (auth_continue(fd, sfirst, sizeof(sfirst)) == -1) {
			/* A malformed client-first ends here. */
			r = auth_result(fd, &res);
			return session_auth_result(s, r, &res, "scram");
		}
		if (session_challenge(s, sfirst, strlen(sfirst)) == -1) {
			close(fd);
			return -1;
		}
		r = session_sasl_read(s, data, sizeof(data) - 1, &len);
		if (r != 0 || memchr(data, '\0', len) != NULL) {
			close(fd);
			sb_set(s->slot, SB_PREAUTH);
			return r == -2 ? CMD_CLOSE : r == 1 ? 0 :
			    reply(s, "-ERR Malformed SCRAM message");
		}
		data[len] = '\0';
		if (auth_scram_final(fd, data) == -1) {
			close(fd);
			return session_auth_result(s, -1, &res, "scram");
		}
		r = auth_result(fd, &res);
		if (r == 0 && res.result == SATCHEL_AUTH_OK) {
			/* The server signature, answered with an empty
			 * line, before +OK (RFC 5034 section 4). */
			if (session_challenge(s, res.data,
			    strlen(res.data)) == -1) {
				close(res.agent_fd);
				return -1;
			}
			if (session_sasl_read(s, data, sizeof(data),
			    &len) != 0 || len != 0) {
				close(res.agent_fd);
				sb_set(s->slot, SB_PREAUTH);
				return reply(s, "-ERR [AUTH] Authentication "
				    "failed");
			}
		}
		return session_auth_result(s, r, &res, "scram");
	}
}

static void
session_free_mailbox(struct session *s)
{
	if (s->agent != -1)
		close(s->agent);
	s->agent = -1;
	free(s->sizes);
	free(s->uids);
	free(s->marks);
	s->sizes = NULL;
	s->uids = NULL;
	s->marks = NULL;
	s->count = 0;
	s->total = 0;
}

static int
session_open_mailbox(struct session *s, int fd)
{
	static struct privsep_msg m;
	struct unpack u;
	char msg[256];
	uint32_t status, n, i;
	uint64_t count, total, got = 0, sum = 0;
	size_t len;
	int r;

	s->agent = fd;
	/* The agent locks and scans: allow for a big mailbox. */
	r = privsep_recv(fd, &m, MAILBOX_OPEN_TIMEOUT_MS);
	if (r != 0 || m.type != PS_MBOX_HELLO)
		goto broken;
	unpack_init(&u, m.data, m.len);
	status = unpack_u32(&u);
	count = unpack_u64(&u);
	total = unpack_u64(&u);
	unpack_str(&u, msg, sizeof(msg));
	if (unpack_done(&u) == -1)
		goto broken;
	if (status == SATCHEL_MBOX_INUSE) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=in-use",
		    s->id, s->slot->user);
		return reply(s, "-ERR [IN-USE] Mailbox is locked by another "
		    "POP3 session");
	}
	if (status != SATCHEL_MBOX_OK) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=fail", s->id,
		    s->slot->user);
		return replyf(s, "-ERR [%s] Cannot open the mailbox",
		    status == SATCHEL_MBOX_TEMPFAIL ? "SYS/TEMP" : "SYS/PERM");
	}
	if (count > 10000000 || (s->sizes = calloc(count + 1,
	    sizeof(*s->sizes))) == NULL || (s->uids = calloc(count + 1,
	    sizeof(*s->uids))) == NULL || (s->marks = calloc(count + 1, 1))
	    == NULL)
		goto broken;
	s->count = (size_t)count;
	if (privsep_send(fd, PS_MBOX_LIST, NULL, 0, -1) == -1)
		goto broken;
	for (;;) {
		if (privsep_recv(fd, &m, AUTH_TIMEOUT_MS) != 0)
			goto broken;
		if (m.type == PS_MBOX_LIST_END && m.len == 0)
			break;
		if (m.type != PS_MBOX_LIST_BATCH)
			goto broken;
		unpack_init(&u, m.data, m.len);
		n = unpack_u32(&u);
		for (i = 0; i < n && !u.err; i++) {
			if (got >= count)
				goto broken;
			s->sizes[got] = unpack_u64(&u);
			unpack_str(&u, s->uids[got], sizeof(s->uids[0]));
			len = strlen(s->uids[got]);
			if (len == 0)
				goto broken;
			while (len-- > 0)
				if ((unsigned char)s->uids[got][len] < 0x21 ||
				    (unsigned char)s->uids[got][len] > 0x7e)
					goto broken;
			sum += s->sizes[got];
			got++;
		}
		if (unpack_done(&u) == -1)
			goto broken;
	}
	if (got != count || sum != total)
		goto broken;
	s->total = total;
	s->state = S_TRANS;
	sb_set(s->slot, SB_TRANSACTION);
	setproctitle_fmt("satcheld: worker %s", s->slot->user);
	return replyf(s, "+OK Logged in, %zu message%s (%llu octets)",
	    s->count, s->count == 1 ? "" : "s", (unsigned long long)s->total);
broken:
	log_warnx("session=%s event=mailbox user=%s result=error "
	    "reason=agent-failed", s->id, s->slot->user);
	session_free_mailbox(s);
	return reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try again "
	    "later");
}

static int
cmd_quit(struct session *s, const struct proto_cmd *cmd)
{
	if (s->state == S_AUTH) {
		s->reason = "quit";
		reply(s, "+OK Bye");
		return CMD_CLOSE;
	}
	return session_commit(s);
}

/* ---- TRANSACTION ------------------------------------------------- */

/* Parse a message number: 0 and *idx_r (0-based) set, or reply -ERR. */
static int
session_msgnum(struct session *s, const char *arg, size_t *idx_r)
{
	uint64_t n;

	if (proto_number(arg, strlen(arg), 1, s->count, &n) == -1) {
		reply(s, "-ERR No such message");
		return -1;
	}
	if (s->marks[n - 1] & SATCHEL_MARK_DELETED) {
		replyf(s, "-ERR Message %llu is deleted",
		    (unsigned long long)n);
		return -1;
	}
	*idx_r = (size_t)(n - 1);
	return 0;
}

static int
cmd_noop(struct session *s, const struct proto_cmd *cmd)
{
	return reply(s, "+OK");
}

static int
cmd_stat(struct session *s, const struct proto_cmd *cmd)
{
	if (cmd->restlen != 0)
		return reply(s, "-ERR STAT takes no argument");
	return replyf(s, "+OK %zu %llu", s->count - s->ndele,
	    (unsigned long long)(s->total - s->bdele));
}

static int
cmd_list_uidl(struct session *s, const struct proto_cmd *cmd, int uidl)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1], line[128];
	size_t i;
	int n;

	n = proto_split(cmd->rest, cmd->restlen, args, 1);
	if (n == -1)
		return reply(s, "-ERR Too many arguments");
	if (n == 1) {
		if (session_msgnum(s, args[0], &i) == -1)
			return 0;
		if (uidl)
			return replyf(s, "+OK %zu %s", i + 1, s->uids[i]);
		return replyf(s, "+OK %zu %llu", i + 1,
		    (unsigned long long)s->sizes[i]);
	}
	if (uidl)
		reply(s, "+OK Unique-ID listing follows");
	else
		replyf(s, "+OK %zu messages (%llu octets)",
		    s->count - s->ndele,
		    (unsigned long long)(s->total - s->bdele));
	for (i = 0; i < s->count; i++) {
		if (s->marks[i] & SATCHEL_MARK_DELETED)
			continue;
		if (uidl)
			n = snprintf(line, sizeof(line), "%zu %s\r\n", i + 1,
			    s->uids[i]);
		else
			n = snprintf(line, sizeof(line), "%zu %llu\r\n", i + 1,
			    (unsigned long long)s->sizes[i]);
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    conn_write(&s->c, line, (size_t)n) == -1)
			return -1;
	}
	return reply(s, ".");
}

static int
cmd_list(struct session *s, const struct proto_cmd *cmd)
{
	return cmd_list_uidl(s, cmd, 0);
}

static int
cmd_uidl(struct session *s, const struct proto_cmd *cmd)
{
	return cmd_list_uidl(s, cmd, 1);
}

/*
 * Ask the agent for message idx and stream it: the agent answers with a
 * file descriptor, offset and length, and the bytes are converted
 * chunk by chunk (CRLF, unescaping, dot-stuffing), never held whole.
 */
static int
session_send_message(struct session *s, size_t idx, int top,
    uint64_t top_lines)
{
	static struct privsep_msg m;
	static char in[READ_CHUNK];
	struct proto_xfer x;
	struct pack pk;
	struct unpack u;
	unsigned char req[16];
	char err[256], *out;
	uint64_t offset, length, done = 0;
	uint32_t status, flags;
	ssize_t n;
	size_t w;
	int fd;

	pack_init(&pk, req, sizeof(req));
	pack_u64(&pk, idx);
	if (privsep_send(s->agent, PS_MBOX_OPEN, req, pk.len, -1) == -1 ||
	    privsep_recv(s->agent, &m, AUTH_TIMEOUT_MS) != 0 ||
	    m.type != PS_MBOX_MSG)
		goto agent_failed;
	fd = m.fd;
	unpack_init(&u, m.data, m.len);
	status = unpack_u32(&u);
	offset = unpack_u64(&u);
	length = unpack_u64(&u);
	flags = unpack_u32(&u);
	unpack_str(&u, err, sizeof(err));
	if (unpack_done(&u) == -1 || (status == 0 && fd == -1)) {
		if (fd != -1)
			close(fd);
		goto agent_failed;
	}
	if (status != 0) {
		if (fd != -1)
			close(fd);
		return replyf(s, "-ERR %s", status == 1 ?
		    "Message was removed by another program" :
		    "[SYS/TEMP] Cannot read the message");
	}
	if (top)
		reply(s, "+OK Top of message follows");
	else
		replyf(s, "+OK %llu octets",
		    (unsigned long long)s->sizes[idx]);
	proto_xfer_init(&x, flags, 1, top, top_lines);
	while (done < length && !proto_xfer_done(&x)) {
		size_t want = length - done < sizeof(in) ?
		    (size_t)(length - done) : sizeof(in);

		n = pread(fd, in, want, (off_t)(offset + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			/*
			 * The message shrank under us: the reply is already
			 * under way, so the only honest thing left is to
			 * drop the connection rather than end it with "."
			 */
			log_warnx("session=%s event=retr user=%s "
			    "result=short-read", s->id, s->slot->user);
			close(fd);
			s->reason = "read-error";
			return CMD_CLOSE;
		}
		done += (uint64_t)n;
		if (buf_reserve(&s->c.out, 3 * (size_t)n + PROTO_XFER_SLACK,
		    &out) == -1 && (conn_flush(&s->c, 60000) == -1 ||
		    buf_reserve(&s->c.out, 3 * (size_t)n + PROTO_XFER_SLACK,
		    &out) == -1)) {
			close(fd);
			return -1;
		}
		w = proto_xfer(&x, in, (size_t)n, out);
		buf_commit(&s->c.out, w);
		if (s->c.out.len >= IO_FLUSH_AT &&
		    conn_flush(&s->c, 60000) == -1) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (buf_reserve(&s->c.out, PROTO_XFER_SLACK, &out) == -1) {
		if (conn_flush(&s->c, 60000) == -1 ||
		    buf_reserve(&s->c.out, PROTO_XFER_SLACK, &out) == -1)
			return -1;
	}
	buf_commit(&s->c.out, proto_xfer_end(&x, out));
	return 0;
agent_failed:
	log_warnx("session=%s event=retr user=%s result=error "
	    "reason=agent-failed", s->id, s->slot->user);
	s->reason = "agent-failed";
	reply(s, "-ERR [SYS/TEMP] Mailbox service failed");
	return CMD_CLOSE;
}

static int
cmd_retr(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	size_t i;
	int r;

	if (proto_split(cmd->rest, cmd->restlen, args, 1) != 1)
		return reply(s, "-ERR Usage: RETR message");
	if (session_msgnum(s, args[0], &i) == -1)
		return 0;
	if ((r = session_send_message(s, i, 0, 0)) != 0)
		return r;
	if ((s->marks[i] & SATCHEL_MARK_SEEN) == 0) {
		s->marks[i] |= SATCHEL_MARK_SEEN;
		s->nretr++;
		s->bretr += s->sizes[i];
	}
	return 0;
}

static int
cmd_top(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	uint64_t lines;
	size_t i;

	if (proto_split(cmd->rest, cmd->restlen, args, 2) != 2)
		return reply(s, "-ERR Usage: TOP message lines");
	if (session_msgnum(s, args[0], &i) == -1)
		return 0;
	if (proto_number(args[1], strlen(args[1]), 0, UINT64_MAX / 2,
	    &lines) == -1)
		return reply(s, "-ERR Invalid number of lines");
	return session_send_message(s, i, 1, lines);
}

static int
cmd_dele(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	size_t i;

	if (proto_split(cmd->rest, cmd->restlen, args, 1) != 1)
		return reply(s, "-ERR Usage: DELE message");
	if (session_msgnum(s, args[0], &i) == -1)
		return 0;
	s->marks[i] |= SATCHEL_MARK_DELETED;
	s->ndele++;
	s->bdele += s->sizes[i];
	return replyf(s, "+OK Message %zu deleted", i + 1);
}

static int
cmd_rset(struct session *s, const struct proto_cmd *cmd)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		s->marks[i] &= (uint8_t)~SATCHEL_MARK_DELETED;
	s->ndele = 0;
	s->bdele = 0;
	return replyf(s, "+OK %zu messages (%llu octets)", s->count,
	    (unsigned long long)s->total);
}

/* ---- UPDATE ------------------------------------------------------ */

static int
session_commit(struct session *s)
{
	static struct privsep_msg m;
	static unsigned char req[PRIVSEP_MSG_MAX];
	struct pack pk;
	struct unpack u;
	char err[256];
	size_t i, n, chunk = PRIVSEP_MSG_MAX - 64;
	uint32_t status;

	sb_set(s->slot, SB_UPDATE);
	s->reason = "quit";
	for (i = 0; i < s->count; i += n) {
		n = s->count - i < chunk ? s->count - i : chunk;
		pack_init(&pk, req, sizeof(req));
		pack_u64(&pk, i);
		pack_u32(&pk, (uint32_t)n);
		pack_bytes(&pk, s->marks + i, n);
		if (pk.err || privsep_send(s->agent, PS_MBOX_MARKS, req,
		    pk.len, -1) == -1)
			goto failed;
	}
	if (privsep_send(s->agent, PS_MBOX_COMMIT, NULL, 0, -1) == -1 ||
	    privsep_recv(s->agent, &m, AUTH_TIMEOUT_MS * 5) != 0 ||
	    m.type != PS_MBOX_COMMIT_RESULT)
		goto failed;
	unpack_init(&u, m.data, m.len);
	status = unpack_u32(&u);
	unpack_str(&u, err, sizeof(err));
	if (unpack_done(&u) == -1)
		goto failed;
	if (status != 0) {
		s->reason = "update-failed";
		reply(s, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
		return CMD_CLOSE;
	}
	replyf(s, "+OK Logging out, %zu message%s deleted", s->ndele,
	    s->ndele == 1 ? "" : "s");
	return CMD_CLOSE;
failed:
	log_warnx("session=%s event=update user=%s result=error", s->id,
	    s->slot->user);
	s->reason = "update-failed";
	reply(s, "-ERR [SYS/TEMP] Mailbox update failed, nothing was "
	    "deleted");
	return CMD_CLOSE;
}

/* ---- the loop ---------------------------------------------------- */

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
session_run(int fd, const struct sockaddr *sa, socklen_t salen,
    const struct listener *l, struct sb_slot *slot)
{
	struct session *s;
	struct sockaddr_storage ls;
	socklen_t lslen = sizeof(ls);
	struct proto_cmd cmd;
	const char *line;
	char where[128], host[256];
	unsigned char rnd[8];
	struct timespec deadline, now;
	size_t len, i;
	ssize_t n;
	int r, timeout, waiting = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return;
	}
	conn_init(&s->c, fd);
	proto_reader_init(&s->rd, PROTO_LINE_MAX);
	s->l = l;
	s->slot = slot;
	s->state = S_AUTH;
	s->agent = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	addr_text(sa, salen, s->peer, sizeof(s->peer), 0);
	addr_text(sa, salen, where, sizeof(where), 1);
	if (getsockname(fd, (struct sockaddr *)&ls, &lslen) == 0)
		addr_text((struct sockaddr *)&ls, lslen, s->local,
		    sizeof(s->local), 0);
	strlcpy(slot->peer, s->peer, sizeof(slot->peer));
	s->trusted = conf_trusted(sd->cf, sa);
	log_info("session=%s event=connect addr=%s listener=%s tls=%s",
	    s->id, where, l->name, l->tls ? "yes" : "no");
	setproctitle_fmt("satcheld: worker [%s]", s->peer);
#ifdef HAVE_OPENSSL
	if (l->tls) {
		const char *err;

		if (tls_accept(sd, &s->c, (int)sd->cf->timeout_preauth * 1000,
		    &err) == -1) {
			log_info("session=%s event=tls result=fail "
			    "error=\"%s\"", s->id, err);
			s->reason = "tls-failed";
			goto end;
		}
		s->tls = 1;
		log_info("session=%s event=tls result=ok tls=%s", s->id,
		    tls_describe(&s->c));
	}
#endif

	if (sd->apop) {
		if (gethostname(host, sizeof(host)) == -1)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		(void)snprintf(s->apop_ts, sizeof(s->apop_ts),
		    "<%ld.%s@%.100s>", (long)getpid(), s->id, host);
		replyf(s, "+OK %s %s", sd->cf->greeting, s->apop_ts);
	} else
		replyf(s, "+OK %s", sd->cf->greeting);

	for (;;) {
		r = proto_getline(&s->rd, &s->c.in, &line, &len);
		if (r == PROTO_LINE_NEED) {
			if (conn_flush(&s->c, 60000) == -1) {
				s->reason = "write-error";
				break;
			}
			if (worker_quit) {
				reply(s, "-ERR [SYS/TEMP] Server shutting "
				    "down");
				s->reason = "shutdown";
				break;
			}
			if (!waiting) {
				/* The idle clock starts once, not on every
				 * signal that interrupts the wait. */
				clock_gettime(CLOCK_MONOTONIC, &deadline);
				deadline.tv_sec += (time_t)(s->state ==
				    S_AUTH ? sd->cf->timeout_preauth :
				    sd->cf->timeout_session);
				waiting = 1;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			timeout = (int)((deadline.tv_sec - now.tv_sec) * 1000 +
			    (deadline.tv_nsec - now.tv_nsec) / 1000000);
			n = timeout <= 0 ? -2 : conn_fill(&s->c, timeout);
			if (n != -3)
				waiting = 0;
			if (n == -3)
				continue;	/* signal: check the flags */
			if (n == -2) {
				reply(s, "-ERR Disconnected for inactivity");
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
			reply(s, r == PROTO_LINE_TOOLONG ?
			    "-ERR Line too long" : "-ERR Invalid line (NUL)");
			if (++s->bad >= BAD_COMMANDS_MAX) {
				reply(s, "-ERR Too many bad commands, "
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
			reply(s, "-ERR Unknown command");
		} else if ((commands[i].states & s->state) == 0) {
			reply(s, s->state == S_AUTH ?
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
			reply(s, "-ERR Too many bad commands, disconnecting");
			s->reason = "bad-commands";
			break;
		}
	}
	(void)conn_flush(&s->c, 5000);
end:
	session_log_end(s);
	/* Closing the agent's socket without a commit deletes nothing. */
	session_free_mailbox(s);
	conn_close(&s->c);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
