/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * sandbox.h -- the kernel sandbox (Linux seccomp-bpf allow-lists) and
 * the capability bounding set.  See sandbox.c and doc/DESIGN.
 */
#ifndef SATCHEL_SANDBOX_H
#define SATCHEL_SANDBOX_H

/* Flags for sandbox_worker() and sandbox_agent(). */
#define SANDBOX_LOG	0x01	/* trap a forbidden call, log its number,
				 * then die by SIGSYS (debugging);
				 * implied at log_level debug */

/*
 * Drop every capability from the bounding set and clear the ambient
 * set, then verify.  Call it while still root (it needs CAP_SETPCAP),
 * in every child, before the child drops to its user.  Not root (a
 * development run): nothing to drop, returns 0.  Returns 0 or -1
 * (logged).
 */
int	 sandbox_caps_drop(void);

/*
 * Install the worker's allow-list: I/O on descriptors it already has,
 * accept4, poll, memory without PROT_EXEC, time, signals, exit, and
 * socket() only for AF_UNIX SOCK_SEQPACKET (the auth pool).  Anything
 * else kills the process with SIGSYS.  Call after the privilege drop;
 * sets and checks PR_SET_NO_NEW_PRIVS itself.  Returns 0 (installed,
 * or skipped under valgrind or on an architecture without a list:
 * logged) or -1 (logged): the caller must then exit.
 */
int	 sandbox_worker(int flags);

/*
 * The agent's allow-list: the worker's (less socket and accept4) plus
 * the file calls a storage module needs: open, stat, directory reads,
 * rename, link, unlink, mkdir, fsync, truncate, locks, chmod/chown of
 * its own files.  No exec, no fork, no new socket.  Same contract.
 */
int	 sandbox_agent(int flags);

/*
 * The stats process's allow-list (stats.c): the worker's, less sendfile
 * and the auth pool's socket.  Same contract.
 */
int	 sandbox_stats(int flags);

#endif /* SATCHEL_SANDBOX_H */
