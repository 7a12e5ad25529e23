/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_proxyproto.c -- the PROXY protocol parser (proxyproto.c): v1
 * lines and v2 headers from a table, each fed whole, a byte at a time,
 * and the way the worker reads (pp_want() bytes at a time from a stream
 * that goes on past the header: never a byte too far); v2 TLVs (SSL with
 * its sub-TLVs, CRC32c right and wrong, overruns); LOCAL and UNKNOWN;
 * the CRC32c function against RFC 3720's check value; pp_unmap.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "test.h"

#define TRAILER		"+OK after the header"

struct v1_case {
	const char	*label;
	const char	*line;
	int		 result;	/* PP_DONE or PP_ERROR */
	int		 command;
	const char	*src;		/* "addr port" */
	const char	*dst;
	const char	*error;		/* a substring of p->error */
};

static const struct v1_case v1_cases[] = {
	{ "tcp4", "PROXY TCP4 192.0.2.7 198.51.100.1 51514 110\r\n",
	    PP_DONE, PP_CMD_PROXY, "192.0.2.7 51514", "198.51.100.1 110",
	    NULL },
	{ "tcp4 max", "PROXY TCP4 255.255.255.255 255.255.255.255 65535 "
	    "65535\r\n", PP_DONE, PP_CMD_PROXY, "255.255.255.255 65535",
	    "255.255.255.255 65535", NULL },
	{ "tcp4 zeros", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", PP_DONE,
	    PP_CMD_PROXY, "0.0.0.0 0", "0.0.0.0 0", NULL },
	{ "tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 40000 995\r\n",
	    PP_DONE, PP_CMD_PROXY, "2001:db8::7 40000", "2001:db8::1 995",
	    NULL },
	{ "tcp6 full", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    PP_DONE, PP_CMD_PROXY, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "65535", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535", NULL },
	{ "unknown short", "PROXY UNKNOWN\r\n", PP_DONE, PP_CMD_LOCAL,
	    NULL, NULL, NULL },
	{ "unknown long (107 bytes)", "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    PP_DONE, PP_CMD_LOCAL, NULL, NULL, NULL },
	{ "unknown ignores junk", "PROXY UNKNOWN whatever  it  says\r\n",
	    PP_DONE, PP_CMD_LOCAL, NULL, NULL, NULL },
	{ "108 bytes", "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655355\r\n",
	    PP_ERROR, 0, NULL, NULL, "107" },
	{ "not proxy", "USER alice\r\n", PP_ERROR, 0, NULL, NULL,
	    "not a PROXY" },
	{ "lower case", "proxy TCP4 1.2.3.4 1.2.3.4 1 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "not a PROXY" },
	{ "tcp5", "PROXY TCP5 1.2.3.4 1.2.3.4 1 1\r\n", PP_ERROR, 0, NULL,
	    NULL, "protocol" },
	{ "word only", "PROXY TCP4\r\n", PP_ERROR, 0, NULL, NULL,
	    "protocol" },
	{ "unknownx", "PROXY UNKNOWNX\r\n", PP_ERROR, 0, NULL, NULL,
	    "protocol" },
	{ "two spaces", "PROXY TCP4  1.2.3.4 1.2.3.4 1 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "spaces" },
	{ "three fields", "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "fewer" },
	{ "five fields", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", PP_ERROR,
	    0, NULL, NULL, "more than four" },
	{ "trailing space", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", PP_ERROR,
	    0, NULL, NULL, "four" },
	{ "leading zero addr", "PROXY TCP4 01.2.3.4 1.2.3.4 1 1\r\n",
	    PP_ERROR, 0, NULL, NULL, "source address" },
	{ "octet 256", "PROXY TCP4 1.2.3.4 1.2.3.256 1 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "destination address" },
	{ "three octets", "PROXY TCP4 1.2.3 1.2.3.4 1 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "source address" },
	{ "v6 in tcp4", "PROXY TCP4 ::1 ::1 1 1\r\n", PP_ERROR, 0, NULL,
	    NULL, "source address" },
	{ "v4 in tcp6", "PROXY TCP6 1.2.3.4 1.2.3.4 1 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "source address" },
	{ "v6 two ::", "PROXY TCP6 1::2::3 ::1 1 1\r\n", PP_ERROR, 0, NULL,
	    NULL, "source address" },
	{ "port 65536", "PROXY TCP4 1.2.3.4 1.2.3.4 65536 1\r\n", PP_ERROR,
	    0, NULL, NULL, "source port" },
	{ "port leading zero", "PROXY TCP4 1.2.3.4 1.2.3.4 1 0110\r\n",
	    PP_ERROR, 0, NULL, NULL, "destination port" },
	{ "port sign", "PROXY TCP4 1.2.3.4 1.2.3.4 +1 1\r\n", PP_ERROR, 0,
	    NULL, NULL, "source port" },
	{ "bare LF", "PROXY TCP4 1.2.3.4 1.2.3.4 1 1\n", PP_ERROR, 0, NULL,
	    NULL, "LF without CR" },
	{ "bare CR", "PROXY TCP4 1.2.3.4 1.2.3.4 1 1\rX", PP_ERROR, 0, NULL,
	    NULL, "CR without LF" },
	{ "tab", "PROXY TCP4\t1.2.3.4 1.2.3.4 1 1\r\n", PP_ERROR, 0, NULL,
	    NULL, "printable" },
	{ "high byte", "PROXY UNKNOWN \xff\r\n", PP_ERROR, 0, NULL, NULL,
	    "printable" },
};

/* "addr port" of a parsed address. */
static void
addr_port(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
	} else {
		snprintf(out, outsz, "family %d", ss->ss_family);
		return;
	}
	snprintf(out, outsz, "%s %u", a, port);
}

/* Whole, then a byte at a time: the same outcome. */
static int
feed_whole(struct pp_parser *p, const void *buf, size_t len,
    size_t *used_r)
{
	pp_init(p);
	return pp_feed(p, buf, len, used_r);
}

static int
feed_bytes(struct pp_parser *p, const unsigned char *buf, size_t len,
    size_t *used_r)
{
	size_t i, u;
	int r = PP_NEED;

	pp_init(p);
	*used_r = 0;
	for (i = 0; i < len && r == PP_NEED; i++) {
		r = pp_feed(p, buf + i, 1, &u);
		*used_r += u;
	}
	return r;
}

/*
 * The worker's way: the header followed by more bytes in one stream,
 * read pp_want() bytes at a time.  Returns the result; *over_r is set
 * when a read would have taken a byte past the header.
 */
static int
feed_want(struct pp_parser *p, const unsigned char *buf, size_t len,
    size_t hdrlen, int *over_r, size_t *reads_r)
{
	size_t off = 0, want, u;
	int r = PP_NEED;

	pp_init(p);
	*over_r = 0;
	*reads_r = 0;
	while (r == PP_NEED && off < len) {
		want = pp_want(p);
		if (want == 0)
			break;
		if (want > len - off)
			want = len - off;
		if (hdrlen > 0 && off + want > hdrlen)
			*over_r = 1;
		r = pp_feed(p, buf + off, want, &u);
		if (r == PP_DONE && u != want)
			*over_r = 1;
		off += u;
		(*reads_r)++;
	}
	return r;
}

static void
test_v1(void)
{
	struct pp_parser p;
	unsigned char stream[256];
	char got[128];
	size_t i, len, used, reads;
	int r, over;

	for (i = 0; i < sizeof(v1_cases) / sizeof(v1_cases[0]); i++) {
		const struct v1_case *c = &v1_cases[i];

		TEST_START(c->label);
		len = strlen(c->line);
		r = feed_whole(&p, c->line, len, &used);
		ASSERT_INT_EQ(r, c->result);
		if (r == PP_DONE) {
			ASSERT_INT_EQ(used, len);
			ASSERT_INT_EQ(p.h.length, len);
			ASSERT_INT_EQ(p.h.version, 1);
			ASSERT_INT_EQ(p.h.command, c->command);
			ASSERT_INT_EQ(pp_want(&p), 0);
			if (c->src != NULL) {
				addr_port(&p.h.src, got, sizeof(got));
				ASSERT_STR_EQ(got, c->src);
				addr_port(&p.h.dst, got, sizeof(got));
				ASSERT_STR_EQ(got, c->dst);
			}
		} else {
			ASSERT_TRUE(p.error != NULL);
			if (p.error != NULL && c->error != NULL &&
			    strstr(p.error, c->error) == NULL)
				ASSERT_STR_EQ(p.error, c->error);
		}
		/* Fed a byte at a time: the same. */
		ASSERT_INT_EQ(feed_bytes(&p, (const unsigned char *)c->line,
		    len, &used), c->result);
		if (c->result == PP_DONE)
			ASSERT_INT_EQ(used, len);
		/* Read as the worker does, with bytes after the header. */
		memcpy(stream, c->line, len);
		memcpy(stream + len, TRAILER, sizeof(TRAILER) - 1);
		r = feed_want(&p, stream, len + sizeof(TRAILER) - 1,
		    c->result == PP_DONE ? len : 0, &over, &reads);
		ASSERT_INT_EQ(r, c->result);
		if (c->result == PP_DONE) {
			ASSERT_INT_EQ(over, 0);
			ASSERT_INT_EQ(p.h.length, len);
		}
		TEST_DONE();
	}

	TEST_START("v1 reads are few, not a byte each");
	{
		const char *l = "PROXY TCP4 127.0.0.9 127.0.0.21 5555 110\r\n";

		r = feed_want(&p, (const unsigned char *)l, strlen(l),
		    strlen(l), &over, &reads);
		ASSERT_INT_EQ(r, PP_DONE);
		ASSERT_INT_EQ(over, 0);
		ASSERT_TRUE(reads <= 8);
	}
	TEST_DONE();

	TEST_START("garbage refused early, before a CRLF");
	r = feed_whole(&p, "GET / HTTP", 10, &used);
	ASSERT_INT_EQ(r, PP_ERROR);
	ASSERT_INT_EQ(used, 1);
	r = feed_whole(&p, "PROXY FOO", 9, &used);
	ASSERT_INT_EQ(r, PP_ERROR);
	r = feed_whole(&p, "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3", 32, &used);
	ASSERT_INT_EQ(r, PP_ERROR);
	TEST_DONE();

	TEST_START("after DONE or ERROR nothing more is taken");
	r = feed_whole(&p, "PROXY UNKNOWN\r\n", 15, &used);
	ASSERT_INT_EQ(r, PP_DONE);
	ASSERT_INT_EQ(pp_feed(&p, "X", 1, &used), PP_DONE);
	ASSERT_INT_EQ(used, 0);
	r = feed_whole(&p, "X", 1, &used);
	ASSERT_INT_EQ(pp_feed(&p, "PROXY", 5, &used), PP_ERROR);
	ASSERT_INT_EQ(used, 0);
	ASSERT_INT_EQ(pp_want(&p), 0);
	TEST_DONE();
}

/* ---- v2 ------------------------------------------------------------ */

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

struct v2 {
	unsigned char	 b[PP_V2_MAX + 64];
	size_t		 len;
};

static void
v2_start(struct v2 *h, unsigned char ver_cmd, unsigned char fam)
{
	memcpy(h->b, sig, sizeof(sig));
	h->b[12] = ver_cmd;
	h->b[13] = fam;
	h->len = 16;
}

static void
v2_put(struct v2 *h, const void *p, size_t n)
{
	memcpy(h->b + h->len, p, n);
	h->len += n;
}

static void
v2_tlv(struct v2 *h, unsigned char type, const void *v, size_t n)
{
	unsigned char t[3] = { type, (unsigned char)(n >> 8),
	    (unsigned char)n };

	v2_put(h, t, 3);
	if (n > 0)
		v2_put(h, v, n);
}

/* Set the length field from what was put. */
static void
v2_end(struct v2 *h)
{
	h->b[14] = (unsigned char)((h->len - 16) >> 8);
	h->b[15] = (unsigned char)(h->len - 16);
}

static void
v2_tcp4(struct v2 *h, const char *src, const char *dst, unsigned sport,
    unsigned dport)
{
	unsigned char a[4], ports[4] = { (unsigned char)(sport >> 8),
	    (unsigned char)sport, (unsigned char)(dport >> 8),
	    (unsigned char)dport };

	v2_start(h, 0x21, 0x11);
	inet_pton(AF_INET, src, a);
	v2_put(h, a, 4);
	inet_pton(AF_INET, dst, a);
	v2_put(h, a, 4);
	v2_put(h, ports, 4);
}

/* Put a CRC32C TLV (value zero), then fill in the checksum. */
static void
v2_crc(struct v2 *h, int corrupt)
{
	static const unsigned char zero[4];
	size_t at;
	uint32_t crc;

	v2_tlv(h, PP2_TYPE_CRC32C, zero, 4);
	at = h->len - 4;
	v2_end(h);
	crc = pp_crc32c(0, h->b, h->len) ^ (corrupt ? 1 : 0);
	h->b[at] = (unsigned char)(crc >> 24);
	h->b[at + 1] = (unsigned char)(crc >> 16);
	h->b[at + 2] = (unsigned char)(crc >> 8);
	h->b[at + 3] = (unsigned char)crc;
}

/* Every way of feeding must agree; returns the result. */
static int
v2_check(struct v2 *h, struct pp_parser *p)
{
	static unsigned char stream[sizeof(((struct v2 *)0)->b) + 32];
	size_t used, reads;
	int r, r2, r3, over;

	r = feed_whole(p, h->b, h->len, &used);
	if (r == PP_DONE) {
		ASSERT_INT_EQ(used, h->len);
		ASSERT_INT_EQ(p->h.length, h->len);
	}
	memcpy(stream, h->b, h->len);
	memcpy(stream + h->len, TRAILER, sizeof(TRAILER) - 1);
	r3 = feed_want(p, stream, h->len + sizeof(TRAILER) - 1,
	    r == PP_DONE ? h->len : 0, &over, &reads);
	ASSERT_INT_EQ(r3, r);
	if (r == PP_DONE)
		ASSERT_INT_EQ(over, 0);
	r2 = feed_bytes(p, h->b, h->len, &used);
	ASSERT_INT_EQ(r2, r);
	return r2;
}

static void
test_v2(void)
{
	static struct v2 h;
	struct pp_parser p;
	unsigned char a6[16], ssl[64], big[300];
	char got[128];
	size_t n, used;

	TEST_START("v2 tcp4");
	v2_tcp4(&h, "127.0.0.9", "127.0.0.21", 5555, 110);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.version, 2);
	ASSERT_INT_EQ(p.h.command, PP_CMD_PROXY);
	addr_port(&p.h.src, got, sizeof(got));
	ASSERT_STR_EQ(got, "127.0.0.9 5555");
	addr_port(&p.h.dst, got, sizeof(got));
	ASSERT_STR_EQ(got, "127.0.0.21 110");
	ASSERT_INT_EQ(p.h.ssl, 0);
	ASSERT_INT_EQ(p.h.ssl_tlv, 0);
	TEST_DONE();

	TEST_START("v2 tcp6");
	v2_start(&h, 0x21, 0x21);
	inet_pton(AF_INET6, "2001:db8::9", a6);
	v2_put(&h, a6, 16);
	inet_pton(AF_INET6, "2001:db8::1", a6);
	v2_put(&h, a6, 16);
	v2_put(&h, "\x9c\x40\x03\xe3", 4);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	addr_port(&p.h.src, got, sizeof(got));
	ASSERT_STR_EQ(got, "2001:db8::9 40000");
	addr_port(&p.h.dst, got, sizeof(got));
	ASSERT_STR_EQ(got, "2001:db8::1 995");
	TEST_DONE();

	TEST_START("v2 v4-mapped source, unmapped");
	v2_start(&h, 0x21, 0x21);
	inet_pton(AF_INET6, "::ffff:192.0.2.7", a6);
	v2_put(&h, a6, 16);
	v2_put(&h, a6, 16);
	v2_put(&h, "\x00\x01\x00\x02", 4);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.src.ss_family, AF_INET6);
	pp_unmap(&p.h.src, &p.h.srclen);
	ASSERT_INT_EQ(p.h.src.ss_family, AF_INET);
	ASSERT_INT_EQ(p.h.srclen, sizeof(struct sockaddr_in));
	addr_port(&p.h.src, got, sizeof(got));
	ASSERT_STR_EQ(got, "192.0.2.7 1");
	TEST_DONE();

	TEST_START("v2 LOCAL, no address");
	v2_start(&h, 0x20, 0x00);
	v2_end(&h);
	ASSERT_INT_EQ(h.len, 16);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.command, PP_CMD_LOCAL);
	TEST_DONE();

	TEST_START("v2 LOCAL with an address block and TLVs: skipped");
	v2_start(&h, 0x20, 0x11);
	v2_put(&h, "\x7f\x00\x00\x01\x7f\x00\x00\x01\x00\x01\x00\x02", 12);
	v2_tlv(&h, PP2_TYPE_NOOP, "xx", 2);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.command, PP_CMD_LOCAL);
	TEST_DONE();

	TEST_START("v2 SSL TLV with version and cipher");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	n = 0;
	ssl[n++] = PP2_CLIENT_SSL;
	memcpy(ssl + n, "\x00\x00\x00\x00", 4);
	n += 4;
	memcpy(ssl + n, "\x21\x00\x07TLSv1.3", 10);
	n += 10;
	memcpy(ssl + n, "\x23\x00\x16TLS_AES_256_GCM_SHA384", 25);
	n += 25;
	v2_tlv(&h, PP2_TYPE_ALPN, "pop3", 4);
	v2_tlv(&h, PP2_TYPE_SSL, ssl, n);
	v2_tlv(&h, PP2_TYPE_UNIQUE_ID, "id-1", 4);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.ssl_tlv, 1);
	ASSERT_INT_EQ(p.h.ssl, 1);
	ASSERT_INT_EQ(p.h.ssl_verify, 0);
	ASSERT_STR_EQ(p.h.ssl_version, "TLSv1.3");
	ASSERT_STR_EQ(p.h.ssl_cipher, "TLS_AES_256_GCM_SHA384");
	TEST_DONE();

	TEST_START("v2 SSL TLV without PP2_CLIENT_SSL: not secure");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_SSL, "\x00\x00\x00\x00\x01", 5);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.ssl_tlv, 1);
	ASSERT_INT_EQ(p.h.ssl, 0);
	ASSERT_INT_EQ(p.h.ssl_verify, 1);
	TEST_DONE();

	TEST_START("v2 SSL sub-TLV overrunning its TLV");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00\x00\x00\x21\x00\x09TLSv1.3",
	    15);
	v2_tlv(&h, PP2_TYPE_NOOP, "", 0);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "sub-TLV") != NULL);
	TEST_DONE();

	TEST_START("v2 SSL TLV too short, and twice");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00", 3);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00\x00\x00", 5);
	v2_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00\x00\x00", 5);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "two SSL") != NULL);
	TEST_DONE();

	TEST_START("v2 CRC32C right, wrong, wrong length");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_NOOP, "pad", 3);
	v2_crc(&h, 0);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.crc32c, 1);
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_crc(&h, 1);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "CRC32C") != NULL);
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_CRC32C, "abc", 3);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	TEST_DONE();

	TEST_START("v2 TLV overruns the header");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_AUTHORITY, "mail.example", 12);
	h.len -= 2;		/* the length field says 2 fewer */
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "overruns") != NULL);
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_put(&h, "\x04\x00", 2);	/* half a TLV header */
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	TEST_DONE();

	TEST_START("v2 the largest header, 65551 bytes");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	memset(big, 'x', sizeof(big));
	while (h.len + 3 + sizeof(big) <= PP_V2_MAX)
		v2_tlv(&h, PP2_TYPE_NOOP, big, sizeof(big));
	v2_tlv(&h, PP2_TYPE_NOOP, big, PP_V2_MAX - h.len - 3);
	ASSERT_INT_EQ(h.len, PP_V2_MAX);
	v2_end(&h);
	ASSERT_INT_EQ(v2_check(&h, &p), PP_DONE);
	ASSERT_INT_EQ(p.h.length, PP_V2_MAX);
	TEST_DONE();

	TEST_START("v2 refusals");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_end(&h);
	h.b[12] = 0x11;		/* version 1 */
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "version") != NULL);
	h.b[12] = 0x22;		/* command 2 */
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "command") != NULL);
	h.b[12] = 0x21;
	h.b[13] = 0x12;		/* UDP */
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	h.b[13] = 0x00;		/* UNSPEC with PROXY */
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	h.b[13] = 0x31;		/* AF_UNIX */
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	h.b[13] = 0x21;		/* TCP6 with a 12-byte block */
	ASSERT_INT_EQ(v2_check(&h, &p), PP_ERROR);
	ASSERT_TRUE(strstr(p.error, "shorter") != NULL);
	h.b[13] = 0x11;
	h.b[4] = 0x01;		/* signature */
	ASSERT_INT_EQ(feed_whole(&p, h.b, h.len, &used), PP_ERROR);
	ASSERT_INT_EQ(used, 5);
	TEST_DONE();

	TEST_START("v2 want is exact");
	v2_tcp4(&h, "192.0.2.7", "192.0.2.1", 1000, 110);
	v2_tlv(&h, PP2_TYPE_NOOP, big, 100);
	v2_end(&h);
	pp_init(&p);
	ASSERT_INT_EQ(pp_want(&p), 15);
	ASSERT_INT_EQ(pp_feed(&p, h.b, 15, &used), PP_NEED);
	ASSERT_INT_EQ(pp_want(&p), 1);
	ASSERT_INT_EQ(pp_feed(&p, h.b + 15, 1, &used), PP_NEED);
	ASSERT_INT_EQ(pp_want(&p), h.len - 16);
	ASSERT_INT_EQ(pp_feed(&p, h.b + 16, h.len - 16, &used), PP_DONE);
	TEST_DONE();
}

static void
test_crc(void)
{
	TEST_START("crc32c check value");
	/* RFC 3720 B.4 / the usual check value of "123456789". */
	ASSERT_U64_EQ(pp_crc32c(0, "123456789", 9), 0xE3069283U);
	ASSERT_U64_EQ(pp_crc32c(pp_crc32c(0, "1234", 4), "56789", 5),
	    0xE3069283U);
	TEST_DONE();
}

int
main(void)
{
	test_v1();
	test_v2();
	test_crc();
	return test_summary();
}
