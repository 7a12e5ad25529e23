/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * buf.h -- bounded byte buffers.  Client and mailbox bytes move only
 * through struct buf: appends fail (errno ENOBUFS) rather than grow past
 * max.  Bytes live in data[off .. off+len).  Runs with any privileges.
 */
#ifndef SATCHEL_BUF_H
#define SATCHEL_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 off;	/* first unread byte */
	size_t	 len;	/* bytes after off */
	size_t	 cap;	/* allocated */
	size_t	 max;	/* hard limit on len */
};

/* Empty buffer that may hold up to max bytes; allocates lazily. */
void	 buf_init(struct buf *b, size_t max);
/* Free the storage, wiping it first (it may have held a password). */
void	 buf_free(struct buf *b);
/* Append len bytes: 0, or -1 with errno ENOBUFS/ENOMEM. */
int	 buf_append(struct buf *b, const void *p, size_t len);
/* Append a C string. */
int	 buf_puts(struct buf *b, const char *s);
/* Make room for need more bytes; *p_r points at the free space.  After
 * writing n <= need bytes there, call buf_commit(b, n).  0 or -1. */
int	 buf_reserve(struct buf *b, size_t need, char **p_r);
void	 buf_commit(struct buf *b, size_t n);
/* Drop n bytes from the front. */
void	 buf_consume(struct buf *b, size_t n);
/* Drop everything (keeps storage). */
void	 buf_reset(struct buf *b);
/* Pointer to the first unread byte. */
static inline char *
buf_ptr(const struct buf *b)
{
	return b->data == NULL ? NULL : b->data + b->off;
}

#endif /* SATCHEL_BUF_H */
