/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_uidl.c -- UIDL compatibility (issue 13), pure parts: the
 * uidl_format expander against what Dovecot's var_expand() gives, the
 * dovecot-uidlist parser, Dovecot's file name order, the X-UID and
 * X-IMAPbase values, and the pins file of satchel-uidl import.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "core.h"
#include "maildir.h"
#include "mbox.h"
#include "test.h"

struct fmt_case {
	const char	*fmt;
	uint32_t	 uid, validity;
	const char	*fname, *guid;
	const char	*want;		/* NULL: expand fails */
};

static void
test_expand(void)
{
	static const struct fmt_case cases[] = {
		/* Dovecot's default; the example. */
		{ "%08Xu%08Xv", 1, 1796151868, NULL, NULL,
		    "000000016b0f1a3c" },
		{ "%08Xu%08Xv", 0xabcdef12U, 0xffffffffU, NULL, NULL,
		    "abcdef12ffffffff" },
		{ "%u", 42, 7, NULL, NULL, "42" },
		{ "%v.%u", 42, 7, NULL, NULL, "7.42" },
		{ "%{uidvalidity}-%{uid}", 42, 7, NULL, NULL, "7-42" },
		{ "%Xu", 255, 0, NULL, NULL, "ff" },
		{ "%05u", 42, 0, NULL, NULL, "00042" },
		{ "%02u", 12345, 0, NULL, NULL, "12345" },	/* no cut */
		{ "%3f", 0, 0, "abcdef", NULL, "abc" },		/* cut */
		{ "%2.3f", 0, 0, "abcdef", NULL, "cde" },
		{ "%-2.0f", 0, 0, "abcdef", NULL, "ef" },
		{ "%Uf", 0, 0, "abc.Def", NULL, "ABC.DEF" },
		{ "%Lf", 0, 0, "abc.Def", NULL, "abc.def" },
		{ "%Rf", 0, 0, "abc", NULL, "cba" },
		{ "%Xf", 0, 0, "abc", NULL, "0" },	/* not a number */
		{ "%f", 0, 0, "1700000000.M1P2.h,S=12", NULL,
		    "1700000000.M1P2.h,S=12" },
		{ "%{filename}", 0, 0, "x", NULL, "x" },
		{ "%g", 0, 0, "f", "5f2c0e", "5f2c0e" },
		{ "100%%-%u", 3, 0, NULL, NULL, "100%-3" },
		{ "%f", 0, 0, NULL, NULL, NULL },	/* empty */
		{ "%f", 0, 0,
		    "0123456789012345678901234567890123456789012345678901234567"
		    "8901234567890", NULL, NULL },	/* 71 bytes */
		{ "%f", 0, 0, "a b", NULL, NULL },	/* a space */
	};
	char out[SATCHEL_UID_MAX + 1];
	struct satchel_uidl_vars v;
	const char *err;
	unsigned int vars;
	size_t i;
	int n;

	TEST_START("uidl_format expands as Dovecot's var_expand");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&v, 0, sizeof(v));
		v.uid = cases[i].uid;
		v.uidvalidity = cases[i].validity;
		v.filename = cases[i].fname;
		v.guid = cases[i].guid;
		ASSERT_INT_EQ(core_uidl_parse(cases[i].fmt, &vars, &err), 0);
		n = core_uidl_expand(cases[i].fmt, &v, out);
		if (cases[i].want == NULL)
			ASSERT_INT_EQ(n, -1);
		else {
			ASSERT_INT_EQ(n, strlen(cases[i].want));
			ASSERT_STR_EQ(out, cases[i].want);
		}
	}
	TEST_DONE();

	TEST_START("uidl_format: the variables used, and bad formats");
	ASSERT_INT_EQ(core_uidl_parse("%08Xu%08Xv", &vars, &err), 0);
	ASSERT_INT_EQ(vars, SATCHEL_UIDL_UID | SATCHEL_UIDL_VALIDITY);
	ASSERT_INT_EQ(core_uidl_parse("%f-%{md5}%g", &vars, &err), 0);
	ASSERT_INT_EQ(vars, SATCHEL_UIDL_FILENAME | SATCHEL_UIDL_MD5 |
	    SATCHEL_UIDL_GUID);
	ASSERT_INT_EQ(core_uidl_parse("x", &vars, &err), 0);
	ASSERT_INT_EQ(vars, 0);
	ASSERT_INT_EQ(core_uidl_parse("%q", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("%{nope}", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("%{uid", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("abc%", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("%08", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("%Hu", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("%u %v", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("", &vars, &err), -1);
	ASSERT_INT_EQ(core_uidl_parse("%99999u", &vars, &err), -1);
	TEST_DONE();
}

static void
test_uidlist(void)
{
	static const char v3[] =
	    "3 V1796151868 N7 G6a1c2f1b8e0d4b6a9c3f000000000000\n"
	    "1 :1700000000.M1P1.host\n"
	    "2 G0123abcd W130 :1700000001.M2P1.host,S=120,W=130\n"
	    "5 P :1700000005.M5P1.host\n"
	    "6 Pold-uidl-6 :1700000006.M6P1.host\n"
	    "7 :1700000007.M7P1.unfinished";
	static const char v1[] = "1 12345 4\n1 a:2,S\n3 b\n";
	static const char *const bad[] = {
		"",			/* no header */
		"3 V1 N2",		/* no newline */
		"2 V1 N2\n",		/* version 2 */
		"3 V0 N2\n",		/* no validity */
		"3 V1\n",		/* no next */
		"3 V1 N2\n2 :a\n1 :b\n",	/* not growing */
		"3 V1 N2\n0 :a\n",	/* uid 0 */
		"3 V1 N2\n1 :a/b\n",	/* a slash */
		"3 V1 N2\n1 :\n",	/* no name */
		"3 V1 N2\n1 xbad :a\n",	/* lowercase extension */
		"3 V1 N2\n4294967296 :a\n",	/* too big */
		"1 5\n",		/* v1 without next */
	};
	struct md_uidlist ul;
	size_t line, i;

	TEST_START("dovecot-uidlist version 3: header, records, extensions");
	ASSERT_INT_EQ(md_uidlist_parse(v3, strlen(v3), &ul, &line), 0);
	ASSERT_INT_EQ(ul.version, 3);
	ASSERT_U64_EQ(ul.validity, 1796151868);
	ASSERT_U64_EQ(ul.next, 7);
	ASSERT_INT_EQ(ul.n, 4);		/* the unfinished line is ignored */
	/* Sorted by base name; the base stops at ':'. */
	ASSERT_U64_EQ(ul.recs[0].uid, 1);
	ASSERT_MEM_EQ(ul.recs[0].base, ul.recs[0].blen,
	    "1700000000.M1P1.host", 20);
	ASSERT_U64_EQ(ul.recs[1].uid, 2);
	ASSERT_MEM_EQ(ul.recs[1].guid, ul.recs[1].glen, "0123abcd", 8);
	ASSERT_MEM_EQ(ul.recs[1].base, ul.recs[1].blen,
	    "1700000001.M2P1.host,S=120,W=130", 32);
	ASSERT_INT_EQ(ul.recs[2].has_pop3, 1);
	ASSERT_INT_EQ(ul.recs[2].plen, 0);
	ASSERT_MEM_EQ(ul.recs[3].pop3, ul.recs[3].plen, "old-uidl-6", 10);
	md_uidlist_free(&ul);
	TEST_DONE();

	TEST_START("dovecot-uidlist version 1");
	ASSERT_INT_EQ(md_uidlist_parse(v1, strlen(v1), &ul, &line), 0);
	ASSERT_U64_EQ(ul.validity, 12345);
	ASSERT_U64_EQ(ul.next, 4);
	ASSERT_INT_EQ(ul.n, 2);
	ASSERT_MEM_EQ(ul.recs[0].base, ul.recs[0].blen, "a", 1);
	md_uidlist_free(&ul);
	TEST_DONE();

	TEST_START("dovecot-uidlist: broken files are refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_INT_EQ(md_uidlist_parse(bad[i], strlen(bad[i]), &ul,
		    &line), -1);
		ASSERT_TRUE(ul.recs == NULL);
	}
	TEST_DONE();

	TEST_START("Dovecot's file name order for new UIDs");
	/* Seconds first, then the microseconds of .M<usecs> as numbers. */
	ASSERT_TRUE(md_fname_sort_cmp("1700000001.M5P1.h", 17,
	    "1700000001.M10P1.h", 18) < 0);
	ASSERT_TRUE(md_fname_sort_cmp("1700000002.M1P1.h", 17,
	    "1700000001.M9P1.h", 17) > 0);
	ASSERT_TRUE(md_fname_sort_cmp("99.x", 4, "100.a", 5) < 0);
	/* Same time, no usecs: the rest of the name. */
	ASSERT_TRUE(md_fname_sort_cmp("5.b", 3, "5.a", 3) > 0);
	ASSERT_INT_EQ(md_fname_sort_cmp("5.a", 3, "5.a", 3), 0);
	TEST_DONE();
}

static void
test_mbox_headers(void)
{
	uint32_t v = 0, last = 0;

	TEST_START("X-UID and X-IMAPbase values as Dovecot reads them");
	ASSERT_U64_EQ(mb_parse_xuid(" 42", 3), 42);
	ASSERT_U64_EQ(mb_parse_xuid(" 42  \n", 6), 42);
	ASSERT_U64_EQ(mb_parse_xuid(" 42x", 4), 0);
	ASSERT_U64_EQ(mb_parse_xuid(" ", 1), 0);
	ASSERT_U64_EQ(mb_parse_xuid(" 99999999999", 12), 0);
	ASSERT_INT_EQ(mb_parse_imapbase(" 1796151868 0000000005 $Junk", 28,
	    &v, &last), 1);
	ASSERT_U64_EQ(v, 1796151868);
	ASSERT_U64_EQ(last, 5);
	ASSERT_INT_EQ(mb_parse_imapbase(" 0 0000000005", 13, &v, &last), 0);
	ASSERT_INT_EQ(mb_parse_imapbase(" 12x 5", 6, &v, &last), 0);
	ASSERT_INT_EQ(mb_parse_imapbase(" 12", 3, &v, &last), 0);
	TEST_DONE();
}

static void
test_pins(void)
{
	char good[] = "satchel-uidl-pins 1\nb old-b\na old-a\n";
	char dup[] = "satchel-uidl-pins 1\na x\na y\n";
	char space[] = "satchel-uidl-pins 1\na x y\n";
	char nomagic[] = "a b\n";
	char partial[] = "satchel-uidl-pins 1\na b";
	struct core_pin *pins;
	size_t n;

	TEST_START("pins file of satchel-uidl import");
	ASSERT_INT_EQ(core_pins_parse(good, strlen(good), &pins, &n), 0);
	ASSERT_INT_EQ(n, 2);
	free(pins);
	ASSERT_INT_EQ(core_pins_parse(dup, strlen(dup), &pins, &n), -1);
	ASSERT_INT_EQ(core_pins_parse(space, strlen(space), &pins, &n), -1);
	ASSERT_INT_EQ(core_pins_parse(nomagic, strlen(nomagic), &pins, &n),
	    -1);
	ASSERT_INT_EQ(core_pins_parse(partial, strlen(partial), &pins, &n),
	    -1);
	TEST_DONE();
}

int
main(void)
{
	test_expand();
	test_uidlist();
	test_mbox_headers();
	test_pins();
	return test_summary();
}
