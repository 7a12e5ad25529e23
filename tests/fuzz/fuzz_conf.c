/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_conf.c -- libFuzzer target for the config parser (daemon/conf.c,
 * daemon/conf_set.c).
 *
 * Input: the text of a satchel.conf, parsed from memory with
 * conf_load_mem(CONF_LOAD_OFFLINE): no file is opened and no user or
 * group is looked up.  When it loads, the result is checked against what
 * the rest of the daemon relies on (every string set, listeners and
 * modules within bounds, paths absolute, mail_location with a driver,
 * SASL list known and single-spaced, no restart reported against
 * itself), its "[mod]" section is read through conf_table() with a
 * table of every public kind, then the unused-key report runs.  Any
 * violation calls abort().  Everything is freed on every path (the
 * leak checker runs too).  Warnings are silenced unless
 * FUZZ_CONF_VERBOSE is set.
 */
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "satchel/conftab.h"
#include "conf.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct modconf {
	unsigned int	 n;
	uint64_t	 big;
	int		 flag;
	char		*s;
	char		*p;
	int		 mode;
};

static const struct satchel_conf_name modes[] = {
	{ "a", 1 }, { "b", 2 }, { NULL, 0 }
};

static const struct satchel_conf_key mod_keys[] = {
	{ .key = "n", .kind = SATCHEL_CONF_UINT,
	  .off = offsetof(struct modconf, n), .min = 1, .max = 9, .def = "3" },
	{ .key = "big", .kind = SATCHEL_CONF_U64,
	  .off = offsetof(struct modconf, big), .max = UINT64_MAX },
	{ .key = "flag", .kind = SATCHEL_CONF_BOOL,
	  .off = offsetof(struct modconf, flag), .def = "no" },
	{ .key = "s", .kind = SATCHEL_CONF_STRING,
	  .off = offsetof(struct modconf, s), .max = 16, .def = "x" },
	{ .key = "p", .kind = SATCHEL_CONF_PATH,
	  .off = offsetof(struct modconf, p), .flags = SATCHEL_CONF_FILE },
	{ .key = "mode", .kind = SATCHEL_CONF_ENUM,
	  .off = offsetof(struct modconf, mode), .names = modes,
	  .def = "a" },
	SATCHEL_CONF_KEYS_END
};

static int restarts;

static void
count_restart(const char *key)
{
	(void)key;
	restarts++;
}

static void
check_str(const char *s, int path)
{
	if (s == NULL)
		abort();
	if (path && s[0] != '\0' && s[0] != '/')
		abort();
}

static void
check_config(struct config *cf)
{
	struct sockaddr_in sin;
	size_t i;
	const char *m;

	if (cf->nlisten == 0 || cf->nlisten > CONF_LISTEN_MAX ||
	    cf->nauth == 0 || cf->nauth > CONF_MODULES_MAX ||
	    cf->ntls_sni > CONF_SNI_MAX || cf->ntrusted == 0 ||
	    cf->ntrusted > CONF_NETS_MAX)
		abort();
	for (i = 0; i < cf->nauth; i++)
		if (cf->auth[i] == NULL || cf->auth[i][0] == '\0')
			abort();
	for (i = 0; i < cf->nlisten; i++)
		if (cf->listen[i].port[0] < '1' || cf->listen[i].port[0] > '9')
			abort();
	for (i = 0; i < cf->ntls_sni; i++) {
		check_str(cf->tls_sni[i].cert, 1);
		check_str(cf->tls_sni[i].key, 1);
		if (cf->tls_sni[i].cert[0] == '\0')
			abort();
	}
	check_str(cf->worker_user, 0);
	check_str(cf->chroot, 1);
	check_str(cf->module_dir, 1);
	check_str(cf->pidfile, 1);
	if (cf->module_dir[0] != '/')
		abort();
	check_str(cf->tls_cert, 1);
	check_str(cf->tls_key, 1);
	check_str(cf->mail_extra_groups, 0);
	check_str(cf->syslog_facility, 0);
	check_str(cf->expire, 0);
	check_str(cf->greeting, 0);
	check_str(cf->tls_ciphers, 0);
	check_str(cf->tls_ciphersuites, 0);
	check_str(cf->mail_location, 0);
	if (cf->mail_location[0] != '\0' &&
	    strncmp(cf->mail_location, "maildir:", 8) != 0 &&
	    strncmp(cf->mail_location, "mbox:", 5) != 0)
		abort();
	if (strlen(cf->greeting) > 200)
		abort();
	if (cf->workers_min_spare > cf->workers_max_spare ||
	    cf->workers_max_spare > cf->workers_max)
		abort();
	if (cf->tls_min_version != 12 && cf->tls_min_version != 13)
		abort();
	if ((cf->tls_cert[0] == '\0') != (cf->tls_key[0] == '\0'))
		abort();
	/* SASL: known words, single spaces, no space at either end. */
	check_str(cf->sasl, 0);
	m = cf->sasl;
	if (m[0] == ' ' || strstr(m, "  ") != NULL ||
	    (m[0] != '\0' && m[strlen(m) - 1] == ' '))
		abort();
	/* Offline: a user or group name stays unresolved. */
	if (cf->mail_uid < -1 || cf->mail_gid < -1 ||
	    cf->mail_uid > 4294967294L || cf->mail_gid > 4294967294L)
		abort();

	restarts = 0;
	if (conf_restart_changed(cf, cf, count_restart) != 0 || restarts != 0)
		abort();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	(void)conf_trusted(cf, (struct sockaddr *)&sin);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int init;
	struct config *cf;
	struct modconf mc;
	int r;

	if (!init) {
		log_init(1, "mail", 0);
		if (getenv("FUZZ_CONF_VERBOSE") == NULL)
			log_setlevel(SATCHEL_LOG_ERR);
		init = 1;
	}
	if (len > 64 * 1024)
		return 0;
	cf = conf_load_mem("fuzz.conf", data, len, CONF_LOAD_OFFLINE);
	if (cf == NULL)
		return 0;
	check_config(cf);

	memset(&mc, 0, sizeof(mc));
	r = conf_table(cf, "mod", mod_keys, &mc);
	if (r == 0) {
		if (mc.n < 1 || mc.n > 9 || (mc.flag != 0 && mc.flag != 1) ||
		    mc.s == NULL || strlen(mc.s) > 16 ||
		    (mc.p != NULL && mc.p[0] != '/') ||
		    (mc.mode != 1 && mc.mode != 2))
			abort();
	}
	satchel_conf_table_free(mod_keys, &mc);
	(void)conf_get(cf, "file", "path");
	(void)conf_check_unused(cf);
	conf_free(cf);
	return 0;
}
