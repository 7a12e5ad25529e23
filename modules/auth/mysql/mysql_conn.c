/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mysql_conn.c -- the mysql module's connection side: the hosts list,
 * the database password file, connecting (in order, with TLS when
 * asked), preparing the query and mapping its columns, and running it
 * with one retry on a fresh connection when the server went away.
 * Runs in the master (init's check, then closed) and in each auth
 * process (root).  The values bound to the statement come from
 * mysql_query.c, the SQL-injection boundary.
 *
 * Caution: the mailbox agent is forked from the auth process and so
 * inherits the connection's socket.  It must never use or close it.
 * The DB password is never logged.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mysql_int.h"

/* Server errors that mean "this connection is dead", not "bad query". */
#define MY_ER_CONNECTION_KILLED		1927
#define MY_ER_CLIENT_INTERACTION_TIMEOUT 4031
#define MY_CR_SERVER_LOST_EXTENDED	2055

static int	my_prepare(struct my_ctx *, int *);
static int	my_dead(unsigned int);
static int	my_fetch_once(struct my_ctx *,
		    const struct satchel_auth_request *, struct my_row *,
		    unsigned int *);

void
my_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

/* "unix:/path", "host", "host:port", "[v6addr]:port", space-separated. */
int
my_parse_hosts(struct my_ctx *ctx, const struct satchel_conf *conf,
    const char *s)
{
	const struct satchel_core *core = ctx->core;
	struct my_host *h;
	char tok[512], *p, *colon;
	uint64_t port;
	size_t len;

	while (*s != '\0') {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		len = strcspn(s, " \t");
		if (len >= sizeof(tok) || ctx->nhosts == MY_HOSTS_MAX) {
			core->conf_error(conf, "hosts", "at most %d hosts of "
			    "at most %zu characters", MY_HOSTS_MAX,
			    sizeof(tok) - 1);
			return -1;
		}
		memcpy(tok, s, len);
		tok[len] = '\0';
		s += len;
		h = &ctx->hosts[ctx->nhosts];
		if (strncmp(tok, "unix:", 5) == 0) {
			if (tok[5] != '/') {
				core->conf_error(conf, "hosts", "'%s': a socket "
				    "needs an absolute path", tok);
				return -1;
			}
			if ((h->socket = strdup(tok + 5)) == NULL)
				goto nomem;
			ctx->nhosts++;
			continue;
		}
		p = tok;
		h->port = 3306;
		if (tok[0] == '[') {
			if ((colon = strchr(tok, ']')) == NULL) {
				core->conf_error(conf, "hosts", "'%s': no ']'",
				    tok);
				return -1;
			}
			*colon++ = '\0';
			p = tok + 1;
			if (*colon == '\0')
				colon = NULL;
			else if (*colon != ':') {
				core->conf_error(conf, "hosts", "'%.*s': junk "
				    "after ']'", (int)len, s - len);
				return -1;
			}
		} else if ((colon = strrchr(tok, ':')) != NULL)
			*colon = '\0';
		if (colon != NULL) {
			if (core->parse_uint(colon + 1, 1, 65535, &port) == -1) {
				core->conf_error(conf, "hosts", "'%.*s': bad "
				    "port", (int)len, s - len);
				return -1;
			}
			h->port = (unsigned int)port;
		}
		if (p[0] == '\0') {
			core->conf_error(conf, "hosts", "empty host name");
			return -1;
		}
		if ((h->host = strdup(p)) == NULL)
			goto nomem;
		ctx->nhosts++;
	}
	if (ctx->nhosts == 0) {
		core->conf_error(conf, "hosts", "no host given");
		return -1;
	}
	return 0;
 nomem:
	core->conf_error(conf, "hosts", "%s", strerror(errno));
	return -1;
}

/*
 * Read the first line of password_file.  The file must be a regular
 * file owned by root (or by us) with no access for group or others.
 * With conf set (init) problems are config errors; else logged.
 */
int
my_read_password(struct my_ctx *ctx, const struct satchel_conf *conf,
    char **pw_r)
{
	const struct satchel_core *core = ctx->core;
	const char *path = ctx->password_file;
	char buf[MY_PASSWORD_MAX + 2];
	struct stat st;
	const char *why = NULL;
	ssize_t n;
	size_t len;
	int fd, err = 0;

	*pw_r = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		err = errno;
		why = "open";
	} else if (fstat(fd, &st) == -1) {
		err = errno;
		why = "fstat";
	} else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		why = "not owned by root";
	else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		why = "readable or writable by group or others; it must be "
		    "readable by root only (chmod 600)";
	if (why != NULL) {
		if (conf != NULL)
			core->conf_error(conf, "password_file", "%s: %s%s%s",
			    path, why, err ? ": " : "",
			    err ? strerror(err) : "");
		else
			core->log(SATCHEL_LOG_ERR, "password_file %s: %s%s%s",
			    path, why, err ? ": " : "",
			    err ? strerror(err) : "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n == -1 && errno == EINTR);
	err = errno;
	close(fd);
	if (n == -1) {
		if (conf != NULL)
			core->conf_error(conf, "password_file", "read %s: %s",
			    path, strerror(err));
		else
			core->log(SATCHEL_LOG_ERR, "read %s: %s", path,
			    strerror(err));
		return -1;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	if (len > MY_PASSWORD_MAX || memchr(buf, '\0', (size_t)n) != NULL) {
		my_wipe(buf, sizeof(buf));
		if (conf != NULL)
			core->conf_error(conf, "password_file", "%s: first "
			    "line longer than %d or holds a NUL", path,
			    MY_PASSWORD_MAX);
		return -1;
	}
	buf[len] = '\0';
	*pw_r = strdup(buf);
	my_wipe(buf, sizeof(buf));
	return *pw_r == NULL ? -1 : 0;
}

void
my_disconnect(struct my_ctx *ctx)
{
	if (ctx->stmt != NULL)
		(void)mysql_stmt_close(ctx->stmt);
	ctx->stmt = NULL;
	if (ctx->db != NULL)
		mysql_close(ctx->db);
	ctx->db = NULL;
}

/* The connection is gone (server restarted, killed us, timed out). */
static int
my_dead(unsigned int err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	    err == MY_CR_SERVER_LOST_EXTENDED ||
	    err == MY_ER_CONNECTION_KILLED ||
	    err == MY_ER_CLIENT_INTERACTION_TIMEOUT;
}

/*
 * Prepare the query on ctx->db and map its result columns.  Returns 0,
 * or -1 with *server_err set when the server refused the query (a
 * config problem rather than a dead server).
 */
static int
my_prepare(struct my_ctx *ctx, int *server_err)
{
	const struct satchel_core *core = ctx->core;
	MYSQL_RES *meta;
	MYSQL_FIELD *f;
	unsigned int nf, i, k;
	int have_pw = 0;

	*server_err = 0;
	if ((ctx->stmt = mysql_stmt_init(ctx->db)) == NULL)
		return -1;
	if (mysql_stmt_prepare(ctx->stmt, ctx->query,
	    (unsigned long)strlen(ctx->query)) != 0) {
		*server_err = mysql_stmt_errno(ctx->stmt) < 2000;
		core->log(SATCHEL_LOG_ERR, "prepare query: %s",
		    mysql_stmt_error(ctx->stmt));
		return -1;
	}
	if (mysql_stmt_param_count(ctx->stmt) != ctx->nparams) {
		core->log(SATCHEL_LOG_ERR, "query has %lu parameters, "
		    "expected %zu: a literal '?' in it?",
		    mysql_stmt_param_count(ctx->stmt), ctx->nparams);
		*server_err = 1;
		return -1;
	}
	if ((meta = mysql_stmt_result_metadata(ctx->stmt)) == NULL) {
		core->log(SATCHEL_LOG_ERR, "query returns no result set");
		*server_err = 1;
		return -1;
	}
	nf = mysql_num_fields(meta);
	if (nf > MY_COLS_MAX) {
		mysql_free_result(meta);
		core->log(SATCHEL_LOG_ERR, "query returns more than %d "
		    "columns", MY_COLS_MAX);
		*server_err = 1;
		return -1;
	}
	for (i = 0; i < nf; i++) {
		f = mysql_fetch_field_direct(meta, i);
		ctx->cols[i] = myq_column(f->name);
		for (k = 0; k < i; k++)
			if (ctx->cols[i] != COL_IGNORE &&
			    ctx->cols[k] == ctx->cols[i]) {
				core->log(SATCHEL_LOG_ERR, "query returns "
				    "two %s columns",
				    myq_column_name(ctx->cols[i]));
				mysql_free_result(meta);
				*server_err = 1;
				return -1;
			}
		if (ctx->cols[i] == COL_PASSWORD)
			have_pw = 1;
	}
	ctx->ncols = nf;
	mysql_free_result(meta);
	if (!have_pw) {
		core->log(SATCHEL_LOG_ERR, "query returns no column named "
		    "password (use AS password)");
		*server_err = 1;
		return -1;
	}
	return 0;
}

/*
 * Connect to the first host that answers and prepare the query there.
 * Returns 0, or -1 (logged); *server_err as for my_prepare.
 */
int
my_connect(struct my_ctx *ctx, int *server_err)
{
	const struct satchel_core *core = ctx->core;
	const struct my_host *h;
	unsigned int proto;
	my_bool off = 0;
	char name[600];
	size_t i;

	*server_err = 0;
	my_disconnect(ctx);
	for (i = 0; i < ctx->nhosts; i++) {
		h = &ctx->hosts[i];
		if ((ctx->db = mysql_init(NULL)) == NULL) {
			core->log(SATCHEL_LOG_ERR, "mysql_init: out of memory");
			return -1;
		}
		proto = h->socket != NULL ? MYSQL_PROTOCOL_SOCKET :
		    MYSQL_PROTOCOL_TCP;
		(void)mysql_options(ctx->db, MYSQL_OPT_PROTOCOL, &proto);
		(void)mysql_options(ctx->db, MYSQL_OPT_CONNECT_TIMEOUT,
		    &ctx->connect_timeout);
		(void)mysql_options(ctx->db, MYSQL_OPT_READ_TIMEOUT,
		    &ctx->read_timeout);
		(void)mysql_options(ctx->db, MYSQL_OPT_WRITE_TIMEOUT,
		    &ctx->read_timeout);
		/* We reconnect ourselves, and re-prepare. */
		(void)mysql_options(ctx->db, MYSQL_OPT_RECONNECT, &off);
		(void)mysql_options(ctx->db, MYSQL_SET_CHARSET_NAME,
		    "utf8mb4");
		if (ctx->tls) {
#if defined(LIBMARIADB)
			my_bool on = 1;

			(void)mysql_options(ctx->db, MYSQL_OPT_SSL_ENFORCE,
			    &on);
			if (ctx->tls_ca != NULL) {
				(void)mysql_options(ctx->db, MYSQL_OPT_SSL_CA,
				    ctx->tls_ca);
				(void)mysql_options(ctx->db,
				    MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
			}
#else
			unsigned int mode = ctx->tls_ca != NULL ?
			    SSL_MODE_VERIFY_IDENTITY : SSL_MODE_REQUIRED;

			if (ctx->tls_ca != NULL)
				(void)mysql_options(ctx->db, MYSQL_OPT_SSL_CA,
				    ctx->tls_ca);
			(void)mysql_options(ctx->db, MYSQL_OPT_SSL_MODE,
			    &mode);
#endif
		}
		if (h->socket != NULL)
			(void)snprintf(name, sizeof(name), "unix:%s",
			    h->socket);
		else
			(void)snprintf(name, sizeof(name), "%s port %u",
			    h->host, h->port);
		if (mysql_real_connect(ctx->db, h->host, ctx->user,
		    ctx->password != NULL ? ctx->password : "", ctx->database,
		    h->port, h->socket, 0) == NULL) {
			core->log(SATCHEL_LOG_WARNING, "connect to %s: %s",
			    name, mysql_error(ctx->db));
			my_disconnect(ctx);
			continue;
		}
		if (my_prepare(ctx, server_err) == -1) {
			my_disconnect(ctx);
			if (*server_err)
				return -1;
			continue;
		}
		if (i != ctx->host_used || i > 0)
			core->log(SATCHEL_LOG_INFO, "connected to %s", name);
		ctx->host_used = i;
		return 0;
	}
	core->log(SATCHEL_LOG_ERR, "no database server answers (%zu "
	    "tried)", ctx->nhosts);
	return -1;
}

/*
 * Run the statement once.  Returns 1 row, 0 no row, -1 error with
 * *err_r the client or server error number (0 when not from MySQL).
 */
static int
my_fetch_once(struct my_ctx *ctx, const struct satchel_auth_request *req,
    struct my_row *row, unsigned int *err_r)
{
	const struct satchel_core *core = ctx->core;
	MYSQL_BIND pb[MYQ_PARAMS_MAX], rb[MY_COLS_MAX];
	struct myq_value vals[MYQ_PARAMS_MAX];
	unsigned long plen[MYQ_PARAMS_MAX];
	size_t i;
	int c, r, ret = -1;
	char ignore[1];

	*err_r = 0;
	if (myq_bind(ctx->params, ctx->nparams, req->user, req->remote_addr,
	    vals) == -1) {
		core->log(SATCHEL_LOG_WARNING, "session=%s user name or address "
		    "longer than %d octets: no such user", req->session,
		    MYQ_VALUE_MAX);
		return 0;
	}
	memset(pb, 0, sizeof(pb));
	for (i = 0; i < ctx->nparams; i++) {
		plen[i] = vals[i].len;
		pb[i].buffer_type = MYSQL_TYPE_STRING;
		pb[i].buffer = (void *)(uintptr_t)vals[i].ptr;
		pb[i].buffer_length = plen[i];
		pb[i].length = &plen[i];
	}
	memset(rb, 0, sizeof(rb));
	memset(row, 0, sizeof(*row));
	for (i = 0; i < ctx->ncols; i++) {
		c = ctx->cols[i];
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		if (c == COL_IGNORE) {
			rb[i].buffer = ignore;
			rb[i].buffer_length = 0;
			continue;
		}
		rb[i].buffer = row->val[c];
		rb[i].buffer_length = sizeof(row->val[c]);
		rb[i].length = &row->len[c];
		rb[i].is_null = &row->is_null[c];
		rb[i].error = &row->error[c];
		row->present[c] = 1;
	}
	if ((ctx->nparams > 0 && mysql_stmt_bind_param(ctx->stmt, pb)) ||
	    mysql_stmt_bind_result(ctx->stmt, rb) ||
	    mysql_stmt_execute(ctx->stmt) ||
	    mysql_stmt_store_result(ctx->stmt)) {
		*err_r = mysql_stmt_errno(ctx->stmt);
		core->log(SATCHEL_LOG_WARNING, "session=%s query: %s",
		    req->session, mysql_stmt_error(ctx->stmt));
		(void)mysql_stmt_free_result(ctx->stmt);
		(void)mysql_stmt_reset(ctx->stmt);
		return -1;
	}
	if (mysql_stmt_num_rows(ctx->stmt) > 1) {
		core->log(SATCHEL_LOG_ERR, "session=%s query returned %llu "
		    "rows for one user; refused", req->session,
		    (unsigned long long)mysql_stmt_num_rows(ctx->stmt));
		ret = -2;
		goto done;
	}
	r = mysql_stmt_fetch(ctx->stmt);
	if (r == MYSQL_NO_DATA) {
		ret = 0;
		goto done;
	}
	if (r == 1) {
		*err_r = mysql_stmt_errno(ctx->stmt);
		core->log(SATCHEL_LOG_WARNING, "session=%s fetch: %s",
		    req->session, mysql_stmt_error(ctx->stmt));
		goto done;
	}
	for (c = 1; c < COL_COUNT; c++) {
		if (!row->present[c])
			continue;
		if (row->error[c] || row->len[c] >= sizeof(row->val[c])) {
			core->log(SATCHEL_LOG_ERR, "session=%s column %s "
			    "longer than %zu", req->session, myq_column_name(c),
			    sizeof(row->val[c]) - 1);
			ret = -2;
			goto done;
		}
		row->val[c][row->len[c]] = '\0';
		if (row->is_null[c])
			row->val[c][0] = '\0';
	}
	ret = 1;
 done:
	(void)mysql_stmt_free_result(ctx->stmt);
	return ret;
}

/*
 * The query, with reconnects: 1 row, 0 no row, -1 the database is not
 * usable (TEMPFAIL), -2 a bad row (ERROR).
 */
int
my_fetch(struct my_ctx *ctx, const struct satchel_auth_request *req,
    struct my_row *row)
{
	unsigned int err;
	int tries, server_err, r;

	for (tries = 0; tries < 2; tries++) {
		if (ctx->stmt == NULL && my_connect(ctx, &server_err) == -1)
			return -1;
		r = my_fetch_once(ctx, req, row, &err);
		if (r >= 0 || r == -2)
			return r;
		/* Whatever happened, do not trust this connection again. */
		my_disconnect(ctx);
		if (!my_dead(err))
			return -1;
		ctx->core->log(SATCHEL_LOG_INFO, "session=%s database "
		    "connection lost; %s", req->session, tries == 0 ?
		    "reconnecting" : "giving up");
	}
	return -1;
}

/* 1 when the row's enabled/active column allows the login. */
