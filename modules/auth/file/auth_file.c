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

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "satchel/module.h"
#include "compat/poison.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"unknown"
#endif

#define FILE_SIZE_MAX		(256UL * 1024 * 1024)
#define FILE_ID_MAX		4294967294ULL	/* (uid_t)-1 is not a uid */
#define FILE_DELAY_MAX		2147483647ULL
#define FILE_REPORT_MAX		10	/* malformed lines logged per load */
#define FILE_LOAD_TRIES		3	/* when the file changes as we read */

/* What tells one version of the file from the next. */
struct file_ident {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
	struct timespec	 ctim;
};

struct file_entry {
	const char	*name;		/* all strings point into table buf */
	const char	*password;
	const char	*home;
	const char	*mail;
	size_t		 namelen;
	uint32_t	 hash;
	uint32_t	 line;
	uid_t		 uid;
	gid_t		 gid;
	unsigned int	 login_delay;
	uint8_t		 uid_set, gid_set, nologin;
};

struct file_table {
	char			*buf;		/* the file, split in place */
	size_t			 buflen;
	struct file_entry	*entries;
	size_t			 nentries;
	uint32_t		*slots;		/* entry index + 1, 0 free */
	size_t			 nslots;	/* a power of two */
	const char		*dummy;		/* a typical stored value */
	struct file_ident	 ident;
};

struct file_ctx {
	const struct satchel_core	*core;
	char				*path;
	struct file_table		*tab;
	struct file_ident		 failed;	/* last version that */
	int				 failed_set;	/* did not load */
	int				 stat_errno;	/* last one logged */
};

/* How one load goes: where problems are reported and how many. */
struct file_load {
	struct file_ctx			*ctx;
	const struct satchel_conf	*conf;	/* NULL at run time */
	size_t				 nbad;
};

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
static int	file_parse(struct file_load *, struct file_table *);
static int	file_parse_line(struct file_load *, struct file_table *,
		    char *, uint32_t);
static void	file_pick_dummy(struct file_table *);
static void	file_refresh(struct file_ctx *);
static const struct file_entry *file_find(const struct file_table *,
		    const char *);
static int	file_fill(const struct file_entry *, struct satchel_user *);
static void	file_table_free(struct file_table *);
static void	file_report(struct file_load *, uint32_t, const char *, ...)
		    SATCHEL_PRINTF(3, 4);
static void	file_ident_get(const struct stat *, struct file_ident *);
static int	file_ident_eq(const struct file_ident *,
		    const struct file_ident *);
static size_t	file_at(const char *, size_t);
static uint32_t	file_hash(const char *, size_t);
static int	file_name_eq(const char *, const char *, size_t);
static void	file_wipe(void *, size_t);

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

/* A memset the compiler may not drop: the buffer held passwords. */
static void
file_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

/*
 * A problem with the file as a whole or with one line (line > 0).  At
 * init it is a config error; at run time a warning, and only the first
 * FILE_REPORT_MAX lines of a load are logged one by one.
 */
static void
file_report(struct file_load *ld, uint32_t line, const char *fmt, ...)
{
	const struct satchel_core *core = ld->ctx->core;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && ++ld->nbad > FILE_REPORT_MAX && ld->conf == NULL)
		return;
	if (ld->conf != NULL) {
		if (line > 0)
			core->conf_error(ld->conf, "path", "%s:%u: %s",
			    ld->ctx->path, line, msg);
		else
			core->conf_error(ld->conf, "path", "%s", msg);
	} else if (line > 0)
		core->log(SATCHEL_LOG_WARNING, "%s:%u: %s; line skipped",
		    ld->ctx->path, line, msg);
	else
		core->log(SATCHEL_LOG_WARNING, "%s", msg);
}

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
 * User names are compared exactly, except the domain (after the last
 * '@'), which is compared without regard to ASCII case.  file_at()
 * returns the index of that '@', or len when there is none.
 */
static size_t
file_at(const char *name, size_t len)
{
	size_t i;

	for (i = len; i > 0; i--)
		if (name[i - 1] == '@')
			return i - 1;
	return len;
}

static uint32_t
file_hash(const char *name, size_t len)
{
	size_t at = file_at(name, len), i;
	uint32_t h = 2166136261U;	/* FNV-1a */
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (at < len && i > at && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h ^= c;
		h *= 16777619U;
	}
	return h;
}

/* a is from the file, b from the client; both len bytes long. */
static int
file_name_eq(const char *a, const char *b, size_t len)
{
	size_t at = file_at(a, len), i;
	unsigned char ca, cb;

	for (i = 0; i < len; i++) {
		ca = (unsigned char)a[i];
		cb = (unsigned char)b[i];
		if (at < len && i > at) {
			if (ca >= 'A' && ca <= 'Z')
				ca = (unsigned char)(ca - 'A' + 'a');
			if (cb >= 'A' && cb <= 'Z')
				cb = (unsigned char)(cb - 'A' + 'a');
		}
		if (ca != cb)
			return 0;
	}
	return 1;
}

static void
file_table_free(struct file_table *t)
{
	if (t == NULL)
		return;
	if (t->buf != NULL) {
		file_wipe(t->buf, t->buflen);
		free(t->buf);
	}
	free(t->entries);
	free(t->slots);
	free(t);
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
 * Parse one line (NUL-terminated, no line end) in place and add it to
 * the table.  Returns 0, or -1 after reporting a malformed line.
 */
static int
file_parse_line(struct file_load *ld, struct file_table *t, char *line,
    uint32_t lineno)
{
	const struct satchel_core *core = ld->ctx->core;
	struct file_entry *e = &t->entries[t->nentries];
	const struct file_entry *o;
	char *f[8], *s, *c, *tok, *val;
	size_t nf = 0, i, slot;
	uint64_t v;

	memset(e, 0, sizeof(*e));
	memset(f, 0, sizeof(f));
	for (s = line; nf < 7 && (c = strchr(s, ':')) != NULL; s = c + 1) {
		*c = '\0';
		f[nf++] = s;
	}
	f[nf++] = s;
	if (nf < 2) {
		file_report(ld, lineno, "no ':' after the user name");
		return -1;
	}

	e->name = f[0];
	e->namelen = strlen(f[0]);
	if (e->namelen == 0 || e->namelen > SATCHEL_USER_MAX) {
		file_report(ld, lineno, "user name empty or longer than %d",
		    SATCHEL_USER_MAX);
		return -1;
	}
	for (i = 0; i < e->namelen; i++)
		if ((unsigned char)e->name[i] <= ' ' ||
		    (unsigned char)e->name[i] == 0x7f) {
			file_report(ld, lineno, "space or control character "
			    "in the user name");
			return -1;
		}
	e->password = f[1];

	if (f[2] != NULL && f[2][0] != '\0') {
		if (core->parse_uint(f[2], 0, FILE_ID_MAX, &v) == -1) {
			file_report(ld, lineno, "uid is not a number");
			return -1;
		}
		e->uid = (uid_t)v;
		e->uid_set = 1;
	}
	if (f[3] != NULL && f[3][0] != '\0') {
		if (core->parse_uint(f[3], 0, FILE_ID_MAX, &v) == -1) {
			file_report(ld, lineno, "gid is not a number");
			return -1;
		}
		e->gid = (gid_t)v;
		e->gid_set = 1;
	}
	/* f[4] is the GECOS field and f[6] the shell: not used. */
	e->home = f[5] != NULL ? f[5] : "";
	if (e->home[0] != '\0' && e->home[0] != '/') {
		file_report(ld, lineno, "home is not an absolute path");
		return -1;
	}
	if (strlen(e->home) >= SATCHEL_PATH_MAX) {
		file_report(ld, lineno, "home longer than %d",
		    SATCHEL_PATH_MAX - 1);
		return -1;
	}
	e->mail = "";

	/* Extra fields: "key=value" or "key", separated by blanks. */
	for (s = f[7]; s != NULL && *s != '\0'; ) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		tok = s;
		s += strcspn(s, " \t");
		if (*s != '\0')
			*s++ = '\0';
		if ((val = strchr(tok, '=')) != NULL)
			*val++ = '\0';
		if (strcmp(tok, "mail") == 0 ||
		    strcmp(tok, "userdb_mail") == 0) {
			if (val == NULL || val[0] == '\0' ||
			    strlen(val) >= SATCHEL_PATH_MAX) {
				file_report(ld, lineno, "%s: empty or longer "
				    "than %d", tok, SATCHEL_PATH_MAX - 1);
				return -1;
			}
			e->mail = val;
		} else if (strcmp(tok, "login_delay") == 0 ||
		    strcmp(tok, "userdb_login_delay") == 0) {
			if (val == NULL || core->parse_uint(val, 0,
			    FILE_DELAY_MAX, &v) == -1) {
				file_report(ld, lineno, "%s: not a number of "
				    "seconds", tok);
				return -1;
			}
			e->login_delay = (unsigned int)v;
		} else if (strcmp(tok, "nologin") == 0 ||
		    strcmp(tok, "userdb_nologin") == 0) {
			/* Any value: fail closed. */
			e->nologin = 1;
		}
		/* Other Dovecot fields (quota_rule, allow_nets, ...) are
		 * not ours to enforce; ignore them. */
	}

	e->hash = file_hash(e->name, e->namelen);
	e->line = lineno;
	for (slot = e->hash & (t->nslots - 1); t->slots[slot] != 0;
	    slot = (slot + 1) & (t->nslots - 1)) {
		o = &t->entries[t->slots[slot] - 1];
		if (o->hash == e->hash && o->namelen == e->namelen &&
		    file_name_eq(o->name, e->name, e->namelen)) {
			file_report(ld, lineno, "user already defined at "
			    "line %u", o->line);
			return -1;
		}
	}
	t->slots[slot] = (uint32_t)(t->nentries + 1);
	t->nentries++;
	return 0;
}

/*
 * Split t->buf into lines and parse them.  Returns the number of
 * malformed lines, or -1 when out of memory.
 */
static int
file_parse(struct file_load *ld, struct file_table *t)
{
	char *p, *end, *nl, *line;
	size_t nlines = 1, len;
	uint32_t lineno = 0;
	int bad = 0;

	for (p = t->buf; (p = memchr(p, '\n', t->buflen -
	    (size_t)(p - t->buf))) != NULL; p++)
		nlines++;
	if (nlines >= UINT32_MAX / 4) {
		file_report(ld, 0, "%s: too many lines", ld->ctx->path);
		return -1;
	}
	for (t->nslots = 16; t->nslots < nlines * 2; t->nslots <<= 1)
		;
	if ((t->entries = calloc(nlines, sizeof(*t->entries))) == NULL ||
	    (t->slots = calloc(t->nslots, sizeof(*t->slots))) == NULL) {
		file_report(ld, 0, "%s: %s", ld->ctx->path, strerror(errno));
		return -1;
	}

	for (p = t->buf, end = t->buf + t->buflen; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		line = p;
		len = (size_t)(nl - p);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (memchr(line, '\0', len) != NULL) {
			file_report(ld, lineno, "NUL byte in line");
			bad++;
			continue;
		}
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#')
			continue;
		if (file_parse_line(ld, t, p, lineno) == -1)
			bad++;
	}
	if (ld->conf == NULL && ld->nbad > FILE_REPORT_MAX)
		ld->ctx->core->log(SATCHEL_LOG_WARNING, "%s: %zu more "
		    "malformed lines skipped", ld->ctx->path,
		    ld->nbad - FILE_REPORT_MAX);
	return bad;
}

/*
 * For an unknown user, verify the password against a stored value like
 * most of the file's, so that the time spent matches a real user's.
 * Entries are classed by scheme; the first entry of the largest class
 * is used.
 */
static void
file_pick_dummy(struct file_table *t)
{
	static const char *const classes[] = {
		"{PLAIN}", "{CLEAR}", "$y$", "$2", "$6$", "$5$", "$7$",
		"$gy$",
	};
	size_t count[sizeof(classes) / sizeof(classes[0]) + 1];
	size_t first[sizeof(classes) / sizeof(classes[0]) + 1];
	size_t nc = sizeof(classes) / sizeof(classes[0]), i, k, best;
	const char *p, *q;

	memset(count, 0, sizeof(count));
	memset(first, 0, sizeof(first));
	t->dummy = NULL;
	for (i = 0; i < t->nentries; i++) {
		p = t->entries[i].password;
		/* "{SHA512-CRYPT}$6$..." is classed by its hash. */
		if (p[0] == '{' && (q = strchr(p, '}')) != NULL &&
		    q[1] == '$')
			p = q + 1;
		for (k = 0; k < nc; k++)
			if (strncasecmp(p, classes[k], strlen(classes[k])) == 0)
				break;
		if (k == nc && p[0] == '\0')
			continue;	/* no password: not a model */
		if (count[k]++ == 0)
			first[k] = i;
	}
	for (best = 0, k = 1; k <= nc; k++)
		if (count[k] > count[best])
			best = k;
	if (count[best] > 0)
		t->dummy = t->entries[first[best]].password;
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
	return 0;
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
		return SATCHEL_AUTH_NOUSER;
	}
	r = core->password_verify(e->password, req->password);
	if (r == -1) {
		core->log(SATCHEL_LOG_WARNING, "%s:%u: unusable password "
		    "field", ctx->path, e->line);
		return SATCHEL_AUTH_ERROR;
	}
	if (r == 0)
		return SATCHEL_AUTH_FAIL;
	if (e->nologin) {
		core->log(SATCHEL_LOG_INFO, "%s:%u: nologin set, login "
		    "refused", ctx->path, e->line);
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
	if ((e = file_find(ctx->tab, req->user)) == NULL)
		return SATCHEL_AUTH_NOUSER;
	if (e->nologin)
		return SATCHEL_AUTH_FAIL;
	r = ctx->core->password_credential(e->password, secret, secretsz);
	if (r == 0)
		return SATCHEL_AUTH_FAIL;	/* a one-way hash: no APOP */
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
