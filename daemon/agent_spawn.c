/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * agent_spawn.c -- the agent spawner.  Forked by an auth process before
 * that process takes its first request, so it holds nothing secret: no
 * module was initialised, no password or client address was ever in
 * its memory.  It runs as root, reads nothing but SPAWN_MORE from its
 * auth process, and forks spare mailbox agents from this clean state,
 * handing each one's control socket back.  A spare drops to its mail
 * user only when the auth process gives it a session (agent.c).
 */
#include <sys/prctl.h>
#include <sys/socket.h>

#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "compat/compat.h"
#include "agent.h"
#include "auth_fail.h"
#include "auth_int.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "priv.h"
#include "privsep.h"
#include "compat/poison.h"

#define SPAWN_BATCH_MAX	64

void
agent_spawner_main(int ctl, struct satcheld *s)
{
	static struct privsep_msg m;
	struct msg_spawn_more more;
	struct sigaction sa;
	uint32_t i;
	int sv[2];

	log_procname("spawner");
	setproctitle_fmt("satcheld: agent spawner");
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() == 1)
		_exit(0);
	auth_fail_forget();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Agents are reaped by the kernel. */
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	/* Nothing inherited stays open but ctl and stdin/out/err. */
	if ((ctl = priv_keep_fd(ctl, s->foreground ? NULL :
	    s->cf->syslog_facility)) == -1)
		_exit(1);

	for (;;) {
		if (privsep_recv(ctl, &m, -1) != 0)
			break;
		if (m.fd != -1 || msg_get_spawn_more(&m, &more) == -1 ||
		    more.n == 0 || more.n > SPAWN_BATCH_MAX) {
			log_warnx("agent spawner: bad request: exiting");
			break;
		}
		for (i = 0; i < more.n; i++) {
			if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
			    0, sv) == -1) {
				log_warn("agent spawner: socketpair");
				break;
			}
			switch (fork()) {
			case -1:
				log_warn("agent spawner: fork");
				close(sv[0]);
				close(sv[1]);
				i = more.n;
				continue;
			case 0:
				close(sv[0]);
				close(ctl);
				agent_main(sv[1], s);
				/* NOTREACHED */
			}
			close(sv[1]);
			if (privsep_send(ctl, MSG_SPAWN_AGENT, NULL, 0,
			    sv[0]) == -1) {
				close(sv[0]);
				_exit(0);
			}
			close(sv[0]);
		}
	}
	_exit(0);
}
