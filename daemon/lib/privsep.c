/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * privsep.c -- the message framing and payload codec shared by the
 * worker (unprivileged), the auth pool (root) and the mailbox agent (the
 * mail user).  See privsep.h for the wire format.  Nothing here trusts
 * the peer.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "privsep.h"
#include "compat/poison.h"

int
privsep_send(int sock, uint32_t type, const void *data, size_t len, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr msg;
	struct iovec iov[2];
	uint32_t hdr[2];
	ssize_t n;

	if (len > PRIVSEP_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	hdr[0] = type;
	hdr[1] = (uint32_t)len;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = len > 0 ? 2 : 1;
	if (fd != -1) {
		struct cmsghdr *c;

		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
privsep_recv(int sock, struct privsep_msg *m, int timeout_ms)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov[2];
	struct pollfd pfd;
	uint32_t hdr[2];
	ssize_t n;
	int bad = 0, r;

	m->fd = -1;
	if (timeout_ms >= 0) {
		pfd.fd = sock;
		pfd.events = POLLIN;
		do {
			r = poll(&pfd, 1, timeout_ms);
		} while (r == -1 && errno == EINTR);
		if (r == -1)
			return -1;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = m->data;
	iov[1].iov_len = sizeof(m->data);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0)
		return 1;

	/* Collect descriptors first so none leaks on a bad message. */
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		int *fds, nfds, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)(void *)CMSG_DATA(c);
		nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < nfds; i++) {
			int fd;

			memcpy(&fd, &fds[i], sizeof(fd));
			if (m->fd == -1 && !bad)
				m->fd = fd;
			else {
				bad = 1;
				close(fd);
			}
		}
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
	    (size_t)n < sizeof(hdr) || hdr[1] > PRIVSEP_MSG_MAX ||
	    (size_t)n != sizeof(hdr) + hdr[1])
		bad = 1;
	if (bad) {
		if (m->fd != -1) {
			close(m->fd);
			m->fd = -1;
		}
		errno = EBADMSG;
		return -1;
	}
	m->type = hdr[0];
	m->len = hdr[1];
	return 0;
}

void
pack_init(struct pack *pk, void *buf, size_t cap)
{
	pk->p = buf;
	pk->len = 0;
	pk->cap = cap;
	pk->err = 0;
}

void
pack_bytes(struct pack *pk, const void *p, size_t len)
{
	if (pk->err || len > pk->cap - pk->len) {
		pk->err = 1;
		return;
	}
	if (len > 0)
		memcpy(pk->p + pk->len, p, len);
	pk->len += len;
}

void
pack_u32(struct pack *pk, uint32_t v)
{
	pack_bytes(pk, &v, sizeof(v));
}

void
pack_u64(struct pack *pk, uint64_t v)
{
	pack_bytes(pk, &v, sizeof(v));
}

void
pack_str(struct pack *pk, const char *s)
{
	size_t len = s == NULL ? 0 : strlen(s);

	if (len > PRIVSEP_MSG_MAX) {
		pk->err = 1;
		return;
	}
	pack_u32(pk, (uint32_t)len);
	pack_bytes(pk, s, len);
}

void
unpack_init(struct unpack *u, const void *p, size_t len)
{
	u->p = p;
	u->len = len;
	u->off = 0;
	u->err = 0;
}

void
unpack_bytes(struct unpack *u, void *dst, size_t n)
{
	if (u->err || n > u->len - u->off) {
		u->err = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, u->p + u->off, n);
	u->off += n;
}

uint32_t
unpack_u32(struct unpack *u)
{
	uint32_t v;

	unpack_bytes(u, &v, sizeof(v));
	return v;
}

uint64_t
unpack_u64(struct unpack *u)
{
	uint64_t v;

	unpack_bytes(u, &v, sizeof(v));
	return v;
}

void
unpack_str(struct unpack *u, char *dst, size_t dstsz)
{
	uint32_t len;

	len = unpack_u32(u);
	if (u->err || dstsz == 0 || len >= dstsz || len > u->len - u->off) {
		u->err = 1;
		if (dstsz > 0)
			dst[0] = '\0';
		return;
	}
	memcpy(dst, u->p + u->off, len);
	dst[len] = '\0';
	if (memchr(dst, '\0', len) != NULL) {
		u->err = 1;
		dst[0] = '\0';
		return;
	}
	u->off += len;
}

int
unpack_done(const struct unpack *u)
{
	return u->err || u->off != u->len ? -1 : 0;
}
