/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * compat.c -- portability shims for what glibc 2.36 lacks, and the
 * process title.  Runs with any privileges.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "compat.h"

#ifndef HAVE_STRLCPY
size_t
strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);

	if (dstsize != 0) {
		size_t n = len >= dstsize ? dstsize - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif

#ifndef HAVE_STRLCAT
size_t
strlcat(char *dst, const char *src, size_t dstsize)
{
	size_t dlen = strnlen(dst, dstsize);

	if (dlen == dstsize)
		return dstsize + strlen(src);
	return dlen + strlcpy(dst + dlen, src, dstsize - dlen);
}
#endif

#ifndef HAVE_TIMINGSAFE_BCMP
int
timingsafe_bcmp(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *p = a, *q = b;
	unsigned char r = 0;
	size_t i;

	for (i = 0; i < len; i++)
		r |= p[i] ^ q[i];
	return r != 0;
}
#endif

#ifndef HAVE_REALLOCARRAY
void *
reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}
#endif

static char *title_base;
static size_t title_len;

void
compat_init_setproctitle(int argc, char **argv)
{
	/*
	 * Overwrite argv in place: the area from argv[0] to the end of the
	 * last argument.  The environment is left alone, so titles are
	 * capped at the length of the original command line.
	 */
	if (argc < 1 || argv[0] == NULL)
		return;
	title_base = argv[0];
	title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) -
	    argv[0]);
}

void
setproctitle_fmt(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	(void)prctl(PR_SET_NAME, buf, 0, 0, 0);
	if (title_base != NULL && title_len > 1) {
		memset(title_base, 0, title_len);
		strlcpy(title_base, buf, title_len);
	}
}
