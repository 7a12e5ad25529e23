/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * peercred.h -- who is at the other end of a UNIX socket (SO_PEERCRED),
 * the one check the control socket (control.c, in the master) and the
 * auth process's satchelctl handoff (auth_ctl.c) share.  Pure system
 * call wrapper; runs wherever it is called, with that process's
 * privileges.
 */
#ifndef SATCHEL_PEERCRED_H
#define SATCHEL_PEERCRED_H

#include <sys/types.h>

/*
 * 1 if the peer of UNIX socket fd runs as uid and, when pid > 0, is
 * process pid; 0 if not; -1 if the kernel would not say.  The peer's
 * uid and pid go to *uid_r and *pid_r (NULL to skip; -1 when unknown)
 * for the caller's log line.
 */
int	 peercred_is(int fd, uid_t uid, pid_t pid, long *uid_r, long *pid_r);

#endif /* SATCHEL_PEERCRED_H */
