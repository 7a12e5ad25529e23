/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * log.c -- logging for every process.  In the foreground lines go to
 * stderr with the process role and pid; otherwise to syslog, opened with
 * LOG_NDELAY by log_init() so the socket survives chroot.  When stderr
 * is systemd's journal stream (JOURNAL_STREAM names its device and
 * inode, as sd-daemon(3) describes), each line starts with "<N>", the
 * syslog level, which journald turns into the entry's priority
 * (SyslogLevelPrefix=, on by default): "journalctl -p err" then finds
 * errors, and SyslogFacility= in the unit adds the facility.  Every
 * function keeps errno intact.  Runs with any privileges.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "log.h"
#include "compat/poison.h"

static int log_foreground = 1;
static int log_journal;		/* stderr is the journal: "<N>" */
static int log_level = SATCHEL_LOG_INFO;
static const char *log_name = "master";

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
log_facility_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].facility;
	return -1;
}

int
log_journal_stream(const char *env, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(fd, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
log_init(int foreground, const char *facility, int unused)
{
	int fac;

	(void)unused;
	log_foreground = foreground;
	log_journal = foreground &&
	    log_journal_stream(getenv("JOURNAL_STREAM"), STDERR_FILENO);
	if ((fac = log_facility_parse(facility)) == -1)
		fac = LOG_MAIL;
	if (!foreground) {
		closelog();
		openlog("satcheld", LOG_PID | LOG_NDELAY, fac);
	}
	tzset();
	return fac == -1 ? -1 : 0;
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

void
log_procname(const char *name)
{
	log_name = name;
}

static void
log_str(int level, const char *msg)
{
	if (log_foreground) {
		/* One write per line so concurrent processes do not mix. */
		char line[2200];
		int n;

		if (log_journal)
			n = snprintf(line, sizeof(line), "<%d>satcheld[%ld] "
			    "%s: %s\n", LOG_PRI(level), (long)getpid(),
			    log_name, msg);
		else
			n = snprintf(line, sizeof(line), "satcheld[%ld] %s: "
			    "%s\n", (long)getpid(), log_name, msg);
		if (n > 0) {
			if ((size_t)n >= sizeof(line)) {
				n = sizeof(line) - 1;
				line[n - 1] = '\n';
			}
			(void)!write(STDERR_FILENO, line, (size_t)n);
		}
	} else
		syslog(level, "%s: %s", log_name, msg);
}

void
log_vlog(int level, const char *fmt, va_list ap)
{
	char msg[2048];
	int saved = errno;

	if (level <= log_level) {
		(void)vsnprintf(msg, sizeof(msg), fmt, ap);
		log_str(level, msg);
	}
	errno = saved;
}

void
log_vlog_str(int level, const char *prefix, const char *msg)
{
	char full[2048];
	int saved = errno;

	if (level <= log_level) {
		(void)snprintf(full, sizeof(full), "%s: %s", prefix, msg);
		log_str(level, full);
	}
	errno = saved;
}

static void
log_verrno(int level, int err, const char *fmt, va_list ap)
{
	char msg[1800], full[2048];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	(void)snprintf(full, sizeof(full), "%s: %s", msg, strerror(err));
	log_str(level, full);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_verrno(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_verrno(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_vis(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		c = (unsigned char)src[i];
		if (c > 0x20 && c < 0x7f && c != '\\' && c != '"' &&
		    c != '=') {
			if (o + 1 >= dstsz)
				goto trunc;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsz)
				goto trunc;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
trunc:
	if (dstsz >= 4) {
		o = dstsz - 4 < o ? dstsz - 4 : o;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o < dstsz ? o : dstsz - 1] = '\0';
	return dst;
}
