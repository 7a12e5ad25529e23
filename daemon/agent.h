/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * agent.h -- the mailbox agent: one per session, as the mail user.
 */
#ifndef SATCHEL_AGENT_H
#define SATCHEL_AGENT_H

#include <sys/types.h>

struct module;
struct satchel_user;

/*
 * In the child forked by the auth process (still root): drop to the
 * user, open the mailbox at location ("driver:/path") with the storage
 * module mod, then serve the worker on sock.  Never returns.
 */
void	 agent_main(int sock, struct module *mod, const char *path,
	    const struct satchel_user *user, const char *session)
	    __attribute__((noreturn));

#endif /* SATCHEL_AGENT_H */
