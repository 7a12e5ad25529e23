/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_int.h -- what the auth pool's processes share: the entry points
 * of the children the auth process forks (module workers, the agent
 * spawner) and a few settings.  Private to the auth pool; runs as root.
 */
#ifndef SATCHEL_AUTH_INT_H
#define SATCHEL_AUTH_INT_H

#include <stddef.h>

struct satcheld;

/*
 * A module worker: forked by the auth process, inits module
 * s->auth[idx] and answers AW_CALL on ctl, one at a time, until EOF.
 * Never returns.
 */
void	 auth_worker_main(int ctl, struct satcheld *s, size_t idx)
	    __attribute__((noreturn));

/*
 * The agent spawner: forked by the auth process before its first
 * request, so it holds no secret; forks spare agents on SPAWN_MORE and
 * hands their control sockets back on ctl.  Never returns.
 */
void	 agent_spawner_main(int ctl, struct satcheld *s)
	    __attribute__((noreturn));

/* Settings with a config key that may not exist in older configs. */
#define AUTH_FIRST_VALID_GID(cf)	((cf)->first_valid_gid)
#define AUTH_FAIL_DELAY_MAX(cf)		((cf)->login_fail_delay_max_ms)

#endif /* SATCHEL_AUTH_INT_H */
