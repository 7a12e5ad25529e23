/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mailloc.h -- user names and mail locations: the checks a client's
 * user name must pass, and the expansion of "maildir:/var/vmail/%d/%n"
 * for one user.  Pure code, no process state: runs in the auth pool and
 * in the config checks.
 */
#ifndef SATCHEL_MAILLOC_H
#define SATCHEL_MAILLOC_H

#include <stddef.h>

struct satchel_user;

/*
 * A user name as sent by a client: 1..255 octets of letters, digits and
 * . _ - + = ' ! # $ & * ^ { | } ~, not starting with '.' or '@', no
 * "..", at most one '@' that is neither last nor before a '.'.
 * Returns 0 if acceptable, -1 if not.
 */
int	 user_name_valid(const char *user);

/*
 * Expand location (the user's own, or the default) for user into
 * driver ("maildir") and path.  %u is the user, %n its local part, %d
 * its domain, %h its home (the only value that may hold '/'), %% a '%'.
 * Every value substituted must be safe in a path (no '/', no "..", not
 * empty, not starting with '.'), and the result must be an absolute
 * path with no "/../".  Returns 0, or -1 with a static message in
 * *err_r.
 */
int	 mailloc_expand(const char *location, const struct satchel_user *user,
	    char *driver, size_t driversz, char *path, size_t pathsz,
	    const char **err_r);

#endif /* SATCHEL_MAILLOC_H */
