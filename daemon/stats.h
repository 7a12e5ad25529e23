/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * stats.h -- the stats process, which serves the metrics endpoint
 * (metrics_listen), and the master's side of it.  The counters and the
 * pure renderer and parser are in lib/stats_shm.h.
 */
#ifndef SATCHEL_DAEMON_STATS_H
#define SATCHEL_DAEMON_STATS_H

#include <sys/types.h>

#include "stats_shm.h"

struct satcheld;

#define STATS_CLIENTS_MAX	16	/* connections at once */
#define STATS_TIMEOUT_MS	5000	/* a whole request and its answer */
#define STATS_REPLY_MAX		(256 * 1024)

/*
 * Master, as root, before any fork: with metrics_listen set, map the
 * counters and bind the socket (SOCK_CLOEXEC).  0 (also when metrics
 * are off), or -1 (logged: the daemon does not start).
 */
int	 stats_setup(struct satcheld *s);
/* Master: a reload's module names, for the module="..." label. */
void	 stats_reload(struct satcheld *s);
/* Whether a stats process should run. */
int	 stats_wanted(void);
/* In any other child: close the metrics socket. */
void	 stats_close_inherited(void);
/* Master: fork the stats process.  Its pid, or -1 (logged). */
pid_t	 stats_spawn(struct satcheld *s);

#endif /* SATCHEL_DAEMON_STATS_H */
