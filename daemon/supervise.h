/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * supervise.h -- how the master keeps its children without spinning:
 * restart throttling for children that die before they serve, the
 * refusal of clients when no worker can take them, and the tie that
 * makes every child die with its parent (priv_tie_to_parent, in
 * lib/priv.c).  Runs in the master, as root.
 */
#ifndef SATCHEL_SUPERVISE_H
#define SATCHEL_SUPERVISE_H

#include <sys/types.h>

#include <time.h>

struct listener;

#define SUPERVISE_DELAY_MAX_S	60

/*
 * Restart throttling for one kind of child.  seq counts registered
 * failures; a child remembers the seq it was started under, so only
 * the first failure of a batch (or of a probe) doubles the delay and
 * logs, and only a child started after the last failure proves that
 * children start again.
 */
struct backoff {
	const char	*what;		/* "workers", for the log */
	unsigned int	 seq;
	unsigned int	 failures;	/* since the last success */
	unsigned int	 delay;		/* seconds; 0: not throttled */
	time_t		 until;		/* no start before */
};

/* A child started under seq died before it served (wait status). */
void	supervise_fail(struct backoff *b, unsigned int seq, pid_t pid,
	    int status);
/* A child started under seq came up: ends the throttle if it applies. */
void	supervise_ok(struct backoff *b, unsigned int seq);
/*
 * How many children of b's kind may start now: 64 when not throttled,
 * none during a pause, one probe after it (the caller checks that no
 * probe is still on its way up).
 */
int	supervise_may_start(const struct backoff *b);
/*
 * No worker can take a connection: accept up to 32 waiting on l, write
 * one fixed "-ERR [SYS/TEMP]" line (nothing on a TLS port), close.
 * Never reads.  Stops when ready(arg) says a worker can accept again.
 * Logs "event=limit addr=A user=- limit=<limit> result=busy" per
 * client, at most 10 lines a second and a count for the rest.
 */
void	supervise_refuse(const struct listener *l, const char *limit,
	    int (*ready)(void *), void *arg);

#endif /* SATCHEL_SUPERVISE_H */
