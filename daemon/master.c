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
 * workers_max in all.  A worker that went busy writes a byte to the wake
 * pipe, so the master tops the pool up at once instead of on its next
 * one-second tick.  Signal handlers only set flags; the loop acts on
 * them (nginx ngx_process_cycle.c).  A reload bumps the generation: idle
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
 */
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
#include "log.h"
#include "master.h"
#include "module.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "supervise.h"
#ifdef HAVE_OPENSSL
#include "key.h"
#include "scram.h"
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

struct satcheld *sd;

static volatile sig_atomic_t sig_chld, sig_hup, sig_term;

/* Children the master knows of, by pid. */
#define CHILD_WORKER	1
#define CHILD_AUTH	2
struct child {
	pid_t		 pid;
	int		 kind;
	uint32_t	 slot;		/* worker: scoreboard slot */
	uint32_t	 generation;
	unsigned int	 seq;		/* backoff seq at start */
	time_t		 started;
};
static struct child *children;
static size_t nchildren, maxchildren;
static time_t last_max_warning;

/* Restart throttling (supervise.h), one per kind of child. */
#define AUTH_EARLY_S	5	/* an auth process dying sooner failed */
static struct backoff worker_bo = { "workers", 0, 0, 0, 0 };
static struct backoff auth_bo = { "auth processes", 0, 0, 0, 0 };

/* The pool is full: the master answers new connections itself. */
static int pool_full;
static const char *pool_full_limit = "workers_max";

static void master_signal(int);
static int master_listen(struct satcheld *);
static int master_auth_socket(struct satcheld *);
static void master_reap(struct satcheld *);
static void master_maintain(struct satcheld *, int);
static int master_spawn_worker(struct satcheld *);
static int master_spawn_auth(struct satcheld *);
static void master_reload(struct satcheld *);
static int master_load_modules(struct satcheld *);
static int master_check_auth_modules(struct satcheld *);
static void master_close_inherited(struct satcheld *, int);
static int master_open_pidfile(const char *);
static int master_write_pidfile(int, const char *);
static void master_shutdown(struct satcheld *);
static int master_idle_workers(struct satcheld *);
static int master_ready(void *);

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

/*
 * Load the auth modules named in config, in order, and every storage
 * module of the module directory, and init them all.
 */
static int
master_load_modules(struct satcheld *s)
{
	struct config *cf = s->cf;
	const struct satchel_auth_ops *ops;
	size_t i;

	for (i = 0; i < cf->nauth; i++) {
		if ((s->auth[i] = module_load(cf->module_dir, cf->auth[i],
		    SATCHEL_MODULE_AUTH)) == NULL) {
			log_warnx("%s: key 'auth': cannot load auth module "
			    "'%s' from %s", cf->path, cf->auth[i],
			    cf->module_dir);
			return -1;
		}
		s->nauth = i + 1;
	}
	if (module_load_storage(cf->module_dir, cf, &s->storage) == -1)
		return -1;
	if (s->storage == NULL) {
		log_warnx("%s: no storage module in %s", cf->path,
		    cf->module_dir);
		return -1;
	}
	/* The per-module keys the core reads (auth.c's groups). */
	for (i = 0; i < cf->nauth; i++) {
		(void)conf_get(cf, cf->auth[i], "workers");
		(void)conf_get(cf, cf->auth[i], "timeout");
	}
	if (master_check_auth_modules(s) == -1)
		return -1;

	/*
	 * APOP only when asked for and some module can look up a
	 * plaintext-equivalent secret.  Never by default: clients such as
	 * curl use APOP whenever the banner has a timestamp and do not fall
	 * back to USER/PASS, so offering it to users stored as hashes would
	 * lock them out.
	 */
	s->lookup = 0;
	for (i = 0; i < s->nauth; i++) {
		ops = s->auth[i]->ops;
		if (ops->lookup != NULL)
			s->lookup = 1;
	}
	s->apop = 0;
	if (cf->apop == 1) {
		for (i = 0; i < s->nauth; i++) {
			ops = s->auth[i]->ops;
			if (ops->lookup != NULL)
				s->apop = 1;
		}
		if (!s->apop) {
			log_warnx("%s: key 'apop': no auth module in 'auth' "
			    "can look up a plaintext secret", cf->path);
			return -1;
		}
	}
	return 0;
}

/*
 * The auth modules are initialised only in the auth pool's module
 * workers, so that the master, and every worker and agent it forks,
 * never holds their data (a passwd-file, an SQL password).  Their
 * config is checked here in a child that initialises every one of them,
 * reports unknown keys, and exits; its messages name the file, line and
 * key as always.
 */
static int
master_check_auth_modules(struct satcheld *s)
{
	struct config *cf = s->cf;
	size_t i;
	pid_t pid;
	int status;

	fflush(stderr);
	switch (pid = fork()) {
	case -1:
		log_warn("fork config check");
		return -1;
	case 0:
		log_procname("check");
		for (i = 0; i < s->nauth; i++)
			if (module_init(s->auth[i], cf) == -1)
				_exit(1);
		if (conf_check_unused(cf) > 0 || cf->errors > 0)
			_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid config check");
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

void
master_free_config(struct satcheld *s)
{
	struct module *m, *next;
	size_t i;

	for (i = 0; i < s->nauth; i++)
		module_unload(s->auth[i]);
	s->nauth = 0;
	for (m = s->storage; m != NULL; m = next) {
		next = m->next;
		module_unload(m);
	}
	s->storage = NULL;
	conf_free(s->cf);
	s->cf = NULL;
}

/* mail_extra_groups must name existing groups, at most 8 of them. */
static int
master_check_groups(struct config *cf)
{
	char list[256], *g, *save;
	int n = 0;

	if (strlcpy(list, cf->mail_extra_groups, sizeof(list)) >=
	    sizeof(list)) {
		log_warnx("%s: key 'mail_extra_groups': too long", cf->path);
		return -1;
	}
	for (g = strtok_r(list, " ,", &save); g != NULL;
	    g = strtok_r(NULL, " ,", &save)) {
		if (getgrnam(g) == NULL) {
			log_warnx("%s: key 'mail_extra_groups': no group '%s'",
			    cf->path, g);
			return -1;
		}
		if (++n > 8) {
			log_warnx("%s: key 'mail_extra_groups': more than 8 "
			    "groups", cf->path);
			return -1;
		}
	}
	return 0;
}

struct satcheld *
master_configure(const char *path, int foreground)
{
	struct satcheld *s;
	struct passwd *pw;
#ifndef HAVE_OPENSSL
	size_t i;
#endif

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	s->conf_path = path;
	s->foreground = foreground;
	s->privileged = geteuid() == 0;
	s->auth_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	if ((s->cf = conf_load(path)) == NULL)
		goto fail;
	if (master_load_modules(s) == -1)
		goto fail;
	if (s->privileged) {
		if ((pw = getpwnam(s->cf->worker_user)) == NULL) {
			log_warnx("%s: key 'worker_user': no such user '%s' "
			    "(create it: useradd --system --no-create-home "
			    "%s)", path, s->cf->worker_user,
			    s->cf->worker_user);
			goto fail;
		}
		if (pw->pw_uid == 0) {
			log_warnx("%s: key 'worker_user': '%s' is root",
			    path, s->cf->worker_user);
			goto fail;
		}
		s->worker_uid = pw->pw_uid;
		s->worker_gid = pw->pw_gid;
		if (master_check_groups(s->cf) == -1)
			goto fail;
		if (s->cf->chroot[0] != '\0') {
			struct stat st;

			if (stat(s->cf->chroot, &st) == -1 ||
			    !S_ISDIR(st.st_mode)) {
				log_warnx("%s: key 'chroot': %s is not a "
				    "directory", path, s->cf->chroot);
				goto fail;
			}
			if (st.st_uid != 0 ||
			    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
				log_warnx("%s: key 'chroot': %s must be "
				    "owned by root and not writable by "
				    "others", path, s->cf->chroot);
				goto fail;
			}
		}
	} else {
		s->worker_uid = geteuid();
		s->worker_gid = getegid();
	}
#ifdef HAVE_OPENSSL
	if (tls_configure(s) == -1)
		goto fail;
	scram_init();
#else
	for (i = 0; i < s->cf->nlisten; i++)
		if (s->cf->listen[i].tls)
			break;
	if (i < s->cf->nlisten || s->cf->tls_cert[0] != '\0') {
		log_warnx("%s: key '%s': TLS is configured, but this satcheld "
		    "was built without OpenSSL", path, i < s->cf->nlisten ?
		    "listen" : "tls_cert");
		goto fail;
	}
#endif
	return s;
fail:
	if (s->cf != NULL)
		master_free_config(s);
#ifdef HAVE_OPENSSL
	tls_free(s);
#endif
	free(s);
	return NULL;
}

static int
master_listen(struct satcheld *s)
{
	struct addrinfo hints, *res, *ai;
	struct conf_listen *l;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	size_t i;
	int fd, on = 1, r;

	for (i = 0; i < s->cf->nlisten; i++) {
		l = &s->cf->listen[i];
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((r = getaddrinfo(l->host[0] == '\0' ? NULL : l->host,
		    l->port, &hints, &res)) != 0) {
			log_warnx("%s: key 'listen': %s:%s: %s", s->cf->path,
			    l->host, l->port, gai_strerror(r));
			return -1;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (s->nlisteners == LISTENERS_MAX) {
				log_warnx("too many listening addresses");
				freeaddrinfo(res);
				return -1;
			}
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host,
			    sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
				strlcpy(host, "?", sizeof(host));
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd == -1) {
				log_warn("socket for %s", host);
				freeaddrinfo(res);
				return -1;
			}
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
			    sizeof(on));
			if (ai->ai_family == AF_INET6)
				(void)setsockopt(fd, IPPROTO_IPV6,
				    IPV6_V6ONLY, &on, sizeof(on));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
			    listen(fd, 511) == -1) {
				log_warn("listen on %s port %s", host, serv);
				close(fd);
				freeaddrinfo(res);
				return -1;
			}
			s->listeners[s->nlisteners].fd = fd;
			s->listeners[s->nlisteners].tls = l->tls;
			(void)snprintf(s->listeners[s->nlisteners].name,
			    sizeof(s->listeners[0].name),
			    ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
			    host, serv);
			log_info("listening on %s%s",
			    s->listeners[s->nlisteners].name,
			    l->tls ? " (tls)" : "");
			s->nlisteners++;
		}
		freeaddrinfo(res);
	}
	return 0;
}

/*
 * The auth pool's socket: SOCK_SEQPACKET in the abstract namespace, so
 * a chrooted worker can reach it.  Abstract names are visible to every
 * local user (/proc/net/unix), so the name is no secret: what protects
 * the pool is the SO_PEERCRED check in each auth process, which admits
 * only the worker user and root.
 */
static int
master_auth_socket(struct satcheld *s)
{
	unsigned char rnd[8];
	char name[64];
	int n;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		log_warn("getrandom");
		return -1;
	}
	n = snprintf(name, sizeof(name), "satchel-auth-%ld-%02x%02x%02x%02x"
	    "%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1], rnd[2],
	    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	memset(&s->auth_addr, 0, sizeof(s->auth_addr));
	s->auth_addr.sun_family = AF_UNIX;
	memcpy(s->auth_addr.sun_path + 1, name, (size_t)n);
	s->auth_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    1 + (size_t)n);
	if ((s->auth_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0))
	    == -1 || bind(s->auth_fd, (struct sockaddr *)&s->auth_addr,
	    s->auth_addrlen) == -1 || listen(s->auth_fd, 512) == -1) {
		log_warn("auth socket");
		return -1;
	}
	return 0;
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
	c->seq = kind == CHILD_WORKER ? worker_bo.seq : auth_bo.seq;
	c->started = time(NULL);
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
	if (kind != CHILD_WORKER && s->wake[1] != -1) {
		close(s->wake[1]);
		s->wake[1] = -1;
	}
	if (s->wake[0] != -1) {
		close(s->wake[0]);
		s->wake[0] = -1;
	}
#ifdef HAVE_OPENSSL
	key_close_inherited();	/* issue 11: only the master holds them */
#endif
}

static void
child_signals(void)
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

static int
master_spawn_worker(struct satcheld *s)
{
	struct sb_slot *slot = NULL;
	uint32_t i;
	pid_t pid;

	for (i = 0; i < s->sb->nslots; i++)
		if (s->sb->slots[i].state == SB_FREE) {
			slot = &s->sb->slots[i];
			break;
		}
	if (slot == NULL)
		return -1;
	memset(slot, 0, sizeof(*slot));
	slot->generation = s->generation;
	sb_set(slot, SB_STARTING);
	switch (pid = fork()) {
	case -1:
		log_warn("fork worker");
		sb_set(slot, SB_FREE);
		return -1;
	case 0:
		child_signals();
		master_close_inherited(s, CHILD_WORKER);
		if (sandbox_caps_drop() == -1)	/* sandbox.c */
			_exit(1);
		slot->pid = getpid();
		worker_main(slot);
		/* NOTREACHED */
	}
	slot->pid = pid;
	if (child_add(pid, CHILD_WORKER, i, s->generation) == NULL) {
		log_warn("%s", __func__);
		kill(pid, SIGKILL);
	}
	return 0;
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
		child_signals();
		/* The auth process keeps root: tie it now. */
		if (supervise_tie_to_parent(s->master_pid, SIGKILL) == -1)
			_exit(0);
		master_close_inherited(s, CHILD_AUTH);
		if (sandbox_caps_drop() == -1)	/* sandbox.c */
			_exit(1);
		auth_main();
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
		if (kind == CHILD_WORKER) {
			struct sb_slot *slot = &s->sb->slots[c->slot];

			/*
			 * A worker still "starting" never got to accept:
			 * it failed to set itself up (chroot gone, ...).
			 */
			if (slot->state == SB_STARTING && !sig_term &&
			    gen == s->generation && (WIFSIGNALED(status) ||
			    WEXITSTATUS(status) != 0))
				/* Logs once per pause, not per worker. */
				supervise_fail(&worker_bo, c->seq, c->pid,
				    status);
			else if (slot->state != SB_STARTING)
				supervise_ok(&worker_bo, c->seq);
			if (slot->state == SB_STARTING && !sig_term) {
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
		    (s->sb->slots[children[c].slot].state == SB_IDLE ||
		    s->sb->slots[children[c].slot].state == SB_STARTING))
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
	unsigned int auth = 0, auth_young = 0;
	struct sb_slot *slot;
	size_t c;
	time_t now = time(NULL);
	int may;

	for (c = 0; c < nchildren; c++) {
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
		slot = &s->sb->slots[children[c].slot];
		total++;
		if (children[c].generation != s->generation) {
			if (slot->state == SB_IDLE && tick)
				kill(children[c].pid, SIGUSR1);
			continue;
		}
		if (slot->state == SB_STARTING)
			starting++;
		else
			supervise_ok(&worker_bo, children[c].seq);
		if (slot->state == SB_IDLE || slot->state == SB_STARTING)
			idle++;
	}

	/* The auth pool: keep its size, throttled when it cannot start. */
	may = supervise_may_start(&auth_bo);
	if (auth_bo.delay > 0 && auth_young > 0)
		may = 0;	/* the probe is still on its way up */
	for (; auth < cf->auth_processes && may > 0; auth++, may--)
		if (master_spawn_auth(s) == -1)
			break;

	may = supervise_may_start(&worker_bo);
	if (worker_bo.delay > 0 && starting > 0)
		may = 0;
	pool_full = 0;
	if (idle < cf->workers_min_spare) {
		spawn = cf->workers_min_spare - idle;
		if (spawn > (unsigned int)may)
			spawn = (unsigned int)may;
		for (i = 0; i < spawn; i++) {
			if (total >= cf->workers_max ||
			    total >= s->sb->nslots)
				break;
			if (master_spawn_worker(s) == -1)
				break;
			total++;
			idle++;
		}
	}
	/*
	 * Nobody can take a new connection: no idle worker, and none can
	 * be started now.  The master refuses them (supervise_refuse()).
	 */
	if (master_idle_workers(s) == 0 && (total >= cf->workers_max ||
	    total >= s->sb->nslots || worker_bo.delay > 0)) {
		pool_full = 1;
		pool_full_limit = total >= cf->workers_max ||
		    total >= s->sb->nslots ? "workers_max" : "workers-failing";
		if (total >= cf->workers_max && now - last_max_warning >= 60) {
			last_max_warning = now;
			log_warnx("workers_max (%u) reached: new connections "
			    "are refused; raise workers_max in %s",
			    cf->workers_max, cf->path);
		}
	}
	if (idle > cf->workers_max_spare && tick) {
		/* Retire one idle worker per tick, like Apache. */
		for (c = 0; c < nchildren; c++) {
			if (children[c].kind != CHILD_WORKER)
				continue;
			slot = &s->sb->slots[children[c].slot];
			if (slot->state == SB_IDLE) {
				sb_set(slot, SB_EXITING);
				kill(children[c].pid, SIGUSR1);
				break;
			}
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

	/* New auth processes; the old ones finish their request. */
	for (i = 0; i < nchildren; i++)
		if (children[i].kind == CHILD_AUTH)
			kill(children[i].pid, SIGTERM);
	for (i = 0; i < s->cf->auth_processes; i++)
		master_spawn_auth(s);
	master_maintain(s, 1);
	log_info("reloaded: generation %u", s->generation);
}

/*
 * The pidfile is opened before daemon() so that an unwritable path is
 * reported on the terminal, and written after it, with the final pid.
 */
static int
master_open_pidfile(const char *path)
{
	int fd;

	if (path[0] == '\0')
		return -2;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		log_warn("%s: key 'pidfile': %s", sd->cf->path, path);
	return fd;
}

static int
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
	log_info("stopped");
}

int
master_run(struct satcheld *s)
{
	struct sigaction sa;
	struct pollfd pfd[1 + LISTENERS_MAX];
	struct timespec ts;
	sigset_t block, empty;
	unsigned int i;
	char drain[256];
	int r, pidfd;

	sd = s;
	s->master_pid = getpid();
	if (master_listen(s) == -1 || master_auth_socket(s) == -1)
		return 1;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe");
		return 1;
	}
	if ((s->sb = sb_create(s->cf->workers_max)) == NULL)
		return 1;
	if (auth_fail_create() == -1)
		return 1;

	if ((pidfd = master_open_pidfile(s->cf->pidfile)) == -1)
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
		nfds_t nfd = 1;

		pfd[0].fd = s->wake[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
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
			while (read(s->wake[0], drain, sizeof(drain)) > 0)
				;
		if (r > 0)
			for (i = 1; i < nfd; i++)
				if (pfd[i].revents & POLLIN)
					supervise_refuse(
					    &s->listeners[i - 1],
					    pool_full_limit, master_ready, s);
		if (sig_chld) {
			sig_chld = 0;
			master_reap(s);
		}
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
