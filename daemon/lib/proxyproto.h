/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxyproto.h -- the PROXY protocol header (HAProxy's specification,
 * versions 1 and 2) that a load balancer puts before the client's bytes
 * on a listener marked "haproxy".  A pure, incremental parser: the
 * caller feeds whatever bytes it has read, in pieces of any size, and
 * asks pp_want() how many it may read next without reading past the end
 * of the header, so the first byte after it is left in the socket for
 * TLS or POP3.  Bounded: a v1 line is at most 107 bytes, a v2 header
 * 16 + 65535 bytes, and the parser's state is a fixed struct whatever
 * the length (TLVs are parsed as they stream by, never buffered).  No
 * I/O, no allocation, no globals.  Runs unprivileged in the worker.
 *
 * Accepted: v1 "TCP4", "TCP6" and "UNKNOWN"; v2 PROXY with TCP over
 * AF_INET or AF_INET6, and LOCAL (a health check: the connection's own
 * endpoints stand).  v2 TLVs are walked to the end; PP2_TYPE_SSL gives
 * the session's TLS as seen by the proxy, PP2_TYPE_CRC32C is verified.
 * Refused: anything else (UDP, AF_UNIX, UNSPEC with PROXY, a v1 line
 * that does not match the grammar exactly, a TLV that overruns the
 * header, a checksum that does not match).
 */
#ifndef SATCHEL_PROXYPROTO_H
#define SATCHEL_PROXYPROTO_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define PP_V1_MAX		107	/* longest v1 line, CRLF included */
#define PP_V2_FIXED		16	/* signature, ver/cmd, family, length */
#define PP_V2_MAX		(PP_V2_FIXED + 65535)

/* pp_feed() results */
#define PP_NEED			0	/* everything taken, more wanted */
#define PP_DONE			1	/* the header is complete */
#define PP_ERROR		-1	/* not a valid header: p->error */

/* pp_header.command */
#define PP_CMD_LOCAL		0	/* v2 LOCAL, v1 UNKNOWN: no address */
#define PP_CMD_PROXY		1	/* src and dst are the client's */

/* v2 TLV types the parser knows (doc/proxy-protocol.txt 2.2) */
#define PP2_TYPE_ALPN		0x01
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_CRC32C		0x03
#define PP2_TYPE_NOOP		0x04
#define PP2_TYPE_UNIQUE_ID	0x05
#define PP2_TYPE_SSL		0x20
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SUBTYPE_SSL_CN	0x22
#define PP2_SUBTYPE_SSL_CIPHER	0x23
#define PP2_TYPE_NETNS		0x30
#define PP2_CLIENT_SSL		0x01
#define PP2_CLIENT_CERT_CONN	0x02
#define PP2_CLIENT_CERT_SESS	0x04

struct pp_header {
	int			 version;	/* 1 or 2 */
	int			 command;	/* PP_CMD_* */
	/* PP_CMD_PROXY: the client and the address it connected to. */
	struct sockaddr_storage	 src;
	struct sockaddr_storage	 dst;
	socklen_t		 srclen;
	socklen_t		 dstlen;
	/* v2 PP2_TYPE_SSL: the proxy did TLS with the client. */
	int			 ssl_tlv;	/* the TLV was present */
	int			 ssl;		/* ... with PP2_CLIENT_SSL */
	uint8_t			 ssl_client;	/* PP2_CLIENT_* bits */
	uint32_t		 ssl_verify;	/* 0: client cert verified */
	char			 ssl_version[32];	/* "TLSv1.3"; "" */
	char			 ssl_cipher[64];	/* "" when absent */
	int			 crc32c;	/* a checksum was verified */
	size_t			 length;	/* bytes of the header */
};

/* The parser's state: opaque, a fixed size, lives on the caller's stack. */
struct pp_parser {
	int			 state;
	const char		*error;
	size_t			 pos;		/* bytes taken so far */
	struct pp_header	 h;
	/* v1: the line so far */
	char			 line[PP_V1_MAX + 1];
	/* v2 */
	uint8_t			 cmd, fam;
	size_t			 total;		/* 16 + the length field */
	size_t			 addrlen;	/* 12, 36, or 0 for LOCAL */
	uint8_t			 addr[36];
	int			 tstate;	/* TLV walk */
	uint8_t			 ttype;
	size_t			 tlen, toff;
	int			 sstate;	/* SSL sub-TLV walk */
	uint8_t			 stype;
	size_t			 slen, soff;
	uint32_t		 crc;		/* running CRC32c */
	uint8_t			 crc_val[4];
	int			 have_crc;
};

void	 pp_init(struct pp_parser *p);
/*
 * Take up to len bytes.  Returns PP_NEED when all of them were taken and
 * the header is not complete yet; PP_DONE when it is (p->h filled,
 * *used_r bytes of buf were part of it, the rest was not looked at);
 * PP_ERROR when the bytes cannot be a valid header (p->error is a static
 * description; *used_r counts up to the offending byte).  After DONE or
 * ERROR, further calls return the same and take nothing.
 */
int	 pp_feed(struct pp_parser *p, const void *buf, size_t len,
	    size_t *used_r);
/*
 * How many bytes the caller may read next without passing the end of
 * the header: at least 1 until the header is complete, 0 after DONE or
 * ERROR.  Exact for v2 once its length field is in; a lower bound for v1
 * (from the grammar: e.g. after "PROXY TCP4 " at least
 * "1.1.1.1 1.1.1.1 1 1\r\n" must follow).
 */
size_t	 pp_want(const struct pp_parser *p);
/*
 * An IPv4-mapped IPv6 address ("::ffff:192.0.2.7") becomes the AF_INET
 * one in place, so that logs, limits and trusted networks see one form.
 */
void	 pp_unmap(struct sockaddr_storage *ss, socklen_t *len);
/* CRC32c (Castagnoli) of len bytes, the PROXY v2 checksum. */
uint32_t pp_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* SATCHEL_PROXYPROTO_H */
