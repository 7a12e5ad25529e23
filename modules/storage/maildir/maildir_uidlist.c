/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * maildir_uidlist.c -- uidl_format for the "maildir" storage module:
 * IMAP UIDs and UIDVALIDITY as Dovecot has them, so that a Maildir
 * moved from Dovecot keeps its POP3 UIDLs.  md_uidlist_parse() and
 * md_fname_sort_cmp() are pure code (fuzzed); the rest runs in the
 * mailbox agent as the mail user, never privileged.
 *
 * Sources, in this order:
 *  - <maildir>/dovecot-uidlist, Dovecot's own list (version 3, which
 *    Dovecot 2.3 writes, and the old version 1), read and never
 *    written: its UIDVALIDITY, next UID, and per message (keyed by the
 *    base name, the file name up to ':') the UID, the GUID ('G') and a
 *    saved POP3 UIDL ('P', which Dovecot serves instead of the format,
 *    the base name when empty) and the POP3 order ('O', which
 *    Dovecot's pop3-migration plugin writes);
 *  - <maildir>/.satchel.uidlist, Satchel's own state, in the same
 *    version-3 syntax: the UIDVALIDITY and next UID Satchel went on
 *    from, and the UIDs it gave messages that are not in
 *    dovecot-uidlist.  It is used only while its UIDVALIDITY equals
 *    dovecot-uidlist's, and an entry only when its UID is at least
 *    dovecot-uidlist's next UID (Dovecot may have handed out lower
 *    ones since);
 *  - the rest get new UIDs the way Dovecot assigns them: from the next
 *    UID on (never lower than any UID Satchel gave before, so a UIDL
 *    of a deleted message never comes back), in the order of Dovecot's
 *    maildir_filename_sort_cmp() (the leading number, then the
 *    microseconds of ".M<usecs>", then the rest of the base name).
 *    Without any list, UIDVALIDITY is the time of the first session.
 * Messages are then listed as Dovecot's POP3 lists them: in 'O' order,
 * those without a valid 'O' after them, each group in UID order.
 *
 * When Dovecot later runs on the same Maildir, it reads its own
 * dovecot-uidlist and gives the messages it does not know UIDs from
 * its next UID on, in the same order: the same UIDs Satchel gave, as
 * long as Satchel deleted none of those messages meanwhile and mail
 * arrived in name order.  A message deleted through Satchel before
 * Dovecot ever saw it moves the UIDs of the later ones down by one in
 * Dovecot; a client then downloads those again (never loses one).
 * Without a dovecot-uidlist, Dovecot picks its own UIDVALIDITY, so
 * every %v UIDL changes: run Dovecot once before the switch.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satchel/module.h"
#include "maildir.h"

static int	md_urec_cmp(const void *, const void *);
static int	md_msguid_cmp(const void *, const void *);
static int	md_pend_cmp(const void *, const void *);
static int	md_order_cmp(const void *, const void *);
static int	md_uidlist_read(struct maildir *, const char *, char **,
		    struct md_uidlist *);
static const struct md_urec *md_uidlist_find(const struct md_uidlist *,
		    const char *, size_t);
static void	md_state_write(struct maildir *, uint32_t, uint32_t,
		    const struct md_uidlist *);

static int
md_urec_cmp(const void *va, const void *vb)
{
	const struct md_urec *a = va, *b = vb;

	return md_ukeycmp(a->base, a->blen, b->base, b->blen);
}

/*
 * An 'O' value (POP3 order, written by Dovecot's pop3-migration plugin)
 * as Dovecot's POP3 sorts by it: a decimal number, else MD_NO_ORDER.
 */
static uint64_t
md_order(const char *p, const char *end)
{
	uint64_t v = 0;

	if (p == end)
		return MD_NO_ORDER;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' ||
		    v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return MD_NO_ORDER;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v;
}

/* Digits of a uint32, nonzero; returns how many, 0 if none or too big. */
static size_t
md_u32(const char *p, const char *end, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t n = 0;

	while (p + n < end && p[n] >= '0' && p[n] <= '9') {
		v = v * 10 + (uint64_t)(p[n] - '0');
		if (v > 0xffffffffULL)
			return 0;
		n++;
	}
	*v_r = (uint32_t)v;
	return n;
}

void
md_uidlist_free(struct md_uidlist *ul)
{
	free(ul->recs);
	memset(ul, 0, sizeof(*ul));
}

int
md_uidlist_parse(const char *buf, size_t len, struct md_uidlist *ul,
    size_t *badline_r)
{
	const char *p, *end = buf + len, *nl, *tok, *val;
	uint32_t v, prev = 0;
	size_t n = 0, line = 1, k, i;
	struct md_urec *r;

	memset(ul, 0, sizeof(*ul));
	*badline_r = 1;
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return -1;
	/* Header: "3 V<validity> N<next> [G<guid> ...]" or "1 <v> <n>". */
	if (len < 2 || (buf[0] != '1' && buf[0] != '3') || buf[1] != ' ')
		return -1;
	ul->version = buf[0] - '0';
	p = buf + 2;
	if (ul->version == 1) {
		if ((k = md_u32(p, nl, &ul->validity)) == 0 || p[k] != ' ')
			return -1;
		p += k + 1;
		if ((k = md_u32(p, nl, &ul->next)) == 0)
			return -1;
		p += k;
		while (p < nl && (*p == ' ' || *p == '\r'))
			p++;
		if (p != nl)
			return -1;
	} else {
		while (p < nl) {
			tok = p;
			while (p < nl && *p != ' ')
				p++;
			if (*tok == 'V' || *tok == 'N') {
				k = md_u32(tok + 1, p, &v);
				if (k == 0 || tok + 1 + k != p)
					return -1;
				if (*tok == 'V')
					ul->validity = v;
				else
					ul->next = v;
			}
			while (p < nl && *p == ' ')
				p++;
		}
	}
	if (ul->validity == 0 || ul->next == 0)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* a line being written: ignored */
		n++;
	}
	if (n > 0 && (ul->recs = calloc(n, sizeof(*ul->recs))) == NULL)
		return -1;
	line = 1;
	for (p = (const char *)memchr(buf, '\n', len) + 1; ul->n < n;
	    p = nl + 1) {
		line++;
		*badline_r = line;
		nl = memchr(p, '\n', (size_t)(end - p));
		r = &ul->recs[ul->n];
		r->pop3_order = MD_NO_ORDER;
		if ((k = md_u32(p, nl, &r->uid)) == 0 || r->uid == 0 ||
		    r->uid == 0xffffffffU || p[k] != ' ' || r->uid <= prev)
			goto bad;
		prev = r->uid;
		p += k;
		while (p < nl && *p == ' ')
			p++;
		if (ul->version == 3) {
			/* Extensions "<A-Z><value>" up to " :<filename>". */
			while (p < nl && *p != ':') {
				tok = p;
				while (p < nl && *p != ' ')
					p++;
				if (*tok < 'A' || *tok > 'Z')
					goto bad;
				val = tok + 1;
				if (*tok == 'G') {
					r->guid = val;
					r->glen = (size_t)(p - val);
				} else if (*tok == 'P') {
					r->pop3 = val;
					r->plen = (size_t)(p - val);
					r->has_pop3 = 1;
				} else if (*tok == 'O')
					r->pop3_order = md_order(val, p);
				while (p < nl && *p == ' ')
					p++;
			}
			if (p < nl && *p == ':')
				p++;
		}
		if (p >= nl)
			goto bad;
		r->base = p;
		r->blen = (size_t)(nl - p);
		if (r->blen > 0 && p[r->blen - 1] == '\r')
			r->blen--;
		for (i = 0; i < r->blen; i++)
			if (p[i] == '/' || p[i] == '\0')
				goto bad;
			else if (p[i] == ':') {
				r->blen = i;
				break;
			}
		if (r->blen == 0 || r->blen > MD_NAME_MAX)
			goto bad;
		ul->n++;
	}
	if (ul->n > 0)
		qsort(ul->recs, ul->n, sizeof(*ul->recs), md_urec_cmp);
	return 0;
bad:
	md_uidlist_free(ul);
	return -1;
}

/*
 * Dovecot's maildir_filename_sort_cmp() (maildir-filename.c), on base
 * names: the leading number, then the microseconds after ".M" in the
 * unique part when both have them, then the rest of the base name,
 * compared as Dovecot's (signed) chars.  The seconds' difference is
 * truncated to an int as Dovecot does.
 */
/* Dovecot's int arithmetic wraps on the machines it runs on: so here. */
static int
md_usecs(const char *s, const char *end, unsigned int *usecs_r)
{
	unsigned int u = 0;

	if (s >= end || *s != '.')
		return 0;
	for (s++; s < end && *s != '.' && *s != ':';) {
		if (*s++ == 'M') {
			while (s < end && *s >= '0' && *s <= '9')
				u = u * 10 + (unsigned int)(*s++ - '0');
			*usecs_r = u;
			return 1;
		}
	}
	return 0;
}

int
md_fname_sort_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *s1 = a, *s2 = b, *e1 = a + alen, *e2 = b + blen;
	uint64_t t1 = 0, t2 = 0;
	unsigned int u1, u2;
	int ret;

	for (; s1 < e1 && *s1 >= '0' && *s1 <= '9'; s1++)
		t1 = t1 * 10 + (uint64_t)(*s1 - '0');
	for (; s2 < e2 && *s2 >= '0' && *s2 <= '9'; s2++)
		t2 = t2 * 10 + (uint64_t)(*s2 - '0');
	ret = (int)(uint32_t)(t1 - t2);
	if (ret != 0)
		return ret;
	if (md_usecs(s1, e1, &u1) && md_usecs(s2, e2, &u2) &&
	    (ret = (int)(u1 - u2)) != 0)
		return ret;
	while (s1 < e1 && s2 < e2 && *s1 == *s2) {
		s1++;
		s2++;
	}
	if (s1 == e1 && s2 == e2)
		return 0;
	return (int)(s1 < e1 ? (signed char)*s1 : 0) -
	    (int)(s2 < e2 ? (signed char)*s2 : 0);
}

static const struct md_urec *
md_uidlist_find(const struct md_uidlist *ul, const char *base, size_t blen)
{
	struct md_urec key;

	if (ul->n == 0)
		return NULL;
	key.base = base;
	key.blen = blen;
	return bsearch(&key, ul->recs, ul->n, sizeof(*ul->recs), md_urec_cmp);
}

/*
 * Read and parse name in the maildir into *ul (its strings in *buf_r).
 * Returns 1 read, 0 absent, -1 unusable (logged).
 */
static int
md_uidlist_read(struct maildir *mb, const char *name, char **buf_r,
    struct md_uidlist *ul)
{
	struct stat st;
	size_t got = 0, bad;
	ssize_t r;
	int fd;

	*buf_r = NULL;
	memset(ul, 0, sizeof(*ul));
	fd = openat(mb->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		mb->core->log(SATCHEL_LOG_ERR, "%s/%s: %s", mb->path, name,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MD_CACHE_MAX ||
	    (st.st_uid != geteuid() && geteuid() != 0)) {
		mb->core->log(SATCHEL_LOG_ERR, "%s/%s: refused: not a regular "
		    "file of the mail user below 64 MiB", mb->path, name);
		(void)close(fd);
		return -1;
	}
	if ((*buf_r = malloc((size_t)st.st_size + 1)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, *buf_r + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	if (md_uidlist_parse(*buf_r, got, ul, &bad) == -1) {
		mb->core->log(SATCHEL_LOG_ERR, "%s/%s: not a valid uidlist "
		    "(line %zu)", mb->path, name, bad);
		free(*buf_r);
		*buf_r = NULL;
		return -1;
	}
	return 1;
}

/* The state file: tmp + rename; failures are logged and forgotten. */
static void
md_state_write(struct maildir *mb, uint32_t validity, uint32_t next,
    const struct md_uidlist *dl)
{
	const struct md_msg *m;
	FILE *fp;
	size_t i;
	int fd;

	fd = openat(mb->dirfd, MD_STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			(void)close(fd);
		goto fail;
	}
	(void)fprintf(fp, "3 V%lu N%lu\n", (unsigned long)validity,
	    (unsigned long)next);
	/* Messages are in UID order here, so the lines are too. */
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (md_uidlist_find(dl, m->name, m->blen) != NULL)
			continue;
		(void)fprintf(fp, "%lu :%.*s\n", (unsigned long)m->imap_uid,
		    (int)m->blen, m->name);
	}
	if (fflush(fp) != 0 || ferror(fp)) {
		(void)fclose(fp);
		goto fail;
	}
	if (fclose(fp) != 0 || renameat(mb->dirfd, MD_STATE_TMP, mb->dirfd,
	    MD_STATE_FILE) == -1)
		goto fail;
	return;
fail:
	mb->core->log(SATCHEL_LOG_WARNING, "%s/%s: cannot write: %s",
	    mb->path, MD_STATE_FILE, strerror(errno));
	(void)unlinkat(mb->dirfd, MD_STATE_TMP, 0);
}

static int
md_msguid_cmp(const void *va, const void *vb)
{
	const struct md_msg *a = va, *b = vb;

	if (a->imap_uid != b->imap_uid)
		return a->imap_uid < b->imap_uid ? -1 : 1;
	return md_msgcmp(va, vb);
}

/* Dovecot's POP3 listing: by 'O' (none last), then by UID. */
static int
md_order_cmp(const void *va, const void *vb)
{
	const struct md_msg *a = va, *b = vb;

	if (a->pop3_order != b->pop3_order)
		return a->pop3_order < b->pop3_order ? -1 : 1;
	return md_msguid_cmp(va, vb);
}

static int
md_pend_cmp(const void *va, const void *vb)
{
	const struct md_msg *a = *(const struct md_msg *const *)va;
	const struct md_msg *b = *(const struct md_msg *const *)vb;
	int r;

	if ((r = md_fname_sort_cmp(a->name, a->blen, b->name, b->blen)) != 0)
		return r;
	return md_msgcmp(a, b);
}

/*
 * Give every message its IMAP UID (see the top of this file), sort the
 * messages by it and expand uidl_format into m->uid with the core's
 * duplicate rule.  Returns 0, 1 when dovecot-uidlist is unusable (the
 * caller gives native UIDs), or -1 (out of memory).
 */
int
md_uidl_assign(struct maildir *mb, const struct maildir_ctx *ctx)
{
	const struct satchel_core *core = mb->core;
	struct md_uidlist dl, sl;
	const struct md_urec *r;
	struct md_msg **pend = NULL, *m;
	struct satchel_uidl_vars v;
	struct satchel_uidset *set = NULL;
	char *dbuf = NULL, *sbuf = NULL;
	char fname[MD_NAME_MAX + 1], guid[MD_NAME_MAX + 1];
	char base[SATCHEL_UID_MAX + 1], uid[SATCHEL_UID_MAX + 1];
	uint32_t validity, next, snext = 0;
	size_t i, k, np = 0, warned = 0;
	int dr, sr, changed = 0, ret = -1;

	for (i = 0; i < mb->n; i++)
		mb->msgs[i].keep_base = 1;	/* Dovecot's key, in any case */
	dr = md_uidlist_read(mb, MD_DOVECOT_UIDLIST, &dbuf, &dl);
	if (dr == -1) {
		/*
		 * Numbering mail Dovecot knows anew would be for good (the
		 * state file keeps it): serve the native UIDs this time and
		 * keep no state until Dovecot has repaired its list.
		 */
		core->log(SATCHEL_LOG_ERR, "%s: %s unusable: native UIDs this "
		    "session", mb->path, MD_DOVECOT_UIDLIST);
		return 1;
	}
	sr = md_uidlist_read(mb, MD_STATE_FILE, &sbuf, &sl);
	if (dr == 1 && sr == 1 && sl.validity != dl.validity) {
		core->log(SATCHEL_LOG_WARNING, "%s: %s has UIDVALIDITY %lu, "
		    "%s %lu: Dovecot's list wins, Satchel's UIDs for new mail "
		    "are given again", mb->path, MD_DOVECOT_UIDLIST,
		    (unsigned long)dl.validity, MD_STATE_FILE,
		    (unsigned long)sl.validity);
		md_uidlist_free(&sl);
		sr = 0;
		changed = 1;
	}
	if (dr == 1) {
		validity = dl.validity;
		next = dl.next;
	} else if (sr == 1) {
		validity = sl.validity;
		next = 1;
	} else {
		validity = (uint32_t)time(NULL);
		next = 1;
		changed = 1;
	}
	if (sr == 1)
		snext = sl.next;
	if (snext > next)
		next = snext;
	if (mb->n > 0 && (pend = calloc(mb->n, sizeof(*pend))) == NULL)
		goto out;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		m->blen = strcspn(m->name, ":");
		m->dove = NULL;
		if (dr == 1 && (r = md_uidlist_find(&dl, m->name, m->blen)) !=
		    NULL && r->uid != 0) {
			m->imap_uid = r->uid;
			m->dove = r;
			continue;
		}
		if (sr == 1 && (r = md_uidlist_find(&sl, m->name, m->blen)) !=
		    NULL && (dr != 1 || r->uid >= dl.next) && r->uid < next) {
			m->imap_uid = r->uid;
			continue;
		}
		m->imap_uid = 0;
	}
	/* Two files with one base name (new/ and cur/): one UID each. */
	if (mb->n > 0)
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), md_msguid_cmp);
	for (i = 1; i < mb->n; i++)
		if (mb->msgs[i].imap_uid != 0 &&
		    mb->msgs[i].imap_uid == mb->msgs[i - 1].imap_uid)
			mb->msgs[i].imap_uid = 0;
	np = 0;
	for (i = 0; i < mb->n; i++)
		if (mb->msgs[i].imap_uid == 0)
			pend[np++] = &mb->msgs[i];
	if (np > 0) {
		qsort(pend, np, sizeof(*pend), md_pend_cmp);
		for (i = 0; i < np; i++) {
			if (next == 0xffffffffU)
				break;		/* out of UIDs: native below */
			pend[i]->imap_uid = next++;
		}
		changed = 1;
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), md_msguid_cmp);
	}
	if (sr == 1 && !changed) {
		/* Rewrite when an entry is stale or Dovecot took one over. */
		size_t own = 0;

		for (i = 0; i < mb->n; i++)
			if (mb->msgs[i].dove == NULL)
				own++;
		changed = own != sl.n || sl.next != next;
	}
	if (changed)
		md_state_write(mb, validity, next, &dl);
	/*
	 * Dovecot's POP3 lists messages sorted by their 'O' field (the
	 * order a migration kept), those without one last, each group in
	 * UID order (pop3-client.c's MAIL_SORT_POP3_ORDER).
	 */
	for (i = 0, k = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		m->pop3_order = m->dove != NULL ? m->dove->pop3_order :
		    MD_NO_ORDER;
		if (m->pop3_order != MD_NO_ORDER)
			k = 1;
	}
	if (k)
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), md_order_cmp);

	if ((set = core->uidset_new(mb->n)) == NULL)
		goto out;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		memcpy(fname, m->name, m->blen);
		fname[m->blen] = '\0';
		r = m->dove;
		if (r != NULL && r->glen > 0 && r->glen <= MD_NAME_MAX) {
			memcpy(guid, r->guid, r->glen);
			guid[r->glen] = '\0';
		} else
			memcpy(guid, fname, m->blen + 1);
		memset(&v, 0, sizeof(v));
		v.uid = m->imap_uid;
		v.uidvalidity = validity;
		v.filename = fname;
		v.guid = guid;
		if (r != NULL && r->has_pop3 && r->plen > 0 &&
		    r->plen <= SATCHEL_UID_MAX) {
			/* Dovecot's saved UIDL ('P') comes first. */
			memcpy(base, r->pop3, r->plen);
			base[r->plen] = '\0';
		} else if (r != NULL && r->has_pop3 && r->plen == 0 &&
		    m->blen <= SATCHEL_UID_MAX)
			memcpy(base, fname, m->blen + 1);
		else if (m->imap_uid == 0 ||
		    core->uidl_expand(ctx->uidl_format, &v, base) == -1) {
			if (warned++ == 0)
				core->log(SATCHEL_LOG_WARNING, "%s/%s/%s: "
				    "uidl_format gives no valid UIDL; the "
				    "native UID is used", mb->path,
				    md_subname[m->sub], fname);
			md_uid_base(core, m, base);
		}
		if (core->uidset_add(set, base, uid) == -1 ||
		    (m->uid = strdup(uid)) == NULL)
			goto out;
	}
	ret = 0;
out:
	if (set != NULL)
		core->uidset_free(set);
	free(pend);
	md_uidlist_free(&dl);
	md_uidlist_free(&sl);
	free(dbuf);
	free(sbuf);
	return ret;
}
