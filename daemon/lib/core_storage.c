/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * core_storage.c -- the helpers of struct satchel_core (ABI 1.2) that
 * both storage modules use: the 128-bit UID hash, the duplicate-UID
 * rule, the session lock, opening below a directory without following
 * symlinks, and strict digits.  Pure code but for open_beneath and
 * session_lock; it runs in the mailbox agent as the mail user (and in
 * the unit tests and fuzz targets), never privileged, and keeps no
 * process state.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "core.h"
#include "lock.h"
#include "log.h"
#include "compat/poison.h"

/* The second seed of hash128 (an FNV-1a-64 of nothing we recall). */
#define CORE_FNV64_SEED2	0x6c62272e07bb0142ULL
#define CORE_FNV64_PRIME	0x100000001b3ULL

/* openat2(2) without a glibc wrapper (glibc 2.36 has none). */
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS	0x04
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH		0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2		437
#endif
struct core_open_how {
	uint64_t	 flags;
	uint64_t	 mode;
	uint64_t	 resolve;
};

/* The UIDs taken so far: an open-addressing set of string offsets. */
struct satchel_uidset {
	size_t		*slot;		/* offset + 1 into str, 0 free */
	size_t		 cap, n;
	char		*str;		/* the UIDs, NUL-separated */
	size_t		 len, size;
};

static int	core_uidset_grow(struct satchel_uidset *);
static size_t	core_uidset_find(const struct satchel_uidset *, const char *,
		    size_t);
static int	core_uidset_put(struct satchel_uidset *, const char *, size_t);
static int	core_owner_ok(int, int);
static int	core_openat2(int, const char *, int, mode_t);
static int	core_notdir(int, int, const char *, int);
static int	core_open_one(int, const char *, int, mode_t);
static int	core_open_walk(int, const char *, int, mode_t, int);

uint64_t
core_fnv64(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= CORE_FNV64_PRIME;
	}
	return h;
}

void
core_hash128(const void *p, size_t len, uint64_t h_r[2])
{
	uint64_t l = len;

	h_r[0] = core_fnv64(SATCHEL_FNV64_INIT, p, len);
	h_r[1] = core_fnv64(core_fnv64(CORE_FNV64_SEED2, p, len), &l,
	    sizeof(l));
}

void
core_hash128_hex(const uint64_t h[2], char out[SATCHEL_HASH_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 16; j++)
			out[i * 16 + j] = hex[(h[i] >> (60 - 4 * j)) & 0xf];
	out[SATCHEL_HASH_HEX] = '\0';
}

/* ---- the duplicate-UID rule ----------------------------------------- */

struct satchel_uidset *
core_uidset_new(size_t hint)
{
	struct satchel_uidset *set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->cap = 16;
	while (set->cap < hint * 2 && set->cap < SIZE_MAX / 4)
		set->cap *= 2;
	set->size = 64;
	if ((set->slot = calloc(set->cap, sizeof(*set->slot))) == NULL ||
	    (set->str = malloc(set->size)) == NULL) {
		core_uidset_free(set);
		return NULL;
	}
	return set;
}

void
core_uidset_free(struct satchel_uidset *set)
{
	if (set == NULL)
		return;
	free(set->slot);
	free(set->str);
	free(set);
}

/* The slot holding uid, or the free slot where it would go. */
static size_t
core_uidset_find(const struct satchel_uidset *set, const char *uid,
    size_t len)
{
	size_t j;

	j = (size_t)core_fnv64(SATCHEL_FNV64_INIT, uid, len) & (set->cap - 1);
	while (set->slot[j] != 0 && strcmp(set->str + set->slot[j] - 1,
	    uid) != 0)
		j = (j + 1) & (set->cap - 1);
	return j;
}

static int
core_uidset_grow(struct satchel_uidset *set)
{
	struct satchel_uidset big = *set;
	size_t i, j;

	if (set->cap > SIZE_MAX / 2 / sizeof(*set->slot))
		return -1;
	big.cap = set->cap * 2;
	if ((big.slot = calloc(big.cap, sizeof(*big.slot))) == NULL)
		return -1;
	for (i = 0; i < set->cap; i++) {
		if (set->slot[i] == 0)
			continue;
		j = core_uidset_find(&big, set->str + set->slot[i] - 1,
		    strlen(set->str + set->slot[i] - 1));
		big.slot[j] = set->slot[i];
	}
	free(set->slot);
	set->slot = big.slot;
	set->cap = big.cap;
	return 0;
}

static int
core_uidset_put(struct satchel_uidset *set, const char *uid, size_t len)
{
	size_t j, nsize;
	char *ns;

	if ((set->n + 1) * 2 > set->cap && core_uidset_grow(set) == -1)
		return -1;
	if (set->len + len + 1 > set->size) {
		nsize = set->size;
		while (set->len + len + 1 > nsize)
			nsize *= 2;
		if ((ns = realloc(set->str, nsize)) == NULL)
			return -1;
		set->str = ns;
		set->size = nsize;
	}
	j = core_uidset_find(set, uid, len);
	memcpy(set->str + set->len, uid, len + 1);
	set->slot[j] = set->len + 1;
	set->len += len + 1;
	set->n++;
	return 0;
}

int
core_uidset_has(const struct satchel_uidset *set, const char *uid)
{
	return set->slot[core_uidset_find(set, uid, strlen(uid))] != 0;
}

int
core_uidset_add(struct satchel_uidset *set, const char *base,
    char out[SATCHEL_UID_MAX + 1])
{
	char hex[SATCHEL_HASH_HEX + 1], suffix[24];
	uint64_t h[2];
	size_t blen = strlen(base), len;
	unsigned int dup;
	int n;

	if (blen == 0 || blen > SATCHEL_UID_MAX)
		return -1;
	memcpy(out, base, blen + 1);
	for (dup = 2; core_uidset_has(set, out); dup++) {
		if (dup == 0)
			return -1;	/* 2^32 twins: give up */
		n = snprintf(suffix, sizeof(suffix), "-%u", dup);
		if (n < 0 || (size_t)n >= sizeof(suffix))
			return -1;
		len = blen;
		if (blen + (size_t)n > SATCHEL_UID_MAX) {
			core_hash128(base, blen, h);
			core_hash128_hex(h, hex);
			memcpy(out, hex, SATCHEL_HASH_HEX);
			len = SATCHEL_HASH_HEX;
		} else
			memcpy(out, base, blen);
		memcpy(out + len, suffix, (size_t)n + 1);
	}
	return core_uidset_put(set, out, strlen(out));
}

/* ---- opening without symlinks ---------------------------------------- */

/* May fd be used by the effective uid?  Root may use anything anyway. */
static int
core_owner_ok(int fd, int mine)
{
	struct stat st;
	uid_t me = geteuid();

	if (!mine || me == 0)
		return 0;
	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_uid != me) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or -2 when the
 * kernel has no openat2 (ENOSYS; remembered).
 */
static int
core_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	static int no_openat2;
	struct core_open_how how;
	long r;

	if (no_openat2)
		return -2;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (r == -1 && errno == ENOSYS) {
		no_openat2 = 1;
		return -2;
	}
	return (int)r;
}

/*
 * A symlink opened with O_NOFOLLOW | O_DIRECTORY says ENOTDIR, not
 * ELOOP: tell the two apart.  Returns fd.
 */
static int
core_notdir(int fd, int dirfd, const char *path, int flags)
{
	struct stat st;

	if (fd == -1 && (flags & O_DIRECTORY) && errno == ENOTDIR) {
		if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			errno = ELOOP;
		else
			errno = ENOTDIR;
	}
	return fd;
}

/*
 * One component: openat2, or O_NOFOLLOW where there is none.
 * Caution: with O_PATH | O_NOFOLLOW, openat2 hands out a descriptor of
 * a trailing symlink itself (O_DIRECTORY notwithstanding), and *at()
 * calls relative to it follow the link; so a directory asked for must
 * be one.
 */
static int
core_open_one(int dirfd, const char *name, int flags, mode_t mode)
{
	struct stat st;
	int fd;

	if ((fd = core_openat2(dirfd, name, flags, mode)) == -2)
		fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd != -1 && (flags & O_DIRECTORY) && (fstat(fd, &st) == -1 ||
	    !S_ISDIR(st.st_mode))) {
		(void)close(fd);
		errno = ELOOP;
		return -1;
	}
	return core_notdir(fd, dirfd, name, flags);
}

/*
 * Component by component, checking the owner of each: every directory
 * with O_DIRECTORY, the last one with the caller's flags.
 */
static int
core_open_walk(int dirfd, const char *path, int flags, mode_t mode,
    int mine)
{
	char comp[256];
	const char *p = path, *slash;
	size_t len;
	int fd = dirfd, nfd, e, last;

	for (;;) {
		slash = strchr(p, '/');
		last = slash == NULL;
		len = last ? strlen(p) : (size_t)(slash - p);
		if (len >= sizeof(comp)) {
			e = ENAMETOOLONG;
			nfd = -1;
			goto next;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (!last && (len == 0 || strcmp(comp, ".") == 0)) {
			p = slash + 1;
			continue;	/* "a//b", "./a" */
		}
		nfd = core_open_one(fd, comp, last ? flags : O_PATH |
		    O_DIRECTORY, mode);
		e = errno;
		if (nfd != -1 && core_owner_ok(nfd, mine) == -1) {
			e = errno;
			(void)close(nfd);
			nfd = -1;
		}
next:
		if (fd != dirfd)
			(void)close(fd);
		if (nfd == -1 || last) {
			errno = e;
			return nfd;
		}
		fd = nfd;
		p = slash + 1;
	}
}

int
core_open_beneath(int dirfd, const char *path, int flags, mode_t mode,
    int mine)
{
	struct stat st;
	const char *p;
	int fd;

	/* RESOLVE_BENEATH, spelled out for the fallback as well. */
	if (path[0] == '/' || path[0] == '\0') {
		errno = EXDEV;
		return -1;
	}
	for (p = path; p != NULL; p = strchr(p, '/'), p = p != NULL ?
	    p + 1 : NULL)
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' ||
		    p[2] == '\0')) {
			errno = EXDEV;
			return -1;
		}
	if (mine && geteuid() != 0)
		return core_open_walk(dirfd, path, flags, mode, mine);
	/* Nobody's owner to check: the kernel resolves it in one go. */
	if ((fd = core_openat2(dirfd, path, flags, mode)) == -2)
		return core_open_walk(dirfd, path, flags, mode, 0);
	if (fd != -1 && (flags & O_DIRECTORY) && (fstat(fd, &st) == -1 ||
	    !S_ISDIR(st.st_mode))) {
		(void)close(fd);
		errno = ELOOP;	/* a trailing symlink under O_PATH */
		return -1;
	}
	return core_notdir(fd, dirfd, path, flags);
}

/* ---- the session lock ------------------------------------------------ */

int
core_session_lock(int dirfd, const char *path, int timeout_ms,
    const char *hint, int *fd_r, const char **errstr_r)
{
	char vis[256];
	struct stat st;
	int fd, r, e;

	*fd_r = -1;
	fd = openat(dirfd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	e = errno;
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != geteuid() && geteuid() != 0)) {
		log_vis(vis, sizeof(vis), path, strlen(path));
		log_warnx("%s: session lock file: %s%s", vis, fd == -1 ?
		    strerror(e) : "not a regular file of the user",
		    fd == -1 && (e == EACCES || e == EROFS) && hint != NULL ?
		    hint : "");
		if (fd != -1)
			(void)close(fd);
		*errstr_r = "cannot create the session lock";
		return SATCHEL_MBOX_ERROR;
	}
	r = lock_fcntl(fd, 1, timeout_ms);
	if (r == 0) {
		*fd_r = fd;
		return SATCHEL_MBOX_OK;
	}
	(void)close(fd);
	if (r == 1) {
		*errstr_r = "mailbox is locked by another session";
		return SATCHEL_MBOX_INUSE;
	}
	*errstr_r = "cannot lock the mailbox";
	return SATCHEL_MBOX_TEMPFAIL;
}

/* ---- digits ------------------------------------------------------------ */

size_t
core_parse_digits(const char *p, size_t len, int base, uint64_t *val_r)
{
	uint64_t v = 0;
	size_t i;
	int d;

	for (i = 0; i < len; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (base == 16 && p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return 0;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (i > 0)
		*val_r = v;
	return i;
}

int
core_array_grow(void *arrp, size_t *cap, size_t n, size_t size,
    size_t first)
{
	void *arr, *na;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? first : *cap * 2;
	if (ncap <= n)
		ncap = n + 1;
	memcpy(&arr, arrp, sizeof(arr));
	if ((na = reallocarray(arr, ncap, size)) == NULL)
		return -1;
	memcpy(arrp, &na, sizeof(na));
	*cap = ncap;
	return 0;
}

void
core_wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

