/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox_update.c -- the UPDATE state of the "mbox" storage module: the
 * crash-safe rewrite described at the top of storage_mbox.c.  Runs in
 * the mailbox agent as the mail user, never privileged, holding the
 * session lock, the dotlock and an fcntl write lock on the mbox.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "mbox.h"

static int	mb_copy(struct mbox *, int, uint64_t, uint64_t, uint64_t *);
static int	mb_verify(struct mbox *, int, const struct mb_msg *, size_t,
		    uint64_t);

/*
 * With content_length = yes the boundaries are not local: a
 * Content-Length: header the scan ignored (its end fell on no
 * boundary) may fall on one in the new file, where other messages are
 * gone, and the next scan without the index would merge two kept
 * messages.  So scan the new file (fd, size bytes) as the next session
 * would, and compare.  Returns 1 when it reads back as kept[0..n), 0
 * when not (logged), -1 on error (logged).
 */
static int
mb_verify(struct mbox *mb, int fd, const struct mb_msg *kept, size_t n,
    uint64_t size)
{
	struct mb_scanner *s;
	struct mb_list got;
	size_t i;
	int r, ok = 1;

	memset(&got, 0, sizeof(got));
	if ((s = malloc(sizeof(*s))) == NULL)
		return -1;
	mb_scanner_setup(mb, s, fd, &got);
	r = mb_scan(s, 0, size);
	for (i = 0; r == 0 && i < n; i++)
		if (i >= got.n || got.v[i].from_off != kept[i].from_off ||
		    got.v[i].data_off != kept[i].data_off ||
		    got.v[i].length != kept[i].length) {
			ok = 0;
			break;
		}
	if (r != 0)
		mb->core->log(SATCHEL_LOG_ERR, "%s: cannot check the new "
		    "mailbox: %s; nothing deleted", mb->tmppath,
		    s->err != NULL ? s->err : "scan failed");
	else if (!ok)
		mb->core->log(SATCHEL_LOG_ERR, "%s: refused: after these "
		    "deletions a Content-Length: header the scan ignored "
		    "would end on a From_ line, and the next scan would read "
		    "the message at offset %llu differently (content_length "
		    "= yes); nothing deleted", mb->path,
		    (unsigned long long)kept[i > 0 && i >= got.n ? i - 1 :
		    i].from_off);
	mb->scan_fd = mb->rdfd;
	mb_list_clear(&got);
	free(got.v);
	free(s);
	return r != 0 ? -1 : ok;
}

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

int
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

	if (count != mb->l.n) {
		*errstr_r = "message count mismatch";
		return -1;
	}
	for (i = 0; i < mb->l.n; i++)
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
	for (i = 0; r == 1 && i < mb->l.n; i++)
		r = mb_check_from(mb, &mb->l.v[i], 0);
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
	if ((marks[mb->l.n - 1] & SATCHEL_MARK_DELETED) &&
	    tail_end > mb->scan_end) {
		char fb[5];

		if (pread(mb->rwfd, fb, 5, (off_t)mb->scan_end) != 5 ||
		    memcmp(fb, "From ", 5) != 0) {
			keep_last = 1;
			core->log(SATCHEL_LOG_WARNING, "%s: the last message "
			    "grew after the scan; it is kept", mb->path);
		}
	}
	if ((kept = calloc(mb->l.n + 1, sizeof(*kept))) == NULL)
		goto fail;
	(void)unlink(mb->tmppath);
	/* Read and write: mb_verify() scans it. */
	fd = open(mb->tmppath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		core->log(SATCHEL_LOG_ERR, "%s: %s%s", mb->tmppath,
		    strerror(errno), errno == EACCES ? " (deletions need a "
		    "directory the user can write; mbox left unchanged)" : "");
		goto fail;
	}
	/* Bytes before the first message (empty lines) stay. */
	if (mb_copy(mb, fd, 0, mb->l.v[0].from_off, &out) == -1)
		goto fail_tmp;
	for (i = 0; i < mb->l.n; i++) {
		if ((marks[i] & SATCHEL_MARK_DELETED) &&
		    !(keep_last && i == mb->l.n - 1))
			continue;
		rawend = i + 1 < mb->l.n ? mb->l.v[i + 1].from_off :
		    mb->scan_end;
		kept[nkept] = mb->l.v[i];
		kept[nkept].from_off = out;
		kept[nkept].data_off = out + (mb->l.v[i].data_off -
		    mb->l.v[i].from_off);
		nkept++;
		if (mb_copy(mb, fd, mb->l.v[i].from_off, rawend, &out) == -1)
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
	if (mb->ctx->content_length && mb_verify(mb, fd, kept, nkept, out) != 1)
		goto fail_keep;
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
fail_keep:
	*errstr_r = "deleting these messages would merge others";
	goto fail_unlink;
fail_tmp:
	*errstr_r = "cannot write the new mailbox";
fail_unlink:
	if (dirfd != -1)
		(void)close(dirfd);
	(void)close(fd);
	(void)unlink(mb->tmppath);
fail:
	free(kept);
	mb_unlock(mb);
	return -1;
}
