/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * limit.h -- limits shared by all workers: connections per client
 * address, sessions per user, connections still in AUTHORIZATION.  The
 * counts are read from the scoreboard, so they are shared by every
 * worker and need no bookkeeping of their own: a slot counts while its
 * worker holds a connection and stops counting when the worker moves on
 * or dies (the master clears the slot of a dead worker).
 *
 * Runs in the worker, unprivileged.
 *
 * Caution: every worker can write every slot of the scoreboard, so a
 * compromised worker can make these counts say what it likes: it can
 * refuse clients (a denial of service it could cause anyway by not
 * serving), or let its own connections through.  It cannot raise
 * another worker's limits, since each worker counts for itself.
 */
#ifndef SATCHEL_LIMIT_H
#define SATCHEL_LIMIT_H

struct config;
struct scoreboard;
struct sb_slot;

/*
 * The worker's own slot already holds the peer address and state
 * SB_PREAUTH.  Returns 0 to serve the connection, or -1 with the name
 * of the limit that was hit ("max_connections_per_ip",
 * "max_preauth_connections") in *limit_r and the reply for the client
 * in *reply_r (static strings).  trusted: the peer is in
 * trusted_networks.
 */
int	 limit_connect(const struct config *cf, const struct scoreboard *sb,
	    const struct sb_slot *self, int trusted, const char **limit_r,
	    const char **reply_r);
/*
 * After a successful login, with self->user set to the (escaped) user
 * name: 0, or -1 when the user has max_sessions_per_user other sessions.
 */
int	 limit_user(const struct config *cf, const struct scoreboard *sb,
	    const struct sb_slot *self, int trusted);
/* The cap on connections in AUTHORIZATION (resolves the 0 default). */
unsigned int limit_preauth_max(const struct config *cf);

#endif /* SATCHEL_LIMIT_H */
