/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master_chan.h -- a worker's channel to the master (master_chan.c):
 * a pipe whose read end only the master holds.  The worker writes
 * MASTER_CHAN_IDLE or MASTER_CHAN_BUSY (master.h) on it; the master
 * sizes the pool from what each worker said of itself.
 */
#ifndef SATCHEL_MASTER_CHAN_H
#define SATCHEL_MASTER_CHAN_H

#include <sys/types.h>

/* A worker's state, as its own channel told the master. */
#define W_STARTING	0	/* forked; has not said idle yet */
#define W_IDLE		1
#define W_BUSY		2
#define W_EXITING	3	/* retired, ended, or its channel closed */

struct master_chan {
	int		 fd;		/* the read end; -1 */
	int		 state;		/* W_* */
	int		 lied;		/* one bad octet logged */
};

/* No channel, state W_STARTING. */
void	 master_chan_init(struct master_chan *ch);
/*
 * Take the read end fd of a new worker's channel and watch it in the
 * epoll set ep (data: the descriptor).  Logged on error.
 */
void	 master_chan_watch(struct master_chan *ch, int ep, int fd);
/*
 * Read what worker pid wrote; its last octet is its state.  Any other
 * octet ends the worker (SIGKILL, logged once); end of file closes the
 * channel (W_EXITING, but W_STARTING stays: it never started).
 * W_EXITING stays.
 */
void	 master_chan_read(struct master_chan *ch, pid_t pid);
/* Close the read end (the worker was reaped, or in a new child). */
void	 master_chan_close(struct master_chan *ch);

#endif /* SATCHEL_MASTER_CHAN_H */
