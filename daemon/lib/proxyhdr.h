/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxyhdr.h -- the PROXY protocol v2 header a Satchel proxy tier sends
 * to its backends (HAProxy's proxy-protocol.txt, section 2.2), so that a
 * backend's `haproxy` listener learns the client's real address.  Only
 * the builder: the parser for incoming headers is proxyproto.c.  Pure
 * code: runs in the worker, unprivileged.
 */
#ifndef SATCHEL_PROXYHDR_H
#define SATCHEL_PROXYHDR_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

/* Signature, version/command, family, length; then IPv6 addresses. */
#define PROXYHDR_V2_MAX		(16 + 36 + 64)

/*
 * Write a v2 PROXY header for a TCP connection from src to dst (both
 * AF_INET or AF_INET6; a mix is sent as IPv6 with the IPv4 address
 * mapped) into out.  tls_version non-NULL adds a PP2_TYPE_SSL TLV
 * (client connected over TLS, no client certificate) with a
 * PP2_SUBTYPE_SSL_VERSION sub-TLV holding it (at most 32 octets).
 * Returns the header's length, or -1 (unknown family, out too small).
 */
ssize_t	 proxyhdr_v2(const struct sockaddr *src, const struct sockaddr *dst,
	    const char *tls_version, unsigned char *out, size_t outsz);

#endif /* SATCHEL_PROXYHDR_H */
