/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * lock.c -- every lock Satchel takes: fcntl locks on whole files and
 * NFS-safe dotlocks.  Runs in the mailbox agent as the mail user (and
 * in the unit tests); it needs no privileges beyond write access to the
 * mailbox directory.
 *
 * Waiting is done with poll() deadlines measured on CLOCK_MONOTONIC,
 * never with alarm(): a session lock request must not disturb the
 * agent's other timers or signal handlers.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "lock.h"
#include "log.h"
#include "compat/poison.h"

#define LOCK_BACKOFF_MIN_MS	10
#define LOCK_BACKOFF_MAX_MS	200
#define LOCK_PATH_MAX		4096
#define LOCK_HOST_MAX		64

static int64_t	lock_now_ms(void);
static void	lock_sleep_ms(int ms);
static int	lock_wait(int64_t deadline, int *backoff);
static int	lock_mktemp(const char *path, char *tmp, size_t tmpsz);
static void	lock_hostname(char *host, size_t hostsz);
static long	lock_dead_owner(const char *lockpath, const struct stat *lst);

static int64_t
lock_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds; an interrupting signal just shortens it. */
static void
lock_sleep_ms(int ms)
{
	if (ms > 0)
		(void)poll(NULL, 0, ms);
}

/*
 * Sleep before the next attempt, never past the deadline.  Returns 0
 * when another attempt should be made, 1 when the deadline has passed.
 * The backoff doubles from LOCK_BACKOFF_MIN_MS up to _MAX_MS.
 */
static int
lock_wait(int64_t deadline, int *backoff)
{
	int64_t left;
	int ms;

	left = deadline - lock_now_ms();
	if (left <= 0)
		return 1;
	ms = *backoff;
	if ((int64_t)ms > left)
		ms = (int)left;
	lock_sleep_ms(ms);
	if (*backoff < LOCK_BACKOFF_MAX_MS) {
		*backoff *= 2;
		if (*backoff > LOCK_BACKOFF_MAX_MS)
			*backoff = LOCK_BACKOFF_MAX_MS;
	}
	return 0;
}

int
lock_fcntl(int fd, int write, int timeout_ms)
{
	struct flock fl;
	int64_t deadline;
	int backoff = LOCK_BACKOFF_MIN_MS;

	if (timeout_ms < 0)
		timeout_ms = 0;
	deadline = lock_now_ms() + timeout_ms;
	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = write ? F_WRLCK : F_RDLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0;
		fl.l_len = 0;	/* the whole file, however it grows */
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* POSIX allows either errno for "held by someone else". */
		if (errno != EACCES && errno != EAGAIN) {
			log_warn("%s: fcntl F_SETLK", __func__);
			return -1;
		}
		if (timeout_ms == 0 || lock_wait(deadline, &backoff) != 0) {
			errno = EAGAIN;
			return 1;
		}
	}
}

int
lock_unlock(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;
	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if (errno == EINTR)
			continue;
		log_warn("%s: fcntl F_UNLCK", __func__);
		return -1;
	}
	return 0;
}

/*
 * Create a unique, empty-but-for-our-pid temporary file next to path,
 * named ".lk<pid>.<time>.<counter>.<hostname>" like liblockfile does:
 * the hostname and pid keep two hosts sharing the directory over NFS
 * apart, the time and counter keep one process's attempts apart, and
 * O_EXCL catches whatever is left.  Returns 0 with its name in tmp, or
 * -1 (logged).
 */
static int
lock_mktemp(const char *path, char *tmp, size_t tmpsz)
{
	static unsigned int counter;
	char host[LOCK_HOST_MAX + 1], pidline[32 + LOCK_HOST_MAX];
	const char *slash;
	struct timespec ts;
	size_t dirlen;
	int fd, n, tries;

	lock_hostname(host, sizeof(host));
	slash = strrchr(path, '/');
	dirlen = slash == NULL ? 0 : (size_t)(slash - path) + 1;

	for (tries = 0; tries < 100; tries++) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(tmp, tmpsz, "%.*s.lk%ld.%lx%lx.%u.%s",
		    (int)dirlen, path, (long)getpid(),
		    (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec,
		    counter++, host);
		if (n < 0 || (size_t)n >= tmpsz) {
			errno = ENAMETOOLONG;
			log_warn("%s: temporary name for %s", __func__, path);
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd == -1) {
			if (errno == EEXIST || errno == EINTR)
				continue;
			log_warn("%s: open %s", __func__, tmp);
			return -1;
		}
		/*
		 * "pid host": lock_dead_owner() breaks the lock at once if
		 * this process dies holding it; dotlockfile -p and other
		 * liblockfile readers take the leading number.
		 */
		n = snprintf(pidline, sizeof(pidline), "%ld %s\n",
		    (long)getpid(), host);
		if (n > 0 && (size_t)n < sizeof(pidline) &&
		    write(fd, pidline, (size_t)n) != n) {
			log_warn("%s: write %s", __func__, tmp);
			(void)close(fd);
			(void)unlink(tmp);
			return -1;
		}
		if (close(fd) == -1) {
			log_warn("%s: close %s", __func__, tmp);
			(void)unlink(tmp);
			return -1;
		}
		return 0;
	}
	errno = EEXIST;
	log_warn("%s: no unique temporary name for %s", __func__, path);
	return -1;
}

/* This host's name, reduced to bytes harmless in a path and a lock. */
static void
lock_hostname(char *host, size_t hostsz)
{
	size_t i;

	if (gethostname(host, hostsz) == -1)
		(void)strlcpy(host, "localhost", hostsz);
	host[hostsz - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c == '/' || c <= 0x20 || c >= 0x7f)
			host[i] = '_';
	}
}

/*
 * The pid recorded in lockpath (the file lst describes), if that
 * process is known to be dead on this host; else 0.  The content is
 * "pid host" (ours), "pid" (liblockfile's dotlockfile -p, taken to be
 * local as liblockfile does) or anything else (unknown: 0, e.g. the
 * "0" of dotlockfile without -p).  A pid that exists but is not ours
 * to signal (EPERM) is alive.
 */
static long
lock_dead_owner(const char *lockpath, const struct stat *lst)
{
	char buf[32 + LOCK_HOST_MAX + 2], host[LOCK_HOST_MAX + 1], *p;
	struct stat st;
	ssize_t n;
	long pid = 0;
	int fd;

	fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || st.st_dev != lst->st_dev ||
	    st.st_ino != lst->st_ino) {
		(void)close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; isdigit((unsigned char)*p) && p - buf < 10; p++)
		pid = pid * 10 + (*p - '0');
	if (p == buf || pid <= 1 || pid == (long)getpid())
		return 0;
	if (*p == ' ') {
		/* Another host's process is none of our business. */
		lock_hostname(host, sizeof(host));
		p++;
		if (strncmp(p, host, strlen(host)) != 0 ||
		    (p[strlen(host)] != '\n' && p[strlen(host)] != '\0'))
			return 0;
	} else if (*p != '\n' && *p != '\0')
		return 0;
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0;
	return pid;
}

/*
 * The dotlock protocol (liblockfile, Postfix dot_lockfile.c):
 *
 * 1. Create a unique temporary file in the same directory.
 * 2. link() it to path.lock.  On NFS, link() can report failure when
 *    the server did the link but the reply was lost and the retried
 *    request failed with EEXIST; so its return value is not trusted.
 *    Instead the temporary file's link count is checked: 2 means the
 *    lock is ours.
 * 3. Otherwise, if path.lock records the pid of a process that is dead
 *    on this host (see lock_dead_owner()), or is older than stale_s,
 *    remove it and retry at once.  "Older" is measured against the
 *    mtime of the temporary file we just created, i.e. the file
 *    server's clock, so
 *    a skewed client clock cannot break a fresh lock (liblockfile does
 *    the same).
 * 4. Else sleep with backoff and retry until the timeout.
 *
 * Caution: breaking a stale lock races with another process breaking
 * the same lock and then taking a new one, which we could remove.  We
 * narrow the window by removing path.lock only if it is still the same
 * file (device, inode, mtime) we judged stale, which is as far as any
 * dotlock implementation can go.
 */
int
lock_dotlock(const char *path, int timeout_ms, int stale_s)
{
	char lockpath[LOCK_PATH_MAX], tmp[LOCK_PATH_MAX];
	struct stat tst, lst, lst2;
	int64_t deadline;
	long dead;
	int backoff = LOCK_BACKOFF_MIN_MS;
	int n, link_errno, r;

	n = snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(lockpath)) {
		errno = ENAMETOOLONG;
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	if (timeout_ms < 0)
		timeout_ms = 0;
	deadline = lock_now_ms() + timeout_ms;

	for (;;) {
		if (lock_mktemp(path, tmp, sizeof(tmp)) == -1)
			return -1;
		link_errno = 0;
		if (link(tmp, lockpath) == -1)
			link_errno = errno;
		if (lstat(tmp, &tst) == -1) {
			log_warn("%s: lstat %s", __func__, tmp);
			(void)unlink(tmp);
			return -1;
		}
		if (tst.st_nlink == 2) {
			/* Ours, whatever link() said. */
			if (unlink(tmp) == -1)
				log_warn("%s: unlink %s", __func__, tmp);
			return 0;
		}
		(void)unlink(tmp);
		if (link_errno != 0 && link_errno != EEXIST) {
			errno = link_errno;
			log_warn("%s: link %s", __func__, lockpath);
			return -1;
		}

		/* Someone holds it.  Is it stale? */
		r = lstat(lockpath, &lst);
		if (r == -1 && errno == ENOENT)
			continue;	/* just released: try again now */
		if (r == -1) {
			log_warn("%s: lstat %s", __func__, lockpath);
			return -1;
		}
		dead = lock_dead_owner(lockpath, &lst);
		if (dead > 0 || (stale_s > 0 &&
		    tst.st_mtime - lst.st_mtime > stale_s)) {
			if (lstat(lockpath, &lst2) == 0 &&
			    lst2.st_dev == lst.st_dev &&
			    lst2.st_ino == lst.st_ino &&
			    lst2.st_mtime == lst.st_mtime) {
				if (unlink(lockpath) == -1) {
					if (errno != ENOENT) {
						log_warn("%s: unlink stale %s",
						    __func__, lockpath);
						return -1;
					}
				} else if (dead > 0)
					log_warnx("%s: removed stale lock %s: "
					    "its owner, pid %ld, is dead",
					    __func__, lockpath, dead);
				else
					log_warnx("%s: removed stale lock %s "
					    "(%lld s old)", __func__, lockpath,
					    (long long)(tst.st_mtime -
					    lst.st_mtime));
			}
			continue;
		}
		if (timeout_ms == 0 || lock_wait(deadline, &backoff) != 0)
			return 1;
	}
}

int
lock_dotunlock(const char *path)
{
	char lockpath[LOCK_PATH_MAX];
	int n;

	n = snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(lockpath)) {
		errno = ENAMETOOLONG;
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	if (unlink(lockpath) == -1) {
		if (errno == ENOENT) {
			/* Someone judged it stale and broke it. */
			log_warnx("%s: %s was already gone", __func__,
			    lockpath);
			return 0;
		}
		log_warn("%s: unlink %s", __func__, lockpath);
		return -1;
	}
	return 0;
}
