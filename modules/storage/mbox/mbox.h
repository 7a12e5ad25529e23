/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox.h -- what the files of the "mbox" storage module share (see
 * storage_mbox.c for the format, the locks and the update).  Everything
 * here runs in the mailbox agent as the mail user, never privileged;
 * mbox_scan.c and mb_index_parse() are pure code (no I/O, no logging),
 * so the fuzz targets call them on bytes in memory.
 */
#ifndef SATCHEL_MBOX_INT_H
#define SATCHEL_MBOX_INT_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "satchel/module.h"

#define MB_CHUNK	(1024 * 1024)	/* read size while scanning */
#define MB_LCAP		4096		/* line bytes kept for parsing */
#define MB_BUFSZ	(MB_CHUNK + MB_LCAP + 16)
#define MB_FROMCHK	256		/* From_ bytes checked before access */
#define MB_STALE_S	300		/* dotlock age that counts as stale */
#define MB_SESSION_MS	500		/* wait for the session lock */
#define MB_HVAL		512		/* Message-ID and Date kept */
#define MB_INDEX_MAX	((off_t)512 * 1024 * 1024)
#define MB_INDEX_MAGIC	"satchel-mbox-index 3"

struct mbox_ctx {
	const struct satchel_core *core;
	uint32_t	 escape;	/* SATCHEL_MSG_MBOXRD, _MBOXO or 0 */
	uint32_t	 hide;		/* hide_headers: SATCHEL_MSG_HIDE or 0 */
	int		 content_length, dotlock, x_uidl, index;
	int		 lock_timeout_ms;
	char		 state_dir[SATCHEL_PATH_MAX];
	char		*uidl_format;	/* NULL: native UIDs (mbox_uid.c) */
	unsigned int	 uidl_vars;
};

struct mb_msg {
	uint64_t	 from_off;	/* the From_ line */
	uint64_t	 data_off;	/* first header byte */
	uint64_t	 length;	/* stored bytes, no separator */
	uint64_t	 size;		/* RFC 1939 */
	uint64_t	 from_hash;	/* FNV-1a of the From_ line's head */
	uint64_t	 key[2];	/* the UID hash */
	uint32_t	 flags;		/* SATCHEL_MSG_*: the escape or 0, and
					 * _WIRE when proven (mb_close_msg) */
	char		*uid;		/* NULL: hex of key */
	char		*cand;		/* scan only: X-UIDL or index UID */
	/* Dovecot's headers (scan only; see mbox_uid.c) */
	uint32_t	 xuid;		/* X-UID: value, 0 none or broken */
	uint32_t	 ibase_validity, ibase_last;	/* X-IMAPbase: */
	uint32_t	 imap_uid;	/* mb_uidl_assign() */
	/* %m: Dovecot's header MD5 (mbox_md5 = apop3d), when the scanner's
	 * md5 is set */
	unsigned char	 md5[16];
};

/* The messages, in file order. */
struct mb_list {
	struct mb_msg	*v;
	size_t		 n, cap;
};

/* Scanner state between lines (mbox_scan.c). */
struct mb_scan {
	uint64_t	 base;		/* file offset of buf[0] */
	size_t		 len;		/* bytes in buf */
	uint64_t	 end;		/* scan stops here */
	uint64_t	 off;		/* next byte to look at */
	int		 in_line, line_from, captured;
	uint64_t	 line_off;
	size_t		 cap_len;
	int		 prev_empty;
	uint64_t	 empty_off;
	int		 open, in_from, in_hdr, hdr_cur;
	uint64_t	 fed, cl_until;
	int		 last_lf;	/* the last byte fed was a LF */
	struct satchel_msgsize st;
	uint64_t	 size;
	/* The header sized without unescaping too (escape set), in case a
	 * valid Content-Length: frames the body: then none is undone. */
	struct satchel_msgsize st0;
	uint64_t	 size0;
	/* A valid Content-Length: the message ends at cl_end, the next
	 * From_ line starts at cl_next (after one line end, or the end). */
	int		 cl_ok;
	uint64_t	 cl_end, cl_next;
	int		 dot;		/* a line of the message starts '.' */
	struct mb_msg	 cur;
	int		 seen[7];
	uint64_t	 cl;
	char		 msgid[MB_HVAL], date[MB_HVAL];
	size_t		 msgid_len, date_len;
	char		 xuidl[SATCHEL_UID_MAX + 2];
	size_t		 xuidl_len;
	uint32_t	 xuid, ibase_validity, ibase_last;
	/* %m (mb_md5_line): the hash, the header a folded line continues
	 * (M5_*), and whether the first Received: has ended */
	struct satchel_md5 md5;	/* core->md5_* (ABI 1.5) */
	int		 md5_cur, md5_received;
	char		 from[MB_LCAP];
	size_t		 from_len;
	char		 lbuf[MB_LCAP];
};

/*
 * The scanner.  It sees the file only through read(): up to len bytes
 * at offset off into buf, returning how many (short only at the end of
 * the file) or -1.  It appends each message found to *out.
 */
struct mb_scanner {
	const struct satchel_core *core;
	uint32_t	 escape;
	uint32_t	 hide;		/* SATCHEL_MSG_HIDE or 0, on every message */
	int		 content_length, x_uidl;
	int		 md5;		/* compute mb_msg.md5 (%m) */
	ssize_t		(*read)(void *arg, void *buf, size_t len,
			    uint64_t off);
	void		*arg;
	char		*buf;		/* MB_BUFSZ bytes */
	struct mb_list	*out;
	/* On failure: SATCHEL_MBOX_*, a static reason, and for a file
	 * that is not an mbox the offset of the offending line. */
	int		 fail;
	const char	*err;
	int		 notmbox, readerr;
	uint64_t	 bad_off;
	struct mb_scan	 sc;
};

struct mbox {
	const struct satchel_core *core;
	const struct mbox_ctx *ctx;
	char		 path[SATCHEL_PATH_MAX];
	char		 dir[SATCHEL_PATH_MAX];
	char		 lockpath[SATCHEL_PATH_MAX + 64];
	char		 idxpath[SATCHEL_PATH_MAX + 64];
	char		 tmppath[SATCHEL_PATH_MAX + 64];
	char		 uidspath[SATCHEL_PATH_MAX + 64];	/* uidl_format */
	char		 pinspath[SATCHEL_PATH_MAX + 64];	/* imported */
	int		 lockfd, rdfd, rwfd;
	int		 scan_fd;	/* what mb_read() reads */
	int		 dotlocked, missing;
	dev_t		 dev;
	ino_t		 ino;
	uint64_t	 scan_end;
	struct timespec	 mtime;
	struct mb_list	 l;
	char		*buf;		/* MB_BUFSZ bytes */
	struct mb_scanner *scn;
	int		 fail;		/* SATCHEL_MBOX_* of a failed step */
	const char	*err;
};

/* What an index says about the file it was written for. */
struct mb_index_head {
	uint64_t	 dev, ino, size, mtime_s, mtime_ns;
};

/* mbox_scan.c: pure. */
/*
 * Scan [start, end) (start is 0, or the From_ line of a message known
 * from the index), appending to s->out.  Returns 0, 1 if start is not
 * a From_ line, or -1 with s->fail and s->err.
 */
int	 mb_scan(struct mb_scanner *s, uint64_t start, uint64_t end);
int	 mb_list_push(const struct satchel_core *, struct mb_list *,
	    struct mb_msg *);
void	 mb_list_clear(struct mb_list *l);

/* mbox_uid.c */
const char *mb_uid(const struct satchel_core *, const struct mb_msg *,
	    char *);
int	 mb_assign_uids(const struct satchel_core *, struct mb_list *);
/* Pure: X-UID: and X-IMAPbase: values as Dovecot reads them. */
uint32_t mb_parse_xuid(const char *, size_t);
int	 mb_parse_imapbase(const char *, size_t, uint32_t *, uint32_t *);
int	 mb_uidl_conf(const struct satchel_core *,
	    const struct satchel_conf *, struct mbox_ctx *);
int	 mb_uidl_assign(struct mbox *);
int	 mb_apply_pins(struct mbox *);

/* mbox_index.c */
void	 mb_opts(const struct mbox_ctx *, char *, size_t);
/*
 * Pure: parse an index (data[len], NUL after it) written with options
 * opts into *head and l.  Returns 0, or -1 (l cleared) when it is not
 * a valid index.
 */
int	 mb_index_parse(const struct satchel_core *core, const char *opts,
	    char *data, size_t len, struct mb_index_head *head,
	    struct mb_list *l);
int	 mb_index_load(struct mbox *, uint64_t *);
void	 mb_index_write(struct mbox *, const struct mb_msg *, size_t,
	    const struct stat *, uint64_t);
void	 mb_index_carry(struct mbox *, struct mb_list *);

/* storage_mbox.c */
int	 mb_lock(struct mbox *, int);
void	 mb_unlock(struct mbox *);
int	 mb_same_file(struct mbox *, struct stat *);
int	 mb_check_from(struct mbox *, const struct mb_msg *, int);
void	 mb_scanner_setup(struct mbox *, struct mb_scanner *, int,
	    struct mb_list *);

/* mbox_update.c */
int	 mbox_commit(void *, const uint8_t *, size_t, const char **);

#endif /* SATCHEL_MBOX_INT_H */
