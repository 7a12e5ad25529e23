/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * storage_mbox.c -- the "mbox" storage module: /var/mail/$USER and
 * virtual mbox files.  This file: configuration, locks, open, message
 * and close; the scanner is mbox_scan.c (pure code), the index
 * mbox_index.c, UIDs mbox_uid.c and the update mbox_update.c.  init()
 * runs in the master; everything else runs in
 * the mailbox agent as the mail user (plus the groups in
 * mail_extra_groups, typically "mail" for a setgid /var/mail), never
 * privileged.  It logs, locks, sizes and reads its configuration only
 * through the struct satchel_core it is given.  The module reports where
 * each message lies in the file; the core unescapes >From, converts line
 * ends and dot-stuffs while streaming.
 *
 * Configuration, section [mbox]:
 *   escape = none|mboxrd|mboxo how ">From " in bodies is undone (none:
 *                           served as stored, as Dovecot and popa3d do)
 *   content_length = yes|no honour Content-Length: headers (yes)
 *   hide_headers = none|dovecot  dovecot: every message carries
 *                           SATCHEL_MSG_HIDE, so the core drops Dovecot's
 *                           mbox headers from RETR, TOP and sizes (none)
 *   lock_timeout_ms = N     wait for an MDA's dotlock + fcntl lock (5000)
 *   dotlock = yes|no        take <mbox>.lock as well as fcntl (yes)
 *   x_uidl = yes|no         reuse X-UIDL: headers as UIDs (no)
 *   index = yes|no          keep the per-mailbox index (yes)
 *   state_dir = DIR         where session locks and indexes live (unset:
 *                           next to the mbox)
 *
 * Files.  For /dir/name: the session lock .name.satchel-lock and the
 * index .name.satchel-index, both in /dir (mode 0600), or with state_dir
 * set, DIR/<16 hex digits of a hash of the path>.lock and .index (such a
 * file must belong to the user; state_dir may be shared, mode 1777).  A
 * directory the user cannot write and no state_dir: the login fails with
 * [SYS/PERM] and a log line naming the fix (mail_extra_groups = mail for
 * /var/mail, or state_dir).  The rewrite writes .name.satchel-new in /dir.
 *
 * Locks.  The session lock is an fcntl lock on the lock file, held from
 * open to close: a second session gets [IN-USE] (after 0.5 s, to let a
 * previous session's agent finish).  It is never seen by MDAs.  The mbox
 * itself is locked the way Debian's MDAs lock it -- first the dotlock
 * <mbox>.lock (NFS-safe, broken when older than 300 s), then an fcntl
 * lock on the mbox -- only while it is scanned and while the update
 * rewrites it, each wait bounded by lock_timeout_ms.  A busy lock fails
 * the login or the update with [SYS/TEMP].  fcntl locks are released by
 * closing the descriptor that took them (modules never call F_SETLK), so
 * the mbox is opened twice: rdfd for reading (and dup'ed, read-only, for
 * the worker) and rwfd only while locked.
 *
 * Message boundaries.  A message starts at a line beginning "From " that
 * is at the start of the file or follows an empty line ("\n" or "\r\n");
 * that empty line is the separator and belongs to no message, and so does
 * an empty line at the very end of the file, so a message keeps its size
 * when mail is appended after it.  A "From " line not preceded by an
 * empty line is body text.  With content_length = yes, a valid
 * Content-Length: header (Dovecot's rule, mb_cl_check()) frames the body:
 * the body ends at the end of the file or is followed by one line end and
 * the end of the file or a "From " line; that line end is the separator,
 * so a body without a final newline is followed directly by the next
 * From_ line.  "From " lines inside a framed body are text, and the
 * message is served exactly as stored: its flags are 0 whatever escape
 * says (Dovecot writes bodies unescaped and relies on the header).  An
 * invalid or missing header leaves the From_ line scan to decide.  Empty lines
 * before the first From_ line are allowed (and kept); any other start is
 * not an mbox: [SYS/PERM], logged, never rewritten.  NULs, CRLF line
 * ends, lines of any length and a last message without a final newline
 * are served as they are.
 *
 * Sizes are computed with core->msg_size_* over exactly the bytes message()
 * hands out (after the From_ line, up to the separator), with the message's
 * flags (the escape, or 0 for a framed body), so LIST equals what RETR
 * sends.
 *
 * Symlinks and owners.  The mbox and every file next to it are opened
 * with O_NOFOLLOW, and the mbox must belong to the mail user (a spool
 * in /var/mail is the user's; the directory, root:mail, need not be).
 *
 * Changes by others.  The scan records the file's device, inode and size
 * (the scanned end).  Mail appended later is not part of the session.
 * Before handing out a message and before the update, the module checks
 * that the path still names the same inode, that it did not shrink, and
 * that the From_ line at the recorded offset still has the same first
 * bytes (all of them before the update); otherwise it fails the request
 * and the session ends without deleting anything.
 *
 * Update.  Without deletions, nothing is written.  Otherwise, under the
 * dotlock and a write lock: verify, write .name.satchel-new with the
 * bytes before the first message, every kept message with the separator
 * after it, and everything appended since the scan; fsync it; give it
 * the mbox's owner, group and mode (the update is refused when they
 * cannot be kept); block signals, rename it over the mbox, fsync the
 * directory.  A kill -9 at any point leaves either the old file or the
 * complete new one; ENOSPC or any write error removes the temporary file
 * and leaves the mbox untouched ([SYS/TEMP]).  A directory the user
 * cannot write makes deletions fail (nothing is changed): an in-place
 * rewrite cannot be crash-safe without a journal, so there is none.
 * With content_length = yes, a Content-Length: header that the scan
 * ignored (its end fell on no boundary) may fall on one once other
 * messages are gone; so the new file is scanned before the rename, and
 * if it would not read back as exactly the kept messages, nothing is
 * deleted (the update fails, logged).  If
 * the last message was deleted but bytes appended after the scan do not
 * start with "From ", they continue that message, and it is kept.
 * Caution: the rename gives the mbox a new inode.  MDAs that take the
 * dotlock before opening the file (procmail, Postfix local, maildrop,
 * dovecot-lda, exim) are safe; a program that opens the mbox, then waits
 * for an fcntl lock only, must re-check the inode after locking.
 *
 * UIDs.  32 hex digits of a 128-bit hash (two FNV-1a-64 runs, which must
 * never change) of the From_ line (without its line end), the
 * Message-ID: value and the Date: value: they do not depend on offsets,
 * on other messages, or on headers MUAs add (Status:), so deleting other
 * messages, appending mail and our own rewrite keep them.  When two
 * messages hash alike, the later ones get "-2", "-3", ...  With x_uidl =
 * yes, a valid X-UIDL: value (1..70 bytes of 0x21..0x7e) is used instead
 * unless an earlier message already has that UID.  No UID is ever handed
 * out twice in a session.  The index remembers the UIDs handed out, so a
 * suffixed UID survives the deletion of its twin by Satchel.
 * uidl_format (Dovecot's X-IMAPbase/X-UID numbering) and the pins of
 * satchel-uidl import: see mbox_uid.c.
 *
 * Index.  A text file: a header line with the options that change
 * sizes and UIDs, a line "mbox <dev> <ino> <size> <mtime s> <mtime ns>",
 * one line per message "<from> <data> <length> <size> <flags> <fromhash>
 * <key> <uid|->" and "end <count> <hash of all before>".  Same inode, size and
 * mtime: used as it is.  Same inode and a larger size: the messages but
 * the last are reused after checking the first and last From_ lines, and
 * the scan restarts at the last one.  Anything else, or any parse error:
 * full scan, index rewritten.  Written to a temporary name and renamed.
 * An index that is whole but unusable (other options, format 1, a file
 * rewritten by others) still gives the suffixed UIDs of twins back to
 * the scanned messages with the same key (mb_index_carry()), so option
 * changes and upgrades rename nothing.
 *
 * Wire bytes.  A message with nothing to unescape or hide whose RFC 1939
 * size equals its stored length (every line ends CRLF, the last one too)
 * and with no line starting with '.' gets SATCHEL_MSG_WIRE: the worker
 * may sendfile() it without reading it.  The index records the options
 * (mb_opts(), hide_headers too), so it never serves sizes of another.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "mbox.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

static void	mbox_close(void *);
static ssize_t	mb_read(void *, void *, size_t, uint64_t);
static int	mb_paths(struct mbox *, const char *, const char **);
static int	mb_scan_file(struct mbox *, uint64_t);

/* ---- init --------------------------------------------------------- */

static int
mbox_init(const struct satchel_core *core, const struct satchel_conf *conf,
    void **ctx_r)
{
	static const struct {
		const char *key;
		size_t off;
		int def;
	} bools[] = {
		{ "content_length", offsetof(struct mbox_ctx, content_length),
		    1 },
		{ "dotlock", offsetof(struct mbox_ctx, dotlock), 1 },
		{ "x_uidl", offsetof(struct mbox_ctx, x_uidl), 0 },
		{ "index", offsetof(struct mbox_ctx, index), 1 },
	};
	struct mbox_ctx *ctx;
	const char *s;
	uint64_t v;
	size_t i;
	int b;

	if (!SATCHEL_CORE_HAS(core, md5_final)) {
		core->log(SATCHEL_LOG_ERR, "core interface too old");
		return -1;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		core->log(SATCHEL_LOG_ERR, "calloc failed");
		return -1;
	}
	ctx->core = core;
	ctx->escape = 0;	/* as Dovecot and popa3d: as stored */
	ctx->lock_timeout_ms = 5000;
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		*(int *)(void *)((char *)ctx + bools[i].off) = bools[i].def;
	if (conf == NULL)
		goto done;
	if ((s = core->conf_get(conf, "escape")) != NULL) {
		if (strcmp(s, "mboxrd") == 0)
			ctx->escape = SATCHEL_MSG_MBOXRD;
		else if (strcmp(s, "mboxo") == 0)
			ctx->escape = SATCHEL_MSG_MBOXO;
		else if (strcmp(s, "none") == 0)
			ctx->escape = 0;
		else {
			core->conf_error(conf, "escape",
			    "expected none, mboxrd or mboxo");
			goto fail;
		}
	}
	if ((s = core->conf_get(conf, "hide_headers")) != NULL) {
		if (strcmp(s, "dovecot") == 0)
			ctx->hide = SATCHEL_MSG_HIDE;
		else if (strcmp(s, "none") == 0)
			ctx->hide = 0;
		else {
			core->conf_error(conf, "hide_headers",
			    "expected none or dovecot");
			goto fail;
		}
	}
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		if ((s = core->conf_get(conf, bools[i].key)) == NULL)
			continue;
		if (core->parse_bool(s, &b) == -1) {
			core->conf_error(conf, bools[i].key,
			    "expected yes or no");
			goto fail;
		}
		*(int *)(void *)((char *)ctx + bools[i].off) = b;
	}
	if ((s = core->conf_get(conf, "lock_timeout_ms")) != NULL) {
		if (core->parse_uint(s, 0, 600000, &v) == -1) {
			core->conf_error(conf, "lock_timeout_ms",
			    "expected milliseconds, 0 to 600000");
			goto fail;
		}
		ctx->lock_timeout_ms = (int)v;
	}
	if ((s = core->conf_get(conf, "state_dir")) != NULL) {
		if (s[0] != '/' || strlen(s) >= sizeof(ctx->state_dir) - 64) {
			core->conf_error(conf, "state_dir",
			    "expected an absolute path");
			goto fail;
		}
		memcpy(ctx->state_dir, s, strlen(s) + 1);
	}
done:
	if (mb_uidl_conf(core, conf, ctx) == -1)
		goto fail;
	*ctx_r = ctx;
	return 0;
fail:
	free(ctx);
	return -1;
}

static void
mbox_fini(void *vctx)
{
	struct mbox_ctx *ctx = vctx;

	if (ctx != NULL)
		free(ctx->uidl_format);
	free(ctx);
}

/* ---- locks -------------------------------------------------------- */

/*
 * Take the MDA locks: the dotlock (if configured), then an fcntl lock on
 * a fresh descriptor rwfd (write lock when it could be opened for
 * writing), within lock_timeout_ms in all.  Returns 0, or -1 with
 * mb->fail and mb->err set.
 */
int
mb_lock(struct mbox *mb, int forwrite)
{
	const struct satchel_core *core = mb->core;
	int r, t = mb->ctx->lock_timeout_ms, rw = 1;

	mb->fail = SATCHEL_MBOX_TEMPFAIL;
	if (mb->ctx->dotlock) {
		r = core->lock_dotlock(mb->path, t, MB_STALE_S);
		if (r == 1) {
			core->log(SATCHEL_LOG_WARNING, "%s.lock: held by "
			    "another program for %d ms", mb->path, t);
			mb->err = "mailbox is locked by another program";
			return -1;
		}
		if (r != 0) {
			core->log(SATCHEL_LOG_ERR, "%s: cannot create the "
			    "dotlock %s.lock: %s (the agent needs write access "
			    "to the directory: mail_extra_groups = mail for "
			    "/var/mail, or dotlock = no)", mb->path, mb->path,
			    strerror(errno));
			mb->err = "cannot lock the mailbox";
			mb->fail = SATCHEL_MBOX_ERROR;
			return -1;
		}
		mb->dotlocked = 1;
	}
	mb->rwfd = open(mb->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (mb->rwfd == -1 && !forwrite && (errno == EACCES ||
	    errno == EROFS)) {
		rw = 0;
		mb->rwfd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    O_NONBLOCK);
	}
	if (mb->rwfd == -1) {
		core->log(SATCHEL_LOG_ERR, "%s: open: %s", mb->path,
		    strerror(errno));
		mb->err = "cannot open the mailbox";
		if (errno == EACCES || errno == EROFS || errno == ELOOP)
			mb->fail = SATCHEL_MBOX_ERROR;
		goto fail;
	}
	r = core->lock_fcntl(mb->rwfd, rw, t);
	if (r == 0) {
		mb->fail = 0;
		mb->err = NULL;
		return 0;
	}
	if (r == 1) {
		core->log(SATCHEL_LOG_WARNING, "%s: fcntl lock held by "
		    "another program for %d ms", mb->path, t);
		mb->err = "mailbox is locked by another program";
		goto fail;
	}
	mb->err = "cannot lock the mailbox";
fail:
	mb_unlock(mb);
	return -1;
}

/* Closing rwfd releases our fcntl lock; then the dotlock goes. */
void
mb_unlock(struct mbox *mb)
{
	if (mb->rwfd != -1) {
		(void)close(mb->rwfd);
		mb->rwfd = -1;
	}
	if (mb->dotlocked) {
		(void)mb->core->lock_dotunlock(mb->path);
		mb->dotlocked = 0;
	}
}

/*
 * Does the path still name the file we scanned, at least as long?  Fills
 * *st with its stat.  Returns 1 yes, 0 no (logged), -1 error.
 */
int
mb_same_file(struct mbox *mb, struct stat *st)
{
	if (stat(mb->path, st) == -1) {
		if (errno != ENOENT)
			return -1;
		mb->core->log(SATCHEL_LOG_ERR, "%s: removed by another "
		    "program during the session", mb->path);
		return 0;
	}
	if (st->st_dev != mb->dev || st->st_ino != mb->ino ||
	    (uint64_t)st->st_size < mb->scan_end) {
		mb->core->log(SATCHEL_LOG_ERR, "%s: replaced or truncated by "
		    "another program during the session", mb->path);
		return 0;
	}
	return 1;
}

/* Is m's From_ line still where we saw it?  1 yes, 0 no, -1 error. */
int
mb_check_from(struct mbox *mb, const struct mb_msg *m, int quiet)
{
	char buf[MB_FROMCHK];
	uint64_t len = m->data_off - m->from_off;
	ssize_t r;

	if (len > MB_FROMCHK)
		len = MB_FROMCHK;
	r = pread(mb->rdfd, buf, (size_t)len, (off_t)m->from_off);
	if (r == -1)
		return -1;
	if ((uint64_t)r != len ||
	    mb->core->fnv64(SATCHEL_FNV64_INIT, buf, (size_t)len) !=
	    m->from_hash) {
		if (!quiet)
			mb->core->log(SATCHEL_LOG_ERR, "%s: rewritten by another "
		    "program during the session (From_ line at %llu moved)",
		    mb->path, (unsigned long long)m->from_off);
		return 0;
	}
	return 1;
}

/* ---- the scanner's view of the file ------------------------------- */

/* pread for the scanner, on mb->scan_fd; errors are left in errno. */
static ssize_t
mb_read(void *arg, void *buf, size_t len, uint64_t off)
{
	struct mbox *mb = arg;
	ssize_t r;

	do
		r = pread(mb->scan_fd, buf, len, (off_t)off);
	while (r == -1 && errno == EINTR);
	return r;
}

void
mb_scanner_setup(struct mbox *mb, struct mb_scanner *s, int fd,
    struct mb_list *out)
{
	memset(s, 0, sizeof(*s));
	s->core = mb->core;
	s->escape = mb->ctx->escape;
	s->hide = mb->ctx->hide;
	s->md5 = mb->ctx->uidl_format != NULL &&
	    (mb->ctx->uidl_vars & SATCHEL_UIDL_MD5) != 0;
	s->content_length = mb->ctx->content_length;
	s->x_uidl = mb->ctx->x_uidl;
	s->read = mb_read;
	s->arg = mb;
	s->buf = mb->buf;
	s->out = out;
	mb->scan_fd = fd;
}

/* Scan rdfd from start to scan_end into mb->l, logging failures. */
static int
mb_scan_file(struct mbox *mb, uint64_t start)
{
	struct mb_scanner *s = mb->scn;
	int r;

	mb_scanner_setup(mb, s, mb->rdfd, &mb->l);
	(void)posix_fadvise(mb->rdfd, (off_t)start, 0,
	    POSIX_FADV_SEQUENTIAL);
	errno = 0;
	r = mb_scan(s, start, mb->scan_end);
	if (r == -1 && s->notmbox)
		mb->core->log(SATCHEL_LOG_ERR, "%s: not an mbox: no \"From \" "
		    "line at offset %llu (left untouched)", mb->path,
		    (unsigned long long)s->bad_off);
	else if (r == -1 && s->readerr)
		mb->core->log(SATCHEL_LOG_ERR, "%s: read at %llu: %s",
		    mb->path, (unsigned long long)s->bad_off,
		    errno != 0 ? strerror(errno) : "file shrank");
	if (r == -1) {
		mb->fail = s->fail;
		mb->err = s->err;
	}
	return r;
}

/* ---- open / count / info ------------------------------------------ */

/* The lock, index and temporary paths for ref_path (see the top). */
static int
mb_paths(struct mbox *mb, const char *ref_path, const char **errstr_r)
{
	const struct mbox_ctx *ctx = mb->ctx;
	char hx[SATCHEL_HASH_HEX + 1];
	const char *slash;
	uint64_t h[2];
	size_t len;
	int n;

	if (ref_path == NULL || ref_path[0] != '/') {
		*errstr_r = "mailbox path is not absolute";
		return -1;
	}
	len = strlen(ref_path);
	slash = strrchr(ref_path, '/');
	if (len >= sizeof(mb->path) || slash[1] == '\0') {
		*errstr_r = "bad mailbox path";
		return -1;
	}
	memcpy(mb->path, ref_path, len + 1);
	memcpy(mb->dir, ref_path, (size_t)(slash - ref_path));
	mb->dir[slash == ref_path ? 1 : slash - ref_path] = '\0';
	if (slash == ref_path)
		mb->dir[0] = '/';
	if (ctx->state_dir[0] != '\0') {
		mb->core->hash128(mb->path, len, h);
		mb->core->hash128_hex(h, hx);
		hx[16] = '\0';
		n = snprintf(mb->lockpath, sizeof(mb->lockpath), "%s/%s.lock",
		    ctx->state_dir, hx);
		(void)snprintf(mb->idxpath, sizeof(mb->idxpath),
		    "%s/%s.index", ctx->state_dir, hx);
		(void)snprintf(mb->uidspath, sizeof(mb->uidspath),
		    "%s/%s.uids", ctx->state_dir, hx);
		(void)snprintf(mb->pinspath, sizeof(mb->pinspath),
		    "%s/%s.pins", ctx->state_dir, hx);
	} else {
		(void)snprintf(mb->uidspath, sizeof(mb->uidspath),
		    "%s/.%s.satchel-uids", mb->dir, slash + 1);
		(void)snprintf(mb->pinspath, sizeof(mb->pinspath),
		    "%s/.%s.satchel-pins", mb->dir, slash + 1);
		n = snprintf(mb->lockpath, sizeof(mb->lockpath),
		    "%s/.%s.satchel-lock", mb->dir, slash + 1);
		(void)snprintf(mb->idxpath, sizeof(mb->idxpath),
		    "%s/.%s.satchel-index", mb->dir, slash + 1);
	}
	(void)snprintf(mb->tmppath, sizeof(mb->tmppath),
	    "%s/.%s.satchel-new", mb->dir, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(mb->lockpath)) {
		*errstr_r = "mailbox path too long";
		return -1;
	}
	return 0;
}

static int
mbox_open(void *vctx, const struct satchel_mailbox_ref *ref, void **mbox_r,
    const char **errstr_r)
{
	struct mbox_ctx *ctx = vctx;
	const struct satchel_core *core = ctx->core;
	struct mbox *mb;
	struct stat st, st2;
	uint64_t resume;
	size_t reused;
	int r, tries, ret = SATCHEL_MBOX_TEMPFAIL;

	*mbox_r = NULL;
	if ((mb = calloc(1, sizeof(*mb))) == NULL) {
		*errstr_r = "out of memory";
		return SATCHEL_MBOX_TEMPFAIL;
	}
	mb->core = core;
	mb->ctx = ctx;
	mb->lockfd = mb->rdfd = mb->rwfd = -1;
	if (mb_paths(mb, ref->path, errstr_r) == -1) {
		ret = SATCHEL_MBOX_ERROR;
		goto fail;
	}

	/* The session lock: one POP3 session per mbox, MDAs unaffected. */
	ret = core->session_lock(AT_FDCWD, mb->lockpath, MB_SESSION_MS,
	    " (the directory must be writable by the user: "
	    "mail_extra_groups = mail for /var/mail, or set [mbox] "
	    "state_dir)", &mb->lockfd, errstr_r);
	if (ret != SATCHEL_MBOX_OK)
		goto fail;
	ret = SATCHEL_MBOX_TEMPFAIL;

	if ((mb->buf = malloc(MB_BUFSZ)) == NULL ||
	    (mb->scn = malloc(sizeof(*mb->scn))) == NULL) {
		*errstr_r = "out of memory";
		goto fail;
	}
	for (tries = 0;; tries++) {
		mb->rdfd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    O_NONBLOCK);
		if (mb->rdfd == -1 && errno == ENOENT) {
			/* No mail yet: an empty mailbox. */
			mb->missing = 1;
			goto done;
		}
		if (mb->rdfd == -1 || fstat(mb->rdfd, &st) == -1) {
			core->log(SATCHEL_LOG_ERR, "%s: open: %s%s", mb->path,
			    strerror(errno), errno == ELOOP ? " (refused: "
			    "a symbolic link)" : "");
			*errstr_r = "cannot open the mailbox";
			if (errno == EACCES || errno == ELOOP)
				ret = SATCHEL_MBOX_ERROR;
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			core->log(SATCHEL_LOG_ERR, "%s: not a regular file",
			    mb->path);
			*errstr_r = "the mailbox is not a file";
			ret = SATCHEL_MBOX_ERROR;
			goto fail;
		}
		/* Root may read anything anyway; the agent never is. */
		if (st.st_uid != geteuid() && geteuid() != 0) {
			core->log(SATCHEL_LOG_ERR, "%s: refused: owned by uid "
			    "%lu, not by the mail user (uid %lu)", mb->path,
			    (unsigned long)st.st_uid,
			    (unsigned long)geteuid());
			*errstr_r = "the mailbox is not the user's";
			ret = SATCHEL_MBOX_ERROR;
			goto fail;
		}
		if (mb_lock(mb, 0) == -1) {
			*errstr_r = mb->err;
			ret = mb->fail;
			goto fail;
		}
		/* Still the file we opened?  Someone may have renamed. */
		if (fstat(mb->rwfd, &st2) == 0 && fstat(mb->rdfd, &st) == 0 &&
		    st.st_dev == st2.st_dev && st.st_ino == st2.st_ino)
			break;
		mb_unlock(mb);
		(void)close(mb->rdfd);
		mb->rdfd = -1;
		if (tries == 3) {
			*errstr_r = "the mailbox keeps changing";
			goto fail;
		}
	}
	mb->dev = st.st_dev;
	mb->ino = st.st_ino;
	mb->scan_end = (uint64_t)st.st_size;
	mb->mtime = st.st_mtim;

	/* uidl_format needs every message's headers (mbox_uid.c). */
	resume = 0;
	reused = ctx->uidl_format != NULL ? 0 :
	    (size_t)mb_index_load(mb, &resume);
	if (reused > 0 && resume > 0)
		mb->l.n--;	/* the last one is scanned again */
	if (reused == 0 || resume > 0) {
		if (reused > 0) {
			struct mb_msg last = mb->l.v[mb->l.n];

			r = mb_scan_file(mb, resume);
			if (r == 0 && mb->l.n > reused - 1 &&
			    mb->l.v[reused - 1].key[0] == last.key[0] &&
			    mb->l.v[reused - 1].key[1] == last.key[1] &&
			    mb->l.v[reused - 1].cand == NULL)
				mb->l.v[reused - 1].cand = last.cand;
			else
				free(last.cand);
			if (r == 1) {	/* not what the index said */
				mb_list_clear(&mb->l);
				r = mb_scan_file(mb, 0);
			}
		} else
			r = mb_scan_file(mb, 0);
		if (r != 0) {
			mb_unlock(mb);
			*errstr_r = mb->err;
			ret = mb->fail;
			goto fail;
		}
	}
	mb_unlock(mb);
	if (ctx->uidl_format == NULL && reused == 0)
		mb_index_carry(mb, &mb->l);	/* twins keep their UIDs */
	if ((ctx->uidl_format != NULL ? mb_uidl_assign(mb) :
	    mb_assign_uids(core, &mb->l)) == -1 || mb_apply_pins(mb) == -1) {
		*errstr_r = "out of memory";
		goto fail;
	}
	if (ctx->uidl_format == NULL && (reused != mb->l.n || resume > 0))
		mb_index_write(mb, mb->l.v, mb->l.n, &st, mb->scan_end);
done:
	free(mb->scn);
	mb->scn = NULL;
	*mbox_r = mb;
	*errstr_r = NULL;
	return SATCHEL_MBOX_OK;
fail:
	mbox_close(mb);
	return ret;
}

static size_t
mbox_count(void *vmb)
{
	return ((struct mbox *)vmb)->l.n;
}

static int
mbox_info(void *vmb, size_t n, struct satchel_msginfo *info)
{
	struct mbox *mb = vmb;
	char hb[33];
	const char *u;

	if (n >= mb->l.n)
		return -1;
	info->size = mb->l.v[n].size;
	u = mb_uid(mb->core, &mb->l.v[n], hb);
	memcpy(info->uid, u, strlen(u) + 1);
	return 0;
}

/* ---- message ------------------------------------------------------ */

static int
mbox_message(void *vmb, size_t n, struct satchel_msgref *ref,
    const char **errstr_r)
{
	struct mbox *mb = vmb;
	const struct mb_msg *m;
	struct stat st;
	int r, fd;

	if (n >= mb->l.n) {
		*errstr_r = "no such message";
		return -1;
	}
	m = &mb->l.v[n];
	if ((r = mb_same_file(mb, &st)) == 1)
		r = mb_check_from(mb, m, 0);
	if (r != 1) {
		*errstr_r = r == 0 ? "the mailbox was changed by another "
		    "program" : "cannot check the mailbox";
		return -1;
	}
	/* rdfd is read-only: the worker gets no write access. */
	if ((fd = fcntl(mb->rdfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		*errstr_r = "cannot open the message";
		return -1;
	}
	ref->fd = fd;
	ref->offset = (off_t)m->data_off;
	ref->length = m->length;
	ref->flags = m->flags;
	return 0;
}

static void
mbox_close(void *vmb)
{
	struct mbox *mb = vmb;

	if (mb == NULL)
		return;
	mb_unlock(mb);
	mb_list_clear(&mb->l);
	free(mb->l.v);
	free(mb->buf);
	free(mb->scn);
	if (mb->rdfd != -1)
		(void)close(mb->rdfd);
	/* Closing the lock file releases the session lock: last. */
	if (mb->lockfd != -1)
		(void)close(mb->lockfd);
	free(mb);
}

/* ---- the module --------------------------------------------------- */

SATCHEL_STORAGE_OPS(mbox);
SATCHEL_MODULE_DEFINE(SATCHEL_MODULE_STORAGE, "mbox", PACKAGE_VERSION,
    mbox_ops);
