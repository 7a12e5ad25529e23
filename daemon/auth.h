/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth.h -- the auth pool (root) and the worker's client side of it.
 */
#ifndef SATCHEL_AUTH_H
#define SATCHEL_AUTH_H

#include <stdint.h>

#include "satchel/module.h"

/* In the auth child right after fork.  Never returns. */
void	 auth_main(void) __attribute__((noreturn));

struct auth_result {
	uint32_t	 result;		/* SATCHEL_AUTH_* */
	uint32_t	 delay_ms;		/* wait before answering a failure */
	uint32_t	 login_delay;		/* LOGIN-DELAY for this user */
	char		 user[SATCHEL_USER_MAX + 1];	/* canonical */
	int		 agent_fd;		/* on OK */
};

/*
 * Worker side: ask the auth pool.  apop_ts is NULL for a password (then
 * secret is the password), or the banner timestamp (then secret is the
 * hex digest).  Returns 0 with *res filled, -1 when the pool could not
 * be reached (the caller answers [SYS/TEMP]).
 */
int	 auth_request(const char *user, const char *secret,
	    const char *apop_ts, const char *remote, const char *local,
	    const char *session, struct auth_result *res);
/*
 * Validate a user name as sent by a client: 1..255 octets of
 * [A-Za-z0-9._@+=-], not starting with '.', no "..", at most one '@'.
 * Returns 0 if acceptable.
 */
int	 auth_user_valid(const char *user);

#endif /* SATCHEL_AUTH_H */
