/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxyhdr.c -- the PROXY v2 header builder (see proxyhdr.h).  Pure
 * code, no allocation; tested by tests/unit/test_proxyhdr.c against
 * bytes written out by hand from the specification.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "proxyhdr.h"

static const unsigned char pp2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54,
	0x0a
};

#define PP2_VERSION_PROXY	0x21	/* version 2, command PROXY */
#define PP2_TCP4		0x11
#define PP2_TCP6		0x21
#define PP2_TYPE_SSL		0x20
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_CLIENT_SSL		0x01

/* addr (16 bytes, IPv6 or v4-mapped) and port (network order) of sa. */
static int
pp2_addr6(const struct sockaddr *sa, unsigned char addr[16],
    unsigned char port[2])
{
	const struct sockaddr_in *in;
	const struct sockaddr_in6 *in6;

	if (sa->sa_family == AF_INET6) {
		in6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(addr, &in6->sin6_addr, 16);
		memcpy(port, &in6->sin6_port, 2);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		in = (const struct sockaddr_in *)(const void *)sa;
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &in->sin_addr, 4);
		memcpy(port, &in->sin_port, 2);
		return 0;
	}
	return -1;
}

ssize_t
proxyhdr_v2(const struct sockaddr *src, const struct sockaddr *dst,
    const char *tls_version, unsigned char *out, size_t outsz)
{
	unsigned char sa[16], da[16], sp[2], dp[2];
	size_t o = 16, body, vlen = 0, tlv = 0;
	int v4;

	if (pp2_addr6(src, sa, sp) == -1 || pp2_addr6(dst, da, dp) == -1)
		return -1;
	v4 = src->sa_family == AF_INET && dst->sa_family == AF_INET;
	if (tls_version != NULL) {
		if ((vlen = strlen(tls_version)) > 32)
			return -1;
		/* SSL TLV: client, verify, and the version sub-TLV. */
		tlv = 3 + 1 + 4 + 3 + vlen;
	}
	body = (v4 ? 12 : 36) + tlv;
	if (outsz < 16 + body)
		return -1;
	memcpy(out, pp2_sig, sizeof(pp2_sig));
	out[12] = PP2_VERSION_PROXY;
	out[13] = v4 ? PP2_TCP4 : PP2_TCP6;
	out[14] = (unsigned char)(body >> 8);
	out[15] = (unsigned char)body;
	if (v4) {
		memcpy(out + o, sa + 12, 4);
		memcpy(out + o + 4, da + 12, 4);
		o += 8;
	} else {
		memcpy(out + o, sa, 16);
		memcpy(out + o + 16, da, 16);
		o += 32;
	}
	memcpy(out + o, sp, 2);
	memcpy(out + o + 2, dp, 2);
	o += 4;
	if (tls_version != NULL) {
		out[o++] = PP2_TYPE_SSL;
		out[o++] = (unsigned char)((tlv - 3) >> 8);
		out[o++] = (unsigned char)(tlv - 3);
		out[o++] = PP2_CLIENT_SSL;
		/* verify: non-zero, no client certificate was checked. */
		out[o++] = 0;
		out[o++] = 0;
		out[o++] = 0;
		out[o++] = 1;
		out[o++] = PP2_SUBTYPE_SSL_VERSION;
		out[o++] = (unsigned char)(vlen >> 8);
		out[o++] = (unsigned char)vlen;
		memcpy(out + o, tls_version, vlen);
		o += vlen;
	}
	return (ssize_t)o;
}
