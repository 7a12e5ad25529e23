/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * supervise.c -- restart throttling, refusal of clients of a full pool,
 * and parent-death ties (see supervise.h).  The first two run in the
 * master, as root.
 *
 * Caution: supervise_refuse() is the only place where the master holds
 * a client's socket.  It writes one constant line and closes; it must
 * never read, since the master is the one process that may not parse a
 * client byte.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "log.h"
#include "master.h"
#include "stats_shm.h"
#include "supervise.h"
#include "compat/poison.h"

#define REFUSE_PER_CALL		32
#define REFUSE_LOG_PER_S	10

static time_t refuse_second;
static unsigned int refuse_logged, refuse_quiet;

/*
 * Only a child started under the current seq registers a new failure:
 * it doubles the delay and logs one line.  Its siblings of the same
 * batch only count.
 */
void
supervise_fail(struct backoff *b, unsigned int seq, pid_t pid, int status)
{
	char how[64];

	b->failures++;
	if (seq != b->seq)
		return;
	b->seq++;
	b->delay = b->delay == 0 ? 1 : b->delay * 2;
	if (b->delay > SUPERVISE_DELAY_MAX_S)
		b->delay = SUPERVISE_DELAY_MAX_S;
	b->until = time(NULL) + (time_t)b->delay;
	if (WIFSIGNALED(status))
		(void)snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(status));
	else
		(void)snprintf(how, sizeof(how), "exit status %d",
		    WEXITSTATUS(status));
	log_warnx("%s die before serving (pid %ld: %s; %u failures): "
	    "next start in %u s", b->what, (long)pid, how, b->failures,
	    b->delay);
}

void
supervise_ok(struct backoff *b, unsigned int seq)
{
	if (b->delay == 0 || seq != b->seq)
		return;
	log_info("%s start again after %u failures", b->what, b->failures);
	b->delay = 0;
	b->failures = 0;
	b->until = 0;
}

int
supervise_may_start(const struct backoff *b)
{
	if (b->delay == 0)
		return 64;
	return time(NULL) >= b->until ? 1 : 0;
}

void
supervise_refuse(const struct listener *l, const char *limit,
    int (*ready)(void *), void *arg)
{
	static const char line[] = "-ERR [SYS/TEMP] Server busy, try again "
	    "later\r\n";
	struct sockaddr_storage ss;
	socklen_t sslen;
	char host[NI_MAXHOST];
	time_t now;
	int fd, n;

	for (n = 0; n < REFUSE_PER_CALL; n++) {
		if (ready(arg))
			return;
		sslen = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		/* On a TLS port plain text would be garbage: just close. */
		if (!l->tls)
			(void)!write(fd, line, sizeof(line) - 1);
		close(fd);
		stats_limit(limit);	/* metrics */
		now = time(NULL);
		if (now != refuse_second) {
			if (refuse_quiet > 0)
				log_warnx("event=limit limit=%s result=busy "
				    "count=%u (not logged one by one)",
				    limit, refuse_quiet);
			refuse_second = now;
			refuse_logged = refuse_quiet = 0;
		}
		if (refuse_logged++ >= REFUSE_LOG_PER_S) {
			refuse_quiet++;
			continue;
		}
		if (getnameinfo((struct sockaddr *)&ss, sslen, host,
		    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
			strlcpy(host, "unknown", sizeof(host));
		log_warnx("event=limit addr=%s user=- limit=%s result=busy",
		    host, limit);
	}
}
