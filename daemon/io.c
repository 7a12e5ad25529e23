/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * io.c -- buffered, deadline-bound client I/O for the worker (see
 * io.h).  Runs unprivileged.
 */
#include <sys/sendfile.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "io.h"
#include "compat/poison.h"

static ssize_t plain_read(struct conn *, void *, size_t, short *);
static ssize_t plain_write(struct conn *, const void *, size_t, short *);
static ssize_t plain_sendfile(struct conn *, int, off_t *, size_t, short *);
static size_t plain_pending(struct conn *);
static void plain_close(struct conn *);

const struct conn_transport conn_plain = {
	.read = plain_read,
	.write = plain_write,
	.sendfile = plain_sendfile,
	.pending = plain_pending,
	.close = plain_close,
};

static ssize_t
plain_read(struct conn *c, void *p, size_t len, short *want)
{
	*want = POLLIN;
	return read(c->fd, p, len);
}

static ssize_t
plain_write(struct conn *c, const void *p, size_t len, short *want)
{
	*want = POLLOUT;
	return write(c->fd, p, len);
}

static ssize_t
plain_sendfile(struct conn *c, int fd, off_t *off, size_t len, short *want)
{
	*want = POLLOUT;
	return sendfile(c->fd, fd, off, len);
}

static size_t
plain_pending(struct conn *c)
{
	return 0;
}

static void
plain_close(struct conn *c)
{
}

void
conn_init(struct conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	buf_init(&c->in, IO_IN_MAX);
	buf_init(&c->out, IO_OUT_MAX);
	c->tr = &conn_plain;
}

void
conn_close(struct conn *c)
{
	if (c->tr != NULL && c->tr->close != NULL)
		c->tr->close(c);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
}

static int
conn_wait(struct conn *c, short events, int timeout_ms)
{
	struct pollfd pfd;
	int r;

	pfd.fd = c->fd;
	pfd.events = events;
	r = poll(&pfd, 1, timeout_ms);
	if (r == -1)
		return errno == EINTR ? -3 : -1;
	if (r == 0)
		return -2;
	return 0;
}

/*
 * Writing: wait until c can take more (a signal does not end the wait).
 * 0, or -1 with c->error set (timeout or poll error).
 */
static int
conn_wait_out(struct conn *c, short want, int timeout_ms)
{
	int r;

	do {
		r = conn_wait(c, want, timeout_ms);
	} while (r == -3);
	if (r != 0) {
		c->error = 1;
		return -1;
	}
	return 0;
}

ssize_t
conn_fill(struct conn *c, int timeout_ms)
{
	char *p;
	ssize_t n;
	short want;
	int r;

	if (c->eof)
		return 0;
	for (;;) {
		/* Leave room for a whole line and its end. */
		if (buf_reserve(&c->in, 4096, &p) == -1) {
			/* Caller failed to consume: treat as overflow. */
			c->error = 1;
			return -1;
		}
		n = c->tr->read(c, p, 4096, &want);
		if (n > 0) {
			buf_commit(&c->in, (size_t)n);
			c->bytes_in += (uint64_t)n;
			return n;
		}
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		if (errno == EINTR)
			return -3;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->error = 1;
			return -1;
		}
		if ((r = conn_wait(c, want, timeout_ms)) != 0)
			return r;
	}
}

int
conn_flush(struct conn *c, int timeout_ms)
{
	ssize_t n;
	short want;

	while (c->out.len > 0) {
		n = c->tr->write(c, buf_ptr(&c->out), c->out.len, &want);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			c->bytes_out += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn_wait_out(c, want, timeout_ms) == -1)
				return -1;
			continue;
		}
		c->error = 1;
		return -1;
	}
	return 0;
}

int
conn_write(struct conn *c, const void *p, size_t len)
{
	if (c->error)
		return -1;
	if (buf_append(&c->out, p, len) == -1) {
		if (conn_flush(c, IO_WRITE_TIMEOUT_MS) == -1 ||
		    buf_append(&c->out, p, len) == -1)
			return -1;
	}
	if (c->out.len >= IO_FLUSH_AT)
		return conn_flush(c, IO_WRITE_TIMEOUT_MS);
	return 0;
}

int
conn_puts(struct conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int
conn_pending(struct conn *c)
{
	return c->in.len > 0 || c->tr->pending(c) > 0;
}

int
conn_can_sendfile(const struct conn *c)
{
	return c->tr != NULL && c->tr->sendfile != NULL && !c->nosendfile;
}

int
conn_sendfile(struct conn *c, int fd, off_t off, size_t len, int timeout_ms,
    size_t *sent_r)
{
	ssize_t n;
	short want;

	*sent_r = 0;
	if (c->error)
		return -1;
	if (!conn_can_sendfile(c))
		return -2;
	if (conn_flush(c, timeout_ms) == -1)
		return -1;
	while (*sent_r < len) {
		n = c->tr->sendfile(c, fd, &off, len - *sent_r, &want);
		if (n > 0) {
			*sent_r += (size_t)n;
			c->bytes_out += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return -3;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (conn_wait_out(c, want, timeout_ms) == -1)
				return -1;
			continue;
		}
		if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
			/* Not for this file or socket: never again. */
			c->nosendfile = 1;
			return -2;
		}
		c->error = 1;
		return -1;
	}
	return 0;
}
