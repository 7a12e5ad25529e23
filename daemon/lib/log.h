/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * log.h -- logging to syslog, or to stderr in the foreground.  Every
 * function keeps errno intact.  Open (log_init) before any chroot.
 */
#ifndef SATCHEL_LOG_H
#define SATCHEL_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* facility: "mail", "daemon", "local0".."local7"; 0 or -1 if unknown. */
int	 log_init(int foreground, const char *facility, int unused);
/*
 * 1 when env (JOURNAL_STREAM's value, "DEV:INODE") names the file open
 * on fd, i.e. fd is systemd's journal stream; else 0.  Pure apart from
 * fstat(2).
 */
int	 log_journal_stream(const char *env, int fd);
void	 log_setlevel(int level);	/* SATCHEL_LOG_* (syslog levels) */
int	 log_getlevel(void);
/* Prefix for every line of this process, e.g. "worker", "auth". */
void	 log_procname(const char *name);
int	 log_facility_parse(const char *name);

void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_vlog(int level, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Log msg (data, never a format) as "prefix: msg". */
void	 log_vlog_str(int level, const char *prefix, const char *msg);
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Escape an outside value (user name, mailbox) for a log line: printable
 * ASCII other than backslash, space, '"' and '=' is kept, the rest
 * becomes \xNN.  Writes at most dstsz bytes, NUL-terminated, truncating
 * with "..." ; returns dst.
 */
char	*log_vis(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif /* SATCHEL_LOG_H */
