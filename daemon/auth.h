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
	char		 data[512];		/* SCRAM server-final */
	int		 agent_fd;		/* on OK */
};

struct auth_addrs {
	const char	*remote;
	const char	*local;
	const char	*session;
};

/*
 * Worker side: ask the auth pool.  type is PS_AUTH_PASS, _APOP, _CRAM
 * or _SCRAM (see privsep.h for what user, secret and extra hold).
 * Returns the connection (>= 0) or -1 when the pool could not be
 * reached (the caller answers [SYS/TEMP]).  For SCRAM, read the
 * challenge with auth_continue() and answer with auth_scram_final();
 * then, for every type, auth_result() reads the answer and closes fd.
 */
int	 auth_send(uint32_t type, const char *user, const char *secret,
	    const char *extra, const struct auth_addrs *a);
int	 auth_continue(int fd, char *buf, size_t bufsz);
int	 auth_scram_final(int fd, const char *msg);
int	 auth_result(int fd, struct auth_result *res);
/*
 * Validate a user name as sent by a client: 1..255 octets of letters,
 * digits and . _ - + = ' ! # $ & * ^ { | } ~, not starting with '.', no
 * "..", at most one '@'.
 * Returns 0 if acceptable.
 */
int	 auth_user_valid(const char *user);

#endif /* SATCHEL_AUTH_H */
