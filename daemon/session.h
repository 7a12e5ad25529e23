/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * session.h -- one POP3 session, in the worker (unprivileged).
 */
#ifndef SATCHEL_SESSION_H
#define SATCHEL_SESSION_H

#include <sys/socket.h>

#include <time.h>

struct listener;
struct satcheld;
struct sb_slot;

/*
 * Where a connection comes from, as the worker established it before
 * the session: the socket's peer, or on a haproxy listener what the
 * PROXY header said (worker.c).
 */
struct session_origin {
	struct sockaddr_storage	 client;	/* the real client */
	socklen_t		 clientlen;
	struct sockaddr_storage	 local;		/* the address it reached; */
	socklen_t		 locallen;	/* 0: the socket's own */
	int			 proxied;	/* a PROXY header was read */
	int			 proxy_version;	/* 1 or 2 */
	int			 proxy_local;	/* LOCAL/UNKNOWN: no address */
	int			 proxy_ssl;	/* the proxy did TLS (v2 TLV) */
	char			 proxy[64];	/* the sender, for logs */
	char			 proxy_tls[32];	/* its TLS version, or "" */
	struct timespec		 accepted;	/* CLOCK_MONOTONIC */
};

/* Serve the client on fd until it quits or fails; closes fd. */
void	 session_run(struct satcheld *d, int fd,
	    const struct session_origin *o, const struct listener *l,
	    struct sb_slot *slot);

#endif /* SATCHEL_SESSION_H */
