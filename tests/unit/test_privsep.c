/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_privsep.c -- the framing and codec between the worker and the
 * privileged side: round trips, descriptor passing, and every kind of
 * malformed message a compromised peer could send.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privsep.h"
#include "test.h"

static struct privsep_msg m;

int
main(void)
{
	unsigned char buf[256], raw[64];
	char str[16];
	struct pack pk;
	struct unpack u;
	int sv[2], p[2], r;
	uint32_t hdr[2];

	TEST_START("codec round trip");
	pack_init(&pk, buf, sizeof(buf));
	pack_u32(&pk, 7);
	pack_u64(&pk, 1ULL << 40);
	pack_str(&pk, "alice@example.org");
	pack_str(&pk, "");
	ASSERT_INT_EQ(pk.err, 0);
	unpack_init(&u, buf, pk.len);
	ASSERT_INT_EQ(unpack_u32(&u), 7);
	ASSERT_U64_EQ(unpack_u64(&u), 1ULL << 40);
	{
		char user[64];

		unpack_str(&u, user, sizeof(user));
		ASSERT_STR_EQ(user, "alice@example.org");
	}
	unpack_str(&u, str, sizeof(str));
	ASSERT_STR_EQ(str, "");
	ASSERT_INT_EQ(unpack_done(&u), 0);
	TEST_DONE();

	TEST_START("codec rejects short, long, trailing and NUL input");
	pack_init(&pk, buf, sizeof(buf));
	pack_str(&pk, "0123456789abcdefXYZ");	/* longer than str */
	unpack_init(&u, buf, pk.len);
	unpack_str(&u, str, sizeof(str));
	ASSERT_INT_NE(unpack_done(&u), 0);
	ASSERT_STR_EQ(str, "");
	/* A length field pointing past the end. */
	pack_init(&pk, buf, sizeof(buf));
	pack_u32(&pk, 1000);
	pack_bytes(&pk, "abc", 3);
	unpack_init(&u, buf, pk.len);
	{
		char big[2000];

		unpack_str(&u, big, sizeof(big));
	}
	ASSERT_INT_NE(unpack_done(&u), 0);
	/* Embedded NUL. */
	pack_init(&pk, buf, sizeof(buf));
	pack_u32(&pk, 3);
	pack_bytes(&pk, "a\0b", 3);
	unpack_init(&u, buf, pk.len);
	unpack_str(&u, str, sizeof(str));
	ASSERT_INT_NE(unpack_done(&u), 0);
	/* Trailing bytes. */
	pack_init(&pk, buf, sizeof(buf));
	pack_u32(&pk, 1);
	pack_u32(&pk, 2);
	unpack_init(&u, buf, pk.len);
	(void)unpack_u32(&u);
	ASSERT_INT_NE(unpack_done(&u), 0);
	/* Reading past the end. */
	unpack_init(&u, buf, 2);
	(void)unpack_u32(&u);
	ASSERT_INT_NE(unpack_done(&u), 0);
	/* Packing past the end. */
	pack_init(&pk, buf, 6);
	pack_u64(&pk, 1);
	ASSERT_INT_NE(pk.err, 0);
	TEST_DONE();

	TEST_START("message and descriptor over SOCK_SEQPACKET");
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ASSERT_INT_EQ(pipe(p), 0);
	ASSERT_INT_EQ(privsep_send(sv[0], 42, "hello", 5, p[1]), 0);
	ASSERT_INT_EQ(privsep_recv(sv[1], &m, 1000), 0);
	ASSERT_INT_EQ(m.type, 42);
	ASSERT_INT_EQ(m.len, 5);
	ASSERT_MEM_EQ(m.data, m.len, "hello", 5);
	ASSERT_TRUE(m.fd != -1);
	if (m.fd != -1) {
		ASSERT_INT_EQ(write(m.fd, "x", 1), 1);
		ASSERT_INT_EQ(read(p[0], raw, 1), 1);
		ASSERT_INT_EQ(raw[0], 'x');
		ASSERT_TRUE((fcntl(m.fd, F_GETFD) & FD_CLOEXEC) != 0);
		close(m.fd);
	}
	close(p[1]);
	close(p[0]);
	TEST_DONE();

	TEST_START("empty message, then end of file");
	ASSERT_INT_EQ(privsep_send(sv[0], 9, NULL, 0, -1), 0);
	ASSERT_INT_EQ(privsep_recv(sv[1], &m, 1000), 0);
	ASSERT_INT_EQ(m.type, 9);
	ASSERT_INT_EQ(m.len, 0);
	ASSERT_INT_EQ(m.fd, -1);
	TEST_DONE();

	TEST_START("timeout");
	errno = 0;
	ASSERT_INT_EQ(privsep_recv(sv[1], &m, 50), -1);
	ASSERT_INT_EQ(errno, ETIMEDOUT);
	TEST_DONE();

	TEST_START("length field that lies is refused");
	hdr[0] = 3;
	hdr[1] = 10;	/* claims 10, sends 4 */
	memcpy(raw, hdr, sizeof(hdr));
	memcpy(raw + sizeof(hdr), "abcd", 4);
	ASSERT_INT_EQ(send(sv[0], raw, sizeof(hdr) + 4, 0),
	    (long long)(sizeof(hdr) + 4));
	errno = 0;
	ASSERT_INT_EQ(privsep_recv(sv[1], &m, 1000), -1);
	ASSERT_INT_EQ(errno, EBADMSG);
	TEST_DONE();

	TEST_START("runt message is refused");
	ASSERT_INT_EQ(send(sv[0], "ab", 2, 0), 2);
	errno = 0;
	ASSERT_INT_EQ(privsep_recv(sv[1], &m, 1000), -1);
	ASSERT_INT_EQ(errno, EBADMSG);
	TEST_DONE();

	TEST_START("oversized message is refused, not truncated silently");
	{
		static unsigned char huge[PRIVSEP_MSG_MAX + 64];

		memset(huge, 0, sizeof(huge));
		hdr[0] = 1;
		hdr[1] = PRIVSEP_MSG_MAX + 56;
		memcpy(huge, hdr, sizeof(hdr));
		r = (int)send(sv[0], huge, sizeof(huge), 0);
		ASSERT_INT_EQ(r, (long long)sizeof(huge));
		errno = 0;
		ASSERT_INT_EQ(privsep_recv(sv[1], &m, 1000), -1);
		ASSERT_INT_EQ(errno, EBADMSG);
		ASSERT_INT_EQ(privsep_send(sv[0], 1, huge,
		    PRIVSEP_MSG_MAX + 1, -1), -1);
	}
	TEST_DONE();

	TEST_START("end of file");
	close(sv[0]);
	ASSERT_INT_EQ(privsep_recv(sv[1], &m, 1000), 1);
	close(sv[1]);
	TEST_DONE();

	return test_summary();
}
