/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master_proc.c -- the master process's housekeeping of its own
 * process: the pidfile, and the signal state a new child starts from.
 * Runs in the master, as root (master_child_signals in a child just
 * forked by the master, before it drops any privilege).
 */

#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "compat/poison.h"

/*
 * In a child just forked: the default disposition for the signals the
 * master catches, and none blocked.
 */
void
master_child_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * The pidfile is opened before daemon() so that an unwritable path is
 * reported on the terminal, and written after it, with the final pid.
 */
int
master_open_pidfile(const char *cfpath, const char *path)
{
	int fd;

	if (path[0] == '\0')
		return -2;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		log_warn("%s: key 'pidfile': %s", cfpath, path);
	return fd;
}

int
master_write_pidfile(int fd, const char *path)
{
	char buf[32];
	int n;

	if (fd == -2)
		return 0;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_warn("pidfile %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
