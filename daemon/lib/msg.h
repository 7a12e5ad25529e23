/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * msg.h -- the typed privsep messages: one struct and one pack/unpack
 * pair per message type, shared by both ends of every channel (compare
 * OpenSSH monitor_wrap.c).  The framing is privsep.h's: one
 * SOCK_SEQPACKET send per message, at most one descriptor.  Pure code:
 * runs in every role, trusts nothing it unpacks.
 *
 * Channels and who may send what:
 *
 *   worker -> auth pool     AUTH_CHALLENGE_REQ, AUTH_REQUEST (fd: the
 *                           client's socket), AUTH_SCRAM_FINAL
 *   auth pool -> worker     AUTH_CHALLENGE, AUTH_CONTINUE, AUTH_RESULT
 *                           (fd: the agent's socket on OK), or for a
 *                           proxied user AUTH_PROXY (fd: the socket
 *                           connected to the backend, on OK)
 *   auth process -> auth worker   AW_CALL;  auth worker -> AW_REPLY
 *   auth process -> spawner       SPAWN_MORE; spawner -> SPAWN_AGENT
 *                                 (fd: the new agent's control socket)
 *   auth process -> agent   AGENT_START (fd: the worker's socket)
 *   agent -> auth process   AGENT_IDLE
 *   worker <-> agent        MBOX_* (see below)
 *   master -> auth pool     CTL_HANDOFF (fd: a satchelctl connection,
 *                           answered by the pool itself: auth_ctl.c)
 */
#ifndef SATCHEL_MSG_H
#define SATCHEL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "satchel/module.h"
#include "privsep.h"

/* Message types.  Numbers are private to one build of satcheld. */
enum msg_type {
	MSG_AUTH_CHALLENGE_REQ = 20,
	MSG_AUTH_CHALLENGE,
	MSG_AUTH_REQUEST,
	MSG_AUTH_CONTINUE,
	MSG_AUTH_SCRAM_FINAL,
	MSG_AUTH_RESULT,
	MSG_AUTH_PROXY,

	MSG_AW_CALL = 30,
	MSG_AW_REPLY,

	MSG_SPAWN_MORE = 40,
	MSG_SPAWN_AGENT,
	MSG_AGENT_START,
	MSG_AGENT_IDLE,

	MSG_MBOX_HELLO = 50,
	MSG_MBOX_LIST,
	MSG_MBOX_LIST_BATCH,
	MSG_MBOX_LIST_END,
	MSG_MBOX_OPEN,
	MSG_MBOX_MSG,
	MSG_MBOX_MARKS,
	MSG_MBOX_COMMIT,
	MSG_MBOX_COMMIT_RESULT,
	MSG_MBOX_WAIT,			/* agent: lock held, taking it over */

	/* The control socket (control.c, auth_ctl.c). */
	MSG_CTL_HANDOFF = 70,		/* master -> auth pool, fd: the
					   admin's connection */
};

/* Login mechanisms, as the worker names them to the pool. */
enum auth_mech {
	MECH_PASS = 1,		/* USER/PASS, AUTH PLAIN, AUTH LOGIN */
	MECH_APOP,
	MECH_CRAM,
	MECH_SCRAM,
	MECH_MAX = MECH_SCRAM,
	/* Never from a worker (above MECH_MAX): auth_ctl.c's "user". */
	MECH_CTL_USER = 100,
};

/* What an auth worker is asked to do. */
enum aw_op {
	AW_VERIFY = 1,		/* check a plaintext password */
	AW_LOOKUP,		/* give the stored credential */
	AW_SCRAM,		/* give SCRAM-SHA-256 keys (derived if need be) */
	AW_USER,		/* resolve the user, no secret (satchelctl) */
};

/* What the admin asked for, MSG_CTL_HANDOFF (auth_ctl.c). */
enum ctl_op {
	CTL_OP_AUTH_TEST = 1,	/* verify a password module by module */
	CTL_OP_USER,		/* resolve uid, gid, home, mailbox */
};

/* Per-message result of the agent's OPEN and COMMIT. */
enum mbox_status {
	MBOX_ST_OK = 0,
	MBOX_ST_VANISHED = 1,	/* deleted by another program */
	MBOX_ST_ERROR = 2,
};

#define MSG_SECRET_MAX		1024	/* password, digest, SCRAM message */
#define MSG_DATA_MAX		512	/* SCRAM server-final, challenge */
#define MSG_CRED_MAX		512	/* stored credential ("{PLAIN}...") */
#define MSG_ADDR_MAX		64
#define MSG_SESSION_LEN		16	/* hex digits of a session id */
#define MSG_GROUPS_MAX		9	/* the gid and 8 extra groups */
#define MSG_DRIVER_MAX		32

struct msg_auth_challenge_req {
	uint32_t	 mech;			/* MECH_APOP or MECH_CRAM */
};

struct msg_auth_challenge {
	char		 text[MSG_DATA_MAX];
};

struct msg_auth_request {
	uint32_t	 mech;
	uint32_t	 tls;			/* the client is on TLS */
	char		 user[SATCHEL_USER_MAX + 1];	/* empty for SCRAM */
	char		 secret[MSG_SECRET_MAX];
	char		 session[MSG_SESSION_LEN + 1];
	/* A haproxy listener's PROXY header: the client's real address
	 * and the one it reached; "" for a direct connection. */
	char		 client[MSG_ADDR_MAX];
	char		 local[MSG_ADDR_MAX];
	/* Master user login (issue 14): the master's name, user is the
	 * target; "" for an ordinary login.  MECH_PASS only. */
	char		 master[SATCHEL_USER_MAX + 1];
};

struct msg_auth_data {				/* CONTINUE, SCRAM_FINAL */
	char		 data[MSG_SECRET_MAX];
};

struct msg_auth_result {
	uint32_t	 status;		/* SATCHEL_AUTH_* */
	uint32_t	 login_delay;		/* seconds */
	char		 user[SATCHEL_USER_MAX + 1];	/* canonical */
	char		 data[MSG_DATA_MAX];	/* SCRAM server-final */
};

/*
 * Proxy mode: the user's password was right and the pool connected to
 * the backend; the worker logs in there as destuser and relays.
 */
struct msg_auth_proxy {
	uint32_t	 status;		/* OK (fd) or TEMPFAIL */
	uint32_t	 login_delay;
	uint32_t	 ssl;			/* SATCHEL_PROXY_SSL_* */
	uint32_t	 haproxy;		/* 1: send a PROXY v2 header */
	uint32_t	 port;
	char		 user[SATCHEL_USER_MAX + 1];	/* canonical */
	char		 host[SATCHEL_HOST_MAX + 1];	/* for the TLS check */
	char		 destuser[SATCHEL_USER_MAX + 1];
	char		 addr[MSG_ADDR_MAX];	/* the backend, for logs */
	/* Issue 14: the auth process logged in at the backend with a
	 * master user (master= pass=): the socket is in TRANSACTION state
	 * and okline is the backend's +OK line for the client. */
	uint32_t	 loggedin;
	char		 okline[MSG_DATA_MAX];
	char		 data[MSG_DATA_MAX];	/* SCRAM server-final */
};

struct msg_aw_call {
	uint32_t	 op;			/* AW_VERIFY, AW_LOOKUP */
	char		 user[SATCHEL_USER_MAX + 1];
	char		 password[MSG_SECRET_MAX];	/* AW_VERIFY only */
	char		 remote[MSG_ADDR_MAX];
	char		 local[MSG_ADDR_MAX];
	char		 session[MSG_SESSION_LEN + 1];
};

struct msg_aw_reply {
	uint32_t		 result;	/* SATCHEL_AUTH_* */
	struct satchel_user	 user;
	char			 cred[MSG_CRED_MAX];	/* AW_LOOKUP, on OK */
};

struct msg_ctl_handoff {
	uint32_t	 op;			/* CTL_OP_* */
	char		 user[SATCHEL_USER_MAX + 1];
};

struct msg_spawn_more {
	uint32_t	 n;
};

struct msg_agent_start {
	char		 driver[MSG_DRIVER_MAX];
	char		 path[SATCHEL_PATH_MAX];
	char		 user[SATCHEL_USER_MAX + 1];
	char		 home[SATCHEL_PATH_MAX];
	char		 session[MSG_SESSION_LEN + 1];
	uint32_t	 uid, gid;
	uint32_t	 ngroups;
	uint32_t	 groups[MSG_GROUPS_MAX];	/* groups[0] == gid */
};

struct msg_agent_idle {
	uint32_t	 sessions;		/* served so far */
};

struct msg_mbox_hello {
	uint32_t	 status;		/* SATCHEL_MBOX_* */
	uint64_t	 count, total;
};

struct msg_mbox_open {
	uint64_t	 index;
};

struct msg_mbox_msg {
	uint32_t	 status;		/* MBOX_ST_* */
	uint64_t	 offset, length;
	uint32_t	 flags;			/* SATCHEL_MSG_* */
};

struct msg_mbox_commit_result {
	uint32_t	 status;		/* MBOX_ST_OK or MBOX_ST_ERROR */
};

/*
 * Every message type has msg_send_<name>(sock, const struct *, fd) and
 * msg_get_<name>(const struct privsep_msg *, struct *).  send returns 0
 * or -1 (errno); get returns 0, or -1 when the message is not of that
 * type, is not exactly that layout, or holds an over-long or NUL-holding
 * string.  get never closes m->fd: the caller owns it.
 */
#define MSG_DECLARE(name)						\
int	 msg_send_##name(int sock, const struct msg_##name *v, int fd);	\
int	 msg_get_##name(const struct privsep_msg *m, struct msg_##name *v)

MSG_DECLARE(auth_challenge_req);
MSG_DECLARE(auth_challenge);
MSG_DECLARE(auth_request);
MSG_DECLARE(auth_result);
MSG_DECLARE(auth_proxy);
MSG_DECLARE(aw_call);
MSG_DECLARE(aw_reply);
MSG_DECLARE(spawn_more);
MSG_DECLARE(agent_start);
MSG_DECLARE(agent_idle);
MSG_DECLARE(mbox_hello);
MSG_DECLARE(mbox_open);
MSG_DECLARE(mbox_msg);
MSG_DECLARE(mbox_commit_result);
MSG_DECLARE(ctl_handoff);

/* CONTINUE and SCRAM_FINAL share a layout; the type tells them apart. */
int	 msg_send_auth_data(int sock, uint32_t type,
	    const struct msg_auth_data *v);
int	 msg_get_auth_data(const struct privsep_msg *m, uint32_t type,
	    struct msg_auth_data *v);

/* The name of a message type, for logs ("AUTH_REQUEST", "?"). */
const char *msg_type_name(uint32_t type);

#endif /* SATCHEL_MSG_H */
