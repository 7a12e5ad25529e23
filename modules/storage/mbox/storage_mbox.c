/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * storage_mbox.c -- the "mbox" storage module: /var/mail/$USER and
 * virtual mbox files.  init() runs in the master; everything else runs in
 * the mailbox agent as the mail user (plus the groups in
 * mail_extra_groups, typically "mail" for a setgid /var/mail), never
 * privileged.  It logs, locks, sizes and reads its configuration only
 * through the struct satchel_core it is given.  The module reports where
 * each message lies in the file; the core unescapes >From, converts line
 * ends and dot-stuffs while streaming.
 *
 * Configuration, section [mbox]:
 *   escape = mboxrd|mboxo   how ">From " in bodies is undone (mboxrd)
 *   content_length = yes|no honour Content-Length: headers (no)
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
 * empty line is body text.  With content_length = yes, a Content-Length:
 * header whose end lands on the end of the file or on "\nFrom " after
 * an empty line makes "From " lines inside that body text.  Empty lines
 * before the first From_ line are allowed (and kept); any other start is
 * not an mbox: [SYS/PERM], logged, never rewritten.  NULs, CRLF line
 * ends, lines of any length and a last message without a final newline
 * are served as they are.
 *
 * Sizes are computed with core->msg_size_* over exactly the bytes message()
 * hands out (after the From_ line, up to the separator), with the escape
 * flag, so LIST equals what RETR sends.
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
 * rewrite cannot be crash-safe without a journal, so there is none.  If
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
 *
 * Index.  A text file: a header line with the options that change
 * sizes and UIDs, a line "mbox <dev> <ino> <size> <mtime s> <mtime ns>",
 * one line per message "<from> <data> <length> <size> <fromhash> <key>
 * <uid|->" and "end <count> <hash of all before>".  Same inode, size and
 * mtime: used as it is.  Same inode and a larger size: the messages but
 * the last are reused after checking the first and last From_ lines, and
 * the scan restarts at the last one.  Anything else, or any parse error:
 * full scan, index rewritten.  Written to a temporary name and renamed.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "compat/poison.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define MB_CHUNK	(1024 * 1024)	/* read size while scanning */
#define MB_LCAP		4096		/* line bytes kept for parsing */
#define MB_FROMCHK	256		/* From_ bytes checked before access */
#define MB_STALE_S	300		/* dotlock age that counts as stale */
#define MB_SESSION_MS	500		/* wait for the session lock */
#define MB_HVAL		512		/* Message-ID and Date kept */
#define MB_INDEX_MAX	((off_t)512 * 1024 * 1024)
#define MB_INDEX_MAGIC	"satchel-mbox-index 1"

#define H_NONE		0
#define H_MSGID		1
#define H_DATE		2
#define H_XUIDL		3
#define H_CL		4

struct mbox_ctx {
	const struct satchel_core *core;
	uint32_t	 escape;	/* SATCHEL_MSG_MBOXRD or _MBOXO */
	int		 content_length, dotlock, x_uidl, index;
	int		 lock_timeout_ms;
	char		 state_dir[SATCHEL_PATH_MAX];
};

struct mb_msg {
	uint64_t	 from_off;	/* the From_ line */
	uint64_t	 data_off;	/* first header byte */
	uint64_t	 length;	/* stored bytes, no separator */
	uint64_t	 size;		/* RFC 1939 */
	uint64_t	 from_hash;	/* FNV-1a of the From_ line's head */
	uint64_t	 key[2];	/* the UID hash */
	char		*uid;		/* NULL: hex of key */
	char		*cand;		/* scan only: X-UIDL or index UID */
};

struct mb_scan {
	uint64_t	 base;		/* file offset of buf[0] */
	size_t		 len;		/* bytes in buf */
	uint64_t	 end;		/* scan stops here */
	uint64_t	 off;		/* next byte to look at */
	int		 in_line, line_from, captured;
	uint64_t	 line_off;
	size_t		 cap_len;
	int		 prev_empty;
	uint64_t	 empty_off;
	int		 open, in_from, in_hdr, hdr_cur;
	uint64_t	 fed, cl_until;
	struct satchel_msgsize st;
	uint64_t	 size;
	struct mb_msg	 cur;
	int		 seen[5];
	uint64_t	 cl;
	char		 msgid[MB_HVAL], date[MB_HVAL];
	size_t		 msgid_len, date_len;
	char		 xuidl[SATCHEL_UID_MAX + 2];
	size_t		 xuidl_len;
	char		 from[MB_LCAP];
	size_t		 from_len;
	char		 lbuf[MB_LCAP];
};

struct mbox {
	const struct satchel_core *core;
	const struct mbox_ctx *ctx;
	char		 path[SATCHEL_PATH_MAX];
	char		 dir[SATCHEL_PATH_MAX];
	char		 lockpath[SATCHEL_PATH_MAX + 64];
	char		 idxpath[SATCHEL_PATH_MAX + 64];
	char		 tmppath[SATCHEL_PATH_MAX + 64];
	int		 lockfd, rdfd, rwfd;
	int		 dotlocked, missing;
	dev_t		 dev;
	ino_t		 ino;
	uint64_t	 scan_end;
	struct timespec	 mtime;
	struct mb_msg	*msgs;
	size_t		 n, cap;
	char		*buf;
	struct mb_scan	*sc;
	int		 fail;		/* SATCHEL_MBOX_* of a failed step */
	const char	*err;
};

static int	mbox_init(const struct satchel_core *,
		    const struct satchel_conf *, void **);
static int	mbox_open(void *, const struct satchel_mailbox_ref *,
		    void **, const char **);
static size_t	mbox_count(void *);
static int	mbox_info(void *, size_t, struct satchel_msginfo *);
static int	mbox_message(void *, size_t, struct satchel_msgref *,
		    const char **);
static int	mbox_commit(void *, const uint8_t *, size_t, const char **);
static void	mbox_close(void *);
static void	mbox_fini(void *);

static uint64_t	mb_fnv(uint64_t, const void *, size_t);
static void	mb_hex(const uint64_t *, char *);
static const char *mb_uid(const struct mb_msg *, char *);
static int	mb_lock(struct mbox *, int);
static void	mb_unlock(struct mbox *);
static int	mb_same_file(struct mbox *, struct stat *);
static int	mb_check_from(struct mbox *, const struct mb_msg *, int);
static int	mb_push(struct mbox *, struct mb_msg *);
static void	mb_feed(struct mbox *, struct mb_scan *, uint64_t);
static void	mb_close_msg(struct mbox *, struct mb_scan *, uint64_t);
static void	mb_header(struct mbox *, struct mb_scan *, const char *,
		    size_t);
static int	mb_line_head(struct mbox *, struct mb_scan *);
static void	mb_line_end(struct mbox *, struct mb_scan *);
static int	mb_scan(struct mbox *, uint64_t);
static int	mb_assign_uids(struct mbox *);
static int	mb_index_load(struct mbox *, uint64_t *);
static void	mb_index_write(struct mbox *, const struct mb_msg *, size_t,
		    const struct stat *, uint64_t);
static void	mb_free_msgs(struct mbox *);
static int	mb_copy(struct mbox *, int, uint64_t, uint64_t, uint64_t *);

static const struct satchel_storage_ops mbox_ops = {
	.init = mbox_init,
	.open = mbox_open,
	.count = mbox_count,
	.info = mbox_info,
	.message = mbox_message,
	.commit = mbox_commit,
	.close = mbox_close,
	.fini = mbox_fini,
};

SATCHEL_EXPORT const struct satchel_module satchel_module = {
	.abi_major = SATCHEL_ABI_MAJOR,
	.abi_minor = SATCHEL_ABI_MINOR,
	.kind = SATCHEL_MODULE_STORAGE,
	.ops_size = sizeof(mbox_ops),
	.name = "mbox",
	.version = PACKAGE_VERSION,
	.ops = &mbox_ops,
};

/* ---- small helpers ------------------------------------------------ */

static uint64_t
mb_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
mb_hex(const uint64_t *h, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 16; j++)
			out[i * 16 + j] = hex[(h[i] >> (60 - 4 * j)) & 0xf];
	out[32] = '\0';
}

/* The UID of m: its own string, or the hex of its key in buf[33]. */
static const char *
mb_uid(const struct mb_msg *m, char *buf)
{
	if (m->uid != NULL)
		return m->uid;
	mb_hex(m->key, buf);
	return buf;
}

static int
mb_push(struct mbox *mb, struct mb_msg *m)
{
	struct mb_msg *nm;
	size_t ncap;

	if (mb->n == mb->cap) {
		ncap = mb->cap == 0 ? 1024 : mb->cap * 2;
		if ((nm = reallocarray(mb->msgs, ncap, sizeof(*nm))) == NULL)
			return -1;
		mb->msgs = nm;
		mb->cap = ncap;
	}
	mb->msgs[mb->n++] = *m;
	return 0;
}

static void
mb_free_msgs(struct mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->n; i++) {
		free(mb->msgs[i].uid);
		free(mb->msgs[i].cand);
	}
	mb->n = 0;
}

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
		    0 },
		{ "dotlock", offsetof(struct mbox_ctx, dotlock), 1 },
		{ "x_uidl", offsetof(struct mbox_ctx, x_uidl), 0 },
		{ "index", offsetof(struct mbox_ctx, index), 1 },
	};
	struct mbox_ctx *ctx;
	const char *s;
	uint64_t v;
	size_t i;
	int b;

	if (core->size < offsetof(struct satchel_core, msg_size_end) +
	    sizeof(core->msg_size_end)) {
		core->log(SATCHEL_LOG_ERR, "core interface too old");
		return -1;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		core->log(SATCHEL_LOG_ERR, "calloc failed");
		return -1;
	}
	ctx->core = core;
	ctx->escape = SATCHEL_MSG_MBOXRD;
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
		else {
			core->conf_error(conf, "escape",
			    "expected mboxrd or mboxo");
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
	*ctx_r = ctx;
	return 0;
fail:
	free(ctx);
	return -1;
}

static void
mbox_fini(void *vctx)
{
	free(vctx);
}

/* ---- locks -------------------------------------------------------- */

/*
 * Take the MDA locks: the dotlock (if configured), then an fcntl lock on
 * a fresh descriptor rwfd (write lock when it could be opened for
 * writing), within lock_timeout_ms in all.  Returns 0, or -1 with
 * mb->fail and mb->err set.
 */
static int
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
static void
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
static int
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
static int
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
	    mb_fnv(0xcbf29ce484222325ULL, buf, (size_t)len) != m->from_hash) {
		if (!quiet)
			mb->core->log(SATCHEL_LOG_ERR, "%s: rewritten by another "
		    "program during the session (From_ line at %llu moved)",
		    mb->path, (unsigned long long)m->from_off);
		return 0;
	}
	return 1;
}

/* ---- the scanner -------------------------------------------------- */

/* Feed the current message's bytes up to file offset to. */
static void
mb_feed(struct mbox *mb, struct mb_scan *sc, uint64_t to)
{
	if (to > sc->fed) {
		sc->size += mb->core->msg_size_feed(&sc->st,
		    mb->buf + (sc->fed - sc->base), (size_t)(to - sc->fed));
		sc->fed = to;
	}
}

static void
mb_close_msg(struct mbox *mb, struct mb_scan *sc, uint64_t end)
{
	char key[MB_LCAP + 2 * MB_HVAL + 2];
	struct mb_msg *m = &sc->cur;
	size_t k = 0;
	uint64_t l;

	mb_feed(mb, sc, end);
	sc->size += mb->core->msg_size_end(&sc->st);
	m->length = end - m->data_off;
	m->size = sc->size;
	memcpy(key, sc->from, sc->from_len);
	k = sc->from_len;
	key[k++] = '\n';
	memcpy(key + k, sc->msgid, sc->msgid_len);
	k += sc->msgid_len;
	key[k++] = '\n';
	memcpy(key + k, sc->date, sc->date_len);
	k += sc->date_len;
	l = k;
	m->key[0] = mb_fnv(0xcbf29ce484222325ULL, key, k);
	m->key[1] = mb_fnv(mb_fnv(0x6c62272e07bb0142ULL, key, k), &l,
	    sizeof(l));
	if (mb->ctx->x_uidl && sc->xuidl_len > 0 &&
	    sc->xuidl_len <= SATCHEL_UID_MAX && m->cand == NULL) {
		size_t i;
		int ok = 1;

		for (i = 0; i < sc->xuidl_len; i++)
			if ((unsigned char)sc->xuidl[i] < 0x21 ||
			    (unsigned char)sc->xuidl[i] > 0x7e)
				ok = 0;
		if (ok && (m->cand = malloc(sc->xuidl_len + 1)) != NULL) {
			memcpy(m->cand, sc->xuidl, sc->xuidl_len);
			m->cand[sc->xuidl_len] = '\0';
		}
	}
	if (mb_push(mb, m) == -1) {
		free(m->cand);
		mb->fail = SATCHEL_MBOX_TEMPFAIL;
		mb->err = "out of memory";
	}
	memset(m, 0, sizeof(*m));
	sc->open = 0;
}

/* Append a header value (trimmed) to dst, at most MB_HVAL - 1 bytes. */
static size_t
mb_hval(char *dst, size_t have, size_t max, const char *p, size_t len)
{
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' ||
	    p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (have > 0 && len > 0 && have < max)
		dst[have++] = ' ';
	if (len > max - have)
		len = max - have;
	memcpy(dst + have, p, len);
	return have + len;
}

/* One header line (its first MB_LCAP bytes) of the current message. */
static void
mb_header(struct mbox *mb, struct mb_scan *sc, const char *p, size_t len)
{
	static const struct {
		const char *name;
		size_t len;
		int which;
	} hdrs[] = {
		{ "message-id:", 11, H_MSGID },
		{ "date:", 5, H_DATE },
		{ "x-uidl:", 7, H_XUIDL },
		{ "content-length:", 15, H_CL },
	};
	size_t i, j;
	uint64_t v;
	int digits;

	(void)mb;
	if (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
		/* A folded line continues the header before it. */
		if (sc->hdr_cur == H_MSGID)
			sc->msgid_len = mb_hval(sc->msgid, sc->msgid_len,
			    sizeof(sc->msgid), p, len);
		else if (sc->hdr_cur == H_DATE)
			sc->date_len = mb_hval(sc->date, sc->date_len,
			    sizeof(sc->date), p, len);
		return;
	}
	sc->hdr_cur = H_NONE;
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		if (len < hdrs[i].len)
			continue;
		for (j = 0; j < hdrs[i].len; j++)
			if ((p[j] | 0x20) != hdrs[i].name[j] &&
			    p[j] != hdrs[i].name[j])
				break;
		if (j == hdrs[i].len)
			break;
	}
	if (i == sizeof(hdrs) / sizeof(hdrs[0]) || sc->seen[hdrs[i].which])
		return;		/* only the first of each counts */
	sc->seen[hdrs[i].which] = 1;
	sc->hdr_cur = hdrs[i].which;
	p += hdrs[i].len;
	len -= hdrs[i].len;
	switch (hdrs[i].which) {
	case H_MSGID:
		sc->msgid_len = mb_hval(sc->msgid, 0, sizeof(sc->msgid), p,
		    len);
		break;
	case H_DATE:
		sc->date_len = mb_hval(sc->date, 0, sizeof(sc->date), p,
		    len);
		break;
	case H_XUIDL:
		sc->xuidl_len = mb_hval(sc->xuidl, 0, sizeof(sc->xuidl), p,
		    len);
		break;
	case H_CL:
		v = 0;
		digits = 0;
		for (; len > 0 && (*p == ' ' || *p == '\t'); p++, len--)
			;
		for (; len > 0 && *p >= '0' && *p <= '9'; p++, len--) {
			if (v > (UINT64_MAX - 9) / 10)
				return;
			v = v * 10 + (uint64_t)(*p - '0');
			digits++;
		}
		for (; len > 0 && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'); p++, len--)
			;
		if (digits > 0 && len == 0) {
			sc->cl = v;
			sc->seen[H_CL] = 2;	/* valid */
		}
		break;
	}
}

/*
 * At the start of a line (at least 5 bytes, or all up to the end, are in
 * the buffer): is it a From_ line that starts a message?  Returns 0, or
 * -1 when the file is not an mbox.
 */
static int
mb_line_head(struct mbox *mb, struct mb_scan *sc)
{
	const char *p = mb->buf + (sc->off - sc->base);
	uint64_t left = sc->end - sc->off;

	sc->in_line = 1;
	sc->line_off = sc->off;
	sc->captured = 0;
	sc->line_from = 0;
	if (left >= 5 && memcmp(p, "From ", 5) == 0 &&
	    (sc->off == 0 || sc->prev_empty) && sc->off >= sc->cl_until) {
		if (sc->open)
			mb_close_msg(mb, sc, sc->prev_empty ? sc->empty_off :
			    sc->off);
		memset(&sc->cur, 0, sizeof(sc->cur));
		sc->cur.from_off = sc->off;
		sc->open = 1;
		sc->in_from = 1;
		sc->line_from = 1;
		sc->prev_empty = 0;
		return 0;
	}
	if (!sc->open) {
		/* Before the first message only empty lines may come. */
		if (p[0] == '\n' || (left >= 2 && p[0] == '\r' &&
		    p[1] == '\n'))
			return 0;
		mb->core->log(SATCHEL_LOG_ERR, "%s: not an mbox: no \"From \" "
		    "line at offset %llu (left untouched)", mb->path,
		    (unsigned long long)sc->off);
		mb->fail = SATCHEL_MBOX_ERROR;
		mb->err = "the mailbox file is not in mbox format";
		return -1;
	}
	/* A held empty line was content after all: it is fed later. */
	sc->prev_empty = 0;
	return 0;
}

/* The current line ended (sc->off is just past it). */
static void
mb_line_end(struct mbox *mb, struct mb_scan *sc)
{
	uint64_t llen = sc->off - sc->line_off, target;
	const char *p;
	size_t plen;
	char tb[8];
	ssize_t r;

	if (sc->line_off >= sc->base) {
		p = mb->buf + (sc->line_off - sc->base);
		plen = llen > MB_LCAP ? MB_LCAP : (size_t)llen;
	} else {
		p = sc->lbuf;
		plen = sc->cap_len;
	}
	sc->in_line = 0;
	if (sc->line_from) {
		sc->line_from = 0;
		sc->in_from = 0;
		sc->in_hdr = 1;
		sc->hdr_cur = H_NONE;
		memset(sc->seen, 0, sizeof(sc->seen));
		sc->msgid_len = sc->date_len = sc->xuidl_len = 0;
		sc->cur.data_off = sc->off;
		sc->cur.from_hash = mb_fnv(0xcbf29ce484222325ULL, p,
		    llen > MB_FROMCHK ? MB_FROMCHK : (size_t)llen);
		sc->from_len = plen;
		while (sc->from_len > 0 && (p[sc->from_len - 1] == '\n' ||
		    p[sc->from_len - 1] == '\r'))
			sc->from_len--;
		memcpy(sc->from, p, sc->from_len);
		sc->fed = sc->off;
		sc->size = 0;
		mb->core->msg_size_init(&sc->st, mb->ctx->escape);
		return;
	}
	if ((llen == 1 && p[0] == '\n') ||
	    (llen == 2 && p[0] == '\r' && p[1] == '\n')) {
		if (sc->in_hdr) {
			sc->in_hdr = 0;
			target = sc->off + sc->cl;
			if (mb->ctx->content_length && sc->seen[H_CL] == 2 &&
			    target <= sc->end && target > 0) {
				if (target == sc->end)
					sc->cl_until = target;
				else if ((r = pread(mb->rdfd, tb, sizeof(tb),
				    (off_t)target - 1)) >= 7 &&
				    (memcmp(tb, "\n\nFrom ", 7) == 0 ||
				    (r == 8 && memcmp(tb, "\n\r\nFrom ", 8) ==
				    0)))
					sc->cl_until = target;
			}
		}
		sc->prev_empty = 1;
		sc->empty_off = sc->line_off;
		return;
	}
	if (sc->in_hdr)
		mb_header(mb, sc, p, plen);
}

/*
 * Scan from offset start (0, or the From_ line of a message known from
 * the index) to mb->scan_end, appending to mb->msgs.  Reads MB_CHUNK at a
 * time; a line of up to MB_LCAP bytes is always whole in the buffer (the
 * unfinished one is carried over), longer lines keep their head in
 * lbuf.  Returns 0, 1 if start is not a From_ line, or -1 (mb->fail).
 */
static int
mb_scan(struct mbox *mb, uint64_t start)
{
	struct mb_scan *sc = mb->sc;
	uint64_t keep, bufend;
	size_t want, cap = MB_CHUNK + MB_LCAP + 16;
	ssize_t r;
	char *lf;

	memset(sc, 0, sizeof(*sc));
	sc->base = sc->off = start;
	sc->end = mb->scan_end;
	if (start > 0) {
		sc->prev_empty = 1;	/* the separator before it */
		sc->empty_off = start;
	}
	(void)posix_fadvise(mb->rdfd, (off_t)start, 0,
	    POSIX_FADV_SEQUENTIAL);
	for (;;) {
		/* Refill: read after what is carried over. */
		bufend = sc->base + sc->len;
		if (bufend < sc->end && sc->len < cap - MB_LCAP) {
			want = cap - sc->len;
			if (want > sc->end - bufend)
				want = (size_t)(sc->end - bufend);
			r = pread(mb->rdfd, mb->buf + sc->len, want,
			    (off_t)bufend);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				mb->core->log(SATCHEL_LOG_ERR, "%s: read at "
				    "%llu: %s", mb->path,
				    (unsigned long long)bufend, r == 0 ?
				    "file shrank" : strerror(errno));
				mb->fail = SATCHEL_MBOX_TEMPFAIL;
				mb->err = "cannot read the mailbox";
				return -1;
			}
			sc->len += (size_t)r;
			bufend += (uint64_t)r;
		}
		while (sc->off < bufend) {
			if (!sc->in_line) {
				uint64_t need = sc->end - sc->off;

				if (need > 5)
					need = 5;
				if (bufend - sc->off < need)
					break;
				if (start > 0 && sc->off == start &&
				    (sc->end - start < 5 || memcmp(mb->buf +
				    (start - sc->base), "From ", 5) != 0))
					return 1;
				if (mb_line_head(mb, sc) == -1)
					return -1;
			}
			lf = memchr(mb->buf + (sc->off - sc->base), '\n',
			    (size_t)(bufend - sc->off));
			if (lf == NULL) {
				sc->off = bufend;
				break;
			}
			sc->off = sc->base + (uint64_t)(lf - mb->buf) + 1;
			mb_line_end(mb, sc);
			if (mb->fail != 0)
				return -1;
		}
		if (bufend >= sc->end && sc->off >= sc->end) {
			if (sc->in_line)
				mb_line_end(mb, sc);	/* no final LF */
			if (sc->open)
				mb_close_msg(mb, sc, sc->prev_empty ?
				    sc->empty_off : sc->end);
			return mb->fail != 0 ? -1 : 0;
		}
		/* Decide what must stay in the buffer. */
		keep = sc->off;
		if (sc->in_line) {
			if (sc->off - sc->line_off <= MB_LCAP)
				keep = sc->line_off;
			else if (!sc->captured) {
				memcpy(sc->lbuf, mb->buf + (sc->line_off -
				    sc->base), MB_LCAP);
				sc->cap_len = MB_LCAP;
				sc->captured = 1;
			}
		}
		if (sc->prev_empty && sc->empty_off < keep &&
		    sc->empty_off >= sc->base)
			keep = sc->empty_off;
		if (sc->open && !sc->in_from && keep > sc->fed)
			mb_feed(mb, sc, keep);
		memmove(mb->buf, mb->buf + (keep - sc->base),
		    (size_t)(bufend - keep));
		sc->len = (size_t)(bufend - keep);
		sc->base = keep;
	}
}

/* ---- UIDs --------------------------------------------------------- */

/*
 * Give every message without one its UID (see the top of the file): a
 * candidate (index or X-UIDL) if still free, else the hash, else the
 * hash with "-n".  An open-addressing set of message numbers keeps the
 * check O(1) per message.
 */
static int
mb_assign_uids(struct mbox *mb)
{
	char buf[SATCHEL_UID_MAX + 1], hb[33], ub[33];
	const char *cand;
	struct mb_msg *m;
	size_t *set, cap = 16, i, j, len;
	unsigned int dup;
	int step, n;

	while (cap < mb->n * 2)
		cap *= 2;
	if ((set = calloc(cap, sizeof(*set))) == NULL)
		return -1;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		for (step = 0, dup = 1;; step++) {
			if (step == 0 && m->uid != NULL)
				cand = m->uid;		/* from the index */
			else if (step <= 1 && m->cand != NULL) {
				cand = m->cand;
				step = 1;
			} else if (dup == 1) {
				mb_hex(m->key, hb);
				cand = hb;
				dup++;
			} else {
				mb_hex(m->key, hb);
				n = snprintf(buf, sizeof(buf), "%s-%u", hb,
				    dup++);
				if (n < 0 || (size_t)n >= sizeof(buf))
					goto fail;
				cand = buf;
			}
			len = strlen(cand);
			j = mb_fnv(0xcbf29ce484222325ULL, cand, len) &
			    (cap - 1);
			while (set[j] != 0 && strcmp(mb_uid(&mb->msgs[set[j] -
			    1], ub), cand) != 0)
				j = (j + 1) & (cap - 1);
			if (set[j] == 0)
				break;
			if (step > 1000000)
				goto fail;
		}
		if (cand != m->uid) {
			free(m->uid);
			m->uid = NULL;
			mb_hex(m->key, hb);
			if (strcmp(cand, hb) != 0 &&
			    (m->uid = strdup(cand)) == NULL)
				goto fail;
		}
		free(m->cand);
		m->cand = NULL;
		set[j] = i + 1;
	}
	free(set);
	return 0;
fail:
	free(set);
	return -1;
}

/* ---- the index ---------------------------------------------------- */

static void
mb_opts(const struct mbox *mb, char *buf, size_t sz)
{
	(void)snprintf(buf, sz, "%s cl%d xu%d",
	    mb->ctx->escape == SATCHEL_MSG_MBOXO ? "mboxo" : "mboxrd",
	    mb->ctx->content_length, mb->ctx->x_uidl);
}

/* Parse an unsigned decimal or (hex) number ending at a space or NL. */
static int
mb_num(const char **pp, const char *end, int hex, uint64_t *v_r)
{
	const char *p = *pp;
	uint64_t v = 0;
	int d, digits = 0;

	for (; p < end && *p != ' ' && *p != '\n'; p++, digits++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (hex && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			return -1;
		if (digits >= (hex ? 16 : 19))
			return -1;
		v = v * (hex ? 16 : 10) + (uint64_t)d;
	}
	if (digits == 0 || p == end)
		return -1;
	*v_r = v;
	*pp = p + 1;
	return 0;
}

/*
 * Load the index if it matches the mbox (see the top of the file).
 * Returns the number of messages to reuse (0: scan all) with *resume_r
 * the offset to scan from; the reused messages are in mb->msgs.
 */
static int
mb_index_load(struct mbox *mb, uint64_t *resume_r)
{
	char opts[64], *data = NULL, *end, hb[33];
	const char *p, *q;
	struct stat st;
	struct mb_msg m;
	uint64_t v[7], sum, cnt, k[2];
	size_t i;
	int fd, grown, n;

	*resume_r = 0;
	if (!mb->ctx->index)
		return 0;
	fd = open(mb->idxpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_size > MB_INDEX_MAX ||
	    (data = malloc((size_t)st.st_size + 1)) == NULL ||
	    pread(fd, data, (size_t)st.st_size, 0) != st.st_size) {
		(void)close(fd);
		free(data);
		return 0;
	}
	(void)close(fd);
	end = data + st.st_size;
	*end = '\0';
	/* The checksum line covers everything before it. */
	for (q = end - 1; q > data && q[-1] != '\n'; q--)
		;
	p = q;
	if (end - p < 5 || memcmp(p, "end ", 4) != 0)
		goto bad;
	p += 4;
	if (mb_num(&p, end, 0, &cnt) == -1 || mb_num(&p, end, 1, &sum) == -1 ||
	    p != end || mb_fnv(0xcbf29ce484222325ULL, data,
	    (size_t)(q - data)) != sum)
		goto bad;
	end = (char *)q;
	mb_opts(mb, opts, sizeof(opts));
	p = data;
	n = snprintf(hb, sizeof(hb), "%s ", MB_INDEX_MAGIC);
	if (n < 0 || end - p < n || memcmp(p, hb, (size_t)n) != 0)
		goto bad;
	p += n;
	if ((size_t)(end - p) < strlen(opts) + 1 ||
	    memcmp(p, opts, strlen(opts)) != 0 || p[strlen(opts)] != '\n')
		goto bad;
	p += strlen(opts) + 1;
	if (end - p < 5 || memcmp(p, "mbox ", 5) != 0)
		goto bad;
	p += 5;
	for (i = 0; i < 5; i++)
		if (mb_num(&p, end, 0, &v[i]) == -1)
			goto bad;
	if (v[0] != (uint64_t)mb->dev || v[1] != (uint64_t)mb->ino ||
	    v[2] > mb->scan_end)
		goto bad;
	grown = v[2] < mb->scan_end || v[3] != (uint64_t)mb->mtime.tv_sec ||
	    v[4] != (uint64_t)mb->mtime.tv_nsec;
	if (grown && v[2] == mb->scan_end)
		goto bad;	/* same size, new mtime: rewritten */
	for (i = 0; i < cnt; i++) {
		memset(&m, 0, sizeof(m));
		if (mb_num(&p, end, 0, &v[0]) == -1 ||
		    mb_num(&p, end, 0, &v[1]) == -1 ||
		    mb_num(&p, end, 0, &v[2]) == -1 ||
		    mb_num(&p, end, 0, &v[3]) == -1 ||
		    mb_num(&p, end, 1, &v[4]) == -1 ||
		    mb_num(&p, end, 1, &k[0]) == -1 ||
		    mb_num(&p, end, 1, &k[1]) == -1)
			goto bad;
		m.from_off = v[0];
		m.data_off = v[1];
		m.length = v[2];
		m.size = v[3];
		m.from_hash = v[4];
		m.key[0] = k[0];
		m.key[1] = k[1];
		if (m.data_off <= m.from_off || m.data_off + m.length >
		    mb->scan_end || (i > 0 && m.from_off < mb->msgs[i -
		    1].data_off + mb->msgs[i - 1].length))
			goto bad;
		for (q = p; q < end && *q != '\n'; q++)
			if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e)
				goto bad;
		if (q == end || q == p || q - p > SATCHEL_UID_MAX)
			goto bad;
		if (!(q - p == 1 && *p == '-')) {
			if ((m.uid = malloc((size_t)(q - p) + 1)) == NULL)
				goto bad;
			memcpy(m.uid, p, (size_t)(q - p));
			m.uid[q - p] = '\0';
		}
		p = q + 1;
		if (mb_push(mb, &m) == -1) {
			free(m.uid);
			goto bad;
		}
	}
	if (p != end || mb->n == 0)
		goto bad;
	free(data);
	data = NULL;
	if (!grown)
		return (int)mb->n;	/* unchanged: use it as it is */
	/* Grown: check the first and the last From_ line, rescan the last. */
	if (mb_check_from(mb, &mb->msgs[0], 1) != 1 ||
	    mb_check_from(mb, &mb->msgs[mb->n - 1], 1) != 1)
		goto bad;
	*resume_r = mb->msgs[mb->n - 1].from_off;
	/* The last one is scanned again; its UID is a candidate. */
	mb->msgs[mb->n - 1].cand = mb->msgs[mb->n - 1].uid;
	mb->msgs[mb->n - 1].uid = NULL;
	return (int)mb->n;
bad:
	free(data);
	mb_free_msgs(mb);
	return 0;
}

/*
 * Write the index for msgs[0..n) of the file described by st, valid up
 * to size.  Failure is only logged: the index just saves work.
 */
static void
mb_index_write(struct mbox *mb, const struct mb_msg *msgs, size_t n,
    const struct stat *st, uint64_t size)
{
	char tmp[SATCHEL_PATH_MAX + 80], opts[64], ub[33], *out = mb->buf;
	const struct mb_msg *m;
	size_t len = 0, cap = MB_CHUNK;
	uint64_t sum = 0xcbf29ce484222325ULL;
	size_t i;
	int fd, k, err = 0;

	if (!mb->ctx->index || n == 0)
		return;
	k = snprintf(tmp, sizeof(tmp), "%s.tmp", mb->idxpath);
	if (k < 0 || (size_t)k >= sizeof(tmp))
		return;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		goto fail;
	mb_opts(mb, opts, sizeof(opts));
	k = snprintf(out, cap, "%s %s\nmbox %llu %llu %llu %lld %ld\n",
	    MB_INDEX_MAGIC, opts, (unsigned long long)st->st_dev,
	    (unsigned long long)st->st_ino, (unsigned long long)size,
	    (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
	if (k < 0 || (size_t)k >= cap)
		err = 1;
	else
		len = (size_t)k;
	for (i = 0; i <= n && !err; i++) {
		if (len > cap - 256 - SATCHEL_UID_MAX || i == n) {
			sum = mb_fnv(sum, out, len);
			if (write(fd, out, len) != (ssize_t)len)
				err = 1;
			len = 0;
			if (i == n)
				break;
		}
		m = &msgs[i];
		k = snprintf(out + len, cap - len, "%llu %llu %llu %llu "
		    "%llx %llx %llx %s\n", (unsigned long long)m->from_off,
		    (unsigned long long)m->data_off,
		    (unsigned long long)m->length,
		    (unsigned long long)m->size,
		    (unsigned long long)m->from_hash,
		    (unsigned long long)m->key[0],
		    (unsigned long long)m->key[1],
		    m->uid != NULL ? m->uid : "-");
		if (k < 0 || (size_t)k >= cap - len)
			err = 1;
		else
			len += (size_t)k;
		(void)ub;
	}
	if (!err) {
		k = snprintf(out, cap, "end %zu %llx\n", n,
		    (unsigned long long)sum);
		if (k < 0 || write(fd, out, (size_t)k) != k)
			err = 1;
	}
	if (close(fd) == -1 || err)
		goto fail;
	if (rename(tmp, mb->idxpath) == -1)
		goto fail;
	return;
fail:
	mb->core->log(SATCHEL_LOG_WARNING, "%s: cannot write the index: %s",
	    mb->idxpath, err ? "write error" : strerror(errno));
	(void)unlink(tmp);
}

/* ---- open / count / info ------------------------------------------ */

static int
mbox_open(void *vctx, const struct satchel_mailbox_ref *ref, void **mbox_r,
    const char **errstr_r)
{
	struct mbox_ctx *ctx = vctx;
	const struct satchel_core *core = ctx->core;
	struct mbox *mb;
	struct stat st, st2;
	const char *slash;
	uint64_t resume, h[2], l;
	char hx[33];
	size_t len, reused;
	int n, r, tries, ret = SATCHEL_MBOX_TEMPFAIL;

	*mbox_r = NULL;
	if (ref->path == NULL || ref->path[0] != '/') {
		*errstr_r = "mailbox path is not absolute";
		return SATCHEL_MBOX_ERROR;
	}
	if ((mb = calloc(1, sizeof(*mb))) == NULL) {
		*errstr_r = "out of memory";
		return SATCHEL_MBOX_TEMPFAIL;
	}
	mb->core = core;
	mb->ctx = ctx;
	mb->lockfd = mb->rdfd = mb->rwfd = -1;
	len = strlen(ref->path);
	slash = strrchr(ref->path, '/');
	if (len >= sizeof(mb->path) || slash[1] == '\0') {
		*errstr_r = "bad mailbox path";
		ret = SATCHEL_MBOX_ERROR;
		goto fail;
	}
	memcpy(mb->path, ref->path, len + 1);
	memcpy(mb->dir, ref->path, (size_t)(slash - ref->path));
	mb->dir[slash == ref->path ? 1 : slash - ref->path] = '\0';
	if (slash == ref->path)
		mb->dir[0] = '/';
	if (ctx->state_dir[0] != '\0') {
		l = len;
		h[0] = mb_fnv(0xcbf29ce484222325ULL, mb->path, len);
		h[1] = mb_fnv(mb_fnv(0x6c62272e07bb0142ULL, mb->path, len),
		    &l, sizeof(l));
		mb_hex(h, hx);
		hx[16] = '\0';
		n = snprintf(mb->lockpath, sizeof(mb->lockpath), "%s/%s.lock",
		    ctx->state_dir, hx);
		(void)snprintf(mb->idxpath, sizeof(mb->idxpath),
		    "%s/%s.index", ctx->state_dir, hx);
	} else {
		n = snprintf(mb->lockpath, sizeof(mb->lockpath),
		    "%s/.%s.satchel-lock", mb->dir, slash + 1);
		(void)snprintf(mb->idxpath, sizeof(mb->idxpath),
		    "%s/.%s.satchel-index", mb->dir, slash + 1);
	}
	(void)snprintf(mb->tmppath, sizeof(mb->tmppath),
	    "%s/.%s.satchel-new", mb->dir, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(mb->lockpath)) {
		*errstr_r = "mailbox path too long";
		ret = SATCHEL_MBOX_ERROR;
		goto fail;
	}

	/* The session lock: one POP3 session per mbox, MDAs unaffected. */
	mb->lockfd = open(mb->lockpath, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (mb->lockfd == -1 || fstat(mb->lockfd, &st) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		core->log(SATCHEL_LOG_ERR, "%s: session lock file: %s%s",
		    mb->lockpath, mb->lockfd == -1 ? strerror(errno) :
		    "not a regular file of the user",
		    mb->lockfd == -1 && (errno == EACCES || errno == EROFS) ?
		    " (the directory must be writable by the user: "
		    "mail_extra_groups = mail for /var/mail, or set "
		    "[mbox] state_dir)" : "");
		*errstr_r = "cannot create the session lock";
		ret = SATCHEL_MBOX_ERROR;
		goto fail;
	}
	r = core->lock_fcntl(mb->lockfd, 1, MB_SESSION_MS);
	if (r == 1) {
		*errstr_r = "mailbox is locked by another session";
		ret = SATCHEL_MBOX_INUSE;
		goto fail;
	} else if (r != 0) {
		*errstr_r = "cannot lock the mailbox";
		goto fail;
	}

	if ((mb->buf = malloc(MB_CHUNK + MB_LCAP + 16)) == NULL ||
	    (mb->sc = malloc(sizeof(*mb->sc))) == NULL) {
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
			core->log(SATCHEL_LOG_ERR, "%s: open: %s", mb->path,
			    strerror(errno));
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

	reused = (size_t)mb_index_load(mb, &resume);
	if (reused > 0 && resume > 0)
		mb->n--;	/* the last one is scanned again */
	if (reused == 0 || resume > 0) {
		if (reused > 0) {
			struct mb_msg last = mb->msgs[mb->n];

			r = mb_scan(mb, resume);
			if (r == 0 && mb->n > reused - 1 && mb->msgs[reused -
			    1].key[0] == last.key[0] && mb->msgs[reused -
			    1].key[1] == last.key[1] && mb->msgs[reused -
			    1].cand == NULL)
				mb->msgs[reused - 1].cand = last.cand;
			else
				free(last.cand);
			if (r == 1) {	/* not what the index said */
				mb_free_msgs(mb);
				r = mb_scan(mb, 0);
			}
		} else
			r = mb_scan(mb, 0);
		if (r != 0) {
			mb_unlock(mb);
			*errstr_r = mb->err;
			ret = mb->fail;
			goto fail;
		}
	}
	mb_unlock(mb);
	if (mb_assign_uids(mb) == -1) {
		*errstr_r = "out of memory";
		goto fail;
	}
	if (reused != mb->n || resume > 0)
		mb_index_write(mb, mb->msgs, mb->n, &st, mb->scan_end);
done:
	free(mb->sc);
	mb->sc = NULL;
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
	return ((struct mbox *)vmb)->n;
}

static int
mbox_info(void *vmb, size_t n, struct satchel_msginfo *info)
{
	struct mbox *mb = vmb;
	char hb[33];
	const char *u;

	if (n >= mb->n)
		return -1;
	info->size = mb->msgs[n].size;
	u = mb_uid(&mb->msgs[n], hb);
	memcpy(info->uid, u, strlen(u) + 1);
	return 0;
}

/* ---- message ------------------------------------------------------ */

static int
mbox_message(void *vmb, size_t n, struct satchel_msgref *ref,
    const char **errstr_r)
{
	struct mbox *mb = vmb;
	struct mb_msg *m;
	struct stat st;
	int r, fd;

	if (n >= mb->n) {
		*errstr_r = "no such message";
		return -1;
	}
	m = &mb->msgs[n];
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
	ref->flags = mb->ctx->escape;
	return 0;
}

/* ---- commit ------------------------------------------------------- */

/* Copy [from, to) of the mbox to fd, counting in *out.  0 or -1. */
static int
mb_copy(struct mbox *mb, int fd, uint64_t from, uint64_t to, uint64_t *out)
{
	ssize_t r, w;
	size_t want, done;

	while (from < to) {
		want = to - from > MB_CHUNK ? MB_CHUNK : (size_t)(to - from);
		r = pread(mb->rwfd, mb->buf, want, (off_t)from);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			mb->core->log(SATCHEL_LOG_ERR, "%s: read: %s",
			    mb->path, strerror(errno));
			return -1;
		}
		for (done = 0; done < (size_t)r; done += (size_t)w) {
			w = write(fd, mb->buf + done, (size_t)r - done);
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				if (w == 0)
					errno = ENOSPC;
				mb->core->log(SATCHEL_LOG_ERR, "%s: write: %s",
				    mb->tmppath, strerror(errno));
				return -1;
			}
		}
		from += (uint64_t)r;
		*out += (uint64_t)r;
	}
	return 0;
}

static int
mbox_commit(void *vmb, const uint8_t *marks, size_t count,
    const char **errstr_r)
{
	struct mbox *mb = vmb;
	const struct satchel_core *core = mb->core;
	struct mb_msg *kept = NULL;
	struct stat st, nst;
	sigset_t all, old;
	uint64_t end, tail_end, out = 0, rawend;
	size_t i, nkept = 0, ndel = 0;
	int fd = -1, dirfd = -1, r, keep_last = 0, renamed = 0;

	if (count != mb->n) {
		*errstr_r = "message count mismatch";
		return -1;
	}
	for (i = 0; i < mb->n; i++)
		if (marks[i] & SATCHEL_MARK_DELETED)
			ndel++;
	if (ndel == 0)
		return 0;	/* mbox keeps no flags: nothing to write */
	*errstr_r = "cannot update the mailbox";
	if (mb_lock(mb, 1) == -1) {
		*errstr_r = mb->err;
		return -1;
	}
	/* Verify under the lock that the scanned part is unchanged. */
	r = mb_same_file(mb, &st);
	if (r == 1 && (fstat(mb->rwfd, &nst) == -1 || nst.st_ino != mb->ino ||
	    nst.st_dev != mb->dev))
		r = 0;
	for (i = 0; r == 1 && i < mb->n; i++)
		r = mb_check_from(mb, &mb->msgs[i], 0);
	if (r != 1) {
		*errstr_r = "the mailbox was changed by another program";
		goto fail;
	}
	tail_end = (uint64_t)nst.st_size;
	/*
	 * Bytes appended after the scan normally start with "From ".  If
	 * not, they continue the last message (no empty line between), and
	 * deleting that message would glue them to the one before.
	 */
	if ((marks[mb->n - 1] & SATCHEL_MARK_DELETED) &&
	    tail_end > mb->scan_end) {
		char fb[5];

		if (pread(mb->rwfd, fb, 5, (off_t)mb->scan_end) != 5 ||
		    memcmp(fb, "From ", 5) != 0) {
			keep_last = 1;
			core->log(SATCHEL_LOG_WARNING, "%s: the last message "
			    "grew after the scan; it is kept", mb->path);
		}
	}
	if ((kept = calloc(mb->n + 1, sizeof(*kept))) == NULL)
		goto fail;
	(void)unlink(mb->tmppath);
	fd = open(mb->tmppath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		core->log(SATCHEL_LOG_ERR, "%s: %s%s", mb->tmppath,
		    strerror(errno), errno == EACCES ? " (deletions need a "
		    "directory the user can write; mbox left unchanged)" : "");
		goto fail;
	}
	/* Bytes before the first message (empty lines) stay. */
	if (mb_copy(mb, fd, 0, mb->msgs[0].from_off, &out) == -1)
		goto fail_tmp;
	for (i = 0; i < mb->n; i++) {
		if ((marks[i] & SATCHEL_MARK_DELETED) &&
		    !(keep_last && i == mb->n - 1))
			continue;
		rawend = i + 1 < mb->n ? mb->msgs[i + 1].from_off :
		    mb->scan_end;
		kept[nkept] = mb->msgs[i];
		kept[nkept].from_off = out;
		kept[nkept].data_off = out + (mb->msgs[i].data_off -
		    mb->msgs[i].from_off);
		nkept++;
		if (mb_copy(mb, fd, mb->msgs[i].from_off, rawend, &out) == -1)
			goto fail_tmp;
	}
	end = out;
	if (mb_copy(mb, fd, mb->scan_end, tail_end, &out) == -1)
		goto fail_tmp;
	/* Owner, group and mode as they were, or no update at all. */
	if (fchown(fd, st.st_uid, st.st_gid) == -1) {
		core->log(SATCHEL_LOG_ERR, "%s: cannot keep owner %lu group "
		    "%lu: %s; nothing deleted", mb->path,
		    (unsigned long)st.st_uid, (unsigned long)st.st_gid,
		    strerror(errno));
		goto fail_tmp;
	}
	if (fchmod(fd, st.st_mode & 07777) == -1 || fsync(fd) == -1) {
		core->log(SATCHEL_LOG_ERR, "%s: %s", mb->tmppath,
		    strerror(errno));
		goto fail_tmp;
	}
	dirfd = open(mb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* The rename and the directory sync are not interrupted. */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	if (rename(mb->tmppath, mb->path) == 0) {
		renamed = 1;
		if (dirfd != -1 && fsync(dirfd) == -1)
			core->log(SATCHEL_LOG_ERR, "%s: fsync: %s", mb->dir,
			    strerror(errno));
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	if (!renamed) {
		core->log(SATCHEL_LOG_ERR, "rename %s to %s: %s", mb->tmppath,
		    mb->path, strerror(errno));
		goto fail_tmp;
	}
	if (dirfd != -1)
		(void)close(dirfd);
	if (fstat(fd, &nst) == 0)
		mb_index_write(mb, kept, nkept, &nst, end);
	(void)close(fd);
	mb_unlock(mb);
	free(kept);
	core->log(SATCHEL_LOG_INFO, "%s: %zu deleted, %zu kept, %llu bytes "
	    "appended meanwhile", mb->path, ndel - (size_t)keep_last, nkept,
	    (unsigned long long)(tail_end - mb->scan_end));
	return 0;
fail_tmp:
	*errstr_r = "cannot write the new mailbox";
	if (dirfd != -1)
		(void)close(dirfd);
	(void)close(fd);
	(void)unlink(mb->tmppath);
fail:
	free(kept);
	mb_unlock(mb);
	return -1;
}

static void
mbox_close(void *vmb)
{
	struct mbox *mb = vmb;

	if (mb == NULL)
		return;
	mb_unlock(mb);
	mb_free_msgs(mb);
	free(mb->msgs);
	free(mb->buf);
	free(mb->sc);
	if (mb->rdfd != -1)
		(void)close(mb->rdfd);
	/* Closing the lock file releases the session lock: last. */
	if (mb->lockfd != -1)
		(void)close(mb->lockfd);
	free(mb);
}
