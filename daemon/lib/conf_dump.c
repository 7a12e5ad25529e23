/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf_dump.c -- satchelctl's view of the config: the control socket's
 * path, and the config dump (every top-level key from conf.c's key
 * table with its value or default, then the module sections as
 * written, secrets masked).  Pure code; runs in the master (for
 * satchelctl config) and in satchelctl.
 */
#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "satchel/conftab.h"
#include "conf.h"
#include "conf_int.h"
#include "compat/poison.h"

int
conf_control_path(const struct config *cf, char *buf, size_t bufsz)
{
	const char *pid = cf->pidfile != NULL && cf->pidfile[0] == '/' ?
	    cf->pidfile : "/run/x", *slash;
	int n;

	if (cf->control_socket != NULL && cf->control_socket[0] != '\0')
		n = snprintf(buf, bufsz, "%s", cf->control_socket);
	else {
		slash = strrchr(pid, '/');
		n = snprintf(buf, bufsz, "%.*s/%s", (int)(slash - pid), pid,
		    CONTROL_SOCKET_NAME);
	}
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

static int
conf_secret_key(const char *key)
{
	size_t len = strlen(key);

	if (len > 5 && strcmp(key + len - 5, "_file") == 0)
		return 0;
	return strstr(key, "password") != NULL || strstr(key, "secret") !=
	    NULL;
}

static void
conf_dump_line(const char *key, const char *value,
    void (*out)(void *, const char *), void *arg)
{
	char line[CONF_LINE_MAX + 16];

	(void)snprintf(line, sizeof(line), "%s = %s", key,
	    conf_secret_key(key) && value[0] != '\0' ? "********" : value);
	out(arg, line);
}

void
conf_dump(const struct config *cf, int nondefault,
    void (*out)(void *, const char *), void *arg)
{
	const struct satchel_conf_key *k;
	const struct conf_entry *e, *f;
	char line[96];
	int set;

	for (k = conf_keys; k->key != NULL; k++) {
		set = 0;
		for (e = cf->entries; e != NULL; e = e->next) {
			if (e->section[0] != '\0' || strcmp(e->key, k->key) !=
			    0)
				continue;
			set = 1;
			if (nondefault && k->def != NULL &&
			    strcmp(e->value, k->def) == 0)
				continue;
			conf_dump_line(e->key, e->value, out, arg);
		}
		if (!set && !nondefault)
			conf_dump_line(k->key, k->def != NULL ? k->def : "",
			    out, arg);
	}
	/* Module sections: as written (their defaults are the modules'). */
	for (e = cf->entries; e != NULL; e = e->next) {
		if (e->section[0] == '\0')
			continue;
		for (f = cf->entries; f != e; f = f->next)
			if (strcmp(f->section, e->section) == 0)
				break;
		if (f == e) {
			(void)snprintf(line, sizeof(line), "[%s]", e->section);
			out(arg, line);
			for (f = e; f != NULL; f = f->next)
				if (strcmp(f->section, e->section) == 0)
					conf_dump_line(f->key, f->value, out,
					    arg);
		}
	}
}
