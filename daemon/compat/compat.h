/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * compat.h -- portability shims.  Platform #ifdefs live here and in
 * compat.c, never in protocol code.
 */
#ifndef SATCHEL_COMPAT_H
#define SATCHEL_COMPAT_H

#include "config.h"

#include <stddef.h>
#include <string.h>

/* The number of elements of an array. */
#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#ifndef HAVE_STRLCPY
size_t	 strlcpy(char *dst, const char *src, size_t dstsize);
#endif
#ifndef HAVE_STRLCAT
size_t	 strlcat(char *dst, const char *src, size_t dstsize);
#endif
#ifndef HAVE_TIMINGSAFE_BCMP
int	 timingsafe_bcmp(const void *a, const void *b, size_t len);
#endif
#ifndef HAVE_REALLOCARRAY
void	*reallocarray(void *p, size_t n, size_t size);
#endif
/* Set the process title shown by ps (best effort). */
void	 compat_init_setproctitle(int argc, char **argv);
void	 setproctitle_fmt(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif /* SATCHEL_COMPAT_H */
