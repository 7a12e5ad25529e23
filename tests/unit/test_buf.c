/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_buf.c -- unit tests for daemon/buf.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "test.h"

/* Appends against a limit: {label, max, sizes of successive appends,
 * expected result of each, final len}. */
struct append_case {
	const char	*label;
	size_t		 max;
	size_t		 sizes[4];
	int		 want[4];
	size_t		 final_len;
};

static const struct append_case append_cases[] = {
	{ "fits exactly", 10, { 4, 6, 0, 0 }, { 0, 0, 0, 0 }, 10 },
	{ "one past max", 10, { 4, 7, 0, 0 }, { 0, -1, 0, 0 }, 4 },
	{ "fail then fit", 10, { 11, 10, 1, 0 }, { -1, 0, -1, 0 }, 10 },
	{ "zero max", 0, { 1, 0, 0, 0 }, { -1, 0, 0, 0 }, 0 },
	{ "grow past initial", 5000, { 300, 300, 4000, 401 },
	    { 0, 0, 0, -1 }, 4600 },
	{ "exactly at max after growth", 4096, { 256, 257, 3583, 0 },
	    { 0, 0, 0, 0 }, 4096 },
};

static void
test_append_table(void)
{
	static char src[8192];
	const struct append_case *c;
	struct buf b;
	size_t i, j, k, total;
	int r;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 26);
	for (i = 0; i < sizeof(append_cases) / sizeof(append_cases[0]); i++) {
		c = &append_cases[i];
		TEST_START(c->label);
		buf_init(&b, c->max);
		total = 0;
		for (j = 0; j < 4; j++) {
			errno = 0;
			r = buf_append(&b, src + total, c->sizes[j]);
			ASSERT_INT_EQ(r, c->want[j]);
			if (r == -1)
				ASSERT_INT_EQ(errno, ENOBUFS);
			else
				total += c->sizes[j];
		}
		ASSERT_U64_EQ(b.len, c->final_len);
		ASSERT_TRUE(b.cap <= c->max);
		if (b.len > 0)
			ASSERT_MEM_EQ(buf_ptr(&b), b.len, src, total);
		for (k = 0; k < b.len; k++)
			if (buf_ptr(&b)[k] != src[k])
				break;
		ASSERT_U64_EQ(k, b.len);
		buf_free(&b);
		ASSERT_TRUE(b.data == NULL);
		ASSERT_U64_EQ(b.max, c->max);
		TEST_DONE();
	}
}

static void
test_puts_reserve(void)
{
	struct buf b;
	char *p;

	TEST_START("puts and reserve/commit");
	buf_init(&b, 64);
	ASSERT_TRUE(buf_ptr(&b) == NULL);
	ASSERT_INT_EQ(buf_puts(&b, "+OK "), 0);
	ASSERT_INT_EQ(buf_reserve(&b, 10, &p), 0);
	memcpy(p, "hello", 5);
	buf_commit(&b, 5);
	ASSERT_INT_EQ(buf_puts(&b, "\r\n"), 0);
	ASSERT_MEM_EQ(buf_ptr(&b), b.len, "+OK hello\r\n", 11);
	ASSERT_INT_EQ(buf_reserve(&b, 64 - 11, &p), 0);
	buf_commit(&b, 0);
	errno = 0;
	ASSERT_INT_EQ(buf_reserve(&b, 64 - 10, &p), -1);
	ASSERT_INT_EQ(errno, ENOBUFS);
	ASSERT_INT_EQ(buf_puts(&b, ""), 0);
	ASSERT_U64_EQ(b.len, 11);
	buf_free(&b);
	TEST_DONE();
}

static void
test_consume(void)
{
	struct buf b;
	const char *before;

	TEST_START("consume keeps data in place");
	buf_init(&b, 1024);
	ASSERT_INT_EQ(buf_puts(&b, "USER bob\r\nPASS x\r\n"), 0);
	before = buf_ptr(&b);
	buf_consume(&b, 10);
	ASSERT_U64_EQ(b.len, 8);
	ASSERT_U64_EQ(b.off, 10);
	ASSERT_TRUE(buf_ptr(&b) == before + 10);
	/* The consumed bytes are still there (proto_getline relies on it). */
	ASSERT_MEM_EQ(before, 8, "USER bob", 8);
	ASSERT_MEM_EQ(buf_ptr(&b), b.len, "PASS x\r\n", 8);
	buf_consume(&b, 8);
	ASSERT_U64_EQ(b.len, 0);
	ASSERT_U64_EQ(b.off, 0);
	ASSERT_INT_EQ(buf_puts(&b, "ab"), 0);
	buf_consume(&b, 100);
	ASSERT_U64_EQ(b.len, 0);
	ASSERT_U64_EQ(b.off, 0);
	ASSERT_INT_EQ(buf_puts(&b, "xyz"), 0);
	buf_reset(&b);
	ASSERT_U64_EQ(b.len, 0);
	ASSERT_U64_EQ(b.off, 0);
	ASSERT_TRUE(b.data != NULL);
	buf_free(&b);
	TEST_DONE();
}

/*
 * Stream many bytes through a small buffer, appending and consuming in
 * uneven steps, and check that order and content survive compaction and
 * growth, and that the buffer never holds more than max.
 */
static void
test_stream(void)
{
	struct buf b;
	char chunk[97], out[97];
	uint64_t wpos = 0, rpos = 0;
	size_t n, k, steps;
	int bad = 0;

	TEST_START("stream through compaction");
	buf_init(&b, 300);
	for (steps = 0; steps < 20000; steps++) {
		n = 1 + (steps * 7) % 97;
		if (b.len + n <= b.max) {
			for (k = 0; k < n; k++)
				chunk[k] = (char)((wpos + k) % 251);
			if (buf_append(&b, chunk, n) != 0)
				bad++;
			wpos += n;
		}
		n = (steps * 13) % 89;
		if (n > b.len)
			n = b.len;
		memcpy(out, buf_ptr(&b), n);
		for (k = 0; k < n; k++)
			if (out[k] != (char)((rpos + k) % 251))
				bad++;
		buf_consume(&b, n);
		rpos += n;
		if (b.cap > b.max || b.off + b.len > b.cap)
			bad++;
	}
	ASSERT_INT_EQ(bad, 0);
	ASSERT_U64_EQ(wpos - rpos, b.len);
	ASSERT_TRUE(wpos > 100000);
	buf_free(&b);
	TEST_DONE();
}

int
main(void)
{
	test_append_table();
	test_puts_reserve();
	test_consume();
	test_stream();
	return test_summary();
}
