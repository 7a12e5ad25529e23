/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox_uid.c -- UIDs of the "mbox" storage module (the rules are at the
 * top of storage_mbox.c).  The duplicate rule is the core's, shared
 * with the maildir module.  Runs in the mailbox agent as the mail user,
 * never privileged.
 *
 * uidl_format (Dovecot's pop3_uidl_format; %u, %v and %m only: Dovecot
 * has no file name for mbox, and its GUIDs live in its index; %m is the
 * header MD5 the scanner computes as Dovecot's mbox sync does, see
 * mb_md5_line() in mbox_scan.c) numbers messages the way Dovecot's
 * mbox sync does (mbox-sync.c, mbox-sync-parse.c of Dovecot 2.3):
 * UIDVALIDITY and the last UID come
 * from "X-IMAPbase: <uidvalidity> <uid-last>" in the first message; a
 * message's "X-UID: <n>" counts when n is above the previous message's
 * UID and not above the next UID (which it then passes), and not in
 * the first message without X-IMAPbase; every other message gets the
 * next UID, in file order.  Dovecot writes those headers itself;
 * Satchel never does, so the UIDs it gave mail without X-UID are kept
 * in its own state file (.<name>.satchel-uids next to the mbox, or
 * <state_dir>/<hash>.uids), keyed by the message's UID hash, with the
 * UIDVALIDITY and the next UID, which never goes down (a UIDL of a
 * deleted message never comes back).  Without X-IMAPbase, UIDVALIDITY
 * is Satchel's own (the state file's, or the time of the first
 * session).  A valid X-UIDL: header (qpopper, Mailutils, Dovecot's
 * pop3_reuse_xuidl) wins when x_uidl = yes.
 *
 * When Dovecot later runs on the same mbox, it reads the same headers
 * and numbers mail without X-UID from uid-last + 1 in file order: the
 * UIDs Satchel gave, unless Satchel deleted such a message meanwhile
 * (the later ones then move down in Dovecot, and a client fetches them
 * again) or deleted the first message, which holds X-IMAPbase (Dovecot
 * then falls back to its own index).  The index of this module is not
 * reused with uidl_format: every session scans the whole mbox.
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
#include "mbox.h"

/* The UID of m: its own string, or the hex of its key in buf[33]. */
const char *
mb_uid(const struct satchel_core *core, const struct mb_msg *m, char *buf)
{
	if (m->uid != NULL)
		return m->uid;
	core->hash128_hex(m->key, buf);
	return buf;
}

/*
 * Give every message its UID: the one the index remembers if no earlier
 * message has it, else a valid X-UIDL (the scan's candidate) if free,
 * else the hash, suffixed by core->uidset_add() when taken.  A UID equal
 * to the hex of the key is not stored (uid NULL).  Returns 0 or -1.
 */
int
mb_assign_uids(const struct satchel_core *core, struct mb_list *l)
{
	char out[SATCHEL_UID_MAX + 1], hb[SATCHEL_HASH_HEX + 1];
	struct satchel_uidset *set;
	const char *base;
	struct mb_msg *m;
	size_t i;

	if ((set = core->uidset_new(l->n)) == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		m = &l->v[i];
		core->hash128_hex(m->key, hb);
		if (m->uid != NULL && !core->uidset_has(set, m->uid))
			base = m->uid;		/* from the index */
		else if (m->cand != NULL && !core->uidset_has(set, m->cand))
			base = m->cand;		/* X-UIDL */
		else
			base = hb;
		if (core->uidset_add(set, base, out) == -1)
			goto fail;
		free(m->cand);
		m->cand = NULL;
		if (strcmp(out, hb) == 0) {
			free(m->uid);
			m->uid = NULL;
		} else if (m->uid == NULL || strcmp(out, m->uid) != 0) {
			free(m->uid);
			if ((m->uid = strdup(out)) == NULL)
				goto fail;
		}
	}
	core->uidset_free(set);
	return 0;
fail:
	core->uidset_free(set);
	return -1;
}

/* ---- uidl_format ---------------------------------------------------- */

#define MB_UIDS_MAGIC	"satchel-mbox-uids 1"
#define MB_UIDS_MAX	(64 * 1024 * 1024)

struct mb_sent {
	uint64_t	 key[2];
	uint32_t	 uid;
};

static int	mb_sent_cmp(const void *, const void *);
static size_t	mb_u32(const char *, size_t, uint32_t *);
static int	mb_state_load(struct mbox *, uint32_t *, uint32_t *,
		    struct mb_sent **, size_t *);
static void	mb_state_write(struct mbox *, uint32_t, uint32_t);

static size_t
mb_u32(const char *p, size_t len, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t n;

	for (n = 0; n < len && p[n] >= '0' && p[n] <= '9'; n++)
		if ((v = v * 10 + (uint64_t)(p[n] - '0')) > 0xffffffffULL)
			return 0;
	*v_r = (uint32_t)v;
	return n;
}

/* "X-UID:" value: digits, then only blanks.  0 when broken. */
uint32_t
mb_parse_xuid(const char *p, size_t len)
{
	uint32_t v;
	size_t n;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if ((n = mb_u32(p, len, &v)) == 0)
		return 0;
	for (; n < len; n++)
		if (p[n] != ' ' && p[n] != '\t' && p[n] != '\r' &&
		    p[n] != '\n')
			return 0;
	return v;
}

/* "X-IMAPbase:" value "<uidvalidity> <uid-last> [keywords]": 1 valid. */
int
mb_parse_imapbase(const char *p, size_t len, uint32_t *validity_r,
    uint32_t *last_r)
{
	uint32_t v, last;
	size_t n;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if ((n = mb_u32(p, len, &v)) == 0 || v == 0 || n >= len ||
	    p[n] != ' ')
		return 0;
	for (; n < len && (p[n] == ' ' || p[n] == '\t'); n++)
		;
	p += n;
	len -= n;
	if ((n = mb_u32(p, len, &last)) == 0)
		return 0;
	if (n < len && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' &&
	    p[n] != '\n')
		return 0;
	*validity_r = v;
	*last_r = last;
	return 1;
}

int
mb_uidl_conf(const struct satchel_core *core,
    const struct satchel_conf *conf, struct mbox_ctx *ctx)
{
	const char *s;

	if (SATCHEL_CORE_HAS(core, uidl_conf))
		return core->uidl_conf(conf, SATCHEL_UIDL_FILENAME |
		    SATCHEL_UIDL_GUID, "only %u, %v and %m work for mbox "
		    "(Dovecot keeps no file name, and GUIDs only in its "
		    "index); use x_uidl = yes for X-UIDL: headers",
		    &ctx->uidl_format,
		    &ctx->uidl_vars) == -1 ? -1 : 0;
	if (conf != NULL && (s = core->conf_get(conf, "uidl_format")) !=
	    NULL && *s != '\0') {
		core->log(SATCHEL_LOG_ERR, "uidl_format needs a core of "
		    "module ABI 1.3");
		return -1;
	}
	return 0;
}

static int
mb_sent_cmp(const void *va, const void *vb)
{
	const struct mb_sent *a = va, *b = vb;

	if (a->key[0] != b->key[0])
		return a->key[0] < b->key[0] ? -1 : 1;
	if (a->key[1] != b->key[1])
		return a->key[1] < b->key[1] ? -1 : 1;
	return 0;
}

/* The state file; 1 read, 0 none, -1 unusable (logged, ignored). */
static int
mb_state_load(struct mbox *mb, uint32_t *validity_r, uint32_t *next_r,
    struct mb_sent **ents_r, size_t *n_r)
{
	const struct satchel_core *core = mb->core;
	char *buf = NULL, *p, *end, *nl;
	struct mb_sent *ents = NULL;
	struct stat st;
	size_t got = 0, n = 0, k, mlen = strlen(MB_UIDS_MAGIC);
	uint64_t v;
	ssize_t r;
	int fd, i;

	*ents_r = NULL;
	*n_r = 0;
	if ((fd = open(mb->uidspath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MB_UIDS_MAX ||
	    (st.st_uid != geteuid() && geteuid() != 0) ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto bad;
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			goto bad;
		got += (size_t)r;
	}
	buf[got] = '\0';
	end = buf + got;
	/* "satchel-mbox-uids 1 V<v> N<n>\n", then "<32 hex> <uid>\n". */
	if (got < mlen + 6 || memcmp(buf, MB_UIDS_MAGIC " V", mlen + 2) != 0)
		goto bad;
	p = buf + mlen + 2;
	if ((k = mb_u32(p, (size_t)(end - p), validity_r)) == 0 ||
	    *validity_r == 0 || p[k] != ' ' || p[k + 1] != 'N')
		goto bad;
	p += k + 2;
	if ((k = mb_u32(p, (size_t)(end - p), next_r)) == 0 || p[k] != '\n')
		goto bad;
	p += k + 1;
	for (nl = p; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL;
	    nl++)
		n++;
	if (n > 0 && (ents = calloc(n, sizeof(*ents))) == NULL)
		goto bad;
	for (k = 0; k < n; k++, p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl - p < 34 || p[32] != ' ')
			goto bad;
		for (i = 0; i < 2; i++) {
			if (core->parse_digits(p + 16 * i, 16, 16, &v) != 16)
				goto bad;
			ents[k].key[i] = v;
		}
		if (mb_u32(p + 33, (size_t)(nl - p - 33), &ents[k].uid) !=
		    (size_t)(nl - p - 33) || ents[k].uid == 0)
			goto bad;
	}
	if (p != end)
		goto bad;
	if (n > 0)
		qsort(ents, n, sizeof(*ents), mb_sent_cmp);
	(void)close(fd);
	free(buf);
	*ents_r = ents;
	*n_r = n;
	return 1;
bad:
	core->log(SATCHEL_LOG_WARNING, "%s: ignoring an unusable UID state "
	    "file", mb->uidspath);
	(void)close(fd);
	free(buf);
	free(ents);
	return -1;
}

static void
mb_state_write(struct mbox *mb, uint32_t validity, uint32_t next)
{
	char tmp[SATCHEL_PATH_MAX + 80], hx[SATCHEL_HASH_HEX + 1];
	const struct mb_msg *m;
	FILE *fp;
	size_t i;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", mb->uidspath);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			(void)close(fd);
		goto fail;
	}
	(void)fprintf(fp, "%s V%lu N%lu\n", MB_UIDS_MAGIC,
	    (unsigned long)validity, (unsigned long)next);
	for (i = 0; i < mb->l.n; i++) {
		m = &mb->l.v[i];
		if (m->xuid != 0 && m->xuid == m->imap_uid)
			continue;	/* Dovecot's own, in the mbox */
		mb->core->hash128_hex(m->key, hx);
		(void)fprintf(fp, "%s %lu\n", hx, (unsigned long)m->imap_uid);
	}
	if (fflush(fp) != 0 || ferror(fp)) {
		(void)fclose(fp);
		goto fail;
	}
	if (fclose(fp) != 0 || rename(tmp, mb->uidspath) == -1)
		goto fail;
	return;
fail:
	mb->core->log(SATCHEL_LOG_WARNING, "%s: cannot write: %s",
	    mb->uidspath, strerror(errno));
	(void)unlink(tmp);
}

int
mb_uidl_assign(struct mbox *mb)
{
	const struct satchel_core *core = mb->core;
	const struct mbox_ctx *ctx = mb->ctx;
	struct mb_list *l = &mb->l;
	struct satchel_uidl_vars vars;
	struct satchel_uidset *set;
	struct mb_sent *ents = NULL, key, *e;
	char out[SATCHEL_UID_MAX + 1], base[SATCHEL_UID_MAX + 1];
	static const char hexd[] = "0123456789abcdef";
	char hb[SATCHEL_HASH_HEX + 1], md5hex[33];
	uint32_t validity = 0, next = 1, sv = 0, sn = 0, prev = 0, x;
	size_t i, k, nents = 0, own = 0, warned = 0;
	int sr, ibase, changed = 0, ret = -1;
	struct mb_msg *m;

	sr = mb_state_load(mb, &sv, &sn, &ents, &nents);
	ibase = l->n > 0 && l->v[0].ibase_validity != 0;
	if (ibase) {
		validity = l->v[0].ibase_validity;
		next = l->v[0].ibase_last + 1;
		if (sr == 1 && sv != validity) {
			core->log(SATCHEL_LOG_WARNING, "%s: X-IMAPbase has "
			    "UIDVALIDITY %lu, Satchel's state %lu: the "
			    "mbox's wins", mb->path, (unsigned long)validity,
			    (unsigned long)sv);
			free(ents);
			ents = NULL;
			nents = 0;
			sr = 0;
			changed = 1;
		}
	} else if (sr == 1)
		validity = sv;
	else {
		validity = (uint32_t)time(NULL);
		changed = 1;
	}
	if (sr == 1 && sn > next)
		next = sn;
	for (i = 0; i < l->n; i++) {
		m = &l->v[i];
		x = m->xuid;
		if (i == 0 && !ibase)
			x = 0;	/* Dovecot: no X-UID before X-IMAPbase */
		if (x != 0 && x > prev && x <= next) {
			if (x == next)
				next++;
			m->imap_uid = x;
		} else {
			m->imap_uid = 0;
			key.key[0] = m->key[0];
			key.key[1] = m->key[1];
			if (nents > 0 && (e = bsearch(&key, ents, nents,
			    sizeof(*ents), mb_sent_cmp)) != NULL &&
			    e->uid > prev && e->uid < next)
				m->imap_uid = e->uid;
			else if (next != 0xffffffffU) {
				m->imap_uid = next++;
				changed = 1;
			}
			own++;
		}
		if (m->imap_uid != 0)
			prev = m->imap_uid;
	}
	if (own != nents || (sr == 1 && sn != next))
		changed = 1;
	if (changed)
		mb_state_write(mb, validity, next);

	if ((set = core->uidset_new(l->n)) == NULL)
		goto out;
	for (i = 0; i < l->n; i++) {
		m = &l->v[i];
		core->hash128_hex(m->key, hb);
		memset(&vars, 0, sizeof(vars));
		vars.uid = m->imap_uid;
		vars.uidvalidity = validity;
		if (ctx->uidl_vars & SATCHEL_UIDL_MD5) {
			for (k = 0; k < 16; k++) {
				md5hex[2 * k] = hexd[m->md5[k] >> 4];
				md5hex[2 * k + 1] = hexd[m->md5[k] & 15];
			}
			md5hex[32] = '\0';
			vars.md5 = md5hex;
		}
		if (m->cand != NULL && !core->uidset_has(set, m->cand))
			memcpy(base, m->cand, strlen(m->cand) + 1); /* X-UIDL */
		else if (m->imap_uid == 0 ||
		    core->uidl_expand(ctx->uidl_format, &vars, base) == -1) {
			if (warned++ == 0)
				core->log(SATCHEL_LOG_WARNING, "%s: "
				    "uidl_format gives no valid UIDL for "
				    "message %zu; the native UID is used",
				    mb->path, i + 1);
			memcpy(base, hb, sizeof(hb));
		}
		if (core->uidset_add(set, base, out) == -1)
			goto fail;
		free(m->cand);
		m->cand = NULL;
		free(m->uid);
		m->uid = NULL;
		if (strcmp(out, hb) != 0 && (m->uid = strdup(out)) == NULL)
			goto fail;
	}
	ret = 0;
fail:
	core->uidset_free(set);
out:
	free(ents);
	return ret;
}

/* UIDLs pinned by satchel-uidl import (see core->uidl_pins). */
int
mb_apply_pins(struct mbox *mb)
{
	char hb[SATCHEL_HASH_HEX + 1], **uids;
	const char *u;
	size_t i;
	int r = 0;

	if (!SATCHEL_CORE_HAS(mb->core, uidl_pins) || mb->l.n == 0)
		return 0;
	if ((uids = calloc(mb->l.n, sizeof(*uids))) == NULL)
		return -1;
	for (i = 0; i < mb->l.n; i++) {
		u = mb_uid(mb->core, &mb->l.v[i], hb);
		if ((uids[i] = strdup(u)) == NULL) {
			r = -1;
			goto out;
		}
	}
	if ((r = mb->core->uidl_pins(AT_FDCWD, mb->pinspath, uids,
	    mb->l.n)) <= 0) {
		r = r == -1 && errno == ENOMEM ? -1 : 0;
		goto out;
	}
	for (i = 0; i < mb->l.n; i++) {
		mb->core->hash128_hex(mb->l.v[i].key, hb);
		free(mb->l.v[i].uid);
		mb->l.v[i].uid = NULL;
		if (strcmp(uids[i], hb) != 0) {
			mb->l.v[i].uid = uids[i];
			uids[i] = NULL;
		}
	}
	r = 0;
out:
	for (i = 0; i < mb->l.n; i++)
		free(uids[i]);
	free(uids);
	return r;
}
