/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mailloc.c -- user name checks and mail location expansion (see
 * mailloc.h).  Pure code: no I/O, no globals.
 */
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "mailloc.h"
#include "compat/poison.h"

int
user_name_valid(const char *user)
{
	size_t i, len = strlen(user);
	int at = 0;

	if (len == 0 || len > SATCHEL_USER_MAX || user[0] == '.' ||
	    user[0] == '@' || strstr(user, "..") != NULL)
		return -1;
	for (i = 0; i < len; i++) {
		char c = user[i];

		if (c == '@') {
			if (at++ > 0 || user[i + 1] == '.' ||
			    user[i + 1] == '\0')
				return -1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._-+='!#$&*^{|}~",
		    c) != NULL))
			return -1;
	}
	return 0;
}

/* A value substituted into a path: no '/', no "..", nothing odd. */
static int
mailloc_value_ok(const char *v)
{
	return v[0] != '\0' && strchr(v, '/') == NULL &&
	    strstr(v, "..") == NULL && strchr(v, '%') == NULL &&
	    v[0] != '.' ? 0 : -1;
}

int
mailloc_expand(const char *loc, const struct satchel_user *user,
    char *driver, size_t driversz, char *path, size_t pathsz,
    const char **err_r)
{
	const char *p, *at, *colon, *v;
	char local[SATCHEL_USER_MAX + 1], domain[SATCHEL_USER_MAX + 1];
	size_t o = 0, n;

	if (loc[0] == '\0') {
		*err_r = "no mail location, and mail_location is not set";
		return -1;
	}
	if ((colon = strchr(loc, ':')) == NULL ||
	    (size_t)(colon - loc) >= driversz || colon == loc) {
		*err_r = "mail location has no driver (maildir: or mbox:)";
		return -1;
	}
	memcpy(driver, loc, (size_t)(colon - loc));
	driver[colon - loc] = '\0';
	strlcpy(local, user->name, sizeof(local));
	domain[0] = '\0';
	if ((at = strchr(user->name, '@')) != NULL) {
		local[at - user->name] = '\0';
		strlcpy(domain, at + 1, sizeof(domain));
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p != '%') {
			if (o + 1 >= pathsz)
				goto toolong;
			path[o++] = *p;
			continue;
		}
		switch (*++p) {
		case 'u':
			v = user->name;
			break;
		case 'n':
			v = local;
			break;
		case 'd':
			v = domain;
			break;
		case 'h':
			v = user->home;
			if (v[0] != '/' || strstr(v, "/../") != NULL) {
				*err_r = "home is not an absolute path";
				return -1;
			}
			goto copy;
		case '%':
			v = "%";
			goto copy;
		default:
			*err_r = "mail location has an unknown %-sequence";
			return -1;
		}
		if (mailloc_value_ok(v) == -1) {
			*err_r = "a value substituted into the mail location "
			    "is empty or not safe in a path";
			return -1;
		}
copy:
		n = strlen(v);
		if (o + n >= pathsz)
			goto toolong;
		memcpy(path + o, v, n);
		o += n;
	}
	path[o] = '\0';
	if (path[0] != '/' || strstr(path, "/../") != NULL) {
		*err_r = "mail location is not an absolute path";
		return -1;
	}
	return 0;
toolong:
	*err_r = "mail location too long";
	return -1;
}
