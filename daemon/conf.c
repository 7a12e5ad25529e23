/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf.c -- reads satchel.conf.  The syntax is "key = value" lines, '#'
 * comments on their own line, and "[name]" headers that open the section
 * of the module called name.  Top-level keys are checked here against a
 * table; module keys are checked by the modules (core->conf_get) and
 * whatever nobody asked for is reported by conf_check_unused().  Every
 * message names the file, the line and the key.  Runs in the master, as
 * root, at start and on SIGHUP.
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

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "log.h"
#include "compat/poison.h"

#define CONF_LINE_MAX	4096

enum conf_type { T_STR, T_UINT, T_BOOL, T_LIST, T_LISTEN, T_LOGLEVEL,
    T_APOP, T_ID, T_SNI, T_TLSVER, T_NETS };

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	uint64_t	 min, max;	/* T_UINT */
	int		 repeat;	/* may appear more than once */
};

#define OFF(f)	offsetof(struct config, f)
static const struct conf_key conf_keys[] = {
	{ "listen",		T_LISTEN, 0, 0, 0, 1 },
	{ "worker_user",	T_STR, OFF(worker_user), 0, 0, 0 },
	{ "chroot",		T_STR, OFF(chroot), 0, 0, 0 },
	{ "workers_min_spare",	T_UINT, OFF(workers_min_spare), 0, 1000, 0 },
	{ "workers_max_spare",	T_UINT, OFF(workers_max_spare), 1, 1000, 0 },
	{ "workers_max",	T_UINT, OFF(workers_max), 1, 100000, 0 },
	{ "worker_max_sessions", T_UINT, OFF(worker_max_sessions), 1,
	    1000000, 0 },
	{ "auth_processes",	T_UINT, OFF(auth_processes), 1, 64, 0 },
	{ "auth",		T_LIST, 0, 0, 0, 0 },
	{ "module_dir",		T_STR, OFF(module_dir), 0, 0, 0 },
	{ "mail_location",	T_STR, OFF(mail_location), 0, 0, 0 },
	{ "mail_uid",		T_ID, OFF(mail_uid), 0, 0, 0 },
	{ "mail_gid",		T_ID, OFF(mail_gid), 0, 0, 0 },
	{ "mail_extra_groups",	T_STR, OFF(mail_extra_groups), 0, 0, 0 },
	{ "first_valid_uid",	T_UINT, 0, 0, 4294967295ULL, 0 },
	{ "pidfile",		T_STR, OFF(pidfile), 0, 0, 0 },
	{ "syslog_facility",	T_STR, OFF(syslog_facility), 0, 0, 0 },
	{ "log_level",		T_LOGLEVEL, OFF(log_level), 0, 0, 0 },
	{ "timeout_preauth",	T_UINT, OFF(timeout_preauth), 1, 3600, 0 },
	{ "timeout_session",	T_UINT, OFF(timeout_session), 600, 86400, 0 },
	{ "shutdown_timeout",	T_UINT, OFF(shutdown_timeout), 0, 3600, 0 },
	{ "login_fail_delay_ms", T_UINT, OFF(login_fail_delay_ms), 0, 60000,
	    0 },
	{ "login_fail_max",	T_UINT, OFF(login_fail_max), 1, 100, 0 },
	{ "login_delay",	T_UINT, OFF(login_delay), 0, 86400, 0 },
	{ "expire",		T_STR, OFF(expire), 0, 0, 0 },
	{ "apop",		T_APOP, OFF(apop), 0, 0, 0 },
	{ "greeting",		T_STR, OFF(greeting), 0, 0, 0 },
	{ "tls_cert",		T_STR, OFF(tls_cert), 0, 0, 0 },
	{ "tls_key",		T_STR, OFF(tls_key), 0, 0, 0 },
	{ "tls_sni",		T_SNI, 0, 0, 0, 1 },
	{ "tls_min_version",	T_TLSVER, 0, 0, 0, 0 },
	{ "tls_ciphers",	T_STR, OFF(tls_ciphers), 0, 0, 0 },
	{ "tls_ciphersuites",	T_STR, OFF(tls_ciphersuites), 0, 0, 0 },
	{ "tls_ticket_rotate",	T_UINT, OFF(tls_ticket_rotate), 0, 604800, 0 },
	{ "disable_plaintext_auth", T_BOOL, OFF(disable_plaintext_auth), 0, 0,
	    0 },
	{ "trusted_networks",	T_NETS, 0, 0, 0, 0 },
	{ "sasl",		T_STR, OFF(sasl), 0, 0, 0 },
	{ "sandbox",		T_BOOL, OFF(sandbox), 0, 0, 0 },
};

static struct config *conf_new(const char *);
static int conf_read(struct config *, FILE *);
static int conf_apply(struct config *);
static int conf_apply_one(struct config *, const struct conf_key *,
    struct conf_entry *);
static int conf_parse_listen(struct config *, struct conf_entry *);
static char *trim(char *);
static int conf_parse_net(struct config *, const char *, struct conf_net *);

#define SASL_MECHS	"PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"
/*
 * Offered by default: only what works for every stored password.  A
 * client such as curl picks the strongest mechanism offered and does
 * not fall back, so CRAM-MD5 or SCRAM offered to users stored as crypt
 * hashes would lock them out; the admin adds them with "sasl = ...".
 */
#define SASL_DEFAULT	"PLAIN LOGIN"

static struct config *
conf_new(const char *path)
{
	struct config *cf;

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return NULL;
	if ((cf->path = strdup(path)) == NULL) {
		free(cf);
		return NULL;
	}
	/* Defaults: the values documented in satchel.conf(5). */
	cf->workers_min_spare = 8;
	cf->workers_max_spare = 32;
	cf->workers_max = 256;
	cf->worker_max_sessions = 1;
	cf->sandbox = 1;
	cf->auth_processes = 2;
	cf->mail_uid = -1;
	cf->mail_gid = -1;
	cf->first_valid_uid = 100;
	cf->log_level = SATCHEL_LOG_INFO;
	cf->timeout_preauth = 60;
	cf->timeout_session = 600;
	cf->shutdown_timeout = 10;
	cf->login_fail_delay_ms = 2000;
	cf->login_fail_max = 3;
	cf->apop = 0;
	cf->tls_min_version = 12;
	cf->tls_ticket_rotate = 3600;
	cf->disable_plaintext_auth = 1;
	return cf;
}

struct config *
conf_load(const char *path)
{
	struct config *cf;
	FILE *fp;

	if ((cf = conf_new(path)) == NULL) {
		log_warn("%s: load %s", __func__, path);
		return NULL;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		conf_free(cf);
		return NULL;
	}
	if (conf_read(cf, fp) == -1 || conf_apply(cf) == -1 ||
	    cf->errors > 0) {
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
	char line[CONF_LINE_MAX], section[64] = "", *p, *eq, *key, *val;
	struct conf_entry *e, **tail = &cf->entries;
	int lineno = 0;
	size_t i;

	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			log_warnx("%s:%d: line too long", cf->path, lineno);
			cf->errors++;
			return -1;
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
			return -1;
		}
		e->line = lineno;
		*tail = e;
		tail = &e->next;
	}
	if (ferror(fp)) {
		log_warn("%s: read", cf->path);
		return -1;
	}
	return 0;
}

static int
conf_apply(struct config *cf)
{
	struct conf_entry *e, *f;
	size_t i;

	for (e = cf->entries; e != NULL; e = e->next) {
		if (e->section[0] != '\0')
			continue;
		for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
			if (strcmp(conf_keys[i].name, e->key) == 0)
				break;
		if (i == sizeof(conf_keys) / sizeof(conf_keys[0])) {
			log_warnx("%s:%d: unknown key '%s'", cf->path,
			    e->line, e->key);
			cf->errors++;
			continue;
		}
		e->used = 1;
		if (!conf_keys[i].repeat) {
			for (f = cf->entries; f != e; f = f->next)
				if (f->section[0] == '\0' &&
				    strcmp(f->key, e->key) == 0)
					break;
			if (f != e) {
				log_warnx("%s:%d: key '%s': set twice (first "
				    "at line %d)", cf->path, e->line, e->key,
				    f->line);
				cf->errors++;
				continue;
			}
		}
		if (conf_apply_one(cf, &conf_keys[i], e) == -1)
			cf->errors++;
	}

	/* Defaults that depend on nothing else but must be allocated. */
#define DEFSTR(f, v) do {						\
	if (cf->f == NULL && (cf->f = strdup(v)) == NULL)		\
		return -1;						\
} while (0)
	DEFSTR(worker_user, "satchel");
	DEFSTR(chroot, "");
	DEFSTR(module_dir, SATCHEL_MODULE_DIR);
	DEFSTR(mail_location, "");
	DEFSTR(mail_extra_groups, "");
	DEFSTR(pidfile, "/run/satcheld.pid");
	DEFSTR(syslog_facility, "mail");
	DEFSTR(expire, "");
	DEFSTR(greeting, "Satchel ready.");
	DEFSTR(tls_cert, "");
	DEFSTR(tls_key, "");
	DEFSTR(tls_ciphers, "");
	DEFSTR(tls_ciphersuites, "");
	DEFSTR(sasl, SASL_DEFAULT);
#undef DEFSTR
	if (cf->ntrusted == 0) {
		/* Default: loopback is trusted for plaintext logins. */
		(void)conf_parse_net(cf, "127.0.0.0/8", &cf->trusted[0]);
		(void)conf_parse_net(cf, "::1/128", &cf->trusted[1]);
		cf->ntrusted = 2;
	}
	{
		/* Normalised to single spaces: the worker matches " MECH ". */
		char list[256], norm[256], *m, *save2;

		strlcpy(list, cf->sasl, sizeof(list));
		norm[0] = '\0';
		for (m = strtok_r(list, " \t,", &save2); m != NULL;
		    m = strtok_r(NULL, " \t,", &save2)) {
			char pad[64];

			(void)snprintf(pad, sizeof(pad), " %s ", m);
			if (strstr(" " SASL_MECHS " ", pad) == NULL) {
				log_warnx("%s: key 'sasl': unknown mechanism "
				    "'%s' (known: %s)", cf->path, m,
				    SASL_MECHS);
				cf->errors++;
			}
			if (norm[0] != '\0')
				strlcat(norm, " ", sizeof(norm));
			strlcat(norm, m, sizeof(norm));
		}
		free(cf->sasl);
		if ((cf->sasl = strdup(norm)) == NULL)
			return -1;
	}
	{
		size_t l, ntls = 0;

		for (l = 0; l < cf->nlisten; l++)
			ntls += cf->listen[l].tls;
		if ((ntls > 0 || cf->ntls_sni > 0) && (cf->tls_cert[0] ==
		    '\0' || cf->tls_key[0] == '\0')) {
			log_warnx("%s: key 'tls_cert': a tls listener or "
			    "tls_sni needs tls_cert and tls_key", cf->path);
			cf->errors++;
		}
		if ((cf->tls_cert[0] == '\0') != (cf->tls_key[0] == '\0')) {
			log_warnx("%s: key 'tls_key': tls_cert and tls_key "
			    "go together", cf->path);
			cf->errors++;
		}
	}

	if (cf->nlisten == 0) {
		log_warnx("%s: no 'listen' address", cf->path);
		cf->errors++;
	}
	if (cf->nauth == 0) {
		log_warnx("%s: key 'auth': no auth module named", cf->path);
		cf->errors++;
	}
	if (log_facility_parse(cf->syslog_facility) == -1) {
		log_warnx("%s: key 'syslog_facility': unknown facility '%s'",
		    cf->path, cf->syslog_facility);
		cf->errors++;
	}
	if (cf->workers_min_spare > cf->workers_max_spare) {
		log_warnx("%s: key 'workers_min_spare': %u is above "
		    "workers_max_spare (%u)", cf->path, cf->workers_min_spare,
		    cf->workers_max_spare);
		cf->errors++;
	}
	if (cf->workers_max_spare > cf->workers_max) {
		log_warnx("%s: key 'workers_max_spare': %u is above "
		    "workers_max (%u)", cf->path, cf->workers_max_spare,
		    cf->workers_max);
		cf->errors++;
	}
	if (strlen(cf->greeting) > 200) {
		log_warnx("%s: key 'greeting': longer than 200 characters",
		    cf->path);
		cf->errors++;
	}
	if (cf->expire[0] != '\0' && strcmp(cf->expire, "NEVER") != 0 &&
	    conf_parse_uint(cf->expire, 0, 1000000, &(uint64_t){0}) == -1) {
		log_warnx("%s: key 'expire': want NEVER or a number of days",
		    cf->path);
		cf->errors++;
	}
	return 0;
}

static int
conf_apply_one(struct config *cf, const struct conf_key *k,
    struct conf_entry *e)
{
	uint64_t v;
	char *p, *save;
	int b;

	switch (k->type) {
	case T_STR:
		if ((*(char **)((char *)cf + k->off) = strdup(e->value)) ==
		    NULL)
			return -1;
		return 0;
	case T_UINT:
		if (conf_parse_uint(e->value, k->min, k->max, &v) == -1) {
			log_warnx("%s:%d: key '%s': want a number from %llu "
			    "to %llu, not '%s'", cf->path, e->line, e->key,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max, e->value);
			return -1;
		}
		if (strcmp(k->name, "first_valid_uid") == 0)
			cf->first_valid_uid = (unsigned long)v;
		else
			*(unsigned int *)((char *)cf + k->off) =
			    (unsigned int)v;
		return 0;
	case T_ID:
		if (conf_parse_uint(e->value, 0, 4294967294ULL, &v) == -1) {
			log_warnx("%s:%d: key '%s': want a numeric id, not "
			    "'%s'", cf->path, e->line, e->key, e->value);
			return -1;
		}
		*(long *)((char *)cf + k->off) = (long)v;
		return 0;
	case T_BOOL:
		if (conf_parse_bool(e->value, &b) == -1) {
			log_warnx("%s:%d: key '%s': want yes or no, not '%s'",
			    cf->path, e->line, e->key, e->value);
			return -1;
		}
		*(int *)((char *)cf + k->off) = b;
		return 0;
	case T_APOP:
		if (conf_parse_bool(e->value, &cf->apop) == -1) {
			log_warnx("%s:%d: key '%s': want yes or no, "
			    "not '%s'", cf->path, e->line, e->key, e->value);
			return -1;
		}
		return 0;
	case T_LOGLEVEL:
		if (strcmp(e->value, "error") == 0)
			cf->log_level = SATCHEL_LOG_ERR;
		else if (strcmp(e->value, "warning") == 0)
			cf->log_level = SATCHEL_LOG_WARNING;
		else if (strcmp(e->value, "info") == 0)
			cf->log_level = SATCHEL_LOG_INFO;
		else if (strcmp(e->value, "debug") == 0)
			cf->log_level = SATCHEL_LOG_DEBUG;
		else {
			log_warnx("%s:%d: key '%s': want error, warning, info "
			    "or debug, not '%s'", cf->path, e->line, e->key,
			    e->value);
			return -1;
		}
		return 0;
	case T_LIST:
		/* auth = file mysql: module names, in order */
		for (p = strtok_r(e->value, " \t,", &save); p != NULL;
		    p = strtok_r(NULL, " \t,", &save)) {
			if (cf->nauth == CONF_MODULES_MAX) {
				log_warnx("%s:%d: key '%s': more than %d "
				    "modules", cf->path, e->line, e->key,
				    CONF_MODULES_MAX);
				return -1;
			}
			if ((cf->auth[cf->nauth++] = strdup(p)) == NULL)
				return -1;
		}
		return 0;
	case T_LISTEN:
		return conf_parse_listen(cf, e);
	case T_TLSVER:
		if (strcmp(e->value, "TLSv1.2") == 0)
			cf->tls_min_version = 12;
		else if (strcmp(e->value, "TLSv1.3") == 0)
			cf->tls_min_version = 13;
		else {
			log_warnx("%s:%d: key '%s': want TLSv1.2 or TLSv1.3, "
			    "not '%s'", cf->path, e->line, e->key, e->value);
			return -1;
		}
		return 0;
	case T_SNI: {
		struct conf_sni *sn;
		char *name, *cert, *key, *extra;

		if (cf->ntls_sni == CONF_SNI_MAX) {
			log_warnx("%s:%d: key '%s': more than %d", cf->path,
			    e->line, e->key, CONF_SNI_MAX);
			return -1;
		}
		name = strtok_r(e->value, " \t", &save);
		cert = strtok_r(NULL, " \t", &save);
		key = strtok_r(NULL, " \t", &save);
		extra = strtok_r(NULL, " \t", &save);
		if (name == NULL || cert == NULL || key == NULL ||
		    extra != NULL) {
			log_warnx("%s:%d: key '%s': want 'HOSTNAME CERT KEY'",
			    cf->path, e->line, e->key);
			return -1;
		}
		sn = &cf->tls_sni[cf->ntls_sni];
		if ((sn->name = strdup(name)) == NULL ||
		    (sn->cert = strdup(cert)) == NULL ||
		    (sn->key = strdup(key)) == NULL)
			return -1;
		cf->ntls_sni++;
		return 0;
	}
	case T_NETS:
		cf->ntrusted = 0;
		for (p = strtok_r(e->value, " \t,", &save); p != NULL;
		    p = strtok_r(NULL, " \t,", &save)) {
			if (cf->ntrusted == CONF_NETS_MAX) {
				log_warnx("%s:%d: key '%s': more than %d "
				    "networks", cf->path, e->line, e->key,
				    CONF_NETS_MAX);
				return -1;
			}
			if (strcmp(p, "none") == 0)
				continue;
			if (conf_parse_net(cf, p,
			    &cf->trusted[cf->ntrusted]) == -1) {
				log_warnx("%s:%d: key '%s': '%s' is not an "
				    "ADDRESS/PREFIX network", cf->path,
				    e->line, e->key, p);
				return -1;
			}
			cf->ntrusted++;
		}
		if (cf->ntrusted == 0) {
			/* "none": nothing trusted, not even loopback. */
			cf->trusted[0].family = -1;
			cf->ntrusted = 1;
		}
		return 0;
	}
	return -1;
}

/*
 * listen = 127.0.0.1:110 | [::1]:110 | *:110 | :110, then optional
 * words: "tls" for implicit TLS.
 */
static int
conf_parse_listen(struct config *cf, struct conf_entry *e)
{
	struct conf_listen *l;
	char buf[512], *addr, *opt, *save, *colon;
	uint64_t port;

	if (cf->nlisten == CONF_LISTEN_MAX) {
		log_warnx("%s:%d: key 'listen': more than %d listeners",
		    cf->path, e->line, CONF_LISTEN_MAX);
		return -1;
	}
	l = &cf->listen[cf->nlisten];
	memset(l, 0, sizeof(*l));
	if (strlcpy(buf, e->value, sizeof(buf)) >= sizeof(buf))
		goto bad;
	if ((addr = strtok_r(buf, " \t", &save)) == NULL)
		goto bad;
	while ((opt = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcmp(opt, "tls") == 0)
			l->tls = 1;
		else {
			log_warnx("%s:%d: key 'listen': unknown option '%s'",
			    cf->path, e->line, opt);
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
	log_warnx("%s:%d: key 'listen': want ADDRESS:PORT, [IPV6]:PORT or "
	    "*:PORT, not '%s'", cf->path, e->line, e->value);
	return -1;
}

static int
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
	for (i = 0; i < cf->ntrusted; i++)
		if (cf->trusted[i].family == family &&
		    net_match(a, cf->trusted[i].addr, cf->trusted[i].prefix))
			return 1;
	return 0;
}

void
conf_free(struct config *cf)
{
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
	for (i = 0; i < cf->nauth; i++)
		free(cf->auth[i]);
	free(cf->worker_user);
	free(cf->chroot);
	free(cf->module_dir);
	free(cf->mail_location);
	free(cf->mail_extra_groups);
	free(cf->pidfile);
	free(cf->syslog_facility);
	free(cf->expire);
	free(cf->greeting);
	free(cf->tls_cert);
	free(cf->tls_key);
	free(cf->tls_ciphers);
	free(cf->tls_ciphersuites);
	free(cf->sasl);
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

int
conf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *val_r)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 19)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*val_r = v;
	return 0;
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
