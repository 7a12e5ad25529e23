/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_file.c -- the "file" auth module: users from a Dovecot-style
 * passwd-file,
 *
 *	user:password:uid:gid:gecos:home:shell:extra_fields
 *
 * where trailing fields may be left out, password is "{SCHEME}data" or a
 * bare crypt hash (checked by core->password_verify), and extra_fields is
 * a space-separated list of which we use mail=, userdb_mail=,
 * login_delay=, userdb_login_delay= and nologin; the rest are ignored.
 * The extra fields are everything after the seventh ':', so a mail
 * location such as "mail=maildir:/var/vmail/%d/%n" keeps its colon.
 *
 * init() runs in the master (root) and refuses a file that is missing or
 * has a malformed line.  verify() and lookup() run in the auth pool; they
 * stat the file first and re-read it when it changed, keeping the old
 * table (and logging) when the new one cannot be read.  At run time a
 * malformed line is logged and skipped.  The file holds secrets: the
 * whole copy in memory is wiped when a table is freed.
 *
 * The parser is in file_parse.c (pure, fuzzed); this file reads the
 * file, keeps the table fresh and answers verify() and lookup().
 *
 * Everything comes through struct satchel_core: this object references
 * no daemon symbol and exports only satchel_module.
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

#include "file_int.h"
#include "proxyfield.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"unknown"
#endif

#define FILE_SIZE_MAX		(256UL * 1024 * 1024)
#define FILE_LOAD_TRIES		3	/* when the file changes as we read */

static int	file_init(const struct satchel_core *,
		    const struct satchel_conf *, void **);
static int	file_verify(void *, const struct satchel_auth_request *,
		    struct satchel_user *);
static int	file_lookup(void *, const struct satchel_auth_request *,
		    struct satchel_user *, char *, size_t);
static void	file_fini(void *);

static int	file_load(struct file_ctx *, const struct satchel_conf *,
		    struct file_table **);
static int	file_read(struct file_load *, struct file_table *);
static void	file_refresh(struct file_ctx *);
static const struct file_entry *file_find(const struct file_table *,
		    const char *);
static int	file_fill(const struct file_entry *, struct satchel_user *);
static void	file_ident_get(const struct stat *, struct file_ident *);
static int	file_ident_eq(const struct file_ident *,
		    const struct file_ident *);

static const struct satchel_auth_ops file_ops = {
	.init = file_init,
	.postfork = NULL,
	.verify = file_verify,
	.lookup = file_lookup,
	.fini = file_fini,
};

SATCHEL_EXPORT const struct satchel_module satchel_module = {
	.abi_major = SATCHEL_ABI_MAJOR,
	.abi_minor = SATCHEL_ABI_MINOR,
	.kind = SATCHEL_MODULE_AUTH,
	.ops_size = sizeof(file_ops),
	.name = "file",
	.version = PACKAGE_VERSION,
	.ops = &file_ops,
};

static void
file_ident_get(const struct stat *st, struct file_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
}

static int
file_ident_eq(const struct file_ident *a, const struct file_ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtim.tv_sec == b->mtim.tv_sec &&
	    a->mtim.tv_nsec == b->mtim.tv_nsec &&
	    a->ctim.tv_sec == b->ctim.tv_sec &&
	    a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/*
 * Read the whole file into t->buf (NUL-terminated).  Returns 0, -1 on
 * error (reported), or 1 when the file changed while we read it.
 */
static int
file_read(struct file_load *ld, struct file_table *t)
{
	const struct satchel_core *core = ld->ctx->core;
	const char *path = ld->ctx->path;
	struct stat st, st2;
	struct file_ident id2;
	size_t off = 0;
	ssize_t n;
	int fd, ret = -1;

	/* O_NONBLOCK: never hang on a FIFO; no effect on a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		file_report(ld, 0, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		file_report(ld, 0, "fstat %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		file_report(ld, 0, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > FILE_SIZE_MAX) {
		file_report(ld, 0, "%s: larger than %lu bytes", path,
		    FILE_SIZE_MAX);
		goto done;
	}
	if (st.st_mode & S_IROTH)
		core->log(SATCHEL_LOG_WARNING, "%s is readable by everyone; "
		    "it holds password hashes (chmod o-r)", path);
	file_ident_get(&st, &t->ident);

	t->buflen = (size_t)st.st_size;
	if ((t->buf = malloc(t->buflen + 1)) == NULL) {
		file_report(ld, 0, "%s: %s", path, strerror(errno));
		goto done;
	}
	while (off < t->buflen) {
		n = read(fd, t->buf + off, t->buflen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			file_report(ld, 0, "read %s: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	t->buf[off] = '\0';
	/*
	 * An editor rewriting the file in place can leave us half a file.
	 * Compare what we read with what fstat says now; the caller tries
	 * again.  Replacing the file with rename(2) avoids this.
	 */
	if (fstat(fd, &st2) == -1) {
		file_report(ld, 0, "fstat %s: %s", path, strerror(errno));
		goto done;
	}
	file_ident_get(&st2, &id2);
	if (off != t->buflen || !file_ident_eq(&t->ident, &id2)) {
		t->buflen = off;
		ret = 1;
		goto done;
	}
	ret = 0;
 done:
	close(fd);
	return ret;
}

/*
 * Load the file into a new table.  With conf set (init, in the master),
 * every problem is a config error and any malformed line fails the load;
 * at run time malformed lines are skipped.
 */
static int
file_load(struct file_ctx *ctx, const struct satchel_conf *conf,
    struct file_table **tab_r)
{
	struct file_load ld;
	struct file_table *t = NULL;
	int tries, r = -1;

	memset(&ld, 0, sizeof(ld));
	ld.ctx = ctx;
	ld.conf = conf;
	for (tries = 0; tries < FILE_LOAD_TRIES; tries++) {
		file_table_free(t);
		if ((t = calloc(1, sizeof(*t))) == NULL) {
			file_report(&ld, 0, "%s: %s", ctx->path,
			    strerror(errno));
			return -1;
		}
		if ((r = file_read(&ld, t)) != 1)
			break;
	}
	if (r == 1)
		file_report(&ld, 0, "%s: keeps changing while being read",
		    ctx->path);
	if (r != 0) {
		file_table_free(t);
		return -1;
	}
	r = file_parse(&ld, t);
	if (r == -1 || (r > 0 && conf != NULL)) {
		file_table_free(t);
		return -1;
	}
	file_pick_dummy(t);
	*tab_r = t;
	return 0;
}

/*
 * Before each request: if the file on disk is not the one loaded, load
 * it.  A version that failed to load is not tried again until it
 * changes; meanwhile the old table serves.
 */
static void
file_refresh(struct file_ctx *ctx)
{
	struct file_table *t;
	struct file_ident id;
	struct stat st;

	if (stat(ctx->path, &st) == -1) {
		if (errno != ctx->stat_errno) {
			ctx->stat_errno = errno;
			ctx->core->log(SATCHEL_LOG_WARNING, "stat %s: %s; "
			    "keeping the users loaded before", ctx->path,
			    strerror(errno));
		}
		return;
	}
	ctx->stat_errno = 0;
	file_ident_get(&st, &id);
	if (ctx->tab != NULL && file_ident_eq(&id, &ctx->tab->ident))
		return;
	if (ctx->failed_set && file_ident_eq(&id, &ctx->failed))
		return;
	if (file_load(ctx, NULL, &t) == -1) {
		ctx->failed = id;
		ctx->failed_set = 1;
		ctx->core->log(SATCHEL_LOG_WARNING, "%s: reload failed; "
		    "keeping the users loaded before", ctx->path);
		return;
	}
	ctx->failed_set = 0;
	file_table_free(ctx->tab);
	ctx->tab = t;
	ctx->core->log(SATCHEL_LOG_INFO, "%s: reloaded, %zu users",
	    ctx->path, t->nentries);
}

static const struct file_entry *
file_find(const struct file_table *t, const char *user)
{
	const struct file_entry *e;
	size_t len, slot;
	uint32_t h;

	if (t == NULL || t->nentries == 0)
		return NULL;
	len = strnlen(user, SATCHEL_USER_MAX + 1);
	if (len == 0 || len > SATCHEL_USER_MAX)
		return NULL;
	h = file_hash(user, len);
	for (slot = h & (t->nslots - 1); t->slots[slot] != 0;
	    slot = (slot + 1) & (t->nslots - 1)) {
		e = &t->entries[t->slots[slot] - 1];
		if (e->hash == h && e->namelen == len &&
		    file_name_eq(e->name, user, len))
			return e;
	}
	return NULL;
}

/* The proxy fields (ABI 1.3), checked at load time: set them again. */
static int
file_fill_proxy(const struct file_entry *e, struct satchel_user *u)
{
	const struct {
		const char	*key;
		const char	*val;
	} f[] = {
		{ "proxy", e->pf_proxy }, { "host", e->pf_host },
		{ "hostip", e->pf_hostip }, { "port", e->pf_port },
		{ "ssl", e->pf_ssl }, { "destuser", e->pf_destuser },
		{ "proxy_haproxy", e->pf_haproxy },
		{ "master", e->pf_master }, { "pass", e->pf_pass },
	};
	const char *err;
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].val != NULL && proxyfield_set(u, f[i].key,
		    f[i].val[0] == '\0' && strcmp(f[i].key, "proxy") == 0 ?
		    NULL : f[i].val, &err) != 1)
			return -1;
	return 0;
}

/* Lengths were checked at load time; check again, cheaply. */
static int
file_fill(const struct file_entry *e, struct satchel_user *u)
{
	size_t hl = strlen(e->home), ml = strlen(e->mail);

	memset(u, 0, sizeof(*u));
	if (e->namelen >= sizeof(u->name) || hl >= sizeof(u->home) ||
	    ml >= sizeof(u->mail))
		return -1;
	memcpy(u->name, e->name, e->namelen + 1);
	memcpy(u->home, e->home, hl + 1);
	memcpy(u->mail, e->mail, ml + 1);
	u->uid = e->uid;
	u->gid = e->gid;
	u->uid_set = e->uid_set;
	u->gid_set = e->gid_set;
	u->login_delay = e->login_delay;
	return file_fill_proxy(e, u);
}

static int
file_init(const struct satchel_core *core, const struct satchel_conf *conf,
    void **ctx_r)
{
	struct file_ctx *ctx;
	const char *path;

	if (core == NULL || core->abi_major != SATCHEL_ABI_MAJOR ||
	    core->size < offsetof(struct satchel_core, password_plain) +
	    sizeof(core->password_plain))
		return -1;
	if ((path = core->conf_get(conf, "path")) == NULL) {
		core->conf_error(conf, "path", "required: the passwd-file");
		return -1;
	}
	if (path[0] != '/') {
		core->conf_error(conf, "path", "must be an absolute path");
		return -1;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    (ctx->path = strdup(path)) == NULL) {
		core->conf_error(conf, "path", "%s", strerror(errno));
		free(ctx);
		return -1;
	}
	ctx->core = core;
	if (file_load(ctx, conf, &ctx->tab) == -1) {
		file_fini(ctx);
		return -1;
	}
	core->log(SATCHEL_LOG_INFO, "%s: %zu users", ctx->path,
	    ctx->tab->nentries);
	*ctx_r = ctx;
	return 0;
}

static int
file_verify(void *arg, const struct satchel_auth_request *req,
    struct satchel_user *user)
{
	struct file_ctx *ctx = arg;
	const struct satchel_core *core = ctx->core;
	const struct file_entry *e;
	int r;

	if (req == NULL || req->user == NULL || req->password == NULL ||
	    user == NULL)
		return SATCHEL_AUTH_ERROR;
	file_refresh(ctx);
	if ((e = file_find(ctx->tab, req->user)) == NULL) {
		/* Same work as for a real user: timing tells nothing. */
		if (ctx->tab != NULL && ctx->tab->dummy != NULL)
			(void)core->password_verify(ctx->tab->dummy,
			    req->password);
		else
			core->password_dummy(req->password);
		user->reason = SATCHEL_REASON_UNKNOWN_USER;
		return SATCHEL_AUTH_NOUSER;
	}
	r = core->password_verify(e->password, req->password);
	if (r == -1) {
		core->log(SATCHEL_LOG_WARNING, "%s:%u: unusable password "
		    "field", ctx->path, e->line);
		user->reason = SATCHEL_REASON_SCHEME;
		return SATCHEL_AUTH_ERROR;
	}
	if (r == 0) {
		user->reason = SATCHEL_REASON_MISMATCH;
		return SATCHEL_AUTH_FAIL;
	}
	if (e->nologin) {
		core->log(SATCHEL_LOG_INFO, "%s:%u: nologin set, login "
		    "refused", ctx->path, e->line);
		user->reason = SATCHEL_REASON_DISABLED;
		return SATCHEL_AUTH_FAIL;
	}
	if (file_fill(e, user) == -1)
		return SATCHEL_AUTH_ERROR;
	return SATCHEL_AUTH_OK;
}

static int
file_lookup(void *arg, const struct satchel_auth_request *req,
    struct satchel_user *user, char *secret, size_t secretsz)
{
	struct file_ctx *ctx = arg;
	const struct file_entry *e;
	int r;

	if (req == NULL || req->user == NULL || user == NULL ||
	    secret == NULL || secretsz == 0)
		return SATCHEL_AUTH_ERROR;
	file_refresh(ctx);
	if ((e = file_find(ctx->tab, req->user)) == NULL) {
		user->reason = SATCHEL_REASON_UNKNOWN_USER;
		return SATCHEL_AUTH_NOUSER;
	}
	if (e->nologin) {
		user->reason = SATCHEL_REASON_DISABLED;
		return SATCHEL_AUTH_FAIL;
	}
	r = ctx->core->password_credential(e->password, secret, secretsz);
	if (r == 0) {
		/*
		 * A one-way hash: no APOP.  The record is filled all the
		 * same, for "satchelctl user" (the core drops it).
		 */
		(void)file_fill(e, user);
		user->reason = SATCHEL_REASON_ONEWAY;
		return SATCHEL_AUTH_FAIL;
	}
	if (r == -1 || file_fill(e, user) == -1) {
		file_wipe(secret, secretsz);
		ctx->core->log(SATCHEL_LOG_WARNING, "%s:%u: secret does not "
		    "fit the buffer", ctx->path, e->line);
		return SATCHEL_AUTH_ERROR;
	}
	return SATCHEL_AUTH_OK;
}

static void
file_fini(void *arg)
{
	struct file_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	file_table_free(ctx->tab);
	free(ctx->path);
	free(ctx);
}
