/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_addr.c -- the auth process's view of a login's client address:
 * read from the worker's socket itself, and taken from the worker's
 * word only for a connection that the socket shows came through a
 * trusted proxy on a haproxy listener.  Runs in the auth process, as
 * root; nothing here trusts what a worker sends.
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "auth_int.h"
#include "auth_proc.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "privsep.h"
#include "compat/poison.h"

static int conn_on_haproxy(const struct satcheld *,
    const struct sockaddr_storage *);
static int conn_numeric(const char *, char *, size_t);
static int conn_sockaddr(const char *, struct sockaddr_storage *,
    socklen_t *);

/*
 * Read the client's address from its socket, never from the worker's
 * word.  Only a connected TCP socket will do.
 *
 * The one exception is a listener marked haproxy, where the socket's
 * peer is the proxy and the client's address came in the PROXY header
 * (worker.c).  There the worker's word (rq->client, rq->local) is
 * taken only when the socket itself shows that it is such a
 * connection: its local address is a haproxy listener's (the worker's
 * seccomp filter lets it create no TCP socket, so each one it holds
 * was accepted on one of our listeners; and without the filter the
 * kernel still lets no other socket bind a listening address and
 * port) and its peer is in
 * haproxy_trusted_networks.  A worker that names an address for any
 * other socket, or none for such a socket, is refused: a compromised
 * worker can neither move its failures onto another address nor
 * escape its own through a direct listener.
 */
int
conn_client_addr(struct auth_ctx *a, struct aconn *c, int fd,
    const struct msg_auth_request *rq)
{
	struct sockaddr_storage ss, ls;
	socklen_t len = sizeof(ss), llen = sizeof(ls);
	int type = 0, proxied;
	socklen_t tl = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1 ||
	    type != SOCK_STREAM ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    getnameinfo((struct sockaddr *)&ss, len, c->remote,
	    sizeof(c->remote), NULL, 0, NI_NUMERICHOST) != 0)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&ls, &llen) == -1 ||
	    getnameinfo((struct sockaddr *)&ls, llen, c->local,
	    sizeof(c->local), NULL, 0, NI_NUMERICHOST) != 0) {
		strlcpy(c->local, "unknown", sizeof(c->local));
		llen = 0;
	}
	/* For the PROXY header of a master login at a backend. */
	memcpy(&c->csrc, &ss, sizeof(ss));
	c->csrclen = len;
	memcpy(&c->cdst, &ls, sizeof(ls));
	c->cdstlen = llen;
	proxied = llen > 0 && conn_on_haproxy(a->s, &ls) &&
	    conf_in_nets(a->s->cf->haproxy_trusted,
	    a->s->cf->nhaproxy_trusted, (struct sockaddr *)&ss);
	if (!proxied && rq->client[0] == '\0')
		return 0;
	if (!proxied || conn_numeric(rq->client, c->remote,
	    sizeof(c->remote)) == -1 || (rq->local[0] != '\0' &&
	    conn_numeric(rq->local, c->local, sizeof(c->local)) == -1)) {
		log_warnx("auth: session=%.16s worker %ld: client address "
		    "'%.64s' for a connection from %s to %s, which is %s: "
		    "request refused", rq->session, (long)c->peer_pid,
		    rq->client, c->remote, c->local, proxied ?
		    "not a numeric address" : "not a trusted proxy's on a "
		    "haproxy listener");
		return -1;
	}
	/* The header's addresses, ports unknown (0). */
	conn_sockaddr(c->remote, &c->csrc, &c->csrclen);
	if (conn_sockaddr(c->local, &c->cdst, &c->cdstlen) == -1)
		c->cdstlen = 0;
	return 0;
}

static int
conn_sockaddr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
		return 0;
	}
	*len = 0;
	return -1;
}

/* The socket's local address is a haproxy listener's (or in its
 * wildcard). */
static int
conn_on_haproxy(const struct satcheld *s, const struct sockaddr_storage *ls)
{
	const struct sockaddr_in *a4 = (const void *)ls, *l4;
	const struct sockaddr_in6 *a6 = (const void *)ls, *l6;
	size_t i;

	for (i = 0; i < s->nlisteners; i++) {
		if (!s->listeners[i].haproxy ||
		    s->listeners[i].addr.ss_family != ls->ss_family)
			continue;
		if (ls->ss_family == AF_INET) {
			l4 = (const void *)&s->listeners[i].addr;
			if (l4->sin_port == a4->sin_port &&
			    (l4->sin_addr.s_addr == htonl(INADDR_ANY) ||
			    l4->sin_addr.s_addr == a4->sin_addr.s_addr))
				return 1;
		} else if (ls->ss_family == AF_INET6) {
			l6 = (const void *)&s->listeners[i].addr;
			if (l6->sin6_port == a6->sin6_port &&
			    (IN6_IS_ADDR_UNSPECIFIED(&l6->sin6_addr) ||
			    memcmp(&l6->sin6_addr, &a6->sin6_addr, 16) == 0))
				return 1;
		}
	}
	return 0;
}

/* A numeric IPv4 or IPv6 address, rewritten in its canonical form. */
static int
conn_numeric(const char *in, char *out, size_t outsz)
{
	unsigned char a[16];
	char tmp[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, in, a) == 1) {
		if (inet_ntop(AF_INET, a, tmp, sizeof(tmp)) == NULL)
			return -1;
	} else if (inet_pton(AF_INET6, in, a) == 1) {
		if (inet_ntop(AF_INET6, a, tmp, sizeof(tmp)) == NULL)
			return -1;
	} else
		return -1;
	return strlcpy(out, tmp, outsz) < outsz ? 0 : -1;
}
