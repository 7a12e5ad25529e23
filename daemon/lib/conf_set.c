/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf_set.c -- the setters of conf.c's key table: one function per kind
 * of value (number, yes/no, string, path, word from a list, user or
 * group, listener, module list, SNI triple, networks, SASL list, syslog
 * facility, mail location, EXPIRE), each of which checks the text, stores
 * it and names the file, the line and the key in every message.  Pure
 * code apart from the readable-file checks and the getpwnam/getgrnam
 * lookups, both skipped with CONF_LOAD_OFFLINE.  Runs in the master.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "satchel/conftab.h"
#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "sasl.h"
#include "userfmt.h"
#include "compat/poison.h"

#define SASL_MECHS	"PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"	/* for the message */
#define STORAGE_DRIVERS	"maildir mbox"

static int check_path(struct conf_ctx *, const char *, const char *, int);

static conf_setter set_number, set_bool, set_string, set_path, set_enum,
    set_id, set_listen, set_modules, set_sni, set_nets, set_sasl,
    set_facility, set_mailloc, set_expire, set_userfmt;

const struct conf_kind conf_kinds[K_MAX] = {
	[SATCHEL_CONF_UINT] = { set_number, sizeof(unsigned int) },
	[SATCHEL_CONF_U64] = { set_number, sizeof(uint64_t) },
	[SATCHEL_CONF_BOOL] = { set_bool, sizeof(int) },
	[SATCHEL_CONF_STRING] = { set_string, 0 },
	[SATCHEL_CONF_PATH] = { set_path, 0 },
	[SATCHEL_CONF_ENUM] = { set_enum, sizeof(int) },
	[K_ULONG] = { set_number, sizeof(unsigned long) },
	[K_UID] = { set_id, sizeof(long) },
	[K_GID] = { set_id, sizeof(long) },
	[K_LISTEN] = { set_listen, sizeof(struct conf_listen) },
	[K_MODULES] = { set_modules, sizeof(char *) },
	[K_SNI] = { set_sni, sizeof(struct conf_sni) },
	[K_NETS] = { set_nets, sizeof(struct conf_net) },
	[K_SASL] = { set_sasl, 0 },
	[K_FACILITY] = { set_facility, 0 },
	[K_MAILLOC] = { set_mailloc, 0 },
	[K_EXPIRE] = { set_expire, 0 },
	[K_USERFMT] = { set_userfmt, 0 },
};

/*
 * "file:line: key 'k': message", with " in [section]" for a module's
 * key; without the line for a default or a missing key.
 */
void
conf_kerr(struct conf_ctx *x, const char *fmt, ...)
{
	char msg[1024], sect[80] = "";
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->section[0] != '\0')
		(void)snprintf(sect, sizeof(sect), " in [%s]", x->section);
	if (x->line > 0)
		log_warnx("%s:%d: key '%s'%s: %s", x->cf->path, x->line,
		    x->k->key, sect, msg);
	else
		log_warnx("%s: key '%s'%s: %s", x->cf->path, x->k->key, sect,
		    msg);
	x->cf->errors++;
}

/* ---- setters ------------------------------------------------------ */

static int
set_number(struct conf_ctx *x, void *field, const char *v)
{
	const struct satchel_conf_key *k = x->k;
	uint64_t n;

	if (v == NULL)
		return 0;
	if (conf_parse_uint(v, k->min, k->max, &n) == -1) {
		conf_kerr(x, "want a number from %llu to %llu, not '%s'",
		    (unsigned long long)k->min, (unsigned long long)k->max, v);
		return -1;
	}
	if (k->kind == SATCHEL_CONF_U64)
		*(uint64_t *)field = n;
	else if (k->kind == K_ULONG)
		*(unsigned long *)field = (unsigned long)n;
	else
		*(unsigned int *)field = (unsigned int)n;
	return 0;
}

static int
set_bool(struct conf_ctx *x, void *field, const char *v)
{
	if (v == NULL)
		return 0;
	if (conf_parse_bool(v, (int *)field) == -1) {
		conf_kerr(x, "want yes or no, not '%s'", v);
		return -1;
	}
	return 0;
}

static int
set_string(struct conf_ctx *x, void *field, const char *v)
{
	char **p = field, *n;

	if (v == NULL)
		return 0;
	if (x->k->max > 0 && strlen(v) > x->k->max) {
		conf_kerr(x, "longer than %llu characters",
		    (unsigned long long)x->k->max);
		return -1;
	}
	if ((n = strdup(v)) == NULL) {
		conf_kerr(x, "%s", strerror(errno));
		return -1;
	}
	free(*p);
	*p = n;
	return 0;
}

/*
 * An absolute path; with want_file, one we can open for reading (the
 * master reads certificates and keys as root before anything drops
 * privileges, so that is the check that matters).  what names the part
 * of the value, or NULL for the whole value.
 */
static int
check_path(struct conf_ctx *x, const char *what, const char *v,
    int want_file)
{
	struct stat st;
	int fd;

	if (v[0] != '/') {
		conf_kerr(x, "%s%s'%s' is not an absolute path",
		    what != NULL ? what : "", what != NULL ? " " : "", v);
		return -1;
	}
	if (!want_file || (x->cf->load_flags & CONF_LOAD_OFFLINE))
		return 0;
	if ((fd = open(v, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		conf_kerr(x, "cannot read %s: %s", v, strerror(errno));
		return -1;
	}
	/* A directory opens; reading it does not. */
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		conf_kerr(x, "cannot read %s: %s", v, strerror(EISDIR));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
set_path(struct conf_ctx *x, void *field, const char *v)
{
	if (v == NULL)
		return 0;
	/* Empty switches the feature off, where that is allowed. */
	if (v[0] == '\0' && ((x->k->flags & SATCHEL_CONF_EMPTY) ||
	    (x->k->def != NULL && x->k->def[0] == '\0')))
		return set_string(x, field, v);
	if (check_path(x, NULL, v, x->k->flags & SATCHEL_CONF_FILE) == -1)
		return -1;
	return set_string(x, field, v);
}

static int
set_enum(struct conf_ctx *x, void *field, const char *v)
{
	const struct satchel_conf_name *nm;
	char want[256] = "";

	if (v == NULL)
		return 0;
	for (nm = x->k->names; nm->name != NULL; nm++)
		if (strcmp(nm->name, v) == 0) {
			*(int *)field = nm->value;
			return 0;
		}
	for (nm = x->k->names; nm->name != NULL; nm++) {
		if (nm != x->k->names)
			strlcat(want, nm[1].name == NULL ? " or " : ", ",
			    sizeof(want));
		strlcat(want, nm->name, sizeof(want));
	}
	conf_kerr(x, "want %s, not '%s'", want, v);
	return -1;
}

/* mail_uid, mail_gid: a number, or a user or group name looked up now. */
static int
set_id(struct conf_ctx *x, void *field, const char *v)
{
	int gid = x->k->kind == K_GID;
	const char *what = gid ? "group" : "user";
	struct passwd *pw;
	struct group *gr;
	uint64_t n;

	if (v == NULL) {
		*(long *)field = -1;
		return 0;
	}
	/* All digits: a number; anything else: a name ("1ab" too). */
	if (v[0] != '\0' && v[strspn(v, "0123456789")] == '\0') {
		if (conf_parse_uint(v, 0, 4294967294ULL, &n) == -1) {
			conf_kerr(x, "want a number from 0 to 4294967294 or "
			    "a %s name, not '%s'", what, v);
			return -1;
		}
		*(long *)field = (long)n;
		return 0;
	}
	if (v[0] == '\0' || strlen(v) > 255) {
		conf_kerr(x, "want a number or a %s name, not '%s'", what, v);
		return -1;
	}
	if (x->cf->load_flags & CONF_LOAD_OFFLINE) {
		*(long *)field = -1;
		return 0;
	}
	if (gid) {
		if ((gr = getgrnam(v)) != NULL) {
			*(long *)field = (long)gr->gr_gid;
			return 0;
		}
	} else if ((pw = getpwnam(v)) != NULL) {
		*(long *)field = (long)pw->pw_uid;
		return 0;
	}
	/* errno is not telling here: NSS sets ENOENT or nothing. */
	conf_kerr(x, "unknown %s '%s'", what, v);
	return -1;
}

/*
 * listen = 127.0.0.1:110 | [::1]:110 | *:110 | :110, then optional
 * words: "tls" for implicit TLS, "haproxy" for a PROXY protocol header
 * before anything else (from haproxy_trusted_networks only).
 */
static int
set_listen(struct conf_ctx *x, void *field, const char *v)
{
	struct config *cf = x->cf;
	struct conf_listen *l;
	char buf[512], *addr, *opt, *save, *colon;
	uint64_t port;

	(void)field;
	if (v == NULL) {
		log_warnx("%s: no 'listen' address", cf->path);
		cf->errors++;
		return -1;
	}
	if (cf->nlisten == CONF_LISTEN_MAX) {
		conf_kerr(x, "more than %d listeners", CONF_LISTEN_MAX);
		return -1;
	}
	l = &cf->listen[cf->nlisten];
	memset(l, 0, sizeof(*l));
	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf))
		goto bad;
	if ((addr = strtok_r(buf, " \t", &save)) == NULL)
		goto bad;
	while ((opt = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcmp(opt, "tls") == 0)
			l->tls = 1;
		else if (strcmp(opt, "haproxy") == 0)
			l->haproxy = 1;
		else {
			conf_kerr(x, "unknown option '%s'", opt);
			return -1;
		}
	}
	if (addr[0] == '[') {
		char *end = strchr(addr, ']');

		if (end == NULL || end[1] != ':')
			goto bad;
		*end = '\0';
		if (strlcpy(l->host, addr + 1, sizeof(l->host)) >=
		    sizeof(l->host))
			goto bad;
		colon = end + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			goto bad;
		*colon = '\0';
		if (strcmp(addr, "*") != 0 && strlcpy(l->host, addr,
		    sizeof(l->host)) >= sizeof(l->host))
			goto bad;
	}
	if (conf_parse_uint(colon + 1, 1, 65535, &port) == -1)
		goto bad;
	(void)snprintf(l->port, sizeof(l->port), "%u", (unsigned)port);
	cf->nlisten++;
	return 0;
bad:
	conf_kerr(x, "want ADDRESS:PORT, [IPV6]:PORT or *:PORT, not '%s'", v);
	return -1;
}

/* auth = file mysql: module names, in order. */
static int
set_modules(struct conf_ctx *x, void *field, const char *v)
{
	struct config *cf = x->cf;
	char buf[CONF_LINE_MAX], *p, *save;

	(void)field;
	if (v != NULL) {
		strlcpy(buf, v, sizeof(buf));
		for (p = strtok_r(buf, " \t,", &save); p != NULL;
		    p = strtok_r(NULL, " \t,", &save)) {
			if (cf->nauth == CONF_MODULES_MAX) {
				conf_kerr(x, "more than %d modules",
				    CONF_MODULES_MAX);
				return -1;
			}
			if ((cf->auth[cf->nauth] = strdup(p)) == NULL) {
				conf_kerr(x, "%s", strerror(errno));
				return -1;
			}
			cf->nauth++;
		}
	}
	if (cf->nauth == 0) {
		conf_kerr(x, "no auth module named");
		return -1;
	}
	return 0;
}

/* tls_sni = HOSTNAME CERT KEY, repeatable. */
static int
set_sni(struct conf_ctx *x, void *field, const char *v)
{
	struct config *cf = x->cf;
	struct conf_sni *sn;
	char buf[CONF_LINE_MAX], *name, *cert, *key, *extra, *save;

	(void)field;
	if (v == NULL)
		return 0;
	if (cf->ntls_sni == CONF_SNI_MAX) {
		conf_kerr(x, "more than %d", CONF_SNI_MAX);
		return -1;
	}
	strlcpy(buf, v, sizeof(buf));
	name = strtok_r(buf, " \t", &save);
	cert = strtok_r(NULL, " \t", &save);
	key = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (name == NULL || cert == NULL || key == NULL || extra != NULL) {
		conf_kerr(x, "want 'HOSTNAME CERT KEY'");
		return -1;
	}
	if (check_path(x, "certificate", cert, 1) == -1 ||
	    check_path(x, "key", key, 1) == -1)
		return -1;
	sn = &cf->tls_sni[cf->ntls_sni];
	if ((sn->name = strdup(name)) == NULL ||
	    (sn->cert = strdup(cert)) == NULL ||
	    (sn->key = strdup(key)) == NULL) {
		free(sn->name);
		free(sn->cert);
		memset(sn, 0, sizeof(*sn));
		conf_kerr(x, "%s", strerror(errno));
		return -1;
	}
	cf->ntls_sni++;
	return 0;
}

/* trusted_networks = ADDRESS[/PREFIX] ... | none */
static int
set_nets(struct conf_ctx *x, void *field, const char *v)
{
	struct config *cf = x->cf;
	struct conf_net *nets = field;
	/* The count follows the array (checked in conf.c). */
	size_t *np = (size_t *)(void *)(nets + CONF_NETS_MAX);
	char buf[CONF_LINE_MAX], *p, *save;

	if (v == NULL)
		return 0;
	*np = 0;
	strlcpy(buf, v, sizeof(buf));
	for (p = strtok_r(buf, " \t,", &save); p != NULL;
	    p = strtok_r(NULL, " \t,", &save)) {
		if (*np == CONF_NETS_MAX) {
			conf_kerr(x, "more than %d networks", CONF_NETS_MAX);
			return -1;
		}
		if (strcmp(p, "none") == 0)
			continue;
		if (conf_parse_net(cf, p, &nets[*np]) == -1) {
			conf_kerr(x, "'%s' is not an ADDRESS/PREFIX network",
			    p);
			return -1;
		}
		(*np)++;
	}
	if (*np == 0) {
		/* "none": nothing in the list, not even loopback. */
		nets[0].family = -1;
		*np = 1;
	}
	return 0;
}

/* Normalised to single spaces: the worker matches " MECH ". */
static int
set_sasl(struct conf_ctx *x, void *field, const char *v)
{
	char list[256], norm[256], pad[64], *m, *save;
	int bad = 0;

	if (v == NULL)
		return 0;
	if (strlcpy(list, v, sizeof(list)) >= sizeof(list)) {
		conf_kerr(x, "longer than %zu characters", sizeof(list) - 1);
		return -1;
	}
	norm[0] = '\0';
	for (m = strtok_r(list, " \t,", &save); m != NULL;
	    m = strtok_r(NULL, " \t,", &save)) {
		(void)snprintf(pad, sizeof(pad), " %s ", m);
		if (sasl_mech_find(m) == NULL) {
			conf_kerr(x, "unknown mechanism '%s' (known: %s)", m,
			    SASL_MECHS);
			bad = 1;
		}
		if (norm[0] != '\0')
			strlcat(norm, " ", sizeof(norm));
		strlcat(norm, m, sizeof(norm));
	}
	if (bad)
		return -1;
	return set_string(x, field, norm);
}

static int
set_facility(struct conf_ctx *x, void *field, const char *v)
{
	if (v == NULL)
		return 0;
	if (log_facility_parse(v) == -1) {
		conf_kerr(x, "unknown facility '%s'", v);
		return -1;
	}
	return set_string(x, field, v);
}

/*
 * mail_location = DRIVER:PATH, the syntax auth.c expands for each user:
 * a known storage driver, a path that is absolute once expanded (it
 * starts with '/' or with %h, the user's home, itself checked absolute
 * at login), and only %u %n %d %h %%.  Empty: every user needs a mail
 * location of his own.
 */
static int
set_mailloc(struct conf_ctx *x, void *field, const char *v)
{
	char pad[40];
	const char *colon, *p;
	size_t dl;

	if (v == NULL)
		return 0;
	if (v[0] == '\0')
		return set_string(x, field, v);
	if ((colon = strchr(v, ':')) == NULL) {
		conf_kerr(x, "want DRIVER:PATH (driver one of: %s), not '%s'",
		    STORAGE_DRIVERS, v);
		return -1;
	}
	dl = (size_t)(colon - v);
	if (dl == 0 || dl + 3 > sizeof(pad)) {
		conf_kerr(x, "unknown storage driver '%.*s' (known: %s)",
		    (int)(dl > 32 ? 32 : dl), v, STORAGE_DRIVERS);
		return -1;
	}
	(void)snprintf(pad, sizeof(pad), " %.*s ", (int)dl, v);
	if (strstr(" " STORAGE_DRIVERS " ", pad) == NULL) {
		conf_kerr(x, "unknown storage driver '%.*s' (known: %s)",
		    (int)dl, v, STORAGE_DRIVERS);
		return -1;
	}
	p = colon + 1;
	if (p[0] != '/' && strncmp(p, "%h", 2) != 0) {
		conf_kerr(x, "path '%s' is not absolute (start it with / or "
		    "%%h)", p);
		return -1;
	}
	for (; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '\0' || strchr("undh%", *p) == NULL) {
			conf_kerr(x, "unknown %%-sequence '%%%.1s' (known: "
			    "%%u %%n %%d %%h %%%%)", p);
			return -1;
		}
	}
	return set_string(x, field, v);
}

static int
set_expire(struct conf_ctx *x, void *field, const char *v)
{
	uint64_t n;

	if (v == NULL)
		return 0;
	if (v[0] != '\0' && strcmp(v, "NEVER") != 0 &&
	    conf_parse_uint(v, 0, 1000000, &n) == -1) {
		conf_kerr(x, "want NEVER or a number of days, not '%s'", v);
		return -1;
	}
	return set_string(x, field, v);
}

void
conf_check_section_mail(struct config *cf)
{
	static const struct satchel_conf_key k = { .key = "mail",
	    .kind = K_MAILLOC };
	struct conf_entry *e;
	struct conf_ctx x;
	char *tmp;

	for (e = cf->entries; e != NULL; e = e->next) {
		if (e->section[0] == '\0' || strcmp(e->key, "mail") != 0)
			continue;
		x.cf = cf;
		x.section = e->section;
		x.k = &k;
		x.line = e->line;
		tmp = NULL;
		(void)set_mailloc(&x, &tmp, e->value);
		free(tmp);
	}
}

/* auth_username_format: known %-sequences only (userfmt.h). */
static int
set_userfmt(struct conf_ctx *x, void *field, const char *v)
{
	const char *err;

	if (v == NULL)
		return 0;
	if (userfmt_check(v, &err) == -1) {
		conf_kerr(x, "'%s': %s", v, err);
		return -1;
	}
	return set_string(x, field, v);
}

int
conf_parse_net(struct config *cf, const char *text, struct conf_net *n)
{
	char buf[128], *slash;
	uint64_t prefix;
	size_t max;

	(void)cf;
	if (strlcpy(buf, text, sizeof(buf)) >= sizeof(buf))
		return -1;
	memset(n, 0, sizeof(*n));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		prefix = max;
	else if (conf_parse_uint(slash, 0, max, &prefix) == -1)
		return -1;
	n->prefix = (unsigned int)prefix;
	return 0;
}

