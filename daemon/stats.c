/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * stats.c -- the stats process: it answers GET /metrics on the socket
 * of metrics_listen with the counters of lib/stats_shm.h, in the
 * Prometheus text format or, when the Accept header asks for it, in
 * OpenMetrics.  And the master's side: bind the socket, map the
 * counters, fork the process (the master restarts it like its other
 * children, throttled by supervise.c).
 *
 * Privileges: stats_setup() and stats_spawn() run in the master, as
 * root.  The stats process drops at once to worker_user (chrooted when
 * the workers are), sets NO_NEW_PRIVS, is not dumpable, and installs
 * its seccomp allow-list (sandbox_stats()) before it accepts anyone.
 * It never sees a POP3 client's byte: it keeps only the metrics
 * socket, unmaps the scoreboard (which holds user names and client
 * addresses) and the failed-login table, and maps the counters read
 * only.  What it parses is HTTP from whoever reaches metrics_listen:
 * one bounded request head (STATS_HTTP_MAX) per connection, within
 * STATS_TIMEOUT_MS, at most STATS_CLIENTS_MAX connections at once, in
 * one poll() loop; it answers and closes.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth_fail.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "priv.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "stats.h"
#include "compat/poison.h"

static int stats_fd = -1;		/* master: the bound socket */
static volatile sig_atomic_t stats_quit;

struct client {
	int		 fd;
	char		 in[STATS_HTTP_MAX];
	size_t		 inlen;
	struct buf	 out;
	int		 writing;
	uint64_t	 deadline;
};

static void stats_main(struct satcheld *, int) __attribute__((noreturn));
static void stats_serve(int) __attribute__((noreturn));
static void stats_signal(int);
static uint64_t now_ms(void);
static void client_close(struct client *);
static void client_read(struct client *);
static void client_write(struct client *);
static void client_answer(struct client *, int, const char *,
    const struct stats_http_req *);
static void stats_names(struct satcheld *);

static void
stats_signal(int sig)
{
	(void)sig;
	stats_quit = 1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The auth modules' names, for module="..." (a reload may add some). */
static void
stats_names(struct satcheld *s)
{
	char *names[CONF_MODULES_MAX];
	size_t i;

	for (i = 0; i < s->nauth && i < CONF_MODULES_MAX; i++)
		names[i] = (char *)(uintptr_t)s->auth[i]->desc->name;
	stats_modules(names, i);
}

int
stats_setup(struct satcheld *s)
{
	struct addrinfo hints, *res = NULL;
	char host[256], *port;
	const char *v = s->cf->metrics_listen;
	int fd, on = 1, e;

	if (v == NULL || v[0] == '\0')
		return 0;
	/* ADDR:PORT, or [v6]:PORT. */
	if (v[0] == '[') {
		if (strlcpy(host, v + 1, sizeof(host)) >= sizeof(host) ||
		    (port = strstr(host, "]:")) == NULL)
			goto bad;
		*port = '\0';
		port += 2;
	} else {
		if (strlcpy(host, v, sizeof(host)) >= sizeof(host) ||
		    (port = strrchr(host, ':')) == NULL)
			goto bad;
		*port++ = '\0';
	}
	if (host[0] == '\0' || port[0] == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("%s: key 'metrics_listen': %s: %s", s->cf->path, v,
		    gai_strerror(e));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || bind(fd, res->ai_addr, res->ai_addrlen) ==
	    -1 || listen(fd, 64) == -1) {
		log_warn("metrics_listen %s", v);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	if (stats_map() == -1) {
		close(fd);
		return -1;
	}
	stats_fd = fd;
	stats_names(s);
	log_info("metrics on %s", v);
	return 0;
bad:
	log_warnx("%s: key 'metrics_listen': '%s' is not ADDR:PORT",
	    s->cf->path, v);
	return -1;
}

void
stats_reload(struct satcheld *s)
{
	stats_names(s);
}

int
stats_wanted(void)
{
	return stats_fd != -1;
}

void
stats_close_inherited(void)
{
	if (stats_fd != -1)
		close(stats_fd);
	stats_fd = -1;
}

pid_t
stats_spawn(struct satcheld *s)
{
	pid_t pid;

	switch (pid = fork()) {
	case -1:
		log_warn("fork stats process");
		return -1;
	case 0:
		stats_main(s, stats_fd);
		/* NOTREACHED */
	}
	return pid;
}

/* The child: drop everything but the socket and read-only counters. */
static void
stats_main(struct satcheld *s, int fd)
{
	struct config *cf = s->cf;
	struct sigaction sa;
	sigset_t set;

	log_procname("stats");
	setproctitle_fmt("satcheld: stats");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = stats_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);

	/* Nothing of the master's but the socket: no listener, no pipe. */
	if ((fd = priv_keep_fd(fd, s->foreground ? NULL :
	    cf->syslog_facility)) == -1) {
		log_warn("stats process: descriptors");
		_exit(1);
	}
	/* The scoreboard names users and clients: not ours to see. */
	auth_fail_forget();
	if (s->sb != NULL)
		(void)munmap(s->sb, sizeof(*s->sb) +
		    (size_t)sb_count(s->sb) * sizeof(struct sb_slot));
	s->sb = NULL;
	stats_keep(STATS_ROLE_READER);
	if (sandbox_caps_drop() == -1 ||
	    priv_drop(cf->chroot, s->worker_uid, s->worker_gid, NULL,
	    0) == -1)
		_exit(1);
	if (priv_tie_to_parent(s->master_pid, SIGKILL) == -1)
		_exit(0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("stats process: prctl NO_NEW_PRIVS");
		_exit(1);
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (cf->sandbox && sandbox_stats(0) == -1)
		_exit(1);
	stats_serve(fd);
}

static void
client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->out);
	c->inlen = 0;
	c->writing = 0;
}

/* Queue the whole answer; the loop writes it out, then closes. */
static void
client_answer(struct client *c, int status, const char *why,
    const struct stats_http_req *req)
{
	static struct stats_snapshot snap;
	struct buf body;
	const char *type = "text/plain; charset=utf-8";
	char head[512];
	int n, minor = req != NULL ? req->minor : 0;

	buf_init(&body, STATS_REPLY_MAX);
	if (status == 200) {
		stats_snapshot(&snap);
		if (stats_render(&snap, req->openmetrics, &body) == -1) {
			log_warnx("stats process: the metrics exceed %d bytes",
			    STATS_REPLY_MAX);
			buf_reset(&body);
			status = 500;
			why = "Internal Server Error";
		} else
			type = req->openmetrics ? "application/openmetrics-"
			    "text; version=1.0.0; charset=utf-8" :
			    "text/plain; version=0.0.4; charset=utf-8";
	}
	if (status != 200)
		(void)buf_puts(&body, why), (void)buf_puts(&body, "\n");
	n = snprintf(head, sizeof(head), "HTTP/1.%d %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", minor, status, why, type, body.len,
	    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	buf_init(&c->out, STATS_REPLY_MAX + sizeof(head));
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    buf_append(&c->out, head, (size_t)n) == -1 ||
	    ((req == NULL || req->method != STATS_HTTP_HEAD) &&
	    body.len > 0 && buf_append(&c->out, buf_ptr(&body),
	    body.len) == -1)) {
		buf_free(&body);
		client_close(c);
		return;
	}
	buf_free(&body);
	c->writing = 1;
	client_write(c);
}

static void
client_read(struct client *c)
{
	struct stats_http_req req;
	size_t used;
	ssize_t n;
	int r;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->inlen += (size_t)n;
	r = stats_http_parse(c->in, c->inlen, &req, &used);
	if (r == 0)
		return;
	if (r == -1) {
		log_debug("stats process: a malformed request");
		client_answer(c, 400, "Bad Request", NULL);
	} else if (req.method == STATS_HTTP_OTHER)
		client_answer(c, 405, "Method Not Allowed", &req);
	else if (!req.metrics)
		client_answer(c, 404, "Not Found", &req);
	else
		client_answer(c, 200, "OK", &req);
}

static void
client_write(struct client *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = write(c->fd, buf_ptr(&c->out), c->out.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		buf_consume(&c->out, (size_t)n);
	}
	(void)shutdown(c->fd, SHUT_WR);
	client_close(c);
}

static void
stats_serve(int lfd)
{
	static struct client cl[STATS_CLIENTS_MAX];
	struct pollfd pfd[1 + STATS_CLIENTS_MAX];
	size_t i, map[1 + STATS_CLIENTS_MAX];
	nfds_t n;
	uint64_t now, next;
	int fd, r, timeout;

	for (i = 0; i < STATS_CLIENTS_MAX; i++)
		cl[i].fd = -1;
	log_debug("stats process: serving");
	while (!stats_quit) {
		now = now_ms();
		next = now + 1000;
		n = 0;
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
		for (i = 0; i < STATS_CLIENTS_MAX; i++) {
			if (cl[i].fd == -1)
				continue;
			if (cl[i].deadline <= now) {
				log_debug("stats process: a client timed out");
				client_close(&cl[i]);
				continue;
			}
			if (cl[i].deadline < next)
				next = cl[i].deadline;
			map[n] = i;
			pfd[n].fd = cl[i].fd;
			pfd[n].events = cl[i].writing ? POLLOUT : POLLIN;
			pfd[n++].revents = 0;
		}
		timeout = (int)(next - now);
		r = poll(pfd, n, timeout);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			log_warn("stats process: poll");
			_exit(1);
		}
		for (i = 1; i < n; i++) {
			struct client *c = &cl[map[i]];

			if (pfd[i].revents == 0 || c->fd == -1)
				continue;
			if (c->writing)
				client_write(c);
			else
				client_read(c);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) != -1) {
			for (i = 0; i < STATS_CLIENTS_MAX; i++)
				if (cl[i].fd == -1)
					break;
			if (i == STATS_CLIENTS_MAX) {
				/* Full: the scraper tries again next time. */
				close(fd);
				continue;
			}
			cl[i].fd = fd;
			cl[i].inlen = 0;
			cl[i].writing = 0;
			cl[i].deadline = now_ms() + STATS_TIMEOUT_MS;
			buf_init(&cl[i].out, 0);
		}
	}
	_exit(0);
}
