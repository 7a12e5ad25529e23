/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * core_uidl.c -- the helpers of struct satchel_core (ABI 1.3) behind
 * uidl_format: Dovecot's pop3_uidl_format templates checked and
 * expanded (pure code), and the pins file of satchel-uidl import
 * applied to a mailbox's UIDLs.  Runs in the master (the check, at
 * module init) and in the mailbox agent as the mail user (expansion,
 * pins), and in the unit tests and fuzz targets; never privileged
 * beyond that, and keeps no process state.
 */
#include <sys/types.h>
#include <sys/stat.h>

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
#include "log.h"
#include "compat/poison.h"

/* ---- uidl_format (ABI 1.3) ------------------------------------------ */

/*
 * Dovecot's pop3_uidl_format, as its var_expand() reads it (src/lib/
 * var-expand.c of Dovecot 2.3): "%" [-][0][width][.[0][-][width]]
 * [modifiers] (letter | "{" name "}").  A width alone keeps at most
 * that many bytes, or with a leading 0 pads with zeros and cuts
 * nothing; "offset.width" skips offset bytes first (from the end when
 * negative).  Only the modifiers that make sense for a UIDL are taken;
 * the rest (E H N M D) are refused when the key is read.
 */
struct core_uidl_spec {
	int		 zero, offset, width;
	char		 mods[10];
	size_t		 nmods;
	int		 var;		/* SATCHEL_UIDL_*, or 0 for "%" */
};

#define CORE_UIDL_VALMAX	512

static const char *core_uidl_spec(const char **, struct core_uidl_spec *);
static size_t	core_uidl_value(const struct core_uidl_spec *,
		    const struct satchel_uidl_vars *, char *);

/* Read one "%..." at *pp (just past the '%'); NULL or an error text. */
static const char *
core_uidl_spec(const char **pp, struct core_uidl_spec *sp)
{
	static const struct {
		const char *name;
		char key;
		int var;
	} vars[] = {
		{ "uid", 'u', SATCHEL_UIDL_UID },
		{ "uidvalidity", 'v', SATCHEL_UIDL_VALIDITY },
		{ "filename", 'f', SATCHEL_UIDL_FILENAME },
		{ "md5", 'm', SATCHEL_UIDL_MD5 },
		{ "guid", 'g', SATCHEL_UIDL_GUID },
	};
	const char *p = *pp, *end;
	size_t i, len;
	int sign = 1, w = 0;

	memset(sp, 0, sizeof(*sp));
	if (*p == '-') {
		sign = -1;
		p++;
	}
	if (*p == '0') {
		sp->zero = 1;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++)
		if ((w = w * 10 + (*p - '0')) > 1000)
			return "width too large";
	if (*p == '.') {
		sp->offset = sign * w;
		sign = 1;
		w = 0;
		sp->zero = 0;
		p++;
		if (*p == '0') {
			sp->zero = 1;
			p++;
		}
		if (*p == '-') {
			sign = -1;
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++)
			if ((w = w * 10 + (*p - '0')) > 1000)
				return "width too large";
	}
	sp->width = sign * w;
	while (*p != '\0' && strchr("LUXRTEHNMD", *p) != NULL) {
		if (strchr("LUXRT", *p) == NULL)
			return "modifier not supported (L U X R T are)";
		if (sp->nmods == sizeof(sp->mods))
			return "more than 10 modifiers";
		sp->mods[sp->nmods++] = *p++;
	}
	if (*p == '\0')
		return "ends inside a %-variable";
	if (*p == '%') {
		sp->var = 0;
		*pp = p + 1;
		return NULL;
	}
	if (*p == '{') {
		if ((end = strchr(p, '}')) == NULL)
			return "no '}' after '%{'";
		len = (size_t)(end - p - 1);
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (strlen(vars[i].name) == len &&
			    memcmp(vars[i].name, p + 1, len) == 0)
				break;
		p = end + 1;
	} else {
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (vars[i].key == *p)
				break;
		p++;
	}
	if (i == sizeof(vars) / sizeof(vars[0]))
		return "unknown variable (u v f m g, or %{uid} %{uidvalidity} "
		    "%{filename} %{md5} %{guid})";
	sp->var = vars[i].var;
	*pp = p;
	return NULL;
}

int
core_uidl_parse(const char *fmt, unsigned int *vars_r, const char **errstr_r)
{
	struct core_uidl_spec sp;
	const char *p, *e;
	unsigned int vars = 0;

	if (fmt == NULL || *fmt == '\0') {
		*errstr_r = "empty";
		return -1;
	}
	for (p = fmt; *p != '\0';) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			*errstr_r = "a UIDL holds only printable ASCII, "
			    "no space";
			return -1;
		}
		if (*p++ != '%')
			continue;
		if ((e = core_uidl_spec(&p, &sp)) != NULL) {
			*errstr_r = e;
			return -1;
		}
		vars |= (unsigned int)sp.var;
	}
	*vars_r = vars;
	return 0;
}

/* One variable, modified, cut and padded, into out; returns its length. */
static size_t
core_uidl_value(const struct core_uidl_spec *sp,
    const struct satchel_uidl_vars *v, char *out)
{
	char val[CORE_UIDL_VALMAX], tmp[CORE_UIDL_VALMAX];
	const char *s = "";
	unsigned long long ull;
	size_t len, i, skip, n;
	char c;

	switch (sp->var) {
	case 0:
		s = "%";
		break;
	case SATCHEL_UIDL_UID:
		(void)snprintf(tmp, sizeof(tmp), "%lu", (unsigned long)v->uid);
		s = tmp;
		break;
	case SATCHEL_UIDL_VALIDITY:
		(void)snprintf(tmp, sizeof(tmp), "%lu",
		    (unsigned long)v->uidvalidity);
		s = tmp;
		break;
	case SATCHEL_UIDL_FILENAME:
		s = v->filename != NULL ? v->filename : "";
		break;
	case SATCHEL_UIDL_MD5:
		s = v->md5 != NULL ? v->md5 : "";
		break;
	case SATCHEL_UIDL_GUID:
		s = v->guid != NULL ? v->guid : "";
		break;
	}
	len = strlen(s);
	if (len >= sizeof(val))
		len = sizeof(val) - 1;
	memcpy(val, s, len);
	val[len] = '\0';
	for (i = 0; i < sp->nmods; i++) {
		switch (sp->mods[i]) {
		case 'L':
		case 'U':
			for (n = 0; n < len; n++) {
				c = val[n];
				if (sp->mods[i] == 'L' && c >= 'A' && c <= 'Z')
					val[n] = (char)(c - 'A' + 'a');
				if (sp->mods[i] == 'U' && c >= 'a' && c <= 'z')
					val[n] = (char)(c - 'a' + 'A');
			}
			break;
		case 'X':
			/* Dovecot: str_to_ullong, 0 when not a number. */
			ull = 0;
			for (n = 0; n < len && val[n] >= '0' && val[n] <= '9';
			    n++) {
				if (ull > (~0ULL - (unsigned)(val[n] - '0')) /
				    10)
					break;
				ull = ull * 10 + (unsigned)(val[n] - '0');
			}
			if (n != len || len == 0)
				ull = 0;
			(void)snprintf(val, sizeof(val), "%llx", ull);
			len = strlen(val);
			break;
		case 'R':
			for (n = 0; n < len / 2; n++) {
				c = val[n];
				val[n] = val[len - 1 - n];
				val[len - 1 - n] = c;
			}
			break;
		case 'T':
			while (len > 0 && (val[len - 1] == ' ' ||
			    (val[len - 1] >= '\t' && val[len - 1] <= '\r')))
				len--;
			val[len] = '\0';
			break;
		}
	}
	s = val;
	if (sp->offset < 0) {
		skip = (size_t)-sp->offset;
		if (len > skip) {
			s += len - skip;
			len = skip;
		}
	} else {
		skip = (size_t)sp->offset < len ? (size_t)sp->offset : len;
		s += skip;
		len -= skip;
	}
	if (sp->width == 0) {
		memcpy(out, s, len);
		return len;
	}
	if (!sp->zero) {
		/* A negative width keeps all but that many at the end. */
		if (sp->width < 0) {
			n = (size_t)-sp->width;
			if (n < len)
				len -= n;
		} else if ((size_t)sp->width < len)
			len = (size_t)sp->width;
		memcpy(out, s, len);
		return len;
	}
	n = 0;
	while ((int)(len + n) < sp->width)
		out[n++] = '0';
	memcpy(out + n, s, len);
	return n + len;
}

int
core_uidl_expand(const char *fmt, const struct satchel_uidl_vars *v,
    char out[SATCHEL_UID_MAX + 1])
{
	char piece[2 * CORE_UIDL_VALMAX + 1100];
	struct core_uidl_spec sp;
	const char *p;
	size_t len = 0, n, i;

	for (p = fmt; *p != '\0';) {
		if (*p != '%') {
			if (len >= SATCHEL_UID_MAX)
				return -1;
			out[len++] = *p++;
			continue;
		}
		p++;
		if (core_uidl_spec(&p, &sp) != NULL)
			return -1;
		n = core_uidl_value(&sp, v, piece);
		if (len + n > SATCHEL_UID_MAX)
			return -1;
		memcpy(out + len, piece, n);
		len += n;
	}
	out[len] = '\0';
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x21 ||
		    (unsigned char)out[i] > 0x7e)
			return -1;
	return (int)len;
}

/* ---- pinned UIDLs (ABI 1.3) ----------------------------------------- */

#define CORE_PINS_MAGIC	"satchel-uidl-pins 1\n"
#define CORE_PINS_MAX	(64 * 1024 * 1024)

struct core_pin {
	const char	*from, *to;
};

static int
core_pin_cmp(const void *va, const void *vb)
{
	const struct core_pin *a = va, *b = vb;

	return strcmp(a->from, b->from);
}

/* A UIDL as RFC 1939 has it: 1..70 bytes of 0x21..0x7e. */
static int
core_uidl_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return i > 0 && i <= SATCHEL_UID_MAX;
}

int
core_pins_parse(char *buf, size_t len, struct core_pin **pins_r,
    size_t *n_r)
{
	size_t mlen = strlen(CORE_PINS_MAGIC), n = 0, i;
	struct core_pin *pins;
	char *p, *end = buf + len, *nl, *sp;

	*pins_r = NULL;
	*n_r = 0;
	if (len < mlen || memcmp(buf, CORE_PINS_MAGIC, mlen) != 0)
		return -1;
	for (p = buf + mlen; p < end && (nl = memchr(p, '\n',
	    (size_t)(end - p))) != NULL; p = nl + 1)
		n++;
	if (p != end)
		return -1;
	if (n == 0)
		return 0;
	if ((pins = calloc(n, sizeof(*pins))) == NULL)
		return -1;
	for (i = 0, p = buf + mlen; i < n; i++, p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		*nl = '\0';
		if ((sp = strchr(p, ' ')) == NULL)
			goto bad;
		*sp = '\0';
		pins[i].from = p;
		pins[i].to = sp + 1;
		if (!core_uidl_ok(pins[i].from) || !core_uidl_ok(pins[i].to))
			goto bad;
	}
	qsort(pins, n, sizeof(*pins), core_pin_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(pins[i - 1].from, pins[i].from) == 0)
			goto bad;
	*pins_r = pins;
	*n_r = n;
	return 0;
bad:
	free(pins);
	return -1;
}

int
core_uidl_pins(int dirfd, const char *path, char **uids, size_t n)
{
	struct core_pin *pins = NULL, key, *pin;
	struct satchel_uidset *set = NULL;
	char out[SATCHEL_UID_MAX + 1], vis[256], *buf = NULL, **nu = NULL;
	struct stat st;
	size_t npins = 0, got = 0, i;
	ssize_t r;
	int fd, pinned = 0, ret = -1;

	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1 && errno == ENOENT)
		return 0;
	log_vis(vis, sizeof(vis), path, strlen(path));
	if (fd == -1) {
		log_warn("%s: pinned UIDLs", vis);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CORE_PINS_MAX ||
	    (st.st_uid != geteuid() && geteuid() != 0)) {
		log_warnx("%s: pinned UIDLs refused: not a regular file of "
		    "the mail user below 64 MiB", vis);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)st.st_size || core_pins_parse(buf, got, &pins,
	    &npins) == -1) {
		log_warnx("%s: not a valid pinned-UIDL file (made by "
		    "satchel-uidl import); ignored", vis);
		goto out;
	}
	if ((set = core_uidset_new(n)) == NULL ||
	    (n > 0 && (nu = calloc(n, sizeof(*nu))) == NULL))
		goto out;
	for (i = 0; i < n; i++) {
		key.from = uids[i];
		pin = npins > 0 ? bsearch(&key, pins, npins, sizeof(*pins),
		    core_pin_cmp) : NULL;
		if (pin != NULL && core_uidset_has(set, pin->to)) {
			log_warnx("%s: pin %s -> %s repeats an earlier UIDL; "
			    "not used", vis, pin->from, pin->to);
			pin = NULL;
		}
		if (core_uidset_add(set, pin != NULL ? pin->to : uids[i],
		    out) == -1 || (nu[i] = strdup(out)) == NULL)
			goto out;
		pinned += pin != NULL;
	}
	for (i = 0; i < n; i++) {
		free(uids[i]);
		uids[i] = nu[i];
		nu[i] = NULL;
	}
	ret = pinned;
out:
	if (nu != NULL)
		for (i = 0; i < n; i++)
			free(nu[i]);
	free(nu);
	core_uidset_free(set);
	free(pins);
	free(buf);
	(void)close(fd);
	return ret;
}

/*
 * A storage module's uidl_format (see satchel/module.h): the section's
 * key first, else the global one.  Through the core table, so that the
 * section's key is marked used and messages carry the module's name.
 */
int
core_uidl_conf(const struct satchel_conf *conf, unsigned int refused,
    const char *refused_why, char **fmt_r, unsigned int *vars_r)
{
	const struct satchel_core *core = core_get();
	const char *s = NULL, *err = NULL;
	int local = 0;

	*fmt_r = NULL;
	*vars_r = 0;
	if (conf != NULL && (s = core->conf_get(conf, "uidl_format")) != NULL)
		local = 1;
	else if (conf != NULL)
		s = core->conf_global(conf, "uidl_format");
	if (s == NULL || *s == '\0')
		return 0;
	if (core_uidl_parse(s, vars_r, &err) == -1)
		;
	else if (*vars_r & refused)
		err = refused_why;
	if (err != NULL) {
		if (local)
			core->conf_error(conf, "uidl_format", "%s", err);
		else
			core->log(SATCHEL_LOG_ERR, "uidl_format = %s: %s", s,
			    err);
		return -1;
	}
	if ((*fmt_r = strdup(s)) == NULL)
		return -1;
	return 1;
}
