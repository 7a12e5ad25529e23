/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master_chan.c -- the master's end of the workers' channels (see
 * master_chan.h).  Runs in the master, as root.
 *
 * Caution: what comes in is a worker's word and may come from an
 * attacker's code.  It is only ever taken as that one worker's own
 * state: one octet, idle or busy, nothing else parsed.  A worker that
 * lies about itself keeps at most one spare fewer, which it could do
 * anyway by holding its connection; it cannot speak for another.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "log.h"
#include "master.h"
#include "master_chan.h"
#include "compat/poison.h"

void
master_chan_init(struct master_chan *ch)
{
	ch->fd = -1;
	ch->state = W_STARTING;
	ch->lied = 0;
}

void
master_chan_watch(struct master_chan *ch, int ep, int fd)
{
	struct epoll_event ee;

	ch->fd = fd;
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN;
	ee.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee) == -1)
		log_warn("epoll_ctl worker channel");
}

void
master_chan_read(struct master_chan *ch, pid_t pid)
{
	unsigned char buf[256];
	ssize_t n, k;

	if (ch->fd == -1)
		return;
	while ((n = read(ch->fd, buf, sizeof(buf))) > 0)
		for (k = 0; k < n; k++) {
			if (ch->state == W_EXITING)
				continue;	/* retired: stays so */
			if (buf[k] == MASTER_CHAN_IDLE)
				ch->state = W_IDLE;
			else if (buf[k] == MASTER_CHAN_BUSY)
				ch->state = W_BUSY;
			else if (buf[k] == MASTER_CHAN_TAKEOVER)
				;	/* control_takeovers() scans */
			else {
				if (!ch->lied)
					log_warnx("worker %ld wrote 0x%02x on "
					    "its channel: ending it",
					    (long)pid, buf[k]);
				ch->lied = 1;
				ch->state = W_EXITING;
				kill(pid, SIGKILL);
			}
		}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		master_chan_close(ch);	/* leaves the epoll set too */
		/* One that never said idle failed to start (master_reap). */
		if (ch->state != W_STARTING)
			ch->state = W_EXITING;
	}
}

void
master_chan_close(struct master_chan *ch)
{
	if (ch->fd != -1)
		close(ch->fd);
	ch->fd = -1;
}
