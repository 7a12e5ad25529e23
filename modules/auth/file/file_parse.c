/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * file_parse.c -- the file module's passwd-file parser: a buffer split
 * in place into lines and fields, checked, and put in a hash table of
 * users.  Pure code: no I/O, no process state; problems are reported
 * through struct satchel_core (config errors at init, warnings at run
 * time).  Runs in the master (init) and in the auth pool (root); fuzzed
 * by tests/fuzz/fuzz_passwd_file.c.
 *
 * Caution: the buffer holds passwords and hashes; the table is wiped
 * when freed, and nothing here logs a field other than its name.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file_int.h"
#include "proxyfield.h"

/* A memset the compiler may not drop: the buffer held passwords. */
void
file_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

/*
 * A problem with the file as a whole or with one line (line > 0).  At
 * init it is a config error; at run time a warning, and only the first
 * FILE_REPORT_MAX lines of a load are logged one by one.
 */
void
file_report(struct file_load *ld, uint32_t line, const char *fmt, ...)
{
	const struct satchel_core *core = ld->ctx->core;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && ++ld->nbad > FILE_REPORT_MAX && ld->conf == NULL)
		return;
	if (ld->conf != NULL) {
		if (line > 0)
			core->conf_error(ld->conf, "path", "%s:%u: %s",
			    ld->ctx->path, line, msg);
		else
			core->conf_error(ld->conf, "path", "%s", msg);
	} else if (line > 0)
		core->log(SATCHEL_LOG_WARNING, "%s:%u: %s; line skipped",
		    ld->ctx->path, line, msg);
	else
		core->log(SATCHEL_LOG_WARNING, "%s", msg);
}

/*
 * User names are compared exactly, except the domain (after the last
 * '@'), which is compared without regard to ASCII case.  file_at()
 * returns the index of that '@', or len when there is none.
 */
size_t
file_at(const char *name, size_t len)
{
	size_t i;

	for (i = len; i > 0; i--)
		if (name[i - 1] == '@')
			return i - 1;
	return len;
}

uint32_t
file_hash(const char *name, size_t len)
{
	size_t at = file_at(name, len), i;
	uint32_t h = 2166136261U;	/* FNV-1a */
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (at < len && i > at && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h ^= c;
		h *= 16777619U;
	}
	return h;
}

/* a is from the file, b from the client; both len bytes long. */
int
file_name_eq(const char *a, const char *b, size_t len)
{
	size_t at = file_at(a, len), i;
	unsigned char ca, cb;

	for (i = 0; i < len; i++) {
		ca = (unsigned char)a[i];
		cb = (unsigned char)b[i];
		if (at < len && i > at) {
			if (ca >= 'A' && ca <= 'Z')
				ca = (unsigned char)(ca - 'A' + 'a');
			if (cb >= 'A' && cb <= 'Z')
				cb = (unsigned char)(cb - 'A' + 'a');
		}
		if (ca != cb)
			return 0;
	}
	return 1;
}

void
file_table_free(struct file_table *t)
{
	if (t == NULL)
		return;
	if (t->buf != NULL) {
		file_wipe(t->buf, t->buflen);
		free(t->buf);
	}
	free(t->entries);
	free(t->slots);
	free(t);
}

/*
 * A proxy extra field (proxyfield.h): checked now, kept as written and
 * given to the user record at login.  1 kept, 0 not one, -1 bad.
 */
static int
file_proxy_field(struct file_entry *e, const char *key, const char *val,
    const char **err_r)
{
	static struct satchel_user scratch;
	static const char *const empty = "";
	int r;

	if ((r = proxyfield_set(&scratch, key, val, err_r)) != 1)
		return r;
	if (val == NULL)
		val = empty;
	if (strcmp(key, "proxy") == 0)
		e->pf_proxy = val;
	else if (strcmp(key, "host") == 0)
		e->pf_host = val;
	else if (strcmp(key, "hostip") == 0)
		e->pf_hostip = val;
	else if (strcmp(key, "port") == 0)
		e->pf_port = val;
	else if (strcmp(key, "ssl") == 0)
		e->pf_ssl = val;
	else if (strcmp(key, "destuser") == 0)
		e->pf_destuser = val;
	else if (strcmp(key, "proxy_haproxy") == 0)
		e->pf_haproxy = val;
	else if (strcmp(key, "master") == 0)
		e->pf_master = val;
	else if (strcmp(key, "pass") == 0)
		e->pf_pass = val;
	file_wipe(scratch.proxy_pass, sizeof(scratch.proxy_pass));
	return 1;
}

/*
 * Parse one line (NUL-terminated, no line end) in place and add it to
 * the table.  Returns 0, or -1 after reporting a malformed line.
 */
int
file_parse_line(struct file_load *ld, struct file_table *t, char *line,
    uint32_t lineno)
{
	const struct satchel_core *core = ld->ctx->core;
	struct file_entry *e = &t->entries[t->nentries];
	const struct file_entry *o;
	char *f[8], *s, *c, *tok, *val;
	const char *err;
	size_t nf = 0, i, slot;
	uint64_t v;
	int r;

	memset(e, 0, sizeof(*e));
	memset(f, 0, sizeof(f));
	for (s = line; nf < 7 && (c = strchr(s, ':')) != NULL; s = c + 1) {
		*c = '\0';
		f[nf++] = s;
	}
	f[nf++] = s;
	if (nf < 2) {
		file_report(ld, lineno, "no ':' after the user name");
		return -1;
	}

	e->name = f[0];
	e->namelen = strlen(f[0]);
	if (e->namelen == 0 || e->namelen > SATCHEL_USER_MAX) {
		file_report(ld, lineno, "user name empty or longer than %d",
		    SATCHEL_USER_MAX);
		return -1;
	}
	for (i = 0; i < e->namelen; i++)
		if ((unsigned char)e->name[i] <= ' ' ||
		    (unsigned char)e->name[i] == 0x7f) {
			file_report(ld, lineno, "space or control character "
			    "in the user name");
			return -1;
		}
	e->password = f[1];

	if (f[2] != NULL && f[2][0] != '\0') {
		if (core->parse_uint(f[2], 0, FILE_ID_MAX, &v) == -1) {
			file_report(ld, lineno, "uid is not a number");
			return -1;
		}
		e->uid = (uid_t)v;
		e->uid_set = 1;
	}
	if (f[3] != NULL && f[3][0] != '\0') {
		if (core->parse_uint(f[3], 0, FILE_ID_MAX, &v) == -1) {
			file_report(ld, lineno, "gid is not a number");
			return -1;
		}
		e->gid = (gid_t)v;
		e->gid_set = 1;
	}
	/* f[4] is the GECOS field and f[6] the shell: not used. */
	e->home = f[5] != NULL ? f[5] : "";
	if (e->home[0] != '\0' && e->home[0] != '/') {
		file_report(ld, lineno, "home is not an absolute path");
		return -1;
	}
	if (strlen(e->home) >= SATCHEL_PATH_MAX) {
		file_report(ld, lineno, "home longer than %d",
		    SATCHEL_PATH_MAX - 1);
		return -1;
	}
	e->mail = "";

	/* Extra fields: "key=value" or "key", separated by blanks. */
	for (s = f[7]; s != NULL && *s != '\0'; ) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		tok = s;
		s += strcspn(s, " \t");
		if (*s != '\0')
			*s++ = '\0';
		if ((val = strchr(tok, '=')) != NULL)
			*val++ = '\0';
		if (strcmp(tok, "mail") == 0 ||
		    strcmp(tok, "userdb_mail") == 0) {
			if (val == NULL || val[0] == '\0' ||
			    strlen(val) >= SATCHEL_PATH_MAX) {
				file_report(ld, lineno, "%s: empty or longer "
				    "than %d", tok, SATCHEL_PATH_MAX - 1);
				return -1;
			}
			e->mail = val;
		} else if (strcmp(tok, "login_delay") == 0 ||
		    strcmp(tok, "userdb_login_delay") == 0) {
			if (val == NULL || core->parse_uint(val, 0,
			    FILE_DELAY_MAX, &v) == -1) {
				file_report(ld, lineno, "%s: not a number of "
				    "seconds", tok);
				return -1;
			}
			e->login_delay = (unsigned int)v;
		} else if (strcmp(tok, "nologin") == 0 ||
		    strcmp(tok, "userdb_nologin") == 0) {
			/* Any value: fail closed. */
			e->nologin = 1;
		} else if ((r = file_proxy_field(e, tok, val, &err)) != 0) {
			if (r == -1) {
				file_report(ld, lineno, "%s", err);
				return -1;
			}
		}
		/* Other Dovecot fields (quota_rule, allow_nets, ...) are
		 * not ours to enforce; ignore them. */
	}

	e->hash = file_hash(e->name, e->namelen);
	e->line = lineno;
	for (slot = e->hash & (t->nslots - 1); t->slots[slot] != 0;
	    slot = (slot + 1) & (t->nslots - 1)) {
		o = &t->entries[t->slots[slot] - 1];
		if (o->hash == e->hash && o->namelen == e->namelen &&
		    file_name_eq(o->name, e->name, e->namelen)) {
			file_report(ld, lineno, "user already defined at "
			    "line %u", o->line);
			return -1;
		}
	}
	t->slots[slot] = (uint32_t)(t->nentries + 1);
	t->nentries++;
	return 0;
}

/*
 * Split t->buf into lines and parse them.  Returns the number of
 * malformed lines, or -1 when out of memory.
 */
int
file_parse(struct file_load *ld, struct file_table *t)
{
	char *p, *end, *nl, *line;
	size_t nlines = 1, len;
	uint32_t lineno = 0;
	int bad = 0;

	for (p = t->buf; (p = memchr(p, '\n', t->buflen -
	    (size_t)(p - t->buf))) != NULL; p++)
		nlines++;
	if (nlines >= UINT32_MAX / 4) {
		file_report(ld, 0, "%s: too many lines", ld->ctx->path);
		return -1;
	}
	for (t->nslots = 16; t->nslots < nlines * 2; t->nslots <<= 1)
		;
	if ((t->entries = calloc(nlines, sizeof(*t->entries))) == NULL ||
	    (t->slots = calloc(t->nslots, sizeof(*t->slots))) == NULL) {
		file_report(ld, 0, "%s: %s", ld->ctx->path, strerror(errno));
		return -1;
	}

	for (p = t->buf, end = t->buf + t->buflen; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		line = p;
		len = (size_t)(nl - p);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (memchr(line, '\0', len) != NULL) {
			file_report(ld, lineno, "NUL byte in line");
			bad++;
			continue;
		}
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#')
			continue;
		if (file_parse_line(ld, t, p, lineno) == -1)
			bad++;
	}
	if (ld->conf == NULL && ld->nbad > FILE_REPORT_MAX)
		ld->ctx->core->log(SATCHEL_LOG_WARNING, "%s: %zu more "
		    "malformed lines skipped", ld->ctx->path,
		    ld->nbad - FILE_REPORT_MAX);
	return bad;
}

/*
 * For an unknown user, verify the password against a stored value like
 * most of the file's, so that the time spent matches a real user's.
 * Entries are classed by scheme; the first entry of the largest class
 * is used.
 */
void
file_pick_dummy(struct file_table *t)
{
	static const char *const classes[] = {
		"{PLAIN}", "{CLEAR}", "$y$", "$2", "$6$", "$5$", "$7$",
		"$gy$",
	};
	size_t count[sizeof(classes) / sizeof(classes[0]) + 1];
	size_t first[sizeof(classes) / sizeof(classes[0]) + 1];
	size_t nc = sizeof(classes) / sizeof(classes[0]), i, k, best;
	const char *p, *q;

	memset(count, 0, sizeof(count));
	memset(first, 0, sizeof(first));
	t->dummy = NULL;
	for (i = 0; i < t->nentries; i++) {
		p = t->entries[i].password;
		/* "{SHA512-CRYPT}$6$..." is classed by its hash. */
		if (p[0] == '{' && (q = strchr(p, '}')) != NULL &&
		    q[1] == '$')
			p = q + 1;
		for (k = 0; k < nc; k++)
			if (strncasecmp(p, classes[k], strlen(classes[k])) == 0)
				break;
		if (k == nc && p[0] == '\0')
			continue;	/* no password: not a model */
		if (count[k]++ == 0)
			first[k] = i;
	}
	for (best = 0, k = 1; k <= nc; k++)
		if (count[k] > count[best])
			best = k;
	if (count[best] > 0)
		t->dummy = t->entries[first[best]].password;
}

