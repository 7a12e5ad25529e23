/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_msg.c -- libFuzzer target for what crosses a privsep socket from
 * a less trusted side: every typed message's unpacker (daemon/lib/msg.c,
 * which the auth pool, the agent, the spawner and the worker's side of
 * the pool and agent all use), and the auth pool's checks of a user name
 * and of a mail location (daemon/lib/mailloc.c).
 *
 * Invariants: an accepted message re-packs to exactly the bytes that
 * came in (one canonical layout, no slack), its strings are
 * NUL-terminated inside their fields; an accepted user name passes the
 * rules; an expanded location is absolute, holds no "/../", and fits.
 * The only descriptor is a socketpair made once, to run the real send.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "mailloc.h"
#include "msg.h"
#include "privsep.h"

static int sv[2] = { -1, -1 };
static struct privsep_msg in, back;

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static void
same(const struct privsep_msg *a)
{
	CHECK(privsep_recv(sv[1], &back, 1000) == 0);
	CHECK(back.type == a->type && back.len == a->len);
	CHECK(memcmp(back.data, a->data, a->len) == 0);
}

#define ROUND(name, field)						\
	do {								\
		struct msg_##name v;					\
		if (msg_get_##name(&in, &v) == 0) {			\
			CHECK(memchr(v.field, '\0', sizeof(v.field)) != NULL); \
			CHECK(msg_send_##name(sv[0], &v, -1) == 0);	\
			same(&in);					\
		}							\
	} while (0)

#define ROUND0(name)							\
	do {								\
		struct msg_##name v;					\
		if (msg_get_##name(&in, &v) == 0) {			\
			CHECK(msg_send_##name(sv[0], &v, -1) == 0);	\
			same(&in);					\
		}							\
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t types[] = {
		MSG_AUTH_CHALLENGE_REQ, MSG_AUTH_CHALLENGE, MSG_AUTH_REQUEST,
		MSG_AUTH_CONTINUE, MSG_AUTH_SCRAM_FINAL, MSG_AUTH_RESULT,
		MSG_AW_CALL, MSG_AW_REPLY, MSG_SPAWN_MORE, MSG_AGENT_START,
		MSG_AGENT_IDLE, MSG_MBOX_HELLO, MSG_MBOX_OPEN, MSG_MBOX_MSG,
		MSG_MBOX_COMMIT_RESULT,
	};
	struct satchel_user u;
	char driver[32], path[SATCHEL_PATH_MAX], s[2048];
	const char *err;
	size_t n;

	if (sv[0] == -1 && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		abort();
	if (size < 1)
		return 0;
	if (data[0] >= 0xf0) {
		/* A user name and a mail location, NUL-separated. */
		n = size - 1 < sizeof(s) - 1 ? size - 1 : sizeof(s) - 1;
		memcpy(s, data + 1, n);
		s[n] = '\0';
		memset(&u, 0, sizeof(u));
		strlcpy(u.name, s, sizeof(u.name));
		strlcpy(u.home, "/home/x", sizeof(u.home));
		if (user_name_valid(u.name) == 0) {
			CHECK(u.name[0] != '\0' && u.name[0] != '.' &&
			    strstr(u.name, "..") == NULL &&
			    strchr(u.name, '/') == NULL);
			n = strlen(s) + 1;
			if (n < sizeof(s) && mailloc_expand(s + n, &u, driver,
			    sizeof(driver), path, sizeof(path), &err) == 0) {
				CHECK(path[0] == '/');
				CHECK(strstr(path, "/../") == NULL);
				CHECK(strlen(path) < sizeof(path));
				CHECK(driver[0] != '\0');
			}
		}
		return 0;
	}
	memset(&in, 0, sizeof(in));
	in.type = types[data[0] % nitems(types)];
	in.len = (uint32_t)(size - 1 < sizeof(in.data) ? size - 1 :
	    sizeof(in.data));
	in.fd = -1;
	memcpy(in.data, data + 1, in.len);

	ROUND(auth_challenge, text);
	ROUND(auth_request, secret);
	ROUND(auth_result, user);
	ROUND(aw_call, password);
	ROUND(aw_reply, cred);
	ROUND(agent_start, path);
	ROUND0(auth_challenge_req);
	ROUND0(spawn_more);
	ROUND0(agent_idle);
	ROUND0(mbox_hello);
	ROUND0(mbox_open);
	ROUND0(mbox_msg);
	ROUND0(mbox_commit_result);
	{
		struct msg_auth_data d;
		uint32_t t;

		for (t = MSG_AUTH_CONTINUE; t <= MSG_AUTH_SCRAM_FINAL; t++)
			if (msg_get_auth_data(&in, t, &d) == 0) {
				CHECK(msg_send_auth_data(sv[0], t, &d) == 0);
				same(&in);
			}
	}
	return 0;
}
