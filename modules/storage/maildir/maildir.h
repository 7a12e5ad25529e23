/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * maildir.h -- what the files of the "maildir" storage module share
 * (the rules are at the top of storage_maildir.c).  Everything here
 * runs in the mailbox agent as the mail user, never privileged;
 * maildir_name.c and md_cache_parse() are pure code, so the fuzz
 * targets call them on bytes in memory.
 */
#ifndef SATCHEL_MAILDIR_INT_H
#define SATCHEL_MAILDIR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "satchel/module.h"

#define MD_NEW		0
#define MD_CUR		1
#define MD_IOBUF	(64 * 1024)
#define MD_NAME_MAX	255
#define MD_CACHE_MAX	(64 * 1024 * 1024)
#define MD_CACHE_FILE	".satchel.sizes"
#define MD_CACHE_TMP	".satchel.sizes.tmp"
#define MD_CACHE_MAGIC	"satchel-sizes 2\n"
#define MD_LOCK_FILE	".satchel.lock"
#define MD_DOVECOT_UIDLIST "dovecot-uidlist"
#define MD_STATE_FILE	".satchel.uidlist"
#define MD_STATE_TMP	".satchel.uidlist.tmp"
#define MD_PINS_FILE	".satchel.uidl-pins"

struct maildir_ctx {
	const struct satchel_core *core;
	int		 lock_timeout_ms;
	char		*uidl_format;	/* NULL: native UIDs */
	unsigned int	 uidl_vars;	/* SATCHEL_UIDL_* it uses */
};

/* A dovecot-uidlist record (maildir_uidlist.c), pointing into its file. */
struct md_urec {
	uint32_t	 uid;
	const char	*base;		/* file name up to ':' */
	size_t		 blen;
	const char	*guid, *pop3;	/* 'G' and 'P' extensions */
	size_t		 glen, plen;
	int		 has_pop3;
	uint64_t	 pop3_order;	/* 'O', or MD_NO_ORDER */
};

/* Dovecot's POP3 order of a message without a valid 'O' field. */
#define MD_NO_ORDER	0xffffffffULL

struct md_uidlist {
	int		 version;	/* 1 or 3 */
	uint32_t	 validity, next;
	struct md_urec	*recs;		/* sorted by base name */
	size_t		 n;
};

struct md_msg {
	char		*name;		/* base name (new/ or cur/) */
	char		*uid;
	uint64_t	 stamp;		/* leading number of name */
	uint64_t	 size;		/* RFC 1939 size */
	size_t		 ulen;		/* unique part's length */
	uint8_t		 sub;		/* MD_NEW or MD_CUR */
	uint8_t		 sized;		/* size known */
	uint8_t		 cached;	/* size from the cache */
	uint8_t		 gone;		/* vanished or deleted */
	/* uidl_format (maildir_uidlist.c) */
	uint8_t		 keep_base;	/* never rename before ':' */
	size_t		 blen;		/* base name: up to ':' */
	uint32_t	 imap_uid;
	uint64_t	 pop3_order;	/* 'O' of its dovecot-uidlist line */
	const struct md_urec *dove;	/* during md_uidl_assign only */
};

struct md_cent {
	const char	*key;		/* unique part, in the cache buffer */
	size_t		 klen;
	uint64_t	 size;
};

struct md_ient {			/* relocation index entry */
	char		*name;
	size_t		 ulen;
	uint8_t		 sub;
};

struct maildir {
	const struct satchel_core *core;
	char		 path[SATCHEL_PATH_MAX];
	int		 dirfd, lockfd, subfd[2];
	struct md_msg	*msgs;
	size_t		 n, cap;
	char		*iobuf;
	char		*cache_buf;
	struct md_cent	*cache;
	size_t		 ncache;
	int		 cache_synced;
	int		 uids_done;	/* open succeeded */
	struct md_ient	*idx;
	size_t		 nidx;
	int		 idx_valid;
};

extern const char *const md_subname[2];

/* maildir_name.c: pure. */
int	 md_ukeycmp(const char *, size_t, const char *, size_t);
/*
 * Find the hint ",<key>=<digits>" between the unique part (ulen) and
 * the info part of name.  Returns 1 with *val_r, 0 when absent or
 * malformed.
 */
int	 md_hint(const struct satchel_core *, const char *, size_t, char,
	    uint64_t *);
/* Fill m's unique part, stamp and W= size from m->name. */
void	 md_name_parse(const struct satchel_core *, struct md_msg *);
int	 md_msgcmp(const void *, const void *);
/* The UID m asks for, before the duplicate rule, into out[71]. */
void	 md_uid_base(const struct satchel_core *, const struct md_msg *,
	    char *);
int	 md_target(const struct satchel_core *, const struct md_msg *, int,
	    char *, size_t, uint64_t);
int	 md_cacheable(const struct satchel_core *, const struct md_msg *);

/* maildir_cache.c */
int	 md_centcmp(const void *, const void *);
/*
 * Pure: parse a size cache (buf[len]) into *ents_r (calloc'ed,
 * pointing into buf, sorted) and *n_r.  Returns 0, or -1 when it is
 * not a valid cache (nothing allocated).
 */
int	 md_cache_parse(const struct satchel_core *, const char *, size_t,
	    struct md_cent **, size_t *);
void	 md_cache_load(struct maildir *);
void	 md_cache_write(struct maildir *);

/* maildir_update.c */
void	 md_index_free(struct maildir *);
/*
 * Message n's file is gone from where we saw it: find it under another
 * name (flags changed, moved to cur/).  1 found, 0 not, -1 error.
 */
int	 md_relocate(struct maildir *, size_t);
int	 maildir_commit(void *, const uint8_t *, size_t, const char **);

/* maildir_uidlist.c */
/*
 * Pure: parse a dovecot-uidlist (version 1 or 3) in buf[len] into *ul
 * (records point into buf; free with md_uidlist_free).  An unfinished
 * last line is ignored, as Dovecot does.  Returns 0, or -1 with
 * *badline_r the line at fault (nothing allocated).
 */
int	 md_uidlist_parse(const char *, size_t, struct md_uidlist *,
	    size_t *);
void	 md_uidlist_free(struct md_uidlist *);
/* Pure: Dovecot's maildir_filename_sort_cmp() on two base names. */
int	 md_fname_sort_cmp(const char *, size_t, const char *, size_t);
int	 md_uidl_assign(struct maildir *, const struct maildir_ctx *);

/* storage_maildir.c */
int	 md_scan_dir(struct maildir *, int);
int	 md_openmsg(struct maildir *, struct md_msg *);
const char *md_vis(const struct maildir *, const char *, char *, size_t);

#endif /* SATCHEL_MAILDIR_INT_H */
