/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * userfmt.c -- auth_username_format (see userfmt.h).  The auth pool
 * applies it to the name of every request before the module chain, the
 * failure counters and the mail location see it, so that "ALICE" and
 * "alice" are one user for every module alike.  Pure code: no I/O, no
 * globals.
 */
#include <string.h>

#include "compat/compat.h"
#include "userfmt.h"
#include "compat/poison.h"

/*
 * One step of format at *pp: the modifier in *mod_r (0, 'L' or 'U') and
 * the variable in *var_r ('u', 'n', 'd' or '%'); advances *pp.  Returns
 * 0, or -1 with a message.
 */
static int
userfmt_var(const char **pp, char *mod_r, char *var_r, const char **err_r)
{
	const char *p = *pp;

	*mod_r = 0;
	if (*p == 'L' || *p == 'U')
		*mod_r = *p++;
	if (*p == '\0') {
		*err_r = "ends inside a %-sequence";
		return -1;
	}
	if (strchr("und", *p) == NULL && !(*p == '%' && *mod_r == 0)) {
		*err_r = "unknown %-sequence (known: %u %n %d %%, with L "
		    "or U for lower or upper case: %Lu)";
		return -1;
	}
	*var_r = *p++;
	*pp = p;
	return 0;
}

int
userfmt_check(const char *format, const char **err_r)
{
	const char *p;
	char mod, var;

	for (p = format; *p != '\0';) {
		if (*p++ != '%')
			continue;
		if (userfmt_var(&p, &mod, &var, err_r) == -1)
			return -1;
	}
	return 0;
}

int
userfmt_apply(const char *format, const char *user, char *out,
    size_t outsz)
{
	const char *p, *at, *v, *err;
	size_t o = 0, vl, i;
	char mod, var, c;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (format == NULL || format[0] == '\0') {
		if (strlcpy(out, user, outsz) < outsz)
			return 0;
		out[0] = '\0';
		return -1;
	}
	at = strchr(user, '@');
	for (p = format; *p != '\0';) {
		if (*p != '%') {
			v = p++;
			vl = 1;
			mod = 0;
		} else {
			p++;
			if (userfmt_var(&p, &mod, &var, &err) == -1)
				goto fail;
			switch (var) {
			case 'u':
				v = user;
				vl = strlen(user);
				break;
			case 'n':
				v = user;
				vl = at != NULL ? (size_t)(at - user) :
				    strlen(user);
				break;
			case 'd':
				v = at != NULL ? at + 1 : "";
				vl = strlen(v);
				break;
			default:
				v = "%";
				vl = 1;
				break;
			}
		}
		if (vl >= outsz - o)
			goto fail;
		for (i = 0; i < vl; i++) {
			c = v[i];
			if (mod == 'L' && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			else if (mod == 'U' && c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			out[o++] = c;
		}
	}
	out[o] = '\0';
	return 0;
fail:
	out[0] = '\0';
	return -1;
}

int
userfmt_rewrite(const char *format, char *buf, size_t bufsz)
{
	char tmp[1024];

	if (format == NULL || format[0] == '\0')
		return 0;
	if (bufsz > sizeof(tmp) ||
	    userfmt_apply(format, buf, tmp, bufsz) == -1) {
		buf[0] = '\0';
		return -1;
	}
	memcpy(buf, tmp, strlen(tmp) + 1);
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
}
