/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * satchel-uidl.c -- keep POP3 UIDLs across a switch of servers (see
 * doc/satchel-uidl.8).  A POP3 client run by the administrator, as
 * root or as anyone who knows the user's password; it is no part of
 * satcheld and holds no privilege of it.
 *
 *   capture  log in to the old server, write one line per message:
 *            number, size, a digest of its content and its UIDL;
 *   import   log in to Satchel, match its messages to a capture by
 *            digest (never by number) and write the pins file beside
 *            the mailbox, owned by the mailbox's owner: the storage
 *            modules then serve the old UIDLs (core->uidl_pins);
 *   verify   log in to both and print every message whose UIDL
 *            differs or that only one of them has; exit 1 if any.
 *
 * The digest is an MD5 of the header (TOP n 0) or, with -r, of the
 * whole message (RETR), line ends made LF and dot-stuffing undone,
 * without the headers servers add or hide on their own (Status,
 * X-Status, X-UID, X-IMAP, X-IMAPbase, X-Keywords, X-UIDL,
 * Content-Length, Lines), so the same message digests alike on both.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include "compat/compat.h"
#include "md5.h"
#include "compat/poison.h"

#define UI_LINE_MAX	(1024 * 1024)	/* one line from a server */
#define UI_MSG_MAX	1000000		/* messages per mailbox */
#define UI_TIMEOUT_S	60
#define UI_CAPTURE_MAGIC "satchel-uidl-capture 1"
#define UI_PINS_MAGIC	"satchel-uidl-pins 1"

struct ui_conn {
	int		 fd;
#ifdef HAVE_OPENSSL
	SSL_CTX		*ctx;
	SSL		*ssl;
#endif
	char		*buf;
	size_t		 len, off;
	const char	*name;
};

struct ui_msg {
	unsigned long	 n;
	unsigned long long size;
	char		 digest[33];
	char		 uidl[72];
	int		 matched;
};

struct ui_list {
	struct ui_msg	*v;
	size_t		 n, cap;
};

static int	 full_digest;	/* -r */
static int	 insecure;	/* -k */
static const char *user;
static char	 password[1024];

static void	 usage(void) __attribute__((noreturn));
static void	 die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static int	 ui_connect(struct ui_conn *, const char *);
static int	 ui_line(struct ui_conn *, char **, size_t *);
static int	 ui_send(struct ui_conn *, const char *);
static int	 ui_cmd(struct ui_conn *, const char *, char **);
static void	 ui_close(struct ui_conn *);
static void	 ui_fetch(const char *, struct ui_list *);
static void	 ui_read_capture(const char *, struct ui_list *);
static void	 ui_push(struct ui_list *, const struct ui_msg *);
static struct ui_msg *ui_match(struct ui_list *, const struct ui_msg *);

static void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: satchel-uidl capture [-kr] -u user [-w passfile] "
	    "-o file server\n"
	    "       satchel-uidl import [-kr] -u user [-w passfile] -i file "
	    "-m mailbox [-o pins] satchel\n"
	    "       satchel-uidl verify [-kr] -u user [-w passfile] "
	    "old-server satchel\n"
	    "server: host:port[/tls|/stls]; the password comes from "
	    "passfile or $SATCHEL_UIDL_PASSWORD\n");
	exit(2);
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)fputs("satchel-uidl: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* ---- the POP3 connection ------------------------------------------- */

static ssize_t
ui_read(struct ui_conn *c, void *p, size_t len)
{
#ifdef HAVE_OPENSSL
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, p, (int)(len > 65536 ? 65536 : len));

		return r > 0 ? r : -1;
	}
#endif
	return read(c->fd, p, len);
}

static int
ui_send(struct ui_conn *c, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t r;

	while (off < len) {
#ifdef HAVE_OPENSSL
		if (c->ssl != NULL) {
			r = SSL_write(c->ssl, s + off, (int)(len - off));
			if (r <= 0)
				return -1;
			off += (size_t)r;
			continue;
		}
#endif
		r = write(c->fd, s + off, len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* One line without its CRLF into *line_r (valid until the next call). */
static int
ui_line(struct ui_conn *c, char **line_r, size_t *len_r)
{
	char *nl;
	ssize_t r;

	for (;;) {
		nl = c->len > c->off ? memchr(c->buf + c->off, '\n',
		    c->len - c->off) : NULL;
		if (nl != NULL) {
			*line_r = c->buf + c->off;
			*len_r = (size_t)(nl - *line_r);
			c->off = (size_t)(nl - c->buf) + 1;
			if (*len_r > 0 && (*line_r)[*len_r - 1] == '\r')
				(*len_r)--;
			(*line_r)[*len_r] = '\0';
			return 0;
		}
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->len >= UI_LINE_MAX)
			die("%s: a line longer than %d bytes", c->name,
			    UI_LINE_MAX);
		r = ui_read(c, c->buf + c->len, UI_LINE_MAX - c->len);
		if (r <= 0)
			die("%s: connection lost", c->name);
		c->len += (size_t)r;
	}
}

/* Send a command (NULL: none) and read its status line: 0 +OK, -1. */
static int
ui_cmd(struct ui_conn *c, const char *cmd, char **status_r)
{
	size_t len;

	if (cmd != NULL && ui_send(c, cmd) == -1)
		die("%s: cannot send", c->name);
	(void)ui_line(c, status_r, &len);
	return strncmp(*status_r, "+OK", 3) == 0 ? 0 : -1;
}

#ifdef HAVE_OPENSSL
static void
ui_tls(struct ui_conn *c, const char *host)
{
	unsigned char a[16];

	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (c->ssl = SSL_new(c->ctx)) == NULL)
		die("%s: TLS setup failed", c->name);
	if (!insecure) {
		(void)SSL_CTX_set_default_verify_paths(c->ctx);
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
		if (inet_pton(AF_INET, host, a) == 1 ||
		    inet_pton(AF_INET6, host, a) == 1)
			(void)X509_VERIFY_PARAM_set1_ip_asc(
			    SSL_get0_param(c->ssl), host);
		else {
			(void)SSL_set1_host(c->ssl, host);
			(void)SSL_set_tlsext_host_name(c->ssl, host);
		}
	}
	(void)SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		die("%s: TLS handshake failed: %s (-k skips the certificate "
		    "check)", c->name, ERR_reason_error_string(
		    ERR_get_error()) != NULL ? ERR_reason_error_string(
		    ERR_get_error()) : "no reason given");
}
#endif

/* Connect to "host:port[/tls|/stls]" and log in as user. */
static int
ui_connect(struct ui_conn *c, const char *spec)
{
	char host[256], cmd[1100], *st, *slash, *colon;
	struct addrinfo hints, *res, *ai;
	struct timeval tv = { UI_TIMEOUT_S, 0 };
	int tls = 0, stls = 0, e;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->name = spec;
	if (strlcpy(host, spec, sizeof(host)) >= sizeof(host))
		die("%s: too long", spec);
	if ((slash = strchr(host, '/')) != NULL) {
		*slash++ = '\0';
		if (strcmp(slash, "tls") == 0)
			tls = 1;
		else if (strcmp(slash, "stls") == 0)
			stls = 1;
		else
			die("%s: expected /tls or /stls after the port", spec);
	}
	if ((colon = strrchr(host, ':')) == NULL)
		die("%s: expected host:port", spec);
	*colon++ = '\0';
	if (host[0] == '[' && colon - host > 2 && colon[-2] == ']') {
		colon[-2] = '\0';
		memmove(host, host + 1, strlen(host));
	}
#ifndef HAVE_OPENSSL
	if (tls || stls)
		die("%s: built without OpenSSL", spec);
#endif
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, colon, &hints, &res)) != 0)
		die("%s: %s", spec, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((c->fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_CLOEXEC, ai->ai_protocol)) == -1)
			continue;
		(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv));
		(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		(void)close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd == -1)
		die("%s: cannot connect: %s", spec, strerror(errno));
	if ((c->buf = malloc(UI_LINE_MAX + 1)) == NULL)
		die("out of memory");
#ifdef HAVE_OPENSSL
	if (tls)
		ui_tls(c, host);
#endif
	if (ui_cmd(c, NULL, &st) == -1)
		die("%s: greeting: %s", spec, st);
#ifdef HAVE_OPENSSL
	if (stls) {
		if (ui_cmd(c, "STLS\r\n", &st) == -1)
			die("%s: STLS: %s", spec, st);
		ui_tls(c, host);
	}
#endif
	if (snprintf(cmd, sizeof(cmd), "USER %s\r\n", user) >=
	    (int)sizeof(cmd) || ui_cmd(c, cmd, &st) == -1)
		die("%s: USER: %s", spec, st);
	if (snprintf(cmd, sizeof(cmd), "PASS %s\r\n", password) >=
	    (int)sizeof(cmd))
		die("password too long");
	e = ui_cmd(c, cmd, &st);
	explicit_bzero(cmd, sizeof(cmd));
	if (e == -1)
		die("%s: login of %s refused: %s", spec, user, st);
	return 0;
}

static void
ui_close(struct ui_conn *c)
{
	char *st;

	(void)ui_cmd(c, "QUIT\r\n", &st);
#ifdef HAVE_OPENSSL
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		SSL_CTX_free(c->ctx);
	}
#endif
	(void)close(c->fd);
	free(c->buf);
}

/* ---- digests ----------------------------------------------------------- */

/* Headers that servers add, hide or rewrite on their own. */
static int
ui_volatile(const char *l, size_t len)
{
	static const char *const names[] = {
		"status", "x-status", "x-uid", "x-imap", "x-imapbase",
		"x-keywords", "x-uidl", "content-length", "lines",
	};
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i]);
		if (len > n && l[n] == ':' && strncasecmp(l, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Read a multi-line answer into an MD5 of its normalised content. */
static void
ui_digest(struct ui_conn *c, char hex[33])
{
	struct satchel_md5 ctx;
	unsigned char d[16];
	char *l;
	size_t len;
	int hdr = 1, skip = 0;

	md5_init(&ctx);
	for (;;) {
		(void)ui_line(c, &l, &len);
		if (len == 1 && l[0] == '.')
			break;
		if (l[0] == '.') {
			l++;
			len--;
		}
		if (hdr) {
			if (len == 0)
				hdr = 0;
			else if (l[0] == ' ' || l[0] == '\t') {
				if (skip)
					continue;
			} else if ((skip = ui_volatile(l, len)))
				continue;
			if (!full_digest && !hdr)
				continue;
		} else if (!full_digest)
			continue;
		md5_update(&ctx, l, len);
		md5_update(&ctx, "\n", 1);
	}
	md5_final(&ctx, d);
	md5_hex(d, hex);
}

static void
ui_push(struct ui_list *l, const struct ui_msg *m)
{
	struct ui_msg *nv;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
		if ((nv = reallocarray(l->v, l->cap, sizeof(*nv))) == NULL)
			die("out of memory");
		l->v = nv;
	}
	l->v[l->n++] = *m;
}

/* UIDL, LIST and a digest of every message of a live server. */
static void
ui_fetch(const char *spec, struct ui_list *out)
{
	struct ui_conn c;
	struct ui_msg m;
	char cmd[64], *st, *l, *sp;
	size_t len, i;
	unsigned long n;

	(void)ui_connect(&c, spec);
	if (ui_cmd(&c, "UIDL\r\n", &st) == -1)
		die("%s: UIDL: %s", spec, st);
	for (;;) {
		(void)ui_line(&c, &l, &len);
		if (strcmp(l, ".") == 0)
			break;
		memset(&m, 0, sizeof(m));
		n = strtoul(l, &sp, 10);
		if (sp == l || *sp != ' ' || strlen(sp + 1) == 0 ||
		    strlen(sp + 1) >= sizeof(m.uidl) || out->n >= UI_MSG_MAX)
			die("%s: bad UIDL line: %s", spec, l);
		m.n = n;
		memcpy(m.uidl, sp + 1, strlen(sp + 1) + 1);
		ui_push(out, &m);
	}
	if (ui_cmd(&c, "LIST\r\n", &st) == -1)
		die("%s: LIST: %s", spec, st);
	for (i = 0;; i++) {
		(void)ui_line(&c, &l, &len);
		if (strcmp(l, ".") == 0)
			break;
		n = strtoul(l, &sp, 10);
		if (i >= out->n || out->v[i].n != n || *sp != ' ')
			die("%s: LIST does not match UIDL at: %s", spec, l);
		out->v[i].size = strtoull(sp + 1, NULL, 10);
	}
	for (i = 0; i < out->n; i++) {
		(void)snprintf(cmd, sizeof(cmd), full_digest ? "RETR %lu\r\n" :
		    "TOP %lu 0\r\n", out->v[i].n);
		if (ui_cmd(&c, cmd, &st) == -1)
			die("%s: %.*s: %s", spec, (int)strlen(cmd) - 2, cmd,
			    st);
		ui_digest(&c, out->v[i].digest);
	}
	ui_close(&c);
}

static void
ui_read_capture(const char *path, struct ui_list *out)
{
	char line[512], mode[16];
	struct ui_msg m;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strncmp(line, UI_CAPTURE_MAGIC " ", strlen(UI_CAPTURE_MAGIC) + 1)
	    != 0)
		die("%s: not a capture made by satchel-uidl capture", path);
	if (sscanf(line + strlen(UI_CAPTURE_MAGIC) + 1, "mode=%15s", mode)
	    != 1 || (strcmp(mode, "retr") != 0 && strcmp(mode, "top") != 0))
		die("%s: no mode in the first line", path);
	if ((strcmp(mode, "retr") == 0) != full_digest)
		die("%s: made with%s -r: give the same to import", path,
		    full_digest ? "out" : "");
	while (fgets(line, sizeof(line), fp) != NULL) {
		memset(&m, 0, sizeof(m));
		if (sscanf(line, "%lu %llu %32s %71s", &m.n, &m.size,
		    m.digest, m.uidl) != 4 || strlen(m.digest) != 32)
			die("%s: bad line: %s", path, line);
		ui_push(out, &m);
	}
	(void)fclose(fp);
}

/* The first unmatched message with m's digest (same size preferred). */
static struct ui_msg *
ui_match(struct ui_list *l, const struct ui_msg *m)
{
	struct ui_msg *any = NULL;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].matched || strcmp(l->v[i].digest, m->digest) != 0)
			continue;
		if (l->v[i].size == m->size)
			return &l->v[i];
		if (any == NULL)
			any = &l->v[i];
	}
	return any;
}

/* ---- the commands ----------------------------------------------------- */

static int
cmd_capture(const char *outpath, const char *server)
{
	struct ui_list l = { NULL, 0, 0 };
	char tmp[4096];
	FILE *fp;
	size_t i;

	ui_fetch(server, &l);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", outpath) >= (int)sizeof(tmp))
		die("%s: path too long", outpath);
	if ((fp = fopen(tmp, "w")) == NULL)
		die("%s: %s", tmp, strerror(errno));
	(void)fprintf(fp, "%s mode=%s user=%s\n", UI_CAPTURE_MAGIC,
	    full_digest ? "retr" : "top", user);
	for (i = 0; i < l.n; i++)
		(void)fprintf(fp, "%lu %llu %s %s\n", l.v[i].n, l.v[i].size,
		    l.v[i].digest, l.v[i].uidl);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0 || fclose(fp) != 0 ||
	    rename(tmp, outpath) == -1)
		die("%s: cannot write: %s", outpath, strerror(errno));
	(void)printf("captured %zu messages of %s from %s\n", l.n, user,
	    server);
	free(l.v);
	return 0;
}

static int
cmd_import(const char *cappath, const char *mailbox, const char *pinpath,
    const char *server)
{
	struct ui_list old = { NULL, 0, 0 }, cur = { NULL, 0, 0 };
	char pins[4096], tmp[4200], aside[4200], *slash;
	struct ui_msg *m;
	struct stat st;
	size_t i, pinned = 0, same = 0, missing = 0, extra = 0;
	int fd, had;
	FILE *fp;

	ui_read_capture(cappath, &old);
	if (stat(mailbox, &st) == -1)
		die("%s: %s", mailbox, strerror(errno));
	if (pinpath != NULL) {
		if (strlcpy(pins, pinpath, sizeof(pins)) >= sizeof(pins))
			die("%s: too long", pinpath);
	} else if (S_ISDIR(st.st_mode)) {
		if (snprintf(pins, sizeof(pins), "%s/.satchel.uidl-pins",
		    mailbox) >= (int)sizeof(pins))
			die("%s: too long", mailbox);
	} else {
		if ((slash = strrchr(mailbox, '/')) == NULL)
			die("%s: give the mailbox as an absolute path",
			    mailbox);
		if (snprintf(pins, sizeof(pins), "%.*s/.%s.satchel-pins",
		    (int)(slash - mailbox), mailbox, slash + 1) >=
		    (int)sizeof(pins))
			die("%s: too long", mailbox);
	}
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", pins);
	(void)snprintf(aside, sizeof(aside), "%s.old", pins);
	/* Satchel must show the UIDLs it serves without pins: the keys. */
	had = rename(pins, aside) == 0;
	ui_fetch(server, &cur);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (had)
			(void)rename(aside, pins);
		die("%s: %s", tmp, strerror(errno));
	}
	(void)fprintf(fp, "%s\n", UI_PINS_MAGIC);
	for (i = 0; i < old.n; i++) {
		if ((m = ui_match(&cur, &old.v[i])) == NULL) {
			(void)printf("not in Satchel: old message %lu (%s)\n",
			    old.v[i].n, old.v[i].uidl);
			missing++;
			continue;
		}
		m->matched = 1;
		if (strcmp(m->uidl, old.v[i].uidl) == 0) {
			same++;
			continue;
		}
		(void)fprintf(fp, "%s %s\n", m->uidl, old.v[i].uidl);
		pinned++;
	}
	for (i = 0; i < cur.n; i++)
		if (!cur.v[i].matched)
			extra++;
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0 ||
	    fchown(fileno(fp), st.st_uid, st.st_gid) == -1 ||
	    fclose(fp) != 0 || rename(tmp, pins) == -1) {
		if (had)
			(void)rename(aside, pins);
		die("%s: cannot write: %s", pins, strerror(errno));
	}
	if (had)
		(void)unlink(aside);
	(void)printf("%s: %zu pinned, %zu already equal, %zu old messages "
	    "not in Satchel, %zu only in Satchel\n", pins, pinned, same,
	    missing, extra);
	free(old.v);
	free(cur.v);
	return 0;
}

static int
cmd_verify(const char *oldsrv, const char *server)
{
	struct ui_list old = { NULL, 0, 0 }, cur = { NULL, 0, 0 };
	struct ui_msg *m;
	size_t i, bad = 0, same = 0;

	ui_fetch(oldsrv, &old);
	ui_fetch(server, &cur);
	for (i = 0; i < old.n; i++) {
		if ((m = ui_match(&cur, &old.v[i])) == NULL) {
			(void)printf("missing: old %lu %s: not in Satchel\n",
			    old.v[i].n, old.v[i].uidl);
			bad++;
			continue;
		}
		m->matched = 1;
		if (strcmp(m->uidl, old.v[i].uidl) != 0) {
			(void)printf("differs: old %lu %s, satchel %lu %s\n",
			    old.v[i].n, old.v[i].uidl, m->n, m->uidl);
			bad++;
		} else
			same++;
	}
	for (i = 0; i < cur.n; i++)
		if (!cur.v[i].matched) {
			(void)printf("extra: satchel %lu %s: not on the old "
			    "server\n", cur.v[i].n, cur.v[i].uidl);
			bad++;
		}
	(void)printf("%s: %zu equal, %zu differences\n", user, same, bad);
	free(old.v);
	free(cur.v);
	return bad > 0 ? 1 : 0;
}

static void
read_password(const char *passfile)
{
	const char *env;
	FILE *fp;
	size_t len;

	if (passfile != NULL) {
		if ((fp = fopen(passfile, "r")) == NULL)
			die("%s: %s", passfile, strerror(errno));
		if (fgets(password, sizeof(password), fp) == NULL)
			die("%s: empty", passfile);
		(void)fclose(fp);
	} else if ((env = getenv("SATCHEL_UIDL_PASSWORD")) != NULL) {
		if (strlcpy(password, env, sizeof(password)) >=
		    sizeof(password))
			die("password too long");
	} else
		die("no password: -w passfile or $SATCHEL_UIDL_PASSWORD");
	len = strcspn(password, "\r\n");
	password[len] = '\0';
	if (len == 0 || strpbrk(user, " \r\n") != NULL)
		die("empty password or a user name with blanks");
}

int
main(int argc, char **argv)
{
	const char *cmd, *outpath = NULL, *inpath = NULL, *mailbox = NULL,
	    *passfile = NULL;
	int ch, r;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "i:km:o:ru:w:")) != -1) {
		switch (ch) {
		case 'i':
			inpath = optarg;
			break;
		case 'k':
			insecure = 1;
			break;
		case 'm':
			mailbox = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'r':
			full_digest = 1;
			break;
		case 'u':
			user = optarg;
			break;
		case 'w':
			passfile = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (user == NULL)
		usage();
	read_password(passfile);
	if (strcmp(cmd, "capture") == 0 && argc == 1 && outpath != NULL)
		r = cmd_capture(outpath, argv[0]);
	else if (strcmp(cmd, "import") == 0 && argc == 1 && inpath != NULL &&
	    mailbox != NULL)
		r = cmd_import(inpath, mailbox, outpath, argv[0]);
	else if (strcmp(cmd, "verify") == 0 && argc == 2)
		r = cmd_verify(argv[0], argv[1]);
	else
		usage();
	explicit_bzero(password, sizeof(password));
	return r;
}
