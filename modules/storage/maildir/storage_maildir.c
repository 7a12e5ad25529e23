/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * storage_maildir.c -- the "maildir" storage module.  init() runs in the
 * master; everything else runs in the mailbox agent as the mail user,
 * never privileged.  It logs, locks, sizes and reads its configuration
 * only through the struct satchel_core it is given.
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
 * Sizes: the ",W=<n>" hint when the name has one, else the size cache
 * <maildir>/.satchel.sizes (unique part -> RFC 1939 size; Maildir
 * messages never change), else read through core->msg_size_*.
 */
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
#include "compat/poison.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define MD_NEW		0
#define MD_CUR		1
#define MD_IOBUF	(64 * 1024)
#define MD_NAME_MAX	255
#define MD_CACHE_MAX	(64 * 1024 * 1024)
#define MD_CACHE_FILE	".satchel.sizes"
#define MD_CACHE_TMP	".satchel.sizes.tmp"
#define MD_CACHE_MAGIC	"satchel-sizes 1\n"
#define MD_LOCK_FILE	".satchel.lock"

struct maildir_ctx {
	const struct satchel_core *core;
	int		 lock_timeout_ms;
};

struct md_msg {
	char		*name;		/* base name (new/ or cur/) */
	char		*uid;
	uint64_t	 stamp;		/* leading number of name */
	uint64_t	 size;		/* RFC 1939 size */
	size_t		 ulen;		/* unique part's length */
	uint8_t		 sub;		/* MD_NEW or MD_CUR */
	uint8_t		 sized;		/* size known */
	uint8_t		 cached;	/* size from the cache */
	uint8_t		 gone;		/* vanished or deleted */
};

struct md_cent {
	const char	*key;		/* unique part, in cache_buf */
	size_t		 klen;
	uint64_t	 size;
};

struct md_ient {			/* relocation index entry */
	char		*name;
	size_t		 ulen;
	uint8_t		 sub;
};

struct maildir {
	const struct satchel_core *core;
	char		 path[SATCHEL_PATH_MAX];
	int		 dirfd, lockfd, subfd[2];
	struct md_msg	*msgs;
	size_t		 n, cap;
	char		*iobuf;
	char		*cache_buf;
	struct md_cent	*cache;
	size_t		 ncache;
	int		 cache_synced;
	int		 uids_done;	/* open succeeded */
	struct md_ient	*idx;
	size_t		 nidx;
	int		 idx_valid;
};

static const char *const md_subname[2] = { "new", "cur" };

static int	maildir_init(const struct satchel_core *,
		    const struct satchel_conf *, void **);
static int	maildir_open(void *, const struct satchel_mailbox_ref *,
		    void **, const char **);
static size_t	maildir_count(void *);
static int	maildir_info(void *, size_t, struct satchel_msginfo *);
static int	maildir_message(void *, size_t, struct satchel_msgref *,
		    const char **);
static int	maildir_commit(void *, const uint8_t *, size_t,
		    const char **);
static void	maildir_close(void *);
static void	maildir_fini(void *);

static uint64_t	md_fnv(uint64_t, const void *, size_t);
static void	md_hash128(const void *, size_t, char *);
static const char *md_vis(const char *, char *, size_t);
static int	md_ukeycmp(const char *, size_t, const char *, size_t);
static int	md_hint(const char *, size_t, char, uint64_t *);
static int	md_msgcmp(const void *, const void *);
static int	md_mkdirs(char *);
static int	md_scan_dir(struct maildir *, int);
static int	md_add(struct maildir *, const char *, int);
static int	md_size_file(struct maildir *, struct md_msg *);
static int	md_assign_uids(struct maildir *);
static int	md_centcmp(const void *, const void *);
static int	md_cacheable(const struct md_msg *);
static void	md_cache_load(struct maildir *);
static void	md_cache_write(struct maildir *);
static int	md_openmsg(struct maildir *, struct md_msg *);
static int	md_ientcmp(const void *, const void *);
static int	md_index_build(struct maildir *);
static void	md_index_free(struct maildir *);
static int	md_relocate(struct maildir *, size_t);
static int	md_target(const struct md_msg *, int, char *, size_t,
		    uint64_t);
static int	md_update(struct maildir *, size_t, int);
static int	md_delete(struct maildir *, size_t);

static const struct satchel_storage_ops maildir_ops = {
	.init = maildir_init,
	.open = maildir_open,
	.count = maildir_count,
	.info = maildir_info,
	.message = maildir_message,
	.commit = maildir_commit,
	.close = maildir_close,
	.fini = maildir_fini,
};

SATCHEL_EXPORT const struct satchel_module satchel_module = {
	.abi_major = SATCHEL_ABI_MAJOR,
	.abi_minor = SATCHEL_ABI_MINOR,
	.kind = SATCHEL_MODULE_STORAGE,
	.ops_size = sizeof(maildir_ops),
	.name = "maildir",
	.version = PACKAGE_VERSION,
	.ops = &maildir_ops,
};

/* ---- small helpers ------------------------------------------------ */

static uint64_t
md_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * 128 bits as 32 lowercase hex digits into out[33]: FNV-1a-64 with the
 * standard offset basis, and FNV-1a-64 with another seed over the same
 * bytes followed by their length.  Not cryptographic; stable forever.
 */
static void
md_hash128(const void *p, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h[2], l = len;
	int i, j;

	h[0] = md_fnv(0xcbf29ce484222325ULL, p, len);
	h[1] = md_fnv(md_fnv(0x6c62272e07bb0142ULL, p, len), &l, sizeof(l));
	for (i = 0; i < 2; i++)
		for (j = 0; j < 16; j++)
			out[i * 16 + j] = hex[(h[i] >> (60 - 4 * j)) & 0xf];
	out[32] = '\0';
}

/* A file name made safe for a log line. */
static const char *
md_vis(const char *s, char *buf, size_t bufsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	unsigned char c;

	for (; *s != '\0' && o + 5 < bufsz; s++) {
		c = (unsigned char)*s;
		if (c > 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	buf[o] = '\0';
	return buf;
}

static int
md_ukeycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r;

	r = memcmp(a, b, alen < blen ? alen : blen);
	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/*
 * Find the hint ",<key>=<digits>" between the unique part (ulen) and the
 * info part of name.  Returns 1 with *val_r, 0 when absent or malformed.
 */
static int
md_hint(const char *name, size_t ulen, char key, uint64_t *val_r)
{
	const char *p = name + ulen, *end;
	uint64_t v;
	int digits;

	if ((end = strchr(name, ':')) == NULL)
		end = name + strlen(name);
	while (p < end && *p == ',') {
		p++;
		if (p + 1 < end && p[0] == key && p[1] == '=') {
			v = 0;
			digits = 0;
			for (p += 2; p < end && *p >= '0' && *p <= '9'; p++) {
				if (v > (UINT64_MAX - 9) / 10)
					return 0;
				v = v * 10 + (uint64_t)(*p - '0');
				digits++;
			}
			if (digits > 0 && (p == end || *p == ',')) {
				*val_r = v;
				return 1;
			}
		}
		while (p < end && *p != ',')
			p++;
	}
	return 0;
}

static int
md_msgcmp(const void *va, const void *vb)
{
	const struct md_msg *a = va, *b = vb;
	int r;

	if (a->stamp != b->stamp)
		return a->stamp < b->stamp ? -1 : 1;
	if ((r = md_ukeycmp(a->name, a->ulen, b->name, b->ulen)) != 0)
		return r;
	if ((r = strcmp(a->name, b->name)) != 0)
		return r;
	return (int)a->sub - (int)b->sub;
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

	if (core->size < offsetof(struct satchel_core, msg_size_end) +
	    sizeof(core->msg_size_end)) {
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
	*ctx_r = ctx;
	return 0;
}

static void
maildir_fini(void *vctx)
{
	free(vctx);
}

/* ---- scanning ----------------------------------------------------- */

static int
md_add(struct maildir *mb, const char *name, int sub)
{
	struct md_msg *m, *nm;
	const char *p;
	size_t ncap;

	if (mb->n == mb->cap) {
		ncap = mb->cap == 0 ? 256 : mb->cap * 2;
		if ((nm = reallocarray(mb->msgs, ncap, sizeof(*nm))) == NULL)
			return -1;
		mb->msgs = nm;
		mb->cap = ncap;
	}
	m = &mb->msgs[mb->n];
	memset(m, 0, sizeof(*m));
	if ((m->name = strdup(name)) == NULL)
		return -1;
	m->sub = (uint8_t)sub;
	m->ulen = strcspn(name, ":,");
	for (p = name; *p >= '0' && *p <= '9'; p++) {
		if (m->stamp > (UINT64_MAX - 9) / 10) {
			m->stamp = UINT64_MAX;
			break;
		}
		m->stamp = m->stamp * 10 + (uint64_t)(*p - '0');
	}
	if (md_hint(name, m->ulen, 'W', &m->size))
		m->sized = 1;
	mb->n++;
	return 0;
}

/*
 * Add the messages in new/ or cur/.  Dot files and anything that is not
 * a regular file are skipped; tmp/ is never looked at.
 */
static int
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
static int
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
	if (!S_ISREG(sb.st_mode)) {
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
	    md_subname[m->sub], md_vis(m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	if (fd != -1)
		(void)close(fd);
	return -1;
}

/*
 * Give every message its UID (see the top of the file), using an
 * open-addressing hash set so duplicates cost O(1) each.
 */
static int
md_assign_uids(struct maildir *mb)
{
	char uid[SATCHEL_UID_MAX + 1], hash[33];
	const char **set;
	struct md_msg *m;
	size_t cap = 16, i, j, len, k;
	unsigned int dup;
	int ok, nn;

	while (cap < mb->n * 2)
		cap *= 2;
	if ((set = calloc(cap, sizeof(*set))) == NULL)
		return -1;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		ok = m->ulen > 0 && m->ulen <= SATCHEL_UID_MAX;
		for (k = 0; ok && k < m->ulen; k++)
			if ((unsigned char)m->name[k] < 0x21 ||
			    (unsigned char)m->name[k] > 0x7e)
				ok = 0;
		if (ok) {
			memcpy(uid, m->name, m->ulen);
			uid[m->ulen] = '\0';
		} else
			md_hash128(m->name, m->ulen > 0 ? m->ulen :
			    strlen(m->name), uid);
		for (dup = 1;; dup++) {
			if (dup > 1) {
				nn = snprintf(hash, sizeof(hash), "-%u", dup);
				if (nn < 0 || (size_t)nn >= sizeof(hash))
					goto fail;
				len = strlen(m->uid);
				if (len + (size_t)nn > SATCHEL_UID_MAX) {
					md_hash128(m->uid, len, uid);
					len = 32;
				} else
					memcpy(uid, m->uid, len);
				memcpy(uid + len, hash, (size_t)nn + 1);
			}
			len = strlen(uid);
			j = md_fnv(0xcbf29ce484222325ULL, uid, len) &
			    (cap - 1);
			while (set[j] != NULL && strcmp(set[j], uid) != 0)
				j = (j + 1) & (cap - 1);
			if (set[j] == NULL)
				break;
			/* Taken: keep the base form to derive "-n" from. */
			if (dup == 1 && (m->uid = strdup(uid)) == NULL)
				goto fail;
		}
		free(m->uid);
		if ((m->uid = strdup(uid)) == NULL)
			goto fail;
		set[j] = m->uid;
	}
	free(set);
	return 0;
fail:
	free(set);
	return -1;
}

/* ---- the size cache ----------------------------------------------- */

static int
md_centcmp(const void *va, const void *vb)
{
	const struct md_cent *a = va, *b = vb;

	return md_ukeycmp(a->key, a->klen, b->key, b->klen);
}

/*
 * Load .satchel.sizes: MD_CACHE_MAGIC, then lines "<size> <unique>\n"
 * with the unique part in 0x21..0x7e.  Anything else, the whole file is
 * ignored: the cache only saves work.
 */
static void
md_cache_load(struct maildir *mb)
{
	struct stat st;
	char *p, *end, *nl;
	size_t n = 0, got = 0, mlen = strlen(MD_CACHE_MAGIC), i;
	uint64_t v;
	ssize_t r;
	int fd;

	fd = openat(mb->dirfd, MD_CACHE_FILE,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno != ENOENT)
			mb->core->log(SATCHEL_LOG_WARNING, "%s/%s: %s",
			    mb->path, MD_CACHE_FILE, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MD_CACHE_MAX || (size_t)st.st_size < mlen)
		goto bad;
	if ((mb->cache_buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto bad;
	while (got < (size_t)st.st_size) {
		r = read(fd, mb->cache_buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			goto bad;
		got += (size_t)r;
	}
	(void)close(fd);
	fd = -1;
	end = mb->cache_buf + got;
	if (memcmp(mb->cache_buf, MD_CACHE_MAGIC, mlen) != 0)
		goto bad;
	for (p = mb->cache_buf + mlen; p < end; p = nl + 1)
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto bad;
		else
			n++;
	if (n == 0) {
		/* Valid and empty: every cached message is gone. */
		free(mb->cache_buf);
		mb->cache_buf = NULL;
		return;
	}
	if ((mb->cache = calloc(n, sizeof(*mb->cache))) == NULL)
		goto bad;
	for (p = mb->cache_buf + mlen; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		for (v = 0, i = 0; p < nl && *p >= '0' && *p <= '9'; p++) {
			if (v > (UINT64_MAX - 9) / 10 || ++i > 20)
				goto bad;
			v = v * 10 + (uint64_t)(*p - '0');
		}
		if (i == 0 || p >= nl || *p++ != ' ' || p == nl ||
		    nl - p > MD_NAME_MAX)
			goto bad;
		mb->cache[mb->ncache].key = p;
		mb->cache[mb->ncache].klen = (size_t)(nl - p);
		mb->cache[mb->ncache].size = v;
		for (; p < nl; p++)
			if ((unsigned char)*p < 0x21 ||
			    (unsigned char)*p > 0x7e)
				goto bad;
		mb->ncache++;
	}
	qsort(mb->cache, mb->ncache, sizeof(*mb->cache), md_centcmp);
	for (i = 1; i < mb->ncache; i++)
		if (md_centcmp(&mb->cache[i - 1], &mb->cache[i]) == 0)
			goto bad;
	return;
bad:
	mb->core->log(SATCHEL_LOG_WARNING, "%s/%s: ignoring a corrupt size "
	    "cache", mb->path, MD_CACHE_FILE);
	if (fd != -1)
		(void)close(fd);
	free(mb->cache);
	free(mb->cache_buf);
	mb->cache = NULL;
	mb->cache_buf = NULL;
	mb->ncache = 0;
}

/* Worth caching: sized by reading, no W= hint, a printable key. */
static int
md_cacheable(const struct md_msg *m)
{
	uint64_t v;
	size_t k;

	if (m->gone || !m->sized || m->ulen == 0 || m->ulen > MD_NAME_MAX ||
	    md_hint(m->name, m->ulen, 'W', &v))
		return 0;
	for (k = 0; k < m->ulen; k++)
		if ((unsigned char)m->name[k] < 0x21 ||
		    (unsigned char)m->name[k] > 0x7e)
			return 0;
	return 1;
}

/*
 * Write the cache back (tmp + rename) if its set of entries would
 * differ from what was loaded: new sizes, or entries for messages that
 * are gone or now carry a W= hint.  Failures are logged and forgotten.
 * Equal unique parts are adjacent in the message order, so skipping a
 * key equal to the previous one writes each key once.
 */
static void
md_cache_write(struct maildir *mb)
{
	const struct md_msg *m, *prev = NULL;
	size_t i, out = 0, fresh = 0, len = 0;
	int fd, n, err = 0;

	if (mb->cache_synced)
		return;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (!md_cacheable(m) || (prev != NULL && md_ukeycmp(m->name,
		    m->ulen, prev->name, prev->ulen) == 0))
			continue;
		prev = m;
		out++;
		if (!m->cached)
			fresh++;
	}
	if (fresh == 0 && out == mb->ncache) {
		mb->cache_synced = 1;
		return;
	}
	fd = openat(mb->dirfd, MD_CACHE_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	memcpy(mb->iobuf, MD_CACHE_MAGIC, strlen(MD_CACHE_MAGIC));
	len = strlen(MD_CACHE_MAGIC);
	for (prev = NULL, i = 0; i < mb->n && err == 0; i++) {
		m = &mb->msgs[i];
		if (!md_cacheable(m) || (prev != NULL && md_ukeycmp(m->name,
		    m->ulen, prev->name, prev->ulen) == 0))
			continue;
		prev = m;
		if (len > MD_IOBUF - MD_NAME_MAX - 32) {
			if (write(fd, mb->iobuf, len) != (ssize_t)len)
				err = 1;
			len = 0;
		}
		n = snprintf(mb->iobuf + len, MD_IOBUF - len, "%llu %.*s\n",
		    (unsigned long long)m->size, (int)m->ulen, m->name);
		if (n < 0 || (size_t)n >= MD_IOBUF - len)
			err = 1;
		else
			len += (size_t)n;
	}
	if (err == 0 && len > 0 && write(fd, mb->iobuf, len) != (ssize_t)len)
		err = 1;
	if (close(fd) == -1 || err)
		goto fail;
	if (renameat(mb->dirfd, MD_CACHE_TMP, mb->dirfd, MD_CACHE_FILE) == -1)
		goto fail;
	mb->cache_synced = 1;
	return;
fail:
	mb->core->log(SATCHEL_LOG_WARNING, "%s/%s: cannot write: %s",
	    mb->path, MD_CACHE_FILE, err ? "short write" : strerror(errno));
	(void)unlinkat(mb->dirfd, MD_CACHE_TMP, 0);
}

/* ---- open / count / info ------------------------------------------ */

static int
maildir_open(void *vctx, const struct satchel_mailbox_ref *ref,
    void **mbox_r, const char **errstr_r)
{
	struct maildir_ctx *ctx = vctx;
	const struct satchel_core *core = ctx->core;
	struct maildir *mb;
	struct md_cent key, *ce;
	size_t i, j;
	int sub, r, e, ret = SATCHEL_MBOX_TEMPFAIL;

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
	mb->dirfd = mb->lockfd = mb->subfd[0] = mb->subfd[1] = -1;
	if (strlen(ref->path) >= sizeof(mb->path)) {
		*errstr_r = "mailbox path too long";
		ret = SATCHEL_MBOX_ERROR;
		goto fail;
	}
	memcpy(mb->path, ref->path, strlen(ref->path) + 1);
	*errstr_r = "cannot open the maildir";
	if (md_mkdirs(mb->path) == -1 ||
	    (mb->dirfd = open(mb->path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		e = errno;
		core->log(SATCHEL_LOG_ERR, "%s: %s", mb->path, strerror(e));
		/* Permanent trouble is [SYS/PERM]; the rest may pass. */
		if (e == EACCES || e == EPERM || e == ENOTDIR ||
		    e == ELOOP || e == EROFS)
			ret = SATCHEL_MBOX_ERROR;
		goto fail;
	}
	for (sub = 0; sub < 3; sub++) {
		const char *s = sub < 2 ? md_subname[sub] : "tmp";

		if (mkdirat(mb->dirfd, s, 0700) == -1 && errno != EEXIST) {
			core->log(SATCHEL_LOG_ERR, "%s/%s: mkdir: %s",
			    mb->path, s, strerror(errno));
			goto fail;
		}
		if (sub < 2 && (mb->subfd[sub] = openat(mb->dirfd, s,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			core->log(SATCHEL_LOG_ERR, "%s/%s: %s", mb->path, s,
			    strerror(errno));
			goto fail;
		}
	}

	/* The session lock: one POP3 session per maildir. */
	mb->lockfd = openat(mb->dirfd, MD_LOCK_FILE,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mb->lockfd == -1) {
		core->log(SATCHEL_LOG_ERR, "%s/%s: %s", mb->path, MD_LOCK_FILE,
		    strerror(errno));
		goto fail;
	}
	r = core->lock_fcntl(mb->lockfd, 1, ctx->lock_timeout_ms);
	if (r == 1) {
		*errstr_r = "mailbox is locked by another session";
		ret = SATCHEL_MBOX_INUSE;
		goto fail;
	} else if (r != 0) {
		*errstr_r = "cannot lock the maildir";
		goto fail;
	}

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
	if (md_assign_uids(mb) == -1)
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

/* ---- finding renamed messages ------------------------------------- */

static int
md_ientcmp(const void *va, const void *vb)
{
	const struct md_ient *a = va, *b = vb;
	int r;

	if ((r = md_ukeycmp(a->name, a->ulen, b->name, b->ulen)) != 0)
		return r;
	return (int)b->sub - (int)a->sub;	/* cur/ first */
}

static void
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
static int
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
	ref->fd = fd;
	ref->offset = 0;
	ref->length = (uint64_t)st.st_size;
	ref->flags = 0;
	return 0;
fail:
	mb->core->log(SATCHEL_LOG_ERR, "%s/%s/%s: open: %s", mb->path,
	    md_subname[m->sub], md_vis(m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	*errstr_r = "cannot open the message";
	return -1;
}

/* ---- commit ------------------------------------------------------- */

/*
 * The name message m should have in cur/: the unique part and hints
 * kept, ",S=<phys>" and ",W=<size>" added when missing (only for a move
 * from new/; dropped if the name would get too long), and the info part
 * ":2,<flags>" with 'S' added in ASCII order when seen.  An info part
 * in another format is left alone.  Returns 0, or -1 if no valid name
 * fits.
 */
static int
md_target(const struct md_msg *m, int seen, char *out, size_t outsz,
    uint64_t phys)
{
	const char *info, *flags = "";
	char hints[64];
	size_t blen, pre;
	uint64_t v;
	int n, add_s;

	hints[0] = '\0';
	info = strchr(m->name, ':');
	blen = info != NULL ? (size_t)(info - m->name) : strlen(m->name);
	if (info != NULL && strncmp(info, ":2,", 3) != 0) {
		n = snprintf(out, outsz, "%s", m->name);
		return n < 0 || (size_t)n >= outsz ? -1 : 0;
	}
	if (info != NULL)
		flags = info + 3;
	if (m->sub == MD_NEW) {
		n = 0;
		if (!md_hint(m->name, m->ulen, 'S', &v))
			n = snprintf(hints, sizeof(hints), ",S=%llu",
			    (unsigned long long)phys);
		if (n >= 0 && !md_hint(m->name, m->ulen, 'W', &v))
			n = snprintf(hints + n, sizeof(hints) - (size_t)n,
			    ",W=%llu", (unsigned long long)m->size);
		if (n < 0)
			return -1;
	}
	/* Flags stay in ASCII order: 'S' goes before the first one above. */
	add_s = seen && strchr(flags, 'S') == NULL;
	for (pre = 0; flags[pre] != '\0' && (!add_s || flags[pre] < 'S');
	    pre++)
		;
	n = snprintf(out, outsz, "%.*s%s:2,%.*s%s%s", (int)blen, m->name,
	    blen + strlen(hints) + 4 + strlen(flags) > MD_NAME_MAX ? "" :
	    hints, (int)pre, flags, add_s ? "S" : "", flags + pre);
	if (n < 0 || (size_t)n >= outsz || (size_t)n > MD_NAME_MAX)
		return -1;
	return 0;
}

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
	    md_subname[m->sub], md_vis(m->name, vbuf, sizeof(vbuf)),
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
		if (md_target(m, seen, target, sizeof(target), phys) == -1) {
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
	    md_subname[m->sub], md_vis(m->name, vbuf, sizeof(vbuf)),
	    strerror(errno));
	return -1;
}

static int
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
