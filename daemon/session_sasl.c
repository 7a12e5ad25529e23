/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session_sasl.c -- STLS (RFC 2595) and AUTH (RFC 5034: PLAIN, LOGIN,
 * CRAM-MD5, SCRAM-SHA-256) in the AUTHORIZATION state.  Runs in the
 * worker, unprivileged and chrooted: it parses what the client sends and
 * relays credentials to the auth pool, which holds every secret (for
 * SCRAM, the whole server state).
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "conf.h"
#include "io.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "privsep.h"
#include "protocol.h"
#include "sasl.h"
#include "scoreboard.h"
#include "session_int.h"
#include "stats_shm.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

int
cmd_stls(struct session *s, const struct proto_cmd *cmd)
{
#ifdef HAVE_OPENSSL
	const char *err;

	if (!tls_enabled(s->d))
		return session_reply(s, "-ERR STLS is not available");
	if (s->tls)
		return session_reply(s, "-ERR Already using TLS");
	if (cmd->restlen != 0)
		return session_reply(s, "-ERR STLS takes no argument");
	if (session_reply(s, "+OK Begin TLS negotiation") == -1 ||
	    conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1)
		return -1;
	/*
	 * Whatever the client sent after STLS, before the handshake, was
	 * sent in the clear: it is discarded, never run inside TLS (the
	 * STARTTLS command injection class, CVE-2011-0411).
	 */
	buf_reset(&s->c.in);
	proto_reader_init(&s->rd, PROTO_LINE_MAX);
	if (tls_accept(s->d, &s->c, session_preauth_ms(s), &err) == -1) {
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
	stats_tls(tls_describe(&s->c));	/* metrics */
	return CMD_OK;
#else
	return session_reply(s, "-ERR STLS is not available");
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
		n = conn_fill(&s->c, session_preauth_ms(s));
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
			session_reply(s, "-ERR SASL response too long or invalid");
			return -1;
		}
		if (conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1)
			return -2;
		n = conn_fill(&s->c, session_preauth_ms(s));
		if (n == -3 && !worker_quit)
			continue;
		if (n <= 0)
			return -2;
	}
	if (len == 1 && line[0] == '*') {
		session_reply(s, "-ERR Authentication cancelled");
		return 1;
	}
	if (len == 1 && line[0] == '=') {
		*len_r = 0;
		return 0;
	}
	if ((dl = sasl_b64_decode(line, len, out, outsz)) < 0) {
		explicit_bzero((void *)(uintptr_t)line, len);
		session_reply(s, "-ERR Invalid base64 in SASL response");
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
	return session_replyf(s, "+ %s", b64);
}

int
cmd_auth(struct session *s, const struct proto_cmd *cmd)
{
	const struct sasl_mech *sm;
	char mech[32], data[SASL_LINE_MAX], user[SATCHEL_USER_MAX + 1];
	char pass[256], chal[MSG_DATA_MAX], authz[SATCHEL_USER_MAX + 1];
	const char *sp, *ir = NULL;
	size_t i, mlen, irlen = 0, len;
	int r;

	if (cmd->restlen == 0) {
		/* Old clients (Outlook) list mechanisms with a bare AUTH. */
		session_reply(s, "+OK Supported mechanisms follow");
		for (i = 0; i < sasl_nmechs; i++)
			if (session_mech_ok(s, sasl_mechs[i].name))
				session_reply(s, sasl_mechs[i].name);
		return session_reply(s, ".");
	}
	sp = memchr(cmd->rest, ' ', cmd->restlen);
	mlen = sp == NULL ? cmd->restlen : (size_t)(sp - cmd->rest);
	if (mlen == 0 || mlen >= sizeof(mech))
		return session_reply(s, "-ERR Unknown authentication mechanism");
	for (i = 0; i < mlen; i++) {
		char c = cmd->rest[i];

		mech[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	mech[mlen] = '\0';
	if (sp != NULL) {
		ir = sp + 1;
		irlen = cmd->restlen - mlen - 1;
	}
	if ((sm = sasl_mech_find(mech)) == NULL)
		return session_reply(s, "-ERR Unknown authentication mechanism");
	if (!session_mech_ok(s, mech)) {
		if (SESSION_TLS_MISSING(s))
			return session_reply(s, TLS_REQUIRED_REFUSED);
		if (sm->plaintext && !session_plain_ok(s))
			return session_reply(s, PLAINTEXT_REFUSED);
		return session_reply(s, "-ERR Authentication mechanism not "
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
			return session_reply(s, "-ERR Invalid base64 in SASL "
			    "response");
		}
		explicit_bzero((void *)(uintptr_t)ir, irlen);
		len = (size_t)dl;
	}

	if (sm->id == SASL_MECH_PLAIN) {
		if (ir == NULL) {
			if (session_reply(s, "+ ") == -1)
				return -1;
			if ((r = session_sasl_read(s, data, sizeof(data),
			    &len)) != 0)
				return r == -2 ? CMD_CLOSE : 0;
		}
		r = sasl_plain_parse_authz(data, len, authz, sizeof(authz),
		    user, sizeof(user), pass, sizeof(pass));
		explicit_bzero(data, sizeof(data));
		/*
		 * An authzid that is not the authcid asks for a master user
		 * login (RFC 4616): only with a master passdb configured,
		 * else refused as malformed, as before master users.
		 */
		if (r == -1 || (authz[0] != '\0' &&
		    !authc_master_enabled(s->d))) {
			explicit_bzero(pass, sizeof(pass));
			return session_reply(s, "-ERR Malformed PLAIN response");
		}
		if (authz[0] != '\0') {
			strlcpy(s->user, authz, sizeof(s->user));
			strlcpy(s->master, user, sizeof(s->master));
		} else
			strlcpy(s->user, user, sizeof(s->user));
		r = session_login(s, MECH_PASS, pass, "plain");
		explicit_bzero(pass, sizeof(pass));
		return r;
	}

	if (sm->id == SASL_MECH_LOGIN) {
		if (ir == NULL) {
			if (session_challenge(s, "Username:", 9) == -1)
				return -1;
			if ((r = session_sasl_read(s, data, sizeof(data),
			    &len)) != 0)
				return r == -2 ? CMD_CLOSE : 0;
		}
		if (len == 0 || len >= sizeof(user) ||
		    memchr(data, '\0', len) != NULL)
			return session_reply(s, "-ERR Malformed LOGIN user name");
		memcpy(user, data, len);
		user[len] = '\0';
		if (session_challenge(s, "Password:", 9) == -1)
			return -1;
		if ((r = session_sasl_read(s, data, sizeof(data), &len)) != 0)
			return r == -2 ? CMD_CLOSE : 0;
		if (len == 0 || len >= sizeof(pass) ||
		    memchr(data, '\0', len) != NULL) {
			explicit_bzero(data, sizeof(data));
			return session_reply(s, "-ERR Malformed LOGIN password");
		}
		memcpy(pass, data, len);
		pass[len] = '\0';
		explicit_bzero(data, sizeof(data));
		strlcpy(s->user, user, sizeof(s->user));
		r = session_login(s, MECH_PASS, pass, "login");
		explicit_bzero(pass, sizeof(pass));
		return r;
	}

	if (sm->id == SASL_MECH_CRAM_MD5) {
		const char *space = NULL;

		if (ir != NULL)
			return session_reply(s, "-ERR CRAM-MD5 takes no initial "
			    "response");
		/* The pool makes the challenge and takes one answer. */
		if (s->chal_fd != -1 && s->chal_fd != s->apop_fd)
			close(s->chal_fd);
		if ((s->chal_fd = authc_connect(s->d)) == -1 ||
		    authc_challenge(s->chal_fd, MECH_CRAM, chal,
		    sizeof(chal)) == -1) {
			if (s->chal_fd != -1)
				close(s->chal_fd);
			s->chal_fd = -1;
			return session_reply(s, "-ERR [SYS/TEMP] Authentication "
			    "service unavailable, try again later");
		}
		if (session_challenge(s, chal, strlen(chal)) == -1)
			r = -3;		/* write error */
		else
			r = session_sasl_read(s, data, sizeof(data), &len);
		/* "user SP 32-hex-digest" */
		if (r == 0 && (len < 34 || (space = memchr(data, ' ', len)) ==
		    NULL || (size_t)(data + len - space - 1) != 32 ||
		    space == data || (size_t)(space - data) >= sizeof(user)))
			r = 2;
		if (r != 0) {
			close(s->chal_fd);
			s->chal_fd = s->apop_fd;
			if (r == 2)
				return session_reply(s, "-ERR Malformed "
				    "CRAM-MD5 response");
			/* -3 write error; -2 connection gone; 1 and -1
			 * were answered already. */
			return r == -3 ? -1 : r == -2 ? CMD_CLOSE : 0;
		}
		memcpy(user, data, (size_t)(space - data));
		user[space - data] = '\0';
		memcpy(pass, space + 1, 32);
		pass[32] = '\0';
		for (i = 0; i < 32; i++)
			if (pass[i] >= 'A' && pass[i] <= 'F')
				pass[i] = (char)(pass[i] + 32);
		strlcpy(s->user, user, sizeof(s->user));
		r = session_login(s, MECH_CRAM, pass, "cram-md5");
		s->chal_fd = s->apop_fd;
		return r;
	}

	/* SCRAM-SHA-256: the auth pool holds the exchange's state. */
	{
		struct auth_result res;
		char sfirst[1024];
		int fd;

		if (ir == NULL) {
			if (session_reply(s, "+ ") == -1)
				return -1;
			if ((r = session_sasl_read(s, data, sizeof(data) - 1,
			    &len)) != 0)
				return r == -2 ? CMD_CLOSE : 0;
		}
		if (len == 0 || memchr(data, '\0', len) != NULL ||
		    len >= sizeof(data))
			return session_reply(s, "-ERR Malformed SCRAM message");
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
		memset(&res, 0, sizeof(res));
		if ((fd = authc_connect(s->d)) == -1 || authc_request(fd,
		    MECH_SCRAM, "", NULL, data, s->id, s->tls, s->c.fd) == -1) {
			if (fd != -1)
				close(fd);
			explicit_bzero(data, sizeof(data));
			return session_auth_result(s, -1, &res, "scram");
		}
		explicit_bzero(data, sizeof(data));
		if ((r = authc_continue(fd, sfirst, sizeof(sfirst))) != 0) {
			/* A malformed client-first ends here, with the
			 * pool's answer already read (-2), or broken. */
			if (r == -1) {
				close(fd);
				return session_auth_result(s, -1, &res,
				    "scram");
			}
			r = authc_result(fd, &res);
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
			    session_reply(s, "-ERR Malformed SCRAM message");
		}
		data[len] = '\0';
		if (authc_scram_final(fd, data) == -1) {
			close(fd);
			return session_auth_result(s, -1, &res, "scram");
		}
		r = authc_result(fd, &res);
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
				return session_reply(s, "-ERR [AUTH] Authentication "
				    "failed");
			}
		}
		return session_auth_result(s, r, &res, "scram");
	}
}

