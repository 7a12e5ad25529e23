/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_proxyhdr.c -- proxy mode's pure parts: the PROXY v2 header the
 * front sends its backends (daemon/lib/proxyhdr.c), checked against
 * bytes written out by hand from HAProxy's proxy-protocol.txt, and the
 * passdb extra fields (modules/auth/common/proxyfield.c) as a table.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "satchel/module.h"
#include "proxyfield.h"
#include "proxyhdr.h"
#include "test.h"

static void
sin4(struct sockaddr_in *s, const char *ip, unsigned short port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
}

static void
test_header(void)
{
	static const unsigned char want4[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
		127, 0, 0, 9, 127, 0, 0, 1, 0xc3, 0x50, 0x00, 0x6e,
	};
	struct sockaddr_in src, dst;
	struct sockaddr_in6 s6;
	unsigned char out[PROXYHDR_V2_MAX];
	ssize_t n;

	TEST_START("proxyhdr: IPv4, no TLV");
	sin4(&src, "127.0.0.9", 50000);
	sin4(&dst, "127.0.0.1", 110);
	n = proxyhdr_v2((struct sockaddr *)&src, (struct sockaddr *)&dst,
	    NULL, out, sizeof(out));
	ASSERT_MEM_EQ(out, (size_t)n, want4, sizeof(want4));
	TEST_DONE();

	TEST_START("proxyhdr: SSL TLV with the version");
	n = proxyhdr_v2((struct sockaddr *)&src, (struct sockaddr *)&dst,
	    "TLSv1.3", out, sizeof(out));
	ASSERT_INT_EQ(n, 28 + 3 + 5 + 3 + 7);
	ASSERT_INT_EQ(out[15], 12 + 3 + 5 + 3 + 7);	/* length */
	ASSERT_INT_EQ(out[28], 0x20);			/* PP2_TYPE_SSL */
	ASSERT_INT_EQ(out[30], 5 + 3 + 7);
	ASSERT_INT_EQ(out[31], 0x01);			/* PP2_CLIENT_SSL */
	ASSERT_INT_EQ(out[36], 0x21);			/* SSL_VERSION */
	ASSERT_MEM_EQ(out + 39, 7, "TLSv1.3", 7);
	TEST_DONE();

	TEST_START("proxyhdr: IPv6 and a mix (v4-mapped)");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(995);
	inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr);
	n = proxyhdr_v2((struct sockaddr *)&s6, (struct sockaddr *)&dst,
	    NULL, out, sizeof(out));
	ASSERT_INT_EQ(n, 16 + 36);
	ASSERT_INT_EQ(out[13], 0x21);
	ASSERT_INT_EQ(out[16], 0x20);
	ASSERT_INT_EQ(out[17], 0x01);
	/* the IPv4 destination, mapped: ::ffff:127.0.0.1 */
	ASSERT_INT_EQ(out[32 + 10], 0xff);
	ASSERT_INT_EQ(out[32 + 11], 0xff);
	ASSERT_INT_EQ(out[32 + 12], 127);
	ASSERT_INT_EQ(out[32 + 15], 1);
	ASSERT_INT_EQ(out[48] << 8 | out[49], 995);
	ASSERT_INT_EQ(out[50] << 8 | out[51], 110);
	TEST_DONE();

	TEST_START("proxyhdr: refusals");
	ASSERT_INT_EQ(proxyhdr_v2((struct sockaddr *)&src,
	    (struct sockaddr *)&dst, NULL, out, 27), -1);
	src.sin_family = AF_UNIX;
	ASSERT_INT_EQ(proxyhdr_v2((struct sockaddr *)&src,
	    (struct sockaddr *)&dst, NULL, out, sizeof(out)), -1);
	sin4(&src, "127.0.0.9", 1);
	ASSERT_INT_EQ(proxyhdr_v2((struct sockaddr *)&src,
	    (struct sockaddr *)&dst, "0123456789012345678901234567890123",
	    out, sizeof(out)), -1);
	TEST_DONE();
}

static const struct {
	const char	*label;
	const char	*key;
	const char	*val;
	int		 ret;
} fields[] = {
	{ "proxy alone", "proxy", NULL, 1 },
	{ "proxy=y", "proxy", "y", 1 },
	{ "proxy=Y (mysql)", "proxy", "Y", 1 },
	{ "proxy=n", "proxy", "n", 1 },
	{ "proxy=maybe", "proxy", "maybe", -1 },
	{ "proxy_maybe refused", "proxy_maybe", NULL, -1 },
	{ "host name", "host", "mail-1.example.net", 1 },
	{ "host v6", "host", "2001:db8::1", 1 },
	{ "host empty", "host", "", -1 },
	{ "host with slash", "host", "a/b", -1 },
	{ "host option-like", "host", "-oProxyCommand", -1 },
	{ "host with space", "host", "a b", -1 },
	{ "hostip", "hostip", "10.0.0.7", 1 },
	{ "hostip name", "hostip", "mail.example", -1 },
	{ "port", "port", "10110", 1 },
	{ "port 0", "port", "0", -1 },
	{ "port 65536", "port", "65536", -1 },
	{ "port junk", "port", "110x", -1 },
	{ "port empty", "port", "", -1 },
	{ "ssl=yes", "ssl", "yes", 1 },
	{ "ssl=starttls", "ssl", "starttls", 1 },
	{ "ssl=any-cert", "ssl", "any-cert", -1 },
	{ "destuser", "destuser", "bob@example.org", 1 },
	{ "destuser blank", "destuser", "bob x", -1 },
	{ "destuser control", "destuser", "bob\x7f", -1 },
	{ "destuser empty", "destuser", "", -1 },
	{ "master", "master", "admin", 1 },
	{ "master blank", "master", "ad min", -1 },
	{ "master empty", "master", "", -1 },
	{ "master control", "master", "ad\x01min", -1 },
	{ "pass", "pass", "S3cret with space", 1 },
	{ "pass empty", "pass", "", -1 },
	{ "pass control", "pass", "a\tb", -1 },
	{ "proxy_haproxy=n", "proxy_haproxy", "n", 1 },
	{ "proxy_haproxy alone", "proxy_haproxy", NULL, -1 },
	{ "other field", "quota_rule", "*:storage=1G", 0 },
};

static void
test_fields(void)
{
	struct satchel_user u;
	const char *err;
	char label[96];
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		(void)snprintf(label, sizeof(label), "proxyfield: %s",
		    fields[i].label);
		TEST_START(label);
		memset(&u, 0, sizeof(u));
		err = NULL;
		ASSERT_INT_EQ(proxyfield_set(&u, fields[i].key, fields[i].val,
		    &err), fields[i].ret);
		if (fields[i].ret == -1)
			ASSERT_TRUE(err != NULL && strstr(err,
			    fields[i].key) != NULL);
		TEST_DONE();
	}
	TEST_START("proxyfield: values stored");
	memset(&u, 0, sizeof(u));
	ASSERT_INT_EQ(proxyfield_set(&u, "proxy", "y", &err), 1);
	ASSERT_INT_EQ(proxyfield_set(&u, "host", "b1.example", &err), 1);
	ASSERT_INT_EQ(proxyfield_set(&u, "port", "10995", &err), 1);
	ASSERT_INT_EQ(proxyfield_set(&u, "ssl", "starttls", &err), 1);
	ASSERT_INT_EQ(proxyfield_set(&u, "destuser", "x@y", &err), 1);
	ASSERT_INT_EQ(proxyfield_set(&u, "proxy_haproxy", "no", &err), 1);
	ASSERT_INT_EQ(u.proxy, 1);
	ASSERT_STR_EQ(u.proxy_host, "b1.example");
	ASSERT_INT_EQ(u.proxy_port, 10995);
	ASSERT_INT_EQ(u.proxy_ssl, SATCHEL_PROXY_SSL_STARTTLS);
	ASSERT_STR_EQ(u.proxy_destuser, "x@y");
	ASSERT_INT_EQ(u.proxy_haproxy, SATCHEL_PROXY_HAPROXY_NO);
	/* ABI 1.4: the backend login as a master user */
	ASSERT_INT_EQ(proxyfield_set(&u, "master", "admin", &err), 1);
	ASSERT_INT_EQ(proxyfield_set(&u, "pass", "pw pw", &err), 1);
	ASSERT_STR_EQ(u.proxy_master, "admin");
	ASSERT_STR_EQ(u.proxy_pass, "pw pw");
	ASSERT_INT_EQ(proxyfield_set(&u, "proxy", "no", &err), 1);
	ASSERT_INT_EQ(u.proxy, 0);
	TEST_DONE();
}

int
main(void)
{
	test_header();
	test_fields();
	return test_summary();
}
