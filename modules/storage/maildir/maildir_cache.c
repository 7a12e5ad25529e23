/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * maildir_cache.c -- the size cache <maildir>/.satchel.sizes of the
 * "maildir" storage module: MD_CACHE_MAGIC, then lines "<size>
 * <unique>\n" with the unique part in 0x21..0x7e, sorted by nothing in
 * particular, each key once.  md_cache_parse() is pure code, fuzzed on
 * bytes in memory; loading and writing run in the mailbox agent as the
 * mail user, never privileged.  The cache only saves work: anything
 * wrong with it and it is ignored.
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

int
md_centcmp(const void *va, const void *vb)
{
	const struct md_cent *a = va, *b = vb;

	return md_ukeycmp(a->key, a->klen, b->key, b->klen);
}

int
md_cache_parse(const struct satchel_core *core, const char *buf,
    size_t len, struct md_cent **ents_r, size_t *n_r)
{
	const char *p, *end = buf + len, *nl;
	size_t n = 0, got = 0, mlen = strlen(MD_CACHE_MAGIC), i, d;
	struct md_cent *ents;
	uint64_t v;

	*ents_r = NULL;
	*n_r = 0;
	if (len < mlen || memcmp(buf, MD_CACHE_MAGIC, mlen) != 0)
		return -1;
	for (p = buf + mlen; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		n++;
	}
	if (n == 0)
		return 0;	/* valid and empty: every cached message is gone */
	if ((ents = calloc(n, sizeof(*ents))) == NULL)
		return -1;
	for (p = buf + mlen; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((d = core->parse_digits(p, (size_t)(nl - p), 10, &v)) == 0)
			goto bad;
		p += d;
		if (p >= nl || *p++ != ' ' || p == nl || nl - p > MD_NAME_MAX)
			goto bad;
		ents[got].key = p;
		ents[got].klen = (size_t)(nl - p);
		ents[got].size = v;
		for (; p < nl; p++)
			if ((unsigned char)*p < 0x21 ||
			    (unsigned char)*p > 0x7e)
				goto bad;
		got++;
	}
	qsort(ents, got, sizeof(*ents), md_centcmp);
	for (i = 1; i < got; i++)
		if (md_centcmp(&ents[i - 1], &ents[i]) == 0)
			goto bad;
	*ents_r = ents;
	*n_r = got;
	return 0;
bad:
	free(ents);
	return -1;
}

/* Load .satchel.sizes into mb->cache (see md_cache_parse). */
void
md_cache_load(struct maildir *mb)
{
	struct stat st;
	size_t got = 0;
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
	    st.st_size > MD_CACHE_MAX ||
	    (st.st_uid != geteuid() && geteuid() != 0))
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
	if (md_cache_parse(mb->core, mb->cache_buf, got, &mb->cache,
	    &mb->ncache) == -1)
		goto bad;
	if (mb->ncache == 0) {
		free(mb->cache_buf);
		mb->cache_buf = NULL;
	}
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

/*
 * Write the cache back (tmp + rename) if its set of entries would
 * differ from what was loaded: new sizes, or entries for messages that
 * are gone or now carry a W= hint.  Failures are logged and forgotten.
 * Equal unique parts are adjacent in the message order, so skipping a
 * key equal to the previous one writes each key once.
 */
void
md_cache_write(struct maildir *mb)
{
	const struct md_msg *m, *prev = NULL;
	size_t i, out = 0, fresh = 0, len = 0;
	int fd, n, err = 0;

	if (mb->cache_synced)
		return;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (!md_cacheable(mb->core, m) || (prev != NULL && md_ukeycmp(m->name,
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
		if (!md_cacheable(mb->core, m) || (prev != NULL && md_ukeycmp(m->name,
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
