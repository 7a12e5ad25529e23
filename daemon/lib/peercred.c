/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * peercred.c -- the peer check of a UNIX socket (see peercred.h).
 * Runs in the master (control socket) and the auth process (satchelctl
 * handoff), with their privileges; it only asks the kernel.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include "compat/compat.h"
#include "peercred.h"
#include "compat/poison.h"

int
peercred_is(int fd, uid_t uid, pid_t pid, long *uid_r, long *pid_r)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (uid_r != NULL)
		*uid_r = -1;
	if (pid_r != NULL)
		*pid_r = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred))
		return -1;
	if (uid_r != NULL)
		*uid_r = (long)cred.uid;
	if (pid_r != NULL)
		*pid_r = (long)cred.pid;
	return cred.uid == uid && (pid <= 0 || cred.pid == pid) ? 1 : 0;
}
