/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * stats_http.c -- the HTTP/1.0 and 1.1 request parser of the stats
 * process (see stats_shm.h).  Pure code, fuzzed (tests/fuzz/
 * fuzz_metrics_http.c): it takes (p, len), never a C string, reads no
 * byte past len and allocates nothing.  Runs in the stats process,
 * unprivileged; the bytes come from whoever can reach metrics_listen.
 *
 * What it accepts: "METHOD SP target SP HTTP/1.x", header lines
 * "Name: value" (no obsolete line folding), an empty line.  Line ends
 * are CRLF or a bare LF.  Only Accept, Connection, Content-Length and
 * Transfer-Encoding are looked at; a request with a body is refused,
 * since /metrics takes none.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compat/compat.h"
#include "stats_shm.h"
#include "compat/poison.h"

static int tchar(unsigned char);
static unsigned char lower(unsigned char);
static int ieq(const char *, size_t, const char *);
static int icontains(const char *, size_t, const char *);
static int request_line(const char *, size_t, struct stats_http_req *);
static int header(const char *, size_t, struct stats_http_req *);

/* RFC 9110 token characters. */
static int
tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* p[0..len) equals the lower-case word w, ignoring case. */
static int
ieq(const char *p, size_t len, const char *w)
{
	size_t i;

	if (strlen(w) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (lower((unsigned char)p[i]) != (unsigned char)w[i])
			return 0;
	return 1;
}

/* p[0..len) contains the lower-case word w, ignoring case. */
static int
icontains(const char *p, size_t len, const char *w)
{
	size_t wl = strlen(w), i;

	for (i = 0; i + wl <= len; i++)
		if (ieq(p + i, wl, w))
			return 1;
	return 0;
}

static int
request_line(const char *p, size_t len, struct stats_http_req *req)
{
	size_t i = 0, m, t, tl;

	while (i < len && tchar((unsigned char)p[i]))
		i++;
	m = i;
	if (m == 0 || i >= len || p[i] != ' ')
		return -1;
	if (m == 3 && memcmp(p, "GET", 3) == 0)
		req->method = STATS_HTTP_GET;
	else if (m == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = STATS_HTTP_HEAD;
	else
		req->method = STATS_HTTP_OTHER;
	t = ++i;
	while (i < len && p[i] != ' ') {
		/* Visible ASCII only in a target. */
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return -1;
		i++;
	}
	tl = i - t;
	if (tl == 0 || i >= len)
		return -1;
	i++;
	if (len - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 ||
	    (p[i + 7] != '0' && p[i + 7] != '1'))
		return -1;
	req->minor = p[i + 7] - '0';
	req->keepalive = req->minor == 1;
	/* "/metrics", or with a query: "/metrics?x=y". */
	req->metrics = tl >= 8 && memcmp(p + t, "/metrics", 8) == 0 &&
	    (tl == 8 || p[t + 8] == '?');
	return 0;
}

static int
header(const char *p, size_t len, struct stats_http_req *req)
{
	size_t i = 0, v, vl, k;

	while (i < len && tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= len || p[i] != ':')
		return -1;
	v = i + 1;
	while (v < len && (p[v] == ' ' || p[v] == '\t'))
		v++;
	vl = len - v;
	while (vl > 0 && (p[v + vl - 1] == ' ' || p[v + vl - 1] == '\t'))
		vl--;
	for (k = v; k < v + vl; k++)
		if ((unsigned char)p[k] < 0x20 && p[k] != '\t')
			return -1;
	if (ieq(p, i, "accept")) {
		if (icontains(p + v, vl, "application/openmetrics-text"))
			req->openmetrics = 1;
	} else if (ieq(p, i, "connection")) {
		if (icontains(p + v, vl, "close"))
			req->keepalive = 0;
		else if (icontains(p + v, vl, "keep-alive"))
			req->keepalive = 1;
	} else if (ieq(p, i, "content-length")) {
		if (vl != 1 || p[v] != '0')
			return -1;
	} else if (ieq(p, i, "transfer-encoding"))
		return -1;
	return 0;
}

int
stats_http_parse(const char *p, size_t len, struct stats_http_req *req,
    size_t *used_r)
{
	size_t start = 0, i, end;
	int first = 1;

	memset(req, 0, sizeof(*req));
	*used_r = 0;
	if (len > STATS_HTTP_MAX)
		len = STATS_HTTP_MAX;
	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			return -1;
		if (p[i] != '\n')
			continue;
		end = i;
		if (end > start && p[end - 1] == '\r')
			end--;
		if (end == start) {
			if (first)
				return -1;	/* no request line */
			*used_r = i + 1;
			return 1;
		}
		if (first) {
			if (request_line(p + start, end - start, req) == -1)
				return -1;
			first = 0;
		} else if (p[start] == ' ' || p[start] == '\t')
			return -1;	/* obsolete folding */
		else if (header(p + start, end - start, req) == -1)
			return -1;
		start = i + 1;
	}
	/* The head is not complete: wait, unless it is already too long. */
	return len >= STATS_HTTP_MAX ? -1 : 0;
}
