/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session.h -- one POP3 session, in the worker (unprivileged).
 */
#ifndef SATCHEL_SESSION_H
#define SATCHEL_SESSION_H

#include <sys/socket.h>

struct listener;
struct satcheld;
struct sb_slot;

/* Serve the client on fd until it quits or fails; closes fd. */
void	 session_run(struct satcheld *d, int fd, const struct sockaddr *sa,
	    socklen_t salen, const struct listener *l, struct sb_slot *slot);

#endif /* SATCHEL_SESSION_H */
