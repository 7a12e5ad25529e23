/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * storage_maildir.c -- the "maildir" storage module: configuration,
 * open, message and close.  File names are maildir_name.c (pure code),
 * the size cache maildir_cache.c, the update maildir_update.c.  init()
 * runs in the master; everything else runs in the mailbox agent as the
 * mail user, never privileged.  It logs, locks, sizes and reads its
 * configuration only through the struct satchel_core it is given.
 *
 * Message order: by the leading decimal number of the file name (the
 * delivery time in seconds in every Maildir naming scheme; a name
 * without one counts as 0), then by the unique part, then by the whole
 * base name, then new/ before cur/.  Comparing the unique part before
 * the whole name keeps a message in place when another MUA changes its
 * flags.
 *
 * UIDs: the unique part of the base name, i.e. everything before the
 * first ':' (the info part) and the first ',' (size hints such as
 * ",S=1234,W=1260").  A unique part that is empty, longer than
 * SATCHEL_UID_MAX or holds a byte outside 0x21..0x7e is replaced by 32
 * hex digits of maildir_hash128() of it (of the whole base name when it
 * is empty).  That hash is two FNV-1a-64 runs with different seeds; it
 * must never change, or UIDs change with it.  When two messages get the
 * same UID, the first in the order above keeps it and later ones become
 * "<uid>-2", "<uid>-3", ... (or "<hash>-<n>" when that would be too
 * long); no UID is ever handed out twice.
 *
 * UIDs are given by the core's duplicate rule (core->uidset_add), the
 * same as the mbox module's.
 *
 * With uidl_format (the [maildir] key or the top-level one), UIDs are
 * Dovecot's instead, and messages are listed by IMAP UID: see
 * maildir_uidlist.c.  Either way, UIDLs pinned by satchel-uidl import
 * (.satchel.uidl-pins) replace the ones listed there.
 *
 * Symlinks and owners: below the user's home (or below the maildir's
 * parent directory when it is not under the home) no symlink is
 * followed (core->open_beneath: openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS, else O_NOFOLLOW per component), and every
 * directory there, the maildir, new/, cur/, tmp/, the lock and cache
 * files and each message must belong to the mail user.  Anything else
 * is refused with a log line naming it: a cur/ that is a symlink to a
 * directory the agent can read through mail_extra_groups fails the
 * login with [SYS/PERM], and a message file of another owner is skipped.
 *
 * Sizes: the ",W=<n>" hint when the name has one, else the size cache
 * <maildir>/.satchel.sizes (unique part -> RFC 1939 size; Maildir
 * messages never change), else read through core->msg_size_*.
 */
/* O_PATH; without config.h, the module says so itself. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "maildir.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

static void	maildir_close(void *);
static int	md_mkdirs(char *);
static int	md_open_dir(struct maildir *, const struct satchel_mailbox_ref *);
static int	md_refused(struct maildir *, const char *, int);
static int	md_add(struct maildir *, const char *, int);
static int	md_size_file(struct maildir *, struct md_msg *);
static int	md_mine(struct maildir *, struct md_msg *, int);
static int	md_assign_uids(struct maildir *);
static int	md_uidl_conf(const struct satchel_core *,
		    const struct satchel_conf *, struct maildir_ctx *);
static int	md_apply_pins(struct maildir *);

/* ---- small helpers ------------------------------------------------ */

/* A file name made safe for a log line (core->vis). */
const char *
md_vis(const struct maildir *mb, const char *s, char *buf, size_t bufsz)
{
	return mb->core->vis(buf, bufsz, s, strlen(s));
}

/* mkdir -p with mode 0700; path is modified and restored. */
static int
md_mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* ---- init --------------------------------------------------------- */

static int
maildir_init(const struct satchel_core *core,
    const struct satchel_conf *conf, void **ctx_r)
{
	struct maildir_ctx *ctx;
	const char *s;
	uint64_t v = 0;

	if (!SATCHEL_CORE_HAS(core, array_grow)) {
		core->log(SATCHEL_LOG_ERR, "core interface too old");
		return -1;
	}
	if (conf != NULL &&
	    (s = core->conf_get(conf, "lock_timeout_ms")) != NULL &&
	    core->parse_uint(s, 0, 600000, &v) == -1) {
		core->conf_error(conf, "lock_timeout_ms",
		    "expected milliseconds, 0 to 600000");
		return -1;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		core->log(SATCHEL_LOG_ERR, "calloc failed");
		return -1;
	}
	ctx->core = core;
	ctx->lock_timeout_ms = (int)v;
	if (md_uidl_conf(core, conf, ctx) == -1) {
		free(ctx);
		return -1;
	}
	*ctx_r = ctx;
	return 0;
}

/*
 * uidl_format: the [maildir] key, else the top-level one (the core's
 * uidl_conf).  %m is refused: Dovecot has no header MD5 for Maildir
 * either.
 */
static int
md_uidl_conf(const struct satchel_core *core,
    const struct satchel_conf *conf, struct maildir_ctx *ctx)
{
	const char *s;

	if (SATCHEL_CORE_HAS(core, uidl_conf))
		return core->uidl_conf(conf, SATCHEL_UIDL_MD5, "%m (header "
		    "MD5) is not available for Maildir, as in Dovecot",
		    &ctx->uidl_format, &ctx->uidl_vars) == -1 ? -1 : 0;
	/* An older core: only its own section's key, and it cannot. */
	if (conf == NULL || (s = core->conf_get(conf, "uidl_format")) == NULL ||
	    *s == '\0')
		return 0;
	core->log(SATCHEL_LOG_ERR, "uidl_format needs a core of module ABI "
	    "1.3");
	return -1;
}

static void
maildir_fini(void *vctx)
{
	struct maildir_ctx *ctx = vctx;

	if (ctx != NULL)
		free(ctx->uidl_format);
	free(ctx);
}

/* ---- scanning ----------------------------------------------------- */

static int
md_add(struct maildir *mb, const char *name, int sub)
{
	struct md_msg *m;

	if (mb->core->array_grow(&mb->msgs, &mb->cap, mb->n, sizeof(*m),
	    256) == -1)
		return -1;
	m = &mb->msgs[mb->n];
	memset(m, 0, sizeof(*m));
	if ((m->name = strdup(name)) == NULL)
		return -1;
	m->sub = (uint8_t)sub;
	md_name_parse(mb->core, m);
	mb->n++;
	return 0;
}

/*
 * Add the messages in new/ or cur/.  Dot files and anything that is not
 * a regular file are skipped; tmp/ is never looked at.
 */
int
md_scan_dir(struct maildir *mb, int sub)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	fd = openat(mb->subfd[sub], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		mb->core->log(SATCHEL_LOG_ERR, "%s/%s: opendir: %s", mb->path,
		    md_subname[sub], strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(mb->subfd[sub], de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1) {
				if (errno == ENOENT)
					continue;
				goto fail;
			}
			if (!S_ISREG(st.st_mode))
				continue;
		} else if (de->d_type != DT_REG)
			continue;
		if (md_add(mb, de->d_name, sub) == -1)
			goto fail;
	}
	if (errno != 0)
		goto fail;
	(void)closedir(d);
	return 0;
fail:
	mb->core->log(SATCHEL_LOG_ERR, "%s/%s: scan: %s", mb->path,
	    md_subname[sub], strerror(errno));
	(void)closedir(d);
	return -1;
}

/*
 * Open message m read-only.  O_NONBLOCK keeps a FIFO planted under a
 * message's name from blocking us; it changes nothing for regular files.
 */
int
md_openmsg(struct maildir *mb, struct md_msg *m)
{
	return openat(mb->subfd[m->sub], m->name,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
}

/* Size m by reading it.  Returns 0, 1 if it vanished, -1 on error. */
static int
md_size_file(struct maildir *mb, struct md_msg *m)
{
	struct satchel_msgsize st;
	struct stat sb;
	uint64_t size;
	ssize_t r;
	char vbuf[128];
	int fd;

	if ((fd = md_openmsg(mb, m)) == -1) {
		if (errno == ENOENT)
			return 1;
		goto fail;
	}
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (!S_ISREG(sb.st_mode) || md_mine(mb, m, (int)sb.st_uid) == -1) {
		(void)close(fd);
		return 1;	/* not a message after all */
	}
	mb->core->msg_size_init(&st, 0);
	size = 0;
	for (;;) {
		r = read(fd, mb->iobuf, MD_IOBUF);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		size += mb->core->msg_size_feed(&st, mb->iobuf, (size_t)r);
	}
	size += mb->core->msg_size_end(&st);
	(void)close(fd);
	m->size = size;
	m->sized = 1;
	return 0;
fail:
	mb->core->log(SATCHEL_LOG_ERR, "%s/%s/%s: %s", mb->path,
	    md_subname[m->sub], md_vis(mb, m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	if (fd != -1)
		(void)close(fd);
	return -1;
}

/* Is a message file of owner uid ours?  -1 refused, logged. */
static int
md_mine(struct maildir *mb, struct md_msg *m, int uid)
{
	char vbuf[128];

	if ((uid_t)uid == geteuid() || geteuid() == 0)
		return 0;
	mb->core->log(SATCHEL_LOG_ERR, "%s/%s/%s: refused: owned by uid %lu, "
	    "not by the mail user (uid %lu)", mb->path, md_subname[m->sub],
	    md_vis(mb, m->name, vbuf, sizeof(vbuf)), (unsigned long)uid,
	    (unsigned long)geteuid());
	return -1;
}

/* Give every message its UID: md_uid_base(), then the core's rule. */
static int
md_assign_uids(struct maildir *mb)
{
	char base[SATCHEL_UID_MAX + 1], uid[SATCHEL_UID_MAX + 1];
	struct satchel_uidset *set;
	size_t i;

	if ((set = mb->core->uidset_new(mb->n)) == NULL)
		return -1;
	for (i = 0; i < mb->n; i++) {
		md_uid_base(mb->core, &mb->msgs[i], base);
		if (mb->core->uidset_add(set, base, uid) == -1 ||
		    (mb->msgs[i].uid = strdup(uid)) == NULL) {
			mb->core->uidset_free(set);
			return -1;
		}
	}
	mb->core->uidset_free(set);
	return 0;
}

/*
 * UIDLs pinned by satchel-uidl import (MD_PINS_FILE in the maildir):
 * the UIDL the old server gave a message replaces the one Satchel
 * would serve.  A broken file is logged and ignored.
 */
static int
md_apply_pins(struct maildir *mb)
{
	char **uids;
	size_t i;
	int r;

	if (!SATCHEL_CORE_HAS(mb->core, uidl_pins) || mb->n == 0)
		return 0;
	if ((uids = calloc(mb->n, sizeof(*uids))) == NULL)
		return -1;
	for (i = 0; i < mb->n; i++)
		uids[i] = mb->msgs[i].uid;
	r = mb->core->uidl_pins(mb->dirfd, MD_PINS_FILE, uids, mb->n);
	for (i = 0; i < mb->n; i++)
		mb->msgs[i].uid = uids[i];
	free(uids);
	return r == -1 && errno == ENOMEM ? -1 : 0;
}

/* ---- open / count / info ------------------------------------------ */

/*
 * Log why opening what failed.  A symlink (ELOOP), another owner
 * (EPERM), ".." (EXDEV) and the like are permanent: SATCHEL_MBOX_ERROR;
 * anything else may pass: _TEMPFAIL.
 */
static int
md_refused(struct maildir *mb, const char *what, int e)
{
	if (e == ELOOP)
		mb->core->log(SATCHEL_LOG_ERR, "%s: refused: a symbolic link "
		    "(none is followed inside a mailbox)", what);
	else if (e == EPERM)
		mb->core->log(SATCHEL_LOG_ERR, "%s: refused: not owned by the "
		    "mail user (uid %lu)", what, (unsigned long)geteuid());
	else if (e == EXDEV)
		mb->core->log(SATCHEL_LOG_ERR, "%s: refused: leaves the "
		    "directory above it", what);
	else
		mb->core->log(SATCHEL_LOG_ERR, "%s: %s", what, strerror(e));
	return e == EACCES || e == EPERM || e == ENOTDIR || e == ELOOP ||
	    e == EROFS || e == EXDEV ? SATCHEL_MBOX_ERROR :
	    SATCHEL_MBOX_TEMPFAIL;
}

/*
 * Open the maildir into mb->dirfd, creating what is missing.  The part
 * of the path down to the user's home (or to the maildir's parent when
 * the maildir is not below the home) is the administrator's and
 * resolved as usual; below it no symlink is followed and every
 * directory must be the user's.  Returns SATCHEL_MBOX_*, logged.
 */
static int
md_open_dir(struct maildir *mb, const struct satchel_mailbox_ref *ref)
{
	const struct satchel_core *core = mb->core;
	char base[SATCHEL_PATH_MAX], comp[MD_NAME_MAX + 1];
	const char *rel, *p, *slash;
	size_t hl = 0, len;
	int basefd, fd, nfd, e;

	if (ref->home != NULL && ref->home[0] == '/') {
		hl = strlen(ref->home);
		while (hl > 1 && ref->home[hl - 1] == '/')
			hl--;
		if (hl <= 1 || strncmp(mb->path, ref->home, hl) != 0 ||
		    mb->path[hl] != '/')
			hl = 0;
	}
	if (hl == 0) {
		slash = strrchr(mb->path, '/');
		hl = slash == mb->path ? 1 : (size_t)(slash - mb->path);
	}
	memcpy(base, mb->path, hl);
	base[hl] = '\0';
	for (rel = mb->path + hl; *rel == '/'; rel++)
		;
	/* O_PATH: the home or mail root needs only search permission. */
	if ((basefd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    errno == ENOENT && md_mkdirs(base) == 0)
		basefd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (basefd == -1)
		return md_refused(mb, base, errno);
	fd = core->open_beneath(basefd, rel, O_RDONLY | O_DIRECTORY, 0, 1);
	if (fd == -1 && errno == ENOENT) {
		/* Create what is missing, a component at a time. */
		for (p = rel, fd = basefd; fd != -1 && *p != '\0'; p += len) {
			if ((len = strcspn(p, "/")) == 0) {
				len = 1;	/* "a//b" */
				continue;
			}
			if (len > MD_NAME_MAX) {
				errno = ENAMETOOLONG;
				nfd = -1;
			} else {
				memcpy(comp, p, len);
				comp[len] = '\0';
				nfd = mkdirat(fd, comp, 0700) == -1 &&
				    errno != EEXIST ? -1 :
				    core->open_beneath(fd, comp, p[len] == '\0' ?
				    O_RDONLY | O_DIRECTORY : O_PATH |
				    O_DIRECTORY, 0, 1);
			}
			e = errno;
			if (fd != basefd)
				(void)close(fd);
			fd = nfd;
			errno = e;
		}
	}
	e = errno;
	(void)close(basefd);
	if (fd == -1)
		return md_refused(mb, mb->path, e);
	mb->dirfd = fd;
	return SATCHEL_MBOX_OK;
}

static int
maildir_open(void *vctx, const struct satchel_mailbox_ref *ref,
    void **mbox_r, const char **errstr_r)
{
	struct maildir_ctx *ctx = vctx;
	const struct satchel_core *core = ctx->core;
	struct maildir *mb;
	struct md_cent key, *ce;
	char what[SATCHEL_PATH_MAX + 8];
	size_t i, j, len;
	int sub, r, ret = SATCHEL_MBOX_TEMPFAIL;

	*mbox_r = NULL;
	/* An absolute path, without the trailing slashes. */
	len = ref->path != NULL && ref->path[0] == '/' ? strlen(ref->path) : 0;
	while (len > 1 && ref->path[len - 1] == '/')
		len--;
	if (len <= 1 || len >= SATCHEL_PATH_MAX) {
		*errstr_r = "bad mailbox path";
		return SATCHEL_MBOX_ERROR;
	}
	if ((mb = calloc(1, sizeof(*mb))) == NULL) {
		*errstr_r = "out of memory";
		return SATCHEL_MBOX_TEMPFAIL;
	}
	mb->core = core;
	mb->dirfd = mb->lockfd = mb->subfd[0] = mb->subfd[1] = -1;
	memcpy(mb->path, ref->path, len);
	mb->path[len] = '\0';
	*errstr_r = "cannot open the maildir";
	if ((ret = md_open_dir(mb, ref)) != SATCHEL_MBOX_OK)
		goto fail;
	ret = SATCHEL_MBOX_TEMPFAIL;
	for (sub = 0; sub < 3; sub++) {
		const char *s = sub < 2 ? md_subname[sub] : "tmp";

		if (mkdirat(mb->dirfd, s, 0700) == -1 && errno != EEXIST) {
			core->log(SATCHEL_LOG_ERR, "%s/%s: mkdir: %s",
			    mb->path, s, strerror(errno));
			goto fail;
		}
		if (sub < 2 && (mb->subfd[sub] = core->open_beneath(mb->dirfd,
		    s, O_RDONLY | O_DIRECTORY, 0, 1)) == -1) {
			r = errno;
			(void)snprintf(what, sizeof(what), "%s/%s", mb->path, s);
			ret = md_refused(mb, what, r);
			goto fail;
		}
	}

	/* The session lock: one POP3 session per maildir. */
	ret = core->session_lock(mb->dirfd, MD_LOCK_FILE, ctx->lock_timeout_ms,
	    NULL, &mb->lockfd, errstr_r);
	if (ret != SATCHEL_MBOX_OK)
		goto fail;
	ret = SATCHEL_MBOX_TEMPFAIL;

	*errstr_r = "cannot read the maildir";
	if ((mb->iobuf = malloc(MD_IOBUF)) == NULL)
		goto fail;
	if (md_scan_dir(mb, MD_NEW) == -1 || md_scan_dir(mb, MD_CUR) == -1)
		goto fail;
	if (mb->n > 0)
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), md_msgcmp);
	md_cache_load(mb);

	for (i = 0; i < mb->n; i++) {
		struct md_msg *m = &mb->msgs[i];

		if (m->sized)
			continue;
		key.key = m->name;
		key.klen = m->ulen;
		if (mb->ncache > 0 && (ce = bsearch(&key, mb->cache,
		    mb->ncache, sizeof(*mb->cache), md_centcmp)) != NULL) {
			m->size = ce->size;
			m->sized = m->cached = 1;
			continue;
		}
		if ((r = md_size_file(mb, m)) == -1)
			goto fail;
		if (r == 1)
			m->gone = 1;	/* vanished while we looked */
	}
	/* Drop vanished messages, keeping the order. */
	for (i = j = 0; i < mb->n; i++) {
		if (mb->msgs[i].gone) {
			free(mb->msgs[i].name);
			continue;
		}
		mb->msgs[j++] = mb->msgs[i];
	}
	mb->n = j;
	r = ctx->uidl_format != NULL ? md_uidl_assign(mb, ctx) : 1;
	if (r == -1 || (r == 1 && md_assign_uids(mb) == -1) ||
	    md_apply_pins(mb) == -1)
		goto fail;
	mb->uids_done = 1;
	*mbox_r = mb;
	*errstr_r = NULL;
	return SATCHEL_MBOX_OK;
fail:
	maildir_close(mb);
	return ret;
}

static size_t
maildir_count(void *vmb)
{
	return ((struct maildir *)vmb)->n;
}

static int
maildir_info(void *vmb, size_t n, struct satchel_msginfo *info)
{
	struct maildir *mb = vmb;
	size_t len;

	if (n >= mb->n)
		return -1;
	info->size = mb->msgs[n].size;
	len = strlen(mb->msgs[n].uid);
	memcpy(info->uid, mb->msgs[n].uid, len + 1);
	return 0;
}

/* ---- message ------------------------------------------------------ */

static int
maildir_message(void *vmb, size_t n, struct satchel_msgref *ref,
    const char **errstr_r)
{
	struct maildir *mb = vmb;
	struct md_msg *m;
	struct stat st;
	char vbuf[128];
	int fd, tries, r;

	if (n >= mb->n) {
		*errstr_r = "no such message";
		return -1;
	}
	m = &mb->msgs[n];
	for (tries = 0; tries < 3; tries++) {
		if (m->gone)
			break;
		if ((fd = md_openmsg(mb, m)) != -1)
			goto opened;
		if (errno != ENOENT)
			goto fail;
		if ((r = md_relocate(mb, n)) == -1) {
			*errstr_r = "cannot read the maildir";
			return -1;
		}
		if (r == 0) {
			m->gone = 1;
			break;
		}
	}
	*errstr_r = "message vanished";
	return 1;
opened:
	if (fstat(fd, &st) == -1) {
		(void)close(fd);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		goto fail;
	}
	if (md_mine(mb, m, (int)st.st_uid) == -1) {
		(void)close(fd);
		*errstr_r = "message refused: not the user's";
		return -1;
	}
	ref->fd = fd;
	ref->offset = 0;
	ref->length = (uint64_t)st.st_size;
	ref->flags = 0;
	return 0;
fail:
	mb->core->log(SATCHEL_LOG_ERR, "%s/%s/%s: open: %s", mb->path,
	    md_subname[m->sub], md_vis(mb, m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	*errstr_r = "cannot open the message";
	return -1;
}

/* ---- the module --------------------------------------------------- */

SATCHEL_STORAGE_OPS(maildir);
SATCHEL_MODULE_DEFINE(SATCHEL_MODULE_STORAGE, "maildir", PACKAGE_VERSION,
    maildir_ops);

static void
maildir_close(void *vmb)
{
	struct maildir *mb = vmb;
	size_t i;
	int sub;

	if (mb == NULL)
		return;
	if (mb->uids_done)
		md_cache_write(mb);
	for (i = 0; i < mb->n; i++) {
		free(mb->msgs[i].name);
		free(mb->msgs[i].uid);
	}
	free(mb->msgs);
	md_index_free(mb);
	free(mb->cache);
	free(mb->cache_buf);
	free(mb->iobuf);
	for (sub = 0; sub < 2; sub++)
		if (mb->subfd[sub] != -1)
			(void)close(mb->subfd[sub]);
	if (mb->dirfd != -1)
		(void)close(mb->dirfd);
	/* Closing the lock file releases the session lock: last. */
	if (mb->lockfd != -1)
		(void)close(mb->lockfd);
	free(mb);
}
