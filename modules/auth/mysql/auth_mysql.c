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
 * Files: this one is the module (config, verify, lookup); the query
 * binding, the SQL-injection boundary, is pure code in mysql_query.c;
 * the connection and the statement are in mysql_conn.c.
 *
 * Caution: the mailbox agent is forked from the auth process and so
 * inherits the connection's socket.  It must never use or close it
 * (mysql_close would send COM_QUIT on the parent's session).  The DB
 * password is kept only in the auth processes, never logged.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysql_int.h"
#include "proxyfield.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"unknown"
#endif

static int	my_init(const struct satchel_core *,
		    const struct satchel_conf *, void **);
static int	my_postfork(void *);
static int	my_verify(void *, const struct satchel_auth_request *,
		    struct satchel_user *);
static int	my_lookup(void *, const struct satchel_auth_request *,
		    struct satchel_user *, char *, size_t);
static void	my_fini(void *);

static int	my_parse_query(struct my_ctx *, const struct satchel_conf *,
		    const char *);
static int	my_fill(struct my_ctx *, const struct satchel_auth_request *,
		    const struct my_row *, struct satchel_user *);
static int	my_enabled(const struct my_ctx *, const struct my_row *);

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

/* The query's %-sequences to '?' parameters (mysql_query.c). */
static int
my_parse_query(struct my_ctx *ctx, const struct satchel_conf *conf,
    const char *q)
{
	char err[256];
	size_t len = strlen(q);

	if ((ctx->query = malloc(len + 1)) == NULL) {
		ctx->core->conf_error(conf, "query", "%s", strerror(errno));
		return -1;
	}
	if (myq_parse(q, ctx->query, len + 1, ctx->params, &ctx->nparams,
	    err, sizeof(err)) == -1) {
		ctx->core->conf_error(conf, "query", "%s", err);
		free(ctx->query);
		ctx->query = NULL;
		return -1;
	}
	return 0;
}

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
	const char *name, *err;
	uint64_t v;
	int c;

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
	/* Proxy mode: a NULL column is a field not given (Dovecot). */
	for (c = COL_PROXY_FIRST; c < COL_COUNT; c++) {
		if (!row->present[c] || row->is_null[c])
			continue;
		if (proxyfield_set(u, myq_column_name(c), row->val[c],
		    &err) == -1) {
			core->log(SATCHEL_LOG_ERR, "session=%s column %s",
			    req->session, err);
			return -1;
		}
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
		user->reason = r == 0 ? SATCHEL_REASON_UNKNOWN_USER :
		    r == -2 ? SATCHEL_REASON_NONE : SATCHEL_REASON_BACKEND;
		goto out;
	}
	if (row.val[COL_PASSWORD][0] == '\0') {
		core->password_dummy(req->password);
		ret = SATCHEL_AUTH_FAIL;	/* no password: no login */
		user->reason = SATCHEL_REASON_DISABLED;
		goto out;
	}
	r = core->password_verify(row.val[COL_PASSWORD], req->password);
	if (r == -1) {
		core->log(SATCHEL_LOG_WARNING, "session=%s unusable password "
		    "value in the database", req->session);
		ret = SATCHEL_AUTH_ERROR;
		user->reason = SATCHEL_REASON_SCHEME;
	} else if (r == 0) {
		ret = SATCHEL_AUTH_FAIL;
		user->reason = SATCHEL_REASON_MISMATCH;
	} else if (!my_enabled(ctx, &row)) {
		core->log(SATCHEL_LOG_INFO, "session=%s account disabled in "
		    "the database; login refused", req->session);
		ret = SATCHEL_AUTH_FAIL;
		user->reason = SATCHEL_REASON_DISABLED;
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
		user->reason = r == 0 ? SATCHEL_REASON_UNKNOWN_USER :
		    r == -2 ? SATCHEL_REASON_NONE : SATCHEL_REASON_BACKEND;
		goto out;
	}
	if (!my_enabled(ctx, &row)) {
		ret = SATCHEL_AUTH_FAIL;
		user->reason = SATCHEL_REASON_DISABLED;
		goto out;
	}
	r = ctx->core->password_credential(row.val[COL_PASSWORD], secret,
	    secretsz);
	if (r == 0) {
		/* A one-way hash: no APOP; the record for "satchelctl
		 * user" all the same (the core drops it otherwise). */
		ret = SATCHEL_AUTH_FAIL;
		(void)my_fill(ctx, req, &row, user);
		user->reason = SATCHEL_REASON_ONEWAY;
	} else if (r == -1 || my_fill(ctx, req, &row, user) == -1) {
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
