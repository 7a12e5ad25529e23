/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mysql_query.c -- the mysql module's query binding (see mysql_query.h):
 * %-sequences to '?' parameters, and the bytes bound to each.  Pure
 * code: no MySQL calls, no core, no process state; runs in the master
 * (config check) and in the auth processes (root).  Tested by
 * tests/unit/test_mysql_query.c.
 *
 * Caution: this is the SQL-injection boundary.  Nothing from a client
 * (user name, address) may ever reach the SQL text; it reaches only
 * myq_bind()'s values, which the caller binds as statement parameters.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mysql_query.h"

static const char *const myq_col_names[COL_COUNT] = {
	"", "password", "user", "uid", "gid", "home", "mail", "enabled",
	"login_delay", "proxy", "host", "hostip", "port", "ssl", "destuser",
	"proxy_haproxy", "master", "pass",
};

static int	myq_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
myq_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* 1 if c is one of the placeholder letters. */
static int
myq_letter(char c)
{
	return c == 'u' || c == 'n' || c == 'd' || c == 'r';
}

/*
 * A placeholder in a quoted string would be a literal '?' to the
 * server, so only the whole quoted form '%u' (Dovecot's habit) is
 * accepted, and taken as %u.
 */
int
myq_parse(const char *q, char *out, size_t outsz, char params[MYQ_PARAMS_MAX],
    size_t *nparams_r, char *err, size_t errsz)
{
	size_t o = 0, len, np = 0;
	char quote;
	int quoted = 0;

	*nparams_r = 0;
	if (q == NULL || (len = strlen(q)) == 0 || len >= MYQ_QUERY_MAX)
		return myq_err(err, errsz, "required, at most %d characters",
		    MYQ_QUERY_MAX - 1);
	if (outsz < len + 1)
		return myq_err(err, errsz, "internal: output too small");
	while (*q != '\0') {
		if ((q[0] == '\'' || q[0] == '"') && q[1] == '%' &&
		    myq_letter(q[2]) && q[3] == q[0]) {
			q++;		/* '%u' is %u: skip the quotes */
			quoted = 1;
		}
		if (*q == '\'' || *q == '"' || *q == '`') {
			quote = *q;
			out[o++] = *q++;
			while (*q != '\0' && *q != quote) {
				if (*q == '%' && myq_letter(q[1]))
					return myq_err(err, errsz, "%%%c inside "
					    "a quoted string: write %%%c or "
					    "'%%%c' alone", q[1], q[1], q[1]);
				if (*q == '\\' && q[1] != '\0')
					out[o++] = *q++;
				out[o++] = *q++;
			}
			if (*q == '\0')
				return myq_err(err, errsz, "unterminated %c "
				    "quote", quote);
			out[o++] = *q++;
			continue;
		}
		if (*q != '%') {
			out[o++] = *q++;
			continue;
		}
		if (q[1] == '%') {
			out[o++] = '%';
			q += 2;
			continue;
		}
		if (!myq_letter(q[1]))
			return myq_err(err, errsz, "unknown %%-sequence "
			    "'%%%.1s' (known: %%u %%n %%d %%r %%%%)", q + 1);
		if (np == MYQ_PARAMS_MAX)
			return myq_err(err, errsz, "more than %d placeholders",
			    MYQ_PARAMS_MAX);
		params[np++] = q[1];
		out[o++] = '?';
		q += quoted ? 3 : 2;
		quoted = 0;
	}
	out[o] = '\0';
	if (np == 0)
		return myq_err(err, errsz, "no %%u, %%n or %%d: the query "
		    "would not depend on the user");
	*nparams_r = np;
	return 0;
}

int
myq_bind(const char *params, size_t nparams, const char *user,
    const char *remote, struct myq_value *vals)
{
	const char *at;
	size_t i, nlocal;

	if (user == NULL || nparams > MYQ_PARAMS_MAX)
		return -1;
	if (remote == NULL)
		remote = "";
	at = strchr(user, '@');
	nlocal = at != NULL ? (size_t)(at - user) : strlen(user);
	for (i = 0; i < nparams; i++) {
		switch (params[i]) {
		case 'u':
			vals[i].ptr = user;
			vals[i].len = (unsigned long)strlen(user);
			break;
		case 'n':
			vals[i].ptr = user;
			vals[i].len = (unsigned long)nlocal;
			break;
		case 'd':
			vals[i].ptr = at != NULL ? at + 1 : "";
			vals[i].len = (unsigned long)strlen(vals[i].ptr);
			break;
		case 'r':
			vals[i].ptr = remote;
			vals[i].len = (unsigned long)strlen(remote);
			break;
		default:
			return -1;
		}
		if (vals[i].len > MYQ_VALUE_MAX)
			return -1;
	}
	return 0;
}

int
myq_column(const char *name)
{
	int k;

	if (strncasecmp(name, "userdb_", 7) == 0)
		name += 7;
	if (strcasecmp(name, "username") == 0)
		return COL_USER;
	if (strcasecmp(name, "active") == 0)
		return COL_ENABLED;
	for (k = 1; k < COL_COUNT; k++)
		if (strcasecmp(name, myq_col_names[k]) == 0)
			return k;
	return COL_IGNORE;
}

const char *
myq_column_name(int col)
{
	if (col < 0 || col >= COL_COUNT)
		return "?";
	return myq_col_names[col];
}
