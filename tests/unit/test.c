/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test.c -- the unit test harness (see test.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "core.h"
#include "log.h"
#include "module.h"
#include "test.h"

static const char *cur_name;
static int cur_failed, cur_skipped;
static int n_passed, n_failed, n_skipped;
static char tmpdir[256];
static const char *progname = "test";

void
test_start(const char *name)
{
	static int inited;

	if (!inited) {
		inited = 1;
		log_init(1, "mail", 0);
		log_setlevel(SATCHEL_LOG_DEBUG);
	}
	cur_name = name;
	cur_failed = cur_skipped = 0;
}

void
test_skip(const char *why)
{
	cur_skipped = 1;
	printf("    skipped: %s\n", why);
}

void
test_done(void)
{
	if (cur_failed) {
		n_failed++;
		printf("FAIL %s\n", cur_name);
	} else if (cur_skipped) {
		n_skipped++;
		printf("skip %s\n", cur_name);
	} else {
		n_passed++;
		printf("ok   %s\n", cur_name);
	}
	cur_name = NULL;
	fflush(stdout);
}

void
test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	cur_failed = 1;
	printf("  %s:%d: [%s] ", file, line, cur_name ? cur_name : "?");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
put_escaped(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 400; i++) {
		if (p[i] == '\r')
			printf("\\r");
		else if (p[i] == '\n')
			printf("\\n");
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
	if (len > 400)
		printf("...(%zu bytes)", len);
}

void
test_mem_eq(const char *file, int line, const char *what, const void *a,
    size_t alen, const void *b, size_t blen)
{
	if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
		return;
	test_fail(file, line, "%s differs (%zu vs %zu bytes)", what, alen,
	    blen);
	printf("    got:  \"");
	put_escaped(a, alen);
	printf("\"\n    want: \"");
	put_escaped(b, blen);
	printf("\"\n");
}

static void
rm_tmpdir(void)
{
	char cmd[400];

	if (tmpdir[0] != '\0' && getenv("TEST_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
}

const char *
test_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/satchel-unit.XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(rm_tmpdir);
	}
	return tmpdir;
}

void
test_write_file(const char *path, const void *data, size_t len)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, len) != (ssize_t)len || close(fd) != 0) {
		perror(path);
		exit(2);
	}
}

const struct satchel_core *
test_core(void)
{
	return core_get();
}

struct module *
test_load_module(const char *name, uint32_t kind)
{
	char dir[1024];
	const char *b;
	struct module *m;
	int n;

	if ((b = getenv("SATCHEL_BUILDDIR")) == NULL)
		b = ".";
	n = snprintf(dir, sizeof(dir), "%s/.libs", b);
	if (n < 0 || (size_t)n >= sizeof(dir))
		exit(2);
	if ((m = module_load(dir, name, kind)) == NULL)
		test_fail(__FILE__, __LINE__, "module_load(%s, %s) refused",
		    dir, name);
	return m;
}

int
test_summary(void)
{
	const char *p = getenv("_");

	(void)p;
	printf("unit %s: %d passed, %d failed, %d skipped\n", progname,
	    n_passed, n_failed, n_skipped);
	return n_failed == 0 ? 0 : 1;
}
