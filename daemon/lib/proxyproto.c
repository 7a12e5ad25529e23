/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxyproto.c -- the PROXY protocol header parser (see proxyproto.h):
 * one state machine fed a byte at a time, so that pieces of any size
 * give the same result, and whose state has a fixed size whatever the
 * header's length.  Written from HAProxy's doc/proxy-protocol.txt.  No
 * I/O, no allocation, no globals.  Runs unprivileged in the worker.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include "compat/compat.h"
#include "proxyproto.h"
#include "compat/poison.h"

/* p->state */
#define ST_START	0	/* nothing yet */
#define ST_V1		1	/* in the text line */
#define ST_V2		2	/* in the binary header */
#define ST_DONE		3
#define ST_ERROR	4

/* p->tstate, p->sstate: a TLV's three header bytes, then its value. */
#define T_TYPE		0
#define T_LEN1		1
#define T_LEN2		2
#define T_VALUE		3

#define V2_VERSION	0x2
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_TCP4		0x11
#define V2_TCP6		0x21
#define V2_TCP4_LEN	12	/* 2 * 4 address bytes, 2 * 2 port bytes */
#define V2_TCP6_LEN	36	/* 2 * 16, 2 * 2 */
#define SSL_FIXED	5	/* client flags, verify */

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1_prefix[] = "PROXY ";
#define V1_PREFIX_LEN	6
#define V1_MIN		15	/* "PROXY UNKNOWN\r\n"; v2 is >= 16 */

static const char *const v1_protos[] = { "TCP4", "TCP6", "UNKNOWN" };

static int	 pp_fail(struct pp_parser *, const char *);
static int	 pp_v1_byte(struct pp_parser *, uint8_t);
static int	 pp_v1_line(struct pp_parser *);
static size_t	 pp_v1_want(const struct pp_parser *);
static int	 pp_v2_byte(struct pp_parser *, uint8_t);
static int	 pp_v2_tlv(struct pp_parser *, uint8_t, int *);
static int	 pp_v2_ssl(struct pp_parser *, uint8_t);
static int	 pp_v2_end(struct pp_parser *);
static int	 pp_parse_v4(const char *, size_t, uint8_t *);
static int	 pp_parse_v6(const char *, size_t, uint8_t *);
static int	 pp_parse_port(const char *, size_t, uint16_t *);
static void	 pp_sockaddr(struct sockaddr_storage *, socklen_t *, int,
		    const uint8_t *, uint16_t);
static void	 pp_keep_text(char *, size_t, size_t, uint8_t);

void
pp_init(struct pp_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = ST_START;
	p->tstate = T_TYPE;
	p->sstate = T_TYPE;
}

static int
pp_fail(struct pp_parser *p, const char *why)
{
	p->state = ST_ERROR;
	p->error = why;
	return PP_ERROR;
}

int
pp_feed(struct pp_parser *p, const void *buf, size_t len, size_t *used_r)
{
	const uint8_t *b = buf;
	size_t i;
	int r = PP_NEED;

	*used_r = 0;
	if (p->state == ST_DONE)
		return PP_DONE;
	if (p->state == ST_ERROR)
		return PP_ERROR;
	for (i = 0; i < len && r == PP_NEED; i++) {
		if (p->state == ST_START) {
			if (b[i] == v2_sig[0])
				p->state = ST_V2;
			else if (b[i] == (uint8_t)v1_prefix[0])
				p->state = ST_V1;
			else {
				*used_r = 1;
				return pp_fail(p, "not a PROXY protocol header");
			}
		}
		r = p->state == ST_V1 ? pp_v1_byte(p, b[i]) :
		    pp_v2_byte(p, b[i]);
		p->pos++;
	}
	*used_r = i;
	if (r == PP_DONE) {
		p->h.length = p->pos;
		p->state = ST_DONE;
	}
	return r;
}

size_t
pp_want(const struct pp_parser *p)
{
	switch (p->state) {
	case ST_START:
		return V1_MIN;
	case ST_V1:
		return pp_v1_want(p);
	case ST_V2:
		if (p->pos < PP_V2_FIXED)
			return PP_V2_FIXED - p->pos;
		return p->total - p->pos;
	}
	return 0;
}

/* ---- version 1 ---------------------------------------------------- */

/*
 * One byte of the text line at p->pos.  The line is checked as it
 * comes (prefix, protocol word, characters, length) so that garbage is
 * refused at once, then parsed whole at its CRLF, as the specification
 * asks.
 */
static int
pp_v1_byte(struct pp_parser *p, uint8_t c)
{
	size_t n = p->pos, i, wlen, spaces;
	const char *sp;
	int ok;

	if (n < V1_PREFIX_LEN) {
		if (c != (uint8_t)v1_prefix[n])
			return pp_fail(p, "not a PROXY protocol header");
		p->line[n] = (char)c;
		return PP_NEED;
	}
	if (n > 0 && p->line[n - 1] == '\r') {
		if (c != '\n')
			return pp_fail(p, "v1: CR without LF");
		p->line[n - 1] = '\0';
		return pp_v1_line(p);
	}
	if (c == '\n')
		return pp_fail(p, "v1: LF without CR");
	if (c != '\r' && (c < 0x20 || c > 0x7e))
		return pp_fail(p, "v1: a byte that is not printable ASCII");
	/* Room must remain for the CRLF within the 107 bytes. */
	if (n + (c == '\r' ? 2 : 3) > PP_V1_MAX)
		return pp_fail(p, "v1: no CRLF within 107 bytes");
	p->line[n] = (char)c;
	p->line[n + 1] = '\0';
	/* The protocol word must be one of ours while it is typed. */
	sp = memchr(p->line + V1_PREFIX_LEN, ' ', n + 1 - V1_PREFIX_LEN);
	if ((sp == NULL && c != '\r') || sp == p->line + n) {
		/* Typing the word (a prefix will do), or just ending it. */
		wlen = (sp == NULL ? n + 1 : n) - V1_PREFIX_LEN;
		ok = 0;
		for (i = 0; i < sizeof(v1_protos) / sizeof(v1_protos[0]); i++)
			if ((sp == NULL ? wlen <= strlen(v1_protos[i]) :
			    wlen == strlen(v1_protos[i])) &&
			    memcmp(p->line + V1_PREFIX_LEN, v1_protos[i],
			    wlen) == 0)
				ok = 1;
		if (!ok)
			return pp_fail(p, "v1: protocol is not TCP4, TCP6 "
			    "or UNKNOWN");
	}
	/* TCP4/TCP6: four fields after the word, one space apart. */
	if (sp != NULL && c == ' ' && strncmp(p->line + V1_PREFIX_LEN, "TCP",
	    3) == 0) {
		spaces = 0;
		for (i = (size_t)(sp - p->line); i <= n; i++)
			if (p->line[i] == ' ')
				spaces++;
		if (spaces > 4)
			return pp_fail(p, "v1: more than four fields");
		if (p->line[n - 1] == ' ')
			return pp_fail(p, "v1: two spaces in a row");
	}
	return PP_NEED;
}

/* The whole line is in p->line, NUL-terminated without its CRLF. */
static int
pp_v1_line(struct pp_parser *p)
{
	const char *w = p->line + V1_PREFIX_LEN, *f[4], *e;
	size_t flen[4], k;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	int fam;

	p->h.version = 1;
	if (strncmp(w, "UNKNOWN", 7) == 0 && (w[7] == '\0' || w[7] == ' ')) {
		/* The rest, if any, is to be ignored. */
		p->h.command = PP_CMD_LOCAL;
		return PP_DONE;
	}
	if (strncmp(w, "TCP4 ", 5) == 0)
		fam = AF_INET;
	else if (strncmp(w, "TCP6 ", 5) == 0)
		fam = AF_INET6;
	else
		return pp_fail(p, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
	w += 5;
	for (k = 0; k < 4; k++) {
		e = strchr(w, ' ');
		if (k < 3 && e == NULL)
			return pp_fail(p, "v1: fewer than four fields");
		if (k == 3) {
			if (e != NULL)
				return pp_fail(p, "v1: more than four fields");
			e = w + strlen(w);
		}
		f[k] = w;
		flen[k] = (size_t)(e - w);
		if (flen[k] == 0)
			return pp_fail(p, "v1: an empty field");
		w = e + 1;
	}
	if (fam == AF_INET) {
		if (pp_parse_v4(f[0], flen[0], src) == -1)
			return pp_fail(p, "v1: bad TCP4 source address");
		if (pp_parse_v4(f[1], flen[1], dst) == -1)
			return pp_fail(p, "v1: bad TCP4 destination address");
	} else {
		if (pp_parse_v6(f[0], flen[0], src) == -1)
			return pp_fail(p, "v1: bad TCP6 source address");
		if (pp_parse_v6(f[1], flen[1], dst) == -1)
			return pp_fail(p, "v1: bad TCP6 destination address");
	}
	if (pp_parse_port(f[2], flen[2], &sport) == -1)
		return pp_fail(p, "v1: bad source port");
	if (pp_parse_port(f[3], flen[3], &dport) == -1)
		return pp_fail(p, "v1: bad destination port");
	p->h.command = PP_CMD_PROXY;
	pp_sockaddr(&p->h.src, &p->h.srclen, fam, src, sport);
	pp_sockaddr(&p->h.dst, &p->h.dstlen, fam, dst, dport);
	return PP_DONE;
}

/*
 * A lower bound on the bytes still to come in a valid line, from the
 * grammar: the shortest completion of what has been seen.  Shortest
 * fields: an IPv4 address "1.1.1.1" (7), an IPv6 one "::" (2), a port
 * "1" (1).
 */
static size_t
pp_v1_want(const struct pp_parser *p)
{
	static const size_t min4[4] = { 7, 7, 1, 1 }, min6[4] = { 2, 2, 1, 1 };
	const size_t *mins;
	const char *w, *sp;
	size_t n = p->pos, wlen, k = 0, m = 0, i, want;

	if (n < V1_PREFIX_LEN)
		return V1_MIN - n;
	if (p->line[n - 1] == '\r')
		return 1;
	w = p->line + V1_PREFIX_LEN;
	sp = memchr(w, ' ', n - V1_PREFIX_LEN);
	if (sp == NULL) {
		wlen = n - V1_PREFIX_LEN;
		if (wlen <= 7 && strncmp(w, "UNKNOWN", wlen) == 0)
			return 7 - wlen + 2;
		if (wlen == 4 && strncmp(w, "TCP4", 4) == 0)
			return 22;	/* " 1.1.1.1 1.1.1.1 1 1\r\n" */
		if (wlen <= 4 && strncmp(w, "TCP", wlen < 3 ? wlen : 3) == 0)
			return 4 - wlen + 12;	/* "6 :: :: 1 1\r\n" */
		return 2;
	}
	if (strncmp(w, "TCP4", 4) == 0)
		mins = min4;
	else if (strncmp(w, "TCP6", 4) == 0)
		mins = min6;
	else
		return 2;	/* UNKNOWN: anything up to the CRLF */
	/* Field k (0: source address) holds m bytes so far. */
	for (i = (size_t)(sp - p->line) + 1; i < n; i++) {
		if (p->line[i] == ' ') {
			k++;
			m = 0;
		} else
			m++;
	}
	if (k > 3)
		return 2;
	want = m < mins[k] ? mins[k] - m : 0;
	for (i = k + 1; i < 4; i++)
		want += 1 + mins[i];
	return want + 2;
}

/* Four decimal numbers 0-255, no leading zeros, three dots. */
static int
pp_parse_v4(const char *s, size_t n, uint8_t *out)
{
	size_t i = 0, part, digits;
	unsigned int v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		v = 0;
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9';
		    digits++, i++) {
			if (digits == 3)
				return -1;
			v = v * 10 + (unsigned int)(s[i] - '0');
		}
		if (digits == 0 || v > 255 || (digits > 1 && s[i - digits] ==
		    '0'))
			return -1;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : -1;
}

/* Hexadecimal groups and colons, at most 39 characters: inet_pton. */
static int
pp_parse_v6(const char *s, size_t n, uint8_t *out)
{
	char buf[40];
	size_t i;

	if (n >= sizeof(buf))
		return -1;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':'))
			return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

/* 0-65535, no leading zeros. */
static int
pp_parse_port(const char *s, size_t n, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static void
pp_sockaddr(struct sockaddr_storage *ss, socklen_t *len, int fam,
    const uint8_t *addr, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	}
}

void
pp_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
	uint8_t a[4];
	uint16_t port;

	if (ss->ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memcpy(a, sin6->sin6_addr.s6_addr + 12, 4);
	port = ntohs(sin6->sin6_port);
	pp_sockaddr(ss, len, AF_INET, a, port);
}

/* ---- version 2 ---------------------------------------------------- */

static int
pp_v2_byte(struct pp_parser *p, uint8_t c)
{
	size_t n = p->pos, len;
	int r, zero = 0;

	if (n < sizeof(v2_sig)) {
		if (c != v2_sig[n])
			return pp_fail(p, "not a PROXY protocol header");
	} else if (n == 12) {
		if ((c >> 4) != V2_VERSION)
			return pp_fail(p, "v2: version is not 2");
		p->cmd = c & 0x0f;
		if (p->cmd != V2_CMD_LOCAL && p->cmd != V2_CMD_PROXY)
			return pp_fail(p, "v2: command is not LOCAL or PROXY");
	} else if (n == 13) {
		p->fam = c;
	} else if (n == 14) {
		p->total = (size_t)c << 8;
	} else if (n == 15) {
		len = p->total | c;
		p->total = PP_V2_FIXED + len;
		if (p->cmd == V2_CMD_PROXY) {
			if (p->fam == V2_TCP4)
				p->addrlen = V2_TCP4_LEN;
			else if (p->fam == V2_TCP6)
				p->addrlen = V2_TCP6_LEN;
			else
				return pp_fail(p, "v2: PROXY is not TCP over "
				    "IPv4 or IPv6");
			if (len < p->addrlen)
				return pp_fail(p, "v2: address block shorter "
				    "than its family's");
		}
	} else if (p->cmd == V2_CMD_LOCAL) {
		/*
		 * A health check: the block, family and TLVs alike, is
		 * skipped (the length field still counts).
		 */
	} else if (n - PP_V2_FIXED < p->addrlen) {
		p->addr[n - PP_V2_FIXED] = c;
	} else if ((r = pp_v2_tlv(p, c, &zero)) != PP_NEED)
		return r;
	/* The checksum covers the header with its own value zeroed. */
	p->crc = pp_crc32c(p->crc, zero ? "\0" : (const char *)&c, 1);
	if (n >= PP_V2_FIXED - 1 && n + 1 == p->total)
		return pp_v2_end(p);
	return PP_NEED;
}

/*
 * One byte of the TLV area.  *zero_r: the byte is part of the CRC32c
 * value and counts as 0 in the checksum.
 */
static int
pp_v2_tlv(struct pp_parser *p, uint8_t c, int *zero_r)
{
	size_t left = p->total - p->pos - 1;	/* bytes after this one */

	switch (p->tstate) {
	case T_TYPE:
		p->ttype = c;
		p->tstate = T_LEN1;
		break;
	case T_LEN1:
		p->tlen = (size_t)c << 8;
		p->tstate = T_LEN2;
		break;
	case T_LEN2:
		p->tlen |= c;
		p->toff = 0;
		if (p->tlen > left)
			return pp_fail(p, "v2: a TLV overruns the header");
		if (p->ttype == PP2_TYPE_CRC32C) {
			if (p->have_crc)
				return pp_fail(p, "v2: two CRC32C TLVs");
			if (p->tlen != 4)
				return pp_fail(p, "v2: CRC32C TLV is not 4 "
				    "bytes");
			p->have_crc = 1;
		} else if (p->ttype == PP2_TYPE_SSL) {
			if (p->h.ssl_tlv)
				return pp_fail(p, "v2: two SSL TLVs");
			if (p->tlen < SSL_FIXED)
				return pp_fail(p, "v2: SSL TLV shorter than "
				    "5 bytes");
			p->h.ssl_tlv = 1;
			p->sstate = T_TYPE;
		}
		p->tstate = p->tlen == 0 ? T_TYPE : T_VALUE;
		break;
	case T_VALUE:
		if (p->ttype == PP2_TYPE_CRC32C) {
			p->crc_val[p->toff] = c;
			*zero_r = 1;
		} else if (p->ttype == PP2_TYPE_SSL &&
		    pp_v2_ssl(p, c) == PP_ERROR)
			return PP_ERROR;
		if (++p->toff == p->tlen) {
			if (p->ttype == PP2_TYPE_SSL && p->sstate != T_TYPE)
				return pp_fail(p, "v2: an SSL sub-TLV overruns "
				    "its TLV");
			p->tstate = T_TYPE;
		}
		break;
	}
	return PP_NEED;
}

/* Byte p->toff of the PP2_TYPE_SSL value. */
static int
pp_v2_ssl(struct pp_parser *p, uint8_t c)
{
	size_t left = p->tlen - p->toff - 1;	/* value bytes after it */

	if (p->toff == 0) {
		p->h.ssl_client = c;
		p->h.ssl = (c & PP2_CLIENT_SSL) != 0;
		return PP_NEED;
	}
	if (p->toff < SSL_FIXED) {
		p->h.ssl_verify = (p->h.ssl_verify << 8) | c;
		return PP_NEED;
	}
	switch (p->sstate) {
	case T_TYPE:
		p->stype = c;
		p->sstate = T_LEN1;
		break;
	case T_LEN1:
		p->slen = (size_t)c << 8;
		p->sstate = T_LEN2;
		break;
	case T_LEN2:
		p->slen |= c;
		p->soff = 0;
		if (p->slen > left)
			return pp_fail(p, "v2: an SSL sub-TLV overruns its "
			    "TLV");
		p->sstate = p->slen == 0 ? T_TYPE : T_VALUE;
		break;
	case T_VALUE:
		if (p->stype == PP2_SUBTYPE_SSL_VERSION)
			pp_keep_text(p->h.ssl_version,
			    sizeof(p->h.ssl_version), p->soff, c);
		else if (p->stype == PP2_SUBTYPE_SSL_CIPHER)
			pp_keep_text(p->h.ssl_cipher,
			    sizeof(p->h.ssl_cipher), p->soff, c);
		if (++p->soff == p->slen)
			p->sstate = T_TYPE;
		break;
	}
	return PP_NEED;
}

/*
 * Byte off of a text value, for logs: as much as fits, anything but
 * printable ASCII shown as '?'.
 */
static void
pp_keep_text(char *dst, size_t dstsz, size_t off, uint8_t c)
{
	if (off + 1 >= dstsz)
		return;
	dst[off] = c > 0x20 && c < 0x7f ? (char)c : '?';
	dst[off + 1] = '\0';
}

/* The last byte of a v2 header has been taken. */
static int
pp_v2_end(struct pp_parser *p)
{
	uint32_t want;

	p->h.version = 2;
	if (p->cmd == V2_CMD_LOCAL) {
		p->h.command = PP_CMD_LOCAL;
		return PP_DONE;
	}
	if (p->tstate != T_TYPE)
		return pp_fail(p, "v2: a TLV overruns the header");
	if (p->have_crc) {
		want = (uint32_t)p->crc_val[0] << 24 |
		    (uint32_t)p->crc_val[1] << 16 |
		    (uint32_t)p->crc_val[2] << 8 | p->crc_val[3];
		if (want != p->crc)
			return pp_fail(p, "v2: CRC32C does not match");
		p->h.crc32c = 1;
	}
	p->h.command = PP_CMD_PROXY;
	if (p->fam == V2_TCP4) {
		pp_sockaddr(&p->h.src, &p->h.srclen, AF_INET, p->addr,
		    (uint16_t)(p->addr[8] << 8 | p->addr[9]));
		pp_sockaddr(&p->h.dst, &p->h.dstlen, AF_INET, p->addr + 4,
		    (uint16_t)(p->addr[10] << 8 | p->addr[11]));
	} else {
		pp_sockaddr(&p->h.src, &p->h.srclen, AF_INET6, p->addr,
		    (uint16_t)(p->addr[32] << 8 | p->addr[33]));
		pp_sockaddr(&p->h.dst, &p->h.dstlen, AF_INET6, p->addr + 16,
		    (uint16_t)(p->addr[34] << 8 | p->addr[35]));
	}
	return PP_DONE;
}

/* Bitwise CRC32c, reflected polynomial 0x82F63B78 (RFC 4960 app. B). */
uint32_t
pp_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;
	int k;

	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= b[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78U & (0U - (crc & 1)));
	}
	return ~crc;
}
