/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_proc.h -- the state of the auth process (auth.c, auth_conn.c,
 * auth_agents.c, auth_modules.c): its connections from workers, its
 * module worker groups, its agents.  Private to the auth process.
 */
#ifndef SATCHEL_AUTH_PROC_H
#define SATCHEL_AUTH_PROC_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "satchel/module.h"
#include "conf.h"
#include "msg.h"

#define AUTH_EVENTS		64
#define AUTH_CONNS_MAX		8192
#define CHALLENGE_TTL_MS	(300 * 1000)	/* an unused APOP banner */
#define REQUEST_TTL_MS		(10 * 1000)	/* connect to request */
#define INFLIGHT_ADDR_MAX	4		/* attempts at once per address */
#define HOLD_RECHECK_MS		20
#define AGENT_IDLE_MAX		64		/* reusable agents kept */
#define AGENT_IDLE_TIMEOUT_MS	(60 * 1000)
#define AGENT_SPARES_MIN	2
#define AGENT_SPARES_MAX	64
#define AW_RESTART_MAX_MS	(60 * 1000)

enum ev_kind { EV_LISTEN = 1, EV_CONN, EV_AW, EV_SPAWNER, EV_AGENT,
	EV_CTL, EV_PROXY };

struct ev {
	int		 kind;
	int		 fd;
};

enum conn_state {
	CS_NEW = 0,		/* nothing asked yet */
	CS_CHALLENGED,		/* APOP/CRAM challenge given */
	CS_HOLD,		/* waiting out an earlier failure's delay */
	CS_CALL,		/* a module call is queued or running */
	CS_SCRAM_WAIT,		/* server-first sent, client-final due */
	CS_WAIT_AGENT,		/* logged in, no agent free yet */
	CS_REPLY,		/* a failure, answered at wake_at */
	CS_PROXY,		/* logged in, connecting to the backend */
	CS_NSTATES
};
#define ST(x)	(1u << (x))


struct aconn {
	struct ev		 ev;		/* first: epoll data points here */
	enum conn_state		 state;
	pid_t			 peer_pid;	/* the worker, for logs */
	int			 orphan;	/* worker gone, call still out */
	uint32_t		 mech;
	uint32_t		 chal_mech;
	int			 tls;
	char			 user[SATCHEL_USER_MAX + 1];
	char			 key_user[SATCHEL_USER_MAX + 3];
	char			 key_addr[MSG_ADDR_MAX + 2];
	char			 secret[MSG_SECRET_MAX];
	char			 remote[MSG_ADDR_MAX];
	char			 local[MSG_ADDR_MAX];
	char			 session[MSG_SESSION_LEN + 1];
	char			 chal[MSG_DATA_MAX];
	uint64_t		 start;		/* processing began */
	uint64_t		 wake_at;	/* timer, 0 for none */
	size_t			 chain;		/* module being asked */
	uint32_t		 status;
	struct satchel_user	 urec;
	char			 data[MSG_DATA_MAX];
#ifdef HAVE_OPENSSL
	struct scram_server	*scram;
#endif
	int			 agent_fd;	/* the worker's end, on OK */
	struct ev		 pev;		/* CS_PROXY: the backend */
	char			 paddr[MSG_ADDR_MAX];	/* "ip:port" */
	int			 dead;		/* freed at the end of the round */
	struct aconn		*next, *prev;	/* all connections */
	struct aconn		*qnext;		/* a group's or agent queue */
	/* issue 13: why it failed (SATCHEL_REASON_*), and for a call of
	 * satchelctl's (auth_ctl.c) its request, else NULL. */
	uint32_t		 reason;
	struct actl		*ctl;
	/* Order of arrival (conn_try_start), and whether the last check
	 * held it only for its address's count of attempts under way. */
	uint64_t		 seq;
	int			 held_addr;
	/*
	 * Issue 14, master users (auth_master.c): the master's name, the
	 * target being user; mphase MP_* says which part of the chain is
	 * asked.  And for proxying with a master user (auth_proxy.c) the
	 * backend dialogue: its step, a line buffer, and the client's
	 * socket addresses for the PROXY v2 header.
	 */
	char			 master[SATCHEL_USER_MAX + 1];
	int			 mphase;
	int			 pstep;
	char			 pline[MSG_DATA_MAX];
	size_t			 plen;
	struct sockaddr_storage	 csrc, cdst;
	socklen_t		 csrclen, cdstlen;
};

#define MP_NONE		0	/* an ordinary login */
#define MP_MASTER	1	/* verifying the master's password */
#define MP_TARGET	2	/* looking the target up, no password */

struct agroup;
struct actl;

struct aworker {
	struct ev		 ev;
	pid_t			 pid;
	struct agroup		*g;
	struct aconn		*busy;
	uint64_t		 deadline;
	int			 served;
};

struct agroup {
	size_t			 idx;		/* in s->auth[] */
	const char		*name;
	int			 lookup;	/* the module has lookup() */
	int			 master;	/* master = yes: master users only */
	struct aworker		*w;
	size_t			 nw, maxw;
	unsigned int		 timeout_ms;
	struct aconn		*qhead, *qtail;
	unsigned int		 deaths;	/* in a row, before serving */
	uint64_t		 restart_at;
};

struct agentref {
	struct ev		 ev;
	int			 spare;		/* never served: any uid */
	int			 busy;
	struct msg_agent_start	 id;		/* uid, gid, groups */
	uint64_t		 idle_since;
	int			 dead;
	struct agentref		*next, *prev;
};

struct auth_ctx {
	struct satcheld		*s;
	int			 ep;
	struct ev		 listen_ev;
	struct ev		 spawner_ev;
	struct agroup		 groups[CONF_MODULES_MAX];
	size_t			 ngroups;
	struct aconn		*conns;
	size_t			 nconns;
	struct aconn		*wait_head, *wait_tail;	/* CS_WAIT_AGENT */
	struct agentref		*agents;
	size_t			 nspare, nidle, spares_asked;
	struct aconn		*grave;		/* freed after each round */
	struct agentref		*agrave;
	gid_t			 extra[MSG_GROUPS_MAX];
	size_t			 nextra;
	char			 host[128];
	int			 quitting;
	pid_t			 spawner_pid;
	uint64_t		 seq;		/* last aconn seq given */
	int			 call_ended;	/* a module call ended */
};

/* auth.c */
void	 ev_add(struct auth_ctx *a, struct ev *e);
void	 ev_del(struct auth_ctx *a, struct ev *e);
void	 auth_bury(struct auth_ctx *a);

/* auth_conn.c: connections from workers */
void	 conn_accept(struct auth_ctx *a);
void	 conn_readable(struct auth_ctx *a, struct aconn *c);
void	 conn_free(struct auth_ctx *a, struct aconn *c);
void	 conn_start(struct auth_ctx *a, struct aconn *c);
void	 conn_chain(struct auth_ctx *a, struct aconn *c);
void	 conn_module_answer(struct auth_ctx *a, struct aconn *c,
	    struct msg_aw_reply *rp);
void	 conn_conclude(struct auth_ctx *a, struct aconn *c, uint32_t r);
void	 conn_send_result(struct auth_ctx *a, struct aconn *c);
void	 conn_timer(struct auth_ctx *a, struct aconn *c);
void	 conn_wake_held(struct auth_ctx *a);

/* auth_addr.c: the client's address, from the worker's socket */
int	 conn_client_addr(struct auth_ctx *a, struct aconn *c, int fd,
	    const struct msg_auth_request *rq);

/* auth_ctl.c: satchelctl's auth test and user, handed over by the
 * master (MSG_CTL_HANDOFF, allowed from the master only). */
int	 auth_ctl_handoff(struct auth_ctx *a, struct aconn *c,
	    struct privsep_msg *m);
void	 auth_ctl_readable(struct auth_ctx *a, struct actl *t);
void	 auth_ctl_answer(struct auth_ctx *a, struct aconn *c, uint32_t r,
	    const struct satchel_user *u);
void	 auth_ctl_tick(struct auth_ctx *a, uint64_t now);
/* "password-mismatch", "unknown-user", ... for a result and reason. */
const char *auth_reason_name(uint32_t result, uint32_t reason);

/* auth_agents.c: mailbox agents */
int	 conn_agent_id(struct auth_ctx *a, struct aconn *c,
	    struct msg_agent_start *st);
int	 conn_give_agent(struct auth_ctx *a, struct aconn *c,
	    const struct msg_agent_start *st);
void	 agent_drop(struct auth_ctx *a, struct agentref *r);
void	 agents_ask(struct auth_ctx *a, size_t waiting);
void	 spawner_readable(struct auth_ctx *a);
void	 agent_readable(struct auth_ctx *a, struct agentref *r);
void	 agents_expire(struct auth_ctx *a, uint64_t now);

/* auth_proxy.c: proxy mode, connecting to the user's backend */
void	 conn_proxy_start(struct auth_ctx *a, struct aconn *c);
void	 conn_proxy_ready(struct auth_ctx *a, struct aconn *c);
void	 conn_proxy_timeout(struct auth_ctx *a, struct aconn *c);
void	 conn_proxy_free(struct aconn *c);
void	 conn_proxy_answer(struct auth_ctx *a, struct aconn *c,
	    uint32_t status, const char *why);
/* auth_proxy_master.c: the backend login with a master user */
#define PS_NONE		0
#define PS_CONNECT	1	/* connect() under way */
#define PS_GREETING	2	/* waiting for the backend's +OK */
#define PS_AUTH		3	/* AUTH PLAIN sent */
#define PS_DONE		4	/* logged in: pline is its +OK line */
int	 proxy_master_check(struct auth_ctx *a, struct aconn *c);
void	 proxy_master_begin(struct auth_ctx *a, struct aconn *c, int in_epoll);
void	 proxy_master_readable(struct auth_ctx *a, struct aconn *c);

/* auth_master.c: master users (issue 14) */
int	 auth_master_serves(const struct aconn *c, const struct agroup *g);
int	 auth_master_answer(struct auth_ctx *a, struct aconn *c, uint32_t r);
int	 auth_master_start(struct auth_ctx *a, struct aconn *c);
const char *auth_charged_user(const struct aconn *c);
uint32_t auth_master_op(const struct aconn *c, const char **user_r);
void	 auth_master_log(const struct aconn *c, char *out, size_t outsz);

/* auth_modules.c: module workers */
void	 group_enqueue(struct auth_ctx *a, struct agroup *g,
	    struct aconn *c);
void	 group_dispatch(struct auth_ctx *a, struct agroup *g);
void	 aw_gone(struct auth_ctx *a, struct aworker *w, const char *why);
void	 aw_readable(struct auth_ctx *a, struct aworker *w);
int	 aw_spawn(struct auth_ctx *a, struct agroup *g);
void	 groups_maintain(struct auth_ctx *a, uint64_t now);

#endif /* SATCHEL_AUTH_PROC_H */
