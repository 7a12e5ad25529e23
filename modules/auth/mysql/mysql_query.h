/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mysql_query.h -- the mysql module's query binding: the SQL-injection
 * boundary.  Pure code (no MySQL, no core, no process state), built
 * into auth_mysql.so and into tests/unit/test_mysql_query.
 *
 * The configured query's %u %n %d %r become '?' parameters; at run time
 * myq_bind() gives, for each '?', the bytes to bind (pointer and
 * length).  Those bytes go to the server as parameter data of a
 * prepared statement and are never pasted into SQL text.
 */
#ifndef SATCHEL_MYSQL_QUERY_H
#define SATCHEL_MYSQL_QUERY_H

#include <stddef.h>

#define MYQ_PARAMS_MAX		16
#define MYQ_QUERY_MAX		4096
#define MYQ_VALUE_MAX		1024	/* a longer bound value is refused */

/* Result columns the module knows, by name. */
enum my_col { COL_IGNORE, COL_PASSWORD, COL_USER, COL_UID, COL_GID,
    COL_HOME, COL_MAIL, COL_ENABLED, COL_DELAY,
    /* proxy mode (ABI 1.3): Dovecot's extra fields as columns */
    COL_PROXY, COL_HOST, COL_HOSTIP, COL_PORT, COL_SSL, COL_DESTUSER,
    COL_PROXY_HAPROXY,
    /* ABI 1.4: the backend login as a master user */
    COL_MASTER, COL_PASS, COL_COUNT };
#define COL_PROXY_FIRST	COL_PROXY

struct myq_value {
	const char	*ptr;
	unsigned long	 len;
};

/*
 * Turn template into the SQL text out (outsz at least strlen(template)
 * + 1) with one '?' per placeholder, and params[] the letters 'u' 'n'
 * 'd' 'r' in order (*nparams_r of them, at most MYQ_PARAMS_MAX).
 * Returns 0, or -1 with a message for the admin in err.
 */
int	 myq_parse(const char *template, char *out, size_t outsz,
	    char params[MYQ_PARAMS_MAX], size_t *nparams_r, char *err,
	    size_t errsz);
/*
 * The value bound to each parameter for user (as given) and remote
 * (the client's address, may be NULL).  vals[] has nparams entries that
 * point into user and remote.  Returns 0, or -1 when a value is longer
 * than MYQ_VALUE_MAX or params holds an unknown letter.
 */
int	 myq_bind(const char *params, size_t nparams, const char *user,
	    const char *remote, struct myq_value *vals);
/* The column a result column's name maps to (COL_IGNORE if none). */
int	 myq_column(const char *name);
/* "password", "user", ... for a column, for messages. */
const char *myq_column_name(int col);

#endif /* SATCHEL_MYSQL_QUERY_H */
