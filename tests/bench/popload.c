/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * popload.c -- a POP3 load generator for benchmarks (tests/bench/).
 * One process, one epoll loop, thousands of non-blocking connections to
 * one loopback address, optionally over implicit TLS (OpenSSL).  Not part
 * of the daemon; runs as any user.
 *
 * Scenarios (-s):
 *   login     connect, greeting, USER, PASS, STAT, UIDL, QUIT, at
 *             concurrency -c until -n sessions or -d seconds: sessions/s
 *             and p50/p99 latency (connect to the QUIT reply).
 *   download  -c sessions each log in, then RETR 1..N (N from STAT):
 *             payload MB/s, counted from the first RETR to the last "."
 *   idle      open -c logged-in sessions (USER, PASS, STAT), print
 *             "idle: ready N" on stdout, hold them -H seconds (or until
 *             SIGTERM/SIGINT), then QUIT them all.
 *
 * Slot i's k-th session logs in as the user -u FORMAT with number
 * -B + (i + k * concurrency) % -U (default -U: the concurrency), so two
 * concurrent sessions never share a mailbox, and with -U >= 2 x the
 * concurrency a slot never reconnects to the mailbox it has just left.
 *
 * -Q sets TCP_QUICKACK after every read, so the client never delays
 * its ACKs: a server that ends each message with a small write and no
 * TCP_NODELAY (popa3d) otherwise waits for the 40 ms delayed ACK at
 * the end of every RETR, and a download measures that wait instead of
 * the server's streaming (tests/bench/RESULTS.md, "popa3d").
 *
 * Every loop is bounded: -n sessions, -d seconds of run time, -t seconds
 * per step of one session.  The result is one line on stdout:
 *   result scenario=login conc=16 tls=0 ok=N err=N secs=S rate=R/s
 *          p50_ms=.. p99_ms=.. bytes=B mbps=M
 *
 * Build: gcc -O2 -o popload popload.c -lssl -lcrypto
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define RBUF		(256 * 1024)
#define LINE_MAX_	1024
#define CONN_MAX	20000
#define LAT_MAX		(4 * 1000 * 1000)

enum scen { S_LOGIN, S_DOWNLOAD, S_IDLE };
enum st {
	ST_CONNECT, ST_HANDSHAKE, ST_GREET, ST_USER, ST_PASS, ST_STAT,
	ST_UIDL, ST_UIDL_DATA, ST_RETR, ST_RETR_DATA, ST_HOLD, ST_QUIT,
	ST_EOF, ST_FREE
};

struct conn {
	int		 fd;
	int		 slot;
	enum st		 st;
	SSL		*ssl;
	int		 want_write;	/* TLS wants POLLOUT */
	char		 out[LINE_MAX_];
	size_t		 outlen, outoff;
	char		 line[LINE_MAX_];
	size_t		 linelen;
	char		 tail[5];	/* last bytes of a multi-line body */
	size_t		 taillen;
	long		 nmsg, cur;
	double		 t0, tstep;
	uint64_t	 bytes;
	long		 round;		/* sessions this slot started */
};

static enum scen scen = S_LOGIN;
static const char *host = "127.0.0.1";
static int port = 110, tls, conc = 1, nusers, verbose, quickack;
static long maxsess = 1000000;
static double duration = 10, step_timeout = 30, hold = 30;
static const char *userfmt = "user%d@bench.example", *password = "bench";
static int user_base;
static SSL_CTX *ctx;
static int ep;
static struct conn *conns;
static long started, ok, errs, active;
static double *lat;
static long nlat;
static uint64_t total_bytes;
static double t_first_retr, t_last_end;
static volatile sig_atomic_t stop_flag;
static char errsample[256];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: popload -s login|download|idle [-T] [-h host] [-p port]\n"
	    "  [-c concurrency] [-n sessions] [-d seconds] [-t step_timeout]\n"
	    "  [-H hold_seconds] [-u user_format] [-U users] [-B first_user]\n"
	    "  [-P password] [-Q] [-v]\n");
	exit(2);
}

static void
fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (errsample[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(errsample, sizeof(errsample), fmt, ap);
		va_end(ap);
	}
	if (verbose) {
		va_start(ap, fmt);
		fprintf(stderr, "conn %d state %d: ", c->slot, c->st);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	errs++;
	c->st = ST_FREE;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	active--;
	c->st = ST_FREE;
}

static void
set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e;

	e.events = ev;
	e.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static int
conn_start(struct conn *c)
{
	struct sockaddr_in sa;
	struct epoll_event e;
	int fd, on = 1;

	{
		/* Keep the slot's session count and byte total. */
		long round = c->round;
		uint64_t bytes = c->bytes;

		memset(c, 0, sizeof(*c));
		c->round = round + 1;
		c->bytes = bytes;
	}
	c->slot = (int)(c - conns);
	c->fd = -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		fail(c, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = fd;
	c->t0 = c->tstep = now();
	c->st = ST_CONNECT;
	active++;
	started++;
	e.events = EPOLLOUT;
	e.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno != EINPROGRESS) {
		fail(c, "connect: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Queue one command line; it is written when the socket is writable. */
static void
send_cmd(struct conn *c, enum st next, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->out, sizeof(c->out) - 2, fmt, ap);
	va_end(ap);
	memcpy(c->out + n, "\r\n", 2);
	c->outlen = (size_t)n + 2;
	c->outoff = 0;
	c->st = next;
	c->tstep = now();
}

static ssize_t
c_read(struct conn *c, void *p, size_t len)
{
	int n, e;

	if (quickack)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &quickack,
		    sizeof(quickack));
	if (c->ssl == NULL)
		return read(c->fd, p, len);
	c->want_write = 0;
	n = SSL_read(c->ssl, p, (int)len);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		c->want_write = 1;
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = EIO;
	return -1;
}

static ssize_t
c_write(struct conn *c, const void *p, size_t len)
{
	int n, e;

	if (c->ssl == NULL)
		return write(c->fd, p, len);
	n = SSL_write(c->ssl, p, (int)len);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	errno = EIO;
	return -1;
}

static void
record_latency(struct conn *c, double t)
{
	if (nlat < LAT_MAX)
		lat[nlat++] = (t - c->t0) * 1000.0;
}

/* A complete single line (without CRLF) arrived in state c->st. */
static void
on_line(struct conn *c, const char *l)
{
	int okline = strncmp(l, "+OK", 3) == 0;
	double t;

	switch (c->st) {
	case ST_GREET:
		if (!okline)
			return fail(c, "greeting: %s", l);
		{
			char u[256];

			snprintf(u, sizeof(u), userfmt, user_base +
			    (int)((c->slot + (long)conc * (c->round - 1)) %
			    nusers));
			send_cmd(c, ST_USER, "USER %s", u);
		}
		break;
	case ST_USER:
		if (!okline)
			return fail(c, "USER: %s", l);
		send_cmd(c, ST_PASS, "PASS %s", password);
		break;
	case ST_PASS:
		if (!okline)
			return fail(c, "PASS: %s", l);
		send_cmd(c, ST_STAT, "STAT");
		break;
	case ST_STAT:
		if (!okline || sscanf(l, "+OK %ld", &c->nmsg) != 1)
			return fail(c, "STAT: %s", l);
		if (scen == S_LOGIN)
			send_cmd(c, ST_UIDL, "UIDL");
		else if (scen == S_IDLE) {
			c->st = ST_HOLD;
			c->outlen = 0;
			ok++;
		} else if (c->nmsg == 0) {
			send_cmd(c, ST_QUIT, "QUIT");
		} else {
			c->cur = 1;
			if (t_first_retr == 0)
				t_first_retr = now();
			send_cmd(c, ST_RETR, "RETR %ld", c->cur);
		}
		break;
	case ST_UIDL:
	case ST_RETR:
		if (!okline)
			return fail(c, "%s: %s", c->st == ST_UIDL ? "UIDL" :
			    "RETR", l);
		c->st = c->st == ST_UIDL ? ST_UIDL_DATA : ST_RETR_DATA;
		c->taillen = 0;
		/* "\r\n" before the body is implicit: a body may start
		 * with ".\r\n" (an empty listing). */
		memcpy(c->tail, "\r\n", 2);
		c->taillen = 2;
		break;
	case ST_QUIT:
		if (!okline)
			return fail(c, "QUIT: %s", l);
		t = now();
		if (scen == S_LOGIN)
			record_latency(c, t);
		ok++;
		c->st = ST_EOF;
		break;
	default:
		fail(c, "unexpected line: %s", l);
	}
}

/* The end of a multi-line body was seen. */
static void
on_body_end(struct conn *c)
{
	if (c->st == ST_UIDL_DATA) {
		send_cmd(c, ST_QUIT, "QUIT");
		return;
	}
	/* RETR */
	if (c->cur < c->nmsg) {
		c->cur++;
		send_cmd(c, ST_RETR, "RETR %ld", c->cur);
		return;
	}
	t_last_end = now();
	send_cmd(c, ST_QUIT, "QUIT");
}

/*
 * Consume bytes of a multi-line body: find "\r\n.\r\n" across reads.
 * Returns how many bytes belonged to the body (the rest is a new line).
 */
static size_t
body_feed(struct conn *c, const char *p, size_t n)
{
	char win[10];
	size_t i, k;
	const char *q;

	/* Check the seam between the previous tail and this chunk. */
	if (c->taillen > 0) {
		k = n < 4 ? n : 4;
		memcpy(win, c->tail, c->taillen);
		memcpy(win + c->taillen, p, k);
		for (i = 0; i + 5 <= c->taillen + k; i++) {
			if (memcmp(win + i, "\r\n.\r\n", 5) == 0 &&
			    i + 5 > c->taillen) {
				size_t used = i + 5 - c->taillen;

				c->bytes += used;
				c->taillen = 0;
				on_body_end(c);
				return used;
			}
		}
	}
	/* Scan this chunk for "\n.\r\n" preceded by '\r'. */
	for (q = p; (q = memchr(q, '.', (size_t)(p + n - q))) != NULL; q++) {
		if (q - p >= 2 && q[-1] == '\n' && q[-2] == '\r' &&
		    p + n - q >= 3 && q[1] == '\r' && q[2] == '\n') {
			size_t used = (size_t)(q + 3 - p);

			c->bytes += used;
			c->taillen = 0;
			on_body_end(c);
			return used;
		}
	}
	c->bytes += n;
	if (n >= 4) {
		memcpy(c->tail, p + n - 4, 4);
		c->taillen = 4;
	} else {
		memcpy(win, c->tail, c->taillen);
		memcpy(win + c->taillen, p, n);
		k = c->taillen + n;
		if (k > 4) {
			memmove(win, win + k - 4, 4);
			k = 4;
		}
		memcpy(c->tail, win, k);
		c->taillen = k;
	}
	return n;
}

static void
on_data(struct conn *c, const char *p, size_t n)
{
	size_t used;
	const char *nl;

	while (n > 0 && c->st != ST_FREE) {
		if (c->st == ST_UIDL_DATA || c->st == ST_RETR_DATA) {
			used = body_feed(c, p, n);
			p += used;
			n -= used;
			continue;
		}
		if (c->st == ST_EOF || c->st == ST_HOLD) {
			if (c->st == ST_HOLD)
				return fail(c, "unsolicited data in hold: "
				    "%.*s", (int)(n < 60 ? n : 60), p);
			return;	/* ignore anything after QUIT's reply */
		}
		if (c->outlen > c->outoff)
			return fail(c, "reply before the command was sent");
		nl = memchr(p, '\n', n);
		used = nl == NULL ? n : (size_t)(nl - p) + 1;
		if (c->linelen + used >= sizeof(c->line))
			return fail(c, "line too long");
		memcpy(c->line + c->linelen, p, used);
		c->linelen += used;
		p += used;
		n -= used;
		if (nl != NULL) {
			c->line[c->linelen] = '\0';
			while (c->linelen > 0 &&
			    (c->line[c->linelen - 1] == '\n' ||
			    c->line[c->linelen - 1] == '\r'))
				c->line[--c->linelen] = '\0';
			c->linelen = 0;
			on_line(c, c->line);
		}
	}
}

static void
update_events(struct conn *c)
{
	uint32_t ev = EPOLLIN;

	if (c->st == ST_FREE)
		return;
	if (c->outlen > c->outoff || c->want_write)
		ev |= EPOLLOUT;
	set_events(c, ev);
}

static void
handle(struct conn *c, uint32_t ev)
{
	static char rbuf[RBUF];
	ssize_t n;
	int err = 0, r, e, rounds;
	socklen_t el = sizeof(err);

	if (c->st == ST_CONNECT) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 ||
		    err != 0)
			return fail(c, "connect: %s", strerror(err));
		if (tls) {
			c->ssl = SSL_new(ctx);
			SSL_set_fd(c->ssl, c->fd);
			SSL_set_connect_state(c->ssl);
			c->st = ST_HANDSHAKE;
		} else {
			c->st = ST_GREET;
			set_events(c, EPOLLIN);
			return;
		}
	}
	if (c->st == ST_HANDSHAKE) {
		r = SSL_do_handshake(c->ssl);
		if (r == 1) {
			c->st = ST_GREET;
		} else {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				set_events(c, EPOLLIN);
			else if (e == SSL_ERROR_WANT_WRITE)
				set_events(c, EPOLLOUT);
			else {
				char eb[160];

				ERR_error_string_n(ERR_get_error(), eb,
				    sizeof(eb));
				return fail(c, "TLS handshake: %s", eb);
			}
			return;
		}
	}
	/* Write what is queued. */
	while (c->outlen > c->outoff) {
		n = c_write(c, c->out + c->outoff, c->outlen - c->outoff);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		return fail(c, "write: %s", strerror(errno));
	}
	if (c->outlen == c->outoff)
		c->outlen = c->outoff = 0;
	/* Read what is there (bounded rounds so one fast stream cannot
	 * starve the others). */
	(void)ev;
	for (rounds = 0; rounds < 16 && c->st != ST_FREE; rounds++) {
		n = c_read(c, rbuf, sizeof(rbuf));
		if (n > 0) {
			on_data(c, rbuf, (size_t)n);
			/* A command queued by on_data: try to send it now. */
			while (c->st != ST_FREE && c->outlen > c->outoff) {
				ssize_t w = c_write(c, c->out + c->outoff,
				    c->outlen - c->outoff);

				if (w > 0)
					c->outoff += (size_t)w;
				else if (w == -1 && (errno == EAGAIN ||
				    errno == EINTR))
					break;
				else
					return fail(c, "write: %s",
					    strerror(errno));
			}
			if (c->outlen == c->outoff)
				c->outlen = c->outoff = 0;
			continue;
		}
		if (n == 0) {
			if (c->st == ST_EOF) {
				c->st = ST_FREE;
				return;
			}
			return fail(c, "connection closed by the server");
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		if (c->st == ST_EOF && errno == ECONNRESET) {
			c->st = ST_FREE;
			return;
		}
		return fail(c, "read: %s", strerror(errno));
	}
	update_events(c);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	size_t i;

	if (nlat == 0)
		return 0;
	i = (size_t)(p * (double)(nlat - 1) + 0.5);
	return lat[i];
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[512];
	struct rlimit rl;
	struct sigaction sa;
	double t_start, t_end, t_deadline, t_hold_end = 0, t;
	int ch, i, n, ready_printed = 0, closing = 0;
	long target;
	char *end;

	while ((ch = getopt(argc, argv, "s:Th:p:c:n:d:t:H:u:U:B:P:Qv")) !=
	    -1) {
		switch (ch) {
		case 's':
			if (strcmp(optarg, "login") == 0)
				scen = S_LOGIN;
			else if (strcmp(optarg, "download") == 0)
				scen = S_DOWNLOAD;
			else if (strcmp(optarg, "idle") == 0)
				scen = S_IDLE;
			else
				usage();
			break;
		case 'T': tls = 1; break;
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'n': maxsess = strtol(optarg, &end, 10); break;
		case 'd': duration = strtod(optarg, &end); break;
		case 't': step_timeout = strtod(optarg, &end); break;
		case 'H': hold = strtod(optarg, &end); break;
		case 'u': userfmt = optarg; break;
		case 'U': nusers = atoi(optarg); break;
		case 'B': user_base = atoi(optarg); break;
		case 'P': password = optarg; break;
		case 'Q': quickack = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (conc < 1 || conc > CONN_MAX || port <= 0 || maxsess < 1 ||
	    duration <= 0 || step_timeout <= 0)
		usage();
	if (strcmp(host, "127.0.0.1") != 0 &&
	    strncmp(host, "127.", 4) != 0) {
		fprintf(stderr, "popload: loopback addresses only\n");
		return 2;
	}
	if (nusers <= 0)
		nusers = conc;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)conc + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)conc + 64 ? rl.rlim_max :
		    (rlim_t)conc + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (tls) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			return 1;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		/* Every connection is a full handshake, like a fresh
		 * client process: no session cache. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
	conns = calloc((size_t)conc, sizeof(*conns));
	lat = calloc(LAT_MAX, sizeof(*lat));
	if (conns == NULL || lat == NULL || (ep = epoll_create1(0)) == -1) {
		perror("popload");
		return 1;
	}
	for (i = 0; i < conc; i++) {
		conns[i].fd = -1;
		conns[i].st = ST_FREE;
	}
	/* The idle and download scenarios open each slot once. */
	target = scen == S_LOGIN ? maxsess : conc;
	t_start = now();
	t_deadline = t_start + (scen == S_IDLE ? duration + hold : duration);
	for (;;) {
		t = now();
		/* Start sessions in free slots. */
		if (!stop_flag && t < t_deadline && !closing)
			for (i = 0; i < conc && started < target; i++)
				if (conns[i].st == ST_FREE && conns[i].fd == -1)
					conn_start(&conns[i]);
		if (active == 0 && (started >= target || stop_flag ||
		    t >= t_deadline || closing))
			break;
		n = epoll_wait(ep, evs, 512, 50);
		if (n == -1 && errno != EINTR) {
			perror("epoll_wait");
			break;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->st == ST_FREE)
				continue;
			handle(c, evs[i].events);
		}
		t = now();
		/* Close finished or failed connections; time out others. */
		for (i = 0; i < conc; i++) {
			struct conn *c = &conns[i];

			if (c->fd == -1)
				continue;
			if (c->st != ST_FREE && c->st != ST_HOLD &&
			    t - c->tstep > step_timeout)
				fail(c, "timeout in state %d", c->st);
			if (c->st == ST_EOF && t - c->tstep > 2)
				c->st = ST_FREE;	/* no EOF: fine */
			if (c->st == ST_FREE)
				conn_close(c);
		}
		if (scen == S_IDLE && !ready_printed && !closing) {
			long holding = 0;

			for (i = 0; i < conc; i++)
				holding += conns[i].st == ST_HOLD;
			if (holding + errs >= conc) {
				printf("idle: ready %ld sessions (%ld "
				    "failed)\n", holding, errs);
				fflush(stdout);
				ready_printed = 1;
				t_hold_end = t + hold;
			}
		}
		if (scen == S_IDLE && !closing && (stop_flag ||
		    t >= t_deadline || (ready_printed && t >= t_hold_end))) {
			closing = 1;
			for (i = 0; i < conc; i++) {
				struct conn *c = &conns[i];

				if (c->st == ST_HOLD) {
					send_cmd(c, ST_EOF, "QUIT");
					c->tstep = t;
					update_events(c);
				}
			}
			t_deadline = t + step_timeout;
		}
		if ((stop_flag || t >= t_deadline) && scen != S_IDLE &&
		    !closing) {
			/* Stop starting; let running sessions finish within
			 * one step timeout. */
			closing = 1;
			t_deadline = t + step_timeout;
		}
		if (closing && t >= t_deadline && active > 0) {
			for (i = 0; i < conc; i++)
				if (conns[i].fd != -1) {
					if (conns[i].st != ST_EOF)
						errs++;
					conn_close(&conns[i]);
				}
			break;
		}
	}
	t_end = now();
	for (i = 0; i < conc; i++)
		total_bytes += conns[i].bytes;
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_double);
	{
		double secs = t_end - t_start, xs;

		if (scen == S_DOWNLOAD) {
			xs = (t_last_end > 0 ? t_last_end : t_end) -
			    t_first_retr;
			printf("result scenario=download conc=%d tls=%d ok=%ld "
			    "err=%ld secs=%.3f bytes=%llu mbps=%.1f\n", conc,
			    tls, ok, errs, xs, (unsigned long long)total_bytes,
			    xs > 0 ? (double)total_bytes / xs / 1e6 : 0.0);
		} else if (scen == S_IDLE) {
			printf("result scenario=idle conc=%d tls=%d ok=%ld "
			    "err=%ld secs=%.3f\n", conc, tls, ok, errs, secs);
		} else {
			/* Rate over the time the last session ended. */
			printf("result scenario=login conc=%d tls=%d ok=%ld "
			    "err=%ld secs=%.3f rate=%.1f p50_ms=%.2f "
			    "p99_ms=%.2f max_ms=%.2f\n", conc, tls, ok, errs,
			    secs, secs > 0 ? (double)ok / secs : 0.0,
			    pct(0.50), pct(0.99), nlat ? lat[nlat - 1] : 0.0);
		}
		if (errsample[0] != '\0')
			printf("first error: %s\n", errsample);
	}
	return errs == 0 && ok > 0 ? 0 : 1;
}
