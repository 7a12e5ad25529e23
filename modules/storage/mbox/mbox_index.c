/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox_index.c -- the per-mailbox index of the "mbox" storage module
 * (the format is at the top of storage_mbox.c).  mb_index_parse() is
 * pure code, fuzzed on bytes in memory; loading and writing run in the
 * mailbox agent as the mail user, never privileged.  The index only
 * saves work: anything wrong with it means a full scan.
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
#include "mbox.h"

static int	mb_num(const struct satchel_core *, const char **,
		    const char *, int, uint64_t *);
static uint64_t	mb_opt_escape(const char *);

void
mb_opts(const struct mbox_ctx *ctx, char *buf, size_t sz)
{
	(void)snprintf(buf, sz, "%s cl%d xu%d hd%d",
	    ctx->escape == SATCHEL_MSG_MBOXO ? "mboxo" :
	    ctx->escape == SATCHEL_MSG_MBOXRD ? "mboxrd" : "none",
	    ctx->content_length, ctx->x_uidl, ctx->hide != 0);
}

/* The hide flag named by an options string of mb_opts(). */
static uint64_t
mb_opt_hide(const char *opts)
{
	size_t n = strlen(opts);

	return n >= 4 && strcmp(opts + n - 4, " hd1") == 0 ?
	    SATCHEL_MSG_HIDE : 0;
}

/* The escape flag named by an options string of mb_opts(). */
static uint64_t
mb_opt_escape(const char *opts)
{
	if (strncmp(opts, "mboxo ", 6) == 0)
		return SATCHEL_MSG_MBOXO;
	if (strncmp(opts, "mboxrd ", 7) == 0)
		return SATCHEL_MSG_MBOXRD;
	return 0;
}

/* A decimal or (hex) number ending at a space or NL, which it skips. */
static int
mb_num(const struct satchel_core *core, const char **pp, const char *end,
    int hex, uint64_t *v_r)
{
	size_t n;

	n = core->parse_digits(*pp, (size_t)(end - *pp), hex ? 16 : 10, v_r);
	if (n == 0 || *pp + n == end || ((*pp)[n] != ' ' && (*pp)[n] != '\n'))
		return -1;
	*pp += n + 1;
	return 0;
}

int
mb_index_parse(const struct satchel_core *core, const char *opts,
    char *data, size_t len, struct mb_index_head *head, struct mb_list *l)
{
	char magic[64];
	const char *p, *q, *end = data + len;
	struct mb_msg m;
	uint64_t v[5], sum, cnt, k[2], fl;
	size_t i, olen = strlen(opts);
	int n;

	if (len == 0)
		return -1;
	/* The checksum line covers everything before it. */
	for (q = end - 1; q > data && q[-1] != '\n'; q--)
		;
	p = q;
	if (end - p < 5 || memcmp(p, "end ", 4) != 0)
		return -1;
	p += 4;
	if (mb_num(core, &p, end, 0, &cnt) == -1 ||
	    mb_num(core, &p, end, 1, &sum) == -1 || p != end ||
	    core->fnv64(SATCHEL_FNV64_INIT, data, (size_t)(q - data)) != sum)
		return -1;
	end = q;
	p = data;
	n = snprintf(magic, sizeof(magic), "%s ", MB_INDEX_MAGIC);
	if (n < 0 || end - p < n || memcmp(p, magic, (size_t)n) != 0)
		return -1;
	p += n;
	if ((size_t)(end - p) < olen + 1 || memcmp(p, opts, olen) != 0 ||
	    p[olen] != '\n')
		return -1;
	p += olen + 1;
	if (end - p < 5 || memcmp(p, "mbox ", 5) != 0)
		return -1;
	p += 5;
	for (i = 0; i < 5; i++)
		if (mb_num(core, &p, end, 0, &v[i]) == -1)
			return -1;
	head->dev = v[0];
	head->ino = v[1];
	head->size = v[2];
	head->mtime_s = v[3];
	head->mtime_ns = v[4];
	for (i = 0; i < cnt; i++) {
		memset(&m, 0, sizeof(m));
		if (mb_num(core, &p, end, 0, &v[0]) == -1 ||
		    mb_num(core, &p, end, 0, &v[1]) == -1 ||
		    mb_num(core, &p, end, 0, &v[2]) == -1 ||
		    mb_num(core, &p, end, 0, &v[3]) == -1 ||
		    mb_num(core, &p, end, 0, &fl) == -1 ||
		    mb_num(core, &p, end, 1, &v[4]) == -1 ||
		    mb_num(core, &p, end, 1, &k[0]) == -1 ||
		    mb_num(core, &p, end, 1, &k[1]) == -1)
			goto bad;
		m.from_off = v[0];
		m.data_off = v[1];
		m.length = v[2];
		m.size = v[3];
		/* Each message's flags: the escape, or none (a body framed
		 * by Content-Length:, or escape = none), which may carry
		 * SATCHEL_MSG_WIRE. */
		if ((fl & SATCHEL_MSG_WIRE) != 0 && fl != SATCHEL_MSG_WIRE)
			goto bad;
		/* With hide_headers = dovecot every message carries
		 * SATCHEL_MSG_HIDE (so never _WIRE), without it none. */
		if ((fl & SATCHEL_MSG_HIDE) != mb_opt_hide(opts))
			goto bad;
		fl &= ~(uint64_t)SATCHEL_MSG_HIDE;
		if (fl != 0 && fl != SATCHEL_MSG_WIRE &&
		    fl != mb_opt_escape(opts))
			goto bad;
		fl |= mb_opt_hide(opts);
		m.flags = (uint32_t)fl;
		m.from_hash = v[4];
		m.key[0] = k[0];
		m.key[1] = k[1];
		if (m.data_off <= m.from_off || m.length > head->size ||
		    m.data_off > head->size - m.length || (i > 0 &&
		    m.from_off < l->v[i - 1].data_off + l->v[i - 1].length))
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
		if (mb_list_push(core, l, &m) == -1) {
			free(m.uid);
			goto bad;
		}
	}
	if (p != end || l->n == 0)
		goto bad;
	return 0;
bad:
	mb_list_clear(l);
	return -1;
}

/*
 * Load the index if it matches the mbox (see the top of
 * storage_mbox.c).  Returns the number of messages to reuse (0: scan
 * all) with *resume_r the offset to scan from; they are in mb->l.
 */
int
mb_index_load(struct mbox *mb, uint64_t *resume_r)
{
	struct mb_index_head head;
	char opts[64], *data = NULL;
	struct stat st;
	int fd, grown;

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
	data[st.st_size] = '\0';
	mb_opts(mb->ctx, opts, sizeof(opts));
	if (mb_index_parse(mb->core, opts, data, (size_t)st.st_size, &head,
	    &mb->l) == -1) {
		free(data);
		return 0;
	}
	free(data);
	if (head.dev != (uint64_t)mb->dev || head.ino != (uint64_t)mb->ino ||
	    head.size > mb->scan_end)
		goto bad;
	grown = head.size < mb->scan_end ||
	    head.mtime_s != (uint64_t)mb->mtime.tv_sec ||
	    head.mtime_ns != (uint64_t)mb->mtime.tv_nsec;
	if (grown && head.size == mb->scan_end)
		goto bad;	/* same size, new mtime: rewritten */
	if (!grown)
		return (int)mb->l.n;	/* unchanged: use it as it is */
	/* Grown: check the first and the last From_ line, rescan the last. */
	if (mb_check_from(mb, &mb->l.v[0], 1) != 1 ||
	    mb_check_from(mb, &mb->l.v[mb->l.n - 1], 1) != 1)
		goto bad;
	*resume_r = mb->l.v[mb->l.n - 1].from_off;
	/* The last one is scanned again; its UID is a candidate. */
	mb->l.v[mb->l.n - 1].cand = mb->l.v[mb->l.n - 1].uid;
	mb->l.v[mb->l.n - 1].uid = NULL;
	return (int)mb->l.n;
bad:
	mb_list_clear(&mb->l);
	return 0;
}

/*
 * Write the index for msgs[0..n) of the file described by st, valid up
 * to size.  Failure is only logged: the index just saves work.
 */
void
mb_index_write(struct mbox *mb, const struct mb_msg *msgs, size_t n,
    const struct stat *st, uint64_t size)
{
	char tmp[SATCHEL_PATH_MAX + 80], opts[64], *out = mb->buf;
	const struct mb_msg *m;
	size_t len = 0, cap = MB_CHUNK;
	uint64_t sum = SATCHEL_FNV64_INIT;
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
	mb_opts(mb->ctx, opts, sizeof(opts));
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
			sum = mb->core->fnv64(sum, out, len);
			if (write(fd, out, len) != (ssize_t)len)
				err = 1;
			len = 0;
			if (i == n)
				break;
		}
		m = &msgs[i];
		k = snprintf(out + len, cap - len, "%llu %llu %llu %llu %u "
		    "%llx %llx %llx %s\n", (unsigned long long)m->from_off,
		    (unsigned long long)m->data_off,
		    (unsigned long long)m->length,
		    (unsigned long long)m->size, (unsigned)m->flags,
		    (unsigned long long)m->from_hash,
		    (unsigned long long)m->key[0],
		    (unsigned long long)m->key[1],
		    m->uid != NULL ? m->uid : "-");
		if (k < 0 || (size_t)k >= cap - len)
			err = 1;
		else
			len += (size_t)k;
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

/*
 * An index that cannot be used (written with other options or in the
 * older format, or for a file rewritten since) still says which
 * suffixed UID ("<hash>-2", ...) each twin was given.  Give those back
 * to the scanned messages l (the n-th twin of a key in the old index to
 * the n-th message with that key, and only to one without a UID yet), so
 * that changing options or upgrading renames no message.  Nothing else
 * of the old index is believed; any doubt about it carries nothing.
 */
void
mb_index_carry(struct mbox *mb, struct mb_list *l)
{
	const struct satchel_core *core = mb->core;
	char hb[SATCHEL_HASH_HEX + 1], *data = NULL, *p, *q, *e, *end;
	char *f[10];
	uint64_t (*keys)[2] = NULL, sum;
	size_t nf, i, nkeys = 0, nth, seen, len;
	struct stat st;
	int fd;

	if (!mb->ctx->index || l->n == 0)
		return;
	fd = open(mb->idxpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_size < 8 ||
	    st.st_size > MB_INDEX_MAX ||
	    (data = malloc((size_t)st.st_size + 1)) == NULL ||
	    pread(fd, data, (size_t)st.st_size, 0) != st.st_size)
		goto done;
	data[st.st_size] = '\0';
	end = data + st.st_size;
	/* Whole, as written: "end <count> <hash of all before>" last. */
	for (q = end - 1; q > data && q[-1] != '\n'; q--)
		;
	if (end[-1] != '\n' || strncmp(q, "end ", 4) != 0 ||
	    (p = memchr(q + 4, ' ', (size_t)(end - q - 4))) == NULL)
		goto done;
	len = (size_t)(end - 1 - (p + 1));
	if (len == 0 || core->parse_digits(p + 1, len, 16, &sum) != len ||
	    core->fnv64(SATCHEL_FNV64_INIT, data, (size_t)(q - data)) != sum ||
	    strncmp(data, "satchel-mbox-index ", 19) != 0)
		goto done;
	/* The two header lines, then one message per line. */
	if ((p = memchr(data, '\n', (size_t)(q - data))) == NULL ||
	    (p = memchr(p + 1, '\n', (size_t)(q - p - 1))) == NULL)
		goto done;
	if ((keys = calloc((size_t)(q - p) / 16 + 1, sizeof(*keys))) == NULL)
		goto done;
	for (p++; p < q; p = e + 1) {
		e = memchr(p, '\n', (size_t)(q - p));
		*e = '\0';
		for (nf = 0; nf < 10 && p != NULL; nf++) {
			f[nf] = p;
			if ((p = strchr(p, ' ')) != NULL)
				*p++ = '\0';
		}
		/* "... <key0> <key1> <uid>": 8 fields (format 1) or 9. */
		if (nf < 8 || nf > 9 || core->parse_digits(f[nf - 3],
		    strlen(f[nf - 3]), 16, &keys[nkeys][0]) !=
		    strlen(f[nf - 3]) || core->parse_digits(f[nf - 2],
		    strlen(f[nf - 2]), 16, &keys[nkeys][1]) !=
		    strlen(f[nf - 2]))
			goto done;	/* not an index we wrote */
		nkeys++;
		if (strcmp(f[nf - 1], "-") == 0)
			continue;
		/* Only a suffixed hash: "<hex of key>-<n>". */
		core->hash128_hex(keys[nkeys - 1], hb);
		len = strlen(hb);
		if (strncmp(f[nf - 1], hb, len) != 0 || f[nf - 1][len] != '-' ||
		    strlen(f[nf - 1]) > SATCHEL_UID_MAX)
			continue;
		for (i = len; f[nf - 1][i] != '\0'; i++)
			if ((unsigned char)f[nf - 1][i] < 0x21 ||
			    (unsigned char)f[nf - 1][i] > 0x7e)
				break;
		if (f[nf - 1][i] != '\0')
			continue;
		for (i = 0, nth = 0; i + 1 < nkeys; i++)
			if (keys[i][0] == keys[nkeys - 1][0] &&
			    keys[i][1] == keys[nkeys - 1][1])
				nth++;
		for (i = 0, seen = 0; i < l->n; i++) {
			if (l->v[i].key[0] != keys[nkeys - 1][0] ||
			    l->v[i].key[1] != keys[nkeys - 1][1])
				continue;
			if (seen++ == nth) {
				if (l->v[i].uid == NULL)
					l->v[i].uid = strdup(f[nf - 1]);
				break;
			}
		}
	}
done:
	(void)close(fd);
	free(keys);
	free(data);
}
