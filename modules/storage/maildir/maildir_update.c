/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * maildir_update.c -- the UPDATE state of the "maildir" storage module
 * (unlink deleted messages, move seen and new ones to cur/ with the S
 * flag) and finding messages another MUA renamed meanwhile.  Runs in
 * the mailbox agent as the mail user, never privileged; no lock is
 * needed but the session lock (Maildir renames are atomic).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "maildir.h"

static int	md_ientcmp(const void *, const void *);
static int	md_index_build(struct maildir *);
static int	md_update(struct maildir *, size_t, int);
static int	md_delete(struct maildir *, size_t);

static int
md_ientcmp(const void *va, const void *vb)
{
	const struct md_ient *a = va, *b = vb;
	int r;

	if ((r = md_ukeycmp(a->name, a->ulen, b->name, b->ulen)) != 0)
		return r;
	return (int)b->sub - (int)a->sub;	/* cur/ first */
}

void
md_index_free(struct maildir *mb)
{
	size_t i;

	for (i = 0; i < mb->nidx; i++)
		free(mb->idx[i].name);
	free(mb->idx);
	mb->idx = NULL;
	mb->nidx = 0;
	mb->idx_valid = 0;
}

/*
 * A sorted list of every name now in new/ and cur/, so that many
 * renamed messages cost one directory scan, not one each.  It reuses
 * md_scan_dir() on a scratch maildir sharing our directory fds.
 */
static int
md_index_build(struct maildir *mb)
{
	struct maildir tmp;
	size_t i;

	md_index_free(mb);
	memset(&tmp, 0, sizeof(tmp));
	tmp.core = mb->core;
	memcpy(tmp.path, mb->path, sizeof(tmp.path));
	tmp.subfd[0] = mb->subfd[0];
	tmp.subfd[1] = mb->subfd[1];
	if (md_scan_dir(&tmp, MD_NEW) == -1 ||
	    md_scan_dir(&tmp, MD_CUR) == -1 ||
	    (tmp.n > 0 && (mb->idx = calloc(tmp.n, sizeof(*mb->idx))) ==
	    NULL)) {
		for (i = 0; i < tmp.n; i++)
			free(tmp.msgs[i].name);
		free(tmp.msgs);
		return -1;
	}
	for (i = 0; i < tmp.n; i++) {
		mb->idx[i].name = tmp.msgs[i].name;
		mb->idx[i].ulen = tmp.msgs[i].ulen;
		mb->idx[i].sub = tmp.msgs[i].sub;
	}
	mb->nidx = tmp.n;
	mb->idx_valid = 1;
	free(tmp.msgs);
	if (mb->nidx > 0)
		qsort(mb->idx, mb->nidx, sizeof(*mb->idx), md_ientcmp);
	return 0;
}

/*
 * Message n's file is gone from where we saw it: another MUA renamed it
 * (flags) or moved it from new/ to cur/.  Look for a file with the same
 * unique part that no other message of ours owns (duplicates are
 * adjacent in our order).  Returns 1 found (name and sub updated), 0
 * not found, -1 error.  Uses the cached index first and rescans once
 * when that does not help.
 */
int
md_relocate(struct maildir *mb, size_t n)
{
	struct md_msg *m = &mb->msgs[n];
	struct md_ient key;
	struct stat st;
	size_t lo, hi, mid, k;
	char *name;
	int pass, owned, built = 0;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 1 || !mb->idx_valid) {
			if (built)
				break;	/* just built: no news */
			if (md_index_build(mb) == -1)
				return -1;
			built = 1;
		}
		key.name = m->name;
		key.ulen = m->ulen;
		key.sub = 2;	/* sorts before both */
		lo = 0;
		hi = mb->nidx;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (md_ientcmp(&mb->idx[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < mb->nidx && md_ukeycmp(mb->idx[lo].name,
		    mb->idx[lo].ulen, m->name, m->ulen) == 0; lo++) {
			if (mb->idx[lo].sub == m->sub &&
			    strcmp(mb->idx[lo].name, m->name) == 0)
				continue;
			owned = 0;
			for (k = n; k > 0 && md_ukeycmp(mb->msgs[k - 1].name,
			    mb->msgs[k - 1].ulen, m->name, m->ulen) == 0; k--)
				;
			for (; !owned && k < mb->n && md_ukeycmp(
			    mb->msgs[k].name, mb->msgs[k].ulen, m->name,
			    m->ulen) == 0; k++)
				if (k != n && !mb->msgs[k].gone &&
				    mb->msgs[k].sub == mb->idx[lo].sub &&
				    strcmp(mb->msgs[k].name,
				    mb->idx[lo].name) == 0)
					owned = 1;
			if (owned || fstatat(mb->subfd[mb->idx[lo].sub],
			    mb->idx[lo].name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
			    !S_ISREG(st.st_mode))
				continue;
			if ((name = strdup(mb->idx[lo].name)) == NULL)
				return -1;
			free(m->name);
			m->name = name;
			m->sub = mb->idx[lo].sub;
			return 1;
		}
	}
	return 0;
}

/* ---- commit ------------------------------------------------------- */

/* Unlink message n.  ENOENT is success: someone else deleted it. */
static int
md_delete(struct maildir *mb, size_t n)
{
	struct md_msg *m = &mb->msgs[n];
	char vbuf[128];
	int tries, r;

	for (tries = 0; tries < 3; tries++) {
		if (unlinkat(mb->subfd[m->sub], m->name, 0) == 0) {
			m->gone = 1;
			return 0;
		}
		if (errno != ENOENT)
			break;
		if ((r = md_relocate(mb, n)) == -1)
			return -1;
		if (r == 0) {
			m->gone = 1;
			return 0;
		}
	}
	if (tries == 3)
		errno = EBUSY;	/* renamed under us again and again */
	mb->core->log(SATCHEL_LOG_ERR, "%s/%s/%s: unlink: %s", mb->path,
	    md_subname[m->sub], md_vis(mb, m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	return -1;
}

/*
 * Move message n from new/ to cur/, or add the S flag in cur/, per
 * md_target().  Never replaces an existing file.  Returns 0 or -1
 * (logged); a message that vanished is not an error.
 */
static int
md_update(struct maildir *mb, size_t n, int seen)
{
	struct md_msg *m = &mb->msgs[n];
	char target[MD_NAME_MAX + 1], vbuf[128], *name;
	struct stat st;
	uint64_t phys;
	int tries, r;

	for (tries = 0; tries < 3; tries++) {
		phys = 0;
		if (m->sub == MD_NEW) {
			if (fstatat(mb->subfd[MD_NEW], m->name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
				phys = (uint64_t)st.st_size;
			else if (errno != ENOENT)
				goto fail;
			else
				goto relocate;
		}
		if (md_target(mb->core, m, seen, target, sizeof(target), phys) == -1) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (m->sub == MD_CUR && strcmp(target, m->name) == 0)
			return 0;
		if (fstatat(mb->subfd[MD_CUR], target, &st,
		    AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			goto fail;
		} else if (errno != ENOENT)
			goto fail;
		if (renameat(mb->subfd[m->sub], m->name, mb->subfd[MD_CUR],
		    target) == 0) {
			if ((name = strdup(target)) == NULL)
				goto fail;
			free(m->name);
			m->name = name;
			m->sub = MD_CUR;
			return 0;
		}
		if (errno != ENOENT)
			goto fail;
relocate:
		if ((r = md_relocate(mb, n)) == -1)
			return -1;
		if (r == 0) {
			m->gone = 1;
			return 0;
		}
	}
	errno = EBUSY;
fail:
	mb->core->log(SATCHEL_LOG_WARNING, "%s/%s/%s: rename: %s", mb->path,
	    md_subname[m->sub], md_vis(mb, m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	return -1;
}

int
maildir_commit(void *vmb, const uint8_t *marks, size_t count,
    const char **errstr_r)
{
	struct maildir *mb = vmb;
	size_t i, failed = 0;
	int sub, dirty[2] = { 0, 0 };

	if (count != mb->n) {
		*errstr_r = "message count mismatch";
		return -1;
	}
	for (i = 0; i < mb->n; i++) {
		struct md_msg *m = &mb->msgs[i];
		const char *before = m->name;
		int oldsub = m->sub;

		if (m->gone)
			continue;
		if (marks[i] & SATCHEL_MARK_DELETED) {
			if (md_delete(mb, i) == -1)
				failed++;
			else
				dirty[oldsub] = dirty[m->sub] = 1;
		} else if (m->sub == MD_NEW ||
		    (marks[i] & SATCHEL_MARK_SEEN)) {
			(void)md_update(mb, i,
			    (marks[i] & SATCHEL_MARK_SEEN) != 0);
			/* A rename gives the message a new name string. */
			if (m->name != before || m->sub != oldsub)
				dirty[oldsub] = dirty[m->sub] = 1;
		}
	}
	/*
	 * Make the unlinks and renames durable before we say +OK; a
	 * directory nothing changed in needs no fsync (a read-only session
	 * then quits at once).
	 */
	for (sub = 0; sub < 2; sub++)
		if (dirty[sub] && fsync(mb->subfd[sub]) == -1)
			mb->core->log(SATCHEL_LOG_ERR, "%s/%s: fsync: %s",
			    mb->path, md_subname[sub], strerror(errno));
	md_cache_write(mb);
	if (failed > 0) {
		mb->core->log(SATCHEL_LOG_ERR, "%s: %zu deletions failed",
		    mb->path, failed);
		*errstr_r = "some messages could not be deleted";
		return -1;
	}
	return 0;
}
