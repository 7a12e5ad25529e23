/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master.c -- the master process.  Runs as root for its whole life: it
 * reads the config, loads the modules, binds the listeners, maps the
 * scoreboard, then forks and supervises the auth pool and the worker
 * pool.  It never reads a byte from a client.
 *
 * The worker pool is sized like Apache's prefork MPM: between
 * workers_min_spare and workers_max_spare idle workers, never more than
 * workers_max in all.  Each worker has its own channel, a pipe whose
 * read end only the master holds: it writes one octet when it waits for
 * a client and one when it accepted one, so the master tops the pool up
 * at once instead of on its next one-second tick.  Signal handlers only
 * set flags; the loop acts on them (nginx ngx_process_cycle.c).  A reload bumps the generation: idle
 * workers of the old generation are retired, busy ones finish their
 * session first.
 *
 * When the pool is full (workers_max busy, or workers that cannot
 * start), nobody would accept: the master then accepts itself and
 * writes one fixed -ERR [SYS/TEMP] line before it closes, so no client
 * waits silently in the listen backlog.  It still never reads a byte.
 *
 * A child that dies before it served (a worker that never got to idle,
 * an auth process that dies within AUTH_EARLY_S) is not restarted at
 * once: starts pause for 1, 2, 4 ... 60 s, with one log line per pause,
 * and then a single child probes until one comes up (Postfix master
 * throttles a service the same way).  Every child dies with the master
 * (PR_SET_PDEATHSIG).  The mechanics are in supervise.c.
 *
 * Caution: the scoreboard is shared memory that every worker can write,
 * and a worker may run an attacker's code.  The master decides nothing
 * from it: which slots are taken, how many workers are idle and which
 * one to retire all come from its own table (children[], slot_used[],
 * nslots), and each worker's state from that worker's own channel, so a
 * lying worker can only misstate itself.  The master writes a slot
 * (pid, generation, state) for the workers' shared limits and for
 * display, and reads one back only to name a dead worker's last state
 * in a log line.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "auth_fail.h"
#include "conf.h"
#include "control.h"
#include "log.h"
#include "master.h"
#include "master_chan.h"
#include "module.h"
#include "priv.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "stats.h"
#include "supervise.h"
#ifdef HAVE_OPENSSL
#include "key.h"
#include "scram.h"
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

/* The master's own state; children are handed theirs at fork. */
static struct satcheld *sd;

static volatile sig_atomic_t sig_chld, sig_hup, sig_term;

/* Children the master knows of, by pid. */
#define CHILD_WORKER	1
#define CHILD_AUTH	2
#define CHILD_STATS	3	/* stats.c: the metrics endpoint */
struct child {
	pid_t		 pid;
	int		 kind;
	uint32_t	 slot;		/* worker: scoreboard slot */
	uint32_t	 generation;
	unsigned int	 seq;		/* backoff seq at start */
	time_t		 started;
	struct master_chan ch;		/* worker: master_chan.c */
};
static struct child *children;
static size_t nchildren, maxchildren;
static time_t last_max_warning;

/*
 * The master's own view of the scoreboard: its size and which slots are
 * taken.  The shared header and slot states are never read back.
 */
static uint32_t nslots;
static uint8_t *slot_used;
/* The workers' channels, for the loop's ppoll (one descriptor). */
static int chan_ep = -1;

/* Restart throttling (supervise.h), one per kind of child. */
#define AUTH_EARLY_S	5	/* an auth process dying sooner failed */
static struct backoff worker_bo = { "workers", 0, 0, 0, 0 };
static struct backoff auth_bo = { "auth processes", 0, 0, 0, 0 };
static struct backoff stats_bo = { "stats processes", 0, 0, 0, 0 };
static unsigned int stats_started;

/* The pool is full: the master answers new connections itself. */
static int pool_full;
#define SPAWN_RATE_MAX	64
static unsigned int spawn_rate = 1;	/* doubles while spares run short */
static const char *pool_full_limit = "workers_max";

static void master_signal(int);
static void master_reap(struct satcheld *);
static void master_maintain(struct satcheld *, int);
static int master_spawn_worker(struct satcheld *);
static int master_spawn_auth(struct satcheld *);
static void master_reload(struct satcheld *);
static void master_close_inherited(struct satcheld *, int);
static void master_shutdown(struct satcheld *);
static int master_idle_workers(struct satcheld *);
static int master_ready(void *);
static void master_chan_events(void);

static void
master_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		sig_chld = 1;
		break;
	case SIGHUP:
		sig_hup = 1;
		break;
	default:
		sig_term = 1;
		break;
	}
}

static struct child *
child_add(pid_t pid, int kind, uint32_t slot, uint32_t gen)
{
	struct child *c;

	if (nchildren == maxchildren) {
		size_t n = maxchildren == 0 ? 64 : maxchildren * 2;

		if ((c = reallocarray(children, n, sizeof(*c))) == NULL)
			return NULL;
		children = c;
		maxchildren = n;
	}
	c = &children[nchildren++];
	c->pid = pid;
	c->kind = kind;
	c->slot = slot;
	c->generation = gen;
	c->seq = kind == CHILD_WORKER ? worker_bo.seq : kind == CHILD_STATS ?
	    stats_bo.seq : auth_bo.seq;
	c->started = time(NULL);
	master_chan_init(&c->ch);
	return c;
}

/*
 * In a new child: close what its role must not keep.  keep_listeners
 * for workers; the auth socket stays open in auth processes only.
 */
static void
master_close_inherited(struct satcheld *s, int kind)
{
	size_t i;

	if (kind != CHILD_WORKER)
		for (i = 0; i < s->nlisteners; i++)
			close(s->listeners[i].fd);
	if (kind != CHILD_AUTH && s->auth_fd != -1) {
		close(s->auth_fd);
		s->auth_fd = -1;
	}
	/*
	 * The read end of every worker's channel stays in the master: a
	 * worker holding another's could read its state away.
	 */
	for (i = 0; i < nchildren; i++)
		master_chan_close(&children[i].ch);
	if (chan_ep != -1)
		close(chan_ep);
	if (s->control_fd != -1) {	/* the master's alone */
		close(s->control_fd);
		s->control_fd = -1;
	}
#ifdef HAVE_OPENSSL
	key_close_inherited();	/* issue 11: only the master holds them */
#endif
	stats_close_inherited();	/* stats.c: counters of its own role */
	stats_keep(kind == CHILD_WORKER ? STATS_ROLE_WORKER : STATS_ROLE_AUTH);
}

static int
master_spawn_worker(struct satcheld *s)
{
	struct sb_slot *slot;
	struct child *c;
	uint32_t i;
	pid_t pid;
	int ch[2];

	for (i = 0; i < nslots; i++)
		if (!slot_used[i])
			break;
	if (i == nslots)
		return -1;
	/* Its channel: the worker writes ch[1], only the master reads. */
	if (pipe2(ch, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe");
		return -1;
	}
	slot = &s->sb->slots[i];
	memset(slot, 0, sizeof(*slot));
	slot->generation = s->generation;
	sb_set(slot, SB_STARTING);
	switch (pid = fork()) {
	case -1:
		log_warn("fork worker");
		sb_set(slot, SB_FREE);
		close(ch[0]);
		close(ch[1]);
		return -1;
	case 0:
		master_child_signals();
		close(ch[0]);
		master_close_inherited(s, CHILD_WORKER);
		s->chan = ch[1];
		if (sandbox_caps_drop() == -1)	/* sandbox.c */
			_exit(1);
		slot->pid = getpid();
		worker_main(s, slot);
		/* NOTREACHED */
	}
	close(ch[1]);
	slot->pid = pid;
	slot_used[i] = 1;
	if ((c = child_add(pid, CHILD_WORKER, i, s->generation)) == NULL) {
		log_warn("%s", __func__);
		kill(pid, SIGKILL);
		close(ch[0]);
		return 0;	/* reaped as unknown; the slot stays taken */
	}
	master_chan_watch(&c->ch, chan_ep, ch[0]);
	return 0;
}

/* The loop: read every worker channel that has something. */
static void
master_chan_events(void)
{
	struct epoll_event ev[64];
	size_t i;
	int n, k;

	do {
		if ((n = epoll_wait(chan_ep, ev, (int)nitems(ev), 0)) <= 0)
			return;
		for (k = 0; k < n; k++)
			for (i = 0; i < nchildren; i++)
				if (children[i].ch.fd == ev[k].data.fd) {
					master_chan_read(&children[i].ch,
					    children[i].pid);
					break;
				}
	} while (n == (int)nitems(ev));
}

static int
master_spawn_auth(struct satcheld *s)
{
	pid_t pid;

	switch (pid = fork()) {
	case -1:
		log_warn("fork auth process");
		return -1;
	case 0:
		master_child_signals();
		/* The auth process keeps root: tie it now. */
		if (priv_tie_to_parent(s->master_pid, SIGKILL) == -1)
			_exit(0);
		master_close_inherited(s, CHILD_AUTH);
		if (sandbox_caps_drop() == -1)	/* sandbox.c */
			_exit(1);
		auth_main(s);
		/* NOTREACHED */
	}
	if (child_add(pid, CHILD_AUTH, 0, s->generation) == NULL) {
		log_warn("%s", __func__);
		kill(pid, SIGKILL);
	}
	return 0;
}

static void
master_reap(struct satcheld *s)
{
	struct child *c;
	size_t i;
	pid_t pid;
	int status, kind;
	uint32_t gen;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nchildren; i++)
			if (children[i].pid == pid)
				break;
		if (i == nchildren) {
#ifdef HAVE_OPENSSL
			key_reaped(pid, status);	/* the key process */
#endif
			continue;
		}
		c = &children[i];
		kind = c->kind;
		gen = c->generation;
		stats_reaped(pid);
		if (kind == CHILD_STATS) {
			/* Restarted by master_maintain(), throttled. */
			if (!sig_term && time(NULL) - c->started < AUTH_EARLY_S)
				supervise_fail(&stats_bo, c->seq, pid, status);
			else if (!sig_term)
				log_warnx("stats process %ld ended (status "
				    "0x%x); restarting it", (long)pid, status);
		} else if (kind == CHILD_WORKER) {
			struct sb_slot *slot = &s->sb->slots[c->slot];
			int starting;

			/* What it said last, even just before it died. */
			master_chan_read(&c->ch, c->pid);
			master_chan_close(&c->ch);
			/*
			 * A worker that never said idle never got to
			 * accept: it failed to set itself up (chroot
			 * gone, ...).
			 */
			starting = c->ch.state == W_STARTING;
			if (starting && !sig_term &&
			    gen == s->generation && (WIFSIGNALED(status) ||
			    WEXITSTATUS(status) != 0))
				/* Logs once per pause, not per worker. */
				supervise_fail(&worker_bo, c->seq, c->pid,
				    status);
			else if (!starting)
				supervise_ok(&worker_bo, c->seq);
			if (starting && !sig_term) {
				/* supervise_fail() said it, once per pause. */
			} else if (WIFSIGNALED(status))
				log_warnx("worker %ld killed by signal %d "
				    "(state %s); replacing it", (long)pid,
				    WTERMSIG(status),
				    sb_state_name(slot->state));
			else if (WEXITSTATUS(status) != 0)
				log_warnx("worker %ld exited with status %d",
				    (long)pid, WEXITSTATUS(status));
			memset(slot, 0, sizeof(*slot));
			sb_set(slot, SB_FREE);
			slot_used[c->slot] = 0;
		} else {
			int early = !sig_term && gen == s->generation &&
			    time(NULL) - c->started < AUTH_EARLY_S &&
			    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0);

			if (early) {
				/* One line per pause, by supervise_fail(). */
				supervise_fail(&auth_bo, c->seq, c->pid,
				    status);
			} else if (WIFSIGNALED(status))
				log_warnx("auth process %ld killed by signal "
				    "%d", (long)pid, WTERMSIG(status));
			else if (WEXITSTATUS(status) != 0 && !sig_term)
				log_warnx("auth process %ld exited with "
				    "status %d", (long)pid,
				    WEXITSTATUS(status));
		}
		children[i] = children[--nchildren];
		/* master_maintain() refills both pools, throttled. */
	}
}

pid_t
master_worker_pid(uint32_t slot)
{
	size_t c;

	for (c = 0; c < nchildren; c++)
		if (children[c].kind == CHILD_WORKER &&
		    children[c].slot == slot)
			return children[c].pid;
	return -1;
}

void
master_counts(const struct satcheld *s, unsigned int *workers,
    unsigned int *auth, unsigned int *old)
{
	size_t c;

	*workers = *auth = *old = 0;
	for (c = 0; c < nchildren; c++)
		if (children[c].generation != s->generation)
			(*old)++;
		else if (children[c].kind == CHILD_WORKER)
			(*workers)++;
		else
			(*auth)++;
}

static int
master_idle_workers(struct satcheld *s)
{
	size_t c;
	int n = 0;

	/*
	 * A worker still starting will accept within milliseconds (or die,
	 * and then the pool is full again): count it, so the master never
	 * refuses a client that a worker about to be ready would take.
	 */
	for (c = 0; c < nchildren; c++)
		if (children[c].kind == CHILD_WORKER &&
		    children[c].generation == s->generation &&
		    (children[c].ch.state == W_IDLE ||
		    children[c].ch.state == W_STARTING))
			n++;
	return n;
}

/* supervise_refuse()'s test: stop refusing once a worker can accept. */
static int
master_ready(void *arg)
{
	return master_idle_workers(arg) > 0;
}

/*
 * Keep between min_spare and max_spare idle workers of the current
 * generation, and retire idle workers of older generations.
 */
static void
master_maintain(struct satcheld *s, int tick)
{
	struct config *cf = s->cf;
	unsigned int idle = 0, total = 0, starting = 0, spawn, i;
	unsigned int auth = 0, auth_young = 0, stats = 0;
	pid_t pid;
	struct child *w;
	size_t c;
	time_t now = time(NULL);
	int may;

	for (c = 0; c < nchildren; c++) {
		if (children[c].kind == CHILD_STATS) {
			stats++;
			if (now - children[c].started >= AUTH_EARLY_S)
				supervise_ok(&stats_bo, children[c].seq);
			continue;
		}
		if (children[c].kind == CHILD_AUTH) {
			if (children[c].generation != s->generation)
				continue;
			auth++;
			if (now - children[c].started < AUTH_EARLY_S)
				auth_young++;
			else
				supervise_ok(&auth_bo, children[c].seq);
			continue;
		}
		w = &children[c];
		total++;
		if (w->generation != s->generation) {
			if (w->ch.state == W_IDLE && tick)
				kill(w->pid, SIGUSR1);
			continue;
		}
		if (w->ch.state == W_STARTING)
			starting++;
		else
			supervise_ok(&worker_bo, w->seq);
		if (w->ch.state == W_IDLE || w->ch.state == W_STARTING)
			idle++;
	}

	/* The auth pool: keep its size, throttled when it cannot start. */
	may = supervise_may_start(&auth_bo);
	if (auth_bo.delay > 0 && auth_young > 0)
		may = 0;	/* the probe is still on its way up */
	for (; auth < cf->auth_processes && may > 0; auth++, may--)
		if (master_spawn_auth(s) == -1)
			break;

	/* The stats process (metrics_listen), one, throttled likewise. */
	if (stats_wanted() && stats == 0 && supervise_may_start(&stats_bo) &&
	    (pid = stats_spawn(s)) != -1) {
		if (child_add(pid, CHILD_STATS, 0, s->generation) == NULL)
			kill(pid, SIGKILL);
		if (stats_started++ > 0)
			stats_restarted();
	}

	may = supervise_may_start(&worker_bo);
	if (worker_bo.delay > 0 && starting > 0)
		may = 0;
	pool_full = 0;
	if (idle < cf->workers_min_spare) {
		/*
		 * Sized by demand (Apache prefork): while idle workers keep
		 * running short, each round starts twice as many as the
		 * last, up to SPAWN_RATE_MAX, so a burst does not wait for
		 * forks one by one; the rate falls back once spares suffice.
		 */
		unsigned int extra;

		spawn = cf->workers_min_spare - idle;
		/*
		 * At most spawn_rate workers on their way up at once, and
		 * the rate doubles only once the last batch is up: this
		 * function runs at every event of the master's loop, and
		 * doubling at each call started 64 workers per call under a
		 * steady stream of one-session workers, up to workers_max
		 * (400 processes for 64 clients), and then refused clients.
		 */
		extra = spawn_rate > starting ? spawn_rate - starting : 0;
		if (spawn < extra)
			spawn = extra;
		if (starting == 0 && spawn_rate < SPAWN_RATE_MAX)
			spawn_rate *= 2;
		if (spawn > (unsigned int)may)
			spawn = (unsigned int)may;
		for (i = 0; i < spawn; i++) {
			if (total >= cf->workers_max || total >= nslots)
				break;
			if (master_spawn_worker(s) == -1)
				break;
			total++;
			idle++;
			/* A batch takes a while: reap what ended meanwhile. */
			if (i % 8 == 7) {
				size_t before = nchildren;

				master_reap(s);
				total -= (unsigned int)(before - nchildren) <
				    total ? (unsigned int)(before - nchildren) :
				    total;
			}
		}
	}
	/*
	 * Nobody can take a new connection: no idle worker, and none can
	 * be started now.  The master refuses them (supervise_refuse()).
	 */
	if (master_idle_workers(s) == 0 && (total >= cf->workers_max ||
	    total >= nslots || worker_bo.delay > 0)) {
		pool_full = 1;
		pool_full_limit = total >= cf->workers_max ||
		    total >= nslots ? "workers_max" : "workers-failing";
		if (total >= cf->workers_max && now - last_max_warning >= 60) {
			last_max_warning = now;
			log_warnx("workers_max (%u) reached: new connections "
			    "are refused; raise workers_max in %s",
			    cf->workers_max, cf->path);
		}
	}
	stats_pool(s->sb, total - idle, idle, cf->workers_max, auth);
	if (idle >= cf->workers_min_spare)
		spawn_rate = 1;
	if (idle > cf->workers_max_spare && tick) {
		/* Retire one idle worker per tick, like Apache. */
		for (c = 0; c < nchildren; c++) {
			w = &children[c];
			if (w->kind != CHILD_WORKER || w->ch.state != W_IDLE)
				continue;
			w->ch.state = W_EXITING;
			sb_set(&s->sb->slots[w->slot], SB_EXITING);
			kill(w->pid, SIGUSR1);
			break;
		}
	}
}

static void
master_reload(struct satcheld *s)
{
	struct satcheld *n;
	size_t i;

	log_info("reloading %s", s->conf_path);
	if ((n = master_configure(s->conf_path, s->foreground)) == NULL) {
		log_warnx("reload failed: keeping the running configuration");
		return;
	}
	(void)conf_restart_changed(s->cf, n->cf, conf_restart_log);
	/* Swap config, modules and TLS; keep sockets and scoreboard. */
	master_free_config(s);
#ifdef HAVE_OPENSSL
	tls_swap(s, n);
#endif
	s->cf = n->cf;
	for (i = 0; i < n->nauth; i++)
		s->auth[i] = n->auth[i];
	s->nauth = n->nauth;
	s->storage = n->storage;
	s->apop = n->apop;
	s->lookup = n->lookup;
	s->worker_uid = n->worker_uid;
	s->worker_gid = n->worker_gid;
	free(n);
	log_setlevel(s->debug ? SATCHEL_LOG_DEBUG : s->cf->log_level);
	s->generation++;
	stats_reload(s);

	/* New auth processes; the old ones finish their request. */
	for (i = 0; i < nchildren; i++)
		if (children[i].kind == CHILD_AUTH)
			kill(children[i].pid, SIGTERM);
	for (i = 0; i < s->cf->auth_processes; i++)
		master_spawn_auth(s);
	/*
	 * What the workers said last (a SIGHUP ends ppoll before the
	 * channels are read): a worker that just went idle is retired now,
	 * not at the next tick, so no connection after "reloaded" meets
	 * the old configuration.
	 */
	master_chan_events();
	master_maintain(s, 1);
	log_info("reloaded: generation %u", s->generation);
}

static void
master_shutdown(struct satcheld *s)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	time_t deadline;
	size_t i;

	log_info("stopping: %zu processes", nchildren);
	for (i = 0; i < s->nlisteners; i++)
		close(s->listeners[i].fd);
	for (i = 0; i < nchildren; i++)
		kill(children[i].pid, SIGTERM);
	deadline = time(NULL) + (time_t)s->cf->shutdown_timeout;
	while (nchildren > 0 && time(NULL) < deadline) {
		master_reap(s);
		if (nchildren > 0)
			nanosleep(&ts, NULL);
	}
	if (nchildren > 0) {
		log_warnx("%zu processes still running after %u s: killing "
		    "them", nchildren, s->cf->shutdown_timeout);
		for (i = 0; i < nchildren; i++)
			kill(children[i].pid, SIGKILL);
		while (nchildren > 0 && waitpid(-1, NULL, 0) > 0)
			master_reap(s);
	}
	if (s->cf->pidfile[0] != '\0')
		(void)unlink(s->cf->pidfile);
	control_close(s);
	log_info("stopped");
}

int
master_run(struct satcheld *s)
{
	struct sigaction sa;
	struct pollfd pfd[2 + LISTENERS_MAX];
	struct timespec ts;
	sigset_t block, empty;
	unsigned int i;
	int r, pidfd;

	sd = s;
	s->running = 1;
	s->master_pid = getpid();
	if (master_listen(s) == -1 || master_auth_socket(s) == -1)
		return 1;
	if ((chan_ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("epoll_create1");
		return 1;
	}
	if ((s->sb = sb_create(s->cf->workers_max)) == NULL)
		return 1;
	nslots = s->cf->workers_max;	/* never s->sb->nslots: shared */
	if ((slot_used = calloc(nslots, 1)) == NULL) {
		log_warn("%s", __func__);
		return 1;
	}
	if (auth_fail_create() == -1)
		return 1;
	if (stats_setup(s) == -1)	/* metrics_listen: map and bind */
		return 1;

	if ((pidfd = master_open_pidfile(s->cf->path, s->cf->pidfile)) == -1)
		return 1;
	if (control_open(s) == -1)	/* satchelctl's socket */
		return 1;
	if (!s->foreground) {
		if (daemon(0, 0) == -1) {
			log_warn("daemon");
			return 1;
		}
	}
	if (master_write_pidfile(pidfd, s->cf->pidfile) == -1)
		return 1;
	s->master_pid = getpid();	/* daemon() forked */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);

	for (i = 0; i < s->cf->auth_processes; i++)
		master_spawn_auth(s);
	master_maintain(s, 0);
	log_info("satcheld %s started: %zu listeners, auth %s%s, "
	    "generation %u", PACKAGE_VERSION, s->nlisteners, s->cf->auth[0],
	    s->nauth > 1 ? " ..." : "", s->generation);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif

	while (!sig_term) {
		nfds_t nfd = 2;

		pfd[0].fd = chan_ep;	/* the workers' channels */
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = s->control_fd;	/* -1: poll ignores it */
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		/* A full pool: watch the listeners, to refuse at once. */
		if (pool_full)
			for (i = 0; i < s->nlisteners; i++, nfd++) {
				pfd[nfd].fd = s->listeners[i].fd;
				pfd[nfd].events = POLLIN;
				pfd[nfd].revents = 0;
			}
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		/* Signals are unblocked only while waiting: no lost wakeup. */
		r = ppoll(pfd, nfd, &ts, &empty);
		if (r > 0 && (pfd[0].revents & POLLIN))
			master_chan_events();
		/* A worker may have asked for a takeover (lock_conflict). */
		if (r > 0 && (pfd[0].revents & POLLIN))
			control_takeovers(s);
		if (r > 0 && (pfd[1].revents & POLLIN))
			control_accept(s);
		if (r > 0)
			for (i = 2; i < nfd; i++)
				if (pfd[i].revents & POLLIN)
					supervise_refuse(
					    &s->listeners[i - 2],
					    pool_full_limit, master_ready, s);
		/*
		 * Reap at every turn, not only after a SIGCHLD: a turn that
		 * forks a batch of workers runs with signals blocked, and
		 * one-session workers that ended meanwhile would stay
		 * zombies, counted against workers_max until the next turn
		 * (300 of them for 64 clients: the pool looked full and the
		 * master refused clients "Server busy").
		 */
		sig_chld = 0;
		master_reap(s);
		if (sig_term)
			break;
		if (sig_hup) {
			sig_hup = 0;
#ifdef HAVE_SYSTEMD
			sd_notify(0, "RELOADING=1");
#endif
			master_reload(s);
#ifdef HAVE_SYSTEMD
			sd_notify(0, "READY=1");
#endif
		}
		master_maintain(s, r == 0);
#ifdef HAVE_OPENSSL
		tls_tick(s);
#endif
	}
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	master_shutdown(s);
	return 0;
}
