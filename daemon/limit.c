/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * limit.c -- the connection limits shared by all workers (see
 * limit.h).  Runs in the worker, unprivileged; reads the scoreboard.
 *
 * A worker first publishes its connection (peer and state in its own
 * slot) and only then counts the others.  Two workers that accept from
 * the same address at the same moment therefore both see each other:
 * at worst both refuse, never both pass beyond the limit.
 */
#include <sys/types.h>

#include <string.h>

#include "compat/compat.h"
#include "conf.h"
#include "limit.h"
#include "scoreboard.h"
#include "compat/poison.h"

static int	limit_busy(uint32_t);

/* A slot in one of these states holds a client connection. */
static int
limit_busy(uint32_t state)
{
	return state == SB_PREAUTH || state == SB_AUTH ||
	    state == SB_TRANSACTION || state == SB_UPDATE;
}

unsigned int
limit_preauth_max(const struct config *cf)
{
	unsigned int n;

	if (cf->max_preauth_connections > 0)
		return cf->max_preauth_connections;
	n = cf->workers_max - cf->workers_max / 4;
	return n == 0 ? 1 : n;
}

int
limit_connect(const struct config *cf, const struct scoreboard *sb,
    const struct sb_slot *self, int trusted, const char **limit_r,
    const char **reply_r)
{
	const struct sb_slot *o;
	unsigned int same = 0, preauth = 0, maxpre;
	uint32_t i, st;

	if (trusted && cf->limits_exempt_trusted)
		return 0;
	maxpre = limit_preauth_max(cf);
	for (i = 0; i < sb_count(sb); i++) {
		o = &sb->slots[i];
		st = __atomic_load_n(&o->state, __ATOMIC_ACQUIRE);
		if (!limit_busy(st))
			continue;
		if (st == SB_PREAUTH || st == SB_AUTH)
			preauth++;
		if (o != self && strncmp(o->peer, self->peer,
		    sizeof(o->peer)) == 0)
			same++;
	}
	if (cf->max_connections_per_ip > 0 &&
	    same >= cf->max_connections_per_ip) {
		*limit_r = "max_connections_per_ip";
		*reply_r = "-ERR [SYS/TEMP] Too many connections from your "
		    "address, try again later";
		return -1;
	}
	/* preauth counts this connection too. */
	if (preauth > maxpre) {
		*limit_r = "max_preauth_connections";
		*reply_r = "-ERR [SYS/TEMP] Too many connections waiting to "
		    "log in, try again later";
		return -1;
	}
	return 0;
}

int
limit_user(const struct config *cf, const struct scoreboard *sb,
    const struct sb_slot *self, int trusted)
{
	const struct sb_slot *o;
	unsigned int same = 0;
	uint32_t i;

	if (cf->max_sessions_per_user == 0 ||
	    (trusted && cf->limits_exempt_trusted) || self->user[0] == '\0')
		return 0;
	for (i = 0; i < sb_count(sb); i++) {
		o = &sb->slots[i];
		if (o == self || !limit_busy(__atomic_load_n(&o->state,
		    __ATOMIC_ACQUIRE)))
			continue;
		if (strncmp(o->user, self->user, sizeof(o->user)) == 0)
			same++;
	}
	return same >= cf->max_sessions_per_user ? -1 : 0;
}
