/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * msg.c -- the typed privsep messages (see msg.h).  Each layout is
 * written once, as a function that walks the struct's fields through a
 * codec which either packs or unpacks them, so the two ends of a
 * channel cannot disagree about a layout.  Pure code: runs in every
 * role and trusts nothing it unpacks.
 */
#include <errno.h>
#include <string.h>

#include "compat/compat.h"
#include "msg.h"
#include "compat/poison.h"

struct codec {
	int		 packing;
	struct pack	 pk;
	struct unpack	 u;
};

static void
c_u32(struct codec *c, uint32_t *v)
{
	if (c->packing)
		pack_u32(&c->pk, *v);
	else
		*v = unpack_u32(&c->u);
}

static void
c_u64(struct codec *c, uint64_t *v)
{
	if (c->packing)
		pack_u64(&c->pk, *v);
	else
		*v = unpack_u64(&c->u);
}

static void
c_int(struct codec *c, int *v)
{
	uint32_t x = (uint32_t)*v;

	c_u32(c, &x);
	if (!c->packing) {
		/* A flag is 0 or 1: one encoding for each value. */
		if (x > 1)
			c->u.err = 1;
		*v = (int)x;
	}
}

/* A string field: always NUL-terminated on both sides. */
static void
c_str(struct codec *c, char *s, size_t sz)
{
	if (c->packing) {
		s[sz - 1] = '\0';
		pack_str(&c->pk, s);
	} else
		unpack_str(&c->u, s, sz);
}

#define C_STR(c, field)	c_str((c), (field), sizeof(field))

/* ---- the layouts, once each ------------------------------------- */

static void
lay_auth_challenge_req(struct codec *c, struct msg_auth_challenge_req *v)
{
	c_u32(c, &v->mech);
}

static void
lay_auth_challenge(struct codec *c, struct msg_auth_challenge *v)
{
	C_STR(c, v->text);
}

static void
lay_auth_request(struct codec *c, struct msg_auth_request *v)
{
	c_u32(c, &v->mech);
	c_u32(c, &v->tls);
	C_STR(c, v->user);
	C_STR(c, v->secret);
	C_STR(c, v->session);
	C_STR(c, v->client);
	C_STR(c, v->local);
	C_STR(c, v->master);
}

static void
lay_auth_data(struct codec *c, struct msg_auth_data *v)
{
	C_STR(c, v->data);
}

static void
lay_auth_result(struct codec *c, struct msg_auth_result *v)
{
	c_u32(c, &v->status);
	c_u32(c, &v->login_delay);
	C_STR(c, v->user);
	C_STR(c, v->data);
}

static void
lay_ctl_handoff(struct codec *c, struct msg_ctl_handoff *v)
{
	c_u32(c, &v->op);
	C_STR(c, v->user);
}

static void
lay_auth_proxy(struct codec *c, struct msg_auth_proxy *v)
{
	c_u32(c, &v->status);
	c_u32(c, &v->login_delay);
	c_u32(c, &v->ssl);
	c_u32(c, &v->haproxy);
	c_u32(c, &v->port);
	C_STR(c, v->user);
	C_STR(c, v->host);
	C_STR(c, v->destuser);
	C_STR(c, v->addr);
	c_u32(c, &v->loggedin);
	C_STR(c, v->okline);
	C_STR(c, v->data);
	if (!c->packing && (v->ssl > SATCHEL_PROXY_SSL_STARTTLS ||
	    v->haproxy > 1 || v->port > 65535 || v->loggedin > 1))
		c->u.err = 1;
}

static void
lay_aw_call(struct codec *c, struct msg_aw_call *v)
{
	c_u32(c, &v->op);
	C_STR(c, v->user);
	C_STR(c, v->password);
	C_STR(c, v->remote);
	C_STR(c, v->local);
	C_STR(c, v->session);
}

static void
lay_aw_reply(struct codec *c, struct msg_aw_reply *v)
{
	uint32_t uid = (uint32_t)v->user.uid, gid = (uint32_t)v->user.gid;
	uint32_t delay = v->user.login_delay;

	c_u32(c, &v->result);
	C_STR(c, v->user.name);
	c_u32(c, &uid);
	c_u32(c, &gid);
	C_STR(c, v->user.home);
	C_STR(c, v->user.mail);
	c_u32(c, &delay);
	c_int(c, &v->user.uid_set);
	c_int(c, &v->user.gid_set);
	c_u32(c, &v->user.reason);	/* ABI 1.3 */
	C_STR(c, v->cred);
	/* ABI 1.3: proxy mode (checked again by the auth process). */
	{
		uint32_t ssl = (uint32_t)v->user.proxy_ssl;
		uint32_t hap = (uint32_t)v->user.proxy_haproxy;

		c_int(c, &v->user.proxy);
		c_u32(c, &ssl);
		c_u32(c, &hap);
		c_u32(c, &v->user.proxy_port);
		C_STR(c, v->user.proxy_host);
		C_STR(c, v->user.proxy_hostip);
		C_STR(c, v->user.proxy_destuser);
		/* ABI 1.4: a master user for the backend login. */
		C_STR(c, v->user.proxy_master);
		C_STR(c, v->user.proxy_pass);
		if (!c->packing) {
			if (ssl > SATCHEL_PROXY_SSL_STARTTLS ||
			    hap > SATCHEL_PROXY_HAPROXY_NO ||
			    v->user.proxy_port > 65535)
				c->u.err = 1;
			v->user.proxy_ssl = (int)ssl;
			v->user.proxy_haproxy = (int)hap;
		}
	}
	if (!c->packing) {
		v->user.uid = (uid_t)uid;
		v->user.gid = (gid_t)gid;
		v->user.login_delay = delay;
	}
}

static void
lay_spawn_more(struct codec *c, struct msg_spawn_more *v)
{
	c_u32(c, &v->n);
}

static void
lay_agent_start(struct codec *c, struct msg_agent_start *v)
{
	uint32_t i;

	C_STR(c, v->driver);
	C_STR(c, v->path);
	C_STR(c, v->user);
	C_STR(c, v->home);
	C_STR(c, v->session);
	c_u32(c, &v->uid);
	c_u32(c, &v->gid);
	c_u32(c, &v->ngroups);
	if (v->ngroups > MSG_GROUPS_MAX) {
		/* Packing: refuse to send it; unpacking: refuse it. */
		c->pk.err = c->u.err = 1;
		return;
	}
	for (i = 0; i < v->ngroups; i++)
		c_u32(c, &v->groups[i]);
}

static void
lay_agent_idle(struct codec *c, struct msg_agent_idle *v)
{
	c_u32(c, &v->sessions);
}

static void
lay_mbox_hello(struct codec *c, struct msg_mbox_hello *v)
{
	c_u32(c, &v->status);
	c_u64(c, &v->count);
	c_u64(c, &v->total);
}

static void
lay_mbox_open(struct codec *c, struct msg_mbox_open *v)
{
	c_u64(c, &v->index);
}

static void
lay_mbox_msg(struct codec *c, struct msg_mbox_msg *v)
{
	c_u32(c, &v->status);
	c_u64(c, &v->offset);
	c_u64(c, &v->length);
	c_u32(c, &v->flags);
}

static void
lay_mbox_commit_result(struct codec *c, struct msg_mbox_commit_result *v)
{
	c_u32(c, &v->status);
}

/* ---- send and get ------------------------------------------------ */

/*
 * The packed bytes may hold a password: they are wiped after the send
 * whatever its outcome.
 */
static unsigned char msg_out[PRIVSEP_MSG_MAX];

static int
msg_finish_send(int sock, uint32_t type, struct codec *c, int fd)
{
	int r, saved;

	if (c->pk.err) {
		explicit_bzero(msg_out, c->pk.cap);
		errno = EMSGSIZE;
		return -1;
	}
	r = privsep_send(sock, type, msg_out, c->pk.len, fd);
	saved = errno;
	explicit_bzero(msg_out, c->pk.len);
	errno = saved;
	return r;
}

static int
msg_start_get(const struct privsep_msg *m, uint32_t type, struct codec *c,
    void *v, size_t vsz)
{
	memset(v, 0, vsz);
	if (m->type != type)
		return -1;
	c->packing = 0;
	unpack_init(&c->u, m->data, m->len);
	return 0;
}

#define MSG_DEFINE(name, type)						\
int									\
msg_send_##name(int sock, const struct msg_##name *v, int fd)		\
{									\
	struct msg_##name copy = *v;					\
	struct codec c;							\
	int r;								\
									\
	memset(&c, 0, sizeof(c));					\
	c.packing = 1;							\
	pack_init(&c.pk, msg_out, sizeof(msg_out));			\
	lay_##name(&c, &copy);						\
	r = msg_finish_send(sock, (type), &c, fd);			\
	explicit_bzero(&copy, sizeof(copy));				\
	return r;							\
}									\
									\
int									\
msg_get_##name(const struct privsep_msg *m, struct msg_##name *v)	\
{									\
	struct codec c;							\
									\
	memset(&c, 0, sizeof(c));					\
	if (msg_start_get(m, (type), &c, v, sizeof(*v)) == -1)		\
		return -1;						\
	lay_##name(&c, v);						\
	if (unpack_done(&c.u) == -1) {					\
		explicit_bzero(v, sizeof(*v));				\
		return -1;						\
	}								\
	return 0;							\
}

MSG_DEFINE(auth_challenge_req, MSG_AUTH_CHALLENGE_REQ)
MSG_DEFINE(auth_challenge, MSG_AUTH_CHALLENGE)
MSG_DEFINE(auth_request, MSG_AUTH_REQUEST)
MSG_DEFINE(auth_result, MSG_AUTH_RESULT)
MSG_DEFINE(auth_proxy, MSG_AUTH_PROXY)
MSG_DEFINE(aw_call, MSG_AW_CALL)
MSG_DEFINE(aw_reply, MSG_AW_REPLY)
MSG_DEFINE(ctl_handoff, MSG_CTL_HANDOFF)
MSG_DEFINE(spawn_more, MSG_SPAWN_MORE)
MSG_DEFINE(agent_start, MSG_AGENT_START)
MSG_DEFINE(agent_idle, MSG_AGENT_IDLE)
MSG_DEFINE(mbox_hello, MSG_MBOX_HELLO)
MSG_DEFINE(mbox_open, MSG_MBOX_OPEN)
MSG_DEFINE(mbox_msg, MSG_MBOX_MSG)
MSG_DEFINE(mbox_commit_result, MSG_MBOX_COMMIT_RESULT)

int
msg_send_auth_data(int sock, uint32_t type, const struct msg_auth_data *v)
{
	struct msg_auth_data copy = *v;
	struct codec c;
	int r;

	memset(&c, 0, sizeof(c));
	c.packing = 1;
	pack_init(&c.pk, msg_out, sizeof(msg_out));
	lay_auth_data(&c, &copy);
	r = msg_finish_send(sock, type, &c, -1);
	explicit_bzero(&copy, sizeof(copy));
	return r;
}

int
msg_get_auth_data(const struct privsep_msg *m, uint32_t type,
    struct msg_auth_data *v)
{
	struct codec c;

	memset(&c, 0, sizeof(c));
	if ((type != MSG_AUTH_CONTINUE && type != MSG_AUTH_SCRAM_FINAL) ||
	    msg_start_get(m, type, &c, v, sizeof(*v)) == -1)
		return -1;
	lay_auth_data(&c, v);
	if (unpack_done(&c.u) == -1) {
		explicit_bzero(v, sizeof(*v));
		return -1;
	}
	return 0;
}

const char *
msg_type_name(uint32_t type)
{
	static const struct {
		uint32_t	 type;
		const char	*name;
	} names[] = {
		{ MSG_AUTH_CHALLENGE_REQ, "AUTH_CHALLENGE_REQ" },
		{ MSG_AUTH_CHALLENGE, "AUTH_CHALLENGE" },
		{ MSG_AUTH_REQUEST, "AUTH_REQUEST" },
		{ MSG_AUTH_CONTINUE, "AUTH_CONTINUE" },
		{ MSG_AUTH_SCRAM_FINAL, "AUTH_SCRAM_FINAL" },
		{ MSG_AUTH_RESULT, "AUTH_RESULT" },
		{ MSG_AUTH_PROXY, "AUTH_PROXY" },
		{ MSG_AW_CALL, "AW_CALL" },
		{ MSG_AW_REPLY, "AW_REPLY" },
		{ MSG_SPAWN_MORE, "SPAWN_MORE" },
		{ MSG_SPAWN_AGENT, "SPAWN_AGENT" },
		{ MSG_AGENT_START, "AGENT_START" },
		{ MSG_AGENT_IDLE, "AGENT_IDLE" },
		{ MSG_MBOX_HELLO, "MBOX_HELLO" },
		{ MSG_MBOX_LIST, "MBOX_LIST" },
		{ MSG_MBOX_LIST_BATCH, "MBOX_LIST_BATCH" },
		{ MSG_MBOX_LIST_END, "MBOX_LIST_END" },
		{ MSG_MBOX_OPEN, "MBOX_OPEN" },
		{ MSG_MBOX_MSG, "MBOX_MSG" },
		{ MSG_MBOX_MARKS, "MBOX_MARKS" },
		{ MSG_MBOX_COMMIT, "MBOX_COMMIT" },
		{ MSG_MBOX_COMMIT_RESULT, "MBOX_COMMIT_RESULT" },
		{ MSG_MBOX_WAIT, "MBOX_WAIT" },
		{ MSG_CTL_HANDOFF, "CTL_HANDOFF" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	return "?";
}
