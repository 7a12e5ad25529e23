/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf.c -- reads satchel.conf.  The syntax is "key = value" lines, '#'
 * comments on their own line, and "[name]" headers that open the section
 * of the module called name.  Top-level keys are described by one table,
 * conf_keys[] below: each entry names its setter (the kind of value), the
 * member of struct config it fills, its bounds, its default and whether
 * a reload can apply it.  Modules describe their sections with the same
 * kind of table (satchel/conftab.h, core->conf_table) or ask for keys one
 * by one (core->conf_get); whatever nobody asked for is reported by
 * conf_check_unused().  Every message names the file, the line and the
 * key.  Pure code apart from the file checks and the user and group
 * lookups (both off with CONF_LOAD_OFFLINE); runs in the master, as
 * root, at start, for -t and on SIGHUP.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
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
#include "protocol.h"
#include "compat/poison.h"

static const struct satchel_conf_name log_levels[] = {
	{ "error", SATCHEL_LOG_ERR }, { "warning", SATCHEL_LOG_WARNING },
	{ "info", SATCHEL_LOG_INFO }, { "debug", SATCHEL_LOG_DEBUG },
	{ NULL, 0 }
};
static const struct satchel_conf_name lock_conflicts[] = {
	{ "refuse", LOCK_CONFLICT_REFUSE },
	{ "takeover", LOCK_CONFLICT_TAKEOVER }, { NULL, 0 }
};
static const struct satchel_conf_name tls_versions[] = {
	{ "TLSv1.2", 12 }, { "TLSv1.3", 13 }, { NULL, 0 }
};

/*
 * Offered by default: only what works for every stored password.  A
 * client such as curl picks the strongest mechanism offered and does
 * not fall back, so CRAM-MD5 or SCRAM offered to users stored as crypt
 * hashes would lock them out; the admin adds them with "sasl = ...".
 */
#define SASL_DEFAULT	"PLAIN LOGIN"

/* configure --with-pidfile (Makefile.am passes it). */
#ifndef SATCHEL_PIDFILE
#define SATCHEL_PIDFILE	"/run/satcheld.pid"
#endif

/*
 * The top-level keys.  To add one: add the member to struct config
 * (conf.h), then ONE line here, in the group it belongs to:
 *
 *	UINT(member, min, max, "default", flags),   unsigned int
 *	ULONG(member, min, max, "default", flags),  unsigned long
 *	BOOL(member, "yes" or "no", flags),          int 0/1
 *	STR(member, max length or 0, "default", flags),  char *, "" ok
 *	PATH(member, "default", flags),   char *, absolute ("" if default "")
 *	ENUM(member, names[], "default", flags),     int from names[]
 *	KEY("key", K_xxx, member, "default", flags)  the special kinds
 *
 * The key is the member's name (except with KEY).  Defaults are written
 * as in the file and go through the same setter, so satchel.conf(5), the
 * example config and this table must say the same thing.  flags:
 * SATCHEL_CONF_RESTART when a reload cannot apply a change (the reload
 * warns), _RESTART_UP when only raising it cannot, _REPEAT when the key
 * may appear more than once, _FILE for a PATH that must be readable,
 * _EMPTY for a PATH that may be set empty (off).
 * Old-style entries { "key", T_UINT, OFF(m), min, max, 0 } plus a line in
 * conf_new() become UINT(m, min, max, "default", 0).  Free, compare and
 * the reload check follow from the kind: nothing else to write.
 */
/* K_NETS finds a list's count right after its array. */
_Static_assert(offsetof(struct config, ntrusted) ==
    offsetof(struct config, trusted) + sizeof(((struct config *)0)->trusted),
    "the count of trusted_networks follows its array");
_Static_assert(offsetof(struct config, ntarpit_allow) ==
    offsetof(struct config, tarpit_allow) +
    sizeof(((struct config *)0)->tarpit_allow),
    "the count of tarpit_allow follows its array");

_Static_assert(offsetof(struct config, nhaproxy_trusted) ==
    offsetof(struct config, haproxy_trusted) +
    sizeof(((struct config *)0)->haproxy_trusted),
    "the count of haproxy_trusted_networks follows its array");

/*
 * OFFT(f, T) is offsetof, and does not compile (distinct pointer types,
 * an error with -Werror) unless member f has type T: a UINT() on a long
 * member cannot slip through.
 */
#define OFF(f)		offsetof(struct config, f)
#define OFFT(f, T)	(OFF(f) + 0 * sizeof(&((struct config *)0)->f == \
	(T *)0))
#define UINT(f, lo, hi, d, fl)	{ .key = #f, .kind = SATCHEL_CONF_UINT, \
	.off = OFFT(f, unsigned int), .min = (lo), .max = (hi), .def = (d), \
	.flags = (fl) }
#define ULONG(f, lo, hi, d, fl)	{ .key = #f, .kind = K_ULONG,	\
	.off = OFFT(f, unsigned long), .min = (lo), .max = (hi), .def = (d), \
	.flags = (fl) }
#define BOOL(f, d, fl)		{ .key = #f, .kind = SATCHEL_CONF_BOOL, \
	.off = OFFT(f, int), .def = (d), .flags = (fl) }
#define STR(f, len, d, fl)	{ .key = #f, .kind = SATCHEL_CONF_STRING, \
	.off = OFFT(f, char *), .max = (len), .def = (d), .flags = (fl) }
#define PATH(f, d, fl)		{ .key = #f, .kind = SATCHEL_CONF_PATH, \
	.off = OFFT(f, char *), .def = (d), .flags = (fl) }
#define ENUM(f, n, d, fl)	{ .key = #f, .kind = SATCHEL_CONF_ENUM, \
	.off = OFFT(f, int), .names = (n), .def = (d), .flags = (fl) }
#define KEY(k, kd, f, d, fl)	{ .key = (k), .kind = (kd),		\
	.off = OFF(f), .def = (d), .flags = (fl) }
#define RESTART		SATCHEL_CONF_RESTART
#define RESTART_UP	SATCHEL_CONF_RESTART_UP
#define REPEAT		SATCHEL_CONF_REPEAT
#define RFILE		SATCHEL_CONF_FILE
#define EMPTY		SATCHEL_CONF_EMPTY

const struct satchel_conf_key conf_keys[] = {
	/* listeners and the worker pool */
	KEY("listen", K_LISTEN, listen, NULL, REPEAT | RESTART),
	STR(worker_user, 0, "satchel", 0),
	PATH(chroot, "", 0),
	UINT(workers_min_spare, 0, 1000, "8", 0),
	UINT(workers_max_spare, 1, 1000, "32", 0),
	UINT(workers_max, 1, 100000, "256", RESTART_UP),
	UINT(worker_max_sessions, 1, 1000000, "1", 0),
	UINT(auth_processes, 1, 64, "1", 0),
	UINT(auth_workers, 1, 256, "4", 0),
	UINT(auth_timeout, 1, 3600, "30", 0),
	UINT(agent_max_sessions, 1, 1000000, "100", 0),
	/* modules and mail */
	KEY("auth", K_MODULES, auth, NULL, 0),
	PATH(module_dir, SATCHEL_MODULE_DIR, 0),
	KEY("mail_location", K_MAILLOC, mail_location, "", 0),
	KEY("auth_username_format", K_USERFMT, auth_username_format, "", 0),
	KEY("mail_uid", K_UID, mail_uid, NULL, 0),
	KEY("mail_gid", K_GID, mail_gid, NULL, 0),
	STR(mail_extra_groups, 0, "", 0),
	BOOL(mail_home_create, "no", 0),
	ULONG(first_valid_uid, 0, 4294967295ULL, "100", 0),
	ULONG(first_valid_gid, 0, 4294967295ULL, "1", 0),
	/* UIDL compatibility (issue 13): read by the storage modules */
	STR(uidl_format, 200, "", 0),
	/* logging */
	PATH(pidfile, SATCHEL_PIDFILE, RESTART | EMPTY),
	KEY("syslog_facility", K_FACILITY, syslog_facility, "mail", RESTART),
	ENUM(log_level, log_levels, "info", 0),
	/* the session */
	UINT(timeout_preauth, 1, 3600, "60", 0),
	UINT(timeout_session, 600, 86400, "600", 0),
	UINT(shutdown_timeout, 0, 3600, "10", 0),
	UINT(login_fail_delay_ms, 0, 60000, "2000", 0),
	UINT(login_fail_delay_max_ms, 0, 600000, "30000", 0),
	UINT(login_fail_max, 1, 100, "3", 0),
	UINT(login_delay, 0, 86400, "0", 0),
	KEY("expire", K_EXPIRE, expire, "", 0),
	BOOL(apop, "no", 0),
	STR(greeting, 200, "Satchel ready.", 0),
	/* TLS and the plaintext policy */
	PATH(tls_cert, "", RFILE),
	PATH(tls_key, "", RFILE),
	KEY("tls_sni", K_SNI, tls_sni, NULL, REPEAT),
	ENUM(tls_min_version, tls_versions, "TLSv1.2", 0),
	STR(tls_ciphers, 0, "", 0),
	STR(tls_ciphersuites, 0, "", 0),
	UINT(tls_ticket_rotate, 0, 604800, "3600", 0),
	BOOL(disable_plaintext_auth, "yes", 0),
	BOOL(tls_required, "no", 0),
	KEY("trusted_networks", K_NETS, trusted, "127.0.0.0/8 ::1/128", 0),
	/* abuse limits: 0 means no limit */
	UINT(max_connections_per_ip, 0, 100000, "20", 0),
	UINT(max_sessions_per_user, 0, 100000, "10", 0),
	UINT(max_preauth_connections, 0, 100000, "0", 0),
	BOOL(limits_exempt_trusted, "no", 0),
	UINT(timeout_login, 1, 3600, "60", 0),
	KEY("tarpit_allow", K_NETS, tarpit_allow, "none", 0),
	KEY("sasl", K_SASL, sasl, SASL_DEFAULT, 0),
	BOOL(sandbox, "yes", 0),
	/* PROXY protocol on "haproxy" listeners (Dovecot's name) */
	KEY("haproxy_trusted_networks", K_NETS, haproxy_trusted, "none", 0),
	/* satchelctl, failure reasons, stale sessions (issue 13) */
	PATH(control_socket, "", RESTART | EMPTY),
	BOOL(auth_verbose, "no", 0),
	ENUM(lock_conflict, lock_conflicts, "refuse", 0),
	/* proxy mode: users whose auth backend says proxy=y */
	BOOL(proxy_send_haproxy, "yes", 0),
	PATH(proxy_ssl_ca_file, "", RFILE),
	UINT(proxy_connect_timeout, 1, 300, "10", 0),
	/* master users (issue 14): "target*master" with USER; "" off */
	STR(auth_master_user_separator, 8, "", 0),
	/* metrics (issue 14): the stats process's socket, "" off */
	STR(metrics_listen, 0, "", RESTART),
	SATCHEL_CONF_KEYS_END
};

static struct config *conf_new(const char *, int);
static struct config *conf_load_fp(struct config *, FILE *);
static int conf_read(struct config *, FILE *);
static int conf_run(struct config *, const char *,
    const struct satchel_conf_key *, void *, int);
static int conf_validate(struct config *);
static void conf_xerr(struct config *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static char *trim(char *);

static struct config *
conf_new(const char *path, int flags)
{
	struct config *cf;

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return NULL;
	if ((cf->path = strdup(path)) == NULL) {
		free(cf);
		return NULL;
	}
	cf->load_flags = flags;
	/* Every default is in conf_keys[]: see conf_run(). */
	return cf;
}

struct config *
conf_load(const char *path)
{
	struct config *cf;
	FILE *fp;

	if ((cf = conf_new(path, 0)) == NULL) {
		log_warn("%s: load %s", __func__, path);
		return NULL;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		conf_free(cf);
		return NULL;
	}
	return conf_load_fp(cf, fp);
}

struct config *
conf_load_mem(const char *name, const void *text, size_t len, int flags)
{
	static char empty[] = "\n";
	struct config *cf;
	FILE *fp;

	if ((cf = conf_new(name, flags)) == NULL) {
		log_warn("%s: load %s", __func__, name);
		return NULL;
	}
	/* fmemopen() may refuse a size of 0; an empty line means the same. */
	if (len == 0)
		fp = fmemopen(empty, 1, "r");
	else
		fp = fmemopen((void *)(uintptr_t)text, len, "r");
	if (fp == NULL) {
		log_warn("%s: fmemopen", name);
		conf_free(cf);
		return NULL;
	}
	return conf_load_fp(cf, fp);
}

/* Parse, apply and check; closes fp; frees cf on error. */
static struct config *
conf_load_fp(struct config *cf, FILE *fp)
{
	if (conf_read(cf, fp) == -1 ||
	    conf_run(cf, "", conf_keys, cf, 1) == -1 ||
	    conf_validate(cf) == -1 || cf->errors > 0) {
		fclose(fp);
		conf_free(cf);
		return NULL;
	}
	fclose(fp);
	return cf;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int
conf_read(struct config *cf, FILE *fp)
{
	char *line = NULL, section[64] = "", *p, *eq, *key, *val;
	struct conf_entry *e, **tail = &cf->entries;
	size_t i, linesz = 0;
	ssize_t len;
	int lineno = 0, r = -1;

	while ((len = getline(&line, &linesz, fp)) != -1) {
		lineno++;
		if (len >= CONF_LINE_MAX) {
			log_warnx("%s:%d: line too long (more than %d bytes)",
			    cf->path, lineno, CONF_LINE_MAX - 1);
			cf->errors++;
			goto out;
		}
		/* A NUL would cut the line short without a word: refuse it. */
		if (memchr(line, '\0', (size_t)len) != NULL) {
			log_warnx("%s:%d: NUL byte in line", cf->path, lineno);
			cf->errors++;
			continue;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');

			if (end == NULL || end[1] != '\0' || end == p + 1 ||
			    (size_t)(end - p - 1) >= sizeof(section)) {
				log_warnx("%s:%d: bad section header",
				    cf->path, lineno);
				cf->errors++;
				continue;
			}
			*end = '\0';
			for (i = 1; p[i] != '\0'; i++)
				if (!islower((unsigned char)p[i]) &&
				    !isdigit((unsigned char)p[i]) &&
				    p[i] != '_')
					break;
			if (p[i] != '\0') {
				log_warnx("%s:%d: bad section name '%s'",
				    cf->path, lineno, p + 1);
				cf->errors++;
				continue;
			}
			strlcpy(section, p + 1, sizeof(section));
			continue;
		}
		if ((eq = strchr(p, '=')) == NULL) {
			log_warnx("%s:%d: expected 'key = value'", cf->path,
			    lineno);
			cf->errors++;
			continue;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		for (i = 0; key[i] != '\0'; i++)
			if (!islower((unsigned char)key[i]) &&
			    !isdigit((unsigned char)key[i]) && key[i] != '_')
				break;
		if (key[0] == '\0' || key[i] != '\0') {
			log_warnx("%s:%d: bad key '%s'", cf->path, lineno,
			    key);
			cf->errors++;
			continue;
		}
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    (e->section = strdup(section)) == NULL ||
		    (e->key = strdup(key)) == NULL ||
		    (e->value = strdup(val)) == NULL) {
			log_warn("%s", __func__);
			if (e != NULL) {
				free(e->section);
				free(e->key);
				free(e);
			}
			goto out;
		}
		e->line = lineno;
		*tail = e;
		tail = &e->next;
	}
	if (ferror(fp)) {
		log_warn("%s: read", cf->path);
		goto out;
	}
	r = 0;
out:
	free(line);
	return r;
}

/*
 * Apply the entries of section to base through keys, in file order, then
 * the defaults of the keys not set.  top: unknown keys are errors (in a
 * module's section they are left to conf_get and conf_check_unused).
 * Returns -1 on an allocation failure; value errors are counted in
 * cf->errors.
 */
static int
conf_run(struct config *cf, const char *section,
    const struct satchel_conf_key *keys, void *base, int top)
{
	struct conf_entry *e;
	struct conf_ctx x = { .cf = cf, .section = section };
	size_t n, i;
	int *first;

	for (n = 0; keys[n].key != NULL; n++)
		;
	if ((first = calloc(n + 1, sizeof(*first))) == NULL) {
		log_warn("%s", __func__);
		return -1;
	}
	for (e = cf->entries; e != NULL; e = e->next) {
		if (strcmp(e->section, section) != 0)
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(keys[i].key, e->key) == 0)
				break;
		if (i == n) {
			if (top) {
				log_warnx("%s:%d: unknown key '%s'", cf->path,
				    e->line, e->key);
				cf->errors++;
			}
			continue;
		}
		e->used = 1;
		x.k = &keys[i];
		x.line = e->line;
		if (first[i] != 0 && !(keys[i].flags & SATCHEL_CONF_REPEAT)) {
			conf_kerr(&x, "set twice (first at line %d)",
			    first[i]);
			continue;
		}
		if (first[i] == 0)
			first[i] = e->line;
		(void)conf_kinds[keys[i].kind].set(&x,
		    (char *)base + keys[i].off, e->value);
	}
	for (i = 0; i < n; i++) {
		if (first[i] != 0)
			continue;
		x.k = &keys[i];
		x.line = 0;
		if (keys[i].flags & SATCHEL_CONF_REQUIRED)
			conf_kerr(&x, "required, not set");
		else
			(void)conf_kinds[keys[i].kind].set(&x,
			    (char *)base + keys[i].off, keys[i].def);
	}
	free(first);
	return 0;
}

int
conf_table(struct config *cf, const char *section,
    const struct satchel_conf_key *keys, void *base)
{
	struct conf_ctx x = { .cf = cf, .section = section };
	int before = cf->errors;
	size_t i;

	/* The core's own kinds write struct config: never for a module. */
	for (i = 0; keys[i].key != NULL; i++)
		if (keys[i].kind < SATCHEL_CONF_UINT ||
		    keys[i].kind > SATCHEL_CONF_ENUM ||
		    (keys[i].kind == SATCHEL_CONF_ENUM &&
		    keys[i].names == NULL)) {
			x.k = &keys[i];
			conf_kerr(&x, "bad key table (kind %d)", keys[i].kind);
			return -1;
		}
	if (conf_run(cf, section, keys, base, 0) == -1)
		return -1;
	return cf->errors > before ? -1 : 0;
}

/* ---- checks across keys, reload ---------------------------------- */

/*
 * A check across keys: "file:line: key 'k': message", with the line
 * where k is set (none when it is at its default).
 */
static void
conf_xerr(struct config *cf, const char *key, const char *fmt, ...)
{
	struct satchel_conf_key k = { .key = key };
	struct conf_ctx x = { .cf = cf, .section = "", .k = &k };
	struct conf_entry *e;
	char msg[512];
	va_list ap;

	for (e = cf->entries; e != NULL; e = e->next)
		if (e->section[0] == '\0' && strcmp(e->key, key) == 0) {
			x.line = e->line;
			break;
		}
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_kerr(&x, "%s", msg);
}

static int
conf_validate(struct config *cf)
{
	size_t l, ntls = 0;

	/* A key in error left its member unset: check nothing further. */
	if (cf->errors > 0)
		return 0;
	conf_check_section_mail(cf);
	for (l = 0; l < cf->nlisten; l++)
		ntls += cf->listen[l].tls;
	if ((ntls > 0 || cf->ntls_sni > 0) && (cf->tls_cert[0] == '\0' ||
	    cf->tls_key[0] == '\0'))
		conf_xerr(cf, "tls_cert", "a tls listener or tls_sni needs "
		    "tls_cert and tls_key");
	if ((cf->tls_cert[0] == '\0') != (cf->tls_key[0] == '\0'))
		conf_xerr(cf, "tls_key", "tls_cert and tls_key go together");
	if (cf->tls_required && cf->tls_cert[0] == '\0')
		conf_xerr(cf, "tls_required", "no login could ever succeed "
		    "without tls_cert and tls_key");
	if (cf->workers_min_spare > cf->workers_max_spare)
		conf_xerr(cf, "workers_min_spare", "%u is above "
		    "workers_max_spare (%u)", cf->workers_min_spare,
		    cf->workers_max_spare);
	if (cf->workers_max_spare > cf->workers_max)
		conf_xerr(cf, "workers_max_spare", "%u is above workers_max "
		    "(%u)", cf->workers_max_spare, cf->workers_max);
	return 0;
}

int
conf_restart_changed(const struct config *old, const struct config *new,
    void (*report)(const char *))
{
	const struct satchel_conf_key *k;
	const char *a, *b;
	int n = 0, changed;

	for (k = conf_keys; k->key != NULL; k++) {
		if (!(k->flags & (SATCHEL_CONF_RESTART |
		    SATCHEL_CONF_RESTART_UP)))
			continue;
		a = (const char *)old + k->off;
		b = (const char *)new + k->off;
		if (k->kind == K_LISTEN)
			changed = old->nlisten != new->nlisten ||
			    memcmp(old->listen, new->listen,
			    sizeof(old->listen[0]) * old->nlisten) != 0;
		else if (KIND_IS_STR(k->kind))
			changed = strcmp(*(char *const *)(const void *)a,
			    *(char *const *)(const void *)b) != 0;
		else if ((k->flags & SATCHEL_CONF_RESTART_UP) &&
		    k->kind == SATCHEL_CONF_UINT)
			changed = *(const unsigned int *)(const void *)b >
			    *(const unsigned int *)(const void *)a;
		else
			changed = memcmp(a, b, conf_kinds[k->kind].size) != 0;
		if (changed) {
			report(k->key);
			n++;
		}
	}
	return n;
}

void
conf_restart_log(const char *key)
{
	log_warnx("'%s' changed: restart satcheld to apply it", key);
}

static int
net_match(const unsigned char *a, const unsigned char *b, unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

int
conf_trusted(const struct config *cf, const struct sockaddr *sa)
{
	return conf_in_nets(cf->trusted, cf->ntrusted, sa);
}

int
conf_in_nets(const struct conf_net *nets, size_t nnets,
    const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	const unsigned char *a;
	int family;
	size_t i;

	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
		family = AF_INET6;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			a += 12;
			family = AF_INET;
		}
	} else
		return 0;
	for (i = 0; i < nnets; i++)
		if (nets[i].family == family &&
		    net_match(a, nets[i].addr, nets[i].prefix))
			return 1;
	return 0;
}

void
conf_free(struct config *cf)
{
	const struct satchel_conf_key *k;
	struct conf_entry *e, *next;
	size_t i;

	if (cf == NULL)
		return;
	for (e = cf->entries; e != NULL; e = next) {
		next = e->next;
		free(e->section);
		free(e->key);
		/* A value may be a database password: wipe it. */
		explicit_bzero(e->value, strlen(e->value));
		free(e->value);
		free(e);
	}
	for (k = conf_keys; k->key != NULL; k++)
		if (KIND_IS_STR(k->kind))
			free(*(char **)(void *)((char *)cf + k->off));
	for (i = 0; i < cf->nauth; i++)
		free(cf->auth[i]);
	for (i = 0; i < cf->ntls_sni; i++) {
		free(cf->tls_sni[i].name);
		free(cf->tls_sni[i].cert);
		free(cf->tls_sni[i].key);
	}
	free(cf->path);
	free(cf);
}

const char *
conf_get(struct config *cf, const char *section, const char *key)
{
	struct conf_entry *e, *found = NULL;

	for (e = cf->entries; e != NULL; e = e->next)
		if (strcmp(e->section, section) == 0 &&
		    strcmp(e->key, key) == 0) {
			e->used = 1;
			if (found != NULL) {
				log_warnx("%s:%d: key '%s' in [%s]: set twice "
				    "(first at line %d)", cf->path, e->line,
				    key, section, found->line);
				cf->errors++;
				continue;
			}
			found = e;
		}
	return found == NULL ? NULL : found->value;
}

struct satchel_conf *
conf_section(struct config *cf, const char *section)
{
	struct satchel_conf *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->cf = cf;
	sc->section = section;
	return sc;
}

void
conf_error(struct config *cf, const char *section, const char *key,
    const char *fmt, ...)
{
	struct conf_entry *e;
	char msg[1024];
	va_list ap;
	int line = 0;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (e = cf->entries; e != NULL; e = e->next)
		if (strcmp(e->section, section) == 0 && (key == NULL ||
		    strcmp(e->key, key) == 0)) {
			line = e->line;
			break;
		}
	if (key != NULL && line > 0)
		log_warnx("%s:%d: key '%s' in [%s]: %s", cf->path, line, key,
		    section, msg);
	else if (key != NULL)
		log_warnx("%s: key '%s' in [%s]: %s", cf->path, key, section,
		    msg);
	else
		log_warnx("%s: [%s]: %s", cf->path, section, msg);
	cf->errors++;
}

int
conf_check_unused(struct config *cf)
{
	struct conf_entry *e;
	int n = 0;

	for (e = cf->entries; e != NULL; e = e->next)
		if (!e->used) {
			log_warnx("%s:%d: unknown key '%s' in [%s]", cf->path,
			    e->line, e->key, e->section);
			n++;
		}
	cf->errors += n;
	return n;
}

/* The one strict number parser: protocol.c's, for the file and modules. */
int
conf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *val_r)
{
	if (s == NULL)
		return -1;
	return proto_number(s, strlen(s), min, max, val_r);
}

int
conf_parse_bool(const char *s, int *val_r)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*val_r = 1;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*val_r = 0;
	else
		return -1;
	return 0;
}
