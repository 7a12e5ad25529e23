/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_mysql.c -- the "mysql" auth module: users in a MySQL or MariaDB
 * table, read with one prepared statement.
 *
 *	[mysql]
 *	hosts = unix:/run/mysqld/mysqld.sock db2.example.org:3306
 *	user = satchel
 *	password_file = /etc/satchel/mysql.pw	# mode 0600 or stricter
 *	database = mail
 *	query = SELECT password, maildir AS mail, active FROM mailbox \
 *	    WHERE username = %u			(on one line)
 *	connect_timeout = 5			# seconds
 *	read_timeout = 5
 *	tls = no				# yes: require TLS
 *	tls_ca = /etc/ssl/certs/db-ca.pem	# and verify the server
 *
 * In the query, %u (the user as given), %n (its local part), %d (its
 * domain) and %r (the client's address) become '?' parameters bound at
 * run time -- never text pasted into SQL; a Dovecot-style '%u' (quoted)
 * is taken as %u; %% is a '%'.  Result columns are recognised by name:
 * password (required), user or username (canonical name), uid, gid,
 * home, mail, enabled or active (0 or NULL refuses the login),
 * login_delay; a "userdb_" prefix is ignored, as in Dovecot's prefetch.
 * Others are ignored.  lookup() (APOP, CRAM-MD5, SCRAM) works only for
 * a stored {PLAIN}/{CLEAR} or {SCRAM-SHA-256} value.
 *
 * init() runs in the master (root): it checks the config, that the
 * password file is readable by its owner only, and, if the database
 * answers, that the query prepares and has a password column; then it
 * closes that connection.  postfork() runs in each auth process (root):
 * it reads the password file and connects, trying the hosts in order.
 * verify() reconnects lazily; a statement that fails because the server
 * went away is retried once on a fresh connection.  Anything wrong with
 * the database is TEMPFAIL ([SYS/TEMP]), never FAIL.  No row is NOUSER,
 * after the same password work as a real user.
 *
 * Caution: the mailbox agent is forked from the auth process and so
 * inherits the connection's socket.  It must never use or close it
 * (mysql_close would send COM_QUIT on the parent's session).  The DB
 * password is kept only in the auth processes, never logged.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysql.h>

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "satchel/module.h"
#include "compat/poison.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"unknown"
#endif

#if !defined(LIBMARIADB) && defined(MYSQL_VERSION_ID) && \
    MYSQL_VERSION_ID >= 80000
typedef bool my_bool;			/* MySQL 8 dropped my_bool */
#endif

#define MY_HOSTS_MAX		8
#define MY_PARAMS_MAX		16
#define MY_COLS_MAX		32
#define MY_QUERY_MAX		4096
#define MY_PASSWORD_MAX		512
#define MY_ID_MAX		4294967294ULL
#define MY_DELAY_MAX		86400ULL
#define MY_TIMEOUT_DEFAULT	5

/* Server errors that mean "this connection is dead", not "bad query". */
#define MY_ER_CONNECTION_KILLED		1927
#define MY_ER_CLIENT_INTERACTION_TIMEOUT 4031
#define MY_CR_SERVER_LOST_EXTENDED	2055

enum my_col { COL_IGNORE, COL_PASSWORD, COL_USER, COL_UID, COL_GID,
    COL_HOME, COL_MAIL, COL_ENABLED, COL_DELAY, COL_COUNT };
static const char *const my_col_names[COL_COUNT] = {
	"", "password", "user", "uid", "gid", "home", "mail", "enabled",
	"login_delay",
};

struct my_host {
	char		*host;		/* NULL for a socket */
	char		*socket;
	unsigned int	 port;
};

struct my_ctx {
	const struct satchel_core	*core;
	struct my_host			 hosts[MY_HOSTS_MAX];
	size_t				 nhosts;
	char				*user;
	char				*password_file;
	char				*password;	/* auth processes only */
	char				*database;
	char				*query;		/* with '?' */
	char				 params[MY_PARAMS_MAX];	/* u n d r */
	size_t				 nparams;
	unsigned int			 connect_timeout, read_timeout;
	int				 tls;
	char				*tls_ca;

	MYSQL				*db;
	MYSQL_STMT			*stmt;
	int				 cols[MY_COLS_MAX];	/* enum my_col */
	size_t				 ncols;
	size_t				 host_used;
};

/* One fetched row, on verify()'s stack. */
struct my_row {
	char		 val[COL_COUNT][SATCHEL_PATH_MAX];
	unsigned long	 len[COL_COUNT];
	my_bool		 is_null[COL_COUNT];
	my_bool		 error[COL_COUNT];
	int		 present[COL_COUNT];
};

static int	my_init(const struct satchel_core *,
		    const struct satchel_conf *, void **);
static int	my_postfork(void *);
static int	my_verify(void *, const struct satchel_auth_request *,
		    struct satchel_user *);
static int	my_lookup(void *, const struct satchel_auth_request *,
		    struct satchel_user *, char *, size_t);
static void	my_fini(void *);

static int	my_parse_hosts(struct my_ctx *, const struct satchel_conf *,
		    const char *);
static int	my_parse_query(struct my_ctx *, const struct satchel_conf *,
		    const char *);
static int	my_read_password(struct my_ctx *, const struct satchel_conf *,
		    char **);
static int	my_connect(struct my_ctx *, int *);
static int	my_prepare(struct my_ctx *, int *);
static void	my_disconnect(struct my_ctx *);
static int	my_dead(unsigned int);
static int	my_fetch(struct my_ctx *, const struct satchel_auth_request *,
		    struct my_row *);
static int	my_fetch_once(struct my_ctx *,
		    const struct satchel_auth_request *, struct my_row *,
		    unsigned int *);
static int	my_fill(struct my_ctx *, const struct satchel_auth_request *,
		    const struct my_row *, struct satchel_user *);
static int	my_enabled(const struct my_ctx *, const struct my_row *);
static void	my_wipe(void *, size_t);

static const struct satchel_auth_ops my_ops = {
	.init = my_init,
	.postfork = my_postfork,
	.verify = my_verify,
	.lookup = my_lookup,
	.fini = my_fini,
};

SATCHEL_EXPORT const struct satchel_module satchel_module = {
	.abi_major = SATCHEL_ABI_MAJOR,
	.abi_minor = SATCHEL_ABI_MINOR,
	.kind = SATCHEL_MODULE_AUTH,
	.ops_size = sizeof(my_ops),
	.name = "mysql",
	.version = PACKAGE_VERSION,
	.ops = &my_ops,
};

static void
my_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

/* "unix:/path", "host", "host:port", "[v6addr]:port", space-separated. */
static int
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
 * Turn the query's %-sequences into '?' parameters.  A placeholder in a
 * quoted string would be a literal '?' to the server, so only the whole
 * quoted form '%u' (Dovecot's habit) is accepted, and taken as %u.
 */
static int
my_parse_query(struct my_ctx *ctx, const struct satchel_conf *conf,
    const char *q)
{
	const struct satchel_core *core = ctx->core;
	char *out, quote;
	size_t o = 0, len = strlen(q);
	int quoted = 0;

	if (len == 0 || len >= MY_QUERY_MAX) {
		core->conf_error(conf, "query", "required, at most %d "
		    "characters", MY_QUERY_MAX - 1);
		return -1;
	}
	if ((out = malloc(len + 1)) == NULL) {
		core->conf_error(conf, "query", "%s", strerror(errno));
		return -1;
	}
	while (*q != '\0') {
		if ((q[0] == '\'' || q[0] == '"') && q[1] == '%' &&
		    q[2] != '\0' && strchr("undr", q[2]) != NULL &&
		    q[3] == q[0]) {
			q++;		/* '%u' is %u: skip the quotes */
			quoted = 1;
		}
		if (*q == '\'' || *q == '"' || *q == '`') {
			quote = *q;
			out[o++] = *q++;
			while (*q != '\0' && *q != quote) {
				if (*q == '%' && q[1] != '\0' &&
				    strchr("undr", q[1]) != NULL) {
					core->conf_error(conf, "query", "%%%c "
					    "inside a quoted string: write %%%c "
					    "or '%%%c' alone", q[1], q[1], q[1]);
					goto fail;
				}
				if (*q == '\\' && q[1] != '\0')
					out[o++] = *q++;
				out[o++] = *q++;
			}
			if (*q == '\0') {
				core->conf_error(conf, "query", "unterminated "
				    "%c quote", quote);
				goto fail;
			}
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
		if (q[1] == '\0' || strchr("undr", q[1]) == NULL) {
			core->conf_error(conf, "query", "unknown %%-sequence "
			    "'%%%.1s' (known: %%u %%n %%d %%r %%%%)", q + 1);
			goto fail;
		}
		if (ctx->nparams == MY_PARAMS_MAX) {
			core->conf_error(conf, "query", "more than %d "
			    "placeholders", MY_PARAMS_MAX);
			goto fail;
		}
		ctx->params[ctx->nparams++] = q[1];
		out[o++] = '?';
		q += quoted ? 3 : 2;
		quoted = 0;
	}
	out[o] = '\0';
	if (ctx->nparams == 0) {
		core->conf_error(conf, "query", "no %%u, %%n or %%d: the "
		    "query would not depend on the user");
		goto fail;
	}
	ctx->query = out;
	return 0;
 fail:
	free(out);
	return -1;
}

/*
 * Read the first line of password_file.  The file must be a regular
 * file owned by root (or by us) with no access for group or others.
 * With conf set (init) problems are config errors; else logged.
 */
static int
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

static void
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
	const char *name;
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
		name = f->name;
		if (strncasecmp(name, "userdb_", 7) == 0)
			name += 7;
		ctx->cols[i] = COL_IGNORE;
		for (k = 1; k < COL_COUNT; k++)
			if (strcasecmp(name, my_col_names[k]) == 0)
				ctx->cols[i] = (int)k;
		if (strcasecmp(name, "username") == 0)
			ctx->cols[i] = COL_USER;
		if (strcasecmp(name, "active") == 0)
			ctx->cols[i] = COL_ENABLED;
		for (k = 0; k < i; k++)
			if (ctx->cols[i] != COL_IGNORE &&
			    ctx->cols[k] == ctx->cols[i]) {
				core->log(SATCHEL_LOG_ERR, "query returns "
				    "two %s columns",
				    my_col_names[ctx->cols[i]]);
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
static int
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
	MYSQL_BIND pb[MY_PARAMS_MAX], rb[MY_COLS_MAX];
	const char *at, *v;
	unsigned long plen[MY_PARAMS_MAX];
	size_t i, nlocal;
	int c, r, ret = -1;
	char ignore[1];

	*err_r = 0;
	at = strchr(req->user, '@');
	nlocal = at != NULL ? (size_t)(at - req->user) : strlen(req->user);
	memset(pb, 0, sizeof(pb));
	for (i = 0; i < ctx->nparams; i++) {
		switch (ctx->params[i]) {
		case 'n':
			v = req->user;
			plen[i] = nlocal;
			break;
		case 'd':
			v = at != NULL ? at + 1 : "";
			plen[i] = strlen(v);
			break;
		case 'r':
			v = req->remote_addr != NULL ? req->remote_addr : "";
			plen[i] = strlen(v);
			break;
		default:
			v = req->user;
			plen[i] = strlen(v);
			break;
		}
		pb[i].buffer_type = MYSQL_TYPE_STRING;
		pb[i].buffer = (void *)(uintptr_t)v;
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
			    "longer than %zu", req->session, my_col_names[c],
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
static int
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
static int
my_enabled(const struct my_ctx *ctx, const struct my_row *row)
{
	const char *v = row->val[COL_ENABLED];
	uint64_t n;
	int b;

	if (!row->present[COL_ENABLED])
		return 1;
	if (row->is_null[COL_ENABLED])
		return 0;
	if (ctx->core->parse_uint(v, 0, UINT64_MAX, &n) == 0)
		return n != 0;
	if (ctx->core->parse_bool(v, &b) == 0)
		return b != 0;
	return 0;
}

static int
my_fill(struct my_ctx *ctx, const struct satchel_auth_request *req,
    const struct my_row *row, struct satchel_user *u)
{
	const struct satchel_core *core = ctx->core;
	const char *name;
	uint64_t v;

	memset(u, 0, sizeof(*u));
	name = row->present[COL_USER] && row->val[COL_USER][0] != '\0' ?
	    row->val[COL_USER] : req->user;
	if (strlen(name) >= sizeof(u->name))
		goto bad;
	memcpy(u->name, name, strlen(name) + 1);
	if (row->present[COL_UID] && row->val[COL_UID][0] != '\0') {
		if (core->parse_uint(row->val[COL_UID], 0, MY_ID_MAX, &v))
			goto bad;
		u->uid = (uid_t)v;
		u->uid_set = 1;
	}
	if (row->present[COL_GID] && row->val[COL_GID][0] != '\0') {
		if (core->parse_uint(row->val[COL_GID], 0, MY_ID_MAX, &v))
			goto bad;
		u->gid = (gid_t)v;
		u->gid_set = 1;
	}
	if (row->present[COL_HOME] && row->val[COL_HOME][0] != '\0') {
		if (row->val[COL_HOME][0] != '/')
			goto bad;
		memcpy(u->home, row->val[COL_HOME], row->len[COL_HOME] + 1);
	}
	if (row->present[COL_MAIL])
		memcpy(u->mail, row->val[COL_MAIL], strlen(row->val[COL_MAIL])
		    + 1);
	if (row->present[COL_DELAY] && row->val[COL_DELAY][0] != '\0') {
		if (core->parse_uint(row->val[COL_DELAY], 0, MY_DELAY_MAX, &v))
			goto bad;
		u->login_delay = (unsigned int)v;
	}
	return 0;
 bad:
	core->log(SATCHEL_LOG_ERR, "session=%s bad user, uid, gid, home or "
	    "login_delay value in the row", req->session);
	return -1;
}

static int
my_verify(void *arg, const struct satchel_auth_request *req,
    struct satchel_user *user)
{
	struct my_ctx *ctx = arg;
	const struct satchel_core *core = ctx->core;
	struct my_row row;
	int r, ret;

	if (req == NULL || req->user == NULL || req->password == NULL ||
	    user == NULL)
		return SATCHEL_AUTH_ERROR;
	r = my_fetch(ctx, req, &row);
	if (r == 0)
		core->log(SATCHEL_LOG_DEBUG, "session=%s no such user",
		    req->session);
	if (r != 1) {
		/* The same password work as for a real user. */
		core->password_dummy(req->password);
		ret = r == 0 ? SATCHEL_AUTH_NOUSER : r == -2 ?
		    SATCHEL_AUTH_ERROR : SATCHEL_AUTH_TEMPFAIL;
		goto out;
	}
	if (row.val[COL_PASSWORD][0] == '\0') {
		core->password_dummy(req->password);
		ret = SATCHEL_AUTH_FAIL;	/* no password: no login */
		goto out;
	}
	r = core->password_verify(row.val[COL_PASSWORD], req->password);
	if (r == -1) {
		core->log(SATCHEL_LOG_WARNING, "session=%s unusable password "
		    "value in the database", req->session);
		ret = SATCHEL_AUTH_ERROR;
	} else if (r == 0)
		ret = SATCHEL_AUTH_FAIL;
	else if (!my_enabled(ctx, &row)) {
		core->log(SATCHEL_LOG_INFO, "session=%s account disabled in "
		    "the database; login refused", req->session);
		ret = SATCHEL_AUTH_FAIL;
	} else
		ret = my_fill(ctx, req, &row, user) == 0 ? SATCHEL_AUTH_OK :
		    SATCHEL_AUTH_ERROR;
 out:
	my_wipe(&row, sizeof(row));
	return ret;
}

static int
my_lookup(void *arg, const struct satchel_auth_request *req,
    struct satchel_user *user, char *secret, size_t secretsz)
{
	struct my_ctx *ctx = arg;
	struct my_row row;
	int r, ret;

	if (req == NULL || req->user == NULL || user == NULL ||
	    secret == NULL || secretsz == 0)
		return SATCHEL_AUTH_ERROR;
	r = my_fetch(ctx, req, &row);
	if (r != 1) {
		ret = r == 0 ? SATCHEL_AUTH_NOUSER : r == -2 ?
		    SATCHEL_AUTH_ERROR : SATCHEL_AUTH_TEMPFAIL;
		goto out;
	}
	if (!my_enabled(ctx, &row)) {
		ret = SATCHEL_AUTH_FAIL;
		goto out;
	}
	r = ctx->core->password_credential(row.val[COL_PASSWORD], secret,
	    secretsz);
	if (r == 0)
		ret = SATCHEL_AUTH_FAIL;	/* a one-way hash: no APOP */
	else if (r == -1 || my_fill(ctx, req, &row, user) == -1) {
		my_wipe(secret, secretsz);
		ret = SATCHEL_AUTH_ERROR;
	} else
		ret = SATCHEL_AUTH_OK;
 out:
	my_wipe(&row, sizeof(row));
	return ret;
}

static int
my_init(const struct satchel_core *core, const struct satchel_conf *conf,
    void **ctx_r)
{
	struct my_ctx *ctx;
	const char *v;
	uint64_t n;
	int server_err;

	if (core == NULL || core->abi_major != SATCHEL_ABI_MAJOR ||
	    core->size < offsetof(struct satchel_core, password_credential) +
	    sizeof(core->password_credential))
		return -1;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		core->conf_error(conf, NULL, "%s", strerror(errno));
		return -1;
	}
	ctx->core = core;
	ctx->connect_timeout = ctx->read_timeout = MY_TIMEOUT_DEFAULT;

	if ((v = core->conf_get(conf, "hosts")) == NULL) {
		core->conf_error(conf, "hosts", "required, e.g. "
		    "unix:/run/mysqld/mysqld.sock or db.example.org:3306");
		goto fail;
	}
	if (my_parse_hosts(ctx, conf, v) == -1)
		goto fail;
	if ((v = core->conf_get(conf, "user")) == NULL || v[0] == '\0') {
		core->conf_error(conf, "user", "required: the database user");
		goto fail;
	}
	if ((ctx->user = strdup(v)) == NULL)
		goto nomem;
	if ((v = core->conf_get(conf, "database")) == NULL || v[0] == '\0') {
		core->conf_error(conf, "database", "required");
		goto fail;
	}
	if ((ctx->database = strdup(v)) == NULL)
		goto nomem;
	if ((v = core->conf_get(conf, "query")) == NULL) {
		core->conf_error(conf, "query", "required, e.g. SELECT "
		    "password, maildir AS mail, active FROM mailbox WHERE "
		    "username = %%u");
		goto fail;
	}
	if (my_parse_query(ctx, conf, v) == -1)
		goto fail;
	if ((v = core->conf_get(conf, "connect_timeout")) != NULL) {
		if (core->parse_uint(v, 1, 600, &n) == -1) {
			core->conf_error(conf, "connect_timeout", "seconds, "
			    "1 to 600");
			goto fail;
		}
		ctx->connect_timeout = (unsigned int)n;
	}
	if ((v = core->conf_get(conf, "read_timeout")) != NULL) {
		if (core->parse_uint(v, 1, 600, &n) == -1) {
			core->conf_error(conf, "read_timeout", "seconds, "
			    "1 to 600");
			goto fail;
		}
		ctx->read_timeout = (unsigned int)n;
	}
	if ((v = core->conf_get(conf, "tls")) != NULL &&
	    core->parse_bool(v, &ctx->tls) == -1) {
		core->conf_error(conf, "tls", "yes or no");
		goto fail;
	}
	if ((v = core->conf_get(conf, "tls_ca")) != NULL) {
		if (!ctx->tls) {
			core->conf_error(conf, "tls_ca", "needs tls = yes");
			goto fail;
		}
		if (v[0] != '/' || access(v, R_OK) == -1) {
			core->conf_error(conf, "tls_ca", "%s: not an absolute "
			    "path to a readable file", v);
			goto fail;
		}
		if ((ctx->tls_ca = strdup(v)) == NULL)
			goto nomem;
	} else if (ctx->tls)
		core->log(SATCHEL_LOG_WARNING, "tls = yes without tls_ca: "
		    "traffic is encrypted but the server is not verified");
	if ((v = core->conf_get(conf, "password_file")) != NULL) {
		if (v[0] != '/') {
			core->conf_error(conf, "password_file", "must be an "
			    "absolute path");
			goto fail;
		}
		if ((ctx->password_file = strdup(v)) == NULL)
			goto nomem;
		if (my_read_password(ctx, conf, &ctx->password) == -1)
			goto fail;
	}

	/*
	 * If the database answers now, check the query there, so that a
	 * typo is a config error at start rather than [SYS/TEMP] for
	 * every login.  A database that is down is not an error: it may
	 * come up later.  Either way the master keeps no connection and
	 * no password.
	 */
	if (mysql_library_init(0, NULL, NULL) != 0) {
		core->conf_error(conf, NULL, "mysql_library_init failed");
		goto fail;
	}
	if (my_connect(ctx, &server_err) == -1) {
		if (server_err) {
			core->conf_error(conf, "query", "refused by the "
			    "database (see the message above)");
			goto fail;
		}
		core->log(SATCHEL_LOG_WARNING, "database not reachable now; "
		    "logins get [SYS/TEMP] until it is");
	} else
		core->log(SATCHEL_LOG_INFO, "query checked on the database");
	my_disconnect(ctx);
	if (ctx->password != NULL) {
		my_wipe(ctx->password, strlen(ctx->password));
		free(ctx->password);
		ctx->password = NULL;
	}
	*ctx_r = ctx;
	return 0;
 nomem:
	core->conf_error(conf, NULL, "%s", strerror(errno));
 fail:
	my_fini(ctx);
	return -1;
}

/* In each auth process: read the DB password and connect. */
static int
my_postfork(void *arg)
{
	struct my_ctx *ctx = arg;
	int server_err;

	ctx->db = NULL;		/* never the master's (it has none) */
	ctx->stmt = NULL;
	if (ctx->password_file != NULL && ctx->password == NULL &&
	    my_read_password(ctx, NULL, &ctx->password) == -1)
		return -1;
	/* Down now is fine: verify() connects when it is needed. */
	(void)my_connect(ctx, &server_err);
	return 0;
}

static void
my_fini(void *arg)
{
	struct my_ctx *ctx = arg;
	size_t i;

	if (ctx == NULL)
		return;
	my_disconnect(ctx);
	for (i = 0; i < ctx->nhosts; i++) {
		free(ctx->hosts[i].host);
		free(ctx->hosts[i].socket);
	}
	if (ctx->password != NULL) {
		my_wipe(ctx->password, strlen(ctx->password));
		free(ctx->password);
	}
	free(ctx->user);
	free(ctx->password_file);
	free(ctx->database);
	free(ctx->query);
	free(ctx->tls_ca);
	free(ctx);
}
