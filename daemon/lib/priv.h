/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * priv.h -- the one privilege drop every child uses (worker, agent):
 * chroot, chdir("/"), setgroups, setresgid, setresuid, each checked,
 * then verified, then PR_SET_NO_NEW_PRIVS (checked) and no core dumps.
 * Runs as root in a child just forked; does nothing when not root
 * (development mode) but the no-new-privileges and dumpable settings.
 */
#ifndef SATCHEL_PRIV_H
#define SATCHEL_PRIV_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Drop to uid, gid and groups (groups[0..ngroups-1]; NULL/0 for just
 * gid), chrooting to dir first unless it is NULL or "".  uid 0 and any
 * gid 0 are refused.  0, or -1 with the failing step logged.
 */
int	 priv_drop(const char *dir, uid_t uid, gid_t gid,
	    const gid_t *groups, size_t ngroups);

/*
 * Have the kernel send sig when the parent dies (PR_SET_PDEATHSIG),
 * then check that parent is still the parent, since it may have died
 * before the call.  Call it after any change of uid or gid, which
 * clears the setting.  0, or -1 when the parent is gone (the caller
 * exits).
 */
int	 priv_tie_to_parent(pid_t parent, int sig);

/*
 * In a child just forked: keep only stdin, stdout, stderr and fd (moved
 * to descriptor 3), closing everything else it inherited; with facility
 * (not in the foreground) reopen syslog after.  Returns 3, or -1.
 */
int	 priv_keep_fd(int fd, const char *facility);

#endif /* SATCHEL_PRIV_H */
