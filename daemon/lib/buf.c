/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * buf.c -- bounded byte buffers (see buf.h).  Storage is allocated on
 * first use and doubles up to the buffer's max; it is never grown with
 * realloc() and is wiped before it is freed, because it may have held a
 * password.  Consuming bytes never moves data: the free space at the
 * front is reclaimed lazily, when a later reserve needs it.  Runs with
 * any privileges.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat/compat.h"

#include "buf.h"

#include "compat/poison.h"

#define BUF_MINCAP	256

static int	buf_grow(struct buf *, size_t);

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	size_t max = b->max;

	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	buf_init(b, max);
}

/*
 * Move the live bytes into a new allocation of at least want bytes:
 * doubling, never past max.  The old storage is wiped, not realloc()ed,
 * so no copy of its contents is left in freed memory.
 */
static int
buf_grow(struct buf *b, size_t want)
{
	size_t ncap;
	char *n;

	if (b->cap == 0)
		ncap = BUF_MINCAP;
	else if (b->cap > SIZE_MAX / 2)
		ncap = SIZE_MAX;
	else
		ncap = b->cap * 2;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	if (ncap < want) {
		errno = ENOBUFS;
		return -1;
	}
	if ((n = malloc(ncap)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->data != NULL) {
		if (b->len > 0)
			memcpy(n, b->data + b->off, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = n;
	b->cap = ncap;
	b->off = 0;
	return 0;
}

int
buf_reserve(struct buf *b, size_t need, char **p_r)
{
	size_t want;

	if (need > b->max - b->len) {
		errno = ENOBUFS;
		return -1;
	}
	want = b->len + need;
	if (b->off + want > b->cap) {
		/*
		 * Reclaim the consumed front by moving the live bytes down
		 * when that leaves plenty of room (so that a buffer that is
		 * nearly full does not memmove on every small append) or
		 * when the buffer may not grow any more.  Otherwise grow,
		 * which compacts as it copies.
		 */
		if (b->data != NULL && (want <= b->cap / 2 ||
		    (want <= b->cap && b->cap >= b->max))) {
			if (b->len > 0)
				memmove(b->data, b->data + b->off, b->len);
			b->off = 0;
		} else if (buf_grow(b, want) == -1)
			return -1;
	}
	*p_r = b->data == NULL ? NULL : b->data + b->off + b->len;
	return 0;
}

void
buf_commit(struct buf *b, size_t n)
{
	/* More than was reserved: a bug in the caller, not bad input. */
	if (n > b->cap - b->off - b->len)
		abort();
	b->len += n;
}

int
buf_append(struct buf *b, const void *p, size_t len)
{
	char *dst;

	if (len == 0)
		return 0;
	if (buf_reserve(b, len, &dst) == -1)
		return -1;
	memcpy(dst, p, len);
	buf_commit(b, len);
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/*
 * Caution: this must not move data.  proto_getline() hands out pointers
 * into the buffer after consuming the line they point to, and those stay
 * valid until the next append or reserve.
 */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
	} else {
		b->off += n;
		b->len -= n;
	}
}

void
buf_reset(struct buf *b)
{
	b->off = 0;
	b->len = 0;
}
