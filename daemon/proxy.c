/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxy.c -- proxy mode in the worker (see proxy.h).  The auth pool has
 * checked the user's password against the front's auth backend and
 * connected to the user's backend POP3 server; here the worker, which
 * still holds the password the client just sent, speaks to that
 * backend as a POP3 client:
 *
 *   PROXY v2 header (proxy_send_haproxy, or the user's proxy_haproxy=)
 *   TLS at once (ssl=yes) or after the greeting and STLS (ssl=starttls),
 *     verifying the certificate against proxy_ssl_ca_file and the name
 *     (or IP address) in host=
 *   USER destuser, PASS password (wiped from our buffers once sent)
 *
 * then gives the client the backend's +OK line and relays bytes in both
 * directions until either side closes or nothing moves for
 * timeout_session seconds.  Each direction goes through one bounded
 * buffer (RELAY_MAX): a 10 MiB RETR streams through 256 KiB at most,
 * and a slow reader stops us reading from the other side.
 *
 * When neither side is TLS the relay is zero-copy instead: splice(2)
 * from one socket into a pipe and from the pipe into the other, the
 * bytes never in our memory (proxy_relay_splice); if pipe2 fails, the
 * buffered relay runs.
 *
 * Runs in the worker: unprivileged, chrooted, under the worker's seccomp
 * list.  The socket comes from the auth pool, the CA certificates were
 * read by the master (proxy_configure), TLS uses read, write, poll and
 * getrandom; the list has splice and pipe2 for the zero-copy relay.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "conf.h"
#include "io.h"
#include "log.h"
#include "master.h"
#include "protocol.h"
#include "proxy.h"
#include "proxyhdr.h"
#include "scoreboard.h"
#include "session.h"
#include "session_int.h"
#ifdef HAVE_OPENSSL
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

#define RELAY_MAX		(256 * 1024)	/* per direction */
#define RELAY_CHUNK		(64 * 1024)	/* one read */
#define BACKEND_LINE_MAX	512

#ifdef HAVE_OPENSSL
static SSL_CTX *proxy_ctx;		/* built by the master */
#endif

/* ---- the master: the TLS client context ------------------------- */

int
proxy_configure(const struct config *cf)
{
#ifdef HAVE_OPENSSL
	const char *file = cf->proxy_ssl_ca_file;
	SSL_CTX *ctx;

	/*
	 * Without a CA file there is nothing to verify a backend with
	 * (Dovecot's ssl_client_ca_file is empty by default too): no
	 * context, and ssl= users fail with a log line that says so.
	 * Nor is the system bundle loaded into every Satchel that never
	 * proxies: it would be parsed in the master and carried by every
	 * child it forks.
	 */
	if (proxy_ctx != NULL)
		SSL_CTX_free(proxy_ctx);
	proxy_ctx = NULL;
	if (file[0] == '\0')
		return 0;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		log_warnx("proxy: SSL_CTX_new failed");
		return -1;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	/*
	 * A file only, never a hashed directory: a directory lookup
	 * would open files at verification time, in the chroot, under
	 * a seccomp list that forbids open().
	 */
	if (SSL_CTX_load_verify_locations(ctx, file, NULL) != 1) {
		ERR_clear_error();
		log_warnx("%s: key 'proxy_ssl_ca_file': cannot load CA "
		    "certificates from %s", cf->path, file);
		SSL_CTX_free(ctx);
		return -1;
	}
	proxy_ctx = ctx;
#else
	(void)cf;
#endif
	return 0;
}

/* ---- TLS to the backend (tls.c's transport) ---------------------- */

#ifdef HAVE_OPENSSL
/*
 * TLS client handshake on b within timeout_ms, checking the backend's
 * certificate chain and that it names host (a DNS name, or an IP
 * address).  0, or -1 with *err_r (static text).
 */
static int
proxy_tls_connect(struct conn *b, const char *host, int timeout_ms,
    const char **err_r)
{
	static char errbuf[256];
	struct in6_addr a6;
	struct in_addr a4;
	struct pollfd pfd;
	SSL *ssl;
	long vr;
	int r, e, isip;

	*err_r = "ssl= needs proxy_ssl_ca_file (no CA to verify the "
	    "backend with)";
	if (proxy_ctx == NULL)
		return -1;
	if ((ssl = SSL_new(proxy_ctx)) == NULL || SSL_set_fd(ssl, b->fd) !=
	    1) {
		SSL_free(ssl);
		*err_r = "SSL_new failed";
		return -1;
	}
	isip = inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
	if (isip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
	    host) != 1 : (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)) {
		SSL_free(ssl);
		*err_r = "cannot set the name to verify";
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			vr = SSL_get_verify_result(ssl);
			if (vr != X509_V_OK)
				(void)snprintf(errbuf, sizeof(errbuf),
				    "certificate verification failed: %s",
				    X509_verify_cert_error_string(vr));
			else
				(void)snprintf(errbuf, sizeof(errbuf), "%s",
				    ERR_peek_error() != 0 ? ERR_reason_error_string(
				    ERR_peek_error()) : "connection closed "
				    "during handshake");
			ERR_clear_error();
			SSL_free(ssl);
			*err_r = errbuf;
			return -1;
		}
		pfd.fd = b->fd;
		pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if ((r = poll(&pfd, 1, timeout_ms)) == 0) {
			SSL_free(ssl);
			*err_r = "handshake timed out";
			return -1;
		}
		if (r == -1 && errno != EINTR) {
			SSL_free(ssl);
			*err_r = "poll failed";
			return -1;
		}
	}
	b->tls = ssl;
	b->tr = &tls_transport;
	return 0;
}
#endif

/* ---- talking to the backend -------------------------------------- */

/*
 * One line from the backend into line (CRLF removed), waiting at most
 * timeout_ms.  0, or -1 with *err_r.
 */
static int
proxy_getline(struct conn *b, char *line, size_t linesz, int timeout_ms,
    const char **err_r)
{
	char *p, *lf;
	size_t n;
	ssize_t r;

	for (;;) {
		p = buf_ptr(&b->in);
		if (b->in.len > 0 && (lf = memchr(p, '\n', b->in.len)) !=
		    NULL) {
			n = (size_t)(lf - p);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n >= linesz || memchr(p, '\0', n) != NULL) {
				*err_r = "overlong or NUL-holding line";
				return -1;
			}
			memcpy(line, p, n);
			line[n] = '\0';
			buf_consume(&b->in, (size_t)(lf - p) + 1);
			return 0;
		}
		if (b->in.len >= BACKEND_LINE_MAX) {
			*err_r = "overlong line";
			return -1;
		}
		r = conn_fill(b, timeout_ms);
		if (r == -3)
			continue;
		if (r <= 0) {
			*err_r = r == 0 ? "connection closed" : r == -2 ?
			    "no answer in time" : "read error";
			return -1;
		}
	}
}

/* Send one command line; wipe our copy when it held a secret. */
static int
proxy_command(struct conn *b, const char *cmd, const char *arg, int secret,
    int timeout_ms)
{
	int r;

	r = conn_puts(b, cmd) == -1 || (arg != NULL && (conn_puts(b, " ") ==
	    -1 || conn_puts(b, arg) == -1)) || conn_puts(b, "\r\n") == -1 ||
	    conn_flush(b, timeout_ms) == -1 ? -1 : 0;
	if (secret && b->out.data != NULL)
		explicit_bzero(b->out.data, b->out.cap);
	return r;
}

/* A backend reply fit to pass to the client: printable, one line. */
static void
proxy_clean(char *line)
{
	size_t i;

	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < ' ' || (unsigned char)line[i] >
		    '~')
			line[i] = '?';
	if (i > PROTO_LINE_MAX - 2)
		line[PROTO_LINE_MAX - 2] = '\0';
}

/*
 * The client's addresses for the PROXY header: what a PROXY header in
 * front of us said (a front tier behind HAProxy passes the real client
 * on), else the client socket's peer and local ends.
 */
static int
proxy_send_header(struct session *s, struct conn *b, int timeout_ms)
{
	const struct session_origin *o = s->origin;
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl = sizeof(dst);
	unsigned char hdr[PROXYHDR_V2_MAX];
	const char *ver = NULL;
	ssize_t n;

	if (o != NULL && o->proxied && !o->proxy_local && o->locallen > 0) {
		memcpy(&src, &o->client, sizeof(src));
		memcpy(&dst, &o->local, sizeof(dst));
	} else if (getpeername(s->c.fd, (struct sockaddr *)&src, &sl) == -1 ||
	    getsockname(s->c.fd, (struct sockaddr *)&dst, &dl) == -1)
		return -1;
#ifdef HAVE_OPENSSL
	if (s->tls && s->c.tls != NULL)
		ver = SSL_get_version(s->c.tls);
#endif
	if (ver == NULL && o != NULL && o->proxy_ssl)
		ver = o->proxy_tls[0] != '\0' ? o->proxy_tls : "TLS";
	if ((n = proxyhdr_v2((struct sockaddr *)&src, (struct sockaddr *)&dst,
	    ver, hdr, sizeof(hdr))) == -1)
		return -1;
	if (conn_write(b, hdr, (size_t)n) == -1 ||
	    conn_flush(b, timeout_ms) == -1)
		return -1;
	return 0;
}

/*
 * PROXY header, TLS or STLS, greeting, USER and PASS.  Returns 1 logged
 * in (*reply holds the backend's +OK line), 0 the backend refused the
 * login (*reply holds its -ERR line), -1 the backend failed (*err_r).
 */
static int
proxy_login(struct session *s, struct conn *b, const struct auth_result *res,
    const char *password, char *reply, size_t replysz, const char **err_r)
{
	int tmo = (int)s->d->cf->proxy_connect_timeout * 1000, r;

	if (res->proxy_haproxy && proxy_send_header(s, b, tmo) == -1) {
		*err_r = "cannot send the PROXY header";
		return -1;
	}
	if (res->proxy_ssl != SATCHEL_PROXY_SSL_NO) {
#ifndef HAVE_OPENSSL
		*err_r = "ssl= needs a satcheld built with OpenSSL";
		return -1;
#else
		if (res->proxy_ssl == SATCHEL_PROXY_SSL_YES &&
		    proxy_tls_connect(b, res->proxy_host, tmo, err_r) == -1)
			return -1;
#endif
	}
	if (proxy_getline(b, reply, replysz, tmo, err_r) == -1)
		return -1;
	if (strncmp(reply, "+OK", 3) != 0) {
		*err_r = "greeting is not +OK";
		return -1;
	}
#ifdef HAVE_OPENSSL
	if (res->proxy_ssl == SATCHEL_PROXY_SSL_STARTTLS) {
		if (proxy_command(b, "STLS", NULL, 0, tmo) == -1 ||
		    proxy_getline(b, reply, replysz, tmo, err_r) == -1)
			return -1;
		if (strncmp(reply, "+OK", 3) != 0) {
			*err_r = "STLS refused";
			return -1;
		}
		/* Nothing may have come before the handshake (RFC 2595). */
		if (b->in.len > 0) {
			*err_r = "bytes after the STLS answer";
			return -1;
		}
		if (proxy_tls_connect(b, res->proxy_host, tmo, err_r) == -1)
			return -1;
	}
#endif
	if (proxy_command(b, "USER", res->proxy_destuser, 0, tmo) == -1 ||
	    proxy_getline(b, reply, replysz, tmo, err_r) == -1)
		return -1;
	if (strncmp(reply, "+OK", 3) != 0) {
		*err_r = "USER refused";
		return -1;
	}
	r = proxy_command(b, "PASS", password, 1, tmo);
	/*
	 * Sent (or failed): the worker holds the client's password no
	 * longer, though the relay may last an hour.  The callers' own
	 * copies (cmd_pass, AUTH PLAIN) are wiped when they return.
	 */
	explicit_bzero((void *)(uintptr_t)password, strlen(password));
	if (r == -1 || proxy_getline(b, reply, replysz, tmo, err_r) == -1)
		return -1;
	proxy_clean(reply);
	if (strncmp(reply, "+OK", 3) == 0)
		return 1;
	if (strncmp(reply, "-ERR", 4) != 0) {
		*err_r = "PASS answer neither +OK nor -ERR";
		return -1;
	}
	return 0;
}

/* ---- the relay --------------------------------------------------- */

struct half {
	struct conn	*from, *to;
	struct buf	*q;		/* read from 'from', not yet written */
	uint64_t	*count;
	int		 eof;
	short		 rwant, wwant;	/* what the last EAGAIN waited for */
};

/* Move what can move without waiting: 1 progress, 0 none, -1 error. */
static int
relay_step(struct half *h)
{
	size_t room;
	ssize_t n;
	short want = 0;
	char *p;
	int progress = 0;

	h->rwant = 0;
	if (!h->eof && h->q->len < RELAY_MAX) {
		room = RELAY_MAX - h->q->len;
		if (room > RELAY_CHUNK)
			room = RELAY_CHUNK;
		if (buf_reserve(h->q, room, &p) == -1)
			return -1;
		n = h->from->tr->read(h->from, p, room, &want);
		if (n > 0) {
			buf_commit(h->q, (size_t)n);
			h->from->bytes_in += (uint64_t)n;
			progress = 1;
		} else if (n == 0) {
			h->eof = 1;
			progress = 1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK)
			h->rwant = want;
		else if (errno == EINTR)
			progress = 1;
		else
			return -1;
	}
	h->wwant = 0;
	if (h->q->len > 0) {
		n = h->to->tr->write(h->to, buf_ptr(h->q), h->q->len, &want);
		if (n > 0) {
			buf_consume(h->q, (size_t)n);
			h->to->bytes_out += (uint64_t)n;
			*h->count += (uint64_t)n;
			progress = 1;
		} else if (n == -1 && (errno == EAGAIN || errno ==
		    EWOULDBLOCK))
			h->wwant = want;
		else if (n == -1 && errno == EINTR)
			progress = 1;
		else
			return -1;
	}
	return progress;
}

/*
 * Both relays, when a turn moved nothing: wait for the client (cfd,
 * events cev) or the backend (bfd, bev) until idle_ms after last.
 * NULL to go on, else the reason to end ("timeout", "relay-error").
 */
static const char *
relay_wait(int cfd, short cev, int bfd, short bev,
    const struct timespec *last, int idle_ms)
{
	struct pollfd pfd[2];
	struct timespec now;
	int left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = idle_ms - (int)((now.tv_sec - last->tv_sec) * 1000 +
	    (now.tv_nsec - last->tv_nsec) / 1000000);
	if (left <= 0)
		return "timeout";
	/* No interest: leave it out, or a hang-up would spin us. */
	pfd[0].fd = cev != 0 ? cfd : -1;
	pfd[0].events = cev;
	pfd[1].fd = bev != 0 ? bfd : -1;
	pfd[1].events = bev;
	pfd[0].revents = pfd[1].revents = 0;
	/* Errors and hang-ups show in the next read or write. */
	if (poll(pfd, 2, left) == -1 && errno != EINTR)
		return "relay-error";
	return NULL;
}

/*
 * Relay between the client (s->c) and the backend (b) until one side
 * has closed and what it sent is delivered, an error, or idle_ms of
 * silence.  Returns the reason, for the log.
 */
static const char *
proxy_relay(struct session *s, struct conn *b, int idle_ms)
{
	struct half h[2];
	struct timespec last;
	const char *why;
	int r0, r1;

	memset(h, 0, sizeof(h));
	h[0].from = &s->c;
	h[0].to = b;
	h[0].q = &s->c.in;	/* holds what the client pipelined */
	h[0].count = &s->proxy_in;
	h[1].from = b;
	h[1].to = &s->c;
	h[1].q = &b->in;
	h[1].count = &s->proxy_out;
	/* Room for big reads and writes; still a fixed bound. */
	s->c.in.max = b->in.max = RELAY_MAX;
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (;;) {
		if ((r0 = relay_step(&h[0])) == -1 ||
		    (r1 = relay_step(&h[1])) == -1)
			return "relay-error";
		if (h[0].eof && h[0].q->len == 0)
			return "client-closed";
		if (h[1].eof && h[1].q->len == 0)
			return "backend-closed";
		if (r0 || r1) {
			clock_gettime(CLOCK_MONOTONIC, &last);
			continue;
		}
		if ((why = relay_wait(s->c.fd, h[0].rwant | h[1].wwant, b->fd,
		    h[1].rwant | h[0].wwant, &last, idle_ms)) != NULL)
			return why;
	}
}

/* ---- the zero-copy relay: splice(2) through a pipe ---------------- */

#define SPLICE_CHUNK		(64 * 1024)	/* a pipe's default size */

struct shalf {
	int		 from, to;
	int		 pr, pw;	/* the pipe */
	size_t		 inpipe;	/* bytes spliced in, not yet out */
	uint64_t	*count, *cin, *cout;
	int		 eof;
	short		 rwant, wwant;
};

/* Move what can move without waiting: 1 progress, 0 none, -1 error. */
static int
splice_step(struct shalf *h)
{
	ssize_t n;
	int progress = 0;

	h->rwant = h->wwant = 0;
	if (!h->eof && h->inpipe < SPLICE_CHUNK) {
		n = splice(h->from, NULL, h->pw, NULL, SPLICE_CHUNK - h->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->inpipe += (size_t)n;
			*h->cin += (uint64_t)n;
			progress = 1;
		} else if (n == 0) {
			h->eof = 1;
			progress = 1;
		} else if (errno == EAGAIN)
			h->rwant = POLLIN;
		else if (errno == EINTR)
			progress = 1;
		else
			return -1;
	}
	if (h->inpipe > 0) {
		n = splice(h->pr, NULL, h->to, NULL, h->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->inpipe -= (size_t)n;
			*h->count += (uint64_t)n;
			*h->cout += (uint64_t)n;
			progress = 1;
		} else if (n == -1 && errno == EAGAIN)
			h->wwant = POLLOUT;
		else if (n == -1 && errno == EINTR)
			progress = 1;
		else
			return -1;
	}
	return progress;
}

/*
 * The relay when neither side is TLS: the bytes go socket -> pipe ->
 * socket inside the kernel, never through our memory.  What the
 * buffers already hold (pipelined commands, the backend's first bytes)
 * is written out first.  Returns the reason as proxy_relay() does, or
 * NULL when splice is not available here (the caller falls back to
 * the buffered relay; nothing was moved).
 */
static const char *
proxy_relay_splice(struct session *s, struct conn *b, int idle_ms)
{
	struct shalf h[2];
	struct timespec last;
	int p0[2] = { -1, -1 }, p1[2] = { -1, -1 }, r0, r1;
	const char *why;

	if (s->c.tls != NULL || b->tls != NULL)
		return NULL;
	if (pipe2(p0, O_NONBLOCK | O_CLOEXEC) == -1)
		return NULL;
	if (pipe2(p1, O_NONBLOCK | O_CLOEXEC) == -1) {
		close(p0[0]);
		close(p0[1]);
		return NULL;
	}
	if (s->c.in.len > 0) {
		s->proxy_in += s->c.in.len;
		if (conn_write(b, buf_ptr(&s->c.in), s->c.in.len) == -1 ||
		    conn_flush(b, IO_WRITE_TIMEOUT_MS) == -1) {
			why = "relay-error";
			goto done;
		}
		buf_reset(&s->c.in);
	}
	if (b->in.len > 0) {
		s->proxy_out += b->in.len;
		if (conn_write(&s->c, buf_ptr(&b->in), b->in.len) == -1 ||
		    conn_flush(&s->c, IO_WRITE_TIMEOUT_MS) == -1) {
			why = "relay-error";
			goto done;
		}
		buf_reset(&b->in);
	}
	memset(h, 0, sizeof(h));
	h[0].from = s->c.fd;
	h[0].to = b->fd;
	h[0].pr = p0[0];
	h[0].pw = p0[1];
	h[0].count = &s->proxy_in;
	h[0].cin = &s->c.bytes_in;
	h[0].cout = &b->bytes_out;
	h[1].from = b->fd;
	h[1].to = s->c.fd;
	h[1].pr = p1[0];
	h[1].pw = p1[1];
	h[1].count = &s->proxy_out;
	h[1].cin = &b->bytes_in;
	h[1].cout = &s->c.bytes_out;
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (;;) {
		if ((r0 = splice_step(&h[0])) == -1 ||
		    (r1 = splice_step(&h[1])) == -1) {
			why = "relay-error";
			break;
		}
		if (h[0].eof && h[0].inpipe == 0) {
			why = "client-closed";
			break;
		}
		if (h[1].eof && h[1].inpipe == 0) {
			why = "backend-closed";
			break;
		}
		if (r0 || r1) {
			clock_gettime(CLOCK_MONOTONIC, &last);
			continue;
		}
		if ((why = relay_wait(s->c.fd, h[0].rwant | h[1].wwant, b->fd,
		    h[1].rwant | h[0].wwant, &last, idle_ms)) != NULL)
			break;
	}
 done:
	close(p0[0]);
	close(p0[1]);
	close(p1[0]);
	close(p1[1]);
	return why;
}

/* ---- the session ------------------------------------------------- */

int
proxy_session(struct session *s, struct auth_result *res,
    const char *password)
{
	struct config *cf = s->d->cf;
	struct conn b;
	char reply[BACKEND_LINE_MAX], vis[128], dvis[128];
	const char *err = NULL, *why, *relay;
	int r, fl;

	conn_init(&b, res->agent_fd);
	res->agent_fd = -1;
	log_vis(vis, sizeof(vis), s->canon, strlen(s->canon));
	log_vis(dvis, sizeof(dvis), res->proxy_destuser,
	    strlen(res->proxy_destuser));
	if ((fl = fcntl(b.fd, F_GETFL)) == -1 ||
	    fcntl(b.fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		err = "fcntl";
		r = -1;
	} else if (res->proxy_loggedin) {
		/* The auth pool logged in there with a master user
		 * (auth_proxy_master.c): the master password never came
		 * here; the backend's +OK line did. */
		strlcpy(reply, res->proxy_okline, sizeof(reply));
		proxy_clean(reply);
		r = strncmp(reply, "+OK", 3) == 0 ? 1 : -1;
		if (r == -1)
			err = "pool's master login line is not +OK";
	} else if (password == NULL) {
		err = "no password to log in with";
		r = -1;
	} else
		r = proxy_login(s, &b, res, password, reply, sizeof(reply),
		    &err);
	if (r == -1) {
		log_warnx("session=%s event=proxy user=%s backend=%s "
		    "result=fail reason=backend-login error=\"%s\"", s->id, vis,
		    res->proxy_addr, err);
		conn_close(&b);
		s->reason = "proxy-backend-failed";
		session_reply(s, "-ERR [SYS/TEMP] Mail server unavailable, "
		    "try again later");
		return CMD_CLOSE;
	}
	if (r == 0) {
		/* The backend said no: its words go to the client. */
		log_info("session=%s event=proxy user=%s destuser=%s "
		    "backend=%s result=refused reply=\"%.80s\"", s->id, vis,
		    dvis, res->proxy_addr, reply);
		conn_close(&b);
		memset(s->slot->user, 0, sizeof(s->slot->user));
		s->failures++;
		s->have_user = 0;
		if (session_reply(s, reply) == -1)
			return -1;
		if (s->failures >= cf->login_fail_max) {
			s->reason = "auth-failures";
			session_reply(s, "-ERR Too many failed logins, "
			    "disconnecting");
			return CMD_CLOSE;
		}
		return CMD_OK;
	}
	log_info("session=%s event=proxy user=%s destuser=%s backend=%s "
	    "result=ok ssl=%s haproxy=%s%s", s->id, vis, dvis, res->proxy_addr,
	    res->proxy_ssl == SATCHEL_PROXY_SSL_YES ? "yes" :
	    res->proxy_ssl == SATCHEL_PROXY_SSL_STARTTLS ? "starttls" : "no",
	    res->proxy_loggedin ? "pool" : res->proxy_haproxy ? "yes" : "no",
	    res->proxy_loggedin ? " login=master" : "");
	s->state = S_TRANS;
	sb_set(s->slot, SB_TRANSACTION);
	setproctitle_fmt("satcheld: worker [%s] %s proxy", s->peer, vis);
	if (session_reply(s, reply) == -1 || conn_flush(&s->c,
	    IO_WRITE_TIMEOUT_MS) == -1) {
		conn_close(&b);
		return -1;
	}
	/* Zero-copy when neither side is TLS, else the buffered relay. */
	relay = "splice";
	if ((why = proxy_relay_splice(s, &b, (int)cf->timeout_session *
	    1000)) == NULL) {
		relay = "buffered";
		why = proxy_relay(s, &b, (int)cf->timeout_session * 1000);
	}
	log_info("session=%s event=proxy-end user=%s backend=%s in=%llu "
	    "out=%llu reason=%s relay=%s", s->id, vis, res->proxy_addr,
	    (unsigned long long)s->proxy_in,
	    (unsigned long long)s->proxy_out, why, relay);
	conn_close(&b);
	s->reason = strcmp(why, "client-closed") == 0 ? "disconnect" :
	    strcmp(why, "backend-closed") == 0 ? "proxy-backend-closed" :
	    strcmp(why, "timeout") == 0 ? "timeout" : "proxy-error";
	/* Nothing more goes to the client: the relay said it all. */
	buf_reset(&s->c.out);
	return CMD_CLOSE;
}
