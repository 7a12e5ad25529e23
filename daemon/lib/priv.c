/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * priv.c -- drop privileges, one function, one order (reyk/httpd
 * proc.c): chroot, chdir, setgroups, setresgid, setresuid; check each
 * call, then verify all of it.  Runs as root in a freshly forked child.
 */
#include <sys/prctl.h>
#include <sys/types.h>

#include <grp.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "compat/compat.h"
#include "log.h"
#include "priv.h"
#include "compat/poison.h"

int
priv_drop(const char *dir, uid_t uid, gid_t gid, const gid_t *groups,
    size_t ngroups)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, *have = NULL;
	size_t i;
	int n;

	if (geteuid() != 0)
		goto nnp;	/* development mode: nothing to drop */
	if (uid == 0 || gid == 0) {
		log_warnx("refusing to drop to uid %lu gid %lu",
		    (unsigned long)uid, (unsigned long)gid);
		return -1;
	}
	for (i = 0; i < ngroups; i++)
		if (groups[i] == 0) {
			log_warnx("refusing supplementary group 0");
			return -1;
		}
	if (dir != NULL && dir[0] != '\0') {
		if (chroot(dir) == -1) {
			log_warn("chroot %s", dir);
			return -1;
		}
		if (chdir("/") == -1) {
			log_warn("chdir /");
			return -1;
		}
	}
	if (ngroups == 0) {
		groups = &gid;
		ngroups = 1;
	}
	if (setgroups(ngroups, groups) == -1) {
		log_warn("setgroups");
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		log_warn("setresgid %lu", (unsigned long)gid);
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		log_warn("setresuid %lu", (unsigned long)uid);
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid ||
	    su != uid || getresgid(&rg, &eg, &sg) == -1 || rg != gid ||
	    eg != gid || sg != gid) {
		log_warnx("privileges were not dropped");
		return -1;
	}
	/* The supplementary groups are exactly the ones asked for. */
	if ((n = getgroups(0, NULL)) < 0 || (size_t)n != ngroups ||
	    (have = reallocarray(NULL, ngroups, sizeof(*have))) == NULL ||
	    getgroups(n, have) != n) {
		free(have);
		log_warnx("supplementary groups were not set");
		return -1;
	}
	for (i = 0; i < ngroups; i++)
		if (have[i] == 0) {
			free(have);
			log_warnx("supplementary group 0 kept");
			return -1;
		}
	free(have);
	if (setuid(0) != -1 || setgid(0) != -1) {
		log_warnx("could regain root after dropping privileges");
		return -1;
	}
nnp:
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("prctl NO_NEW_PRIVS");
		return -1;
	}
	/* Never dump core: the process may hold a password or mail. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

int
priv_tie_to_parent(pid_t parent, int sig)
{
	if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == -1) {
		log_warn("prctl PR_SET_PDEATHSIG");
		return -1;
	}
	/* The parent may have died before the prctl: then we are an
	 * orphan already and no signal will ever come. */
	if (getppid() != parent)
		return -1;
	return 0;
}

int
priv_keep_fd(int fd, const char *facility)
{
	/* syslog's socket may be descriptor 3, which dup2() replaces. */
	if (facility != NULL)
		closelog();
	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			return -1;
		close(fd);
	}
	if (close_range(4, ~0U, 0) == -1)
		return -1;
	if (facility != NULL)
		log_init(0, facility, 0);
	return 3;
}
