/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_passwd_file.c -- libFuzzer target for the file module's
 * passwd-file parser (modules/auth/file/file_parse.c), built against
 * the installed headers only, as the module is.
 *
 * Input: the bytes of a passwd-file.  They are parsed twice, as at init
 * (conf set: every problem a config error) and as at run time (bad lines
 * skipped), through a core whose log and conf_error format their
 * arguments (so a bad format argument is caught) and whose parse_uint
 * is strict.  Checked: every entry's strings lie inside the buffer and
 * are NUL-terminated there; names are non-empty, at most
 * SATCHEL_USER_MAX, without blanks or controls; every entry is in the
 * hash table exactly once; the picked dummy is one of the passwords;
 * the good + bad line count never exceeds the lines.  Any violation
 * calls abort().  Everything is freed on every path.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static void	fz_log(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	fz_conf_error(const struct satchel_conf *, const char *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
fz_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

static void
fz_conf_error(const struct satchel_conf *conf, const char *key,
    const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	(void)conf;
	(void)key;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

static int
fz_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

static int
inside(const struct file_table *t, const char *p)
{
	return p >= t->buf && p <= t->buf + t->buflen &&
	    memchr(p, '\0', (size_t)(t->buf + t->buflen - p) + 1) != NULL;
}

static void
check(const struct file_table *t, int bad, size_t lines)
{
	const struct file_entry *e;
	size_t i, k, seen;

	if (bad < 0)
		return;
	if (t->nentries + (size_t)bad > lines)
		abort();
	for (i = 0; i < t->nentries; i++) {
		e = &t->entries[i];
		if (!inside(t, e->name) || !inside(t, e->password) ||
		    (e->home[0] != '\0' && !inside(t, e->home)) ||
		    (e->mail[0] != '\0' && !inside(t, e->mail)))
			abort();
		if (e->namelen == 0 || e->namelen > SATCHEL_USER_MAX ||
		    strlen(e->name) != e->namelen)
			abort();
		for (k = 0; k < e->namelen; k++)
			if ((unsigned char)e->name[k] <= ' ' ||
			    (unsigned char)e->name[k] == 0x7f)
				abort();
		if (e->home[0] != '\0' && e->home[0] != '/')
			abort();
		if (e->hash != file_hash(e->name, e->namelen))
			abort();
		for (seen = 0, k = 0; k < t->nslots; k++)
			seen += t->slots[k] == i + 1;
		if (seen != 1)
			abort();
	}
	if (t->dummy != NULL) {
		for (i = 0; i < t->nentries; i++)
			if (t->entries[i].password == t->dummy)
				break;
		if (i == t->nentries)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct satchel_core core;
	struct file_ctx ctx;
	struct file_load ld;
	struct file_table *t;
	size_t lines, i;
	int pass, bad;

	core.abi_major = SATCHEL_ABI_MAJOR;
	core.size = sizeof(core);
	core.log = fz_log;
	core.conf_error = fz_conf_error;
	core.parse_uint = fz_parse_uint;
	if (size > 1 << 20)
		return 0;
	for (lines = 1, i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (pass = 0; pass < 2; pass++) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.core = &core;
		ctx.path = (char *)"fuzz.passwd";
		memset(&ld, 0, sizeof(ld));
		ld.ctx = &ctx;
		ld.conf = pass == 0 ? (const struct satchel_conf *)&ctx : NULL;
		if ((t = calloc(1, sizeof(*t))) == NULL ||
		    (t->buf = malloc(size + 1)) == NULL) {
			free(t);
			return 0;
		}
		memcpy(t->buf, data, size);
		t->buf[size] = '\0';
		t->buflen = size;
		bad = file_parse(&ld, t);
		if (bad >= 0)
			file_pick_dummy(t);
		check(t, bad, lines);
		file_table_free(t);
	}
	return 0;
}
