/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxyfield.c -- the proxy passdb extra fields (see proxyfield.h).
 * Pure code: no core, no process state.  Values are checked strictly
 * here, once, so the auth pool and the worker can rely on them: a host
 * is letters, digits, '.', '-', '_' and ':' only (a name or an IP
 * address, never a path or an option), a port is 1-65535, destuser and
 * master have no blank or control character, pass no control character.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxyfield.h"

static int
pf_yes(const char *v, int *r)
{
	static const char *const yes[] = { "", "y", "yes", "1", "true" };
	static const char *const no[] = { "n", "no", "0", "false" };
	size_t i;

	if (v == NULL) {
		*r = 1;
		return 0;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*r = 1;
			return 0;
		}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(v, no[i]) == 0) {
			*r = 0;
			return 0;
		}
	return -1;
}

static int
pf_host_ok(const char *v, size_t max)
{
	size_t i, n;

	if (v == NULL || (n = strlen(v)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_' || c == ':'))
			return 0;
	}
	/* Never an option to anything: no leading '-'. */
	return v[0] != '-';
}

/*
 * A user name for the backend (destuser=, master=): 1 to
 * SATCHEL_USER_MAX octets, no blank or control character, copied to
 * dst (SATCHEL_USER_MAX + 1 bytes).  1, or -1 with *err_r the message
 * that fits.
 */
static int
pf_name(char *dst, const char *val, const char **err_r, const char *toolong,
    const char *badchar)
{
	size_t i, n;

	if (val == NULL || (n = strlen(val)) == 0 || n > SATCHEL_USER_MAX) {
		*err_r = toolong;
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)val[i] <= ' ' ||
		    (unsigned char)val[i] == 0x7f) {
			*err_r = badchar;
			return -1;
		}
	memcpy(dst, val, n + 1);
	return 1;
}

int
proxyfield_set(struct satchel_user *u, const char *key, const char *val,
    const char **err_r)
{
	size_t i, n;
	unsigned long p;
	char *end;
	int b;

	if (strcmp(key, "proxy") == 0) {
		if (pf_yes(val, &b) == -1) {
			*err_r = "proxy: not y or n";
			return -1;
		}
		u->proxy = b;
		return 1;
	}
	if (strcmp(key, "proxy_maybe") == 0) {
		*err_r = "proxy_maybe: not supported (use proxy=y)";
		return -1;
	}
	if (strcmp(key, "host") == 0) {
		if (!pf_host_ok(val, SATCHEL_HOST_MAX)) {
			*err_r = "host: empty, too long, or not a host name "
			    "or address";
			return -1;
		}
		memcpy(u->proxy_host, val, strlen(val) + 1);
		return 1;
	}
	if (strcmp(key, "hostip") == 0) {
		if (!pf_host_ok(val, sizeof(u->proxy_hostip) - 1) ||
		    strspn(val, "0123456789abcdefABCDEF.:") != strlen(val)) {
			*err_r = "hostip: not an IP address";
			return -1;
		}
		memcpy(u->proxy_hostip, val, strlen(val) + 1);
		return 1;
	}
	if (strcmp(key, "port") == 0) {
		if (val == NULL || val[0] < '1' || val[0] > '9' ||
		    (p = strtoul(val, &end, 10)) > 65535 || *end != '\0') {
			*err_r = "port: not a number from 1 to 65535";
			return -1;
		}
		u->proxy_port = (unsigned int)p;
		return 1;
	}
	if (strcmp(key, "ssl") == 0) {
		if (val != NULL && strcmp(val, "yes") == 0)
			u->proxy_ssl = SATCHEL_PROXY_SSL_YES;
		else if (val != NULL && strcmp(val, "starttls") == 0)
			u->proxy_ssl = SATCHEL_PROXY_SSL_STARTTLS;
		else if (val == NULL || val[0] == '\0' || strcmp(val, "no") ==
		    0)
			u->proxy_ssl = SATCHEL_PROXY_SSL_NO;
		else {
			*err_r = "ssl: not yes, starttls or no (any-cert is "
			    "not supported: certificates are always checked)";
			return -1;
		}
		return 1;
	}
	if (strcmp(key, "destuser") == 0)
		return pf_name(u->proxy_destuser, val, err_r,
		    "destuser: empty or too long",
		    "destuser: blank or control character");
	/* ABI 1.4: log in at the backend as a master user. */
	if (strcmp(key, "master") == 0)
		return pf_name(u->proxy_master, val, err_r,
		    "master: empty or too long",
		    "master: blank or control character");
	if (strcmp(key, "pass") == 0) {
		if (val == NULL || (n = strlen(val)) == 0 ||
		    n > SATCHEL_PASS_MAX) {
			*err_r = "pass: empty or too long";
			return -1;
		}
		for (i = 0; i < n; i++)
			if ((unsigned char)val[i] < ' ' ||
			    (unsigned char)val[i] == 0x7f) {
				*err_r = "pass: control character";
				return -1;
			}
		memcpy(u->proxy_pass, val, n + 1);
		return 1;
	}
	if (strcmp(key, "proxy_haproxy") == 0) {
		if (pf_yes(val, &b) == -1 || val == NULL || val[0] == '\0') {
			*err_r = "proxy_haproxy: not y or n";
			return -1;
		}
		u->proxy_haproxy = b ? SATCHEL_PROXY_HAPROXY_YES :
		    SATCHEL_PROXY_HAPROXY_NO;
		return 1;
	}
	return 0;
}
