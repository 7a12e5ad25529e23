/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * worker.h -- a pre-forked worker: drops privileges, accepts, serves.
 */
#ifndef SATCHEL_WORKER_H
#define SATCHEL_WORKER_H

#include <signal.h>

struct satcheld;
struct sb_slot;

extern volatile sig_atomic_t worker_quit;	/* SIGTERM: stop now */
extern volatile sig_atomic_t worker_retire;	/* SIGUSR1: after session */
extern volatile sig_atomic_t worker_kick;	/* SIGUSR2: see slot->kick */

/*
 * An idle worker's wait for a connection on epoll set ep (n listeners,
 * data.u32 the listener's index): epoll_wait into evs, and when
 * sweep_ms pass with nothing, every listener as if it were readable, so
 * that the caller tries accept4 on each (the listeners are
 * non-blocking: EAGAIN when nothing waits).  With EPOLLEXCLUSIVE the
 * kernel wakes one waiting worker per connection; one that was woken
 * and then left without accepting (retired by SIGUSR1 in the same
 * instant) leaves the connection in the backlog with no one woken, and
 * the sweep is what picks it up.  Returns epoll_wait's result.
 */
struct epoll_event;
int	 worker_wait(int ep, struct epoll_event *evs, int n, int sweep_ms);

/* In the child right after fork (still root).  Never returns. */
void	 worker_main(struct satcheld *s, struct sb_slot *slot)
	    __attribute__((noreturn));

#endif /* SATCHEL_WORKER_H */
