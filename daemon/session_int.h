/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session_int.h -- what session.c (the POP3 states) and session_sasl.c
 * (STLS and AUTH) share: the session itself and the reply and login
 * helpers.  Private to the worker; runs unprivileged.
 */
#ifndef SATCHEL_SESSION_INT_H
#define SATCHEL_SESSION_INT_H

#include <stdint.h>
#include <time.h>

#include "satchel/module.h"
#include "auth.h"
#include "io.h"
#include "protocol.h"

struct listener;
struct sb_slot;
struct session_origin;

#define S_AUTH		0x01	/* AUTHORIZATION */
#define S_TRANS		0x02	/* TRANSACTION */

#define CMD_OK		0
#define CMD_CLOSE	1	/* reply sent; end the session */

#define AUTH_TIMEOUT_MS		60000
#define MAILBOX_OPEN_TIMEOUT_MS	300000	/* lock wait plus a big scan */
#define SASL_LINE_MAX		4096	/* RFC 5034 sets no limit */

struct session {
	struct satcheld		*d;		/* the worker's state */
	struct conn		 c;
	struct proto_reader	 rd;
	const struct listener	*l;
	struct sb_slot		*slot;
	int			 state;
	char			 id[17];
	char			 peer[64];
	char			 local[64];
	char			 apop_ts[MSG_DATA_MAX];
	int			 apop_fd;	/* pool connection of apop_ts */
	int			 chal_fd;	/* the challenge's connection */
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
	struct timespec		 login_deadline;	/* timeout_login */
	const char		*reason;

	/* Proxy mode: the password being tried, while session_login()
	 * runs (USER/PASS, AUTH PLAIN/LOGIN), for the backend's login. */
	const char		*proxy_secret;
	const struct session_origin *origin;	/* session_run()'s */
	uint64_t		 proxy_in, proxy_out;	/* relayed bytes */
	/* Issue 14: a master user login's master (user is the target),
	 * while session_login() runs; "" otherwise. */
	char			 master[SATCHEL_USER_MAX + 1];
};


#define PLAINTEXT_REFUSED "-ERR [AUTH] Plaintext authentication disallowed " \
	"on non-secure (SSL/TLS) connections"
/* tls_required: any mechanism, from anywhere, before TLS. */
#define TLS_REQUIRED_REFUSED "-ERR [AUTH] TLS required: use STLS first"
/* Before TLS with tls_required = yes: no login of any kind. */
#define SESSION_TLS_MISSING(s)	((s)->d->cf->tls_required && !(s)->tls)

/* Write one reply line (CRLF added); 0 or -1. */
int	 session_reply(struct session *s, const char *line);
int	 session_replyf(struct session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session_sleep(unsigned int ms);
/*
 * The wait allowed for the next read before login: timeout_preauth's
 * idle rule, cut short by the absolute timeout_login deadline; 0 once
 * that has passed.  Milliseconds.
 */
int	 session_preauth_ms(const struct session *s);
/* USER/PASS and AUTH PLAIN/LOGIN allowed: TLS, trusted net, or policy. */
int	 session_plain_ok(const struct session *s);
/* A SASL mechanism is offered here (configured and able to work). */
int	 session_mech_ok(const struct session *s, const char *mech);
/*
 * Ask the auth pool (mech MECH_*) for s->user, then open the mailbox;
 * session_auth_result() answers the client for any outcome.  Both
 * return CMD_OK, CMD_CLOSE or -1 (write error).
 */
int	 session_login(struct session *s, uint32_t mech, const char *secret,
	    const char *method);
int	 session_auth_result(struct session *s, int r, struct auth_result *res,
	    const char *method);

/* session_auth.c: AUTHORIZATION */
int	 cmd_user(struct session *s, const struct proto_cmd *cmd);
int	 cmd_pass(struct session *s, const struct proto_cmd *cmd);
int	 cmd_apop(struct session *s, const struct proto_cmd *cmd);

/* session_trans.c: TRANSACTION */
int	 cmd_noop(struct session *s, const struct proto_cmd *cmd);
int	 cmd_stat(struct session *s, const struct proto_cmd *cmd);
int	 cmd_list(struct session *s, const struct proto_cmd *cmd);
int	 cmd_uidl(struct session *s, const struct proto_cmd *cmd);
int	 cmd_retr(struct session *s, const struct proto_cmd *cmd);
int	 cmd_top(struct session *s, const struct proto_cmd *cmd);
int	 cmd_dele(struct session *s, const struct proto_cmd *cmd);
int	 cmd_rset(struct session *s, const struct proto_cmd *cmd);

/* session_mbox.c: the worker's side of the agent */
int	 session_open_mailbox(struct session *s, int fd);
void	 session_free_mailbox(struct session *s);
int	 session_send_message(struct session *s, size_t idx, int top,
	    uint64_t top_lines);
int	 session_commit(struct session *s);
/*
 * session_auth.c: the agent said MSG_MBOX_WAIT (it met the session lock,
 * lock_conflict = takeover): ask the master to end the older session of
 * this user, again every TAKEOVER_POKE_MS, and wait for the agent's
 * HELLO into *mp.  Returns privsep_recv()'s result; -1 for a WAIT that
 * this config does not allow.
 */
int	 session_takeover_wait(struct session *s, int fd,
	    struct privsep_msg *mp);
#define TAKEOVER_POKE_MS	200
#define TAKEOVER_WAIT_MS	3000

/* Clear the buffers that held a session's list and message bytes. */
void	 session_mbox_wipe(void);

/* session_sasl.c */
int	 cmd_stls(struct session *s, const struct proto_cmd *cmd);
int	 cmd_auth(struct session *s, const struct proto_cmd *cmd);

#endif /* SATCHEL_SESSION_INT_H */
