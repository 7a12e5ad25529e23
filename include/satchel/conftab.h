/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * satchel/conftab.h -- describe a configuration section as a table.
 * Installed with module.h; a module needs nothing else to use it.
 *
 * A module that has a "[name]" section lists its keys once, with
 * designated initializers, and hands the table to core->conf_table(),
 * which reads the section, applies the defaults, checks every value and
 * its bounds, and stores it at base + off.  Every message names the
 * file, the line and the key ("satchel.conf:12: key 'path' in [file]:
 * must be an absolute path"), and any error makes the load fail.  Keys
 * of the section that are not in the table stay available to
 * core->conf_get(); the ones nobody asks for are reported as unknown.
 *
 *	struct file_conf { char *path; unsigned int cache_s; int strict; };
 *	static const struct satchel_conf_key file_keys[] = {
 *		{ .key = "path", .kind = SATCHEL_CONF_PATH,
 *		  .off = offsetof(struct file_conf, path),
 *		  .flags = SATCHEL_CONF_REQUIRED | SATCHEL_CONF_FILE },
 *		{ .key = "cache_s", .kind = SATCHEL_CONF_UINT,
 *		  .off = offsetof(struct file_conf, cache_s),
 *		  .min = 0, .max = 3600, .def = "60" },
 *		SATCHEL_CONF_KEYS_END
 *	};
 *	...
 *	if (!SATCHEL_CORE_HAS(core, conf_table) ||
 *	    core->conf_table(conf, file_keys, &fc) == -1)
 *		return -1;
 *	...
 *	satchel_conf_table_free(file_keys, &fc);
 *
 * The core runs this in the master (as root) at start and on reload.
 */
#ifndef SATCHEL_CONFTAB_H
#define SATCHEL_CONFTAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "satchel/module.h"

/* What a key holds, and so the C type at base + off. */
enum satchel_conf_kind {
	SATCHEL_CONF_UINT = 1,	/* unsigned int, decimal, min..max */
	SATCHEL_CONF_U64,	/* uint64_t, decimal, min..max */
	SATCHEL_CONF_BOOL,	/* int 0/1: yes|no, true|false, on|off, 1|0 */
	SATCHEL_CONF_STRING,	/* char *, malloc(3)ed; max: longest, 0 any */
	SATCHEL_CONF_PATH,	/* char *, like STRING, must start with '/' */
	SATCHEL_CONF_ENUM	/* int: .value of the entry of names[] */
};

/* Flags. */
#define SATCHEL_CONF_REQUIRED	0x0001	/* an error when not set */
#define SATCHEL_CONF_FILE	0x0002	/* PATH: a file we can read */
#define SATCHEL_CONF_REPEAT	0x0004	/* (core keys) may appear again */
#define SATCHEL_CONF_RESTART	0x0008	/* (core keys) reload cannot apply */
#define SATCHEL_CONF_RESTART_UP	0x0010	/* (core keys) only if raised */
#define SATCHEL_CONF_EMPTY	0x0020	/* PATH: empty allowed (means off);
					 * implied by a default of "" */

/* One word an ENUM key accepts; a table ends with { NULL, 0 }. */
struct satchel_conf_name {
	const char	*name;
	int		 value;
};

struct satchel_conf_key {
	const char	*key;	/* NULL ends the table */
	int		 kind;	/* enum satchel_conf_kind */
	size_t		 off;	/* offsetof(your struct, member) */
	uint64_t	 min, max;	/* UINT, U64; STRING/PATH: max length */
	/*
	 * The default, written as it would be in the file, checked like a
	 * value from the file; NULL: 0, or NULL for STRING and PATH.
	 */
	const char	*def;
	const struct satchel_conf_name *names;	/* ENUM */
	unsigned int	 flags;	/* SATCHEL_CONF_* */
};

#define SATCHEL_CONF_KEYS_END	{ .key = NULL }

/*
 * Free what core->conf_table() allocated in base (the STRING and PATH
 * values) and set those members to NULL.  Safe on a half-filled base.
 */
static inline void
satchel_conf_table_free(const struct satchel_conf_key *keys, void *base)
{
	char **p;

	for (; keys->key != NULL; keys++) {
		if (keys->kind != SATCHEL_CONF_STRING &&
		    keys->kind != SATCHEL_CONF_PATH)
			continue;
		p = (char **)(void *)((char *)base + keys->off);
		free(*p);
		*p = NULL;
	}
}

#endif /* SATCHEL_CONFTAB_H */
