/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_protocol.c -- unit tests for daemon/protocol.c: line reader,
 * command parser, argument splitter, number parser, message converter
 * and sizer.  Every converter case is also fed in every split into two
 * chunks and in 1-byte chunks, and must give the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "buf.h"
#include "protocol.h"
#include "test.h"

#define S(s)	s, sizeof(s) - 1

/* ---- line reader ------------------------------------------------- */

/*
 * Feed input in chunks of chunk bytes (0: all at once) and describe
 * every result other than NEED: "OK:<line>", "LONG", "NUL", separated by
 * '|', then "|rest=<bytes left buffered>".
 */
static void
run_reader(size_t max, const char *in, size_t inlen, size_t chunk,
    char *desc, size_t descsz)
{
	struct proto_reader rd;
	struct buf b;
	const char *line;
	size_t len, off, n, dl;
	int r;

	proto_reader_init(&rd, max);
	buf_init(&b, 4096);
	desc[0] = '\0';
	for (off = 0; off < inlen || (off == 0 && inlen == 0); off += n) {
		n = chunk == 0 || inlen - off < chunk ? inlen - off : chunk;
		if (buf_append(&b, in + off, n) != 0) {
			snprintf(desc, descsz, "append failed");
			break;
		}
		while ((r = proto_getline(&rd, &b, &line, &len)) !=
		    PROTO_LINE_NEED) {
			dl = strlen(desc);
			if (r == PROTO_LINE_OK) {
				/* NUL-terminated in place. */
				if (line[len] != '\0')
					snprintf(desc + dl, descsz - dl,
					    "NOTERM|");
				else
					snprintf(desc + dl, descsz - dl,
					    "OK:%.*s|", (int)len, line);
			} else
				snprintf(desc + dl, descsz - dl, "%s|",
				    r == PROTO_LINE_TOOLONG ? "LONG" :
				    r == PROTO_LINE_NUL ? "NUL" : "?");
		}
		if (inlen == 0)
			break;
	}
	dl = strlen(desc);
	snprintf(desc + dl, descsz - dl, "rest=%zu", b.len);
	buf_free(&b);
}

struct line_case {
	const char	*label;
	size_t		 max;
	const char	*in;
	size_t		 inlen;
	const char	*want;
};

static char line253[300], line254[300], line255[300], line256[300];

static struct line_case line_cases[] = {
	{ "CRLF", 255, S("USER bob\r\n"), "OK:USER bob|rest=0" },
	{ "bare LF", 255, S("NOOP\n"), "OK:NOOP|rest=0" },
	{ "pipelined", 255, S("STAT\r\nLIST\nQUIT\r\n"),
	    "OK:STAT|OK:LIST|OK:QUIT|rest=0" },
	{ "incomplete tail", 255, S("STAT\r\nLIS"), "OK:STAT|rest=3" },
	{ "CR kept when not last", 255, S("A\rB\r\r\n"),
	    "OK:A\rB\r|rest=0" },
	{ "empty lines", 255, S("\r\n\n"), "OK:|OK:|rest=0" },
	{ "NUL", 255, S("US\0R bob\r\nNOOP\r\n"), "NUL|OK:NOOP|rest=0" },
	{ "NUL then nothing", 255, S("\0\n"), "NUL|rest=0" },
	{ "small max exact", 6, S("ABCD\r\nABCD\n"),
	    "OK:ABCD|OK:ABCD|rest=0" },
	{ "small max one past", 6, S("ABCDE\r\nNOOP\r\n"),
	    "LONG|OK:NOOP|rest=0" },
	{ "small max one past LF", 6, S("ABCDE\nNOOP\n"),
	    "LONG|OK:NOOP|rest=0" },
	{ "overlong never two commands", 6, S("ABCDEFGHIJQUIT\r\nSTAT\r\n"),
	    "LONG|OK:STAT|rest=0" },
	{ "overlong tail waiting", 6, S("ABCDEFGHIJ"), "LONG|rest=0" },
	{ "overlong with NUL", 6, S("AB\0DEFGH\nX\n"), "LONG|OK:X|rest=0" },
	{ "four bytes then CR waits", 6, S("ABCD\r"), "rest=5" },
	{ "five bytes then CR", 6, S("ABCDE\r"), "LONG|rest=0" },
	{ "253 + CRLF", 255, NULL, 0, NULL },
	{ "253 + LF", 255, NULL, 0, NULL },
	{ "254 + CRLF", 255, NULL, 0, "LONG|OK:QUIT|rest=0" },
	{ "254 + LF", 255, NULL, 0, "LONG|OK:QUIT|rest=0" },
	{ "255 no LF", 255, NULL, 0, "LONG|rest=0" },
	{ "256 + CRLF", 255, NULL, 0, "LONG|OK:QUIT|rest=0" },
};

static char want253[300];

static void
setup_long_lines(void)
{
	size_t i;

	/* 253 'a' + CRLF is 255 octets: the longest line accepted. */
	memset(line253, 'a', 253);
	memcpy(line253 + 253, "\r\nQUIT\r\n", 8);
	memset(line254, 'a', 254);
	memcpy(line254 + 254, "\r\nQUIT\r\n", 8);
	memset(line255, 'a', 255);
	memset(line256, 'a', 256);
	memcpy(line256 + 256, "\r\nQUIT\r\n", 8);
	snprintf(want253, sizeof(want253), "OK:%.253s|OK:QUIT|rest=0",
	    line253);
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		struct line_case *c = &line_cases[i];

		if (strcmp(c->label, "253 + CRLF") == 0) {
			c->in = line253;
			c->inlen = 253 + 8;
			c->want = want253;
		} else if (strcmp(c->label, "253 + LF") == 0) {
			/* Same as above with a bare LF: drop the CR. */
			static char l[300];

			memset(l, 'a', 253);
			memcpy(l + 253, "\nQUIT\r\n", 7);
			c->in = l;
			c->inlen = 253 + 7;
			c->want = want253;
		} else if (strcmp(c->label, "254 + CRLF") == 0) {
			c->in = line254;
			c->inlen = 254 + 8;
		} else if (strcmp(c->label, "254 + LF") == 0) {
			static char l[300];

			memset(l, 'a', 254);
			memcpy(l + 254, "\nQUIT\r\n", 7);
			c->in = l;
			c->inlen = 254 + 7;
		} else if (strcmp(c->label, "255 no LF") == 0) {
			c->in = line255;
			c->inlen = 255;
		} else if (strcmp(c->label, "256 + CRLF") == 0) {
			c->in = line256;
			c->inlen = 256 + 8;
		}
	}
}

static void
test_getline_table(void)
{
	const struct line_case *c;
	char got[2048], label[128];
	size_t i, chunk;

	setup_long_lines();
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		c = &line_cases[i];
		snprintf(label, sizeof(label), "getline: %s", c->label);
		TEST_START(label);
		run_reader(c->max, c->in, c->inlen, 0, got, sizeof(got));
		ASSERT_STR_EQ(got, c->want);
		/* The same results whatever the chunking, except that a
		 * tail waiting for its LF is only what arrived so far. */
		for (chunk = 1; chunk <= 9; chunk++) {
			run_reader(c->max, c->in, c->inlen, chunk, got,
			    sizeof(got));
			ASSERT_STR_EQ(got, c->want);
		}
		TEST_DONE();
	}
}

static void
test_getline_spanning(void)
{
	struct proto_reader rd;
	struct buf b;
	const char *line;
	char big[300];
	size_t len;

	TEST_START("getline: overlong line spanning calls");
	proto_reader_init(&rd, PROTO_LINE_MAX);
	buf_init(&b, 1024);
	memset(big, 'x', sizeof(big));
	ASSERT_INT_EQ(buf_append(&b, big, 200), 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_NEED);
	ASSERT_INT_EQ(buf_append(&b, big, 100), 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len),
	    PROTO_LINE_TOOLONG);
	ASSERT_U64_EQ(b.len, 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_NEED);
	/* Looks like a command, but is the tail of the overlong line. */
	ASSERT_INT_EQ(buf_append(&b, "QUIT", 4), 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_NEED);
	ASSERT_INT_EQ(buf_append(&b, big, 300), 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_NEED);
	ASSERT_INT_EQ(buf_append(&b, "\r\nSTAT\r\nNO", 10), 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_OK);
	ASSERT_MEM_EQ(line, len, "STAT", 4);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_NEED);
	ASSERT_INT_EQ(buf_append(&b, "OP\n", 3), 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_OK);
	ASSERT_STR_EQ(line, "NOOP");
	ASSERT_INT_EQ(rd.skipping, 0);
	ASSERT_INT_EQ(proto_getline(&rd, &b, &line, &len), PROTO_LINE_NEED);
	buf_free(&b);
	TEST_DONE();
}

/* ---- proto_parse ------------------------------------------------- */

struct parse_case {
	const char	*label;
	const char	*in;
	size_t		 inlen;
	int		 ret;
	const char	*keyword;
	const char	*rest;
};

static const struct parse_case parse_cases[] = {
	{ "keyword only", S("STAT"), 0, "STAT", "" },
	{ "lower case", S("stat"), 0, "STAT", "" },
	{ "mixed case", S("uSeR bob"), 0, "USER", "bob" },
	{ "one letter", S("X"), 0, "X", "" },
	{ "trailing space", S("NOOP "), 0, "NOOP", "" },
	{ "rest with spaces", S("PASS my secret  pw "), 0, "PASS",
	    "my secret  pw " },
	{ "two spaces", S("USER  bob"), 0, "USER", " bob" },
	{ "8-bit in rest", S("PASS \xc3\xa9t\xc3\xa9"), 0, "PASS",
	    "\xc3\xa9t\xc3\xa9" },
	{ "empty", S(""), -1, "", "" },
	{ "leading space", S(" STAT"), -1, "", "" },
	{ "five letters", S("STATS"), -1, "", "" },
	{ "five letters arg", S("STATS 1"), -1, "", "" },
	{ "digit in keyword", S("RETR1"), -1, "", "" },
	{ "digit keyword", S("R2D2"), -1, "", "" },
	{ "8-bit keyword", S("\xc3\xa9"), -1, "", "" },
	{ "tab", S("USER\tbob"), -1, "", "" },
	{ "tab in rest", S("PASS a\tb"), -1, "", "" },
	{ "CR in rest", S("PASS a\rb"), -1, "", "" },
	{ "DEL", S("PASS a\x7f"), -1, "", "" },
	{ "NUL", S("PASS a\0b"), -1, "", "" },
	{ "ESC", S("\x1bSTAT"), -1, "", "" },
	{ "punctuation", S("ST-T"), -1, "", "" },
};

static void
test_parse_table(void)
{
	const struct parse_case *c;
	struct proto_cmd cmd;
	char label[128];
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		c = &parse_cases[i];
		snprintf(label, sizeof(label), "parse: %s", c->label);
		TEST_START(label);
		ASSERT_INT_EQ(proto_parse(c->in, c->inlen, &cmd), c->ret);
		if (c->ret == 0) {
			ASSERT_STR_EQ(cmd.keyword, c->keyword);
			ASSERT_MEM_EQ(cmd.rest, cmd.restlen, c->rest,
			    strlen(c->rest));
		}
		TEST_DONE();
	}
}

/* ---- proto_split ------------------------------------------------- */

struct split_case {
	const char	*label;
	const char	*in;
	size_t		 inlen;
	int		 max;
	int		 ret;
	const char	*args;		/* joined with '|' */
};

#define A40	"0123456789012345678901234567890123456789"

static const struct split_case split_cases[] = {
	{ "none", S(""), 4, 0, "" },
	{ "spaces only", S("   "), 4, 0, "" },
	{ "one", S("1"), 4, 1, "1" },
	{ "two", S("bob 5"), 4, 2, "bob|5" },
	{ "runs of spaces", S("  a   b  "), 4, 2, "a|b" },
	{ "exactly max", S("a b c d"), 4, 4, "a|b|c|d" },
	{ "too many", S("a b c d e"), 4, -1, "" },
	{ "max 1 too many", S("1 2"), 1, -1, "" },
	{ "max 0", S("x"), 0, -1, "" },
	{ "40 octets", S(A40), 4, 1, A40 },
	{ "41 octets", S(A40 "x"), 4, -1, "" },
	{ "40 and 41", S("a " A40 "x"), 4, -1, "" },
	{ "NUL", S("a\0b"), 4, -1, "" },
	{ "not NUL-terminated", "1 2 3", 3, 4, 2, "1|2" },
};

static void
test_split_table(void)
{
	const struct split_case *c;
	char args[PROTO_ARGS_MAX + 1][PROTO_ARG_MAX + 1];
	char joined[512], label[128];
	size_t i, jl;
	int j, n;

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		c = &split_cases[i];
		snprintf(label, sizeof(label), "split: %s", c->label);
		TEST_START(label);
		n = proto_split(c->in, c->inlen, args, c->max);
		ASSERT_INT_EQ(n, c->ret);
		joined[0] = '\0';
		for (j = 0; j < n; j++) {
			jl = strlen(joined);
			snprintf(joined + jl, sizeof(joined) - jl, "%s%s",
			    j > 0 ? "|" : "", args[j]);
		}
		if (n >= 0)
			ASSERT_STR_EQ(joined, c->args);
		TEST_DONE();
	}
}

/* ---- proto_number ------------------------------------------------ */

struct number_case {
	const char	*label;
	const char	*in;
	size_t		 inlen;
	uint64_t	 min, max;
	int		 ret;
	uint64_t	 val;
};

static const struct number_case number_cases[] = {
	{ "one", S("1"), 1, 100, 0, 1 },
	{ "zero", S("0"), 0, 100, 0, 0 },
	{ "zero below min", S("0"), 1, 100, -1, 0 },
	{ "leading zeros", S("007"), 1, 100, 0, 7 },
	{ "19 zeros", S("0000000000000000001"), 1, 100, 0, 1 },
	{ "at max", S("100"), 1, 100, 0, 100 },
	{ "past max", S("101"), 1, 100, -1, 0 },
	{ "plus", S("+1"), 0, 100, -1, 0 },
	{ "minus", S("-1"), 0, 100, -1, 0 },
	{ "trailing space", S("1 "), 0, 100, -1, 0 },
	{ "leading space", S(" 1"), 0, 100, -1, 0 },
	{ "empty", S(""), 0, 100, -1, 0 },
	{ "hex", S("0x10"), 0, 100, -1, 0 },
	{ "letters", S("12a"), 0, 100, -1, 0 },
	{ "NUL inside", S("1\0002"), 0, 100, -1, 0 },
	{ "not NUL-terminated", "1234", 2, 0, 100, 0, 12 },
	{ "19 digits max", S("9999999999999999999"), 0, UINT64_MAX, 0,
	    9999999999999999999ULL },
	{ "20 digits", S("18446744073709551615"), 0, UINT64_MAX, -1, 0 },
	{ "20 digits small", S("00000000000000000001"), 0, UINT64_MAX, -1,
	    0 },
	{ "int32 max", S("2147483647"), 0, UINT32_MAX, 0, 2147483647 },
	{ "uint32 max", S("4294967295"), 0, UINT32_MAX, 0, 4294967295ULL },
	{ "uint32 max + 1", S("4294967296"), 0, UINT32_MAX, -1, 0 },
	{ "min above max", S("5"), 10, 1, -1, 0 },
};

static void
test_number_table(void)
{
	const struct number_case *c;
	char label[128];
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]);
	    i++) {
		c = &number_cases[i];
		snprintf(label, sizeof(label), "number: %s", c->label);
		TEST_START(label);
		v = 12345;
		ASSERT_INT_EQ(proto_number(c->in, c->inlen, c->min, c->max,
		    &v), c->ret);
		ASSERT_U64_EQ(v, c->ret == 0 ? c->val : 12345);
		TEST_DONE();
	}
}

/* ---- converter --------------------------------------------------- */

#define RD	SATCHEL_MSG_MBOXRD
#define MO	SATCHEL_MSG_MBOXO
#define DOT	1
#define HD	SATCHEL_MSG_HIDE

struct xfer_case {
	const char	*label;
	const char	*in;
	size_t		 inlen;
	uint32_t	 flags;
	int		 dotstuff;
	int		 top;
	uint64_t	 top_lines;
	const char	*want;
	size_t		 wantlen;
};

static const struct xfer_case xfer_cases[] = {
	{ "plain CRLF", S("a\r\nb\r\n"), 0, 0, 0, 0, S("a\r\nb\r\n") },
	{ "bare LF", S("a\nb\n"), 0, 0, 0, 0, S("a\r\nb\r\n") },
	{ "bare CR", S("a\rb\n"), 0, 0, 0, 0, S("a\rb\r\n") },
	{ "CR CR LF", S("a\r\r\n"), 0, 0, 0, 0, S("a\r\r\n") },
	{ "mixed ends", S("a\r\nb\nc\r\n\n\r\n"), 0, 0, 0, 0,
	    S("a\r\nb\r\nc\r\n\r\n\r\n") },
	{ "no final newline", S("a\nb"), 0, 0, 0, 0, S("a\r\nb\r\n") },
	{ "final bare CR", S("a\r"), 0, 0, 0, 0, S("a\r\r\n") },
	{ "only CR", S("\r"), 0, 0, 0, 0, S("\r\r\n") },
	{ "two CRs", S("\r\r"), 0, 0, 0, 0, S("\r\r\r\n") },
	{ "empty", S(""), 0, 0, 0, 0, S("") },
	{ "empty dotstuff", S(""), 0, DOT, 0, 0, S(".\r\n") },
	{ "NUL bytes", S("a\0b\n\0\n"), 0, 0, 0, 0, S("a\0b\r\n\0\r\n") },
	{ "dot line", S(".\n"), 0, DOT, 0, 0, S("..\r\n.\r\n") },
	{ "dot CRLF", S("a\r\n.\r\n"), 0, DOT, 0, 0,
	    S("a\r\n..\r\n.\r\n") },
	{ "dotdot", S("..\n"), 0, DOT, 0, 0, S("...\r\n.\r\n") },
	{ "dot inside line", S("a.b\n.x\n"), 0, DOT, 0, 0,
	    S("a.b\r\n..x\r\n.\r\n") },
	{ "dot after bare CR", S("a\r.\n"), 0, DOT, 0, 0,
	    S("a\r.\r\n.\r\n") },
	{ "dot no final newline", S("."), 0, DOT, 0, 0, S("..\r\n.\r\n") },
	{ "dot not stuffed", S(".\n"), 0, 0, 0, 0, S(".\r\n") },
	{ "dot unterminated", S("a\n.b"), 0, DOT, 0, 0,
	    S("a\r\n..b\r\n.\r\n") },
	{ "mboxrd >From", S(">From x\n"), RD, 0, 0, 0, S("From x\r\n") },
	{ "mboxrd >>From", S(">>From x\n"), RD, 0, 0, 0, S(">From x\r\n") },
	{ "mboxrd >>>From", S(">>>From \n"), RD, 0, 0, 0,
	    S(">>From \r\n") },
	{ "mboxrd >Fro", S(">Fro\n"), RD, 0, 0, 0, S(">Fro\r\n") },
	{ "mboxrd >Fro at end", S(">Fro"), RD, 0, 0, 0, S(">Fro\r\n") },
	{ "mboxrd >>F at end", S(">>F"), RD, 0, 0, 0, S(">>F\r\n") },
	{ "mboxrd >From no space", S(">From"), RD, 0, 0, 0,
	    S(">From\r\n") },
	{ "mboxrd >Fromx", S(">Fromx\n"), RD, 0, 0, 0, S(">Fromx\r\n") },
	{ "mboxrd >From CRLF", S(">From\r\n"), RD, 0, 0, 0,
	    S(">From\r\n") },
	{ "mboxrd not at bol", S("x>From \n"), RD, 0, 0, 0,
	    S("x>From \r\n") },
	{ "mboxrd > alone", S(">\n>"), RD, 0, 0, 0, S(">\r\n>\r\n") },
	{ "mboxrd >> at end", S(">>"), RD, 0, 0, 0, S(">>\r\n") },
	{ "mboxrd > From", S("> From\n"), RD, 0, 0, 0, S("> From\r\n") },
	{ "mboxrd >from", S(">from \n"), RD, 0, 0, 0, S(">from \r\n") },
	{ "mboxrd From unchanged", S("From \n"), RD, 0, 0, 0,
	    S("From \r\n") },
	{ "mboxrd lines", S("\n>From a\r\n>>From b\n>F\n>From \n"), RD, 0,
	    0, 0, S("\r\nFrom a\r\n>From b\r\n>F\r\nFrom \r\n") },
	{ "mboxrd after bare CR", S("a\r>From \n"), RD, 0, 0, 0,
	    S("a\r>From \r\n") },
	{ "mboxrd >. dotstuff", S(">.x\n>From .\n"), RD, DOT, 0, 0,
	    S(">.x\r\nFrom .\r\n.\r\n") },
	{ "mboxo >From", S(">From x\n"), MO, 0, 0, 0, S("From x\r\n") },
	{ "mboxo >>From", S(">>From x\n"), MO, 0, 0, 0, S(">>From x\r\n") },
	{ "mboxo >Fro", S(">Fro"), MO, 0, 0, 0, S(">Fro\r\n") },
	{ "both flags act as mboxrd", S(">>From x\n"), RD | MO, 0, 0, 0,
	    S(">From x\r\n") },
	{ "no flags keep >From", S(">From x\n"), 0, 0, 0, 0,
	    S(">From x\r\n") },
	{ "CRLF flag is informational", S(">From x\r\n"), SATCHEL_MSG_CRLF,
	    0, 0, 0, S(">From x\r\n") },
	/* SATCHEL_MSG_HIDE: Dovecot's mbox headers are not served. */
	{ "hide: each name, any case", S("Status: RO\nX-UID: 5\n"
	    "x-imapbase: 1 2\nX-IMAP: 1\nCONTENT-LENGTH: 3\nX-Keywords: a\n"
	    "X-Status: A\nSubject: s\n\nbody\nStatus: body, kept\n"), HD, 0,
	    0, 0, S("Subject: s\r\n\r\nbody\r\nStatus: body, kept\r\n") },
	{ "hide: folded lines go with it, LWSP before ':'",
	    S("X-Keywords: a\n b\n\tc\nX-UID \t: 7\n  d\nTo: t\n e\n\nb\n"), HD,
	    0, 0, 0, S("To: t\r\n e\r\n\r\nb\r\n") },
	{ "hide: near names are kept",
	    S("Statu: 1\nStatusx: 2\nX-UIDL: 3\nX-UID\nX-U: 4\nX-UID x: 5\n"
	    "Status\r\nX-UI\n\n"), HD, 0, 0, 0,
	    S("Statu: 1\r\nStatusx: 2\r\nX-UIDL: 3\r\nX-UID\r\nX-U: 4\r\n"
	    "X-UID x: 5\r\nStatus\r\nX-UI\r\n\r\n") },
	{ "hide: only hidden headers, CRLF", S("Status: O\r\nX-UID: 1\r\n"
	    "\r\nbody\r\n"), HD, DOT, 0, 0, S("\r\nbody\r\n.\r\n") },
	{ "hide: no body, no blank line", S("X-UID: 1\nStatus: O"), HD,
	    DOT, 0, 0, S(".\r\n") },
	{ "hide: a name at the end", S("To: x\nX-UI"), HD, 0, 0, 0,
	    S("To: x\r\nX-UI\r\n") },
	{ "hide: TOP 1", S("X-UID: 1\nSubject: s\n\nb1\nb2\n"), HD, 0, 1,
	    1, S("Subject: s\r\n\r\nb1\r\n") },
	{ "hide: with mboxrd, dots", S("X-UID: 1\n.x: y\n>From: z\n\n"
	    ">From a\n.\n"), HD | RD, DOT, 0, 0,
	    S("..x: y\r\n>From: z\r\n\r\nFrom a\r\n..\r\n.\r\n") },
	{ "TOP 0", S("H: 1\nH: 2\n\nb1\nb2\n"), 0, 0, 1, 0,
	    S("H: 1\r\nH: 2\r\n\r\n") },
	{ "TOP 1", S("H: 1\nH: 2\n\nb1\nb2\n"), 0, 0, 1, 1,
	    S("H: 1\r\nH: 2\r\n\r\nb1\r\n") },
	{ "TOP 2 CRLF", S("H: 1\r\n\r\nb1\r\nb2\r\nb3\r\n"), 0, 0, 1, 2,
	    S("H: 1\r\n\r\nb1\r\nb2\r\n") },
	{ "TOP more than body", S("H\n\nb1\nb2\n"), 0, 0, 1, 5,
	    S("H\r\n\r\nb1\r\nb2\r\n") },
	{ "TOP huge", S("H\n\nb1\nb2"), 0, 0, 1, UINT64_MAX,
	    S("H\r\n\r\nb1\r\nb2\r\n") },
	{ "TOP no blank line", S("H: 1\nH: 2\n"), 0, 0, 1, 0,
	    S("H: 1\r\nH: 2\r\n") },
	{ "TOP no blank no newline", S("H: 1\nH"), 0, 0, 1, 0,
	    S("H: 1\r\nH\r\n") },
	{ "TOP dotstuff", S("H\n\n.b1\n.b2\n"), 0, DOT, 1, 1,
	    S("H\r\n\r\n..b1\r\n.\r\n") },
	{ "TOP CR CR LF not blank", S("H\n\r\r\nb\n\nc\n"), 0, 0, 1, 0,
	    S("H\r\n\r\r\nb\r\n\r\n") },
	{ "TOP bare CR in header", S("A\rB\n\nb\n"), 0, 0, 1, 0,
	    S("A\rB\r\n\r\n") },
	{ "TOP starts blank", S("\nb1\nb2\n"), 0, 0, 1, 1, S("\r\nb1\r\n") },
	{ "TOP unterminated body", S("H\n\nb1"), 0, 0, 1, 1,
	    S("H\r\n\r\nb1\r\n") },
	{ "TOP blank body line counts", S("H\n\n\nb2\n"), 0, 0, 1, 1,
	    S("H\r\n\r\n\r\n") },
	{ "TOP mboxrd", S("H\n\n>From x\nb\n"), RD, 0, 1, 1,
	    S("H\r\n\r\nFrom x\r\n") },
	{ "TOP empty dotstuff", S(""), 0, DOT, 1, 0, S(".\r\n") },
	{ "TOP blank CRLF ends header", S("H\r\n\r\n\r\nx\r\n"), 0, DOT, 1,
	    0, S("H\r\n\r\n.\r\n") },
};

struct xfer_out {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* Convert one chunk into an exactly sized heap buffer (so that ASan
 * catches a converter that writes more than 3 * inlen + SLACK). */
static void
xfer_chunk(struct proto_xfer *x, const char *in, size_t inlen, int end,
    struct xfer_out *o)
{
	size_t room, n;
	char *tmp;

	room = end ? PROTO_XFER_SLACK : 3 * inlen + PROTO_XFER_SLACK;
	if ((tmp = malloc(room)) == NULL)
		abort();
	n = end ? proto_xfer_end(x, tmp) : proto_xfer(x, in, inlen, tmp);
	if (n > room)
		abort();
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 64;
		if ((o->p = realloc(o->p, o->cap)) == NULL)
			abort();
	}
	memcpy(o->p + o->len, tmp, n);
	o->len += n;
	free(tmp);
}

/* Convert in split at the offsets in cuts[0..ncuts) (ascending). */
static void
xfer_split(const struct xfer_case *c, const size_t *cuts, size_t ncuts,
    struct xfer_out *o)
{
	struct proto_xfer x;
	size_t i, from, to;

	o->len = 0;
	proto_xfer_init(&x, c->flags, c->dotstuff, c->top, c->top_lines);
	from = 0;
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : c->inlen;
		xfer_chunk(&x, c->in + from, to - from, 0, o);
		from = to;
	}
	xfer_chunk(&x, NULL, 0, 1, o);
}

/*
 * The CRLF proto_xfer_end adds to an unfinished last line: 2, or 0.
 * Whatever it writes besides (dotstuff off) are held bytes of that line,
 * so it wrote that CRLF exactly when it wrote anything.
 */
static size_t
xfer_added(const struct xfer_case *c)
{
	struct proto_xfer x;
	char *tmp, end[PROTO_XFER_SLACK];
	size_t n;

	if ((tmp = malloc(3 * c->inlen + PROTO_XFER_SLACK)) == NULL)
		abort();
	proto_xfer_init(&x, c->flags, 0, 0, 0);
	(void)proto_xfer(&x, c->in, c->inlen, tmp);
	free(tmp);
	n = proto_xfer_end(&x, end);
	if (n > 0 && (n < 2 || memcmp(end + n - 2, "\r\n", 2) != 0))
		abort();
	return n > 0 ? 2 : 0;
}

static uint64_t
size_split(const struct xfer_case *c, const size_t *cuts, size_t ncuts)
{
	struct proto_xfer x;
	struct satchel_msgsize st;
	uint64_t n = 0, m = 0;
	size_t i, from, to;

	proto_xfer_init(&x, c->flags, 0, 0, 0);
	proto_msgsize_init(&st, c->flags);
	from = 0;
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : c->inlen;
		n += proto_size(&x, c->in + from, to - from);
		m += proto_msgsize_feed(&st, c->in + from, to - from);
		from = to;
	}
	n += proto_size_end(&x);
	m += proto_msgsize_end(&st);
	return n == m ? n : UINT64_MAX;
}

static void
test_xfer_table(void)
{
	const struct xfer_case *c;
	struct xfer_case plain;
	struct xfer_out o = { NULL, 0, 0 }, ref = { NULL, 0, 0 };
	size_t cuts[256], i, k, a, b;
	char label[128];
	int bad;

	for (i = 0; i < sizeof(xfer_cases) / sizeof(xfer_cases[0]); i++) {
		c = &xfer_cases[i];
		snprintf(label, sizeof(label), "xfer: %s", c->label);
		TEST_START(label);

		/* Whole. */
		xfer_split(c, NULL, 0, &o);
		ASSERT_MEM_EQ(o.p, o.len, c->want, c->wantlen);

		/* Every split into two chunks (including empty ones). */
		bad = 0;
		for (k = 0; k <= c->inlen; k++) {
			cuts[0] = k;
			xfer_split(c, cuts, 1, &o);
			if (o.len != c->wantlen ||
			    memcmp(o.p, c->want, o.len) != 0) {
				if (bad++ == 0)
					ASSERT_MEM_EQ(o.p, o.len, c->want,
					    c->wantlen);
			}
		}
		ASSERT_INT_EQ(bad, 0);

		/* Every split into three chunks. */
		bad = 0;
		for (a = 0; a <= c->inlen; a++)
			for (b = a; b <= c->inlen; b++) {
				cuts[0] = a;
				cuts[1] = b;
				xfer_split(c, cuts, 2, &o);
				if (o.len != c->wantlen ||
				    memcmp(o.p, c->want, o.len) != 0)
					bad++;
			}
		ASSERT_INT_EQ(bad, 0);

		/* 1-byte chunks. */
		for (k = 0; k + 1 < c->inlen && k < 256; k++)
			cuts[k] = k + 1;
		xfer_split(c, cuts, k, &o);
		ASSERT_MEM_EQ(o.p, o.len, c->want, c->wantlen);

		/*
		 * proto_size (and the core's msg_size) equal the bytes that
		 * proto_xfer writes with dotstuff and TOP off, however the
		 * input is cut ...
		 */
		plain = *c;
		plain.dotstuff = 0;
		plain.top = 0;
		xfer_split(&plain, NULL, 0, &ref);
		/* ... less the CRLF added to an unfinished last line
		 * (Dovecot's and popa3d's size). */
		ref.len -= xfer_added(&plain);
		ASSERT_U64_EQ(size_split(c, NULL, 0), ref.len);
		bad = 0;
		for (k = 0; k <= c->inlen; k++) {
			cuts[0] = k;
			if (size_split(c, cuts, 1) != ref.len)
				bad++;
		}
		for (k = 0; k + 1 < c->inlen && k < 256; k++)
			cuts[k] = k + 1;
		if (size_split(c, cuts, k) != ref.len)
			bad++;
		ASSERT_INT_EQ(bad, 0);
		TEST_DONE();
	}
	free(o.p);
	free(ref.p);
}

static void
test_xfer_done(void)
{
	struct proto_xfer x;
	char out[3 * 32 + PROTO_XFER_SLACK];
	size_t n;

	TEST_START("xfer: TOP done stops output");
	proto_xfer_init(&x, 0, 1, 1, 1);
	ASSERT_INT_EQ(proto_xfer_done(&x), 0);
	n = proto_xfer(&x, S("H\n\nb1\n"), out);
	ASSERT_MEM_EQ(out, n, "H\r\n\r\nb1\r\n", 9);
	ASSERT_INT_NE(proto_xfer_done(&x), 0);
	n = proto_xfer(&x, S("b2\n.\n"), out);
	ASSERT_U64_EQ(n, 0);
	n = proto_xfer_end(&x, out);
	ASSERT_MEM_EQ(out, n, ".\r\n", 3);
	TEST_DONE();

	TEST_START("xfer: no TOP is never done early");
	proto_xfer_init(&x, 0, 1, 0, 0);
	n = proto_xfer(&x, S("H\n\nb1\n"), out);
	ASSERT_INT_EQ(proto_xfer_done(&x), 0);
	TEST_DONE();
}

/* The output bound with the worst inputs: held escapes flushed by a
 * one-byte chunk, and lines of dots. */
static void
test_xfer_bound(void)
{
	struct proto_xfer x;
	char out[3 * 4 + PROTO_XFER_SLACK];
	size_t n;

	TEST_START("xfer: output bound");
	proto_xfer_init(&x, RD, 1, 0, 0);
	ASSERT_U64_EQ(proto_xfer(&x, S(">Fro"), out), 0);
	n = proto_xfer(&x, S("\n"), out);
	ASSERT_MEM_EQ(out, n, ">Fro\r\n", 6);
	ASSERT_TRUE(n <= 3 * 1 + PROTO_XFER_SLACK);
	n = proto_xfer(&x, S(".\n.\n"), out);
	ASSERT_MEM_EQ(out, n, "..\r\n..\r\n", 8);
	ASSERT_U64_EQ(proto_xfer(&x, S(">Fro"), out), 0);
	n = proto_xfer_end(&x, out);
	ASSERT_MEM_EQ(out, n, ">Fro\r\n.\r\n", 9);
	TEST_DONE();
}

static void
test_size_large(void)
{
	struct proto_xfer x;
	char *msg;
	size_t i, len = 100000;
	uint64_t n, want = 0;

	TEST_START("size: long message in odd chunks");
	if ((msg = malloc(len)) == NULL)
		abort();
	for (i = 0; i < len; i++) {
		msg[i] = (i % 61 == 60) ? '\n' : (i % 97 == 0) ? '>' :
		    (char)('a' + i % 23);
		want += msg[i] == '\n' ? 2 : 1;
	}
	/* It ends inside a line: the CRLF RETR adds is not counted. */
	ASSERT_TRUE(msg[len - 1] != '\n');
	proto_xfer_init(&x, 0, 0, 0, 0);
	n = 0;
	for (i = 0; i < len; i += 1 + i % 4093)
		n += proto_size(&x, msg + i,
		    (1 + i % 4093) < len - i ? 1 + i % 4093 : len - i);
	n += proto_size_end(&x);
	ASSERT_U64_EQ(n, want);
	free(msg);
	TEST_DONE();
}

/* The RFC 1939 size of a message without a final newline (Dovecot's). */
static void
test_size_no_final_newline(void)
{
	static const struct {
		const char *in;
		uint64_t size;
	} t[] = {
		{ "a\r\nb", 4 }, { "a\nb", 4 }, { "a\r", 2 }, { "b", 1 },
		{ "a\n", 3 }, { "a\r\n", 3 }, { "", 0 },
	};
	struct proto_xfer x;
	char out[64];
	size_t i, n;

	TEST_START("size: no final newline is not counted, RETR adds it");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		proto_xfer_init(&x, 0, 0, 0, 0);
		ASSERT_U64_EQ(proto_size(&x, t[i].in, strlen(t[i].in)) +
		    proto_size_end(&x), t[i].size);
	}
	proto_xfer_init(&x, 0, 1, 0, 0);
	n = proto_xfer(&x, S("a\r\nb"), out);
	n += proto_xfer_end(&x, out + n);
	ASSERT_MEM_EQ(out, n, "a\r\nb\r\n.\r\n", 9);
	TEST_DONE();
}

int
main(void)
{
	test_getline_table();
	test_getline_spanning();
	test_parse_table();
	test_split_table();
	test_number_table();
	test_xfer_table();
	test_xfer_done();
	test_xfer_bound();
	test_size_large();
	test_size_no_final_newline();
	return test_summary();
}
