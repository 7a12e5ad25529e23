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

/* In the child right after fork (still root).  Never returns. */
void	 worker_main(struct satcheld *s, struct sb_slot *slot)
	    __attribute__((noreturn));

#endif /* SATCHEL_WORKER_H */
