/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * file_int.h -- what the file module's two files share: the table of
 * users and the passwd-file parser (file_parse.c, pure code that reads
 * bytes and reports through struct satchel_core).  Internal to
 * auth_file.so and the passwd-file fuzz target.
 */
#ifndef SATCHEL_FILE_INT_H
#define SATCHEL_FILE_INT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "satchel/module.h"

#define FILE_ID_MAX		4294967294ULL	/* (uid_t)-1 is not a uid */
#define FILE_DELAY_MAX		2147483647ULL
#define FILE_REPORT_MAX		10	/* malformed lines logged per load */

/* What tells one version of the file from the next. */
struct file_ident {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
	struct timespec	 ctim;
};

struct file_entry {
	const char	*name;		/* all strings point into table buf */
	const char	*password;
	const char	*home;
	const char	*mail;
	size_t		 namelen;
	uint32_t	 hash;
	uint32_t	 line;
	uid_t		 uid;
	gid_t		 gid;
	unsigned int	 login_delay;
	uint8_t		 uid_set, gid_set, nologin;
	/* Proxy mode (ABI 1.3), checked by proxyfield_set() at load:
	 * the values as written, NULL when absent. */
	const char	*pf_proxy, *pf_host, *pf_hostip, *pf_port, *pf_ssl,
			*pf_destuser, *pf_haproxy;
	/* ABI 1.4: master= and pass= for the backend login. */
	const char	*pf_master, *pf_pass;
};

struct file_table {
	char			*buf;		/* the file, split in place */
	size_t			 buflen;
	struct file_entry	*entries;
	size_t			 nentries;
	uint32_t		*slots;		/* entry index + 1, 0 free */
	size_t			 nslots;	/* a power of two */
	const char		*dummy;		/* a typical stored value */
	struct file_ident	 ident;
};

struct file_ctx {
	const struct satchel_core	*core;
	char				*path;
	struct file_table		*tab;
	struct file_ident		 failed;	/* last version that */
	int				 failed_set;	/* did not load */
	int				 stat_errno;	/* last one logged */
};

/* How one load goes: where problems are reported and how many. */
struct file_load {
	struct file_ctx			*ctx;
	const struct satchel_conf	*conf;	/* NULL at run time */
	size_t				 nbad;
};

/* file_parse.c */
void	 file_wipe(void *, size_t);
void	 file_report(struct file_load *, uint32_t, const char *, ...)
	    SATCHEL_PRINTF(3, 4);
size_t	 file_at(const char *, size_t);
uint32_t file_hash(const char *, size_t);
int	 file_name_eq(const char *, const char *, size_t);
void	 file_table_free(struct file_table *);
int	 file_parse_line(struct file_load *, struct file_table *, char *,
	    uint32_t);
int	 file_parse(struct file_load *, struct file_table *);
void	 file_pick_dummy(struct file_table *);

#endif /* SATCHEL_FILE_INT_H */
