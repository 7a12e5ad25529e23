/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_master.c -- master user logins in the auth process (issue 14,
 * Dovecot's master passdb).  A login as "target*master" with USER/PASS
 * (auth_master_user_separator) or AUTH PLAIN with authzid target and
 * authcid master (RFC 4616) is asked in two parts:
 *
 *   MP_MASTER  the master's password, verified by the modules whose
 *              section says "master = yes" and by no other;
 *   MP_TARGET  the target, looked up without a password by the other
 *              modules (AW_USER, the lookup of satchelctl's `user`).
 *
 * A master module never answers an ordinary login, satchelctl, or the
 * target part: a master user can log in as itself through the master
 * path only if it is an ordinary user as well.  An unknown target is a
 * failure like a wrong password.  Failures are charged to the master
 * (and the address): that is who guessed.  Runs in the auth process, as
 * root.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth_proc.h"
#include "log.h"
#include "mailloc.h"
#include "msg.h"
#include "userfmt.h"
#include "compat/poison.h"

/* May module group g be asked for c's current part? */
int
auth_master_serves(const struct aconn *c, const struct agroup *g)
{
	switch (c->mphase) {
	case MP_MASTER:
		return g->master && c->mech == MECH_PASS;
	case MP_TARGET:
		return !g->master && g->lookup;
	default:
		return !g->master && (c->mech == MECH_PASS || g->lookup);
	}
}

/* The call to make for c, and the name it is about. */
uint32_t
auth_master_op(const struct aconn *c, const char **user_r)
{
	*user_r = c->mphase == MP_MASTER ? c->master : c->user;
	if (c->mphase == MP_TARGET)
		return AW_USER;
	return c->mech == MECH_PASS ? AW_VERIFY : c->mech == MECH_SCRAM ?
	    AW_SCRAM : c->mech == MECH_CTL_USER ? AW_USER : AW_LOOKUP;
}

/* Who a failure is charged to: the master of a master login. */
const char *
auth_charged_user(const struct aconn *c)
{
	return c->master[0] != '\0' ? c->master : c->user;
}

/*
 * Called by conn_start(): 0 to go on with the chain, -1 for a master
 * name that cannot be valid (a failure like a wrong password).
 */
int
auth_master_start(struct auth_ctx *a, struct aconn *c)
{
	(void)a;
	c->mphase = MP_NONE;
	if (c->master[0] == '\0')
		return 0;
	if (c->mech != MECH_PASS || user_name_valid(c->master) == -1)
		return -1;
	c->mphase = MP_MASTER;
	return 0;
}

/*
 * A module answered r for c.  Returns 1 if it was the master's part and
 * is dealt with here, 0 for the ordinary handling (the target's part
 * is an ordinary lookup).
 */
int
auth_master_answer(struct auth_ctx *a, struct aconn *c, uint32_t r)
{
	if (c->mphase != MP_MASTER)
		return 0;
	if (r == SATCHEL_AUTH_NOUSER) {
		c->chain++;
		conn_chain(a, c);
		return 1;
	}
	if (r != SATCHEL_AUTH_OK) {
		conn_conclude(a, c, r);
		return 1;
	}
	/* The master is who it says: its password goes, the target is
	 * looked up through the ordinary modules. */
	explicit_bzero(c->secret, sizeof(c->secret));
	c->mphase = MP_TARGET;
	c->chain = 0;
	conn_chain(a, c);
	return 1;
}

/* " master=NAME" for the log lines of a master login, else "". */
void
auth_master_log(const struct aconn *c, char *out, size_t outsz)
{
	size_t n;

	out[0] = '\0';
	if (c->master[0] == '\0' || outsz < 9)
		return;
	n = strlcpy(out, " master=", outsz);
	log_vis(out + n, outsz - n, c->master, strlen(c->master));
}
