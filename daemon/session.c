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
#include "scoreboard.h"
#include "session.h"
#include "session_int.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

#define BAD_COMMANDS_MAX	10
#define READ_CHUNK		(64 * 1024)

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


static int session_open_mailbox(struct session *, int);
static void session_free_mailbox(struct session *);
static int session_msgnum(struct session *, const char *, size_t *);
static int session_send_message(struct session *, size_t, int, uint64_t);
static int session_commit(struct session *);
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
	if (left > (int64_t)sd->cf->timeout_preauth * 1000)
		left = (int64_t)sd->cf->timeout_preauth * 1000;
	return (int)left;
}

/* ---- AUTHORIZATION ----------------------------------------------- */

static int
cmd_capa(struct session *s, const struct proto_cmd *cmd)
{
	struct config *cf = sd->cf;

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
		static const char *all[] = { "PLAIN", "LOGIN", "CRAM-MD5",
		    "SCRAM-SHA-256" };

		if (session_plain_ok(s))
			session_reply(s, "USER");
#ifdef HAVE_OPENSSL
		if (tls_enabled(sd) && !s->tls)
			session_reply(s, "STLS");
#endif
		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (session_mech_ok(s, all[i]))
				o += (size_t)snprintf(mechs + o,
				    sizeof(mechs) - o, " %s", all[i]);
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
	return !sd->cf->disable_plaintext_auth || s->tls || s->trusted;
}

/* A SASL mechanism is offered when configured and able to work here. */
int
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
		return session_reply(s, PLAINTEXT_REFUSED);
	}
	if (!s->have_user) {
		explicit_bzero(pass, sizeof(pass));
		return session_reply(s, "-ERR USER first");
	}
	r = session_login(s, MECH_PASS, pass, "pass");
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
		return session_reply(s, "-ERR APOP is not available");
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
	int fd, r = -1;

	sb_set(s->slot, SB_AUTH);
	if (mech == MECH_APOP || mech == MECH_CRAM) {
		fd = s->chal_fd;
		s->chal_fd = -1;
		if (mech == MECH_APOP)
			s->apop_fd = -1;
	} else
		fd = authc_connect();
	memset(&res, 0, sizeof(res));
	if (fd != -1) {
		if (authc_request(fd, mech, s->user, secret, s->id, s->tls,
		    s->c.fd) == 0)
			r = authc_result(fd, &res);
		else
			close(fd);
	}
	return session_auth_result(s, r, &res, method);
}

int
session_auth_result(struct session *s, int r, struct auth_result *res,
    const char *method)
{
	char vis[128];

	log_vis(vis, sizeof(vis), s->user, strlen(s->user));
	sb_set(s->slot, SB_PREAUTH);
	if (r == -1) {
		log_warnx("session=%s event=auth user=%s addr=%s "
		    "result=tempfail reason=auth-pool-unreachable", s->id,
		    vis, s->peer);
		return session_reply(s, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later");
	}
	switch (res->result) {
	case SATCHEL_AUTH_OK:
		break;
	case SATCHEL_AUTH_TEMPFAIL:
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=tempfail reason=backend", s->id, vis, method,
		    s->peer);
		return session_reply(s, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure, try again later");
	case SATCHEL_AUTH_ERROR:
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=error reason=account-misconfigured", s->id, vis,
		    method, s->peer);
		s->failures++;
		if (session_reply(s, "-ERR [SYS/PERM] Authentication failed: "
		    "account misconfigured, contact the administrator") == -1)
			return -1;
		if (s->failures >= sd->cf->login_fail_max) {
			s->reason = "auth-failures";
			session_reply(s, "-ERR Too many failed logins, disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	default:
		s->failures++;
		/* The line fail2ban and CrowdSec match (packaging/fail2ban). */
		log_info("session=%s event=auth user=%s method=%s addr=%s "
		    "result=fail reason=bad-credentials failures=%u", s->id,
		    vis, method, s->peer, s->failures);
		s->have_user = 0;
		if (session_reply(s, "-ERR [AUTH] Authentication failed") == -1)
			return -1;
		if (s->failures >= sd->cf->login_fail_max) {
			s->reason = "auth-failures";
			session_reply(s, "-ERR Too many failed logins, disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	}

	strlcpy(s->canon, res->user, sizeof(s->canon));
	s->login_delay = res->login_delay;
	log_vis(vis, sizeof(vis), s->canon, strlen(s->canon));
	strlcpy(s->slot->user, vis, sizeof(s->slot->user));
	if (limit_user(sd->cf, sd->sb, s->slot, s->trusted) == -1) {
		/* Closing the agent's socket ends it; nothing is opened. */
		close(res->agent_fd);
		memset(s->slot->user, 0, sizeof(s->slot->user));
		log_info("session=%s event=limit addr=%s user=%s "
		    "limit=max_sessions_per_user result=refused", s->id,
		    s->peer, vis);
		s->reason = "max-sessions-per-user";
		session_reply(s, "-ERR [SYS/TEMP] Too many sessions for this "
		    "user, try again later");
		return CMD_CLOSE;
	}
	log_info("session=%s event=auth user=%s method=%s result=ok "
	    "tls=%s addr=%s", s->id, vis, method, s->tls ? "yes" : "no",
	    s->peer);
	return session_open_mailbox(s, res->agent_fd);
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
	struct msg_mbox_hello hello;
	struct unpack u;
	uint32_t status, n, i;
	uint64_t count, total, got = 0, sum = 0;
	size_t len;
	int r;

	s->agent = fd;
	/* The agent locks and scans: allow for a big mailbox. */
	r = privsep_recv(fd, &m, MAILBOX_OPEN_TIMEOUT_MS);
	if (r != 0 || m.fd != -1 || msg_get_mbox_hello(&m, &hello) == -1)
		goto broken;
	status = hello.status;
	count = hello.count;
	total = hello.total;
	if (status == SATCHEL_MBOX_INUSE) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=in-use",
		    s->id, s->slot->user);
		return session_reply(s, "-ERR [IN-USE] Mailbox is locked by another "
		    "POP3 session");
	}
	if (status != SATCHEL_MBOX_OK) {
		session_free_mailbox(s);
		log_info("session=%s event=mailbox user=%s result=fail", s->id,
		    s->slot->user);
		return session_replyf(s, "-ERR [%s] Cannot open the mailbox",
		    status == SATCHEL_MBOX_TEMPFAIL ? "SYS/TEMP" : "SYS/PERM");
	}
	if (count > 10000000 || (s->sizes = calloc(count + 1,
	    sizeof(*s->sizes))) == NULL || (s->uids = calloc(count + 1,
	    sizeof(*s->uids))) == NULL || (s->marks = calloc(count + 1, 1))
	    == NULL)
		goto broken;
	s->count = (size_t)count;
	if (privsep_send(fd, MSG_MBOX_LIST, NULL, 0, -1) == -1)
		goto broken;
	for (;;) {
		if (privsep_recv(fd, &m, AUTH_TIMEOUT_MS) != 0)
			goto broken;
		if (m.type == MSG_MBOX_LIST_END && m.len == 0)
			break;
		if (m.type != MSG_MBOX_LIST_BATCH)
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
	return session_replyf(s, "+OK Logged in, %zu message%s (%llu octets)",
	    s->count, s->count == 1 ? "" : "s", (unsigned long long)s->total);
broken:
	log_warnx("session=%s event=mailbox user=%s result=error "
	    "reason=agent-failed", s->id, s->slot->user);
	session_free_mailbox(s);
	return session_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try again "
	    "later");
}

static int
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
static int
session_msgnum(struct session *s, const char *arg, size_t *idx_r)
{
	uint64_t n;

	if (proto_number(arg, strlen(arg), 1, s->count, &n) == -1) {
		session_reply(s, "-ERR No such message");
		return -1;
	}
	if (s->marks[n - 1] & SATCHEL_MARK_DELETED) {
		session_replyf(s, "-ERR Message %llu is deleted",
		    (unsigned long long)n);
		return -1;
	}
	*idx_r = (size_t)(n - 1);
	return 0;
}

static int
cmd_noop(struct session *s, const struct proto_cmd *cmd)
{
	return session_reply(s, "+OK");
}

static int
cmd_stat(struct session *s, const struct proto_cmd *cmd)
{
	if (cmd->restlen != 0)
		return session_reply(s, "-ERR STAT takes no argument");
	return session_replyf(s, "+OK %zu %llu", s->count - s->ndele,
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
		return session_reply(s, "-ERR Too many arguments");
	if (n == 1) {
		if (session_msgnum(s, args[0], &i) == -1)
			return 0;
		if (uidl)
			return session_replyf(s, "+OK %zu %s", i + 1, s->uids[i]);
		return session_replyf(s, "+OK %zu %llu", i + 1,
		    (unsigned long long)s->sizes[i]);
	}
	if (uidl)
		session_reply(s, "+OK Unique-ID listing follows");
	else
		session_replyf(s, "+OK %zu messages (%llu octets)",
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
	return session_reply(s, ".");
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
	struct msg_mbox_open rq;
	struct msg_mbox_msg rp;
	char *out;
	uint64_t offset, length, done = 0;
	uint32_t flags;
	ssize_t n;
	size_t w;
	int fd;

	memset(&rq, 0, sizeof(rq));
	rq.index = idx;
	if (msg_send_mbox_open(s->agent, &rq, -1) == -1 ||
	    privsep_recv(s->agent, &m, AUTH_TIMEOUT_MS) != 0)
		goto agent_failed;
	fd = m.fd;
	if (msg_get_mbox_msg(&m, &rp) == -1 || (rp.status == MBOX_ST_OK &&
	    fd == -1)) {
		if (fd != -1)
			close(fd);
		goto agent_failed;
	}
	offset = rp.offset;
	length = rp.length;
	flags = rp.flags;
	if (rp.status != MBOX_ST_OK) {
		if (fd != -1)
			close(fd);
		return session_replyf(s, "-ERR %s", rp.status ==
		    MBOX_ST_VANISHED ? "Message was removed by another program" :
		    "[SYS/TEMP] Cannot read the message");
	}
	if (top)
		session_reply(s, "+OK Top of message follows");
	else
		session_replyf(s, "+OK %llu octets",
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
	session_reply(s, "-ERR [SYS/TEMP] Mailbox service failed");
	return CMD_CLOSE;
}

static int
cmd_retr(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	size_t i;
	int r;

	if (proto_split(cmd->rest, cmd->restlen, args, 1) != 1)
		return session_reply(s, "-ERR Usage: RETR message");
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
		return session_reply(s, "-ERR Usage: TOP message lines");
	if (session_msgnum(s, args[0], &i) == -1)
		return 0;
	if (proto_number(args[1], strlen(args[1]), 0, UINT64_MAX / 2,
	    &lines) == -1)
		return session_reply(s, "-ERR Invalid number of lines");
	return session_send_message(s, i, 1, lines);
}

static int
cmd_dele(struct session *s, const struct proto_cmd *cmd)
{
	char args[PROTO_ARGS_MAX][PROTO_ARG_MAX + 1];
	size_t i;

	if (proto_split(cmd->rest, cmd->restlen, args, 1) != 1)
		return session_reply(s, "-ERR Usage: DELE message");
	if (session_msgnum(s, args[0], &i) == -1)
		return 0;
	s->marks[i] |= SATCHEL_MARK_DELETED;
	s->ndele++;
	s->bdele += s->sizes[i];
	return session_replyf(s, "+OK Message %zu deleted", i + 1);
}

static int
cmd_rset(struct session *s, const struct proto_cmd *cmd)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		s->marks[i] &= (uint8_t)~SATCHEL_MARK_DELETED;
	s->ndele = 0;
	s->bdele = 0;
	return session_replyf(s, "+OK %zu messages (%llu octets)", s->count,
	    (unsigned long long)s->total);
}

/* ---- UPDATE ------------------------------------------------------ */

static int
session_commit(struct session *s)
{
	static struct privsep_msg m;
	static unsigned char req[PRIVSEP_MSG_MAX];
	struct msg_mbox_commit_result rp;
	struct pack pk;
	size_t i, n, chunk = PRIVSEP_MSG_MAX - 64;

	sb_set(s->slot, SB_UPDATE);
	s->reason = "quit";
	for (i = 0; i < s->count; i += n) {
		n = s->count - i < chunk ? s->count - i : chunk;
		pack_init(&pk, req, sizeof(req));
		pack_u64(&pk, i);
		pack_u32(&pk, (uint32_t)n);
		pack_bytes(&pk, s->marks + i, n);
		if (pk.err || privsep_send(s->agent, MSG_MBOX_MARKS, req,
		    pk.len, -1) == -1)
			goto failed;
	}
	if (privsep_send(s->agent, MSG_MBOX_COMMIT, NULL, 0, -1) == -1 ||
	    privsep_recv(s->agent, &m, AUTH_TIMEOUT_MS * 5) != 0 ||
	    m.fd != -1 || msg_get_mbox_commit_result(&m, &rp) == -1)
		goto failed;
	if (rp.status != MBOX_ST_OK) {
		s->reason = "update-failed";
		session_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
		return CMD_CLOSE;
	}
	session_replyf(s, "+OK Logging out, %zu message%s deleted", s->ndele,
	    s->ndele == 1 ? "" : "s");
	return CMD_CLOSE;
failed:
	log_warnx("session=%s event=update user=%s result=error", s->id,
	    s->slot->user);
	s->reason = "update-failed";
	session_reply(s, "-ERR [SYS/TEMP] Mailbox update failed, nothing was "
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
	char where[128];
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
	s->apop_fd = -1;
	s->chal_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	/* From accept to login, whatever the client does in between. */
	s->login_deadline = s->start;
	s->login_deadline.tv_sec += (time_t)sd->cf->timeout_login;
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

		if (tls_accept(sd, &s->c, session_preauth_ms(s), &err) == -1) {
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

	/* APOP: the pool makes the banner's challenge and keeps it. */
	if (sd->apop && (s->apop_fd = authc_connect()) != -1 &&
	    authc_challenge(s->apop_fd, MECH_APOP, s->apop_ts,
	    sizeof(s->apop_ts)) == -1) {
		close(s->apop_fd);
		s->apop_fd = -1;
	}
	s->chal_fd = s->apop_fd;
	if (s->apop_fd != -1)
		session_replyf(s, "+OK %s %s", sd->cf->greeting, s->apop_ts);
	else
		session_replyf(s, "+OK %s", sd->cf->greeting);

	for (;;) {
		r = proto_getline(&s->rd, &s->c.in, &line, &len);
		if (r == PROTO_LINE_NEED) {
			if (conn_flush(&s->c, 60000) == -1) {
				s->reason = "write-error";
				break;
			}
			if (worker_quit) {
				session_reply(s, "-ERR [SYS/TEMP] Server shutting "
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
		s->reason = "login-timeout";
	}
	session_log_end(s);
	/* Closing the agent's socket without a commit deletes nothing. */
	session_free_mailbox(s);
	if (s->chal_fd != -1)
		close(s->chal_fd);
	conn_close(&s->c);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
